/**
 * Pillow's default `Image.resize(size)` for 8-bit RGB: BICUBIC (a = -0.5) with Pillow's separable
 * fixed-point resampling (libImaging/Resample.c): a horizontal pass over only the rows the vertical
 * pass reads, then a vertical pass; coefficients normalised per output pixel and rounded to 22
 * fractional bits; the filter support widens by the scale when reducing (antialiasing). The official
 * SAM 2 frame loader resizes every frame this way before normalising, so the host does the same to
 * feed the vision encoder identical pixels (bit-exact against stored Pillow outputs in the tests).
 */

const PRECISION_BITS = 32 - 8 - 2;
const ONE = 2 ** PRECISION_BITS;
const HALF = 2 ** (PRECISION_BITS - 1);
const MAX = 255 * ONE;

/** Precomputed coefficients of one axis: per output pixel the first input index, the tap count and the taps. */
export interface AxisCoefficients {
  taps: number;
  first: Int32Array;
  count: Int32Array;
  weights: Int32Array;
}

function bicubic(x: number): number {
  const a = -0.5;
  const t = Math.abs(x);
  if (t < 1) {
    return ((a + 2) * t - (a + 3)) * t * t + 1;
  }
  if (t < 2) {
    return (((t - 5) * t + 8) * t - 4) * a;
  }
  return 0;
}

const cache = new Map<string, AxisCoefficients>();

/** Coefficients for resizing an axis of `inSize` pixels to `outSize` (cached: frames share them). */
export function axisCoefficients(inSize: number, outSize: number): AxisCoefficients {
  const key = `${inSize}>${outSize}`;
  const hit = cache.get(key);
  if (hit) {
    return hit;
  }
  const scale = inSize / outSize;
  const filterScale = Math.max(1, scale);
  const support = 2 * filterScale;
  const taps = Math.ceil(support) * 2 + 1;
  const first = new Int32Array(outSize);
  const count = new Int32Array(outSize);
  const weights = new Int32Array(outSize * taps);
  const w = new Float64Array(taps);
  const inv = 1 / filterScale;
  for (let o = 0; o < outSize; o++) {
    const center = (o + 0.5) * scale;
    const lo = Math.max(0, Math.trunc(center - support + 0.5));
    const hi = Math.min(inSize, Math.trunc(center + support + 0.5));
    const n = hi - lo;
    let sum = 0;
    for (let k = 0; k < n; k++) {
      w[k] = bicubic((k + lo - center + 0.5) * inv);
      sum += w[k];
    }
    for (let k = 0; k < n; k++) {
      const v = sum !== 0 ? w[k] / sum : w[k];
      // C's (int) cast of v * 2^22 -/+ 0.5: round half away from zero
      weights[o * taps + k] = v < 0 ? Math.trunc(-0.5 + v * ONE) : Math.trunc(0.5 + v * ONE);
    }
    first[o] = lo;
    count[o] = n;
  }
  const c: AxisCoefficients = { taps, first, count, weights };
  cache.set(key, c);
  return c;
}

const clip8 = (v: number): number => (v >= MAX ? 255 : v <= 0 ? 0 : Math.floor(v / ONE));

/**
 * Resizes interleaved RGB (row-major, `width*height*3` bytes) to `outWidth x outHeight` exactly as
 * Pillow's `Image.resize((outWidth, outHeight))` does for a mode "RGB" image.
 *
 * @example
 * const rgb = pilResizeRgb(frame, 320, 240, 1024, 1024); // 1024*1024*3 bytes
 */
export function pilResizeRgb(src: Uint8Array, width: number, height: number, outWidth: number, outHeight: number): Uint8Array {
  if (src.length < width * height * 3) {
    throw new RangeError(`pilResizeRgb: ${src.length} bytes for a ${width}x${height} RGB image`);
  }
  if (outWidth === width && outHeight === height) {
    return Uint8Array.from(src.subarray(0, width * height * 3));
  }
  const hc = axisCoefficients(width, outWidth);
  const vc = axisCoefficients(height, outHeight);
  let tmp = src;
  let tmpHeight = height;
  let rowOffset = 0;
  if (outWidth !== width) {
    // horizontal pass, only on the rows the vertical pass will read
    const yFirst = outHeight !== height ? vc.first[0] : 0;
    const yLast = outHeight !== height ? vc.first[outHeight - 1] + vc.count[outHeight - 1] : height;
    tmpHeight = yLast - yFirst;
    tmp = new Uint8Array(outWidth * tmpHeight * 3);
    for (let y = 0; y < tmpHeight; y++) {
      const inRow = (y + yFirst) * width * 3;
      const outRow = y * outWidth * 3;
      for (let x = 0; x < outWidth; x++) {
        const lo = hc.first[x];
        const n = hc.count[x];
        const wb = x * hc.taps;
        let r = HALF;
        let g = HALF;
        let b = HALF;
        for (let k = 0, p = inRow + lo * 3; k < n; k++, p += 3) {
          const wk = hc.weights[wb + k];
          r += src[p] * wk;
          g += src[p + 1] * wk;
          b += src[p + 2] * wk;
        }
        const q = outRow + x * 3;
        tmp[q] = clip8(r);
        tmp[q + 1] = clip8(g);
        tmp[q + 2] = clip8(b);
      }
    }
    rowOffset = yFirst;
  }
  if (outHeight === height) {
    return tmp;
  }
  const tw = outWidth;
  const out = new Uint8Array(outWidth * outHeight * 3);
  const stride = tw * 3;
  for (let y = 0; y < outHeight; y++) {
    const lo = vc.first[y] - rowOffset;
    const n = vc.count[y];
    const wb = y * vc.taps;
    const outRow = y * stride;
    for (let i = 0; i < stride; i++) {
      let s = HALF;
      for (let k = 0, p = lo * stride + i; k < n; k++, p += stride) {
        s += tmp[p] * vc.weights[wb + k];
      }
      out[outRow + i] = clip8(s);
    }
  }
  return out;
}
