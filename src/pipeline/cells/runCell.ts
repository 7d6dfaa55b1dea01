import path from 'node:path';
import { PROMPT_LANGUAGE, STAGE_LANGUAGE } from '../../common/mime';
import { PipelineError, isCancellation } from '../errors';
import type { StageEvent } from '../events';
import type { OutputModel } from '../format/model';
import { describePromptCell } from '../llm/promptCell';
import type { LlmModelsUsed, NotebookSession } from '../session';
import { runStage } from '../stages/index';
import type { StageContext, StageRequest, StageResult } from '../types';
import type { CellLike } from './notebook';
import { LLM_MODEL_KEYS, collectPromptOverrides, currentRequests, knownCells } from './notebook';
import type { OutputListener } from './outputBuilder';
import { CellOutputBuilder } from './outputBuilder';
import type { CellDiagnostic } from './parse';
import { guardSkipped } from './missingModels';
import type { SkippedCell } from './missingModels';
import { displayImage } from '../run/displayImages';
import { parsePromptCell, parseStageCell } from './parse';

/** What a cell run needs besides the cell: everything of a {@link StageContext} the host provides. */
export type CellHostContext = Omit<StageContext, 'session' | 'promptOverrides' | 'signal' | 'previousPayload'>;

export interface RunCellOptions {
  /** All cells of the notebook, in order (for `uses` checks and prompt overrides). */
  cells: readonly CellLike[];
  /** 0-based position of the cell to run in `cells`. */
  index: number;
  session: NotebookSession;
  host: CellHostContext;
  signal: AbortSignal;
  /** Called after every change of the cell's outputs (the VS Code controller batches these). */
  onOutputs?: OutputListener;
  /** Sees every stage event too (the CLI prints progress from it). */
  onEvent?: (event: StageEvent) => void;
  /** Cells a notebook run skipped (a model missing): reading one fails the cell with a `SkippedUpstreamError` (missingModels.ts). */
  skipped?: ReadonlyMap<string, SkippedCell>;
  /**
   * The cell's outputs before this run (a reopened notebook's saved outputs): a stage reads its
   * previous result's summary from them when the session has none (`StageContext.previousPayload`).
   */
  previousOutputs?: readonly OutputModel[];
}

export type CellRunStatus = 'ok' | 'error' | 'cancelled' | 'skipped';

export interface CellRunOutcome {
  status: CellRunStatus;
  /** The cell's outputs after the run (on cancellation: what was produced before it). */
  outputs: OutputModel[];
  /** Effective cell id (YAML `id` or metadata id). */
  cellId: string;
  request?: StageRequest;
  result?: StageResult;
  /** For `error`: the message shown, naming the cell (position and id) and the field. */
  message?: string;
  error?: unknown;
  /** For prompt cells: the template overridden and its hash. */
  prompt?: { name: string; hash: string; variables: string[] };
  /** For a prompt cell that failed: the template it names, when it names one. */
  failedPrompt?: string;
}

/** The JSON payload of the first output item of `mime` among `outputs`, or undefined. */
function jsonPayload(outputs: readonly OutputModel[] | undefined, mime: string): unknown {
  const item = outputs?.flatMap((o) => o.items).find((i) => i.mime === mime);
  if (!item) {
    return undefined;
  }
  try {
    return JSON.parse(new TextDecoder().decode(item.data)) as unknown;
  } catch {
    return undefined;
  }
}

/** Markdown of the "ran on stale inputs" notice put first in a cell's outputs. */
export function staleInputsNotice(reasons: readonly string[]): string {
  return `**Warning: this cell ran on stale inputs.** ${reasons.map((r) => `${r[0].toUpperCase()}${r.slice(1)}`).join('; ')}. Run the cells above it again (top to bottom) to bring its result up to date.`;
}

/** `message` with every path under `baseDir` written relative to it (`/home/me/nb/seq/1.jpg` -> `seq/1.jpg`). */
export function relativePaths(message: string, baseDir: string): string {
  const base = path.resolve(baseDir);
  if (base === path.parse(base).root) {
    return message;
  }
  return message.split(base + path.sep).join('');
}

/** "Cell 3 (id "pf"), line 2" style prefix used by every cell error message. */
export function cellLabel(index: number, cellId: string): string {
  return `Cell ${index + 1} (id "${cellId}")`;
}

function diagnosticsMessage(label: string, diagnostics: CellDiagnostic[]): string {
  const errors = diagnostics.filter((d) => d.severity === 'error');
  return errors
    .map((d) => `${label}, line ${d.range.start.line + 1}${d.field ? `, field "${d.field}"` : ''}: ${d.message}`)
    .join('\n');
}

/**
 * Runs one cell of a notebook with the SAME code path in VS Code and in the CLI:
 * parse (YAML + schema, or prompt cell) -> `runStage` -> events -> neutral outputs -> result kept
 * in the session. Never throws for a cell failure: a PipelineError or any other error becomes an
 * error output whose message names the cell (position and id) and the field, and the outcome
 * says `error`; cancellation ends quietly (`cancelled`, no error output). A failed or cancelled
 * stage cell loses its previous session result, so later cells do not silently use it.
 *
 * @example
 * const out = await runCell({ cells, index: 1, session, host, signal: ac.signal });
 * if (out.status === 'error') console.error(out.message);
 */
export async function runCell(options: RunCellOptions): Promise<CellRunOutcome> {
  const { cells, index, session, host, signal } = options;
  const cell = cells[index];
  if (!cell) {
    throw new RangeError(`runCell: no cell at index ${index}`);
  }
  const outputs = new CellOutputBuilder(options.onOutputs, { llmMode: host.settings.llm.mode });
  if (cell.language === PROMPT_LANGUAGE) {
    return runPromptCell(cell, index, host, outputs);
  }
  if (cell.language !== STAGE_LANGUAGE) {
    return { status: 'skipped', outputs: [], cellId: cell.id };
  }
  const known = knownCells(cells);
  const parsed = parseStageCell(cell.source, { cellId: cell.id, cellIndex: index + 1, knownCells: known });
  if (!parsed.ok) {
    const message = diagnosticsMessage(cellLabel(index, parsed.cellId), parsed.diagnostics);
    const first = parsed.diagnostics.find((d) => d.severity === 'error');
    const error = new PipelineError(message, { stage: parsed.kind ?? 'cell', kind: 'invalid-input', field: first?.field, cellId: parsed.cellId });
    outputs.error(error.name, message);
    session.delete(parsed.cellId);
    return { status: 'error', outputs: outputs.outputs(), cellId: parsed.cellId, message, error };
  }
  const request = parsed.request;
  const { overrides } = collectPromptOverrides(cells);
  // The stage sees only cells still in the notebook; a kind it does not name comes from the nearest cell above.
  const ids = known.map((k) => k.id);
  const view = guardSkipped(session.viewAt(ids, index), ids, index, options.skipped);
  const ctx: StageContext = { ...host, signal, session: view, promptOverrides: overrides, previousPayload: (mime) => jsonPayload(options.previousOutputs, mime) };
  const reported = new Set<string>();
  try {
    const it = runStage(request, ctx);
    let step = await nextOrAbort(it, signal, request.kind);
    while (!step.done) {
      // Images are stored at display size, their originals in the run folder (run/displayImages.ts).
      const event = step.value.type === 'image' ? await displayImage(step.value, host.runDir) : step.value;
      options.onEvent?.(event);
      const model = event.type === 'trace' ? event.final?.usage?.model : undefined;
      if (model) {
        reported.add(model);
      }
      outputs.apply(event);
      step = await nextOrAbort(it, signal, request.kind);
    }
    if (signal.aborted) {
      throw new PipelineError('Cancelled.', { stage: request.kind, kind: 'cancelled' });
    }
    const result = step.value;
    const modelKey = LLM_MODEL_KEYS[request.kind];
    const usedLlm = reported.size > 0 || (result.data as { prompt?: unknown } | null | undefined)?.prompt !== undefined;
    const requested = typeof request.params.model === 'string' ? request.params.model : modelKey ? host.settings.llm.models[modelKey] : undefined;
    const llm: LlmModelsUsed | undefined = usedLlm && requested ? { requested, reported: [...reported].sort() } : undefined;
    session.put(result, request, { llm });
    const stale = session.staleness(request.cellId, request, overrides, currentRequests(cells, known));
    if (stale.stale) {
      outputs.notice('stale-inputs', staleInputsNotice(stale.reasons));
    }
    outputs.finish('ok');
    return { status: 'ok', outputs: outputs.outputs(), cellId: request.cellId, request, result };
  } catch (err) {
    session.delete(request.cellId);
    outputs.finish(signal.aborted || isCancellation(err) ? 'cancelled' : 'failed');
    if (signal.aborted || isCancellation(err)) {
      return { status: 'cancelled', outputs: outputs.outputs(), cellId: request.cellId, request };
    }
    const label = cellLabel(index, request.cellId);
    let message: string;
    if (err instanceof PipelineError) {
      message = `${label}${err.field ? `, field "${err.field}"` : ''}: ${err.message}`;
    } else {
      // Not one of ours (a library's error): the output gets its message only, with paths under
      // the notebook's folder made relative; the stack trace goes to the log.
      const e = err instanceof Error ? err : new Error(String(err));
      message = `${label}: ${relativePaths(e.message, host.baseDir)} (unexpected error in the ${request.kind} stage; details in the log)`;
      host.log.error(`${label}: ${e.stack ?? e.message}`);
    }
    outputs.error(err instanceof Error ? err.name : 'Error', message);
    return { status: 'error', outputs: outputs.outputs(), cellId: request.cellId, request, message, error: err };
  }
}

/**
 * The stage's next event, or a `cancelled` error once the signal has fired. Cancel waits for the
 * stage to wind down: the stage sees the same signal and stops its own work (kills ffmpeg, stops
 * between frames), and this promise settles only after the pending step has settled; when that
 * step still delivers an event, the generator is closed with `return()` and its `finally` blocks
 * (temporary folders, child processes) are awaited too. So a cancelled cell returns only after
 * its child processes have exited and its temporary files are gone.
 */
async function nextOrAbort<T, R>(it: AsyncGenerator<T, R, void>, signal: AbortSignal, stage: string): Promise<IteratorResult<T, R>> {
  const cancelled = (): PipelineError => new PipelineError('Cancelled.', { stage, kind: 'cancelled' });
  if (signal.aborted) {
    await it.return(undefined as never).catch(() => undefined);
    throw cancelled();
  }
  let step: IteratorResult<T, R>;
  try {
    step = await it.next();
  } catch (err) {
    if (signal.aborted) {
      throw cancelled();
    }
    throw err;
  }
  if (signal.aborted) {
    if (!step.done) {
      await it.return(undefined as never).catch(() => undefined);
    }
    throw cancelled();
  }
  return step;
}

function runPromptCell(cell: CellLike, index: number, host: CellHostContext, outputs: CellOutputBuilder): CellRunOutcome {
  const label = cellLabel(index, cell.id);
  const parsed = parsePromptCell(cell.source);
  if (!parsed.ok) {
    const message = diagnosticsMessage(label, parsed.diagnostics);
    outputs.error('PipelineError', message);
    return {
      status: 'error', outputs: outputs.outputs(), cellId: cell.id, message, ...(parsed.name ? { failedPrompt: parsed.name } : {}),
      error: new PipelineError(message, { stage: 'prompt', kind: 'invalid-input', field: 'template', cellId: cell.id }),
    };
  }
  try {
    const info = describePromptCell(parsed.name, parsed.text, host.resourcesDir);
    const vars = info.variables.length > 0 ? info.variables.map((v) => `\`{{${v}}}\``).join(', ') : 'none';
    outputs.markdown(
      'prompt',
      (info.base === info.name
        ? `**Prompt override** \`${info.name}\`: stages of this notebook use this text instead of the default template.\n\n`
        : `**Prompt variant** \`${info.name}\` of \`${info.base}\`: a stage cell uses it with \`template: ${info.name}\`; the others keep their template.\n\n`) +
        `- sha256: \`${info.hash}\`\n- variables: ${vars}\n- ${parsed.text.length} characters\n`,
      { alref: { prompt: { name: info.name, hash: info.hash, variables: info.variables } } },
    );
    return { status: 'ok', outputs: outputs.outputs(), cellId: cell.id, prompt: { name: info.name, hash: info.hash, variables: info.variables } };
  } catch (err) {
    const field = err instanceof PipelineError && err.field ? `, field "${err.field}"` : '';
    const message = `${label}${field}: ${err instanceof Error ? err.message : String(err)}`;
    outputs.error(err instanceof Error ? err.name : 'Error', message);
    return { status: 'error', outputs: outputs.outputs(), cellId: cell.id, message, error: err, failedPrompt: parsed.name };
  }
}
