/**
 * DAVIS-style mask export: one indexed (palette) PNG per frame, `<frameIndex padded to 5>.png`, pixel
 * value = object id (0 = background), with the DAVIS colour palette; single-object videos can be
 * written as 0/255 greyscale instead (`binary`), the form of the DAVIS car-shadow annotations. The
 * PNGs are written (and read back) with the label PNG codec of `labelPng.ts`.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { MaskData, RleMask } from '../domain';
import { PipelineError } from '../errors';
import { encodeBinaryPng, encodeIndexedPng } from './labelPng';
import { decodeRle } from './rle';

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
  const files: string[] = [];
  for (let f = 0; f < data.frameCount; f++) {
    const labels = labelMap(perObject.map((o) => ({ objectId: o.objectId, rle: o.masks[f] })), data.width, data.height);
    const png = options.binary ? encodeBinaryPng(labels, data.width, data.height) : encodeIndexedPng(labels, data.width, data.height);
    const file = path.join(outDir, `${String(f).padStart(5, '0')}.png`);
    await writeFile(file, png);
    files.push(file);
  }
  return files;
}
