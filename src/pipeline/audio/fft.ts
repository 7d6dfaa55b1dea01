/**
 * In-place iterative radix-2 FFT on split real/imaginary arrays. Only what the filterbank needs:
 * power-of-two sizes, forward transform, double precision.
 */
export class Fft {
  readonly size: number;
  private readonly _cos: Float64Array;
  private readonly _sin: Float64Array;
  private readonly _rev: Uint32Array;

  /** @param size transform length; must be a power of two >= 2. */
  constructor(size: number) {
    if (!Number.isInteger(size) || size < 2 || (size & (size - 1)) !== 0) {
      throw new RangeError(`FFT size must be a power of two >= 2, got ${size}.`);
    }
    this.size = size;
    const half = size >> 1;
    this._cos = new Float64Array(half);
    this._sin = new Float64Array(half);
    for (let k = 0; k < half; k++) {
      const a = (-2 * Math.PI * k) / size;
      this._cos[k] = Math.cos(a);
      this._sin[k] = Math.sin(a);
    }
    const bits = Math.round(Math.log2(size));
    this._rev = new Uint32Array(size);
    for (let i = 0; i < size; i++) {
      let r = 0;
      for (let b = 0; b < bits; b++) {
        r |= ((i >> b) & 1) << (bits - 1 - b);
      }
      this._rev[i] = r;
    }
  }

  /** Forward DFT X[k] = sum x[n] e^{-2 pi i k n / N}, in place on `re`/`im` (both of length `size`). */
  transform(re: Float64Array, im: Float64Array): void {
    const n = this.size;
    const rev = this._rev;
    for (let i = 0; i < n; i++) {
      const j = rev[i];
      if (j > i) {
        let t = re[i]; re[i] = re[j]; re[j] = t;
        t = im[i]; im[i] = im[j]; im[j] = t;
      }
    }
    for (let len = 2; len <= n; len <<= 1) {
      const halfLen = len >> 1;
      const step = n / len;
      for (let start = 0; start < n; start += len) {
        for (let k = 0, t = 0; k < halfLen; k++, t += step) {
          const wr = this._cos[t];
          const wi = this._sin[t];
          const a = start + k;
          const b = a + halfLen;
          const xr = re[b] * wr - im[b] * wi;
          const xi = re[b] * wi + im[b] * wr;
          re[b] = re[a] - xr;
          im[b] = im[a] - xi;
          re[a] += xr;
          im[a] += xi;
        }
      }
    }
  }
}
