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

/**
 * The binary mask at video resolution, row-major 0/1: {@link resizeBilinear} of the logits (as the
 * official predictor upsamples them), then `> 0`. One kernel, so stored logits and masks agree.
 */
export function resizeLogitsToMask(src: Float32Array, srcW: number, srcH: number, dstW: number, dstH: number): Uint8Array {
  const logits = resizeBilinear(src, srcW, srcH, dstW, dstH);
  const out = new Uint8Array(logits.length);
  for (let i = 0; i < logits.length; i++) {
    out[i] = logits[i] > 0 ? 1 : 0;
  }
  return out;
}

/**
 * Bilinear resize of a single-channel float image as PyTorch's CPU `interpolate(mode='bilinear',
 * align_corners=False)` computes it in float32 (source index `(dst + 0.5) * in/out - 0.5`, clamped
 * at 0; the upper neighbour clamped at the edge).
 */
export function resizeBilinear(src: Float32Array, srcW: number, srcH: number, dstW: number, dstH: number): Float32Array {
  const f = Math.fround;
  const out = new Float32Array(dstW * dstH);
  const axis = (inSize: number, outSize: number) => {
    const scale = f(inSize / outSize);
    const i0 = new Int32Array(outSize);
    const i1 = new Int32Array(outSize);
    const l0 = new Float32Array(outSize);
    const l1 = new Float32Array(outSize);
    for (let d = 0; d < outSize; d++) {
      let s = f(f(scale * f(d + 0.5)) - 0.5);
      if (s < 0) {
        s = 0;
      }
      const i = Math.trunc(s);
      i0[d] = i;
      i1[d] = i < inSize - 1 ? i + 1 : i;
      l1[d] = f(s - i);
      l0[d] = f(1 - l1[d]);
    }
    return { i0, i1, l0, l1 };
  };
  const ax = axis(srcW, dstW);
  const ay = axis(srcH, dstH);
  for (let y = 0; y < dstH; y++) {
    const r0 = ay.i0[y] * srcW;
    const r1 = ay.i1[y] * srcW;
    const h0 = ay.l0[y];
    const h1 = ay.l1[y];
    for (let x = 0; x < dstW; x++) {
      const a = ax.i0[x];
      const b = ax.i1[x];
      const w0 = ax.l0[x];
      const w1 = ax.l1[x];
      const top = f(f(w0 * src[r0 + a]) + f(w1 * src[r0 + b]));
      const bottom = f(f(w0 * src[r1 + a]) + f(w1 * src[r1 + b]));
      out[y * dstW + x] = f(f(h0 * top) + f(h1 * bottom));
    }
  }
  return out;
}
