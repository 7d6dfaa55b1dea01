/**
 * Frame-level segmentation metrics, equal to the official evaluators (DAVIS 2017 toolkit, MeViS tools,
 * AVSBench utilities) to 1e-6 including their edge cases. Masks are row-major `Uint8Array`s of
 * `width * height` where any non-zero value is foreground.
 *
 * Definitions and reference values: docs/METRICS.md. Implementation notes:
 * - J and F work on bit-packed masks (32 pixels to a word): boundary maps, the disk dilation (each
 *   boundary row dilated horizontally on words, then ORed into the rows the disk covers) and the
 *   counts (popcount) handle 32 pixels at a time and give exactly the per-pixel values;
 * - F only needs counts, so the dilated maps are never compared pixel by pixel twice.
 */
import { WasmKernels, WasmLayout } from '../wasm';
import { AVSS_CLASSES } from '../masks/labelPng';
import { WASM_BASE64 as MASK_BITS_WASM } from './maskBits.wasm';

/** DAVIS `bound_th`: boundary tolerance as a fraction of the image diagonal. */
export const BOUND_TH = 0.008;

/** Boundary tolerance in pixels: `ceil(0.008 * sqrt(h^2 + w^2))` (8 at 854x480, 1 at 64x48); `th >= 1` is taken as pixels. */
export function boundPix(width: number, height: number, boundTh = BOUND_TH): number {
  return boundTh >= 1 ? boundTh : Math.ceil(boundTh * Math.sqrt(height * height + width * width));
}

// ---------------------------------------------------------------------------------------------
// Bit-packed masks: each row is `ceil(width / 32)` 32-bit words, pixel x of a row is bit (x & 31)
// of word (x >> 5); bits past the last column are always 0. Boundary maps, the disk dilation and every
// count work on whole words (32 pixels at a time) and give exactly the per-pixel values.
// ---------------------------------------------------------------------------------------------

/** A binary mask packed 32 pixels to a 32-bit word, row by row (see {@link packMask}). */
export interface PackedMask {
  width: number;
  height: number;
  /** Words per row: `ceil(width / 32)`. */
  stride: number;
  /** `height * stride` words; bits past the last column are 0. */
  words: Uint32Array;
  /**
   * Rows that may hold set bits: every row before `rowFrom` or after `rowTo` is all zero (an empty
   * mask may have `rowFrom > rowTo`). The kernels visit only these rows. Absent: every row.
   */
  rowFrom?: number;
  rowTo?: number;
}

/** First and last row that may hold set bits (see {@link PackedMask.rowFrom}). */
function rowSpan(m: PackedMask): [number, number] {
  return [m.rowFrom ?? 0, m.rowTo ?? m.height - 1];
}

/** Number of set bits of a 32-bit word. */
function popcount32(x: number): number {
  x -= (x >>> 1) & 0x55555555;
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  x = (x + (x >>> 4)) & 0x0f0f0f0f;
  return Math.imul(x, 0x01010101) >>> 24;
}

/** Set bits of `words[from .. to)`. */
function popcountRange(words: Uint32Array, from = 0, to = words.length): number {
  let c = 0;
  for (let i = from; i < to; i++) {
    const w = words[i];
    if (w !== 0) {
      c += popcount32(w);
    }
  }
  return c;
}

/** Mask of the valid bits of a row's last word. */
function lastWordMask(width: number): number {
  const rem = width & 31;
  return rem === 0 ? 0xffffffff : (1 << rem) - 1;
}

/** 0x01 in every byte where the byte of `v` is non-zero, 0x00 elsewhere (bits never cross bytes). */
function nonZeroBytes(v: number): number {
  v |= v >>> 4;
  v |= v >>> 2;
  v |= v >>> 1;
  return v & 0x01010101;
}

/** The four 0/1 bytes of `x` (as {@link nonZeroBytes} returns them) as bits 0..3. */
function gather4(x: number): number {
  return (Math.imul(x, 0x00204081) >>> 21) & 0xf;
}

/** Word buffers handed back by {@link releaseFeatures}, reused for the next masks of the same size. */
const wordPool: Uint32Array[] = [];
const WORD_POOL_KEPT = 48;

/** `n` zeroed words, from the pool when it holds a buffer of that length. */
function takeWords(n: number): Uint32Array {
  for (let i = wordPool.length - 1; i >= 0; i--) {
    if (wordPool[i].length === n) {
      const w = wordPool[i];
      wordPool[i] = wordPool[wordPool.length - 1];
      wordPool.pop();
      return w.fill(0);
    }
  }
  return new Uint32Array(n);
}

/**
 * Hands the buffers of features that are no longer needed back for reuse (a sequence evaluation does
 * this after each frame, sparing the garbage collector). The features must not be read afterwards.
 */
export function releaseFeatures(features: MaskFeatures[]): void {
  for (const f of features) {
    for (const w of new Set([f.mask.words, f.boundary.words, f.dilated.words])) {
      if (w.length > 0 && wordPool.length < WORD_POOL_KEPT) {
        wordPool.push(w);
      }
    }
  }
}

/** The byte-scanning and dilation kernels in WebAssembly SIMD (maskBits.wat); the JavaScript loops below are their reference and serve small images. */
const simd = new WasmKernels<{
  bits: (src: number, words: number, equal: number, value: number, out: number) => void;
  label_rows: (labels: number, width: number, height: number, first: number, last: number) => void;
  dilate: (src: number, out: number, stride: number, from: number, to: number, height: number, r: number, half: number, scratch: number) => void;
}>(MASK_BITS_WASM);

/** Below this many bytes the JavaScript loops are as fast as copying into the module and back. */
const SIMD_MIN_BYTES = 4096;

/** Scratch of the flat bit streams, kept between calls (one thread runs one call at a time). */
let flatScratch: Uint32Array = new Uint32Array(0);
let flatVoidScratch: Uint32Array = new Uint32Array(0);
let alignScratch = new Uint8Array(0);

/**
 * 0x01 in every byte of `v` that is selected: non-zero bytes when `eq` is false, bytes equal to the
 * byte repeated in `rep` when `eq` is true (equal bytes XOR to zero).
 */
function selectBytes(v: number, eq: boolean, rep: number): number {
  return eq ? nonZeroBytes(v ^ rep) ^ 0x01010101 : nonZeroBytes(v);
}

/**
 * Bits of the whole image as one stream (bit i = pixel i), 32 pixels per step through aligned 32-bit
 * reads: non-zero pixels, or (`eq`) pixels equal to `value`.
 */
function flatBits(bytes: Uint8Array, eq: boolean, value: number, into: Uint32Array, from = 0, to = bytes.length): Uint32Array {
  const n = bytes.length;
  const nw = (n + 31) >>> 5;
  const flat = into.length >= nw + 1 ? into : new Uint32Array(nw + 1);
  const rep = Math.imul(value & 0xff, 0x01010101);
  const full = n >>> 5;
  // only the words of pixels [from, to) are computed; the callers read no others (but for bits they mask)
  const k0 = from >>> 5;
  const kEnd = Math.min(nw, (to + 31) >>> 5);
  const e = Math.min(full, kEnd);
  if ((e - k0) * 32 >= SIMD_MIN_BYTES) {
    // whole words through the SIMD kernel (the same bits as the loop below)
    const lay = new WasmLayout();
    const srcAt = lay.take((e - k0) * 32);
    const outAt = lay.take((e - k0) * 4);
    const buffer = simd.memory(lay.size);
    new Uint8Array(buffer).set(bytes.subarray(k0 * 32, e * 32), srcAt);
    simd.exports.bits(srcAt, e - k0, eq ? 1 : 0, value & 0xff, outAt);
    flat.set(new Uint32Array(buffer, outAt, e - k0), k0);
  } else {
    flatWords(bytes, eq, rep, flat, k0, e);
  }
  // the partial last word and the one past it (read by the row shifts); a larger scratch's rest is never read
  for (let k = Math.max(full, kEnd); k <= nw; k++) {
    flat[k] = 0;
  }
  if (kEnd <= full) {
    return flat;
  }
  for (let k = full; k < kEnd; k++) {
    flat[k] = 0;
  }
  for (let i = full << 5; i < n; i++) {
    if (selectBytes(bytes[i], eq, rep) & 1) {
      flat[i >>> 5] |= 1 << (i & 31);
    }
  }
  return flat;
}

/** Words `k0 .. e-1` of {@link flatBits} (whole 32-byte groups), in JavaScript: 32 pixels per step through aligned 32-bit reads. */
function flatWords(bytes: Uint8Array, eq: boolean, rep: number, flat: Uint32Array, k0: number, e: number): void {
  const n = bytes.length;
  const value = rep & 0xff;
  let src = bytes;
  if ((bytes.byteOffset & 3) !== 0) {
    if (alignScratch.length < n) {
      alignScratch = new Uint8Array(n);
    }
    alignScratch.set(bytes);
    src = alignScratch;
  }
  const u32 = new Uint32Array(src.buffer, src.byteOffset, (n >>> 5) * 8);
  // zero bytes are never selected unless looking for value 0: background words skip the gathering
  const zeroSelected = eq && value === 0;
  for (let k = k0, i = k0 * 8; k < e; k++, i += 8) {
    if (!zeroSelected && (u32[i] | u32[i + 1] | u32[i + 2] | u32[i + 3] | u32[i + 4] | u32[i + 5] | u32[i + 6] | u32[i + 7]) === 0) {
      flat[k] = 0;
      continue;
    }
    flat[k] = (gather4(selectBytes(u32[i], eq, rep)) | (gather4(selectBytes(u32[i + 1], eq, rep)) << 4)
      | (gather4(selectBytes(u32[i + 2], eq, rep)) << 8) | (gather4(selectBytes(u32[i + 3], eq, rep)) << 12)
      | (gather4(selectBytes(u32[i + 4], eq, rep)) << 16) | (gather4(selectBytes(u32[i + 5], eq, rep)) << 20)
      | (gather4(selectBytes(u32[i + 6], eq, rep)) << 24) | (gather4(selectBytes(u32[i + 7], eq, rep)) << 28)) >>> 0;
  }
}

/** Cuts a flat bit stream into rows of `stride` words, clearing `clear` bits where given. */
function rowsFromFlat(flat: Uint32Array, width: number, height: number, clear: Uint32Array | undefined, rowFrom = 0, rowTo = height - 1): PackedMask {
  const stride = (width + 31) >>> 5;
  const words = takeWords(stride * height);
  const tail = lastWordMask(width);
  const lastK = stride - 1;
  for (let y = rowFrom; y <= rowTo; y++) {
    const start = y * width;
    for (let k = 0; k < stride; k++) {
      const pos = start + (k << 5);
      const q = pos >>> 5;
      const sh = pos & 31;
      let v = sh === 0 ? flat[q] : (flat[q] >>> sh) | (flat[q + 1] << (32 - sh));
      if (clear) {
        v &= ~(sh === 0 ? clear[q] : (clear[q] >>> sh) | (clear[q + 1] << (32 - sh)));
      }
      words[y * stride + k] = k === lastK ? v & tail : v;
    }
  }
  return { width, height, stride, words, rowFrom, rowTo };
}

/** Packs a mask (any non-zero value is foreground) into bits; pixels where `voidMask` is non-zero are cleared. */
export function packMask(mask: Uint8Array, width: number, height: number, voidMask?: Uint8Array): PackedMask {
  if (width === 0 || height === 0) {
    return { width, height, stride: (width + 31) >>> 5, words: new Uint32Array(0) };
  }
  const m = mask.length === width * height ? mask : mask.subarray(0, width * height);
  flatScratch = flatBits(m, false, 0, flatScratch);
  let clear: Uint32Array | undefined;
  if (voidMask) {
    flatVoidScratch = flatBits(voidMask.subarray(0, width * height), false, 0, flatVoidScratch);
    clear = flatVoidScratch;
  }
  return rowsFromFlat(flatScratch, width, height, clear);
}

/**
 * The void pixels (value 255) of the first `n` pixels of a ground-truth label map as a flat bit stream
 * (bit i = pixel i), for {@link packLabel}: build it once per frame, not once per object.
 */
export function voidBits(labels: Uint8Array, n: number): Uint32Array {
  return flatBits(labels.subarray(0, n), true, 255, new Uint32Array(((n + 31) >>> 5) + 1));
}

/**
 * Packs the pixels of a label map equal to `label` (one object of a DAVIS label map); pixels set in
 * `clear` ({@link voidBits} of the ground truth: its void) are cleared.
 */
export function packLabel(labels: Uint8Array, label: number, width: number, height: number, clear?: Uint32Array, rows?: LabelRows): PackedMask {
  if (width === 0 || height === 0) {
    return { width, height, stride: (width + 31) >>> 5, words: new Uint32Array(0) };
  }
  const rowFrom = rows ? rows.first[label & 0xff] : 0;
  const rowTo = rows ? rows.last[label & 0xff] : height - 1;
  if (rowFrom > rowTo) {
    return { width, height, stride: (width + 31) >>> 5, words: takeWords(((width + 31) >>> 5) * height), rowFrom: height, rowTo: -1 };
  }
  flatScratch = flatBits(labels.subarray(0, width * height), true, label, flatScratch, rowFrom * width, (rowTo + 1) * width);
  return rowsFromFlat(flatScratch, width, height, clear, rowFrom, rowTo);
}

/** Per label value (index 0..255): the first and last row holding it; `first > last` when absent. */
export interface LabelRows {
  first: Int32Array;
  last: Int32Array;
  /** Largest label present, 0 when there is none; `max255` counts 255 too, `max` does not. */
  max: number;
  max255: number;
}

/**
 * One pass over a label map: the rows each label occupies ({@link LabelRows}), so that
 * {@link packLabel} and the kernels after it visit only those rows. Background words (4 zero pixels)
 * are skipped whole.
 */
export function labelRows(labels: Uint8Array, width: number, height: number): LabelRows {
  const first = new Int32Array(256).fill(height);
  const last = new Int32Array(256).fill(-1);
  if (width * height >= SIMD_MIN_BYTES) {
    // the SIMD kernel (the same rows as the loop below)
    const lay = new WasmLayout();
    const firstAt = lay.take(1024);
    const lastAt = lay.take(1024);
    const labelsAt = lay.take(width * height);
    const buffer = simd.memory(lay.size);
    new Int32Array(buffer, firstAt, 256).set(first);
    new Int32Array(buffer, lastAt, 256).set(last);
    new Uint8Array(buffer).set(labels.subarray(0, width * height), labelsAt);
    simd.exports.label_rows(labelsAt, width, height, firstAt, lastAt);
    first.set(new Int32Array(buffer, firstAt, 256));
    last.set(new Int32Array(buffer, lastAt, 256));
  } else {
    labelRowsJs(labels, width, height, first, last);
  }
  let max = 0;
  let max255 = 0;
  for (let v = 1; v < 256; v++) {
    if (last[v] >= 0) {
      max255 = v;
      if (v < 255) {
        max = v;
      }
    }
  }
  return { first, last, max, max255 };
}

/** {@link labelRows}' scan in JavaScript: background words (4 zero pixels) are skipped whole. */
function labelRowsJs(labels: Uint8Array, width: number, height: number, first: Int32Array, last: Int32Array): void {
  const see = (v: number, y: number): void => {
    if (last[v] < 0) {
      first[v] = y;
    }
    last[v] = y;
  };
  const aligned = (labels.byteOffset & 3) === 0;
  const words = new Uint32Array(labels.buffer, aligned ? labels.byteOffset : 0, aligned ? (width * height) >>> 2 : 0);
  for (let y = 0; y < height; y++) {
    const start = y * width;
    const end = start + width;
    // bytes before the first whole word of the row, the row's whole words (background words skipped), the bytes after
    const k0 = aligned ? (start + 3) >>> 2 : 0;
    const k1 = aligned ? end >>> 2 : 0;
    const mid0 = aligned && k1 > k0 ? k0 << 2 : end;
    for (let i = start; i < mid0; i++) {
      if (labels[i] !== 0) {
        see(labels[i], y);
      }
    }
    if (mid0 === end) {
      continue;
    }
    // most rows of a label map are background: OR the row's words first
    let any = 0;
    for (let k = k0; k < k1; k++) {
      any |= words[k];
    }
    for (let k = any === 0 ? k1 : k0; k < k1; k++) {
      const w = words[k];
      if (w === 0) {
        continue;
      }
      const b0 = w & 0xff;
      const b1 = (w >>> 8) & 0xff;
      const b2 = (w >>> 16) & 0xff;
      const b3 = w >>> 24;
      if (b0 !== 0) {
        see(b0, y);
      }
      if (b1 !== 0 && b1 !== b0) {
        see(b1, y);
      }
      if (b2 !== 0 && b2 !== b1) {
        see(b2, y);
      }
      if (b3 !== 0 && b3 !== b2) {
        see(b3, y);
      }
    }
    for (let i = k1 << 2; i < end; i++) {
      if (labels[i] !== 0) {
        see(labels[i], y);
      }
    }
  }
}

/** Unpacks bits into a 0/1 byte mask. */
export function unpackMask(p: PackedMask): Uint8Array {
  const { width, height, stride, words } = p;
  const out = new Uint8Array(width * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      out[y * width + x] = (words[y * stride + (x >>> 5)] >>> (x & 31)) & 1;
    }
  }
  return out;
}

/**
 * Region similarity J (DAVIS `db_eval_iou`): |P∩G \ V| / |P∪G \ V|, and 1 when the union is empty.
 * `voidMask` pixels (non-zero) are ignored.
 */
export function jaccard(pred: Uint8Array, gt: Uint8Array, voidMask?: Uint8Array): number {
  let inter = 0;
  let union = 0;
  const n = gt.length;
  for (let i = 0; i < n; i++) {
    if (voidMask && voidMask[i] !== 0) {
      continue;
    }
    const p = pred[i] !== 0;
    const g = gt[i] !== 0;
    inter += p && g ? 1 : 0;
    union += p || g ? 1 : 0;
  }
  return union === 0 ? 1 : inter / union;
}

/** J of two packed masks of the same size (void already cleared when it applies). */
function jaccardPacked(pred: PackedMask, gt: PackedMask): number {
  const a = pred.words;
  const b = gt.words;
  let inter = 0;
  let union = 0;
  // rows outside both masks' spans are zero in both
  const [pf, pt] = rowSpan(pred);
  const [gf, gt2] = rowSpan(gt);
  const from = Math.min(pf, gf) * gt.stride;
  const to = Math.min(b.length, (Math.max(pt, gt2) + 1) * gt.stride);
  for (let i = from; i < to; i++) {
    const p = a[i];
    const g = b[i];
    if ((p | g) !== 0) {
      inter += popcount32(p & g);
      union += popcount32(p | g);
    }
  }
  return union === 0 ? 1 : inter / union;
}

/**
 * Boundary map of a binary mask (DAVIS `_seg2bmap`): a pixel is on the boundary when it differs from
 * its right, lower or lower-right neighbour (zero outside); the last row compares only with the right
 * neighbour, the last column only with the lower one, and the bottom-right pixel is 0.
 */
export function boundaryMap(mask: Uint8Array, width: number, height: number): Uint8Array {
  return unpackMask(boundaryPacked(packMask(mask, width, height)));
}

/** {@link boundaryMap} on packed bits. */
function boundaryPacked(m: PackedMask): PackedMask {
  const { width, height, stride, words: b } = m;
  const words = takeWords(b.length);
  if (width === 0 || height === 0) {
    return { width, height, stride, words };
  }
  const lastK = stride - 1;
  const lastBit = 1 << ((width - 1) & 31);
  // a boundary pixel differs from itself or from the row below: only the mask's rows and the one above
  const [from, to] = rowSpan(m);
  if (from > to) {
    return { width, height, stride, words, rowFrom: height, rowTo: -1 };
  }
  const rowFrom = Math.max(0, from - 1);
  for (let y = rowFrom; y <= to; y++) {
    const row = y * stride;
    const lastRow = y === height - 1;
    const below = row + stride;
    for (let k = 0; k < stride; k++) {
      const v = b[row + k];
      const vn = k < lastK ? b[row + k + 1] : 0;
      const e = (v >>> 1) | (vn << 31); // right neighbour
      if (lastRow) {
        let o = v ^ e;
        if (k === lastK) {
          o &= ~lastBit; // bottom-right pixel
        }
        words[row + k] = o;
        continue;
      }
      const s = b[below + k];
      const sn = k < lastK ? b[below + k + 1] : 0;
      const se = (s >>> 1) | (sn << 31);
      let o = (v ^ e) | (v ^ s) | (v ^ se);
      if (k === lastK) {
        // last column: only the pixel below
        o = (o & ~lastBit) | ((v ^ s) & lastBit);
      }
      words[row + k] = o;
    }
  }
  return { width, height, stride, words, rowFrom, rowTo: to };
}

/** Half-widths of the rows of a disk of radius r (skimage `disk`: dy^2 + dx^2 <= r^2), index dy + r. */
function diskHalfWidths(r: number): Int32Array {
  const out = new Int32Array(2 * r + 1);
  for (let dy = -r; dy <= r; dy++) {
    out[dy + r] = Math.floor(Math.sqrt(r * r - dy * dy) + 1e-9);
  }
  return out;
}

/** Binary dilation of `map` by a disk of radius r (pixels outside the image are ignored). */
export function dilateDisk(map: Uint8Array, width: number, height: number, r: number): Uint8Array {
  return unpackMask(dilateDiskPacked(packMask(map, width, height), r));
}

/** Scratch rows of {@link dilateDiskPacked}, kept between calls (one thread runs one call at a time). */
let dilateScratch = new Uint32Array(0);

/**
 * {@link dilateDisk} on packed bits. Each row of the input is dilated horizontally by 0..r pixels
 * (one pixel per step, on words), and row y + dy of the output ORs in the row dilated by the disk's
 * half-width at dy.
 */
function dilateDiskPacked(m: PackedMask, r: number): PackedMask {
  const { width, height, stride, words: src } = m;
  const words = takeWords(src.length);
  if (width === 0 || height === 0) {
    return { width, height, stride, words };
  }
  const half = diskHalfWidths(r);
  const [from, to] = rowSpan(m);
  const rowFrom = Math.max(0, from - r);
  const rowTo = Math.min(height - 1, to + r);
  if (from <= to && (to - from + 1) * stride * 4 >= SIMD_MIN_BYTES) {
    // the SIMD kernel (the same words as the loops below)
    const lay = new WasmLayout();
    const halfAt = lay.take(4 * half.length);
    const srcAt = lay.take(4 * (to - from + 1) * stride);
    const outAt = lay.take(4 * (rowTo - rowFrom + 1) * stride + 16);
    const scratchAt = lay.take(4 * (r + 1) * (stride + 8));
    const buffer = simd.memory(lay.size);
    new Int32Array(buffer, halfAt, half.length).set(half);
    new Uint32Array(buffer, srcAt, (to - from + 1) * stride).set(src.subarray(from * stride, (to + 1) * stride));
    simd.exports.dilate(srcAt, outAt, stride, from, to, height, r, halfAt, scratchAt);
    words.set(new Uint32Array(buffer, outAt, (rowTo - rowFrom + 1) * stride), rowFrom * stride);
  } else {
    dilateRowsJs(src, words, height, stride, r, half, from, to);
  }
  // bits past the last column may have been set by the horizontal steps
  const tail = lastWordMask(width);
  const lastK = stride - 1;
  for (let y = rowFrom; y <= rowTo; y++) {
    words[y * stride + lastK] &= tail;
  }
  return { width, height, stride, words, rowFrom, rowTo };
}

/** {@link dilateDiskPacked}'s rows in JavaScript: ORs into `words` the dilation of rows `from..to` of `src`. */
function dilateRowsJs(src: Uint32Array, words: Uint32Array, height: number, stride: number, r: number, half: Int32Array, from: number, to: number): void {
  const need = (r + 1) * stride;
  if (dilateScratch.length < need) {
    dilateScratch = new Uint32Array(need);
  }
  const scratch = dilateScratch; // row dilated by h at [h * stride, (h + 1) * stride)
  const lastK = stride - 1;
  const reach = (r + 31) >>> 5;
  for (let y = from; y <= to; y++) {
    const row = y * stride;
    // words holding boundary pixels, widened by the words the dilation can reach
    let lo = -1;
    let hi = -1;
    for (let k = 0; k < stride; k++) {
      if (src[row + k] !== 0) {
        if (lo < 0) {
          lo = k;
        }
        hi = k;
      }
    }
    if (lo < 0) {
      continue;
    }
    lo = Math.max(0, lo - reach);
    hi = Math.min(lastK, hi + reach);
    for (let k = lo; k <= hi; k++) {
      scratch[k] = src[row + k];
    }
    for (let h = 1; h <= r; h++) {
      const from = (h - 1) * stride;
      const to = h * stride;
      for (let k = lo; k <= hi; k++) {
        const v = scratch[from + k];
        const prev = k > lo ? scratch[from + k - 1] : 0;
        const next = k < hi ? scratch[from + k + 1] : 0;
        scratch[to + k] = v | (v << 1) | (prev >>> 31) | (v >>> 1) | (next << 31);
      }
    }
    const y0 = Math.max(0, y - r);
    const y1 = Math.min(height - 1, y + r);
    for (let yy = y0; yy <= y1; yy++) {
      const from = half[yy - y + r] * stride;
      const dst = yy * stride;
      for (let k = lo; k <= hi; k++) {
        words[dst + k] |= scratch[from + k];
      }
    }
  }
}

/** Boundary and dilated boundary of one mask, computed once and reused for every pair it enters. */
export interface MaskFeatures {
  /** The mask (void pixels cleared), packed. */
  mask: PackedMask;
  boundary: PackedMask;
  dilated: PackedMask;
  boundaryCount: number;
  /** Rows holding boundary pixels (first > last when there are none). */
  firstRow: number;
  lastRow: number;
}

/** Precomputes what J and F need for a mask. `voidMask` pixels are cleared first (DAVIS does this). */
export function maskFeatures(mask: Uint8Array, width: number, height: number, voidMask?: Uint8Array, boundTh = BOUND_TH): MaskFeatures {
  return packedFeatures(packMask(mask, width, height, voidMask), boundTh);
}

/** {@link maskFeatures} of an already packed mask (void already cleared). */
export function packedFeatures(m: PackedMask, boundTh = BOUND_TH): MaskFeatures {
  const { width, height, stride } = m;
  const boundary = boundaryPacked(m);
  let count = 0;
  let firstRow = height;
  let lastRow = -1;
  const [from, to] = rowSpan(boundary);
  for (let y = from; y <= to; y++) {
    const c = popcountRange(boundary.words, y * stride, (y + 1) * stride);
    if (c > 0) {
      count += c;
      if (y < firstRow) {
        firstRow = y;
      }
      lastRow = y;
    }
  }
  const dilated = count === 0 ? boundary : dilateDiskPacked(boundary, boundPix(width, height, boundTh));
  return { mask: m, boundary, dilated, boundaryCount: count, firstRow, lastRow };
}

/** J of two masks' features (the masks as packed, void cleared). */
export function jaccardFeatures(pred: MaskFeatures, gt: MaskFeatures): number {
  return jaccardPacked(pred.mask, gt.mask);
}

/** Contour accuracy with its parts. */
export interface BoundaryScore {
  precision: number;
  recall: number;
  f: number;
}

/** F from precomputed features (DAVIS `f_measure` edge cases included). */
export function fMeasureFeatures(pred: MaskFeatures, gt: MaskFeatures): BoundaryScore {
  const nFg = pred.boundaryCount;
  const nGt = gt.boundaryCount;
  let precision: number;
  let recall: number;
  if (nFg === 0 && nGt > 0) {
    precision = 1;
    recall = 0;
  } else if (nFg > 0 && nGt === 0) {
    precision = 0;
    recall = 1;
  } else if (nFg === 0 && nGt === 0) {
    precision = 1;
    recall = 1;
  } else {
    let fgMatch = 0;
    let gtMatch = 0;
    const pb = pred.boundary.words;
    const gb = gt.boundary.words;
    const pd = pred.dilated.words;
    const gd = gt.dilated.words;
    // only rows that hold a boundary pixel of either mask can match
    const stride = pred.boundary.stride;
    const from = Math.min(pred.firstRow, gt.firstRow) * stride;
    const to = (Math.max(pred.lastRow, gt.lastRow) + 1) * stride;
    for (let i = from; i < to; i++) {
      const a = pb[i] & gd[i];
      const b = gb[i] & pd[i];
      if (a !== 0) {
        fgMatch += popcount32(a);
      }
      if (b !== 0) {
        gtMatch += popcount32(b);
      }
    }
    precision = fgMatch / nFg;
    recall = gtMatch / nGt;
  }
  const f = precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall);
  return { precision, recall, f };
}

/** Contour accuracy F (DAVIS `db_eval_boundary`) of one frame. */
export function fMeasure(pred: Uint8Array, gt: Uint8Array, width: number, height: number, voidMask?: Uint8Array, boundTh = BOUND_TH): BoundaryScore {
  return fMeasureFeatures(maskFeatures(pred, width, height, voidMask, boundTh), maskFeatures(gt, width, height, voidMask, boundTh));
}

/** Mean / recall / decay of per-frame values (DAVIS `db_statistics`). */
export interface DavisStatistics {
  /** nan-mean over frames. */
  mean: number;
  /** Fraction of frames with a value > 0.5 (NaN frames count as not above). */
  recall: number;
  /** Mean of the first quarter minus mean of the last quarter (quarters as the official code cuts them). */
  decay: number;
}

function nanMean(values: ArrayLike<number>, from = 0, to = values.length): number {
  let sum = 0;
  let n = 0;
  for (let i = from; i < to; i++) {
    const v = values[i];
    if (!Number.isNaN(v)) {
      sum += v;
      n++;
    }
  }
  return n === 0 ? Number.NaN : sum / n;
}

/**
 * DAVIS `db_statistics`. The quarters are those of the official code: with
 * `ids = round(linspace(1, N, 5) + 1e-10) - 1`, bin k is `values[ids[k] .. ids[k+1]]` inclusive, so
 * neighbouring bins share a frame. (The official code casts `ids` to uint8, which wraps for sequences
 * longer than 256 frames; DAVIS has none, and here the ids are not wrapped.)
 */
export function davisStatistics(values: ArrayLike<number>): DavisStatistics {
  const n = values.length;
  const mean = nanMean(values);
  let above = 0;
  for (let i = 0; i < n; i++) {
    if (values[i] > 0.5) {
      above++;
    }
  }
  const recall = n === 0 ? Number.NaN : above / n;
  if (n === 0) {
    return { mean, recall, decay: Number.NaN };
  }
  const ids: number[] = [];
  const step = (n - 1) / 4;
  for (let k = 0; k <= 4; k++) {
    const v = k === 4 ? n : k * step + 1;
    ids.push(Math.round(v + 1e-10) - 1);
  }
  const first = nanMean(values, ids[0], Math.min(n, ids[1] + 1));
  const last = nanMean(values, ids[3], Math.min(n, ids[4] + 1));
  return { mean, recall, decay: first - last };
}

// ---------------------------------------------------------------------------------------------
// AVSBench (S4 / MS3 / V2-binary) and AVSS
// ---------------------------------------------------------------------------------------------

/**
 * AVSBench IoU of one frame (`mask_iou`): inter / (union + 1e-7); when the ground truth is empty the
 * true-negative form is used (inter = |¬P ∧ ¬G|, union = H·W).
 */
export function avsIoU(pred: Uint8Array, gt: Uint8Array): number {
  let inter = 0;
  let union = 0;
  let gtArea = 0;
  let bothEmpty = 0;
  for (let i = 0; i < gt.length; i++) {
    const p = pred[i] !== 0;
    const g = gt[i] !== 0;
    if (g) {
      gtArea++;
    }
    if (p && g) {
      inter++;
    }
    if (p || g) {
      union++;
    } else {
      bothEmpty++;
    }
  }
  if (gtArea === 0) {
    return bothEmpty / (gt.length + 1e-7);
  }
  return inter / (union + 1e-7);
}

/** Number of thresholds of the AVSBench F curve. */
const AVS_F_THRESHOLDS = 255;
/** beta^2 of the AVSBench F-measure. */
const AVS_F_BETA2 = 0.3;

let thresholdCache: Float32Array | undefined;
/** `torch.linspace(0, 1 - 1e-10, 255)` in float32 (as torch computes it). */
function avsThresholds(): Float32Array {
  if (!thresholdCache) {
    thresholdCache = new Float32Array(AVS_F_THRESHOLDS);
    const end = 1 - 1e-10;
    for (let i = 0; i < AVS_F_THRESHOLDS; i++) {
      thresholdCache[i] = (end * i) / (AVS_F_THRESHOLDS - 1);
    }
  }
  return thresholdCache;
}

/**
 * The AVSBench F curve of one frame: F-beta (beta^2 = 0.3) at 255 thresholds, `pred >= th`.
 * `pred` holds 8-bit scores (a binary mask gives 0/255, read as 0/1); the score of a pixel is value/255.
 */
function avsFCurve(pred: Uint8Array, gt: Uint8Array, scoreIsBinary = true): Float64Array {
  // histogram of prediction values, overall and inside the ground truth
  const all = new Float64Array(256);
  const inGt = new Float64Array(256);
  let gtArea = 0;
  for (let i = 0; i < gt.length; i++) {
    const v = scoreIsBinary ? (pred[i] !== 0 ? 255 : 0) : pred[i];
    all[v]++;
    if (gt[i] !== 0) {
      inGt[v]++;
      gtArea++;
    }
  }
  const th = avsThresholds();
  const curve = new Float64Array(AVS_F_THRESHOLDS);
  const scores = new Float32Array(256);
  for (let v = 0; v < 256; v++) {
    scores[v] = v / 255;
  }
  for (let t = 0; t < AVS_F_THRESHOLDS; t++) {
    let predArea = 0;
    let tp = 0;
    for (let v = 0; v < 256; v++) {
      if (scores[v] >= th[t]) {
        predArea += all[v];
        tp += inGt[v];
      }
    }
    const prec = tp / (predArea + 1e-20);
    const rec = tp / (gtArea + 1e-20);
    const f = ((1 + AVS_F_BETA2) * prec * rec) / (AVS_F_BETA2 * prec + rec);
    curve[t] = Number.isNaN(f) ? 0 : f;
  }
  return curve;
}

/**
 * AVSBench `Eval_Fmeasure` over a group of frames (one call): F curves are averaged over the frames
 * whose ground truth is not empty, and the maximum over thresholds is returned; 0 when every ground
 * truth is empty.
 */
export function avsFMeasure(preds: Uint8Array[], gts: Uint8Array[], scoreIsBinary = true): number {
  const sum = new Float64Array(AVS_F_THRESHOLDS);
  let frames = 0;
  for (let k = 0; k < gts.length; k++) {
    if (!gts[k].some((v) => v !== 0)) {
      continue;
    }
    const c = avsFCurve(preds[k], gts[k], scoreIsBinary);
    for (let t = 0; t < AVS_F_THRESHOLDS; t++) {
      sum[t] += c[t];
    }
    frames++;
  }
  if (frames === 0) {
    return 0;
  }
  let best = 0;
  for (let t = 0; t < AVS_F_THRESHOLDS; t++) {
    best = Math.max(best, sum[t] / frames);
  }
  return best;
}

/** How AVS metrics are grouped before averaging. */
export type AvsConvention = 'per-video' | 'per-frame';

/**
 * M_J and M_F of an AVS split. `per-video` (AVSBench): each video's frames form one call and the
 * dataset value is the mean over videos. `per-frame` (AL-Ref-SAM 2 code): every frame is its own call,
 * so an empty-gt frame adds F = 0, and the mean is over frames.
 */
export function avsScores(videos: Array<{ preds: Uint8Array[]; gts: Uint8Array[] }>, convention: AvsConvention, scoreIsBinary = true): { mJ: number; mF: number; count: number } {
  let sumJ = 0;
  let sumF = 0;
  let count = 0;
  for (const v of videos) {
    if (convention === 'per-video') {
      if (v.gts.length === 0) {
        continue;
      }
      let j = 0;
      for (let k = 0; k < v.gts.length; k++) {
        j += avsIoU(v.preds[k], v.gts[k]);
      }
      sumJ += j / v.gts.length;
      sumF += avsFMeasure(v.preds, v.gts, scoreIsBinary);
      count++;
    } else {
      for (let k = 0; k < v.gts.length; k++) {
        sumJ += avsIoU(v.preds[k], v.gts[k]);
        sumF += avsFMeasure([v.preds[k]], [v.gts[k]], scoreIsBinary);
        count++;
      }
    }
  }
  return { mJ: count === 0 ? 0 : sumJ / count, mF: count === 0 ? 0 : sumF / count, count };
}

/** Side of the square AVSS masks are resized to (nearest) before scoring. */
export const AVSS_SIZE = 224;

/** Result of {@link AvssAccumulator.result}. */
export interface AvssScores {
  /** Mean IoU over all classes (classes never present score 0, as the official code does). */
  mIoU: number;
  /** Mean F over all classes. */
  fScore: number;
  /** Means without the background class. */
  mIoUNoBg: number;
  fScoreNoBg: number;
  perClassIoU: number[];
  perClassF: number[];
  /** Frames in which each class was predicted or present. */
  classFrames: number[];
}

/**
 * Per-class IoU and F of AVSS (AVSBench `_batch_miou_fscore`), accumulated over frames.
 * Label maps hold class indices (0 = background).
 */
export class AvssAccumulator {
  private readonly _ious: Float64Array;
  private readonly _fs: Float64Array;
  private readonly _count: Float64Array;

  constructor(private readonly _classes = AVSS_CLASSES) {
    this._ious = new Float64Array(_classes);
    this._fs = new Float64Array(_classes);
    this._count = new Float64Array(_classes);
  }

  /** Adds one frame (both maps of the same size; resize with `resizeNearest` first). */
  add(pred: Uint8Array, gt: Uint8Array): void {
    const c = this._classes;
    const areaPred = new Float64Array(c);
    const areaGt = new Float64Array(c);
    const inter = new Float64Array(c);
    for (let i = 0; i < gt.length; i++) {
      const p = Math.min(pred[i], c - 1);
      const g = Math.min(gt[i], c - 1);
      areaPred[p]++;
      areaGt[g]++;
      if (p === g) {
        inter[p]++;
      }
    }
    for (let k = 0; k < c; k++) {
      const union = areaPred[k] + areaGt[k] - inter[k];
      this._ious[k] += inter[k] / (2.220446049250313e-16 + union);
      if (union > 0) {
        this._count[k]++;
      }
      const precision = inter[k] / areaPred[k];
      const recall = inter[k] / areaGt[k];
      const f = ((1 + AVS_F_BETA2) * precision * recall) / (AVS_F_BETA2 * precision + recall);
      this._fs[k] += Number.isNaN(f) ? 0 : f;
    }
  }

  /** The running sums (per class: IoU sum, F sum, frames counted), to store or merge. */
  sums(): { ious: number[]; fs: number[]; counts: number[] } {
    return { ious: Array.from(this._ious), fs: Array.from(this._fs), counts: Array.from(this._count) };
  }

  /** Adds sums taken from another accumulator (shards merge this way). */
  addSums(s: { ious: number[]; fs: number[]; counts: number[] }): void {
    for (let k = 0; k < this._classes; k++) {
      this._ious[k] += s.ious[k] ?? 0;
      this._fs[k] += s.fs[k] ?? 0;
      this._count[k] += s.counts[k] ?? 0;
    }
  }

  /**
   * Final scores. `noBg` drops class 0 (background). The AVSBench training scripts compute their
   * "noBg" numbers as a mean over `[:-1]`, which drops the LAST class instead; pass
   * `noBgDrops: 'last'` to reproduce those numbers exactly.
   */
  result(noBgDrops: 'background' | 'last' = 'background'): AvssScores {
    const c = this._classes;
    const iou: number[] = [];
    const f: number[] = [];
    for (let k = 0; k < c; k++) {
      const a = this._ious[k] / this._count[k];
      const b = this._fs[k] / this._count[k];
      iou.push(Number.isNaN(a) ? 0 : a);
      f.push(Number.isNaN(b) ? 0 : b);
    }
    const mean = (xs: number[]): number => xs.reduce((s, x) => s + x, 0) / xs.length;
    const drop = (xs: number[]): number[] => (noBgDrops === 'background' ? xs.slice(1) : xs.slice(0, -1));
    return {
      mIoU: mean(iou),
      fScore: mean(f),
      mIoUNoBg: mean(drop(iou)),
      fScoreNoBg: mean(drop(f)),
      perClassIoU: iou,
      perClassF: f,
      classFrames: Array.from(this._count),
    };
  }
}
