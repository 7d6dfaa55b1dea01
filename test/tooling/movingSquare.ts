/**
 * Synthetic clips for tracking tests: a white square moving on black, with an optional static white
 * distractor, written as JPEG frames `<i padded to 5>.jpg` (the run-folder frame layout).
 */
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';

export interface SquareClip {
  width: number;
  height: number;
  frames: number;
  /** Square box per frame, corners [x0,x1) x [y0,y1). */
  boxes: Array<{ x0: number; y0: number; x1: number; y1: number }>;
  distractor?: { x0: number; y0: number; x1: number; y1: number };
  dir: string;
}

export async function writeMovingSquare(dir: string, o: { width?: number; height?: number; frames?: number; size?: number; step?: number; x?: number; y?: number; distractor?: boolean } = {}): Promise<SquareClip> {
  const width = o.width ?? 96;
  const height = o.height ?? 64;
  const frames = o.frames ?? 20;
  const size = o.size ?? 16;
  const step = o.step ?? 2;
  const x = o.x ?? 8;
  const y = o.y ?? 24;
  const distractor = o.distractor === false ? undefined : { x0: width - 14, y0: 2, x1: width - 4, y1: 12 };
  await mkdir(dir, { recursive: true });
  const boxes: SquareClip['boxes'] = [];
  for (let i = 0; i < frames; i++) {
    const b = { x0: x + i * step, y0: y, x1: x + i * step + size, y1: y + size };
    boxes.push(b);
    const px = Buffer.alloc(width * height * 3);
    for (const r of distractor ? [b, distractor] : [b]) {
      for (let yy = r.y0; yy < r.y1; yy++) {
        for (let xx = r.x0; xx < r.x1; xx++) {
          px.fill(255, (yy * width + xx) * 3, (yy * width + xx) * 3 + 3);
        }
      }
    }
    await sharp(px, { raw: { width, height, channels: 3 } }).jpeg({ quality: 95 }).toFile(path.join(dir, `${String(i).padStart(5, '0')}.jpg`));
  }
  return { width, height, frames, boxes, distractor, dir };
}

/** Intersection over union of a row-major 0/1 mask with a box. */
export function maskBoxIou(mask: Uint8Array, width: number, box: { x0: number; y0: number; x1: number; y1: number }): number {
  let inter = 0;
  let area = 0;
  for (let i = 0; i < mask.length; i++) {
    if (mask[i]) {
      area++;
      const xx = i % width;
      const yy = (i - xx) / width;
      if (xx >= box.x0 && xx < box.x1 && yy >= box.y0 && yy < box.y1) {
        inter++;
      }
    }
  }
  const boxArea = (box.x1 - box.x0) * (box.y1 - box.y0);
  return inter / (area + boxArea - inter);
}
