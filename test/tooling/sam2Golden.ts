/**
 * Readers of the SAM 2 golden fixtures (test/fixtures/sam2-golden, written by
 * tools/sam2-export/make_golden.py from the official SAM 2 video predictor).
 */
import { copyFile, mkdir, readdir, readFile } from 'node:fs/promises';
import path from 'node:path';

export const GOLDEN = path.join(__dirname, '..', 'fixtures', 'sam2-golden');
export const MODEL_ID = 'sam2.1-hiera-tiny-video';

export interface GoldenFrame {
  conditioning: boolean;
  objectScore: number;
  lowRes: string;
  mask: string;
}
export interface GoldenCase {
  name: string;
  clip: string;
  width: number;
  height: number;
  numFrames: number;
  variant: 'occlusion' | 'fixed' | null;
  prompts: Array<{ frameIndex: number; box: [number, number, number, number] }>;
  startFrame: number | null;
  fillHoleArea: number;
  lowResWidth: number;
  lowResHeight: number;
  order: number[];
  frames: Record<string, GoldenFrame>;
}

export async function readCase(name: string): Promise<GoldenCase> {
  return JSON.parse(await readFile(path.join(GOLDEN, 'cases', `${name}.json`), 'utf8')) as GoldenCase;
}

export function goldenLowRes(f: GoldenFrame): Float32Array {
  const b = Buffer.from(f.lowRes, 'base64');
  const out = new Float32Array(b.byteLength / 4);
  for (let k = 0; k < out.length; k++) {
    out[k] = b.readFloatLE(k * 4);
  }
  return out;
}

export function goldenMask(f: GoldenFrame, pixels: number): Uint8Array {
  const b = Buffer.from(f.mask, 'base64');
  const out = new Uint8Array(pixels);
  for (let p = 0; p < pixels; p++) {
    out[p] = (b[p >> 3] >> (7 - (p & 7))) & 1;
  }
  return out;
}

/** A models folder holding the golden export under the built-in id, with a variant's graphs laid over it. */
export async function goldenModels(root: string, variant: string | null): Promise<string> {
  const dir = path.join(root, variant ?? 'base');
  const target = path.join(dir, MODEL_ID);
  await mkdir(path.join(target, 'onnx'), { recursive: true });
  const layers = [path.join(GOLDEN, 'model'), ...(variant ? [path.join(GOLDEN, 'variants', variant)] : [])];
  for (const layer of layers) {
    for (const f of await readdir(path.join(layer, 'onnx'))) {
      await copyFile(path.join(layer, 'onnx', f), path.join(target, 'onnx', f));
    }
    for (const f of (await readdir(layer)).filter((x) => x.endsWith('.json'))) {
      await copyFile(path.join(layer, f), path.join(target, f));
    }
  }
  return dir;
}
