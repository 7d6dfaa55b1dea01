/**
 * Test fixtures for the LLM stages: a VideoData built from the real DAVIS car-shadow frames (grids
 * tiled with sharp, ids drawn with the pipeline's badge helper) and a StageContext around it.
 */
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import type { ClipPlan, GridImage, VideoData } from '../../src/pipeline/domain';
import { framePath } from '../../src/pipeline/domain';
import { badgeSvg, svgDocument } from '../../src/pipeline/draw/text';
import type { StageEvent } from '../../src/pipeline/events';
import { runStage } from '../../src/pipeline/stages/index';
import type { Services } from '../../src/pipeline/services';
import { type PipelineSettings, defaultSettings } from '../../src/pipeline/settings';
import type { SessionLike, StageContext, StageKind, StageRequest, StageResult } from '../../src/pipeline/types';
import { DEFAULT_AVS_FRAMES, planAvsFrames, planRvosClips } from '../../src/pipeline/sampling';
import { SAMPLES } from './media';

export const DAVIS_FRAMES = path.join(SAMPLES, 'davis-car-shadow/JPEGImages');
export const RESOURCES = path.resolve(__dirname, '../..');
export const DAVIS_WIDTH = 854;
export const DAVIS_HEIGHT = 480;
export const DAVIS_FRAME_COUNT = 40;

/** Tiles a clip's frames in one row with their 1-based ids, as the video stage does. */
export async function buildGrid(framesDir: string, clip: ClipPlan, outDir: string, tileWidth = 320): Promise<GridImage> {
  const tileHeight = Math.round((tileWidth * DAVIS_HEIGHT) / DAVIS_WIDTH);
  const tiles = clip.frameIndices.map((frameIndex, k) => ({ frameIndex, frameId: k + 1, timeSec: frameIndex / 24, x: k * tileWidth, y: 0, width: tileWidth, height: tileHeight }));
  const width = tileWidth * tiles.length;
  const composites = await Promise.all(
    tiles.map(async (t) => ({ input: await sharp(framePath(framesDir, t.frameIndex)).resize(tileWidth, tileHeight).toBuffer(), left: t.x, top: t.y })),
  );
  const badges = tiles.map((t) => badgeSvg(String(t.frameId), t.x + 6, t.y + 6, { height: 28, color: '#fff', background: '#d7263d' }).svg).join('');
  composites.push({ input: Buffer.from(svgDocument(width, tileHeight, badges)), left: 0, top: 0 });
  await mkdir(outDir, { recursive: true });
  const file = path.join(outDir, `grid-${clip.clipIndex}.jpg`);
  await sharp({ create: { width, height: tileHeight, channels: 3, background: '#000' } }).composite(composites).jpeg({ quality: 85 }).toFile(file);
  return { clipIndex: clip.clipIndex, path: file, width, height: tileHeight, tiles };
}

/** A VideoData over the DAVIS frames: `clipCount` clips of 5 frames every `interval`. */
export async function davisVideo(outDir: string, options: { interval?: number; frameCount?: number; mode?: 'rvos' | 'avs' } = {}): Promise<VideoData> {
  const interval = options.interval ?? 5;
  const frameCount = options.frameCount ?? DAVIS_FRAME_COUNT;
  // The product's planners: AVS takes the centres of 5 equal spans (4, 12, 20, 28, 36 of 40 frames).
  const clips = options.mode === 'avs' ? planAvsFrames(frameCount, DEFAULT_AVS_FRAMES) : planRvosClips(frameCount, interval, 5);
  const grids = await Promise.all(clips.map((c) => buildGrid(DAVIS_FRAMES, c, outDir)));
  return {
    info: {
      source: DAVIS_FRAMES, sourceKind: 'frames', width: DAVIS_WIDTH, height: DAVIS_HEIGHT, fps: 24, frameCount,
      durationSec: frameCount / 24, rotation: 0, variableFrameRate: false, audio: null,
    },
    mode: options.mode ?? 'rvos',
    interval,
    framesPerClip: 5,
    clips,
    grids,
    framesDir: DAVIS_FRAMES,
  };
}

/** A session holding results by cell id. */
export class TestSession implements SessionLike {
  private readonly _results = new Map<string, StageResult>();
  private _clock = 1;
  put(kind: StageKind, cellId: string, data: unknown, inputHash = `${cellId}-hash`): StageResult {
    const r: StageResult = { kind, cellId, inputHash, upstream: [], data, finishedAt: this._clock++ };
    this._results.set(cellId, r);
    return r;
  }
  add(result: StageResult): void {
    this._results.set(result.cellId, { ...result, finishedAt: this._clock++ });
  }
  get(cellId: string): StageResult | undefined {
    return this._results.get(cellId);
  }
  latest(kind: StageKind | readonly StageKind[]): StageResult | undefined {
    const kinds: readonly StageKind[] = typeof kind === 'string' ? [kind] : kind;
    return [...this._results.values()].filter((r) => kinds.includes(r.kind)).sort((a, b) => b.finishedAt - a.finishedAt)[0];
  }
}

export function makeContext(opts: { runDir: string; session: SessionLike; services: Services; settings?: PipelineSettings; promptOverrides?: Record<string, string>; signal?: AbortSignal }): StageContext {
  return {
    signal: opts.signal ?? new AbortController().signal,
    session: opts.session,
    runDir: opts.runDir,
    baseDir: opts.runDir,
    resourcesDir: RESOURCES,
    settings: opts.settings ?? defaultSettings(),
    services: opts.services,
    log: { info: () => undefined, warn: () => undefined, error: () => undefined },
    promptOverrides: opts.promptOverrides ?? {},
  };
}

/** Runs a stage through the real runner (`runStage`) to the end, collecting its events. */
export async function collect(request: StageRequest, ctx: StageContext): Promise<{ events: StageEvent[]; result: StageResult }> {
  const events: StageEvent[] = [];
  const it = runStage(request, ctx);
  for (;;) {
    const r = await it.next();
    if (r.done) {
      return { events, result: r.value };
    }
    events.push(r.value);
  }
}

/** Concatenated trace text per stream id. */
export function traces(events: StageEvent[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const e of events) {
    if (e.type === 'trace') {
      out.set(e.streamId, (out.get(e.streamId) ?? '') + e.delta);
    }
  }
  return out;
}
