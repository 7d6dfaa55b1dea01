/**
 * COCO run-length encoding of binary masks, byte-compatible with pycocotools (`mask.encode` /
 * `mask.decode`, `rleToString` / `rleFrString`).
 *
 * Format invariants (they are what makes our files readable by pycocotools and DAVIS/YouTube-VOS tools):
 * - runs are over the mask in COLUMN-major order (Fortran order), the way pycocotools stores them;
 * - the first run counts background (0) pixels and may be 0;
 * - the compact string form stores each count as 5-bit groups offset by 48 ('0'), with count i (i > 2)
 *   stored as a difference to count i-2.
 *
 * Masks in this code base are row-major `Uint8Array`s of `height * width` with 0 = background and any
 * non-zero value = object; the codec transposes on the way in and out.
 */
import type { RleMask } from '../domain';
import { countsFromString } from '../../common/rleCounts';

/** Encodes a row-major binary mask (`height*width`, non-zero = object) into COCO RLE with string counts. */
export function encodeRle(mask: Uint8Array, width: number, height: number): RleMask {
  return { size: [height, width], counts: countsToString(maskToCounts(mask, width, height)) };
}

/** Encodes into uncompressed COCO RLE (`counts` as a number array). */
export function encodeRleCounts(mask: Uint8Array, width: number, height: number): RleMask {
  return { size: [height, width], counts: maskToCounts(mask, width, height) };
}

/** Run lengths of a row-major mask read in column-major order, starting with a background run. */
export function maskToCounts(mask: Uint8Array, width: number, height: number): number[] {
  if (mask.length !== width * height) {
    throw new Error(`Mask has ${mask.length} values, expected ${width}x${height} = ${width * height}.`);
  }
  const counts: number[] = [];
  let current = 0;
  let run = 0;
  for (let x = 0; x < width; x++) {
    for (let y = 0, i = x; y < height; y++, i += width) {
      const v = mask[i] !== 0 ? 1 : 0;
      if (v !== current) {
        counts.push(run);
        run = 0;
        current = v;
      }
      run++;
    }
  }
  counts.push(run);
  return counts;
}

/** Decodes COCO RLE (string or number counts) into a row-major mask of 0/1 values. */
export function decodeRle(rle: RleMask): Uint8Array {
  const [height, width] = rle.size;
  const counts = typeof rle.counts === 'string' ? countsFromString(rle.counts) : rle.counts;
  const out = new Uint8Array(width * height);
  let pos = 0;
  let value = 0;
  const total = width * height;
  for (const c of counts) {
    if (c < 0 || pos + c > total) {
      throw new Error(`RLE counts do not fit a ${width}x${height} mask (run ${c} at pixel ${pos}).`);
    }
    if (value === 1) {
      for (let k = pos; k < pos + c; k++) {
        // column-major position k -> row-major index
        const x = Math.floor(k / height);
        const y = k - x * height;
        out[y * width + x] = 1;
      }
    }
    pos += c;
    value ^= 1;
  }
  if (pos !== total) {
    throw new Error(`RLE counts cover ${pos} pixels, expected ${width}x${height} = ${total}.`);
  }
  return out;
}

/** pycocotools `rleToString`: LEB128-like 5-bit groups offset by 48, deltas against count i-2 for i > 2. */
export function countsToString(counts: readonly number[]): string {
  let s = '';
  for (let i = 0; i < counts.length; i++) {
    let x = counts[i];
    if (i > 2) {
      x -= counts[i - 2];
    }
    let more = true;
    while (more) {
      let c = x & 0x1f;
      x >>= 5;
      more = (c & 0x10) !== 0 ? x !== -1 : x !== 0;
      if (more) {
        c |= 0x20;
      }
      s += String.fromCharCode(c + 48);
    }
  }
  return s;
}

export { countsFromString };

/** Number of object pixels of an RLE mask, without decoding it. */
export function rleArea(rle: RleMask): number {
  const counts = typeof rle.counts === 'string' ? countsFromString(rle.counts) : rle.counts;
  let area = 0;
  for (let i = 1; i < counts.length; i += 2) {
    area += counts[i];
  }
  return area;
}

/** An all-background mask of the given size. */
export function emptyRle(width: number, height: number): RleMask {
  return { size: [height, width], counts: countsToString([width * height]) };
}

/** Pixel-wise union of masks of the same size (e.g. AVS categories merged per frame). */
export function unionRle(masks: readonly RleMask[]): RleMask {
  if (masks.length === 0) {
    throw new Error('unionRle needs at least one mask.');
  }
  const [height, width] = masks[0].size;
  const out = new Uint8Array(width * height);
  for (const m of masks) {
    if (m.size[0] !== height || m.size[1] !== width) {
      throw new Error(`Cannot merge masks of sizes ${height}x${width} and ${m.size[0]}x${m.size[1]}.`);
    }
    const d = decodeRle(m);
    for (let i = 0; i < d.length; i++) {
      out[i] |= d[i];
    }
  }
  return encodeRle(out, width, height);
}

/** Tight bounding box `[x0, y0, x1, y1)` of a row-major mask, or null when it is empty. */
export function maskBounds(mask: Uint8Array, width: number, height: number): { x0: number; y0: number; x1: number; y1: number } | null {
  let x0 = width;
  let y0 = height;
  let x1 = -1;
  let y1 = -1;
  for (let y = 0; y < height; y++) {
    const row = y * width;
    for (let x = 0; x < width; x++) {
      if (mask[row + x] !== 0) {
        if (x < x0) { x0 = x; }
        if (x > x1) { x1 = x; }
        if (y < y0) { y0 = y; }
        if (y > y1) { y1 = y; }
      }
    }
  }
  return x1 < 0 ? null : { x0, y0, x1: x1 + 1, y1: y1 + 1 };
}
