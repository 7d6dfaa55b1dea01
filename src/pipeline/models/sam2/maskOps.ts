/**
 * Host-side mask operations of the SAM 2 video predictor: hole filling on low-resolution logits and
 * bilinear resizing to the video size (PyTorch `interpolate(..., mode='bilinear', align_corners=False)`).
 */
import type { RleMask } from '../../domain';
import { encodeRle } from '../../masks/rle';

/** What a tracked frame returns from its low-resolution logits ({@link finishMask}). */
export interface FrameMask {
  /** The low-resolution logits after hole filling. */
  logits: Float32Array;
  /** Row-major 0/1 at video size. */
  mask: Uint8Array;
  rle: RleMask;
}

/**
 * The mask at video size from hole-filled low-resolution logits (their bilinear upsampling `> 0`;
 * empty, whatever the logits hold, when the object is absent) and the same mask as COCO RLE.
 */
export function maskOutputs(logits: Float32Array, lw: number, lh: number, present: boolean, width: number, height: number): { mask: Uint8Array; rle: RleMask } {
  const mask = present ? resizeLogitsToMask(logits, lw, lh, width, height) : new Uint8Array(width * height);
  return { mask, rle: encodeRle(mask, width, height) };
}

/** {@link fillHoles} (in place) then {@link maskOutputs}: a tracked frame's outputs, in this thread or a worker. */
export function finishMask(logits: Float32Array, lw: number, lh: number, fillHoleArea: number, present: boolean, width: number, height: number): FrameMask {
  fillHoles(logits, lw, lh, fillHoleArea);
  return { logits, ...maskOutputs(logits, lw, lh, present, width, height) };
}

/** Scratch of {@link fillHoles}: background runs (absolute start/end), union-find parents, areas; grown, reused. */
let runStart = new Int32Array(0);
let runEnd = new Int32Array(0);
let runParent = new Int32Array(0);
let runArea = new Int32Array(0);

/** Union-find root of run `r`, with path halving (the trees stay shallow across a whole image). */
function runRoot(r: number): number {
  const parent = runParent;
  while (parent[r] !== r) {
    const g = parent[parent[r]];
    parent[r] = g;
    r = g;
  }
  return r;
}

/**
 * Fills background holes of at most `maxArea` pixels: every 8-connected component of logits <= 0 that
 * small (border components included, as SAM 2's `fill_holes_in_mask_scores` does) gets the small
 * positive logit 0.1. Works in place on a `height*width` row-major array; returns it. NaN is not
 * background (SAM 2 labels `mask <= 0`), so it is never filled. The video predictor fills holes only;
 * the sprinkle removal of SAM2Transforms (image predictor, off by default) is not done here.
 *
 * Run-based: each row is cut into runs of background, a run is joined (union-find) to the runs of
 * the row above that touch it diagonally or directly, and areas add up at the roots. A typical
 * mask has a few runs per row, so this is one compare per pixel plus work per run, instead of a
 * flood fill visiting each background pixel's eight neighbours.
 */
export function fillHoles(logits: Float32Array, width: number, height: number, maxArea = 8): Float32Array {
  if (maxArea <= 0) {
    return logits;
  }
  // at most one run every other pixel of a row
  const capacity = height * ((width + 1) >> 1);
  if (runStart.length < capacity) {
    runStart = new Int32Array(capacity);
    runEnd = new Int32Array(capacity);
    runParent = new Int32Array(capacity);
    runArea = new Int32Array(capacity);
  }
  const start = runStart;
  const end = runEnd;
  const parent = runParent;
  const area = runArea;
  let runs = 0;
  // the runs of the row above: [prevFirst, prevLast)
  let prevFirst = 0;
  let prevLast = 0;
  for (let rowStart = 0; rowStart < width * height; rowStart += width) {
    const rowEnd = rowStart + width;
    const first = runs;
    let j = prevFirst;
    let x = rowStart;
    while (x < rowEnd) {
      // `!(v <= 0)`, not `v > 0`: NaN is foreground
      while (x < rowEnd && !(logits[x] <= 0)) {
        x++;
      }
      if (x === rowEnd) {
        break;
      }
      const s = x++;
      while (x < rowEnd && logits[x] <= 0) {
        x++;
      }
      const r = runs++;
      start[r] = s;
      end[r] = x;
      parent[r] = r;
      area[r] = x - s;
      // columns [s, x) touch the row above's columns [s - 1, x] (8-connectivity): a run [ps, pe)
      // there does when ps <= x and pe >= s, one row (`width`) earlier; runs ending before that
      // cannot touch this run's successors either, so j only moves forward
      const lo = s - width;
      const hi = x - width;
      while (j < prevLast && end[j] < lo) {
        j++;
      }
      for (let k = j; k < prevLast && start[k] <= hi; k++) {
        const a = runRoot(r);
        const b = runRoot(k);
        // the older root stays root (any choice gives the same components)
        if (a < b) {
          parent[b] = a;
          area[a] += area[b];
        } else if (b < a) {
          parent[a] = b;
          area[b] += area[a];
        }
      }
    }
    prevFirst = first;
    prevLast = runs;
  }
  for (let r = 0; r < runs; r++) {
    if (area[runRoot(r)] <= maxArea) {
      logits.fill(0.1, start[r], end[r]);
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
  /** Per source index c: the first destination index with a tap at c or after (`i1 >= c`); outSize if none. */
  from: Int32Array;
  /** Per source index c: one past the last destination index with a tap at c or before (`i0 <= c`). */
  to: Int32Array;
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
  const ax: BilinearAxis = {
    i0: new Int32Array(outSize),
    i1: new Int32Array(outSize),
    l0: new Float32Array(outSize),
    l1: new Float32Array(outSize),
    from: new Int32Array(inSize),
    to: new Int32Array(inSize),
  };
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
  // i0 and i1 never decrease along the axis, so both bounds are monotone scans
  for (let c = 0, d = 0; c < inSize; c++) {
    while (d < outSize && ax.i1[d] < c) {
      d++;
    }
    ax.from[c] = d;
  }
  for (let c = 0, d = 0; c < inSize; c++) {
    while (d < outSize && ax.i0[d] <= c) {
      d++;
    }
    ax.to[c] = d;
  }
  if (axes.size > 64) {
    axes.clear();
  }
  axes.set(key, ax);
  return ax;
}

/**
 * The horizontal half of {@link resizeBilinear} for source row `y`, output columns `[from, to)`, into
 * `out` at `at + x`: `f(f(w0 * a) + f(w1 * b))`, the float32 value PyTorch's kernel forms for each
 * output column (each column on its own, so any sub-range gives the same values).
 */
function bilinearRow(src: Float32Array, srcW: number, y: number, ax: BilinearAxis, out: Float32Array, at: number, from: number, to: number): void {
  const { i0, i1, l0, l1 } = ax;
  const f = Math.fround;
  const base = y * srcW;
  for (let x = from; x < to; x++) {
    out[at + x] = f(l0[x] * src[base + i0[x]]) + f(l1[x] * src[base + i1[x]]);
  }
}

/** First and last column of a positive value in each row (none: `first = srcW`, `last = -1`). */
function positiveSpans(src: Float32Array, srcW: number, srcH: number, first: Int32Array, last: Int32Array): void {
  for (let y = 0, base = 0; y < srcH; y++, base += srcW) {
    let a = 0;
    while (a < srcW && !(src[base + a] > 0)) {
      a++;
    }
    let b = -1;
    if (a < srcW) {
      b = srcW - 1;
      while (!(src[base + b] > 0)) {
        b--;
      }
    }
    first[y] = a;
    last[y] = b;
  }
}

/** The vertical half of {@link resizeBilinear}, `> 0`, for output columns `[from, to)` of one output row. */
function blendRow(rows: Float32Array, top: number, bottom: number, h0: number, h1: number, out: Uint8Array, at: number, from: number, to: number): void {
  const f = Math.fround;
  for (let x = from; x < to; x++) {
    out[at + x] = f(f(h0 * rows[top + x]) + f(h1 * rows[bottom + x])) > 0 ? 1 : 0;
  }
}

/**
 * Makes sure source row `y` is resized horizontally over output columns `[from, to)` in `rows`, where
 * `[lo[y], hi[y])` is what is already there: only the missing columns are computed, and the span stays
 * one span (a gap between the two is filled on the way).
 */
function resizedRow(src: Float32Array, srcW: number, y: number, ax: BilinearAxis, rows: Float32Array, dstW: number, lo: Int32Array, hi: Int32Array, from: number, to: number): void {
  if (lo[y] >= hi[y]) {
    bilinearRow(src, srcW, y, ax, rows, y * dstW, from, to);
    lo[y] = from;
    hi[y] = to;
    return;
  }
  if (from < lo[y]) {
    bilinearRow(src, srcW, y, ax, rows, y * dstW, from, lo[y]);
    lo[y] = from;
  }
  if (to > hi[y]) {
    bilinearRow(src, srcW, y, ax, rows, y * dstW, hi[y], to);
    hi[y] = to;
  }
}

/** Horizontally resized source rows of {@link resizeLogitsToMask} (`srcH * dstW`), grown on demand and reused. */
let rowScratch = new Float32Array(0);

/**
 * The binary mask at video resolution, row-major 0/1: {@link resizeBilinear} of the logits (as the
 * official predictor upsamples them), then `> 0`, in one pass without the float image.
 *
 * Only output pixels that can be positive are computed: a sum of non-negative weights times values
 * <= 0 (or NaN) is never > 0, so a pixel needs a positive logit among its four taps. Per source row
 * the first and last positive columns are found once; an output row blends its two source rows only
 * over the output columns whose taps reach the union of their positive spans, and each source row
 * is resized horizontally only over the columns some output row asks of it (once per column: output
 * rows that share a source row pair share that work). Every computed pixel uses the same float32
 * operations in the same order as the full resize, so the mask is bit for bit the same.
 */
export function resizeLogitsToMask(src: Float32Array, srcW: number, srcH: number, dstW: number, dstH: number): Uint8Array {
  const out = new Uint8Array(dstW * dstH);
  const ax = bilinearAxis(srcW, dstW);
  const ay = bilinearAxis(srcH, dstH);
  // positive span of each source row; none: first = srcW > last = -1, neutral for min / max below
  const first = new Int32Array(srcH);
  const last = new Int32Array(srcH);
  positiveSpans(src, srcW, srcH, first, last);
  if (rowScratch.length < srcH * dstW) {
    rowScratch = new Float32Array(srcH * dstW);
  }
  const rows = rowScratch;
  // output columns [lo, hi) of each source row resized so far in this call (stale values elsewhere are never read)
  const lo = new Int32Array(srcH);
  const hi = new Int32Array(srcH);
  for (let y = 0; y < dstH; y++) {
    const y0 = ay.i0[y];
    const y1 = ay.i1[y];
    const cmin = Math.min(first[y0], first[y1]);
    const cmax = Math.max(last[y0], last[y1]);
    if (cmin > cmax) {
      continue;
    }
    const xFrom = ax.from[cmin];
    const xTo = ax.to[cmax];
    if (xFrom >= xTo) {
      continue;
    }
    resizedRow(src, srcW, y0, ax, rows, dstW, lo, hi, xFrom, xTo);
    resizedRow(src, srcW, y1, ax, rows, dstW, lo, hi, xFrom, xTo);
    blendRow(rows, y0 * dstW, y1 * dstW, ay.l0[y], ay.l1[y], out, y * dstW, xFrom, xTo);
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
    bilinearRow(src, srcW, y, ax, rows, y * dstW, 0, dstW);
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
