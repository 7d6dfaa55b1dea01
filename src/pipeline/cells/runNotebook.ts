import type { StageEvent } from '../events';
import { ERROR_MIME, errorItemBytes } from '../format';
import type { ExperimentRecord, OutputModel } from '../format/model';
import type { NotebookSession } from '../session';
import { SkippedUpstreamError, missingModelOf, pullCommand, skippedOutput } from './missingModels';
import type { SkippedCell } from './missingModels';
import type { CellLike } from './notebook';
import type { OutputListener } from './outputBuilder';
import type { ExperimentRecorder } from './record';
import type { CellHostContext, CellRunOutcome } from './runCell';
import { cellLabel, runCell } from './runCell';

/** What a host does around one cell of a notebook run: how it shows the cell's outputs and events. */
export interface CellRunHooks {
  /** The cell's own cancel signal (a VS Code execution's token); default the run's signal. */
  signal?: AbortSignal;
  /** See {@link RunCellOptions.onOutputs}. */
  onOutputs?: OutputListener;
  /** Sees every stage event of the cell. */
  onEvent?(event: StageEvent): void;
  /** Called once the cell has run, before the next one starts (show its outputs, end the execution). */
  done?(outcome: CellRunOutcome): void | Promise<void>;
  /** See {@link RunCellOptions.previousOutputs}. */
  previousOutputs?: readonly OutputModel[];
}

/** Inputs of the experiment record besides the session and the cells (see {@link ExperimentRecorder.record}). */
export type NotebookRecordInput = Omit<Parameters<ExperimentRecorder['record']>[0], 'session' | 'cells'>;

/** How a notebook run ended: every cell ran, a cell failed or was cancelled, or the host stopped it. */
export type NotebookRunStatus = 'ok' | 'error' | 'cancelled' | 'stopped';

export interface NotebookRunResult {
  status: NotebookRunStatus;
  /** The cells that ran, in order, with their position at the time. */
  ran: Array<{ index: number; outcome: CellRunOutcome }>;
  /** The experiment record, when `record` gave its inputs. */
  record?: ExperimentRecord;
  /** Cells skipped because a model is missing (see {@link RunNotebookOptions.onMissingModel}), in order. */
  skipped?: SkippedCell[];
}

/**
 * What the run does with a cell that failed because a model is not installed: `fail` (the run stops
 * there), `retry` (the host has installed it: run the cell again), `skip` (with `problem`: why the
 * host could not install it).
 */
export type MissingModelAction = { action: 'fail' | 'retry' } | { action: 'skip'; problem?: string };

export interface RunNotebookOptions {
  /** The notebook's cells in order; a function when they can change during the run (read before each cell). */
  cells: readonly CellLike[] | (() => readonly CellLike[]);
  /**
   * The cells to run, by position (a function for a position that can change during the run; a
   * negative one means the cell is gone and stops the run). Default: every cell, in order.
   */
  positions?: ReadonlyArray<number | (() => number)>;
  session: NotebookSession;
  /** The host context, or a function that builds it for each cell (a failure there fails that cell). */
  host: CellHostContext | (() => CellHostContext);
  /** Cancels the whole run: the running cell ends quietly and no later cell starts. */
  signal?: AbortSignal;
  /** Notes each outcome (prompt cells) and builds the record at the end. */
  recorder: ExperimentRecorder;
  /**
   * Before each cell: `skip` (not run, not counted), `stop` (ends the run), or the hooks of this
   * cell. Default: every cell runs with no hooks.
   */
  beforeCell?(cell: CellLike, index: number): 'skip' | 'stop' | CellRunHooks | Promise<'skip' | 'stop' | CellRunHooks>;
  /**
   * Called when a cell fails because a model is not installed (the error names it). Default: the
   * cell fails. A skipped cell gets one output naming the model and the `alref models pull` command,
   * and every later cell that reads its result (by `uses`, or as the nearest cell of its kind) is
   * skipped the same way; the run goes on. The VS Code kernel leaves this unset.
   */
  onMissingModel?(modelId: string, cell: CellLike, index: number): MissingModelAction | Promise<MissingModelAction>;
  /** The record's inputs once the run is over, or undefined for no record (default: none). */
  record?(run: { status: NotebookRunStatus; ran: NotebookRunResult['ran'] }): NotebookRecordInput | undefined;
}

/**
 * The one notebook run loop of the VS Code kernel (a run of several cells), `alref notebook run` and
 * the dataset runner of `alref eval`: the cells run in order through {@link runCell}, the run stops
 * at the first cell that fails or is cancelled, and the experiment record is built at the end with
 * the host's {@link ExperimentRecorder}. The hosts differ only in their hooks: how a cell's outputs
 * and events are shown (a VS Code execution, progress lines on stderr, warnings of an item).
 * Should `runCell` itself throw (a bug outside the stages), that cell fails with an error output
 * naming it, and the stack goes to the host's log.
 *
 * @example
 * const run = await runNotebook({ cells, session, host, signal, recorder, record: () => ({ version, settings, usedModelFiles: [], warn }) });
 * if (run.status === 'error') console.error(run.ran.at(-1)?.outcome.message);
 */
export async function runNotebook(options: RunNotebookOptions): Promise<NotebookRunResult> {
  const cellsNow = (): readonly CellLike[] => (typeof options.cells === 'function' ? options.cells() : options.cells);
  const positions = options.positions ?? cellsNow().map((_, i) => i);
  const ran: NotebookRunResult['ran'] = [];
  const skipped = new Map<string, SkippedCell>();
  let status: NotebookRunStatus = 'ok';
  for (const position of positions) {
    if (options.signal?.aborted) {
      status = 'cancelled';
      break;
    }
    const index = typeof position === 'function' ? position() : position;
    const cells = cellsNow();
    const cell = cells[index];
    const hooks = cell ? await (options.beforeCell?.(cell, index) ?? {}) : 'stop';
    if (hooks === 'skip') {
      continue;
    }
    if (hooks === 'stop') {
      status = 'stopped';
      break;
    }
    const outcome = await runWithModels(options, cells, index, hooks, skipped);
    options.recorder.noteRun(outcome);
    ran.push({ index, outcome });
    await hooks.done?.(outcome);
    if (outcome.status === 'error' || outcome.status === 'cancelled') {
      status = outcome.status;
      break;
    }
  }
  const input = options.record?.({ status, ran });
  const record = input ? await options.recorder.record({ ...input, session: options.session, cells: cellsNow() }) : undefined;
  return { status, ran, ...(record ? { record } : {}), ...(skipped.size > 0 ? { skipped: [...skipped.values()] } : {}) };
}

/**
 * Runs a cell; with {@link RunNotebookOptions.onMissingModel}, a missing model is pulled (the cell
 * runs again) or the cell is skipped, and a cell reading a skipped cell is skipped too.
 */
async function runWithModels(options: RunNotebookOptions, cells: readonly CellLike[], index: number, hooks: CellRunHooks, skipped: Map<string, SkippedCell>): Promise<CellRunOutcome> {
  const tried = new Set<string>();
  for (;;) {
    const outcome = await runOneCell(options, cells, index, hooks, skipped);
    if (outcome.status !== 'error' || !options.onMissingModel || !outcome.request) {
      return outcome;
    }
    const upstream = outcome.error instanceof SkippedUpstreamError ? outcome.error.upstream : undefined;
    const modelId = upstream?.modelId ?? missingModelOf(outcome.error);
    if (modelId === undefined) {
      return outcome;
    }
    const decision: MissingModelAction = upstream ? { action: 'skip' } : tried.has(modelId) ? { action: 'fail' } : await options.onMissingModel(modelId, cells[index], index);
    tried.add(modelId);
    if (decision.action === 'retry') {
      continue;
    }
    if (decision.action === 'fail') {
      return outcome;
    }
    const skip: SkippedCell = { cellId: outcome.cellId, kind: outcome.request.kind, modelId };
    skipped.set(skip.cellId, skip);
    const output = skippedOutput(skip, upstream, 'problem' in decision ? decision.problem : undefined);
    const why = upstream ? `it reads cell "${upstream.cellId}", which was skipped` : `model "${modelId}" is not installed`;
    return { ...outcome, status: 'skipped', outputs: [output], message: `${cellLabel(index, outcome.cellId)} skipped: ${why}; run \`${pullCommand(modelId)}\`` };
  }
}

async function runOneCell(options: RunNotebookOptions, cells: readonly CellLike[], index: number, hooks: CellRunHooks, skipped: ReadonlyMap<string, SkippedCell>): Promise<CellRunOutcome> {
  const signal = hooks.signal ?? options.signal ?? new AbortController().signal;
  let host: CellHostContext | undefined;
  try {
    host = typeof options.host === 'function' ? options.host() : options.host;
    return await runCell({ cells, index, session: options.session, host, signal, onOutputs: hooks.onOutputs, onEvent: hooks.onEvent, skipped, previousOutputs: hooks.previousOutputs });
  } catch (err) {
    // runCell reports cell failures as outcomes; should anything still throw, it is this cell's error.
    const cellId = cells[index].id;
    if (signal.aborted || options.signal?.aborted) {
      return { status: 'cancelled', outputs: [], cellId };
    }
    const e = err instanceof Error ? err : new Error(String(err));
    const message = `${cellLabel(index, cellId)}: ${e.message}`;
    host?.log.error(`${cellLabel(index, cellId)}: ${e.stack ?? e.message}`);
    return { status: 'error', outputs: [{ items: [{ mime: ERROR_MIME, data: errorItemBytes({ name: e.name, message }) }] }], cellId, message, error: err };
  }
}
