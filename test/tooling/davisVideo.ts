/**
 * A VideoData built from the real DAVIS car-shadow frames (grids tiled with sharp, ids drawn with the
 * pipeline's badge helper), as the video stage would give it to the LLM stages.
 */
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import type { ClipPlan, GridImage, VideoData } from '../../src/pipeline/domain';
import { framePath } from '../../src/pipeline/domain';
import { badgeSvg, svgDocument } from '../../src/pipeline/draw/text';
import { DEFAULT_AVS_FRAMES, planAvsFrames, planRvosClips } from '../../src/pipeline/sampling';
import { SAMPLES } from './media';

export const DAVIS_FRAMES = path.join(SAMPLES, 'davis-car-shadow/JPEGImages');
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
