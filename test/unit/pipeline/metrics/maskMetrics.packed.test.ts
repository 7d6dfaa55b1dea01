// Property test of the bit-packed J and F kernels against the straightforward per-pixel
// implementation they replaced (kept below, unchanged, as the oracle): every value must be identical,
// not merely close, on random masks of random sizes (widths around the 32-pixel word edges included),
// with and without void, empty and full masks, and radii from 1 to 12.
import * as assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  BOUND_TH, boundPix, boundaryMap, dilateDisk, fMeasure, fMeasureFeatures, jaccard, jaccardFeatures, labelRows, maskFeatures, packedFeatures, packLabel, packMask, releaseFeatures, unpackMask, voidBits,
} from '../../../../src/pipeline/metrics/maskMetrics';

// ---- oracle: the implementation before the bit-packed kernels (copied verbatim, renamed) ----------

function oldJaccard(pred: Uint8Array, gt: Uint8Array, voidMask?: Uint8Array): number {
  let inter = 0;
  let union = 0;
  const n = gt.length;
  if (voidMask) {
    for (let i = 0; i < n; i++) {
      if (voidMask[i]) {
        continue;
      }
      const p = pred[i] !== 0;
      const g = gt[i] !== 0;
      if (p && g) {
        inter++;
      }
      if (p || g) {
        union++;
      }
    }
  } else {
    for (let i = 0; i < n; i++) {
      const p = pred[i] !== 0;
      const g = gt[i] !== 0;
      if (p && g) {
        inter++;
      }
      if (p || g) {
        union++;
      }
    }
  }
  return union === 0 ? 1 : inter / union;
}

/**
 * Boundary map of a binary mask (DAVIS `_seg2bmap`): a pixel is on the boundary when it differs from
 * its right, lower or lower-right neighbour (zero outside); the last row compares only with the right
 * neighbour, the last column only with the lower one, and the bottom-right pixel is 0.
 */
function oldBoundaryMap(mask: Uint8Array, width: number, height: number): Uint8Array {
  const n = width * height;
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    b[i] = mask[i] !== 0 ? 1 : 0;
  }
  return boundaryMap01(b, width, height);
}

/** {@link oldBoundaryMap} of a mask that already holds only 0 and 1. */
function boundaryMap01(b: Uint8Array, width: number, height: number): Uint8Array {
  const out = new Uint8Array(width * height);
  const w1 = width - 1;
  for (let y = 0; y < height - 1; y++) {
    const row = y * width;
    const below = row + width;
    for (let x = 0; x < w1; x++) {
      const i = row + x;
      const v = b[i];
      out[i] = (v ^ b[i + 1]) | (v ^ b[below + x]) | (v ^ b[below + x + 1]);
    }
    // last column: only the pixel below
    out[row + w1] = b[row + w1] ^ b[below + w1];
  }
  // last row: only the pixel to the right; the bottom-right pixel stays 0
  const last = (height - 1) * width;
  for (let x = 0; x < w1; x++) {
    out[last + x] = b[last + x] ^ b[last + x + 1];
  }
  return out;
}

/** Half-widths of the rows of a disk of radius r (skimage `disk`: dy^2 + dx^2 <= r^2), index dy + r. */
function oldDiskHalfWidths(r: number): Int32Array {
  const out = new Int32Array(2 * r + 1);
  for (let dy = -r; dy <= r; dy++) {
    out[dy + r] = Math.floor(Math.sqrt(r * r - dy * dy) + 1e-9);
  }
  return out;
}

/** Binary dilation of `map` by a disk of radius r (pixels outside the image are ignored). */
function oldDilateDisk(map: Uint8Array, width: number, height: number, r: number): Uint8Array {
  const out = new Uint8Array(width * height);
  const half = oldDiskHalfWidths(r);
  for (let y = 0; y < height; y++) {
    const row = y * width;
    let x = 0;
    while (x < width) {
      if (map[row + x] === 0) {
        x++;
        continue;
      }
      const a = x;
      while (x < width && map[row + x] !== 0) {
        x++;
      }
      const b = x - 1;
      const y0 = Math.max(0, y - r);
      const y1 = Math.min(height - 1, y + r);
      for (let yy = y0; yy <= y1; yy++) {
        const h = half[yy - y + r];
        const from = Math.max(0, a - h);
        const to = Math.min(width - 1, b + h);
        out.fill(1, yy * width + from, yy * width + to + 1);
      }
    }
  }
  return out;
}

/** Boundary and dilated boundary of one mask, computed once and reused for every pair it enters. */
interface OldFeatures {
  /** The mask as 0/1 (void pixels cleared). */
  mask: Uint8Array;
  boundary: Uint8Array;
  dilated: Uint8Array;
  boundaryCount: number;
  width: number;
  /** Rows holding boundary pixels (first > last when there are none). */
  firstRow: number;
  lastRow: number;
}

/** Precomputes what F needs for a mask. `voidMask` pixels are cleared first (DAVIS does this). */
function oldMaskFeatures(mask: Uint8Array, width: number, height: number, voidMask?: Uint8Array, boundTh = BOUND_TH): OldFeatures {
  const n = width * height;
  const m = new Uint8Array(n);
  if (voidMask) {
    for (let i = 0; i < n; i++) {
      m[i] = mask[i] !== 0 && voidMask[i] === 0 ? 1 : 0;
    }
  } else {
    for (let i = 0; i < n; i++) {
      m[i] = mask[i] !== 0 ? 1 : 0;
    }
  }
  const boundary = boundaryMap01(m, width, height);
  let count = 0;
  let firstRow = height;
  let lastRow = -1;
  for (let y = 0; y < height; y++) {
    let c = 0;
    for (let i = y * width, e = i + width; i < e; i++) {
      c += boundary[i];
    }
    if (c > 0) {
      count += c;
      if (y < firstRow) {
        firstRow = y;
      }
      lastRow = y;
    }
  }
  const dilated = count === 0 ? boundary : oldDilateDisk(boundary, width, height, boundPix(width, height, boundTh));
  return { mask: m, boundary, dilated, boundaryCount: count, width, firstRow, lastRow };
}

/** Contour accuracy with its parts. */
interface OldScore {
  precision: number;
  recall: number;
  f: number;
}

/** F from precomputed features (DAVIS `f_measure` edge cases included). */
function oldFMeasureFeatures(pred: OldFeatures, gt: OldFeatures): OldScore {
  const nFg = pred.boundaryCount;
  const nGt = gt.boundaryCount;
  let precision: number;
  let recall: number;
  if (nFg === 0 && nGt > 0) {
    precision = 1;
    recall = 0;
  } else if (nFg > 0 && nGt === 0) {
    precision = 0;
    recall = 1;
  } else if (nFg === 0 && nGt === 0) {
    precision = 1;
    recall = 1;
  } else {
    let fgMatch = 0;
    let gtMatch = 0;
    const pb = pred.boundary;
    const gb = gt.boundary;
    const pd = pred.dilated;
    const gd = gt.dilated;
    // only rows that hold a boundary pixel of either mask can match
    const from = Math.min(pred.firstRow, gt.firstRow);
    const to = Math.max(pred.lastRow, gt.lastRow);
    const w = pred.width;
    for (let i = from * w, e = (to + 1) * w; i < e; i++) {
      fgMatch += pb[i] & gd[i];
      gtMatch += gb[i] & pd[i];
    }
    precision = fgMatch / nFg;
    recall = gtMatch / nGt;
  }
  const f = precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall);
  return { precision, recall, f };
}

// ---- generators ---------------------------------------------------------------------------------

/** Widths around the word edges are drawn often; the rest uniformly. */
const widthArb = fc.oneof(fc.constantFrom(1, 2, 31, 32, 33, 63, 64, 65, 96, 97), fc.integer({ min: 1, max: 130 }));
const heightArb = fc.integer({ min: 1, max: 60 });

/** A deterministic mask of the given kind from a seed (noise, boxes, blobs, empty, full). */
function makeMask(w: number, h: number, seed: number, kind: number, density = 0.3): Uint8Array {
  let s = seed >>> 0;
  const rnd = (): number => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
  const m = new Uint8Array(w * h);
  if (kind === 0) {
    for (let i = 0; i < m.length; i++) {
      m[i] = rnd() < density ? 1 + Math.floor(rnd() * 254) : 0; // any non-zero value is foreground
    }
  } else if (kind === 1 || kind === 2) {
    for (let k = 0; k < kind * 3; k++) {
      const x0 = Math.floor(rnd() * w);
      const y0 = Math.floor(rnd() * h);
      const x1 = Math.min(w - 1, x0 + Math.floor((rnd() * w) / 2));
      const y1 = Math.min(h - 1, y0 + Math.floor((rnd() * h) / 2));
      for (let y = y0; y <= y1; y++) {
        for (let x = x0; x <= x1; x++) {
          m[y * w + x] = 1;
        }
      }
    }
  } else if (kind === 3) {
    const cx = rnd() * w;
    const cy = rnd() * h;
    const r = 1 + rnd() * Math.max(w, h);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        m[y * w + x] = (x - cx) ** 2 + (y - cy) ** 2 <= r * r ? 255 : 0;
      }
    }
  } else if (kind === 5) {
    m.fill(1);
  } // kind 4: empty
  return m;
}

const maskCase = fc.record({
  w: widthArb, h: heightArb, seedA: fc.integer(), seedB: fc.integer(), seedV: fc.integer(),
  kindA: fc.integer({ min: 0, max: 5 }), kindB: fc.integer({ min: 0, max: 5 }),
  withVoid: fc.boolean(), voidDensity: fc.constantFrom(0.02, 0.2, 1), r: fc.integer({ min: 1, max: 12 }),
});

/** Fixed seed: the same cases on every run. */
const PARAMS = { seed: 0x13a11ef, numRuns: 300 };

suite('bit-packed J and F kernels equal the per-pixel implementation exactly', () => {
  test('boundary map', () => {
    fc.assert(fc.property(maskCase, ({ w, h, seedA, kindA }) => {
      const m = makeMask(w, h, seedA, kindA);
      assert.deepEqual(boundaryMap(m, w, h), oldBoundaryMap(m, w, h));
    }), PARAMS);
  });

  test('disk dilation', () => {
    fc.assert(fc.property(maskCase, ({ w, h, seedA, kindA, r }) => {
      const m = makeMask(w, h, seedA, kindA, 0.05).map((v) => (v ? 1 : 0));
      assert.deepEqual(dilateDisk(m, w, h, r), oldDilateDisk(m, w, h, r));
    }), PARAMS);
  });

  test('disk dilation of masks large enough for the SIMD kernel: widths on and off the 32- and 128-pixel steps, masks at the borders, radii 1 to 40', () => {
    const sizes = fc.constantFrom([257, 131], [1000, 40], [96, 400], [33, 600], [128, 64], [854, 70]);
    fc.assert(fc.property(sizes, fc.integer(), fc.integer({ min: 0, max: 4 }), fc.constantFrom(1, 2, 7, 8, 31, 32, 33, 40), ([w, h], seed, kind, r) => {
      const m = makeMask(w, h, seed, kind, 0.02).map((v) => (v ? 1 : 0));
      // pixels in the corners and along the last column and row
      m[0] = 1;
      m[w * h - 1] = 1;
      m[(h >> 1) * w + w - 1] = 1;
      assert.deepEqual(dilateDisk(m, w, h, r), oldDilateDisk(m, w, h, r), `${w}x${h}, r ${r}`);
    }), { seed: 0x2d11a7e, numRuns: 24 });
  });

  test('J, and F with its precision and recall, with and without void, radius given or from the diagonal', () => {
    fc.assert(fc.property(maskCase, ({ w, h, seedA, seedB, seedV, kindA, kindB, withVoid, voidDensity, r }) => {
      const a = makeMask(w, h, seedA, kindA);
      const b = makeMask(w, h, seedB, kindB);
      const v = withVoid ? makeMask(w, h, seedV, 0, voidDensity) : undefined;
      assert.equal(jaccard(a, b, v), oldJaccard(a, b, v));
      for (const th of [BOUND_TH, r]) {
        const fa = maskFeatures(a, w, h, v, th);
        const fb = maskFeatures(b, w, h, v, th);
        const oa = oldMaskFeatures(a, w, h, v, th);
        const ob = oldMaskFeatures(b, w, h, v, th);
        assert.equal(fa.boundaryCount, oa.boundaryCount);
        assert.equal(fa.firstRow, oa.firstRow);
        assert.equal(fa.lastRow, oa.lastRow);
        assert.deepEqual(unpackMask(fa.mask), oa.mask);
        assert.deepEqual(unpackMask(fa.boundary), oa.boundary);
        assert.deepEqual(unpackMask(fa.dilated), oa.dilated);
        assert.deepEqual(fMeasureFeatures(fa, fb), oldFMeasureFeatures(oa, ob));
        assert.deepEqual(fMeasureFeatures(fb, fa), oldFMeasureFeatures(ob, oa));
        assert.equal(jaccardFeatures(fa, fb), oldJaccard(oa.mask, ob.mask));
      }
      assert.deepEqual(fMeasure(a, b, w, h, v), oldFMeasureFeatures(oldMaskFeatures(a, w, h, v), oldMaskFeatures(b, w, h, v)));
    }), PARAMS);
  });

  test('masks that are unaligned views into a larger buffer pack the same', () => {
    fc.assert(fc.property(maskCase, fc.integer({ min: 1, max: 3 }), ({ w, h, seedA, seedV, kindA, withVoid }, offset) => {
      const a = makeMask(w, h, seedA, kindA);
      const v = withVoid ? makeMask(w, h, seedV, 0, 0.2) : undefined;
      const view = (m: Uint8Array): Uint8Array => {
        const buf = new Uint8Array(m.length + offset + 3).fill(7);
        buf.set(m, offset);
        return buf.subarray(offset, offset + m.length);
      };
      assert.deepEqual(unpackMask(packMask(view(a), w, h, v && view(v))), oldMaskFeatures(a, w, h, v).mask);
    }), { ...PARAMS, numRuns: 100 });
  });

  test('one object of a label map (DAVIS ids, 255 = void) packs as the object mask with void cleared', () => {
    fc.assert(fc.property(widthArb, heightArb, fc.integer(), fc.integer({ min: 1, max: 3 }), fc.boolean(), (w, h, seed, id, withVoid) => {
      let s = seed >>> 0;
      const rnd = (): number => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
      const labels = new Uint8Array(w * h).map(() => [0, 0, 1, 2, 3, 255][Math.floor(rnd() * 6)]);
      const gtLabels = new Uint8Array(w * h).map(() => (rnd() < 0.2 ? 255 : Math.floor(rnd() * 3)));
      const voidMask = withVoid ? gtLabels.map((x) => (x === 255 ? 1 : 0)) : undefined;
      // the void bits are built once per frame and serve every object of it
      const clear = withVoid ? voidBits(gtLabels, w * h) : undefined;
      for (const k of [id, ...[1, 2, 3].filter((x) => x !== id)]) {
        const object = labels.map((x) => (x === k ? 1 : 0));
        const packed = packedFeatures(packLabel(labels, k, w, h, clear));
        const old = oldMaskFeatures(object, w, h, voidMask);
        assert.deepEqual(unpackMask(packed.mask), old.mask);
        assert.deepEqual(unpackMask(packed.dilated), old.dilated);
        assert.equal(packed.boundaryCount, old.boundaryCount);
      }
    }), { ...PARAMS, numRuns: 100 });
  });

  test('objects confined to bands of rows: packing only the rows each id occupies (in reused buffers) gives the same features, J and F', () => {
    fc.assert(fc.property(widthArb, heightArb, fc.integer(), fc.integer({ min: 0, max: 3 }), fc.boolean(), (w, h, seed, offset, withVoid) => {
      let s = seed >>> 0;
      const rnd = (): number => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
      // each id in a random band of rows (ids 1..3; 255 as void), background elsewhere
      const band = (): Uint8Array => {
        const m = new Uint8Array(w * h);
        for (const id of [1, 2, 3, 255]) {
          const y0 = Math.floor(rnd() * h);
          const y1 = Math.min(h - 1, y0 + Math.floor(rnd() * h * 0.4));
          const x0 = Math.floor(rnd() * w);
          const x1 = Math.min(w - 1, x0 + Math.floor(rnd() * w));
          for (let y = y0; y <= y1; y++) {
            for (let x = x0; x <= x1; x++) {
              if (rnd() < 0.7) {
                m[y * w + x] = id;
              }
            }
          }
        }
        return m;
      };
      // unaligned views take the per-byte path of the row scan
      const view = (m: Uint8Array): Uint8Array => {
        const buf = new Uint8Array(m.length + offset).fill(9);
        buf.set(m, offset);
        return buf.subarray(offset);
      };
      const pred = view(band());
      const gt = view(band());
      const clear = withVoid ? voidBits(gt, w * h) : undefined;
      const voidMask = withVoid ? gt.map((x) => (x === 255 ? 1 : 0)) : undefined;
      const pr = labelRows(pred, w, h);
      const gr = labelRows(gt, w, h);
      for (const [m, rows] of [[pred, pr], [gt, gr]] as const) {
        for (let id = 0; id < 256; id++) {
          let first = h;
          let last = -1;
          for (let i = 0; i < w * h; i++) {
            if (id !== 0 && m[i] === id) {
              first = Math.min(first, Math.floor(i / w));
              last = Math.max(last, Math.floor(i / w));
            }
          }
          if (id !== 0) {
            assert.deepEqual([rows.first[id], rows.last[id]], [first, last], `id ${id}`);
          }
        }
        const present = [...new Set(m)].filter((x) => x !== 0);
        assert.equal(rows.max255, Math.max(0, ...present));
        assert.equal(rows.max, Math.max(0, ...present.filter((x) => x !== 255)));
      }
      for (const k of [1, 2, 3, 4]) {
        const fp = packedFeatures(packLabel(pred, k, w, h, clear, pr));
        const fg = packedFeatures(packLabel(gt, k, w, h, clear, gr));
        const op = oldMaskFeatures(pred.map((x) => (x === k ? 1 : 0)), w, h, voidMask);
        const og = oldMaskFeatures(gt.map((x) => (x === k ? 1 : 0)), w, h, voidMask);
        assert.deepEqual(unpackMask(fp.mask), op.mask);
        assert.deepEqual(unpackMask(fp.boundary), op.boundary);
        assert.deepEqual(unpackMask(fp.dilated), op.dilated);
        assert.deepEqual([fp.boundaryCount, fp.firstRow, fp.lastRow], [op.boundaryCount, op.firstRow, op.lastRow]);
        assert.equal(jaccardFeatures(fp, fg), oldJaccard(op.mask, og.mask));
        assert.deepEqual(fMeasureFeatures(fp, fg), oldFMeasureFeatures(op, og));
        // against a mask packed over every row
        const full = packedFeatures(packLabel(pred, k, w, h, clear));
        assert.equal(jaccardFeatures(fp, fg), jaccardFeatures(full, fg));
        assert.deepEqual(fMeasureFeatures(full, fg), fMeasureFeatures(fp, fg));
        // their buffers go back to the pool, still holding bits: the next id's masks are built in them
        releaseFeatures([fp, fg, full]);
      }
    }), { ...PARAMS, numRuns: 150 });
  });

  test('854x480 blobs (bound_pix 8): identical J and F', () => {
    fc.assert(fc.property(fc.integer(), fc.integer(), fc.boolean(), (seedA, seedB, withVoid) => {
      const [w, h] = [854, 480];
      const a = makeMask(w, h, seedA, 3);
      const b = makeMask(w, h, seedB, 2);
      const v = withVoid ? makeMask(w, h, seedA ^ seedB, 1) : undefined;
      assert.equal(boundPix(w, h), 8);
      assert.equal(jaccard(a, b, v), oldJaccard(a, b, v));
      assert.deepEqual(fMeasure(a, b, w, h, v), oldFMeasureFeatures(oldMaskFeatures(a, w, h, v), oldMaskFeatures(b, w, h, v)));
    }), { seed: 0x13a11ef, numRuns: 10 });
  });

  test('large label maps go through the SIMD kernels: rows per id, packed objects and void bits equal a per-pixel scan', () => {
    // sizes past the kernels' threshold, widths on and off the 16- and 32-pixel steps, unaligned views;
    // uniform chunks, mixed chunks, runs, 255 and 0 as a selected value
    fc.assert(fc.property(fc.constantFrom([854, 480], [257, 131], [1000, 7], [64, 64], [4096, 2], [33, 300]), fc.integer(), fc.integer({ min: 0, max: 3 }), ([w, h], seed, offset) => {
      let s = seed >>> 0;
      const rnd = (): number => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
      const buf = new Uint8Array(w * h + offset);
      const labels = buf.subarray(offset);
      // a few rectangles of ids 1..4 and 255 over background, plus sprinkled pixels
      for (let r = 0; r < 6; r++) {
        const id = [1, 2, 3, 4, 255, 200][r];
        const x0 = Math.floor(rnd() * w);
        const y0 = Math.floor(rnd() * h);
        const x1 = Math.min(w, x0 + 1 + Math.floor(rnd() * w * 0.5));
        const y1 = Math.min(h, y0 + 1 + Math.floor(rnd() * h * 0.5));
        for (let y = y0; y < y1; y++) {
          labels.fill(id, y * w + x0, y * w + x1);
        }
      }
      for (let k = 0; k < 40; k++) {
        labels[Math.floor(rnd() * w * h)] = 1 + Math.floor(rnd() * 254);
      }
      const rows = labelRows(labels, w, h);
      const first = new Int32Array(256).fill(h);
      const last = new Int32Array(256).fill(-1);
      for (let y = 0; y < h; y++) {
        for (let x = 0; x < w; x++) {
          const v = labels[y * w + x];
          if (v !== 0) {
            first[v] = Math.min(first[v], y);
            last[v] = y;
          }
        }
      }
      assert.deepEqual([...rows.first], [...first]);
      assert.deepEqual([...rows.last], [...last]);
      const voidFlat = voidBits(labels, w * h);
      for (let i = 0; i < w * h; i++) {
        assert.equal((voidFlat[i >>> 5] >>> (i & 31)) & 1, labels[i] === 255 ? 1 : 0, `void bit ${i}`);
      }
      const clearMask = labels.map((v) => (v === 255 ? 1 : 0));
      for (const id of [1, 2, 4, 0]) {
        const want = labels.map((v) => (v === id ? 1 : 0));
        if (id !== 0) {
          assert.deepEqual(unpackMask(packLabel(labels, id, w, h, undefined, rows)), want, `id ${id}`);
        }
        assert.deepEqual(unpackMask(packLabel(labels, id, w, h)), want, `id ${id}, every row`);
      }
      assert.deepEqual(unpackMask(packMask(labels, w, h, clearMask)), labels.map((v) => (v !== 0 && v !== 255 ? 1 : 0)));
    }), { seed: 0x5117d, numRuns: 40 });
  });
});
