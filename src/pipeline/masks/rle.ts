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

/** Whether typed arrays are little-endian here (the word compare below puts bytes together that way). */
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** Scratch of {@link maskToCounts}: row-major indices of pixels whose class differs from the pixel above. */
let changeAt = new Int32Array(1024);
let changeCount = 0;

/** Records the pixels `i` in `[from, to)` (all in row 1 or below) whose class differs from pixel `i - width`. */
function recordChanges(mask: Uint8Array, width: number, from: number, to: number): void {
  for (let i = from; i < to; i++) {
    const a = mask[i];
    const b = mask[i - width];
    if (a !== b && (a === 0 || b === 0)) {
      if (changeCount === changeAt.length) {
        const grown = new Int32Array(changeAt.length * 2);
        grown.set(changeAt);
        changeAt = grown;
      }
      changeAt[changeCount++] = i;
    }
  }
}

/**
 * Fills the change list with every pixel of rows 1.. whose class differs from the pixel one row up,
 * in row-major order. Uniform areas are skipped a 32-bit word (four pixels) at a time: equal bytes
 * never change class, so only a word that differs from the word one row up is looked at byte by
 * byte. When the width is not a multiple of 4 the word one row up straddles two aligned words and is
 * put together with shifts (little-endian byte order; elsewhere the plain byte loop runs).
 */
function findRowChanges(mask: Uint8Array, width: number, height: number): void {
  changeCount = 0;
  const n = width * height;
  if (height < 2) {
    return;
  }
  const off = mask.byteOffset;
  if (!LITTLE_ENDIAN || n - width < 32) {
    recordChanges(mask, width, width, n);
    return;
  }
  // bytes before the first word boundary, whole words, then the bytes after the last one
  const head = width + ((4 - ((off + width) & 3)) & 3);
  recordChanges(mask, width, width, head);
  const u = new Uint32Array(mask.buffer, 0, Math.floor(mask.buffer.byteLength / 4));
  let k = (off + head) / 4;
  const kEnd = Math.floor((off + n) / 4);
  // the word one row up starts s bytes into aligned word k - r (s = 0: it is aligned)
  const s = -width & 3;
  const r = (width + s) / 4;
  if (s === 0) {
    for (; k + 1 < kEnd; k += 2) {
      if (((u[k] ^ u[k - r]) | (u[k + 1] ^ u[k + 1 - r])) !== 0) {
        recordChanges(mask, width, 4 * k - off, 4 * k - off + 8);
      }
    }
  } else {
    const lo = 8 * s;
    const hi = 32 - lo;
    for (; k + 1 < kEnd; k += 2) {
      const middle = u[k + 1 - r];
      const above0 = (u[k - r] >>> lo) | (middle << hi);
      const above1 = (middle >>> lo) | (u[k + 2 - r] << hi);
      if (((u[k] ^ above0) | (u[k + 1] ^ above1)) !== 0) {
        recordChanges(mask, width, 4 * k - off, 4 * k - off + 8);
      }
    }
  }
  recordChanges(mask, width, 4 * k - off, n);
}

/**
 * Run lengths of a row-major mask read in column-major order, starting with a background run.
 *
 * Reading a row-major mask column by column strides through memory (one cache line per pixel);
 * instead the vertical class changes are found in one row-major pass ({@link findRowChanges}), sorted
 * by column (a counting sort, so each column's rows stay in order), and together with the change at
 * the top of each column (against the bottom of the column before) they are the run boundaries in
 * column-major order.
 */
export function maskToCounts(mask: Uint8Array, width: number, height: number): number[] {
  if (mask.length !== width * height) {
    throw new Error(`Mask has ${mask.length} values, expected ${width}x${height} = ${width * height}.`);
  }
  findRowChanges(mask, width, height);
  const changes = changeCount;
  // counting sort by column: the changes of column x are rows[at[x] .. at[x + 1])
  const at = new Int32Array(width + 1);
  for (let c = 0; c < changes; c++) {
    at[(changeAt[c] % width) + 1]++;
  }
  for (let x = 0; x < width; x++) {
    at[x + 1] += at[x];
  }
  const rows = new Int32Array(changes);
  const next = at.slice(0, width);
  for (let c = 0; c < changes; c++) {
    const i = changeAt[c];
    const x = i % width;
    rows[next[x]++] = (i - x) / width;
  }
  const counts: number[] = [];
  // column-major position of the last run boundary; before the first pixel the class is background
  let boundary = 0;
  let above = 0;
  for (let x = 0, column = 0; x < width && height > 0; x++, column += height) {
    const top = mask[x] !== 0 ? 1 : 0;
    if (top !== above) {
      counts.push(column - boundary);
      boundary = column;
    }
    for (let c = at[x]; c < at[x + 1]; c++) {
      counts.push(column + rows[c] - boundary);
      boundary = column + rows[c];
    }
    above = mask[(height - 1) * width + x] !== 0 ? 1 : 0;
  }
  counts.push(width * height - boundary);
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
