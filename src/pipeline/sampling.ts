import type { ClipPlan } from './domain';

/**
 * Which frames the LLM sees. Pure functions; see docs/PIPELINE.md "Clips (RVOS)".
 *
 * RVOS: the video is cut into consecutive, non-overlapping clips. Clip `t` covers frames
 * `[t*interval*framesPerClip, (t+1)*interval*framesPerClip)` and samples every `interval`-th frame
 * of that range, starting at its first frame, so it holds `framesPerClip` frames except possibly
 * the last clip (the video ends inside it). A trailing clip of a single frame is skipped. When the
 * whole video is one clip of one frame (1..interval frames), that clip is kept, so every non-empty
 * video has at least one clip.
 *
 * AVS: one clip of N frames "evenly sampled": the video is split into N equal spans and the frame
 * at the centre of each span is taken, `index_k = floor((2k + 1) * frameCount / (2N))` for
 * k = 0..N-1. With frameCount === N this is every frame (AVSBench ships exactly 5 or 10 frames);
 * with fewer frames than N every frame is taken once.
 */

/**
 * Dataset presets: sampling settings the paper uses per benchmark. RVOS `interval` counts frames of
 * the SOURCE VIDEO (10 for Ref-YouTube-VOS): on a frame folder whose names step by a stride (the
 * Ref-YouTube-VOS release keeps every 5th frame: 00000, 00005, ...) it becomes `interval / stride`
 * folder entries (see `folderStride` in media/probe.ts and {@link entryInterval}).
 */
export const PRESETS = {
  'ref-youtube-vos': { mode: 'rvos', interval: 10, framesPerClip: 5, frameFolderFps: 6 },
  'ref-davis17': { mode: 'rvos', interval: 5, framesPerClip: 5, frameFolderFps: 24 },
  mevis: { mode: 'rvos', interval: 5, framesPerClip: 5, frameFolderFps: 24 },
  'avsbench-s4': { mode: 'avs', avsFrames: 5, frameFolderFps: 1 },
  'avsbench-ms3': { mode: 'avs', avsFrames: 5, frameFolderFps: 1 },
  avss: { mode: 'avs', avsFrames: 10, frameFolderFps: 1 },
  'avss-v2-binary': { mode: 'avs', avsFrames: 10, frameFolderFps: 1 },
} as const satisfies Record<string, PresetDef>;

/**
 * Audio taggers of the AVS presets, as the reference code runs them: the union of the top-5 of BEATs
 * iter3+ AS20K cpt2 and AS2M cpt2 for MS3, AVSS and V2-Binary; AS2M cpt2 alone for S4. An `lbru` cell
 * with `tagger` or `taggers` overrides them.
 */
export const PRESET_TAGGERS: Readonly<Record<string, readonly string[]>> = {
  'avsbench-s4': ['beats-iter3-as2m-cpt2'],
  'avsbench-ms3': ['beats-iter3-as20k-cpt2', 'beats-iter3-as2m-cpt2'],
  avss: ['beats-iter3-as20k-cpt2', 'beats-iter3-as2m-cpt2'],
  'avss-v2-binary': ['beats-iter3-as20k-cpt2', 'beats-iter3-as2m-cpt2'],
};

export interface PresetDef {
  mode: 'rvos' | 'avs';
  interval?: number;
  framesPerClip?: number;
  avsFrames?: number;
  /** Frame rate assumed for a folder of frames (timestamps only). */
  frameFolderFps: number;
}

export type PresetName = keyof typeof PRESETS;

/** Defaults when a cell names no preset. */
export const DEFAULT_INTERVAL = 5;
export const DEFAULT_FRAMES_PER_CLIP = 5;
export const DEFAULT_AVS_FRAMES = 5;
/** Tiles per row in every grid (AVS with 10 frames gives two rows of 5). */
export const GRID_COLUMNS = 5;

function assertCount(name: string, value: number, min: number): void {
  if (!Number.isInteger(value) || value < min) {
    throw new RangeError(`${name} must be an integer >= ${min}, got ${value}`);
  }
}

/**
 * RVOS clip plan.
 *
 * @example
 * planRvosClips(23, 2, 5) // [{0,[0,2,4,6,8]}, {1,[10,12,14,16,18]}, {2,[20,22]}]
 * planRvosClips(21, 2, 5) // the trailing clip [20] is a single frame: skipped
 */
export function planRvosClips(frameCount: number, interval: number, framesPerClip: number): ClipPlan[] {
  assertCount('frameCount', frameCount, 0);
  assertCount('interval', interval, 1);
  assertCount('framesPerClip', framesPerClip, 1);
  const span = interval * framesPerClip;
  const clips: ClipPlan[] = [];
  for (let start = 0, t = 0; start < frameCount; start += span, t++) {
    const frameIndices: number[] = [];
    for (let k = 0; k < framesPerClip; k++) {
      const f = start + k * interval;
      if (f >= frameCount) {
        break;
      }
      frameIndices.push(f);
    }
    if (frameIndices.length === 1 && framesPerClip > 1 && t > 0) {
      continue;
    }
    clips.push({ clipIndex: clips.length, frameIndices });
  }
  return clips;
}

/**
 * AVS plan: one clip of `count` evenly sampled frames (centre of each of `count` equal spans).
 * Returns no clip for an empty video.
 */
export function planAvsFrames(frameCount: number, count: number): ClipPlan[] {
  assertCount('frameCount', frameCount, 0);
  assertCount('count', count, 1);
  if (frameCount === 0) {
    return [];
  }
  const n = Math.min(count, frameCount);
  const frameIndices: number[] = [];
  for (let k = 0; k < n; k++) {
    frameIndices.push(Math.floor(((2 * k + 1) * frameCount) / (2 * n)));
  }
  return [{ clipIndex: 0, frameIndices }];
}

/** `count` frame indices spread from the first to the last frame (filmstrips). */
export function spreadIndices(frameCount: number, count: number): number[] {
  assertCount('frameCount', frameCount, 0);
  assertCount('count', count, 0);
  const n = Math.min(count, frameCount);
  if (n === 0) {
    return [];
  }
  if (n === 1) {
    return [0];
  }
  const out: number[] = [];
  for (let k = 0; k < n; k++) {
    out.push(Math.round((k * (frameCount - 1)) / (n - 1)));
  }
  return out;
}

/** Grid shape for `tiles` tiles: at most {@link GRID_COLUMNS} per row. */
export function gridShape(tiles: number, columns = GRID_COLUMNS): { columns: number; rows: number } {
  assertCount('tiles', tiles, 1);
  const c = Math.min(tiles, columns);
  return { columns: c, rows: Math.ceil(tiles / c) };
}

/** How a video cell's `interval` is counted: in source-video frames (paper, default) or in decoded entries. */
export type IntervalUnit = 'video-frames' | 'entries';

/**
 * The step between sampled decoded frames (folder entries, or frames of a video file) for an
 * `interval`: with unit `video-frames` (paper, default) an interval of 10 on a folder of stride 5 is
 * every 2nd entry (rounded, at least 1); with unit `entries` the interval is used as it is.
 *
 * @example
 * entryInterval(10, 5) // 2   (Ref-YouTube-VOS: 10 video frames = 2 folder entries)
 * entryInterval(10, 5, 'entries') // 10
 */
export function entryInterval(interval: number, stride: number, unit: IntervalUnit = 'video-frames'): number {
  assertCount('interval', interval, 1);
  assertCount('stride', stride, 1);
  return unit === 'entries' ? interval : Math.max(1, Math.round(interval / stride));
}
