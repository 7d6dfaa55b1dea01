import type { StageEvent, TableEvent, UsageSummary } from '../events';
import type { LlmUsageTotals } from '../domain';
import { LlmError } from './errors';
import type { RenderedPrompt } from './templates';
import type { LlmEvent } from './service';

/**
 * Helpers that turn LLM calls into stage events: deltas become `trace` events of one stream, several
 * streams run concurrently and their events are interleaved as they come, usage is summed into a
 * table. Shared by pivot-frame, pivot-box and LBRU.
 */

/**
 * Forwards an LLM call's events as stage events: deltas to `trace` events of `streamId` (the first
 * carries `title`), restarts as a visible separator line in the same trace, warnings as warnings.
 * Returns what the call returns.
 */
export async function* asTrace<R>(call: AsyncGenerator<LlmEvent, R, void>, streamId: string, title: string): AsyncGenerator<StageEvent, R, void> {
  let first = true;
  for (;;) {
    const r = await call.next();
    if (r.done) {
      return r.value;
    }
    const e = r.value;
    if (e.type === 'warning') {
      yield { type: 'warning', message: e.message };
      continue;
    }
    const delta = e.type === 'delta' ? e.text : `\n\n— the reply was cut off (${e.reason}); asking again —\n\n`;
    yield first ? { type: 'trace', streamId, title, delta } : { type: 'trace', streamId, delta };
    first = false;
  }
}

/**
 * {@link asTrace} for one clip of a multi-clip stage: a failure that concerns only this request
 * closes its trace as invalid and comes back as `{ failed: note }`, so the other clips go on; fatal
 * errors (wrong key, cancellation, replay miss, ...; see {@link isFatalLlmError}) are rethrown.
 */
export async function* asClipTrace<R>(call: AsyncGenerator<LlmEvent, R, void>, streamId: string, title: string): AsyncGenerator<StageEvent, { result: R } | { failed: string }, void> {
  try {
    return { result: yield* asTrace(call, streamId, title) };
  } catch (err) {
    if (isFatalLlmError(err)) {
      throw err;
    }
    const note = `LLM failed: ${(err as Error).message}`;
    yield { type: 'trace', streamId, title, delta: '', final: { valid: false, note } };
    return { failed: note };
  }
}

/**
 * Runs generator tasks with at most `concurrency` at a time. Trace events are yielded as they arrive
 * (so several replies stream at once); every other event (images, warnings, markdown, tables) is
 * held until all earlier tasks have finished and released in task order, so the outputs of a run do
 * not depend on timing (a replay reproduces them exactly whatever the concurrency). With
 * `ordered`, trace events are held too: every task's events come out together, in task order (the
 * first unfinished task streams live, later ones appear when it is done), so each task's outputs
 * form one group. Returns the results in task order. The first task error stops starting new tasks
 * and is thrown after running tasks finish.
 */
export async function* runConcurrent<T>(
  tasks: Array<() => AsyncGenerator<StageEvent, T, void>>,
  concurrency: number,
  options: { ordered?: boolean } = {},
): AsyncGenerator<StageEvent, T[], void> {
  const results = new Array<T>(tasks.length);
  const held: StageEvent[][] = tasks.map(() => []);
  const finished: boolean[] = tasks.map(() => false);
  const queue: StageEvent[] = [];
  let flushed = 0;
  let wake: (() => void) | undefined;
  let failure: { err: unknown } | undefined;
  let next = 0;
  let running = 0;
  const notify = (): void => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  // Releases held events of finished tasks, in order, up to the first unfinished one.
  const flush = (): void => {
    while (flushed < tasks.length && finished[flushed]) {
      queue.push(...held[flushed]);
      held[flushed] = [];
      flushed++;
    }
    if (flushed < tasks.length) {
      queue.push(...held[flushed]);
      held[flushed] = [];
    }
  };
  const startMore = (): void => {
    while (!failure && running < Math.max(1, concurrency) && next < tasks.length) {
      const index = next++;
      running++;
      void (async () => {
        try {
          const gen = tasks[index]();
          for (;;) {
            const r = await gen.next();
            if (r.done) {
              results[index] = r.value;
              break;
            }
            if ((r.value.type === 'trace' && !options.ordered) || index === flushed) {
              queue.push(r.value);
            } else {
              held[index].push(r.value);
            }
            notify();
          }
        } catch (err) {
          failure ??= { err };
        } finally {
          finished[index] = true;
          running--;
          flush();
          startMore();
          notify();
        }
      })();
    }
  };
  startMore();
  for (;;) {
    while (queue.length > 0) {
      yield queue.shift() as StageEvent;
    }
    if (running === 0 && (failure || next >= tasks.length)) {
      break;
    }
    await new Promise<void>((resolve) => {
      wake = resolve;
      if (queue.length > 0 || (running === 0 && (failure || next >= tasks.length))) {
        notify();
      }
    });
  }
  if (failure) {
    throw failure.err;
  }
  return results;
}

/** Adds one call's usage to running totals. */
export function addToTotals(totals: LlmUsageTotals, usage: UsageSummary, calls = 1): LlmUsageTotals {
  return {
    calls: totals.calls + calls,
    promptTokens: totals.promptTokens + usage.promptTokens,
    completionTokens: totals.completionTokens + usage.completionTokens,
    latencyMs: totals.latencyMs + usage.latencyMs,
    costUsd: totals.calls > 0 && totals.costUsd === undefined ? undefined : usage.costUsd === undefined ? undefined : (totals.costUsd ?? 0) + usage.costUsd,
  };
}

export const EMPTY_TOTALS: LlmUsageTotals = { calls: 0, promptTokens: 0, completionTokens: 0, latencyMs: 0 };

/** One row of the per-cell usage table. */
export interface UsageRow {
  label: string;
  usage: UsageSummary;
  calls: number;
}

/** The usage table of a cell: one row per LLM call group, then the total. */
export function usageTable(rows: UsageRow[], totals: LlmUsageTotals): TableEvent {
  const cost = (c: number | undefined): string => (c === undefined ? 'n/a' : `$${c.toFixed(4)}`);
  return {
    type: 'table',
    title: 'LLM usage',
    columns: ['call', 'model', 'requests', 'tokens in', 'tokens out', 'latency (s)', 'cost'],
    rows: [
      ...rows.map((r) => [r.usage.reused ? `${r.label} (recorded reply, not sent)` : r.label, r.usage.model ?? '', r.calls, r.usage.promptTokens, r.usage.completionTokens, Number((r.usage.latencyMs / 1000).toFixed(2)), cost(r.usage.costUsd)]),
      ['total', '', totals.calls, totals.promptTokens, totals.completionTokens, Number((totals.latencyMs / 1000).toFixed(2)), cost(totals.costUsd)],
    ],
  };
}

/** Markdown showing the exact prompt sent and its hash; fenced so that no prompt text is read as markdown. */
export function promptMarkdown(prompt: RenderedPrompt, what: string): string {
  const longest = Math.max(2, ...[...prompt.text.matchAll(/`+/g)].map((m) => m[0].length));
  const fence = '`'.repeat(longest + 1);
  const source = prompt.source === 'cell' ? 'from a prompt cell of this notebook' : 'default template';
  return `**Prompt** \`${prompt.name}\` (${source}) for ${what} · sha256 \`${prompt.hash.slice(0, 16)}\`\n\n${fence}text\n${prompt.text}\n${fence}`;
}

/**
 * Whether an LLM failure should fail the whole cell (configuration problems, cancellation, a replay
 * miss, a model that cannot serve the stage) rather than mark one clip invalid (a backend that kept
 * failing after retries, or refused this one request): decided on the error's kind ({@link LlmError.llmKind}).
 */
function isFatalLlmError(err: unknown): boolean {
  return !(err instanceof LlmError && err.perRequest);
}
