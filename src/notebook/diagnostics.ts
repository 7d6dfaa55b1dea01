import * as vscode from 'vscode';
import { NOTEBOOK_TYPE, PROMPT_LANGUAGE, STAGE_LANGUAGE } from '../common/mime';
import { collectPromptOverrides, knownCells } from '../pipeline/cells/notebook';
import { parsePromptCell, parseStageCell } from '../pipeline/cells/parse';
import { missingPathDiagnostics } from '../pipeline/cells/pathChecks';
import { promptTemplateDiagnostics, stageTemplateDiagnostics } from '../pipeline/cells/templateChecks';
import type { CellDiagnostic } from '../pipeline/cells/parse';
import { cellLikes, metadataId } from './convert';
import type { NotebookSessions } from './sessions';

function toDiagnostic(d: CellDiagnostic): vscode.Diagnostic {
  const range = new vscode.Range(d.range.start.line, d.range.start.character, d.range.end.line, d.range.end.character);
  const diag = new vscode.Diagnostic(range, d.message, d.severity === 'error' ? vscode.DiagnosticSeverity.Error : vscode.DiagnosticSeverity.Warning);
  diag.source = 'alref';
  if (d.field) {
    diag.code = d.field;
  }
  return diag;
}

/**
 * YAML and schema problems of stage cells, missing files and unknown template names they name, and
 * malformed prompt cells (unknown template, unknown variable) as editor diagnostics,
 * recomputed for the whole notebook when any of its cells changes (a `uses` may name another cell).
 */
export class CellDiagnostics implements vscode.Disposable {
  private readonly _collection = vscode.languages.createDiagnosticCollection('alref');
  private readonly _subscriptions: vscode.Disposable[];
  private readonly _timers = new Map<string, ReturnType<typeof setTimeout>>();

  /** `sessions` says where a notebook's relative paths resolve (as the kernel resolves them when it runs). */
  constructor(private readonly _sessions: NotebookSessions) {
    this._subscriptions = [
      vscode.workspace.onDidOpenNotebookDocument((nb) => this.refresh(nb)),
      vscode.workspace.onDidChangeNotebookDocument((e) => {
        // Outputs and metadata change all the time during a run; only cells and their text matter here.
        if (e.contentChanges.length > 0 || e.cellChanges.some((c) => c.document !== undefined)) {
          this._schedule(e.notebook);
        }
      }),
      vscode.workspace.onDidChangeTextDocument((e) => {
        const nb = this._notebookOf(e.document);
        if (nb) {
          this._schedule(nb);
        }
      }),
      vscode.workspace.onDidCloseNotebookDocument((nb) => nb.getCells().forEach((c) => this._collection.delete(c.document.uri))),
    ];
    vscode.workspace.notebookDocuments.forEach((nb) => this.refresh(nb));
  }

  private _notebookOf(doc: vscode.TextDocument): vscode.NotebookDocument | undefined {
    if (doc.uri.scheme !== 'vscode-notebook-cell') {
      return undefined;
    }
    return vscode.workspace.notebookDocuments.find((nb) => nb.notebookType === NOTEBOOK_TYPE && nb.getCells().some((c) => c.document === doc));
  }

  private _schedule(nb: vscode.NotebookDocument): void {
    const key = nb.uri.toString();
    clearTimeout(this._timers.get(key));
    this._timers.set(key, setTimeout(() => {
      this._timers.delete(key);
      if (!nb.isClosed) {
        this.refresh(nb);
      }
    }, 150));
  }

  /** Recomputes the diagnostics of every cell of a notebook. */
  refresh(nb: vscode.NotebookDocument): void {
    if (nb.notebookType !== NOTEBOOK_TYPE) {
      return;
    }
    const cells = cellLikes(nb);
    const known = knownCells(cells);
    const defined = Object.keys(collectPromptOverrides(cells).overrides);
    const promptCells = nb.getCells().filter((c) => c.kind === vscode.NotebookCellKind.Code && c.document.languageId === PROMPT_LANGUAGE);
    const lastOverride = new Map<string, number>();
    for (const c of promptCells) {
      const r = parsePromptCell(c.document.getText());
      if (r.ok) {
        lastOverride.set(r.name, c.index);
      }
    }
    for (const cell of nb.getCells()) {
      const lang = cell.document.languageId;
      const text = cell.document.getText();
      let diags: CellDiagnostic[] = [];
      if (cell.kind === vscode.NotebookCellKind.Code && lang === STAGE_LANGUAGE && text.trim() !== '') {
        const r = parseStageCell(text, { cellId: metadataId(cell), cellIndex: cell.index + 1, knownCells: known });
        diags = r.diagnostics;
        if (r.ok) {
          diags = [
            ...diags,
            ...missingPathDiagnostics(text, r.request.kind, r.request.params, this._sessions.baseDir(nb.uri)),
            ...stageTemplateDiagnostics(text, r.request.kind, r.request.params, defined),
          ];
        }
      } else if (cell.kind === vscode.NotebookCellKind.Code && lang === PROMPT_LANGUAGE && text.trim() !== '') {
        const r = parsePromptCell(text);
        diags = r.ok ? [...r.diagnostics, ...promptTemplateDiagnostics(r.name, r.text, r.nameRange)] : [...r.diagnostics];
        const last = r.ok ? lastOverride.get(r.name) : undefined;
        if (r.ok && last !== undefined && last !== cell.index) {
          diags.push({ message: `Cell ${last + 1} also overrides "${r.name}"; the later cell wins, so this text is not used.`, severity: 'warning', field: 'template', range: r.nameRange });
        }
      }
      this._collection.set(cell.document.uri, diags.map(toDiagnostic));
    }
  }

  dispose(): void {
    this._timers.forEach((t) => clearTimeout(t));
    this._subscriptions.forEach((s) => s.dispose());
    this._collection.dispose();
  }
}
