import { MIME } from '../../common/mime';
import type { FrameGridPayload, PivotViewPayload, PivotViewRow } from '../../common/payloads';
import type { BoxPivot, ClipPivot, PivotBoxData, PivotFrameData, VideoData } from '../domain';
import { framePath } from '../domain';
import { boxColour } from '../draw/boxes';
import type { StageEvent, TableEvent, TraceEvent } from '../events';
import { TraceText } from '../llm/traceText';
import { runFolderRef } from '../run/runFolder';
import type { StageContext } from '../types';

/*
 * The compact view of a pivot cell (renderer `alref.pivot-view`, markdown table fallback): one row
 * per object x clip with its grid or pivot frame, choice, validity, tokens, override mark, the trace
 * and what changed since the cell's previous run.
 */

/** The reply text (bounded as a trace output is: {@link TraceText}) and final event of one stream. */
interface TraceRecord {
  text: TraceText;
  final?: TraceEvent['final'];
}

/** Collects the trace events a stage yields, by stream id, while passing every event on. */
export class TraceLog {
  private readonly _streams = new Map<string, TraceRecord>();

  /** Passes `events` through, keeping what their trace events say. */
  async *watch<R>(events: AsyncGenerator<StageEvent, R, void>): AsyncGenerator<StageEvent, R, void> {
    let step = await events.next();
    while (!step.done) {
      const e = step.value;
      if (e.type === 'trace') {
        let rec = this._streams.get(e.streamId);
        if (!rec) {
          rec = { text: new TraceText() };
          this._streams.set(e.streamId, rec);
        }
        rec.text.append(e.delta);
        if (e.final) {
          rec.final = e.final;
        }
      }
      yield e;
      step = await events.next();
    }
    return step.value;
  }

  /** The row fields a stream gives: trace text (its first three quarters and last quarter when long), answer and tokens. */
  fields(streamId: string): Pick<PivotViewRow, 'trace' | 'answer' | 'tokens'> {
    const rec = this._streams.get(streamId);
    if (!rec) {
      return {};
    }
    const usage = rec.final?.usage;
    const text = rec.text.text();
    return {
      ...(text !== '' ? { trace: text } : {}),
      ...(rec.final?.answer ? { answer: rec.final.answer } : {}),
      ...(usage ? { tokens: { prompt: usage.promptTokens, completion: usage.completionTokens } } : {}),
    };
  }
}

/**
 * Passes a pivot-frame object's events on, naming the cell and object in its clip grids' payloads,
 * so that the frame-grid renderer can offer to make a tile the clip's pivot.
 */
export async function* offerOverrides<R>(events: AsyncGenerator<StageEvent, R, void>, cellId: string, objectId: number): AsyncGenerator<StageEvent, R, void> {
  let step = await events.next();
  while (!step.done) {
    const e = step.value;
    if (e.type === 'image' && e.renderer?.mime === MIME.frameGrid && (e.renderer.payload as FrameGridPayload).kind !== 'filmstrip') {
      yield { ...e, renderer: { ...e.renderer, payload: { ...(e.renderer.payload as FrameGridPayload), pivot: { cellId, objectId } } } };
    } else {
      yield e;
    }
    step = await events.next();
  }
  return step.value;
}

const key = (objectId: number, clipIndex: number): string => `${objectId}:${clipIndex}`;

/** `[3]` (the frame's id in its clip's grid), or `frame 37` when it is not one of the clip's frames. */
function frameLabel(video: VideoData, clipIndex: number, frameIndex: number | null): string {
  if (frameIndex === null) {
    return 'invalid';
  }
  const k = video.clips.find((c) => c.clipIndex === clipIndex)?.frameIndices.indexOf(frameIndex) ?? -1;
  return k >= 0 ? `[${k + 1}]` : `frame ${frameIndex}`;
}

/**
 * What changed per object and clip between two pivot-frame results: `[2] -> [3]` (frame ids in the
 * clip's grid), `now invalid`, `now valid [3]`, `new`, `gone`; with `(overridden)` when the new pivot
 * was chosen by hand. Keys `objectId:clipIndex`. Pure.
 */
export function frameChanges(prev: PivotFrameData, next: PivotFrameData, video: VideoData): Map<string, string> {
  const out = new Map<string, string>();
  const before = new Map<string, ClipPivot>();
  prev.objects.forEach((o) => o.clips.forEach((c) => before.set(key(o.objectId, c.clipIndex), c)));
  const seen = new Set<string>();
  for (const o of next.objects) {
    for (const c of o.clips) {
      const k = key(o.objectId, c.clipIndex);
      seen.add(k);
      const p = before.get(k);
      const mark = c.overridden && !p?.overridden ? ' (overridden)' : '';
      if (!p) {
        out.set(k, `new ${frameLabel(video, c.clipIndex, c.valid ? c.frameIndex : null)}${mark}`);
      } else if (p.valid && !c.valid) {
        out.set(k, `now invalid (was ${frameLabel(video, c.clipIndex, p.frameIndex)})`);
      } else if (!p.valid && c.valid) {
        out.set(k, `now valid ${frameLabel(video, c.clipIndex, c.frameIndex)}${mark}`);
      } else if (c.valid && p.frameIndex !== c.frameIndex) {
        out.set(k, `${frameLabel(video, c.clipIndex, p.frameIndex)} -> ${frameLabel(video, c.clipIndex, c.frameIndex)}${mark}`);
      } else if (mark) {
        out.set(k, `same frame${mark}`);
      }
    }
  }
  for (const k of before.keys()) {
    if (!seen.has(k)) {
      out.set(k, 'gone');
    }
  }
  return out;
}

function chosenBox(p: BoxPivot): BoxPivot['candidates'][number]['box'] | undefined {
  return p.chosen !== null ? p.candidates[p.chosen]?.box : undefined;
}

/**
 * What changed per object and clip between two pivot-box results: `box 1 -> box 3`, `box moved by
 * 12 px` (the largest corner move), `frame 10 -> 15`, `now invalid`, `now valid (box 2)`, `new`,
 * `gone`; with `(overridden)` when the new box was chosen by hand. Pure.
 */
export function boxChanges(prev: PivotBoxData, next: PivotBoxData): Map<string, string> {
  const out = new Map<string, string>();
  const before = new Map<string, BoxPivot>();
  prev.objects.forEach((o) => o.pivots.forEach((p) => before.set(key(o.objectId, p.clipIndex), p)));
  const seen = new Set<string>();
  for (const o of next.objects) {
    for (const c of o.pivots) {
      const k = key(o.objectId, c.clipIndex);
      seen.add(k);
      const p = before.get(k);
      const mark = c.overridden && !p?.overridden ? ' (overridden)' : '';
      const parts: string[] = [];
      if (!p) {
        parts.push(c.valid && c.chosen !== null ? `new (box ${c.chosen + 1})` : 'new (invalid)');
      } else if (p.valid && !c.valid) {
        parts.push('now invalid');
      } else if (!p.valid && c.valid) {
        parts.push(`now valid (box ${(c.chosen ?? 0) + 1})`);
      } else if (c.valid) {
        if (p.frameIndex !== c.frameIndex) {
          parts.push(`frame ${p.frameIndex} -> ${c.frameIndex}`);
        }
        if (p.chosen !== c.chosen) {
          parts.push(`box ${(p.chosen ?? -1) + 1} -> box ${(c.chosen ?? -1) + 1}`);
        }
        const a = chosenBox(p);
        const b = chosenBox(c);
        if (a && b) {
          const moved = Math.round(Math.max(Math.abs(a.x0 - b.x0), Math.abs(a.y0 - b.y0), Math.abs(a.x1 - b.x1), Math.abs(a.y1 - b.y1)));
          if (moved > 0) {
            parts.push(`box moved by ${moved} px`);
          }
        }
      }
      if (parts.length === 0 && mark) {
        parts.push('same box');
      }
      if (parts.length > 0) {
        out.set(k, parts.join(', ') + mark);
      }
    }
  }
  for (const k of before.keys()) {
    if (!seen.has(k)) {
      out.set(k, 'gone');
    }
  }
  return out;
}

/** The change list shown above the view: `clip 4: [2] -> [3]` lines (object named when there are several), or `no change`. */
export function changeList(changes: ReadonlyMap<string, string>, objectCount: number): string[] {
  if (changes.size === 0) {
    return ['no change'];
  }
  return [...changes.entries()]
    .map(([k, v]) => {
      const [objectId, clipIndex] = k.split(':').map(Number);
      return { objectId, clipIndex, line: `${objectCount > 1 ? `object ${objectId}, ` : ''}clip ${clipIndex + 1}: ${v}` };
    })
    .sort((a, b) => a.objectId - b.objectId || a.clipIndex - b.clipIndex)
    .map((e) => e.line);
}

/** A saved pivot view of `stage`, or undefined. */
function savedView(payload: unknown, stage: string): PivotViewPayload | undefined {
  const p = payload as Partial<PivotViewPayload> | undefined;
  return p && p.version === 1 && p.stage === stage && Array.isArray(p.rows) ? (p as PivotViewPayload) : undefined;
}

/** Rows grouped by object id, in order. */
function byObject(rows: readonly PivotViewRow[]): Map<number, PivotViewRow[]> {
  const out = new Map<number, PivotViewRow[]>();
  rows.forEach((r) => out.set(r.objectId, [...(out.get(r.objectId) ?? []), r]));
  return out;
}

/** The pivot-frame choices a saved pivot view shows (what a change list compares). */
export function frameDataFromView(payload: unknown): PivotFrameData | undefined {
  const view = savedView(payload, 'pivot-frame');
  if (!view) {
    return undefined;
  }
  const objects = [...byObject(view.rows)].map(([objectId, rows]) => ({
    objectId, text: '',
    clips: rows.map((r): ClipPivot => ({ clipIndex: r.clip - 1, frameIndex: r.frameIndex, valid: r.valid, ...(r.overridden ? { overridden: true } : {}) })),
  }));
  return { objects };
}

/** The pivot-box choices a saved pivot view shows. */
export function boxDataFromView(payload: unknown): PivotBoxData | undefined {
  const view = savedView(payload, 'pivot-box');
  if (!view) {
    return undefined;
  }
  const objects = [...byObject(view.rows)].map(([objectId, rows]) => ({
    objectId, text: '',
    pivots: rows.map((r): BoxPivot => ({
      clipIndex: r.clip - 1,
      frameIndex: r.frameIndex ?? 0,
      candidates: (r.candidates ?? []).map((c) => ({ box: c.box, score: c.score, source: c.source === 'grounding-dino' ? 'grounding-dino' as const : 'typed' as const })),
      chosen: r.chosen ? r.chosen - 1 : null,
      valid: r.valid,
      ...(r.overridden ? { overridden: true } : {}),
    })),
  }));
  return { objects };
}

/**
 * The cell's previous result to compare a run with: the session's (the cell ran before in this
 * session), else what the pivot view saved in the cell's outputs shows (a reopened notebook).
 */
export function previousOf<D>(ctx: StageContext, cellId: string, stage: 'pivot-frame' | 'pivot-box'): D | undefined {
  const previous = ctx.session.get(cellId);
  if (previous && previous.kind === stage) {
    return previous.data as D;
  }
  const saved = ctx.previousPayload?.(MIME.pivotView);
  return (stage === 'pivot-frame' ? frameDataFromView(saved) : boxDataFromView(saved)) as D | undefined;
}

/** What a view event needs besides the rows. */
interface ViewContext {
  stage: 'pivot-frame' | 'pivot-box';
  cellId: string;
  changes?: Map<string, string>;
  objectCount: number;
  /** Output ids of the per-clip outputs the view replaces in the compact view (the default). */
  supersedes?: TableEvent['supersedes'];
}

/** The view as a table event: the pivot-view payload for the renderer, and a markdown table as the fallback. */
function viewEvent(rows: PivotViewRow[], vc: ViewContext): TableEvent {
  const changes = vc.changes ? changeList(vc.changes, vc.objectCount) : undefined;
  const payload: PivotViewPayload = { version: 1, stage: vc.stage, cellId: vc.cellId, rows, ...(changes ? { changes } : {}) };
  const box = vc.stage === 'pivot-box';
  const title = `${box ? 'Pivot boxes' : 'Pivot frames'} at a glance${changes ? ` · since the previous run: ${changes.join('; ')}` : ''}`;
  return {
    type: 'table',
    title,
    columns: ['object', 'clip', box ? 'frame' : 'pivot frame', ...(box ? ['box'] : []), 'valid', 'tokens', 'overridden', 'change'],
    rows: rows.map((r) => [
      r.objectId,
      r.clip,
      r.frameIndex,
      ...(box ? [r.chosen ? `box ${r.chosen}` : ''] : []),
      r.valid ? 'yes' : 'NO',
      r.tokens ? r.tokens.prompt + r.tokens.completion : null,
      r.overridden ? 'yes' : '',
      r.change ?? '',
    ]),
    renderer: { mime: MIME.pivotView, payload },
    ...(vc.supersedes ? { supersedes: vc.supersedes } : {}),
  };
}

/** The view of a pivot-frame run. */
export function pivotFrameView(data: PivotFrameData, video: VideoData, opts: { cellId: string; runDir: string; traces: TraceLog; previous?: PivotFrameData; compact: boolean }): TableEvent {
  const changes = opts.previous ? frameChanges(opts.previous, data, video) : undefined;
  const streams: string[] = [];
  const rows = data.objects.flatMap((o) =>
    o.clips.map((c): PivotViewRow => {
      const clip = video.clips.find((k) => k.clipIndex === c.clipIndex);
      const grid = video.grids.find((g) => g.clipIndex === c.clipIndex);
      const ref = grid ? runFolderRef(opts.runDir, grid.path) : undefined;
      const streamId = `${opts.cellId}:pivot-frame:o${o.objectId}:c${c.clipIndex}`;
      streams.push(streamId);
      return {
        objectId: o.objectId,
        clip: c.clipIndex + 1,
        frames: clip?.frameIndices ?? [],
        frameIndex: c.frameIndex,
        valid: c.valid,
        ...(c.overridden ? { overridden: true } : {}),
        ...(c.note ? { note: c.note } : {}),
        ...opts.traces.fields(streamId),
        ...(changes?.has(key(o.objectId, c.clipIndex)) ? { change: changes.get(key(o.objectId, c.clipIndex)) } : {}),
        ...(grid && ref ? { grid: { ref, mime: 'image/jpeg', width: grid.width, height: grid.height, tiles: grid.tiles.map((t) => ({ frameIndex: t.frameIndex, frameId: t.frameId, timeSec: t.timeSec, x: t.x, y: t.y, width: t.width, height: t.height })) } } : {}),
      };
    }),
  );
  const supersedes = opts.compact ? { traces: streams, images: streams.map((s) => `${s}:image`), markdown: data.objects.flatMap((o) => o.clips.map((c) => `clip:${o.objectId}:${c.clipIndex}`)) } : undefined;
  return viewEvent(rows, { stage: 'pivot-frame', cellId: opts.cellId, changes, objectCount: data.objects.length, supersedes });
}

/** The view of a pivot-box run. */
export function pivotBoxView(data: PivotBoxData, video: VideoData, opts: { cellId: string; runDir: string; traces: TraceLog; previous?: PivotBoxData; compact: boolean }): TableEvent {
  const changes = opts.previous ? boxChanges(opts.previous, data) : undefined;
  const streams: string[] = [];
  const rows = data.objects.flatMap((o) =>
    o.pivots.map((p): PivotViewRow => {
      const clip = video.clips.find((k) => k.clipIndex === p.clipIndex);
      const ref = runFolderRef(opts.runDir, framePath(video.framesDir, p.frameIndex));
      const streamId = `${opts.cellId}:pivot-box:o${o.objectId}:c${p.clipIndex}`;
      streams.push(streamId);
      return {
        objectId: o.objectId,
        clip: p.clipIndex + 1,
        frames: clip?.frameIndices ?? [],
        frameIndex: p.frameIndex,
        valid: p.valid,
        ...(p.overridden ? { overridden: true } : {}),
        ...(p.note ? { note: p.note } : {}),
        ...opts.traces.fields(streamId),
        ...(changes?.has(key(o.objectId, p.clipIndex)) ? { change: changes.get(key(o.objectId, p.clipIndex)) } : {}),
        ...(ref ? { frame: { ref, mime: 'image/jpeg', width: video.info.width, height: video.info.height } } : {}),
        candidates: p.candidates.map((c, i) => ({ number: i + 1, box: c.box, score: c.score, source: c.source, colour: boxColour(i + 1).hex })),
        chosen: p.chosen === null ? null : p.chosen + 1,
      };
    }),
  );
  const supersedes = opts.compact
    ? { traces: streams, images: streams.flatMap((s) => [`${s}:image`, `${s}:sent`]), markdown: data.objects.flatMap((o) => o.pivots.map((p) => `clip:${o.objectId}:${p.clipIndex}`)) }
    : undefined;
  return viewEvent(rows, { stage: 'pivot-box', cellId: opts.cellId, changes, objectCount: data.objects.length, supersedes });
}
