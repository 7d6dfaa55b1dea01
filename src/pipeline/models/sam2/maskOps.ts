/**
 * Host-side mask operations of the SAM 2 video predictor: hole filling on low-resolution logits and
 * bilinear resizing to the video size (PyTorch `interpolate(..., mode='bilinear', align_corners=False)`).
 */

/**
 * Fills background holes of at most `maxArea` pixels: every 8-connected component of logits <= 0 that
 * small (border components included, as SAM 2's `fill_holes_in_mask_scores` does) gets the small
 * positive logit 0.1. Works in place on a `height*width` row-major array; returns it.
 */
export function fillHoles(logits: Float32Array, width: number, height: number, maxArea = 8): Float32Array {
  if (maxArea <= 0) {
    return logits;
  }
  const n = width * height;
  const seen = new Uint8Array(n);
  const stack = new Int32Array(n);
  const members = new Int32Array(maxArea + 1);
  for (let start = 0; start < n; start++) {
    if (seen[start] || logits[start] > 0) {
      continue;
    }
    // flood the whole component (so it is not visited again) but remember at most maxArea + 1 pixels
    let top = 0;
    let count = 0;
    stack[top++] = start;
    seen[start] = 1;
    while (top > 0) {
      const p = stack[--top];
      if (count <= maxArea) {
        members[count] = p;
      }
      count++;
      const x = p % width;
      const y = (p - x) / width;
      for (let dy = -1; dy <= 1; dy++) {
        const yy = y + dy;
        if (yy < 0 || yy >= height) {
          continue;
        }
        for (let dx = -1; dx <= 1; dx++) {
          const xx = x + dx;
          if ((dx === 0 && dy === 0) || xx < 0 || xx >= width) {
            continue;
          }
          const q = yy * width + xx;
          if (!seen[q] && logits[q] <= 0) {
            seen[q] = 1;
            stack[top++] = q;
          }
        }
      }
    }
    if (count <= maxArea) {
      for (let k = 0; k < count; k++) {
        logits[members[k]] = 0.1;
      }
    }
  }
  return logits;
}

/** Source taps and float32 weights of one axis of {@link resizeBilinear}. */
interface BilinearAxis {
  i0: Int32Array;
  i1: Int32Array;
  l0: Float32Array;
  l1: Float32Array;
}

const axes = new Map<string, BilinearAxis>();

/** PyTorch's source index `(dst + 0.5) * in/out - 0.5` (clamped at 0) and weights, cached per size pair. */
function bilinearAxis(inSize: number, outSize: number): BilinearAxis {
  const key = `${inSize}>${outSize}`;
  const hit = axes.get(key);
  if (hit) {
    return hit;
  }
  const f = Math.fround;
  const scale = f(inSize / outSize);
  const ax: BilinearAxis = { i0: new Int32Array(outSize), i1: new Int32Array(outSize), l0: new Float32Array(outSize), l1: new Float32Array(outSize) };
  for (let d = 0; d < outSize; d++) {
    let s = f(f(scale * f(d + 0.5)) - 0.5);
    if (s < 0) {
      s = 0;
    }
    const i = Math.trunc(s);
    ax.i0[d] = i;
    ax.i1[d] = i < inSize - 1 ? i + 1 : i;
    ax.l1[d] = f(s - i);
    ax.l0[d] = f(1 - ax.l1[d]);
  }
  if (axes.size > 64) {
    axes.clear();
  }
  axes.set(key, ax);
  return ax;
}

/**
 * The horizontal half of {@link resizeBilinear} for source row `y` into `out` (dstW values):
 * `f(f(w0 * a) + f(w1 * b))`, the float32 value PyTorch's kernel forms for each output column.
 */
function bilinearRow(src: Float32Array, srcW: number, y: number, ax: BilinearAxis, out: Float32Array): void {
  const { i0, i1, l0, l1 } = ax;
  const f = Math.fround;
  const base = y * srcW;
  for (let x = 0; x < out.length; x++) {
    out[x] = f(l0[x] * src[base + i0[x]]) + f(l1[x] * src[base + i1[x]]);
  }
}

/**
 * The binary mask at video resolution, row-major 0/1: {@link resizeBilinear} of the logits (as the
 * official predictor upsamples them), then `> 0`, in one pass without the float image. Each source
 * row is resized horizontally once; an output row whose two source rows hold no positive logit is
 * background without computing it (a sum of non-negative weights times values <= 0 is never > 0).
 */
export function resizeLogitsToMask(src: Float32Array, srcW: number, srcH: number, dstW: number, dstH: number): Uint8Array {
  const f = Math.fround;
  const out = new Uint8Array(dstW * dstH);
  const ax = bilinearAxis(srcW, dstW);
  const ay = bilinearAxis(srcH, dstH);
  const positive = new Uint8Array(srcH);
  for (let y = 0; y < srcH; y++) {
    for (let x = y * srcW, end = x + srcW; x < end; x++) {
      if (src[x] > 0) {
        positive[y] = 1;
        break;
      }
    }
  }
  const rows = new Float32Array(srcH * dstW);
  const done = new Uint8Array(srcH);
  const row = (y: number): Float32Array => {
    const r = rows.subarray(y * dstW, (y + 1) * dstW);
    if (!done[y]) {
      bilinearRow(src, srcW, y, ax, r);
      done[y] = 1;
    }
    return r;
  };
  for (let y = 0; y < dstH; y++) {
    const y0 = ay.i0[y];
    const y1 = ay.i1[y];
    if (!positive[y0] && !positive[y1]) {
      continue;
    }
    const top = row(y0);
    const bottom = row(y1);
    const h0 = ay.l0[y];
    const h1 = ay.l1[y];
    for (let x = 0, o = y * dstW; x < dstW; x++, o++) {
      out[o] = f(f(h0 * top[x]) + f(h1 * bottom[x])) > 0 ? 1 : 0;
    }
  }
  return out;
}

/**
 * Bilinear resize of a single-channel float image as PyTorch's CPU `interpolate(mode='bilinear',
 * align_corners=False)` computes it in float32 (source index `(dst + 0.5) * in/out - 0.5`, clamped
 * at 0; the upper neighbour clamped at the edge). Separable: each source row is resized horizontally
 * once, then every output row blends two of them (the same float32 operations, in the same order).
 */
export function resizeBilinear(src: Float32Array, srcW: number, srcH: number, dstW: number, dstH: number): Float32Array {
  const f = Math.fround;
  const out = new Float32Array(dstW * dstH);
  const ax = bilinearAxis(srcW, dstW);
  const ay = bilinearAxis(srcH, dstH);
  const rows = new Float32Array(srcH * dstW);
  for (let y = 0; y < srcH; y++) {
    bilinearRow(src, srcW, y, ax, rows.subarray(y * dstW, (y + 1) * dstW));
  }
  for (let y = 0; y < dstH; y++) {
    const t = ay.i0[y] * dstW;
    const b = ay.i1[y] * dstW;
    const h0 = ay.l0[y];
    const h1 = ay.l1[y];
    for (let x = 0, o = y * dstW; x < dstW; x++, o++) {
      out[o] = f(h0 * rows[t + x]) + f(h1 * rows[b + x]);
    }
  }
  return out;
}
