import type { LlmUsageTotals } from '../domain';
import type { StageEvent, UsageSummary } from '../events';
import { EMPTY_TOTALS, type UsageRow, addToTotals, promptMarkdown, runConcurrent, usageTable } from '../llm/streaming';
import type { RenderedPrompt } from '../llm/templates';

/*
 * The per-object x per-clip LLM loop of the pivot-frame and pivot-box stages: for each object, one
 * call per clip (its pivot frame), run concurrently, each streaming into its own trace, the outputs
 * grouped by clip, with the usage summed into one table. The stages plan the clips and pass the per-clip work in.
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
   * The rendered prompt, when this clip asks the LLM: the stage's first is printed in full, the
   * others as the lines that differ (rendered before any call, so a template problem fails before
   * anything is sent).
   */
  prompt?: RenderedPrompt;
  /** The heading of the clip's group of outputs (e.g. "Object 1 · clip 3 · frame 60"). */
  title?: string;
  run: () => AsyncGenerator<StageEvent, ClipCallResult<V>, void>;
}

/** The LLM usage of a stage's clip calls: one row per clip that used the LLM, and the totals. */
export class ClipUsage {
  totals: LlmUsageTotals = { ...EMPTY_TOTALS };
  private readonly _rows: UsageRow[] = [];
  /** The prompt printed in full (the stage's first); each clip's header says how its own differs. */
  shown?: { hash: string; text: string; what: string };

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

/** Most differing prompt lines quoted in a clip's header, and most characters quoted of each. */
const DIFF_LINES = 3;
const DIFF_LINE_CHARS = 160;

/**
 * The lines of `prompt` that differ from `shown` (the prompt printed in full above): compared line
 * by line when both have as many lines, else the lines `shown` does not contain. Pure.
 */
export function promptDifference(prompt: string, shown: string): string[] {
  const a = prompt.split('\n');
  const b = shown.split('\n');
  if (a.length === b.length) {
    return a.filter((line, i) => line !== b[i]);
  }
  const known = new Set(b);
  return a.filter((line) => !known.has(line));
}

/** The header of one clip's group of outputs: its title and how its prompt differs from the one shown. */
export function clipHeader(title: string, prompt: RenderedPrompt | undefined, shown: { hash: string; text: string; what: string } | undefined): string {
  const head = `#### ${title}`;
  if (!prompt || !shown) {
    return head;
  }
  if (prompt.hash === shown.hash) {
    return `${head}\n\nPrompt: as shown above (${shown.what}).`;
  }
  const diff = promptDifference(prompt.text, shown.text).filter((l) => l.trim() !== '');
  const quoted = diff.slice(0, DIFF_LINES).map((l) => `> ${(l.length > DIFF_LINE_CHARS ? `${l.slice(0, DIFF_LINE_CHARS - 1)}…` : l).replace(/[\\`*_[\]<>]/g, (c) => `\\${c}`)}`);
  const more = diff.length > DIFF_LINES ? `\n>\n> … and ${diff.length - DIFF_LINES} more changed lines` : '';
  return `${head}\n\nPrompt: as shown above (${shown.what}) except ${diff.length === 1 ? 'this line' : 'these lines'} (sha256 \`${prompt.hash.slice(0, 16)}\`):\n\n${quoted.join('\n')}${more}`;
}

/**
 * Runs the clip calls of one object. The first prompt of the stage is printed in full once; then
 * each clip's outputs form one group, in clip order: a header (title, and the lines in which its
 * prompt differs from the printed one), then whatever the clip's work yields (image sent, trace,
 * answer). The calls run with at most `concurrency` at a time; the first unfinished clip streams
 * live and later clips' outputs appear when the clips before them are done (`runConcurrent` with
 * `ordered`), so the outputs do not depend on timing. Adds their usage to `usage` and returns the
 * values in clip order.
 */
export async function* runClipCalls<V>(objectId: number, calls: ReadonlyArray<ClipCall<V>>, concurrency: number, usage: ClipUsage): AsyncGenerator<StageEvent, V[], void> {
  const first = calls.find((c) => c.prompt)?.prompt;
  if (first && usage.shown === undefined) {
    const clip = calls.find((c) => c.prompt === first)?.clipIndex ?? 0;
    usage.shown = { hash: first.hash, text: first.text, what: `object ${objectId}, clip ${clip + 1}` };
    yield { type: 'markdown', text: promptMarkdown(first, `object ${objectId}, clip ${clip + 1}`) };
  }
  const tasks = calls.map((call) => async function* (): AsyncGenerator<StageEvent, ClipCallResult<V>, void> {
    yield { type: 'markdown', id: `clip:${objectId}:${call.clipIndex}`, text: clipHeader(call.title ?? `Object ${objectId} · clip ${call.clipIndex + 1}`, call.prompt, usage.shown) };
    return yield* call.run();
  });
  const results = yield* runConcurrent(tasks, Math.max(1, concurrency), { ordered: true });
  results.forEach((r, i) => {
    if (r.usage) {
      usage.add(`object ${objectId}, clip ${calls[i].clipIndex + 1}`, r.usage, r.calls);
    }
  });
  return results.map((r) => r.value);
}
