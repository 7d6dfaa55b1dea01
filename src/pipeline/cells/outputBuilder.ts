import { OUTPUT_METADATA_KEY, MIME } from '../../common/mime';
import { FULL_IMAGE_METADATA_KEY, type ReasoningTracePayload } from '../../common/payloads';
import type { StageEvent, TableEvent, TraceEvent } from '../events';
import type { OutputModel } from '../format/model';
import { ERROR_MIME, STDERR_MIME, errorItemBytes, isJsonMime } from '../format/nbformatOutputs';
import { stableStringify } from '../run/hash';
import { TraceText } from '../llm/traceText';

const enc = new TextEncoder();
const dec = new TextDecoder();

/** Output metadata key of a reasoning trace holding the LLM mode of its run (`live`, `record`, `replay`). */
export const TRACE_MODE_KEY = 'llmMode';

/** Output metadata key marking a notice the runner put first (`stale-inputs`, `previous-run`). */
export const NOTICE_METADATA_KEY = 'alrefNotice';

/** What changed in a cell's output list. `index` is the slot's position after the change (before it, for `remove`). */
export interface OutputChange {
  type: 'add' | 'update' | 'remove';
  slot: string;
  index: number;
}

export type OutputListener = (change: OutputChange, outputs: readonly OutputModel[]) => void;

/** Escapes a table cell for a markdown table. */
function cellText(v: string | number | null): string {
  if (v === null) {
    return '';
  }
  return String(v).replace(/\\/g, '\\\\').replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');
}

/** A markdown table (the fallback of every table output). */
export function markdownTable(columns: string[], rows: Array<Array<string | number | null>>, title?: string): string {
  const head = `| ${columns.map(cellText).join(' | ')} |`;
  const sep = `| ${columns.map(() => '---').join(' | ')} |`;
  const body = rows.map((r) => `| ${columns.map((_, i) => cellText(r[i] ?? null)).join(' | ')} |`);
  return `${title ? `**${title}**\n\n` : ''}${[head, sep, ...body].join('\n')}\n`;
}

/** The caption line of an image shown without a renderer, naming its full-size file when it has one. */
export function imageCaptionMarkdown(caption: string, full?: { ref: string; width: number; height: number }): string {
  const line = `*${caption.replace(/\*/g, '\\*')}*`;
  return full ? `${line} · full size (${full.width} x ${full.height}): \`${full.ref}\` in the run folder` : line;
}

function text(mime: string, value: string): { mime: string; data: Uint8Array } {
  return { mime, data: enc.encode(value) };
}

/**
 * A trace output is rebuilt when the text received since the last rebuild reaches this fraction of
 * all the text received so far (or on the stream's first and final events, and when the outputs are
 * read). Rebuilds are then logarithmic in the reply's length and each is bounded by
 * TRACE_MAX_CHARS (../llm/traceText.ts), so a long streamed reply costs linear time, not quadratic.
 */
export const TRACE_REBUILD_FRACTION = 1 / 32;

interface TraceState {
  title?: string;
  text: TraceText;
  final?: TraceEvent['final'];
  /** Characters received when the output was last rebuilt; undefined before the first build. */
  builtAt?: number;
  /** Deltas since then are not in the output yet. */
  dirty: boolean;
}

/**
 * Turns a stage's events into a cell's outputs, one output per "slot":
 * - each trace stream (`trace:<streamId>`): one output grown as deltas arrive, holding the
 *   reasoning-trace JSON payload and a markdown fallback (a snapshot of the text so far); rebuilt at
 *   most logarithmically often in the text's length (see {@link TRACE_REBUILD_FRACTION}) and capped at
 *   TRACE_MAX_CHARS (../llm/traceText.ts) with a visible note;
 * - each image (`image:<id>` or `image#n`): the custom renderer item (when the event names one) then
 *   the `image/*` fallback; a binary renderer's payload goes into `metadata.alref`, a `+json`
 *   renderer's payload is its item; an image with the id of an earlier one replaces it in place;
 * - tables (markdown, plus the renderer's JSON item when given), markdown, warnings (one stderr
 *   stream), progress (one text output, where the first progress event put it, turned into a final status line
 *   when the run ends), and the error output.
 * JSON items are written with sorted keys, so they survive a save and load byte for byte.
 * Pure: the VS Code controller and the CLI both feed it.
 */
export class CellOutputBuilder {
  private readonly _slots: Array<{ slot: string; output: OutputModel }> = [];
  private readonly _traces = new Map<string, TraceState>();
  private _counter = 0;
  private _warnings = '';
  private _progressText: string | undefined;

  /** `llmMode`: the LLM mode of the run, shown on every reasoning trace (`live`, `record`, `replay`). */
  constructor(
    private readonly _listener?: OutputListener,
    private readonly _options: { llmMode?: 'live' | 'record' | 'replay' } = {},
  ) {}

  /** The current outputs, in order (pending trace text included). */
  outputs(): OutputModel[] {
    for (const [streamId, state] of this._traces) {
      if (state.dirty) {
        this._buildTrace(streamId, state);
      }
    }
    return this._list();
  }

  private _list(): OutputModel[] {
    return this._slots.map((s) => s.output);
  }

  private _set(slot: string, output: OutputModel): void {
    const i = this._slots.findIndex((s) => s.slot === slot);
    if (i >= 0) {
      this._slots[i] = { slot, output };
      this._listener?.({ type: 'update', slot, index: i }, this._list());
    } else {
      // Always appended: VS Code can append outputs cheaply but not insert them.
      const at = this._slots.length;
      this._slots.push({ slot, output });
      this._listener?.({ type: 'add', slot, index: at }, this._list());
    }
  }

  /** Applies one stage event. */
  apply(event: StageEvent): void {
    switch (event.type) {
      case 'progress': {
        const pct = event.total > 0 ? ` (${Math.round((100 * event.done) / event.total)}%)` : '';
        this._progressText = `${event.label ? `${event.label}: ` : ''}${event.done}/${event.total}${pct}`;
        this._set('progress', { items: [text('text/plain', this._progressText)] });
        break;
      }
      case 'trace':
        this._trace(event);
        break;
      case 'image': {
        const slot = event.id !== undefined ? `image:${event.id}` : `image#${++this._counter}`;
        const items: OutputModel['items'] = [];
        const metadata: Record<string, unknown> = {};
        if (event.renderer) {
          if (isJsonMime(event.renderer.mime)) {
            items.push(text(event.renderer.mime, stableStringify(event.renderer.payload ?? null)));
          } else {
            items.push({ mime: event.renderer.mime, data: event.data });
            metadata[OUTPUT_METADATA_KEY] = event.renderer.payload ?? null;
          }
        }
        items.push({ mime: event.mime, data: event.data });
        if (event.full) {
          metadata[FULL_IMAGE_METADATA_KEY] = event.full;
        }
        if (event.caption !== undefined) {
          metadata.caption = event.caption;
          if (!event.renderer) {
            // Without a renderer, nothing would show the caption: give it its own line above the image.
            this._set(`${slot}:caption`, { items: [text('text/markdown', imageCaptionMarkdown(event.caption, event.full))] });
          }
        }
        this._set(slot, Object.keys(metadata).length > 0 ? { items, metadata } : { items });
        break;
      }
      case 'table': {
        const items: OutputModel['items'] = [];
        if (event.renderer) {
          items.push(text(event.renderer.mime, stableStringify(event.renderer.payload ?? null)));
        }
        items.push(text('text/markdown', markdownTable(event.columns, event.rows, event.title)));
        if (event.supersedes) {
          this._supersede(event.supersedes);
        }
        this._set(`table#${++this._counter}`, { items });
        break;
      }
      case 'markdown':
        this._set(event.id !== undefined ? `markdown:${event.id}` : `markdown#${++this._counter}`, { items: [text('text/markdown', event.text)] });
        break;
      case 'warning':
        this._warnings += `Warning: ${event.message}\n`;
        this._set('warnings', { items: [text(STDERR_MIME, this._warnings)] });
        break;
    }
  }

  /**
   * Removes the outputs a summary table replaces (see `TableEvent.supersedes`). Removing outputs
   * makes VS Code redraw the cell's outputs once; it happens once, at the end of a run.
   */
  private _supersede(what: NonNullable<TableEvent['supersedes']>): void {
    const gone = new Set([
      ...(what.traces ?? []).map((id) => `trace:${id}`),
      ...(what.images ?? []).flatMap((id) => [`image:${id}`, `image:${id}:caption`]),
      ...(what.markdown ?? []).map((id) => `markdown:${id}`),
    ]);
    for (const id of what.traces ?? []) {
      this._traces.delete(id);
    }
    for (let i = this._slots.length - 1; i >= 0; i--) {
      if (gone.has(this._slots[i].slot)) {
        const [s] = this._slots.splice(i, 1);
        this._listener?.({ type: 'remove', slot: s.slot, index: i }, this._list());
      }
    }
  }

  private _trace(event: TraceEvent): void {
    let state = this._traces.get(event.streamId);
    if (!state) {
      state = { text: new TraceText(), dirty: true };
      this._traces.set(event.streamId, state);
    }
    if (state.title === undefined && event.title !== undefined) {
      state.title = event.title;
    }
    state.text.append(event.delta);
    if (event.final) {
      state.final = event.final;
    }
    state.dirty = true;
    const pending = state.text.total - (state.builtAt ?? 0);
    if (state.builtAt === undefined || event.final || pending >= Math.max(1, state.text.total * TRACE_REBUILD_FRACTION)) {
      this._buildTrace(event.streamId, state);
    }
  }

  private _buildTrace(streamId: string, state: TraceState): void {
    state.dirty = false;
    state.builtAt = state.text.total;
    const body = state.text.text();
    const payload: ReasoningTracePayload = { version: 1, streamId, title: state.title, text: body, done: state.final !== undefined };
    if (state.final) {
      payload.answer = state.final.answer;
      payload.valid = state.final.valid;
      payload.note = state.final.note;
      payload.usage = state.final.usage;
    }
    let md = state.title ? `**${state.title}**\n\n${body}` : body;
    if (state.final) {
      const verdict = state.final.valid ? 'valid' : 'invalid';
      md += `\n\n**Answer:** ${state.final.answer ?? '(none)'} (${verdict})${state.final.note ? ` ${state.final.note}` : ''}`;
    }
    const items = [text(MIME.reasoningTrace, stableStringify(payload)), text('text/markdown', md)];
    // The mode goes into the output's metadata, not its items: a replay's items equal the recording's byte for byte.
    this._set(`trace:${streamId}`, this._options.llmMode ? { items, metadata: { [TRACE_MODE_KEY]: this._options.llmMode } } : { items });
  }

  /**
   * Adds a notice as the FIRST output (e.g. "ran on stale inputs"), replacing an earlier notice of
   * the same slot. Inserting moves every output once, so it is meant for the end of a run.
   */
  notice(slot: string, markdown: string): void {
    const output: OutputModel = { items: [text('text/markdown', markdown)], metadata: { [NOTICE_METADATA_KEY]: slot } };
    const i = this._slots.findIndex((s) => s.slot === slot);
    if (i >= 0) {
      this._slots.splice(i, 1);
    }
    this._slots.unshift({ slot, output });
    this._listener?.({ type: 'add', slot, index: 0 }, this.outputs());
  }

  /** Adds (or replaces) a markdown output under a fixed slot. */
  markdown(slot: string, value: string, metadata?: Record<string, unknown>): void {
    this._set(slot, metadata ? { items: [text('text/markdown', value)], metadata } : { items: [text('text/markdown', value)] });
  }

  /** Adds the error output (VS Code's error MIME; nbformat `error` output in the file). */
  error(name: string, message: string, stack?: string): void {
    this._set('error', { items: [{ mime: ERROR_MIME, data: errorItemBytes({ name, message, stack }) }] });
  }

  /**
   * Ends the run: the progress line becomes a final status line. It is updated in place rather
   * than removed, because removing an output makes VS Code re-create every output of the cell
   * (images included), which is slow and, in VS Code 1.139, can leave outputs drawn over each other.
   */
  finish(status: 'ok' | 'failed' | 'cancelled' = 'ok'): void {
    if (status !== 'ok') {
      // Close the traces still open, so none is left (and saved) as "streaming…".
      const why = status === 'cancelled' ? 'the run was cancelled' : 'the run failed';
      for (const [streamId, state] of this._traces) {
        if (state.final === undefined) {
          state.final = { valid: false, note: `stopped: ${why} before this reply finished` };
          this._buildTrace(streamId, state);
        }
      }
    }
    if (this._progressText === undefined) {
      return;
    }
    const word = status === 'ok' ? 'Done' : status === 'cancelled' ? 'Cancelled at' : 'Stopped at';
    this._set('progress', { items: [text('text/plain', `${word} ${this._progressText}`)] });
  }
}

/** First line of an error message, for one-line notes. */
function firstLine(message: string): string {
  const line = message.split(/\r?\n/)[0] ?? '';
  return line.length > 300 ? `${line.slice(0, 297)}...` : line;
}

/**
 * The outputs a FAILED run leaves: its error (and warnings) first, then a note, then the outputs the
 * cell had before the run, so a failure never wipes earlier answers. An earlier failure's error and
 * note are dropped (the older outputs under them are kept). Previous outputs holding an error and no
 * note are an earlier failed run's own outputs: they are not kept. Without older outputs, the failed
 * run's own outputs stay as they are.
 */
export function keepPreviousOutputs(failed: readonly OutputModel[], previous: readonly OutputModel[], message: string): OutputModel[] {
  const at = previous.findIndex((o) => o.metadata?.[NOTICE_METADATA_KEY] === 'previous-run');
  const failedBefore = previous.some((o) => o.items.some((i) => i.mime === ERROR_MIME));
  const older = at >= 0 ? previous.slice(at + 1) : failedBefore ? [] : [...previous];
  if (older.length === 0) {
    return [...failed];
  }
  const own = failed.filter((o) => o.items.some((i) => i.mime === ERROR_MIME || i.mime === STDERR_MIME));
  const note: OutputModel = {
    items: [text('text/markdown', `**Previous run's outputs** (this run failed: ${firstLine(message).replace(/\*/g, '\\*')}). They stay until the cell runs successfully; later cells cannot use this cell's result until then.`)],
    metadata: { [NOTICE_METADATA_KEY]: 'previous-run' },
  };
  return [...own, note, ...older];
}

/** The text of a notice output (for tests and the CLI), or undefined when `output` is not one. */
export function noticeText(output: OutputModel, slot: string): string | undefined {
  if (output.metadata?.[NOTICE_METADATA_KEY] !== slot) {
    return undefined;
  }
  const md = output.items.find((i) => i.mime === 'text/markdown');
  return md ? dec.decode(md.data) : undefined;
}
