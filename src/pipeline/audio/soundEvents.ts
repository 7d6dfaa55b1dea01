import type { RleMask } from '../domain';
import { emptyRle as emptyMask } from '../masks/rle';

/**
 * Sound-event segmentation and silent-frame filtering for AVS.
 *
 * Window features are the tagger's per-window class probabilities (one window per `windowSec`,
 * default 1 s): two neighbouring windows belong to one segment while the cosine similarity of their
 * probability vectors is at least the threshold (0.5 by default, as in the reference code; docs/PIPELINE.md "Stages (one cell kind each)"). A
 * category is active in a segment when the mean over the segment's windows of its score (the largest
 * probability among the labels linked to it) reaches `activityThreshold`, and the segment is not
 * silent. Every sound segment keeps at least one category active (docs/PIPELINE.md "Corrections: rules of the reference code that are easy to miss": the
 * reference code keeps the best-matching labels of each segment): when none reaches the threshold, the
 * category with the highest mean score in that segment stays active over it (digitally silent
 * segments and windows, below -80 dBFS, stay inactive: they hold no sound to match). Masks of a category
 * are removed on frames whose window is inactive for it. There is no filtering at all for a single
 * target or a single-source video (S4); see {@link silenceFilterApplies}.
 */

/** Options of {@link analyseSoundEvents}. */
export interface SoundEventOptions {
  /** Window length in seconds. Default 1. */
  windowSec?: number;
  /** Neighbouring windows with cosine similarity below this start a new segment. Default 0.5. */
  similarityThreshold?: number;
  /** A category is active in a segment when its mean score reaches this. Default 0.1. */
  activityThreshold?: number;
  /** Windows whose RMS level is below this (linear) are silent for every category. Default 1e-4 (-80 dBFS). */
  silentRms?: number;
}

/** One segment, in windows [startWindow, endWindow) and seconds. */
export interface SoundSegment {
  startWindow: number;
  endWindow: number;
  startSec: number;
  endSec: number;
  silent: boolean;
}

/** Activity of one category per window. */
export interface CategoryActivity {
  category: string;
  /** AudioSet class indices whose probabilities make the category's score. */
  labelIndices: number[];
  /** Score per window (max over the linked labels). */
  score: number[];
  /** Active per window (from its segment). */
  active: boolean[];
}

/** Result of {@link analyseSoundEvents}; plain JSON, kept in the lbru result. */
export interface AudioActivity {
  windowSec: number;
  durationSec: number;
  similarityThreshold: number;
  activityThreshold: number;
  /** Cosine similarity of window w with window w-1 (index 0 is 1). */
  similarity: number[];
  /** RMS level per window (linear). */
  rms: number[];
  segments: SoundSegment[];
  categories: CategoryActivity[];
}

/** Cosine similarity of two vectors; 1 when both are zero, 0 when one is. */
export function cosineSimilarity(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    dot += a[i] * b[i];
    na += a[i] * a[i];
    nb += b[i] * b[i];
  }
  if (na === 0 && nb === 0) {
    return 1;
  }
  if (na === 0 || nb === 0) {
    return 0;
  }
  return dot / Math.sqrt(na * nb);
}

/**
 * Splits windows into segments: a new segment starts where the similarity to the previous window
 * drops below `threshold`. Returns [start, end) window ranges covering every window.
 */
export function segmentWindows(features: ArrayLike<number>[], threshold: number): Array<[number, number]> {
  if (features.length === 0) {
    return [];
  }
  const out: Array<[number, number]> = [];
  let start = 0;
  for (let w = 1; w < features.length; w++) {
    if (cosineSimilarity(features[w - 1], features[w]) < threshold) {
      out.push([start, w]);
      start = w;
    }
  }
  out.push([start, features.length]);
  return out;
}

/** RMS level of each `windowSec` window of `samples`. */
export function windowRms(samples: Float32Array, sampleRate: number, windowSec: number): number[] {
  const n = Math.max(1, Math.round(windowSec * sampleRate));
  const count = Math.max(1, Math.ceil(samples.length / n - 1e-9));
  const out: number[] = [];
  for (let w = 0; w < count; w++) {
    const s = samples.subarray(w * n, Math.min(samples.length, (w + 1) * n));
    let sq = 0;
    for (const v of s) {
      sq += v * v;
    }
    out.push(s.length > 0 ? Math.sqrt(sq / s.length) : 0);
  }
  return out;
}

/**
 * Segments the clip and decides, per category and window, whether the category sounds.
 *
 * @param windowScores tagger probabilities per window (all classes)
 * @param rms RMS level per window (same count)
 * @param categories each category with the class indices linked to it
 */
export function analyseSoundEvents(
  windowScores: ArrayLike<number>[],
  rms: number[],
  categories: Array<{ category: string; labelIndices: number[] }>,
  durationSec: number,
  options: SoundEventOptions = {},
): AudioActivity {
  const windowSec = options.windowSec ?? 1;
  const similarityThreshold = options.similarityThreshold ?? 0.5;
  const activityThreshold = options.activityThreshold ?? 0.1;
  const silentRms = options.silentRms ?? 1e-4;
  const n = windowScores.length;
  const similarity = windowScores.map((s, w) => (w === 0 ? 1 : cosineSimilarity(windowScores[w - 1], s)));
  const silentWindow = Array.from({ length: n }, (_, w) => (rms[w] ?? 0) < silentRms);
  const segments: SoundSegment[] = segmentWindows(windowScores, similarityThreshold).map(([a, b]) => ({
    startWindow: a,
    endWindow: b,
    startSec: a * windowSec,
    endSec: Math.min(durationSec, b * windowSec),
    silent: silentWindow.slice(a, b).every(Boolean),
  }));
  const cats: CategoryActivity[] = categories.map(({ category, labelIndices }) => {
    const score = windowScores.map((s) => labelIndices.reduce((m, i) => Math.max(m, s[i] ?? 0), 0));
    const active = new Array<boolean>(n).fill(false);
    for (const seg of segments) {
      let sum = 0;
      for (let w = seg.startWindow; w < seg.endWindow; w++) {
        sum += score[w];
      }
      const mean = sum / (seg.endWindow - seg.startWindow);
      const on = !seg.silent && mean >= activityThreshold;
      for (let w = seg.startWindow; w < seg.endWindow; w++) {
        active[w] = on && !silentWindow[w];
      }
    }
    return { category, labelIndices, score, active };
  });
  // every sound segment keeps at least its best-matching category (highest mean score; first on a
  // tie); a segment of digital silence (every window below silentRms) is no sound segment
  for (const seg of segments) {
    if (seg.silent || cats.length === 0 || cats.some((c) => c.active.slice(seg.startWindow, seg.endWindow).some(Boolean))) {
      continue;
    }
    let best = 0;
    let bestMean = -Infinity;
    cats.forEach((c, k) => {
      const mean = c.score.slice(seg.startWindow, seg.endWindow).reduce((s, v) => s + v, 0) / (seg.endWindow - seg.startWindow);
      if (mean > bestMean) {
        best = k;
        bestMean = mean;
      }
    });
    for (let w = seg.startWindow; w < seg.endWindow; w++) {
      cats[best].active[w] = !silentWindow[w];
    }
  }
  return { windowSec, durationSec, similarityThreshold, activityThreshold, similarity, rms: rms.slice(0, n), segments, categories: cats };
}

/** The window a video frame falls in (frames past the last window use the last one). */
export function windowOfFrame(frameIndex: number, fps: number, windowSec: number, windows: number): number {
  const t = frameIndex / fps;
  return Math.max(0, Math.min(windows - 1, Math.floor(t / windowSec + 1e-9)));
}

/** An all-background COCO RLE mask of `size` [height, width] (string counts, as masks/rle.ts writes). */
export function emptyRle(size: [number, number]): RleMask {
  return emptyMask(size[1], size[0]);
}

/**
 * Removes masks on frames where the category is silent: returns a copy of `masks` (one per frame,
 * null where there is none) with silent frames replaced by `clear(mask)` (default: an empty RLE of
 * the same size), and the indices of the frames cleared. Pure; the input is not changed.
 *
 * @param activity per-window activity of the category, e.g. `AudioActivity.categories[k]`
 */
export function filterSilentFrames<M extends { size: [number, number] }>(
  masks: Array<M | null>,
  fps: number,
  activity: { active: boolean[] },
  windowSec: number,
  clear: (mask: M) => M = (m) => emptyRle(m.size) as unknown as M,
): { masks: Array<M | null>; cleared: number[] } {
  const cleared: number[] = [];
  const windows = activity.active.length;
  const out = masks.map((m, f) => {
    if (m === null || windows === 0) {
      return m;
    }
    if (!activity.active[windowOfFrame(f, fps, windowSec, windows)]) {
      cleared.push(f);
      return clear(m);
    }
    return m;
  });
  return { masks: out, cleared };
}

/**
 * {@link filterSilentFrames} for every object of a MaskData-like result: objects are matched to
 * categories by `category`; an object whose category has no activity entry is left as it is.
 */
export function filterSilentObjects<M extends { size: [number, number] }>(
  objects: Array<{ objectId: number; category?: string; masks: Array<M | null> }>,
  activity: Pick<AudioActivity, 'categories' | 'windowSec'>,
  fps: number,
): Array<{ objectId: number; category?: string; masks: Array<M | null>; cleared: number[] }> {
  return objects.map((o) => {
    const a = o.category === undefined ? undefined : activity.categories.find((c) => c.category === o.category);
    if (!a) {
      return { ...o, cleared: [] };
    }
    const r = filterSilentFrames(o.masks, fps, a, activity.windowSec);
    return { ...o, masks: r.masks, cleared: r.cleared };
  });
}

/**
 * Whether silent-frame filtering runs (docs/PIPELINE.md "Corrections: rules of the reference code that are easy to miss"): never for a single-source video
 * (AVSBench S4) nor when there is at most one target; `setting` true or false (a cell's
 * `silenceFilter`) decides on its own. Returns the reason when it does not run.
 *
 * @example
 * silenceFilterApplies(undefined, 1, null) // { apply: false, reason: 'a single target' }
 */
export function silenceFilterApplies(setting: boolean | undefined, targets: number, preset: string | null | undefined): { apply: boolean; reason?: string } {
  if (setting !== undefined) {
    return setting ? { apply: true } : { apply: false, reason: 'silenceFilter: false' };
  }
  if (preset === 'avsbench-s4') {
    return { apply: false, reason: 'single-source preset avsbench-s4' };
  }
  if (targets <= 1) {
    return { apply: false, reason: 'a single target' };
  }
  return { apply: true };
}
