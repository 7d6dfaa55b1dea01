import * as vscode from 'vscode';
import { NOTEBOOK_TYPE, STAGE_LANGUAGE } from '../common/mime';
import { knownCells } from '../pipeline/cells/notebook';
import { parseStageCell } from '../pipeline/cells/parse';
import { cellLikes, metadataId } from './convert';
import type { NotebookSessions } from './sessions';

/**
 * Shows, under each stage cell, its id (what other cells name in `uses`) and, when its result is
 * stale, which upstream changed (or that the cell was edited since it ran).
 */
export class StalenessStatusBar implements vscode.NotebookCellStatusBarItemProvider, vscode.Disposable {
  private readonly _onDidChange = new vscode.EventEmitter<void>();
  readonly onDidChangeCellStatusBarItems = this._onDidChange.event;
  private readonly _subscriptions: vscode.Disposable[];

  constructor(private readonly _sessions: NotebookSessions) {
    this._subscriptions = [
      _sessions.onDidChange(() => this._onDidChange.fire()),
      vscode.workspace.onDidChangeNotebookDocument((e) => {
        if (e.notebook.notebookType === NOTEBOOK_TYPE && (e.contentChanges.length > 0 || e.cellChanges.some((c) => c.document !== undefined))) {
          this._onDidChange.fire();
        }
      }),
    ];
  }

  provideCellStatusBarItems(cell: vscode.NotebookCell): vscode.NotebookCellStatusBarItem[] {
    if (cell.kind !== vscode.NotebookCellKind.Code || cell.document.languageId !== STAGE_LANGUAGE) {
      return [];
    }
    const cells = cellLikes(cell.notebook);
    const parsed = parseStageCell(cell.document.getText(), { cellId: metadataId(cell), cellIndex: cell.index + 1, knownCells: knownCells(cells) });
    const id = parsed.ok ? parsed.request.cellId : parsed.cellId;
    const items: vscode.NotebookCellStatusBarItem[] = [];
    const idItem = new vscode.NotebookCellStatusBarItem(`$(symbol-key) ${id}`, vscode.NotebookCellStatusBarAlignment.Right);
    idItem.tooltip = `Cell id "${id}": other cells name it in "uses".`;
    items.push(idItem);
    const state = this._sessions.find(cell.notebook.uri);
    if (!state?.session.get(id)) {
      return items;
    }
    const st = state.session.staleness(id, parsed.ok ? parsed.request : undefined);
    if (st.stale) {
      const what = st.changedUpstream.length > 0 ? `${st.changedUpstream.map((u) => `"${u}"`).join(', ')} changed` : 'edited';
      const item = new vscode.NotebookCellStatusBarItem(`$(warning) stale: ${what}`, vscode.NotebookCellStatusBarAlignment.Left);
      item.tooltip = `This result is out of date: ${st.reasons.join('; ')}. Run the cell again.`;
      items.push(item);
    }
    return items;
  }

  dispose(): void {
    this._subscriptions.forEach((s) => s.dispose());
    this._onDidChange.dispose();
  }
}
