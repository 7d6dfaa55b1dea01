import type { Box, BoxPivot, Candidate, ClipPivot, VideoData } from '../domain';
import { PipelineError } from '../errors';

/*
 * Hand-chosen pivots (`overrides:` of a pivot-frame or pivot-box cell). A clip named by an override
 * skips its LLM call; its pivot is valid and marked `overridden`. Clips are numbered from 1 as in
 * every caption; `object` is the object id, and an override without it applies to every object. A
 * later override for the same clip and object wins over an earlier one.
 */

/** A pivot-frame override, checked: 0-based clip index and the chosen video frame index. */
export interface FrameOverride {
  /** Position in the cell's `overrides` list (for error messages). */
  at: number;
  clipIndex: number;
  objectId?: number;
  frameIndex: number;
}

/** A pivot-box override, checked: a 1-based candidate number or an explicit box in pixels. */
export interface BoxOverride {
  at: number;
  clipIndex: number;
  objectId?: number;
  choice: { candidate: number } | { box: Box };
}

function fail(stage: string, field: string, message: string): never {
  throw new PipelineError(message, { stage, kind: 'invalid-input', field });
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** The `clip` and `object` of one override, checked against the video's clips and the objects. */
function clipAndObject(stage: string, item: unknown, i: number, video: VideoData, objectIds: readonly number[]): { clipIndex: number; objectId?: number } {
  const field = `overrides[${i}]`;
  if (!isRecord(item)) {
    fail(stage, field, `${field} must be a mapping such as { clip: 2, ... }.`);
  }
  const clip = item.clip;
  if (typeof clip !== 'number' || !Number.isInteger(clip) || clip < 1) {
    fail(stage, `${field}.clip`, `${field}.clip must be a clip number from 1 (clip 1 is the first clip, as in the captions).`);
  }
  if (!video.clips.some((c) => c.clipIndex === clip - 1)) {
    fail(stage, `${field}.clip`, `${field}.clip = ${clip}: the video has ${video.clips.length} clip${video.clips.length === 1 ? '' : 's'} (1-${video.clips.length}).`);
  }
  const object = item.object;
  if (object !== undefined) {
    if (typeof object !== 'number' || !objectIds.includes(object)) {
      fail(stage, `${field}.object`, `${field}.object = ${String(object)} is not an object of the reference (objects: ${objectIds.join(', ')}).`);
    }
    return { clipIndex: clip - 1, objectId: object };
  }
  return { clipIndex: clip - 1 };
}

/**
 * Parses and checks a pivot-frame cell's `overrides`: each names a clip of the video, optionally an
 * object of the reference, and `frame`, a video frame index that must be one of that clip's sampled
 * frames (the number under a grid tile). Pure.
 */
export function parseFrameOverrides(raw: unknown, video: VideoData, objectIds: readonly number[], stage = 'pivot-frame'): FrameOverride[] {
  if (raw === undefined) {
    return [];
  }
  if (!Array.isArray(raw)) {
    fail(stage, 'overrides', 'overrides must be a list such as [{ clip: 2, frame: 36 }].');
  }
  return raw.map((item, i) => {
    const { clipIndex, objectId } = clipAndObject(stage, item, i, video, objectIds);
    const frame = (item as Record<string, unknown>).frame;
    const frames = video.clips.find((c) => c.clipIndex === clipIndex)?.frameIndices ?? [];
    if (typeof frame !== 'number' || !frames.includes(frame)) {
      fail(stage, `overrides[${i}].frame`, `overrides[${i}].frame = ${String(frame)} is not a frame of clip ${clipIndex + 1}; its frames are ${frames.join(', ')} (video frame indices, as under the grid tiles).`);
    }
    return { at: i, clipIndex, ...(objectId !== undefined ? { objectId } : {}), frameIndex: frame };
  });
}

/**
 * Parses and checks a pivot-box cell's `overrides`: each names a clip, optionally an object, and
 * exactly one of `candidate` (a box number from 1) or `box` ([x0, y0, x1, y1] in pixels, inside the
 * frame). Whether the candidate exists is checked when the clip's candidates are known
 * ({@link boxOverridePivot}). Pure.
 */
export function parseBoxOverrides(raw: unknown, video: VideoData, objectIds: readonly number[], stage = 'pivot-box'): BoxOverride[] {
  if (raw === undefined) {
    return [];
  }
  if (!Array.isArray(raw)) {
    fail(stage, 'overrides', 'overrides must be a list such as [{ clip: 2, candidate: 3 }] or [{ clip: 2, box: [10, 20, 200, 180] }].');
  }
  const { width, height } = video.info;
  return raw.map((item, i) => {
    const field = `overrides[${i}]`;
    const { clipIndex, objectId } = clipAndObject(stage, item, i, video, objectIds);
    const { candidate, box } = item as Record<string, unknown>;
    if ((candidate === undefined) === (box === undefined)) {
      fail(stage, field, `${field} must give exactly one of candidate (a box number) or box ([x0, y0, x1, y1] in pixels).`);
    }
    const base = { at: i, clipIndex, ...(objectId !== undefined ? { objectId } : {}) };
    if (candidate !== undefined) {
      if (typeof candidate !== 'number' || !Number.isInteger(candidate) || candidate < 1) {
        fail(stage, `${field}.candidate`, `${field}.candidate must be a box number from 1.`);
      }
      return { ...base, choice: { candidate } };
    }
    if (!Array.isArray(box) || box.length !== 4 || !box.every((v) => typeof v === 'number' && Number.isFinite(v))) {
      fail(stage, `${field}.box`, `${field}.box must be [x0, y0, x1, y1] (four numbers, pixels).`);
    }
    const [x0, y0, x1, y1] = box as number[];
    if (!(x1 > x0 && y1 > y0)) {
      fail(stage, `${field}.box`, `${field}.box = [${box.join(', ')}] is empty: x1 must be > x0 and y1 > y0.`);
    }
    if (x0 < 0 || y0 < 0 || x1 > width || y1 > height) {
      fail(stage, `${field}.box`, `${field}.box = [${box.join(', ')}] is not inside the ${width}x${height} frame.`);
    }
    return { ...base, choice: { box: { x0, y0, x1, y1 } } };
  });
}

/** The override of one clip of one object: the last one naming that object, else the last one for every object. */
export function overrideFor<O extends { clipIndex: number; objectId?: number }>(overrides: readonly O[], objectId: number, clipIndex: number): O | undefined {
  const forClip = overrides.filter((o) => o.clipIndex === clipIndex);
  return forClip.filter((o) => o.objectId === objectId).pop() ?? forClip.filter((o) => o.objectId === undefined).pop();
}

/** The clip pivot an override makes. */
export function frameOverridePivot(o: FrameOverride): ClipPivot {
  return { clipIndex: o.clipIndex, frameIndex: o.frameIndex, valid: true, overridden: true, note: `overridden: frame ${o.frameIndex} chosen by hand` };
}

/**
 * Puts the overridden clips of one object into its list of clip pivots (replacing the clip's pivot,
 * or adding it in clip order).
 */
export function withFrameOverrides(clips: readonly ClipPivot[], overrides: readonly FrameOverride[], objectId: number, video: VideoData): ClipPivot[] {
  const out = [...clips];
  for (const clip of video.clips) {
    const o = overrideFor(overrides, objectId, clip.clipIndex);
    if (!o) {
      continue;
    }
    const i = out.findIndex((c) => c.clipIndex === clip.clipIndex);
    if (i >= 0) {
      out[i] = frameOverridePivot(o);
    } else {
      out.push(frameOverridePivot(o));
    }
  }
  return out.sort((a, b) => a.clipIndex - b.clipIndex);
}

/**
 * The box pivot an override makes on a clip's pivot frame: the numbered candidate (checked against
 * the candidates found), or the explicit box added as a typed candidate and chosen.
 */
export function boxOverridePivot(o: BoxOverride, clipIndex: number, frameIndex: number, candidates: readonly Candidate[], stage = 'pivot-box'): BoxPivot {
  if ('candidate' in o.choice) {
    const k = o.choice.candidate;
    if (k > candidates.length) {
      fail(stage, `overrides[${o.at}].candidate`, `overrides[${o.at}].candidate = ${k}: clip ${clipIndex + 1} (frame ${frameIndex}) has ${candidates.length} candidate box${candidates.length === 1 ? '' : 'es'}.`);
    }
    return { clipIndex, frameIndex, candidates: [...candidates], chosen: k - 1, valid: true, overridden: true, note: `overridden: box ${k} chosen by hand` };
  }
  const b = o.choice.box;
  const drawn: Candidate = { box: b, score: 1, source: 'typed', phrase: 'drawn by hand' };
  return {
    clipIndex, frameIndex, candidates: [...candidates, drawn], chosen: candidates.length, valid: true, overridden: true,
    note: `overridden: box [${[b.x0, b.y0, b.x1, b.y1].map((v) => Math.round(v)).join(', ')}] drawn by hand`,
  };
}

/** What the overrides contribute to a stage's input hash (so downstream cells turn stale when they change). */
export function overridesKey(overrides: ReadonlyArray<FrameOverride | BoxOverride>): unknown {
  return overrides.length === 0 ? undefined : overrides.map(({ at: _at, ...o }) => o);
}

/**
 * Checks that every box override naming this object (or naming no object, when the reference has only
 * this one) is for a clip that has a pivot frame for it: a clip whose pivot-frame answer was invalid
 * has no frame to put a box on. An override for every object skips the objects without that clip.
 */
export function checkBoxOverrideClips(overrides: readonly BoxOverride[], objectId: number, pivotClips: readonly number[], onlyObject: boolean, stage = 'pivot-box'): void {
  for (const o of overrides) {
    const names = o.objectId === objectId || (o.objectId === undefined && onlyObject);
    if (names && !pivotClips.includes(o.clipIndex)) {
      fail(stage, `overrides[${o.at}].clip`, `overrides[${o.at}].clip = ${o.clipIndex + 1}: object ${objectId} has no valid pivot frame in clip ${o.clipIndex + 1}; override the pivot-frame cell for that clip first.`);
    }
  }
}
