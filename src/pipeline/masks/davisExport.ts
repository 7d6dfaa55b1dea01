/**
 * DAVIS-style mask export: one indexed (palette) PNG per frame, `<frameIndex padded to 5>.png`, pixel
 * value = object id (0 = background), with the DAVIS colour palette; single-object videos can be
 * written as 0/255 greyscale instead (`binary`), the form of the DAVIS car-shadow annotations.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { encode as encodePng, decode as decodePng } from 'fast-png';
import type { MaskData, RleMask } from '../domain';
import { PipelineError } from '../errors';
import { decodeRle } from './rle';

/** The DAVIS 2017 palette: index i -> bit-interleaved colour (index 1 = (128,0,0), 2 = (0,128,0), ...). */
export function davisPalette(n = 256): Array<[number, number, number]> {
  const out: Array<[number, number, number]> = [];
  for (let i = 0; i < n; i++) {
    let r = 0;
    let g = 0;
    let b = 0;
    let c = i;
    for (let j = 0; j < 8; j++) {
      r |= ((c >> 0) & 1) << (7 - j);
      g |= ((c >> 1) & 1) << (7 - j);
      b |= ((c >> 2) & 1) << (7 - j);
      c >>= 3;
    }
    out.push([r, g, b]);
  }
  return out;
}

/** Reads an object's masks file (JSON array of RLE, one per frame) and checks it. */
export async function readMasksFile(file: string, frameCount?: number): Promise<RleMask[]> {
  let list: unknown;
  try {
    list = JSON.parse(await readFile(file, 'utf8'));
  } catch (err) {
    throw new PipelineError(`Cannot read masks file ${file}: ${(err as Error).message}`, { stage: 'propagate', kind: 'invalid-input', file, cause: err });
  }
  if (!Array.isArray(list) || (frameCount !== undefined && list.length !== frameCount)) {
    throw new PipelineError(`Masks file ${file} must hold an array of ${frameCount ?? 'per-frame'} RLE masks.`, { stage: 'propagate', kind: 'invalid-input', file });
  }
  return list as RleMask[];
}

/** Label map (object id per pixel, later objects drawn over earlier ones) of one frame. */
export function labelMap(masks: Array<{ objectId: number; rle: RleMask }>, width: number, height: number): Uint8Array {
  const out = new Uint8Array(width * height);
  for (const { objectId, rle } of masks) {
    const m = decodeRle(rle);
    for (let i = 0; i < m.length; i++) {
      if (m[i]) {
        out[i] = objectId;
      }
    }
  }
  return out;
}

/**
 * Writes one PNG per frame into `outDir`. Returns the file paths in frame order.
 * @param binary write 0/255 greyscale (all objects merged) instead of palette indices
 */
export async function exportDavisPngs(data: MaskData, outDir: string, options: { binary?: boolean } = {}): Promise<string[]> {
  await mkdir(outDir, { recursive: true });
  const perObject = await Promise.all(data.objects.map(async (o) => ({ objectId: o.objectId, masks: await readMasksFile(o.masksFile, data.frameCount) })));
  const palette = davisPalette(256);
  const files: string[] = [];
  for (let f = 0; f < data.frameCount; f++) {
    const labels = labelMap(perObject.map((o) => ({ objectId: o.objectId, rle: o.masks[f] })), data.width, data.height);
    let png: Uint8Array;
    if (options.binary) {
      png = encodePng({ width: data.width, height: data.height, data: labels.map((v) => (v ? 255 : 0)), depth: 8, channels: 1 });
    } else {
      png = encodePng({ width: data.width, height: data.height, data: labels, depth: 8, channels: 1, palette });
    }
    const file = path.join(outDir, `${String(f).padStart(5, '0')}.png`);
    await writeFile(file, png);
    files.push(file);
  }
  return files;
}

/** Reads a DAVIS PNG back into a label map (palette index or grey value per pixel). */
export async function readDavisPng(file: string): Promise<{ width: number; height: number; labels: Uint8Array }> {
  const png = decodePng(await readFile(file));
  if (png.depth !== 8) {
    throw new PipelineError(`${file}: ${png.depth}-bit PNG; DAVIS masks are 8-bit.`, { stage: 'evaluate', kind: 'invalid-input', file });
  }
  const labels = new Uint8Array(png.width * png.height);
  for (let i = 0; i < labels.length; i++) {
    labels[i] = png.data[i * png.channels];
  }
  return { width: png.width, height: png.height, labels };
}
