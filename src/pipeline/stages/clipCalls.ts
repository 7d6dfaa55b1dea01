import type { LlmUsageTotals } from '../domain';
import type { StageEvent, UsageSummary } from '../events';
import { EMPTY_TOTALS, type UsageRow, addToTotals, promptMarkdown, runConcurrent, usageTable } from '../llm/streaming';
import type { RenderedPrompt } from '../llm/templates';

/*
 * The per-object x per-clip LLM loop of the pivot-frame and pivot-box stages: for each object, one
 * call per clip (its pivot frame), run concurrently, each streaming into its own trace, with the
 * usage summed into one table. The stages plan the clips and pass the per-clip work in.
 */

/** What one clip's work returns: its value (the stage's pivot record) and the LLM usage it cost. */
export interface ClipCallResult<V> {
  value: V;
  usage?: UsageSummary;
  /** LLM requests made (replies, re-asks included); 0 when the clip made none. */
  calls: number;
}

/** One clip of one object. */
export interface ClipCall<V> {
  clipIndex: number;
  /**
   * The rendered prompt, when this clip asks the LLM: shown once per distinct prompt in the stage
   * (rendered before any call, so a template problem fails before anything is sent).
   */
  prompt?: RenderedPrompt;
  /** The clip's trace, opened (empty) before any call starts so traces appear in clip order. */
  stream?: { streamId: string; title: string };
  run: () => AsyncGenerator<StageEvent, ClipCallResult<V>, void>;
}

/** The LLM usage of a stage's clip calls: one row per clip that used the LLM, and the totals. */
export class ClipUsage {
  totals: LlmUsageTotals = { ...EMPTY_TOTALS };
  private readonly _rows: UsageRow[] = [];
  /** Prompts already shown (by hash). */
  readonly shownPrompts = new Set<string>();

  add(label: string, usage: UsageSummary, calls: number): void {
    this.totals = addToTotals(this.totals, usage, calls);
    this._rows.push({ label, usage, calls });
  }

  /** The usage table, or nothing when no call was made. */
  *table(): Generator<StageEvent, void, void> {
    if (this.totals.calls > 0) {
      yield usageTable(this._rows, this.totals);
    }
  }
}

/**
 * Runs the clip calls of one object: shows each new prompt, opens the traces, runs the calls with
 * at most `concurrency` at a time (their events in clip order, see `runConcurrent`), and adds their
 * usage to `usage`. Returns the values in clip order.
 */
export async function* runClipCalls<V>(objectId: number, calls: ReadonlyArray<ClipCall<V>>, concurrency: number, usage: ClipUsage): AsyncGenerator<StageEvent, V[], void> {
  for (const call of calls) {
    if (call.prompt && !usage.shownPrompts.has(call.prompt.hash)) {
      usage.shownPrompts.add(call.prompt.hash);
      yield { type: 'markdown', text: promptMarkdown(call.prompt, `object ${objectId}, clip ${call.clipIndex + 1}`) };
    }
  }
  for (const call of calls) {
    if (call.stream) {
      yield { type: 'trace', ...call.stream, delta: '' };
    }
  }
  const results = yield* runConcurrent(calls.map((c) => c.run), Math.max(1, concurrency));
  results.forEach((r, i) => {
    if (r.usage) {
      usage.add(`object ${objectId}, clip ${calls[i].clipIndex + 1}`, r.usage, r.calls);
    }
  });
  return results.map((r) => r.value);
}
