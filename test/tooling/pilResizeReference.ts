/**
 * Pillow's default `Image.resize(size)` for 8-bit RGB in plain JavaScript: a horizontal pass over only
 * the rows the vertical pass reads, then a vertical pass, with the coefficients of
 * src/pipeline/imaging/pilResize.ts. The product runs the same arithmetic in WebAssembly SIMD
 * (pilResize.wat); this form is the tests' and the bench's reference, bit-exact against stored
 * Pillow outputs (test/unit/pipeline/imaging/pilResize.test.ts).
 */
import { axisCoefficients, type AxisCoefficients } from '../../src/pipeline/imaging/pilResize';

const PRECISION_BITS = 32 - 8 - 2;
const ONE = 2 ** PRECISION_BITS;
const HALF = 2 ** (PRECISION_BITS - 1);
const MAX = 255 * ONE;

/** Pillow's clip8 on a 22-bit fixed-point sum (always below 2^31). */
const clip8 = (v: number): number => (v >= MAX ? 255 : v <= 0 ? 0 : v >> PRECISION_BITS);

/** Scratch row buffer of the horizontal pass, grown on demand and reused across frames. */
let scratch = new Uint8Array(0);

/**
 * The horizontal pass over the rows `yFirst .. yLast-1` only (interleaved RGB in, interleaved RGB out
 * into the shared scratch buffer): one fixed-point dot product per output value, no allocation.
 */
function horizontalPass(src: Uint8Array, width: number, yFirst: number, yLast: number, hc: AxisCoefficients, outWidth: number): Uint8Array {
  const rows = yLast - yFirst;
  const need = outWidth * rows * 3;
  if (scratch.length < need) {
    scratch = new Uint8Array(need);
  }
  const tmp = scratch;
  const { first, count, weights, taps } = hc;
  const inStride = width * 3;
  for (let y = 0; y < rows; y++) {
    const inRow = (y + yFirst) * inStride;
    let q = y * outWidth * 3;
    for (let x = 0; x < outWidth; x++) {
      const n = count[x];
      const wb = x * taps;
      let r = HALF;
      let g = HALF;
      let b = HALF;
      const p0 = inRow + first[x] * 3;
      if (n <= 6) {
        // up to six taps (enlarging, or reducing by up to 1.5), unrolled; a missing tap reads the first pixel with weight 0
        const w0 = weights[wb];
        const w1 = n > 1 ? weights[wb + 1] : 0;
        const w2 = n > 2 ? weights[wb + 2] : 0;
        const w3 = n > 3 ? weights[wb + 3] : 0;
        const w4 = n > 4 ? weights[wb + 4] : 0;
        const w5 = n > 5 ? weights[wb + 5] : 0;
        const p1 = n > 1 ? p0 + 3 : p0;
        const p2 = n > 2 ? p0 + 6 : p0;
        const p3 = n > 3 ? p0 + 9 : p0;
        const p4 = n > 4 ? p0 + 12 : p0;
        const p5 = n > 5 ? p0 + 15 : p0;
        r = (r + Math.imul(src[p0], w0) + Math.imul(src[p1], w1) + Math.imul(src[p2], w2) + Math.imul(src[p3], w3) + Math.imul(src[p4], w4) + Math.imul(src[p5], w5)) | 0;
        g = (g + Math.imul(src[p0 + 1], w0) + Math.imul(src[p1 + 1], w1) + Math.imul(src[p2 + 1], w2) + Math.imul(src[p3 + 1], w3) + Math.imul(src[p4 + 1], w4) + Math.imul(src[p5 + 1], w5)) | 0;
        b = (b + Math.imul(src[p0 + 2], w0) + Math.imul(src[p1 + 2], w1) + Math.imul(src[p2 + 2], w2) + Math.imul(src[p3 + 2], w3) + Math.imul(src[p4 + 2], w4) + Math.imul(src[p5 + 2], w5)) | 0;
        tmp[q++] = r >= MAX ? 255 : r <= 0 ? 0 : r >> PRECISION_BITS;
        tmp[q++] = g >= MAX ? 255 : g <= 0 ? 0 : g >> PRECISION_BITS;
        tmp[q++] = b >= MAX ? 255 : b <= 0 ? 0 : b >> PRECISION_BITS;
        continue;
      }
      // int32 arithmetic: Pillow's 22 fractional bits keep every partial sum below 2^31
      for (let k = 0, p = p0; k < n; k++, p += 3) {
        const wk = weights[wb + k];
        r = (r + Math.imul(src[p], wk)) | 0;
        g = (g + Math.imul(src[p + 1], wk)) | 0;
        b = (b + Math.imul(src[p + 2], wk)) | 0;
      }
      tmp[q++] = r >= MAX ? 255 : r <= 0 ? 0 : r >> PRECISION_BITS;
      tmp[q++] = g >= MAX ? 255 : g <= 0 ? 0 : g >> PRECISION_BITS;
      tmp[q++] = b >= MAX ? 255 : b <= 0 ? 0 : b >> PRECISION_BITS;
    }
  }
  return tmp;
}

/** The rows of the source both passes read, and the horizontally resized rows (`rowOffset`: first row held). */
function resampleRows(src: Uint8Array, width: number, height: number, outWidth: number, outHeight: number): { rows: Uint8Array; rowOffset: number; vc: AxisCoefficients } {
  if (src.length < width * height * 3) {
    throw new RangeError(`pilResizeRgb: ${src.length} bytes for a ${width}x${height} RGB image`);
  }
  const vc = axisCoefficients(height, outHeight);
  if (outWidth === width) {
    return { rows: src, rowOffset: 0, vc };
  }
  // horizontal pass, only on the rows the vertical pass will read
  const yFirst = outHeight !== height ? vc.first[0] : 0;
  const yLast = outHeight !== height ? vc.first[outHeight - 1] + vc.count[outHeight - 1] : height;
  return { rows: horizontalPass(src, width, yFirst, yLast, axisCoefficients(width, outWidth), outWidth), rowOffset: yFirst, vc };
}

/**
 * Resizes interleaved RGB (row-major, `width*height*3` bytes) to `outWidth x outHeight` exactly as
 * Pillow's `Image.resize((outWidth, outHeight))` does for a mode "RGB" image.
 *
 * @example
 * const rgb = pilResizeRgb(frame, 320, 240, 1024, 1024); // 1024*1024*3 bytes
 */
export function pilResizeRgb(src: Uint8Array, width: number, height: number, outWidth: number, outHeight: number): Uint8Array {
  const { rows, rowOffset, vc } = resampleRows(src, width, height, outWidth, outHeight);
  const stride = outWidth * 3;
  if (outHeight === height) {
    return Uint8Array.from(rows.subarray(0, outHeight * stride));
  }
  const out = new Uint8Array(stride * outHeight);
  const { first, count, weights, taps } = vc;
  for (let y = 0; y < outHeight; y++) {
    const base = (first[y] - rowOffset) * stride;
    const n = count[y];
    const wb = y * taps;
    const outRow = y * stride;
    for (let i = 0; i < stride; i++) {
      let s = HALF;
      for (let k = 0, p = base + i; k < n; k++, p += stride) {
        s = (s + Math.imul(rows[p], weights[wb + k])) | 0;
      }
      out[outRow + i] = clip8(s);
    }
  }
  return out;
}

/**
 * {@link pilResizeRgb} with a per-channel lookup table fused into the vertical pass: writes the
 * planar float tensor `[3, outHeight, outWidth]` (channel c of output byte v is `luts[c][v]`) into
 * `out` (allocated when not given) without an intermediate 8-bit image. Values are those of
 * `luts[c][pilResizeRgb(...)[3 * p + c]]`, bit for bit.
 *
 * @example
 * const chw = pilResizeRgbPlanar(frame, 1280, 720, 1024, 1024, normalise, reused); // SAM 2 pixel_values
 */
export function pilResizeRgbPlanar(src: Uint8Array, width: number, height: number, outWidth: number, outHeight: number, luts: readonly Float32Array[], out?: Float32Array): Float32Array {
  const plane = outWidth * outHeight;
  const dst = out ?? new Float32Array(3 * plane);
  if (dst.length < 3 * plane) {
    throw new RangeError(`pilResizeRgbPlanar: output of ${dst.length} values for 3x${outHeight}x${outWidth}`);
  }
  const { rows, rowOffset, vc } = resampleRows(src, width, height, outWidth, outHeight);
  const [l0, l1, l2] = luts;
  const stride = outWidth * 3;
  const { first, count, weights, taps } = vc;
  for (let y = 0; y < outHeight; y++) {
    let o = y * outWidth;
    if (outHeight === height) {
      for (let x = 0, i = y * stride; x < outWidth; x++, o++, i += 3) {
        dst[o] = l0[rows[i]];
        dst[o + plane] = l1[rows[i + 1]];
        dst[o + 2 * plane] = l2[rows[i + 2]];
      }
      continue;
    }
    const base = (first[y] - rowOffset) * stride;
    const n = count[y];
    const wb = y * taps;
    if (n <= 4) {
      // enlarging (bicubic: at most four taps), unrolled; a missing tap reads the first row with weight 0
      const w0 = weights[wb];
      const w1 = n > 1 ? weights[wb + 1] : 0;
      const w2 = n > 2 ? weights[wb + 2] : 0;
      const w3 = n > 3 ? weights[wb + 3] : 0;
      const d1 = n > 1 ? stride : 0;
      const d2 = n > 2 ? 2 * stride : 0;
      const d3 = n > 3 ? 3 * stride : 0;
      for (let x = 0, i = base; x < outWidth; x++, o++, i += 3) {
        const i1 = i + d1;
        const i2 = i + d2;
        const i3 = i + d3;
        const r = (HALF + Math.imul(rows[i], w0) + Math.imul(rows[i1], w1) + Math.imul(rows[i2], w2) + Math.imul(rows[i3], w3)) | 0;
        const g = (HALF + Math.imul(rows[i + 1], w0) + Math.imul(rows[i1 + 1], w1) + Math.imul(rows[i2 + 1], w2) + Math.imul(rows[i3 + 1], w3)) | 0;
        const b = (HALF + Math.imul(rows[i + 2], w0) + Math.imul(rows[i1 + 2], w1) + Math.imul(rows[i2 + 2], w2) + Math.imul(rows[i3 + 2], w3)) | 0;
        dst[o] = l0[r >= MAX ? 255 : r <= 0 ? 0 : r >> PRECISION_BITS];
        dst[o + plane] = l1[g >= MAX ? 255 : g <= 0 ? 0 : g >> PRECISION_BITS];
        dst[o + 2 * plane] = l2[b >= MAX ? 255 : b <= 0 ? 0 : b >> PRECISION_BITS];
      }
      continue;
    }
    for (let x = 0, i = base; x < outWidth; x++, o++, i += 3) {
      let r = HALF;
      let g = HALF;
      let b = HALF;
      for (let k = 0, p = i; k < n; k++, p += stride) {
        const wk = weights[wb + k];
        r = (r + Math.imul(rows[p], wk)) | 0;
        g = (g + Math.imul(rows[p + 1], wk)) | 0;
        b = (b + Math.imul(rows[p + 2], wk)) | 0;
      }
      dst[o] = l0[r >= MAX ? 255 : r <= 0 ? 0 : r >> PRECISION_BITS];
      dst[o + plane] = l1[g >= MAX ? 255 : g <= 0 ? 0 : g >> PRECISION_BITS];
      dst[o + 2 * plane] = l2[b >= MAX ? 255 : b <= 0 ? 0 : b >> PRECISION_BITS];
    }
  }
  return dst;
}
