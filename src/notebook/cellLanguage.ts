import * as vscode from 'vscode';
import { NOTEBOOK_TYPE } from '../common/mime';
import { languageForAddedCell } from '../pipeline/cells/notebook';

/**
 * Gives a new empty code cell added after a prompt cell the stage language (VS Code copies the
 * language of the cell above; see `languageForAddedCell` in src/pipeline/cells/notebook.ts).
 */
export function registerNewCellLanguage(): vscode.Disposable {
  return vscode.workspace.onDidChangeNotebookDocument(async (e) => {
    if (e.notebook.notebookType !== NOTEBOOK_TYPE) {
      return;
    }
    for (const change of e.contentChanges) {
      for (const cell of change.addedCells) {
        if (cell.kind !== vscode.NotebookCellKind.Code) {
          continue;
        }
        const language = languageForAddedCell({ language: cell.document.languageId, source: cell.document.getText() });
        if (language) {
          await vscode.languages.setTextDocumentLanguage(cell.document, language);
        }
      }
    }
  });
}
