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
 * Bilinear resize of a single-channel float image (half-pixel centres, edge clamped), then `> 0`:
 * the binary mask at video resolution, row-major 0/1.
 */
export function resizeLogitsToMask(src: Float32Array, srcW: number, srcH: number, dstW: number, dstH: number): Uint8Array {
  const out = new Uint8Array(dstW * dstH);
  const sx = srcW / dstW;
  const sy = srcH / dstH;
  const x0s = new Int32Array(dstW);
  const x1s = new Int32Array(dstW);
  const fxs = new Float32Array(dstW);
  for (let x = 0; x < dstW; x++) {
    const fx = Math.max(0, (x + 0.5) * sx - 0.5);
    const x0 = Math.min(srcW - 1, Math.floor(fx));
    x0s[x] = x0;
    x1s[x] = Math.min(srcW - 1, x0 + 1);
    fxs[x] = fx - x0;
  }
  for (let y = 0; y < dstH; y++) {
    const fy = Math.max(0, (y + 0.5) * sy - 0.5);
    const y0 = Math.min(srcH - 1, Math.floor(fy));
    const y1 = Math.min(srcH - 1, y0 + 1);
    const wy = fy - y0;
    const r0 = y0 * srcW;
    const r1 = y1 * srcW;
    const row = y * dstW;
    for (let x = 0; x < dstW; x++) {
      const a = src[r0 + x0s[x]];
      const b = src[r0 + x1s[x]];
      const c = src[r1 + x0s[x]];
      const d = src[r1 + x1s[x]];
      const wx = fxs[x];
      const top = a + (b - a) * wx;
      const bottom = c + (d - c) * wx;
      out[row + x] = top + (bottom - top) * wy > 0 ? 1 : 0;
    }
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
