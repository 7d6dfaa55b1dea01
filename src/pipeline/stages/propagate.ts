import path from 'node:path';
import { MIME } from '../../common/mime';
import type { MaskOverlayPayload } from '../../common/payloads';
import { framePath, type Box, type MaskData, type PivotBoxData, type RleMask, type VideoData } from '../domain';
import { PipelineError } from '../errors';
import type { StageEvent } from '../events';
import { cssColour, renderContactSheet, sheetFrames } from '../masks/contactSheet';
import { exportDavisPngs } from '../masks/davisExport';
import { emptyRle, rleArea } from '../masks/rle';
import { DAVIS_BACKGROUND_LOGIT, type LogitsFile, type SparseLogits } from '../masks/logits';
import { detectCandidates } from '../models/candidates';
import { detectionThresholds } from '../models/detectionDefaults';
import { clipBox } from '../models/groundingDino';
import { Sam2VideoTracker, type Sam2Prompt } from '../models/sam2/video';
import { trackKey, trackToStore, type StoredTrack, type TrackedVideo } from '../models/sam2/tracks';
import { requireModels, type ModelService } from '../models/service';
import { hashJson } from '../run/hash';
import { putArtifact } from '../run/runFolder';
import type { StageContext, StageOutcome, StageRequest } from '../types';
import type { PropagateParams } from './schemas/params.generated';
import { requireUpstream, resolveReference } from './shared';
import type { LbruData } from './lbru';
import { filterSilentObjects, silenceFilterApplies } from '../audio/soundEvents';

const STAGE = 'propagate';

export type { PropagateParams };

interface Target {
  objectId: number;
  text: string;
  prompts: Sam2Prompt[];
  start: number;
}

/**
 * The prompts of one object from its pivot boxes: valid pivots with a chosen candidate inside the
 * video, boxes clipped to the frame, one per frame, in frame order; the start is the middle one
 * (index floor(n/2)). Problems become warnings, not errors, so other objects still run.
 */
export function promptsFromPivots(pivots: PivotBoxData['objects'][number]['pivots'], frameCount: number, width: number, height: number): { prompts: Sam2Prompt[]; start: number | null; warnings: string[] } {
  const warnings: string[] = [];
  const byFrame = new Map<number, Box>();
  for (const p of pivots) {
    if (!p.valid || p.chosen === null || p.chosen === undefined) {
      continue;
    }
    const cand = p.candidates[p.chosen];
    if (!cand) {
      warnings.push(`clip ${p.clipIndex}: chosen box ${p.chosen + 1} does not exist; clip skipped`);
      continue;
    }
    if (!Number.isInteger(p.frameIndex) || p.frameIndex < 0 || p.frameIndex >= frameCount) {
      warnings.push(`clip ${p.clipIndex}: pivot frame ${p.frameIndex} is past the end of the video (${frameCount} frames); clip skipped`);
      continue;
    }
    const box = clipBox(cand.box, width, height);
    if (!box) {
      warnings.push(`clip ${p.clipIndex}: the chosen box lies outside the ${width}x${height} frame; clip skipped`);
      continue;
    }
    if (box.x0 !== cand.box.x0 || box.y0 !== cand.box.y0 || box.x1 !== cand.box.x1 || box.y1 !== cand.box.y1) {
      warnings.push(`clip ${p.clipIndex}: the chosen box was clipped to the frame`);
    }
    byFrame.set(p.frameIndex, box);
  }
  const prompts = [...byFrame.entries()].sort((a, b) => a[0] - b[0]).map(([frameIndex, box]) => ({ frameIndex, box }));
  return { prompts, start: prompts.length > 0 ? prompts[Math.floor(prompts.length / 2)].frameIndex : null, warnings };
}

/**
 * The "propagate" stage: SAM 2 video masks for every object of the pivot-box result (or the
 * first-frame baseline), stored per object as COCO RLE in the run folder. Steps: the targets
 * ({@link collectTargets}), one frame-outer SAM 2 run over all of them ({@link trackTargets}), the AVS
 * silent-frame filter ({@link filterSilentFrames}), the stored masks ({@link storeMasks}), then the
 * summary, DAVIS PNGs and the overlay ({@link showMasks}).
 *
 * @example
 * ```yaml
 * stage: propagate
 * strategy: pivots        # or first-frame-top-box (G-DINO + SAM 2 baseline)
 * exportPng: masks/       # optional DAVIS-style PNGs
 * ```
 */
export async function* runPropagate(request: StageRequest<PropagateParams>, ctx: StageContext): AsyncGenerator<StageEvent, StageOutcome<MaskData>, void> {
  const params = request.params ?? {};
  const strategy = params.strategy ?? 'pivots';
  const videoResult = requireUpstream<VideoData>(request, ctx, 'video');
  const video = videoResult.data;
  if (!(video.info.frameCount > 0)) {
    throw new PipelineError('The video has no frames.', { stage: STAGE, kind: 'invalid-input', field: 'uses.video' });
  }
  const upstream = [videoResult.cellId];
  const targets = yield* collectTargets(request, ctx, strategy, video, upstream);
  const models = requireModels(ctx.services, STAGE);
  const modelId = params.model ?? models.modelFor('sam2-video');
  const tracks = yield* trackTargets(ctx, models, modelId, targets, video, params);
  const silence = yield* filterSilentFrames(request, ctx, params, targets, tracks, video);
  if (silence) {
    upstream.push(silence);
  }
  const data = await storeMasks(ctx, targets, tracks, video, params);
  yield* showMasks(request, ctx, data, tracks, video, `SAM 2 masks (${modelId}, ${strategy})`, params);
  return {
    data,
    inputHash: hashJson({ stage: STAGE, model: modelId, strategy, fillHoleArea: params.fillHoleArea ?? 8, keepLogits: params.keepLogits === true ? true : undefined, silenceFilter: silence !== undefined, prompts: targets.map((t) => ({ o: t.objectId, p: t.prompts, s: t.start })) }),
    upstream,
  };
}

/**
 * The objects to segment and their prompts: the pivot boxes (`pivots`), or the top GroundingDINO box
 * on frame 0 (`first-frame-top-box`). An object without a prompt gets a warning (and empty masks).
 * Pushes the cell it read onto `upstream`.
 */
async function* collectTargets(request: StageRequest<PropagateParams>, ctx: StageContext, strategy: NonNullable<PropagateParams['strategy']>, video: VideoData, upstream: string[]): AsyncGenerator<StageEvent, Target[], void> {
  const { width, height, frameCount } = video.info;
  const targets: Target[] = [];
  if (strategy === 'pivots') {
    const boxes = requireUpstream<PivotBoxData>(request, ctx, 'pivot-box');
    upstream.push(boxes.cellId);
    for (const obj of boxes.data.objects) {
      const { prompts, start, warnings } = promptsFromPivots(obj.pivots, frameCount, width, height);
      for (const w of warnings) {
        yield { type: 'warning', message: `Object ${obj.objectId}: ${w}.` };
      }
      if (start === null) {
        yield { type: 'warning', message: `Object ${obj.objectId} ("${obj.text}") has no valid pivot box; it gets an empty mask on every frame.` };
      }
      targets.push({ objectId: obj.objectId, text: obj.text, prompts, start: start ?? 0 });
    }
  } else {
    const reference = resolveReference(request, ctx);
    upstream.push(reference.cellId);
    const task = video.mode === 'avs' ? 'avs' : 'rvos';
    for (const t of reference.data.targets) {
      const imagePath = framePath(video.framesDir, 0);
      let cands = await detectCandidates(ctx, { imagePath, caption: t.text, ...detectionThresholds(task), topK: 1 });
      if (cands.length === 0) {
        cands = await detectCandidates(ctx, { imagePath, caption: t.text, ...detectionThresholds('fallback') });
      }
      if (cands.length === 0) {
        yield { type: 'warning', message: `Object ${t.objectId}: GroundingDINO found no box for "${t.text}" on frame 0; it gets an empty mask on every frame.` };
        targets.push({ objectId: t.objectId, text: t.text, prompts: [], start: 0 });
      } else {
        targets.push({ objectId: t.objectId, text: t.text, prompts: [{ frameIndex: 0, box: cands[0].box }], start: 0 });
      }
    }
  }
  if (targets.length === 0) {
    throw new PipelineError('There is no object to segment: the upstream result lists none.', { stage: STAGE, kind: 'invalid-input', field: strategy === 'pivots' ? 'uses.pivot-box' : 'uses.reference' });
  }
  return targets;
}

/** Each target's masks (RLE, every frame) and, with `keepLogits`, its logits at video size. */
interface TargetTrack {
  objectId: number;
  masks: RleMask[];
  logits: Array<SparseLogits | null>;
}

/** The SAM 2 run settings of the stage for a video (the cache key's video part, see {@link trackKey}). */
export function trackedVideo(video: VideoData, modelId: string, params: PropagateParams): TrackedVideo {
  const { width, height, frameCount } = video.info;
  return { modelId, framesDir: video.framesDir, frameCount, width, height, fillHoleArea: params.fillHoleArea, keepLogits: params.keepLogits === true };
}

/**
 * Tracks every prompted target in ONE frame-outer SAM 2 run ({@link Sam2VideoTracker.trackObjects}:
 * each frame is encoded once for all objects). A target whose track the host computed ahead
 * (`services.sam2Tracks`, the same run shared by several notebooks of one video) is taken from there
 * instead. Progress counts (object, frame) pairs; a frame that comes twice for an object (an
 * unprompted start frame: forward, then backward pass) counts once and its later result replaces the
 * earlier one, mask and logits alike. Frames without a result (objects without a prompt) get empty masks.
 */
async function* trackTargets(ctx: StageContext, models: ModelService, modelId: string, targets: Target[], video: VideoData, params: PropagateParams): AsyncGenerator<StageEvent, TargetTrack[], void> {
  const { width, height, frameCount } = video.info;
  const tracks: TargetTrack[] = targets.map((t) => ({ objectId: t.objectId, masks: new Array<RleMask>(frameCount), logits: new Array<SparseLogits | null>(frameCount).fill(null) }));
  const spec = trackedVideo(video, modelId, params);
  const cache = ctx.services.sam2Tracks;
  // the run's objects: the targets with a prompt and no track computed ahead (index k of the run -> target index)
  const prompted = targets.flatMap((t, k) => (t.prompts.length > 0 ? [k] : []));
  const stored = prompted.map((k) => cache?.get(trackKey(spec, targets[k])));
  const toRun = prompted.filter((_, i) => !stored[i]);
  const total = frameCount * prompted.length;
  const seen = new Set<number>();
  const notes = new Map<number, string | undefined>();
  const keep = (k: number, track: StoredTrack): void => {
    tracks[k].masks = track.masks.map((m) => m as RleMask);
    tracks[k].logits = track.logits;
    notes.set(k, track.note(targets[k].objectId));
  };
  if (stored.some((s) => s)) {
    for (const note of cache?.takeNotes() ?? []) {
      yield { type: 'warning', message: note };
    }
  }
  if (toRun.length > 0) {
    const tracker = await Sam2VideoTracker.open(models, modelId);
    try {
      for (const note of models.takeNotes()) {
        yield { type: 'warning', message: note };
      }
      const run = trackToStore(tracker, spec, toRun.map((k) => targets[k]), (i) => framePath(video.framesDir, i), ctx.signal);
      let step = await run.next();
      while (!step.done) {
        const { object, frameIndex } = step.value;
        seen.add(toRun[object] * frameCount + frameIndex);
        yield { type: 'progress', done: seen.size, total, label: `object ${targets[toRun[object]].objectId}: frame ${frameIndex}` };
        step = await run.next();
      }
      step.value.forEach((track, i) => keep(toRun[i], track));
    } finally {
      tracker.dispose();
    }
  }
  for (const [i, k] of prompted.entries()) {
    const track = stored[i];
    if (track) {
      keep(k, track);
      for (let f = 0; f < frameCount; f++) {
        seen.add(k * frameCount + f);
      }
      yield { type: 'progress', done: seen.size, total, label: `object ${targets[k].objectId}: tracked ahead with the other notebooks of this video` };
    }
  }
  // a fixed-length memory export cannot hold all the official predictor attends to
  for (const k of prompted) {
    const note = notes.get(k);
    if (note) {
      yield { type: 'warning', message: note };
    }
  }
  for (const track of tracks) {
    for (let i = 0; i < frameCount; i++) {
      track.masks[i] ??= emptyRle(width, height);
    }
  }
  return tracks;
}

/**
 * AVS: an object makes no sound where its category is silent, so its masks there are removed
 * (sound-event segmentation of the lbru stage, per window of audio). Returns the lbru cell it read
 * when it filtered.
 */
async function* filterSilentFrames(request: StageRequest<PropagateParams>, ctx: StageContext, params: PropagateParams, targets: Target[], tracks: TargetTrack[], video: VideoData): AsyncGenerator<StageEvent, string | undefined, void> {
  const { width, height, frameCount } = video.info;
  const silence = silenceSource(request, ctx);
  const filterRule = silenceFilterApplies(params.silenceFilter, targets.length, video.preset);
  if (silence && !filterRule.apply) {
    yield { type: 'markdown', text: `Silent-frame filtering is off (${filterRule.reason}).` };
  }
  if (!silence || !filterRule.apply) {
    return undefined;
  }
  const filtered = filterSilentObjects(
    tracks.map((o) => ({ objectId: o.objectId, category: silence.categories.get(o.objectId), masks: o.masks })),
    silence.activity,
    video.info.fps,
  );
  filtered.forEach((f, k) => {
    tracks[k].masks = f.masks.map((m) => m ?? emptyRle(width, height));
  });
  const rows = filtered.filter((f) => f.category !== undefined).map((f) => [f.objectId, f.category ?? '', f.cleared.length, frameCount - f.cleared.length]);
  if (rows.length > 0) {
    yield { type: 'table', title: `Silent-frame filtering (sound events of ${silence.cellId}, window ${silence.activity.windowSec} s)`, columns: ['object', 'category', 'frames cleared (silent)', 'frames kept'], rows };
  }
  return silence.cellId;
}

/** Writes each object's masks (and logits) as run-folder artifacts; the stage's MaskData. */
async function storeMasks(ctx: StageContext, targets: Target[], tracks: TargetTrack[], video: VideoData, params: PropagateParams): Promise<MaskData> {
  const { width, height, frameCount } = video.info;
  const objects: MaskData['objects'] = [];
  for (const [k, t] of targets.entries()) {
    const art = await putArtifact(ctx.runDir, new TextEncoder().encode(JSON.stringify(tracks[k].masks)), '.json');
    let logitsFile: string | undefined;
    if (params.keepLogits) {
      const file: LogitsFile = { version: 1, width, height, floor: DAVIS_BACKGROUND_LOGIT, frames: tracks[k].logits };
      logitsFile = path.join(ctx.runDir, (await putArtifact(ctx.runDir, new TextEncoder().encode(JSON.stringify(file)), '.json')).ref);
    }
    objects.push({ objectId: t.objectId, text: t.text, pivotFrames: t.prompts.map((p) => p.frameIndex), masksFile: path.join(ctx.runDir, art.ref), ...(logitsFile ? { logitsFile } : {}) });
  }
  return { width, height, frameCount, objects };
}

/** The summary table, the optional DAVIS PNGs, and the contact sheet with the mask-overlay payload. */
async function* showMasks(request: StageRequest<PropagateParams>, ctx: StageContext, data: MaskData, tracks: TargetTrack[], video: VideoData, title: string, params: PropagateParams): AsyncGenerator<StageEvent, void, void> {
  const { width, height, frameCount } = data;
  const rows = data.objects.map((o, k) => {
    const withMask = tracks[k].masks.filter((m) => rleArea(m) > 0).length;
    return [o.objectId, o.text, o.pivotFrames.join(', ') || '-', `${withMask} / ${frameCount}`, path.relative(ctx.baseDir, o.masksFile)];
  });
  yield { type: 'table', title, columns: ['object', 'reference', 'pivot frames', 'frames with mask', 'masks (RLE)'], rows };

  if (params.exportPng) {
    const outDir = path.resolve(ctx.baseDir, params.exportPng);
    const files = await exportDavisPngs(data, outDir);
    yield { type: 'markdown', text: `Wrote ${files.length} DAVIS-style PNG masks to \`${path.relative(ctx.baseDir, outDir) || '.'}\`.` };
  }

  const framesRel = path.relative(ctx.runDir, video.framesDir);
  if (framesRel.startsWith('..') || path.isAbsolute(framesRel)) {
    yield { type: 'warning', message: `The decoded frames (${video.framesDir}) are outside this notebook's run folder, so the mask overlay cannot load them; the contact sheet shows a summary.` };
  }
  const pivots = [...new Set(data.objects.flatMap((o) => o.pivotFrames))];
  const sheet = await renderContactSheet({
    frames: sheetFrames(frameCount, 8, pivots),
    frameSource: (i) => framePath(video.framesDir, i),
    width,
    height,
    objects: tracks,
  });
  const payload: MaskOverlayPayload = {
    version: 1,
    width,
    height,
    frameCount,
    fps: video.info.fps,
    frames: { dir: framesRel.split(path.sep).join('/'), pad: 5, ext: '.jpg' },
    objects: data.objects.map((o) => ({
      objectId: o.objectId,
      text: o.text,
      colour: cssColour(o.objectId),
      pivotFrames: o.pivotFrames,
      masks: { ref: path.relative(ctx.runDir, o.masksFile).split(path.sep).join('/'), mime: 'application/json' },
    })),
    caption: `Masks over ${frameCount} frames`,
  };
  yield { type: 'image', id: `${request.cellId}:masks`, mime: 'image/png', data: sheet, caption: `Masks (${pivots.length > 0 ? `pivot frames ${pivots.join(', ')}` : 'no pivot'})`, renderer: { mime: MIME.maskOverlay, payload } };
}

/** The sound events of the `lbru` result the targets came from, when the reference is audio. */
function silenceSource(request: StageRequest, ctx: StageContext): { cellId: string; activity: NonNullable<LbruData['activity']>; categories: Map<number, string | undefined> } | undefined {
  let ref;
  try {
    ref = resolveReference(request, ctx);
  } catch {
    return undefined;
  }
  if (ref.kind !== 'lbru') {
    return undefined;
  }
  const data = ref.data as LbruData;
  if (!data.activity) {
    return undefined;
  }
  return { cellId: ref.cellId, activity: data.activity, categories: new Map(data.targets.map((t) => [t.objectId, t.category])) };
}
