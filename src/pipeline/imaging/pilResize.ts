/**
 * The coefficients of Pillow's default `Image.resize(size)` for 8-bit RGB: BICUBIC (a = -0.5) with
 * Pillow's separable fixed-point resampling (libImaging/Resample.c): coefficients normalised per
 * output pixel and rounded to 22 fractional bits; the filter support widens by the scale when
 * reducing (antialiasing). The official SAM 2 frame loader resizes every frame this way, so the host
 * does the same to feed the vision encoder identical pixels; frame-grid tiles are resized the same
 * way. The passes themselves are in pilResize.wat (run by pilResizeSimd.ts); their plain JavaScript
 * form, the tests' reference checked against stored Pillow outputs, is test/tooling/pilResizeReference.ts.
 */

const PRECISION_BITS = 32 - 8 - 2;
const ONE = 2 ** PRECISION_BITS;

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
