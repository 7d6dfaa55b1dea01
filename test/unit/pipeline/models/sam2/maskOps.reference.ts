/**
 * Straightforward versions of `fillHoles` and `resizeLogitsToMask` (src/pipeline/models/sam2/maskOps.ts),
 * kept only as test references: the fast versions must give the same bits on every input.
 * `fillHolesReference` is the pixel flood fill maskOps used before; `resizeLogitsToMaskReference` is
 * the whole-image bilinear resize thresholded at 0, which the earlier row-skipping version was equal to.
 */
import { resizeBilinear } from '../../../../../src/pipeline/models/sam2/maskOps';

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

/**
 * The whole-image computation: every output pixel of the float32 bilinear resize
 * ({@link resizeBilinear}, itself checked against PyTorch's geometry), then `> 0`.
 */
export function resizeLogitsToMaskReference(src: Float32Array, srcW: number, srcH: number, dstW: number, dstH: number): Uint8Array {
  const logits = resizeBilinear(src, srcW, srcH, dstW, dstH);
  const out = new Uint8Array(logits.length);
  for (let i = 0; i < logits.length; i++) {
    out[i] = logits[i] > 0 ? 1 : 0;
  }
  return out;
}
