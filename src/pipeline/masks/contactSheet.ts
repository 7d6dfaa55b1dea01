/**
 * A contact sheet: a few frames with their masks painted, tiled into one PNG. It is the `image/png`
 * fallback of the mask overlay, readable without the extension.
 */
import sharp, { type OverlayOptions } from 'sharp';
import type { RleMask } from '../domain';
import { decodeRle } from './rle';

/** Overlay colours per object (object i uses entry (i-1) mod length); the DAVIS palette order. */
const MASK_COLOURS: Array<[number, number, number]> = [
  [230, 25, 75],
  [60, 180, 75],
  [255, 225, 25],
  [0, 130, 200],
  [245, 130, 48],
  [145, 30, 180],
  [70, 240, 240],
  [240, 50, 230],
];

export function maskColour(objectId: number): [number, number, number] {
  return MASK_COLOURS[(objectId - 1 + MASK_COLOURS.length) % MASK_COLOURS.length];
}

export function cssColour(objectId: number): string {
  const [r, g, b] = maskColour(objectId);
  return `rgb(${r}, ${g}, ${b})`;
}

/** Up to `count` frame indices spread evenly over the video, pivot frames always included, sorted. */
export function sheetFrames(frameCount: number, count: number, pivots: number[] = []): number[] {
  const set = new Set(pivots.filter((p) => Number.isInteger(p) && p >= 0 && p < frameCount));
  const want = Math.max(set.size, Math.min(count, frameCount));
  for (let k = 0; set.size < want && k < count; k++) {
    set.add(Math.round(((k + 0.5) * frameCount) / count - 0.5));
  }
  // evenly spaced positions can coincide with pivots: fill up with the first unused frames
  for (let f = 0; set.size < want && f < frameCount; f++) {
    set.add(f);
  }
  return [...set].sort((a, b) => a - b);
}

export interface ContactSheetOptions {
  frames: number[];
  frameSource(frameIndex: number): string;
  width: number;
  height: number;
  objects: Array<{ objectId: number; masks: RleMask[] }>;
  /** Thumbnail width in pixels (default 240). */
  thumbWidth?: number;
  columns?: number;
  opacity?: number;
}

/** Renders the sheet; each tile carries its frame index in the corner. */
export async function renderContactSheet(o: ContactSheetOptions): Promise<Uint8Array> {
  const tw = o.thumbWidth ?? 240;
  const th = Math.max(1, Math.round((tw * o.height) / o.width));
  const cols = Math.max(1, Math.min(o.columns ?? 4, o.frames.length));
  const rows = Math.max(1, Math.ceil(o.frames.length / cols));
  const alpha = Math.round(255 * (o.opacity ?? 0.5));
  const tiles: OverlayOptions[] = [];
  for (const [k, f] of o.frames.entries()) {
    const overlay = Buffer.alloc(tw * th * 4);
    for (const obj of o.objects) {
      const rle = obj.masks[f];
      if (!rle) {
        continue;
      }
      const m = decodeRle(rle);
      const [r, g, b] = maskColour(obj.objectId);
      for (let y = 0; y < th; y++) {
        const sy = Math.min(o.height - 1, Math.floor(((y + 0.5) * o.height) / th));
        for (let x = 0; x < tw; x++) {
          const sx = Math.min(o.width - 1, Math.floor(((x + 0.5) * o.width) / tw));
          if (m[sy * o.width + sx]) {
            const p = (y * tw + x) * 4;
            overlay[p] = r;
            overlay[p + 1] = g;
            overlay[p + 2] = b;
            overlay[p + 3] = alpha;
          }
        }
      }
    }
    const label = Buffer.from(
      `<svg width="${tw}" height="${th}" xmlns="http://www.w3.org/2000/svg"><rect x="0" y="0" width="${14 + 8 * String(f).length}" height="20" fill="black" fill-opacity="0.6"/><text x="5" y="15" font-family="sans-serif" font-size="13" fill="white">${f}</text></svg>`,
    );
    const tile = await sharp(o.frameSource(f))
      .resize(tw, th, { fit: 'fill' })
      .composite([{ input: overlay, raw: { width: tw, height: th, channels: 4 } }, { input: label }])
      .png()
      .toBuffer();
    tiles.push({ input: tile, left: (k % cols) * tw, top: Math.floor(k / cols) * th });
  }
  const sheet = await sharp({ create: { width: cols * tw, height: rows * th, channels: 3, background: { r: 24, g: 24, b: 24 } } })
    .composite(tiles)
    .png()
    .toBuffer();
  return new Uint8Array(sheet);
}
