/**
 * The frame-outer order of a multi-object SAM 2 run (the shape of the official SAM2VideoPredictor:
 * frames outside, objects inside) and the store that keeps a frame's encoder features only while a
 * later step still needs them. Pure; the host loop is in video.ts.
 */

/** One object as the schedule sees it. */
export interface ScheduledObject {
  /** Its prompted (conditioning) frames. */
  promptFrames: readonly number[];
  /** Its start frame: forward from here to the end, then backward from here to frame 0. */
  start: number;
}

/**
 * What an object does at a visited frame: `prompt` decodes its box (before any tracking, no memory),
 * `replay` hands back that stored result where the object's pass reaches the prompted frame, `track`
 * runs memory attention (in `reverse` on the backward pass).
 */
export interface ScheduledStep {
  object: number;
  kind: 'prompt' | 'replay' | 'track';
  reverse: boolean;
}

export interface FrameVisit {
  frame: number;
  steps: ScheduledStep[];
  /** Whether a step reads the frame's encoder features (`replay` alone does not). */
  needsFeatures: boolean;
}

/**
 * The visits of a run, in order: (1) every prompted frame of every object, ascending, each object
 * decoding its own box there; (2) forward from the earliest start to the last frame, each object from
 * its own start on; (3) backward from the latest start to frame 0, each object from its start (from
 * the frame before it when the start is prompted, as the official `propagate_in_video(reverse=True)`
 * does) down to 0, and only when its start is not frame 0. Within a visit, objects keep their order.
 * Each object's own steps thus come in the order of tracking it alone: prompts, forward, backward.
 *
 * @example
 * frameSchedule([{ promptFrames: [1], start: 1 }, { promptFrames: [2], start: 2 }], 4).map((v) => v.frame);
 * // [1, 2,  1, 2, 3,  1, 0]: prompts; forward 1..3; backward (object 1 from 0, object 2 from 1)
 */
export function frameSchedule(objects: readonly ScheduledObject[], numFrames: number): FrameVisit[] {
  const visits: FrameVisit[] = [];
  const push = (frame: number, steps: ScheduledStep[]) => {
    if (steps.length > 0) {
      visits.push({ frame, steps, needsFeatures: steps.some((s) => s.kind !== 'replay') });
    }
  };
  const prompted = objects.map((o) => new Set(o.promptFrames));
  const allPrompted = [...new Set(objects.flatMap((o) => o.promptFrames))].sort((a, b) => a - b);
  for (const f of allPrompted) {
    push(f, objects.flatMap((_, k) => (prompted[k].has(f) ? [{ object: k, kind: 'prompt' as const, reverse: false }] : [])));
  }
  if (objects.length === 0) {
    return visits;
  }
  const step = (k: number, f: number, reverse: boolean): ScheduledStep => ({ object: k, kind: prompted[k].has(f) ? 'replay' : 'track', reverse });
  const firstStart = Math.min(...objects.map((o) => o.start));
  for (let f = firstStart; f < numFrames; f++) {
    push(f, objects.flatMap((o, k) => (o.start <= f ? [step(k, f, false)] : [])));
  }
  // the frame each object's backward pass begins at (-1: none)
  const backFrom = objects.map((o, k) => (o.start === 0 ? -1 : prompted[k].has(o.start) ? o.start - 1 : o.start));
  for (let f = Math.max(...backFrom); f >= 0; f--) {
    push(f, objects.flatMap((_, k) => (backFrom[k] >= f ? [step(k, f, true)] : [])));
  }
  return visits;
}

/**
 * Holds each frame's encoder features from the visit that computes them to the last visit that reads
 * them, so that a frame is encoded once. At most `maxHeld` frames are kept between visits; a frame
 * that does not fit is dropped and computed again when next needed (identical features, more time).
 */
export class FeatureStore<F> {
  private readonly _uses = new Map<number, number[]>();
  private readonly _held = new Map<number, F>();
  private _peak = 0;
  private _computed = 0;

  constructor(private readonly _visits: readonly FrameVisit[], private readonly _maxHeld: number) {
    _visits.forEach((v, k) => {
      if (v.needsFeatures) {
        const list = this._uses.get(v.frame) ?? [];
        list.push(k);
        this._uses.set(v.frame, list);
      }
    });
  }

  /** The features of visit `v`'s frame: held ones, else `compute()` (kept until {@link done}). */
  async get(v: number, compute: () => Promise<F>): Promise<F> {
    const frame = this._visits[v].frame;
    let f = this._held.get(frame);
    if (f === undefined) {
      f = await compute();
      this._computed++;
      this._held.set(frame, f);
      this._peak = Math.max(this._peak, this._held.size);
    }
    return f;
  }

  /** Visit `v` is over: its frame's features stay only if a later visit reads them and there is room. */
  done(v: number): void {
    const frame = this._visits[v].frame;
    const later = (this._uses.get(frame) ?? []).some((k) => k > v);
    if (this._held.has(frame) && (!later || this._held.size > this._maxHeld)) {
      this._held.delete(frame);
    }
  }

  /** Whether the features of `frame` are held now (after {@link done}: a later visit reads them). */
  has(frame: number): boolean {
    return this._held.has(frame);
  }

  /** Frames held now. */
  get size(): number {
    return this._held.size;
  }

  /** Most frames held at once, the one being visited included. */
  get peak(): number {
    return this._peak;
  }

  /** How many times features were computed (the vision encoder runs of the run). */
  get computed(): number {
    return this._computed;
  }
}
