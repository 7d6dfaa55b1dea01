import * as vscode from 'vscode';
import { NOTEBOOK_TYPE } from '../common/mime';
import { CELL_ID_PATTERN } from '../pipeline/format/notebookFile';

/**
 * Gives every new cell of an AL-Ref notebook a stable id in its metadata (`cell-<n>`, the first
 * free n), so the id a user sees (and names in `uses`) does not change when cells move.
 */
export function registerCellIdKeeper(): vscode.Disposable {
  return vscode.workspace.onDidChangeNotebookDocument(async (e) => {
    if (e.notebook.notebookType !== NOTEBOOK_TYPE || e.contentChanges.length === 0) {
      return;
    }
    const cells = e.notebook.getCells();
    const used = new Set<string>();
    const missing: vscode.NotebookCell[] = [];
    for (const c of cells) {
      const id = c.metadata?.id;
      if (typeof id === 'string' && CELL_ID_PATTERN.test(id) && !used.has(id)) {
        used.add(id);
      } else {
        missing.push(c);
      }
    }
    if (missing.length === 0) {
      return;
    }
    const edits = missing.map((c) => {
      let n = c.index + 1;
      while (used.has(`cell-${n}`)) {
        n++;
      }
      used.add(`cell-${n}`);
      return vscode.NotebookEdit.updateCellMetadata(c.index, { ...c.metadata, id: `cell-${n}` });
    });
    const edit = new vscode.WorkspaceEdit();
    edit.set(e.notebook.uri, edits);
    await vscode.workspace.applyEdit(edit);
  });
}
