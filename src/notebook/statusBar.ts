import * as vscode from 'vscode';
import { NOTEBOOK_TYPE, STAGE_LANGUAGE } from '../common/mime';
import { collectPromptOverrides, currentRequests, isLlmStage, knownCells } from '../pipeline/cells/notebook';
import { parseStageCell } from '../pipeline/cells/parse';
import { applyNotebookSettings } from '../pipeline/cells/settingsMerge';
import type { PipelineSettings } from '../pipeline/settings';
import { cellLikes, metadataId } from './convert';
import type { NotebookSessions } from './sessions';

/**
 * Shows, under each stage cell, its id (what other cells name in `uses`), the LLM mode for cells of
 * an LLM stage (live / record / replay), and, when its result is stale, which upstream or prompt
 * changed (or that the cell was edited since it ran).
 */
export class StalenessStatusBar implements vscode.NotebookCellStatusBarItemProvider, vscode.Disposable {
  private readonly _onDidChange = new vscode.EventEmitter<void>();
  readonly onDidChangeCellStatusBarItems = this._onDidChange.event;
  private readonly _subscriptions: vscode.Disposable[];

  constructor(
    private readonly _sessions: NotebookSessions,
    private readonly _settings: () => PipelineSettings,
  ) {
    this._subscriptions = [
      _sessions.onDidChange(() => this._onDidChange.fire()),
      vscode.workspace.onDidChangeConfiguration((e) => {
        if (e.affectsConfiguration('alref.llm.mode')) {
          this._onDidChange.fire();
        }
      }),
      vscode.workspace.onDidChangeNotebookDocument((e) => {
        if (e.notebook.notebookType === NOTEBOOK_TYPE && (e.contentChanges.length > 0 || e.metadata !== undefined || e.cellChanges.some((c) => c.document !== undefined))) {
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
    const known = knownCells(cells);
    const parsed = parseStageCell(cell.document.getText(), { cellId: metadataId(cell), cellIndex: cell.index + 1, knownCells: known });
    const id = parsed.ok ? parsed.request.cellId : parsed.cellId;
    const items: vscode.NotebookCellStatusBarItem[] = [];
    const idItem = new vscode.NotebookCellStatusBarItem(`$(symbol-key) ${id}`, vscode.NotebookCellStatusBarAlignment.Right);
    idItem.tooltip = `Cell id "${id}": other cells name it in "uses".`;
    items.push(idItem);
    const kind = parsed.ok ? parsed.request.kind : parsed.kind;
    if (isLlmStage(kind)) {
      const mode = applyNotebookSettings(this._settings(), cell.notebook.metadata).llm.mode;
      const modeItem = new vscode.NotebookCellStatusBarItem(`$(${mode === 'replay' ? 'history' : mode === 'record' ? 'record' : 'cloud'}) LLM ${mode}`, vscode.NotebookCellStatusBarAlignment.Right);
      modeItem.tooltip = `LLM mode of this notebook: ${mode} (live: calls the API; record: calls it and stores the exchanges; replay: reads stored exchanges only). Click to change.`;
      modeItem.command = 'alref.setLlmMode';
      items.push(modeItem);
    }
    const state = this._sessions.find(cell.notebook.uri);
    if (!state?.session.get(id)) {
      return items;
    }
    const st = state.session.staleness(id, parsed.ok ? parsed.request : undefined, collectPromptOverrides(cells).overrides, currentRequests(cells, known));
    if (st.stale) {
      const what = [
        ...st.changedUpstream.map((u) => `"${u}"`),
        ...st.changedPrompts.map((p) => `prompt "${p}"`),
      ];
      const whatText = what.length > 0 ? `${what.join(', ')} changed` : 'edited';
      const item = new vscode.NotebookCellStatusBarItem(`$(warning) stale: ${whatText}`, vscode.NotebookCellStatusBarAlignment.Left);
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
