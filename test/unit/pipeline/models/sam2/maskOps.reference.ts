/**
 * Straightforward versions of `fillHoles` and `resizeLogitsToMask` (src/pipeline/models/sam2/maskOps.ts),
 * kept only as test references: the fast versions must give the same bits on every input.
 * `fillHolesReference` is the pixel flood fill maskOps used before; `resizeLogitsToMaskReference` is
 * the whole-image computation (every source row, every output pixel) with the same float32 steps,
 * which the earlier row-skipping version was equal to.
 */

/**
 * Flood fill of every 8-connected component of logits <= 0 from each unvisited pixel in row-major
 * order; components of at most `maxArea` pixels get 0.1. In place; returns the array.
 */
export function fillHolesReference(logits: Float32Array, width: number, height: number, maxArea = 8): Float32Array {
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

interface Axis {
  i0: Int32Array;
  i1: Int32Array;
  l0: Float32Array;
  l1: Float32Array;
}

/** PyTorch's source index `(dst + 0.5) * in/out - 0.5` (clamped at 0) and float32 weights. */
function axis(inSize: number, outSize: number): Axis {
  const f = Math.fround;
  const scale = f(inSize / outSize);
  const ax: Axis = { i0: new Int32Array(outSize), i1: new Int32Array(outSize), l0: new Float32Array(outSize), l1: new Float32Array(outSize) };
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
  return ax;
}

/**
 * Every source row resized horizontally (`f(l0*a) + f(l1*b)` into float32), then every output pixel
 * `f(f(h0*top) + f(h1*bottom)) > 0`, over the whole image.
 */
export function resizeLogitsToMaskReference(src: Float32Array, srcW: number, srcH: number, dstW: number, dstH: number): Uint8Array {
  const f = Math.fround;
  const out = new Uint8Array(dstW * dstH);
  const ax = axis(srcW, dstW);
  const ay = axis(srcH, dstH);
  const rows = new Float32Array(srcH * dstW);
  for (let y = 0; y < srcH; y++) {
    for (let x = 0; x < dstW; x++) {
      rows[y * dstW + x] = f(ax.l0[x] * src[y * srcW + ax.i0[x]]) + f(ax.l1[x] * src[y * srcW + ax.i1[x]]);
    }
  }
  for (let y = 0; y < dstH; y++) {
    const t = ay.i0[y] * dstW;
    const b = ay.i1[y] * dstW;
    for (let x = 0; x < dstW; x++) {
      out[y * dstW + x] = f(f(ay.l0[y] * rows[t + x]) + f(ay.l1[y] * rows[b + x])) > 0 ? 1 : 0;
    }
  }
  return out;
}
