import * as vscode from 'vscode';
import { CONTROLLER_ID, NOTEBOOK_TYPE, PROMPT_LANGUAGE, STAGE_LANGUAGE } from '../common/mime';
import { applyNotebookSettings } from '../pipeline/cells/settingsMerge';
import { runCell } from '../pipeline/cells/runCell';
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
 * The AL-Ref kernel. Holds no pipeline logic: each cell goes through the pure `runCell` (the same
 * code the CLI runs) and its outputs are mirrored into the execution. Cells of one notebook run
 * strictly in order (one promise chain per notebook); a batch stops at the first failed or
 * cancelled cell. Every execution is started and ended exactly once.
 */
export class AlrefController implements vscode.Disposable {
  private readonly _controller: vscode.NotebookController;
  private readonly _subscription: vscode.Disposable;

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
    this._subscription = vscode.workspace.onDidOpenNotebookDocument(prefer);
  }

  dispose(): void {
    this._subscription.dispose();
    this._controller.dispose();
  }

  private async _executeAll(cells: vscode.NotebookCell[], notebook: vscode.NotebookDocument, _controller: vscode.NotebookController): Promise<void> {
    const state = this._deps.sessions.get(notebook);
    const run = state.queue.then(() => this._runBatch(cells, notebook, state));
    state.queue = run.catch(() => undefined);
    await run;
  }

  private async _runBatch(cells: vscode.NotebookCell[], notebook: vscode.NotebookDocument, state: NotebookState): Promise<void> {
    const ordered = [...cells].sort((a, b) => a.index - b.index);
    let ranAny = false;
    for (const cell of ordered) {
      if (notebook.isClosed || cell.index < 0) {
        break;
      }
      if (cell.kind !== vscode.NotebookCellKind.Code) {
        continue;
      }
      const status = await this._runOne(cell, notebook, state);
      ranAny = true;
      this._deps.sessions.changed(state.uri);
      if (status !== 'ok' && status !== 'skipped') {
        break;
      }
    }
    if (ranAny && !notebook.isClosed) {
      await this._updateRecord(notebook, state);
    }
  }

  private async _runOne(cell: vscode.NotebookCell, notebook: vscode.NotebookDocument, state: NotebookState): Promise<string> {
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
    let success: boolean | undefined = false;
    let status = 'error';
    try {
      const settings = applyNotebookSettings(this._deps.settings(), notebook.metadata);
      const runDir = this._deps.sessions.runDir(notebook.uri);
      const key = hashJson({ settings, runDir });
      if (state.services?.key !== key) {
        state.services = { key, value: this._deps.createServices(settings, runDir) };
      }
      const outputs = new ExecutionOutputs(execution, this._deps.log);
      const outcome = await runCell({
        cells: cellLikes(notebook),
        index: cell.index,
        session: state.session,
        signal: abort.signal,
        onOutputs: outputs.listener,
        host: {
          runDir,
          baseDir: this._deps.sessions.baseDir(notebook.uri),
          resourcesDir: this._deps.resourcesDir,
          settings,
          services: state.services.value,
          log: this._logger(),
        },
      });
      status = outcome.status;
      state.recorder.noteRun(outcome);
      const final = outcome.status === 'error' ? keepPreviousOutputs(outcome.outputs, previous, outcome.message ?? 'error') : outcome.outputs;
      await outputs.flush(final, outcome.status !== 'cancelled');
      if (outcome.status === 'error') {
        this._deps.log.warn(outcome.message ?? 'cell failed');
      }
      success = outcome.status === 'ok' || outcome.status === 'skipped' ? true : outcome.status === 'cancelled' ? undefined : false;
    } catch (err) {
      // Only reached for a bug outside the pipeline (runCell turns stage failures into outputs).
      this._deps.log.error(err instanceof Error ? (err.stack ?? err.message) : String(err));
      await execution.replaceOutput(new vscode.NotebookCellOutput([vscode.NotebookCellOutputItem.error(err instanceof Error ? err : new Error(String(err)))]));
      success = false;
      status = 'error';
    } finally {
      cancel.dispose();
      execution.end(success, Date.now());
      if (cancelledAt > 0) {
        this._deps.log.info(`Cell ${cell.index + 1} cancelled: ended ${Date.now() - cancelledAt} ms after the request.`);
      }
    }
    return status;
  }

  private _logger(): Logger {
    const log = this._deps.log;
    return { info: (m) => log.info(m), warn: (m) => log.warn(m), error: (m) => log.error(m) };
  }

  /** Writes the experiment record into the notebook metadata (marks the notebook dirty). */
  private async _updateRecord(notebook: vscode.NotebookDocument, state: NotebookState): Promise<void> {
    const meta = { ...(notebook.metadata ?? {}) } as Record<string, unknown>;
    const alref = { ...((meta.alref as AlrefNotebookMetadata | undefined) ?? { formatVersion: 1 }) };
    const record = await state.recorder.record({
      version: this._deps.version,
      settings: applyNotebookSettings(this._deps.settings(), notebook.metadata),
      session: state.session,
      cells: cellLikes(notebook),
      usedModelFiles: state.services?.value.models?.usedFiles?.() ?? [],
      previous: alref.record as ExperimentRecord | undefined,
      warn: (m) => this._deps.log.warn(m),
    });
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
