import * as vscode from 'vscode';
import { CONTROLLER_ID, NOTEBOOK_TYPE, PROMPT_LANGUAGE, STAGE_LANGUAGE } from '../common/mime';
import { knownCells } from '../pipeline/cells/notebook';
import { applyNotebookSettings } from '../pipeline/cells/settingsMerge';
import type { CellHostContext } from '../pipeline/cells/runCell';
import { runNotebook } from '../pipeline/cells/runNotebook';
import type { CellRunHooks } from '../pipeline/cells/runNotebook';
import type { AlrefNotebookMetadata, ExperimentRecord } from '../pipeline/format/model';
import { hashJson } from '../pipeline/run/hash';
import type { Services } from '../pipeline/services';
import type { PipelineSettings } from '../pipeline/settings';
import type { Logger } from '../pipeline/types';
import { keepPreviousOutputs } from '../pipeline/cells/outputBuilder';
import { cellLikes, fromCellOutput } from './convert';
import { ExecutionOutputs } from './executionOutputs';
import type { NotebookSessions, NotebookState } from './sessions';

export interface ControllerDeps {
  sessions: NotebookSessions;
  log: vscode.LogOutputChannel;
  /** Current settings (re-read for every run). */
  settings(): PipelineSettings;
  /** Builds the services of one notebook (called again when the settings change). */
  createServices(settings: PipelineSettings, runDir: string): Services;
  /** Extension root: prompts/, media/, assets/. */
  resourcesDir: string;
  version: string;
}

/**
 * The AL-Ref kernel. Holds no pipeline logic: each batch of cells goes through the pure
 * `runNotebook` (the loop `alref notebook run` and `alref eval` run), each cell's outputs are
 * mirrored into its execution, and the experiment record is written into the notebook metadata.
 * Cells of one notebook run strictly in order (one promise chain per notebook); a batch stops at the
 * first failed or cancelled cell. Every execution is started and ended exactly once. A deleted
 * cell's result leaves the session at once, so no later cell can use it (and its dependents show
 * as stale).
 */
export class AlrefController implements vscode.Disposable {
  private readonly _controller: vscode.NotebookController;
  private readonly _subscriptions: vscode.Disposable[];

  constructor(private readonly _deps: ControllerDeps) {
    this._controller = vscode.notebooks.createNotebookController(CONTROLLER_ID, NOTEBOOK_TYPE, 'AL-Ref');
    this._controller.supportedLanguages = [STAGE_LANGUAGE, PROMPT_LANGUAGE, 'markdown'];
    this._controller.supportsExecutionOrder = true;
    this._controller.description = 'AL-Ref-SAM 2 pipeline stages';
    this._controller.executeHandler = this._executeAll.bind(this);
    // The only kernel for .alref notebooks: mark it preferred so VS Code selects it without asking.
    const prefer = (nb: vscode.NotebookDocument): void => {
      if (nb.notebookType === NOTEBOOK_TYPE) {
        this._controller.updateNotebookAffinity(nb, vscode.NotebookControllerAffinity.Preferred);
      }
    };
    vscode.workspace.notebookDocuments.forEach(prefer);
    this._subscriptions = [
      vscode.workspace.onDidOpenNotebookDocument(prefer),
      vscode.workspace.onDidChangeNotebookDocument((e) => this._forgetRemoved(e)),
    ];
  }

  dispose(): void {
    this._subscriptions.forEach((s) => s.dispose());
    this._controller.dispose();
  }

  /** Drops the session results of cells deleted from the notebook (a moved cell keeps its result). */
  private _forgetRemoved(e: vscode.NotebookDocumentChangeEvent): void {
    const state = this._deps.sessions.find(e.notebook.uri);
    if (!state || e.notebook.notebookType !== NOTEBOOK_TYPE || !e.contentChanges.some((c) => c.removedCells.length > 0)) {
      return;
    }
    if (state.session.retain(knownCells(cellLikes(e.notebook)).map((k) => k.id)).length > 0) {
      this._deps.sessions.changed(state.uri);
    }
  }

  private async _executeAll(cells: vscode.NotebookCell[], notebook: vscode.NotebookDocument, _controller: vscode.NotebookController): Promise<void> {
    const state = this._deps.sessions.get(notebook);
    const run = state.queue.then(() => this._runBatch(cells, notebook, state));
    state.queue = run.catch(() => undefined);
    await run;
  }

  private async _runBatch(cells: vscode.NotebookCell[], notebook: vscode.NotebookDocument, state: NotebookState): Promise<void> {
    const ordered = [...cells].sort((a, b) => a.index - b.index);
    const run = await runNotebook({
      cells: () => cellLikes(notebook),
      positions: ordered.map((cell) => () => cell.index),
      session: state.session,
      host: () => this._host(notebook, state),
      recorder: state.recorder,
      beforeCell: (_cell, index) => {
        if (notebook.isClosed) {
          return 'stop';
        }
        const cell = notebook.cellAt(index);
        return cell.kind === vscode.NotebookCellKind.Code ? this._execution(cell, state) : 'skip';
      },
      record: ({ ran }) => ran.length === 0 || notebook.isClosed ? undefined : {
        version: this._deps.version,
        settings: applyNotebookSettings(this._deps.settings(), notebook.metadata),
        usedModelFiles: state.services?.value.models?.usedFiles?.() ?? [],
        previous: (notebook.metadata?.alref as AlrefNotebookMetadata | undefined)?.record,
        warn: (m) => this._deps.log.warn(m),
      },
    });
    if (run.record && !notebook.isClosed) {
      await this._writeRecord(notebook, run.record);
    }
  }

  /** The context of one cell run: settings re-read, services rebuilt when the settings or run folder changed. */
  private _host(notebook: vscode.NotebookDocument, state: NotebookState): CellHostContext {
    try {
      const settings = applyNotebookSettings(this._deps.settings(), notebook.metadata);
      const runDir = this._deps.sessions.runDir(notebook.uri);
      const key = hashJson({ settings, runDir });
      if (state.services?.key !== key) {
        state.services = { key, value: this._deps.createServices(settings, runDir) };
      }
      return {
        runDir,
        baseDir: this._deps.sessions.baseDir(notebook.uri),
        resourcesDir: this._deps.resourcesDir,
        settings,
        services: state.services.value,
        log: this._logger(),
      };
    } catch (err) {
      // a bug outside the pipeline: the cell fails with its message, the stack goes to the log
      this._deps.log.error(err instanceof Error ? (err.stack ?? err.message) : String(err));
      throw err;
    }
  }

  /**
   * The VS Code execution of one cell of a run: started now, cancelled by its token, its outputs
   * mirrored while it runs, and ended exactly once when the cell is done.
   */
  private _execution(cell: vscode.NotebookCell, state: NotebookState): CellRunHooks {
    const execution = this._controller.createNotebookCellExecution(cell);
    execution.executionOrder = ++state.executionOrder;
    const abort = new AbortController();
    let cancelledAt = 0;
    const cancel = execution.token.onCancellationRequested(() => {
      cancelledAt = Date.now();
      abort.abort();
    });
    // What the cell showed before this run: a failed run puts it back (marked as the previous run's).
    const previous = cell.outputs.map(fromCellOutput);
    execution.start(Date.now());
    const outputs = new ExecutionOutputs(execution, this._deps.log);
    return {
      signal: abort.signal,
      onOutputs: outputs.listener,
      previousOutputs: previous,
      done: async (outcome) => {
        let success: boolean | undefined = false;
        try {
          const final = outcome.status === 'error' ? keepPreviousOutputs(outcome.outputs, previous, outcome.message ?? 'error') : outcome.outputs;
          await outputs.flush(final, outcome.status !== 'cancelled');
          if (outcome.status === 'error') {
            this._deps.log.warn(outcome.message ?? 'cell failed');
          }
          success = outcome.status === 'ok' || outcome.status === 'skipped' ? true : outcome.status === 'cancelled' ? undefined : false;
        } catch (err) {
          // Only reached for a bug outside the pipeline (showing the outputs failed).
          this._deps.log.error(err instanceof Error ? (err.stack ?? err.message) : String(err));
          await execution.replaceOutput(new vscode.NotebookCellOutput([vscode.NotebookCellOutputItem.error(err instanceof Error ? err : new Error(String(err)))]));
          success = false;
        } finally {
          cancel.dispose();
          execution.end(success, Date.now());
          if (cancelledAt > 0) {
            this._deps.log.info(`Cell ${cell.index + 1} cancelled: ended ${Date.now() - cancelledAt} ms after the request.`);
          }
          this._deps.sessions.changed(state.uri);
        }
      },
    };
  }

  private _logger(): Logger {
    const log = this._deps.log;
    return { info: (m) => log.info(m), warn: (m) => log.warn(m), error: (m) => log.error(m) };
  }

  /** Writes the experiment record into the notebook metadata (marks the notebook dirty). */
  private async _writeRecord(notebook: vscode.NotebookDocument, record: ExperimentRecord): Promise<void> {
    const meta = { ...(notebook.metadata ?? {}) } as Record<string, unknown>;
    const alref = { ...((meta.alref as AlrefNotebookMetadata | undefined) ?? { formatVersion: 1 }) };
    if (JSON.stringify(record) === JSON.stringify(alref.record)) {
      return;
    }
    alref.record = record;
    meta.alref = alref;
    const edit = new vscode.WorkspaceEdit();
    edit.set(notebook.uri, [vscode.NotebookEdit.updateNotebookMetadata(meta)]);
    await vscode.workspace.applyEdit(edit);
  }
}
