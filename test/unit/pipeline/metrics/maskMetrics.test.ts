import * as assert from 'node:assert/strict';
import path from 'node:path';
import fc from 'fast-check';
import {
  avsFMeasure, avsIoU, avsScores, AvssAccumulator, boundPix, boundaryMap, davisStatistics, dilateDisk, fMeasure, jaccard,
} from '../../../../src/pipeline/metrics/maskMetrics';
import { readLabelPng, nonZero } from '../../../../src/pipeline/masks/labelPng';
import { SAMPLES } from '../../../tooling/media';
import { CAR_SHADOW_REFERENCE } from '../../../tooling/davisReference';

const CAR = path.join(SAMPLES, 'davis-car-shadow/Annotations');

function box(w: number, h: number, y0: number, y1: number, x0: number, x1: number): Uint8Array {
  const m = new Uint8Array(w * h);
  for (let y = y0; y <= y1; y++) {
    for (let x = x0; x <= x1; x++) {
      m[y * w + x] = 1;
    }
  }
  return m;
}

/** Straightforward F: boundary per docs/METRICS.md, match by explicit distance check against every boundary pixel. */
function naiveF(pred: Uint8Array, gt: Uint8Array, w: number, h: number): number {
  const r = boundPix(w, h);
  const bmap = (m: Uint8Array): Array<[number, number]> => {
    const at = (y: number, x: number): number => (y < h && x < w ? m[y * w + x] : 0);
    const pts: Array<[number, number]> = [];
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const b = at(y, x);
        let v: number;
        if (y === h - 1 && x === w - 1) {
          v = 0;
        } else if (y === h - 1) {
          v = b ^ at(y, x + 1);
        } else if (x === w - 1) {
          v = b ^ at(y + 1, x);
        } else {
          v = (b ^ at(y, x + 1)) | (b ^ at(y + 1, x)) | (b ^ at(y + 1, x + 1));
        }
        if (v) {
          pts.push([y, x]);
        }
      }
    }
    return pts;
  };
  const pb = bmap(pred);
  const gb = bmap(gt);
  const near = (p: [number, number], set: Array<[number, number]>): boolean =>
    set.some(([y, x]) => (y - p[0]) ** 2 + (x - p[1]) ** 2 <= r * r);
  let P: number;
  let R: number;
  if (pb.length === 0 && gb.length > 0) {
    P = 1; R = 0;
  } else if (pb.length > 0 && gb.length === 0) {
    P = 0; R = 1;
  } else if (pb.length === 0 && gb.length === 0) {
    P = 1; R = 1;
  } else {
    P = pb.filter((p) => near(p, gb)).length / pb.length;
    R = gb.filter((p) => near(p, pb)).length / gb.length;
  }
  return P + R === 0 ? 0 : (2 * P * R) / (P + R);
}

suite('metrics/maskMetrics: reference values of docs/METRICS.md', () => {
  test('bound_pix is 8 at 854x480 and 1 at 64x48', () => {
    assert.equal(boundPix(854, 480), 8);
    assert.equal(boundPix(64, 48), 1);
  });

  test('48x64 box moved (+2 rows, +4 cols): J = 432/688, F = 0.0625', () => {
    const gt = box(64, 48, 10, 29, 12, 39);
    const pred = box(64, 48, 12, 31, 16, 43);
    assert.ok(Math.abs(jaccard(pred, gt) - 0.627906976744186) < 1e-12);
    assert.ok(Math.abs(jaccard(pred, gt) - 432 / 688) < 1e-12);
    assert.ok(Math.abs(fMeasure(pred, gt, 64, 48).f - 0.0625) < 1e-12);
  });

  test('empty conventions: J(empty, empty) = 1, F(empty, empty) = 1, F(gt, empty) = 0, J(empty gt, pred) = 0', () => {
    const empty = new Uint8Array(64 * 48);
    const gt = box(64, 48, 10, 29, 12, 39);
    assert.equal(jaccard(empty, empty), 1);
    assert.equal(fMeasure(empty, empty, 64, 48).f, 1);
    const fr = fMeasure(empty, gt, 64, 48);
    assert.equal(fr.f, 0);
    assert.deepEqual([fr.precision, fr.recall], [1, 0]);
    const fp = fMeasure(gt, empty, 64, 48);
    assert.deepEqual([fp.precision, fp.recall, fp.f], [0, 1, 0]);
    assert.equal(jaccard(gt, empty), 0);
  });

  const R = CAR_SHADOW_REFERENCE;
  const pairs: Array<[string, string, number, number]> = [
    ['00000', '00001', R.f0v1.j, R.f0v1.f],
    ['00000', '00005', R.f0v5.j, R.f0v5.f],
    ['00000', '00010', R.f0v10.j, R.f0v10.f],
    ['00010', '00039', R.f10v39.j, R.f10v39.f],
  ];
  for (const [a, b, j, f] of pairs) {
    test(`DAVIS car-shadow ${a} vs ${b}: J ${j}, F ${f} (854x480, bound_pix 8)`, async () => {
      const ga = await readLabelPng(path.join(CAR, `${a}.png`));
      const gb = await readLabelPng(path.join(CAR, `${b}.png`));
      assert.deepEqual([ga.width, ga.height], [854, 480]);
      const ma = nonZero(ga.data);
      const mb = nonZero(gb.data);
      assert.ok(Math.abs(jaccard(mb, ma) - j) < 1e-6, `J ${jaccard(mb, ma)}`);
      assert.ok(Math.abs(fMeasure(mb, ma, 854, 480).f - f) < 1e-6, `F ${fMeasure(mb, ma, 854, 480).f}`);
    });
  }

  test('AVS 224x224: box moved (10,10) gives IoU 0.680672 and F 0.81; against an empty gt IoU 0.800702 and F 0', () => {
    const gt = box(224, 224, 50, 149, 50, 149);
    const pred = box(224, 224, 60, 159, 60, 159);
    const empty = new Uint8Array(224 * 224);
    assert.ok(Math.abs(avsIoU(pred, gt) - 0.680672) < 1e-6);
    assert.ok(Math.abs(avsFMeasure([pred], [gt]) - 0.81) < 1e-6);
    assert.ok(Math.abs(avsIoU(pred, empty) - 0.800702) < 1e-6);
    assert.equal(avsFMeasure([pred], [empty]), 0);
  });
});

suite('metrics/maskMetrics: aggregation', () => {
  test('davisStatistics: mean, recall > 0.5, decay over the official overlapping quarters', () => {
    // N = 9: ids = round(linspace(1, 9, 5)) - 1 = [0, 2, 4, 6, 8]; first bin [0..2], last bin [6..8]
    const v = [1, 1, 1, 0.5, 0.5, 0.5, 0, 0, 0.3];
    const s = davisStatistics(v);
    assert.ok(Math.abs(s.mean - 4.8 / 9) < 1e-12);
    assert.ok(Math.abs(s.recall - 3 / 9) < 1e-12);
    assert.ok(Math.abs(s.decay - (1 - 0.1)) < 1e-12);
    // N = 6: linspace(1,6,5) = [1, 2.25, 3.5, 4.75, 6] -> round(+1e-10) = [1, 2, 4, 5, 6] -> ids [0,1,3,4,5]
    const w = [0.9, 0.7, 0.1, 0.2, 0.4, 0.6];
    const d = davisStatistics(w).decay;
    assert.ok(Math.abs(d - ((0.9 + 0.7) / 2 - (0.4 + 0.6) / 2)) < 1e-12);
    assert.equal(davisStatistics([0.7]).decay, 0);
    // N = 2: ids [0, 0, 1, 1, 1]; the first bin is frame 0 alone, so a NaN there makes the decay NaN, as in numpy
    assert.ok(Number.isNaN(davisStatistics([Number.NaN, 0.7]).decay));
  });

  test('AVS conventions: per-frame adds F = 0 for an empty-gt frame, per-video skips it', () => {
    const gt = box(224, 224, 50, 149, 50, 149);
    const pred = box(224, 224, 60, 159, 60, 159);
    const empty = new Uint8Array(224 * 224);
    const video = { preds: [pred, pred], gts: [gt, empty] };
    const perVideo = avsScores([video], 'per-video');
    const perFrame = avsScores([video], 'per-frame');
    assert.ok(Math.abs(perVideo.mF - 0.81) < 1e-6);
    assert.ok(Math.abs(perFrame.mF - 0.405) < 1e-6);
    assert.ok(Math.abs(perVideo.mJ - (0.680672 + 0.800702) / 2) < 1e-6);
    assert.ok(Math.abs(perFrame.mJ - perVideo.mJ) < 1e-12);
  });

  test('AVSS: per-class IoU and F accumulated over frames, absent classes 0, noBg variants', () => {
    const w = 4;
    const gt = new Uint8Array([0, 0, 1, 1, 0, 0, 1, 1, 2, 2, 0, 0, 2, 2, 0, 0]);
    const pred = new Uint8Array([0, 0, 1, 1, 0, 0, 1, 0, 2, 0, 0, 0, 0, 0, 0, 0]);
    assert.equal(gt.length, w * w);
    const acc = new AvssAccumulator(4);
    acc.add(pred, gt);
    const r = acc.result();
    // class 0: inter 8, pred 12, gt 8 -> IoU 8/12; class 1: 3/4; class 2: 1/4; class 3 absent -> 0
    assert.ok(Math.abs(r.perClassIoU[0] - 8 / 12) < 1e-12);
    assert.ok(Math.abs(r.perClassIoU[1] - 3 / 4) < 1e-12);
    assert.ok(Math.abs(r.perClassIoU[2] - 1 / 4) < 1e-12);
    assert.equal(r.perClassIoU[3], 0);
    const fb = (p: number, rc: number): number => (1.3 * p * rc) / (0.3 * p + rc);
    assert.ok(Math.abs(r.perClassF[1] - fb(1, 3 / 4)) < 1e-12);
    assert.ok(Math.abs(r.mIoU - (8 / 12 + 3 / 4 + 1 / 4) / 4) < 1e-12);
    assert.ok(Math.abs(r.mIoUNoBg - (3 / 4 + 1 / 4) / 3) < 1e-12);
    assert.ok(Math.abs(acc.result('last').mIoUNoBg - (8 / 12 + 3 / 4 + 1 / 4) / 3) < 1e-12);
  });
});

suite('metrics/maskMetrics: properties', () => {
  const maskArb = (w: number, h: number) => fc.uint8Array({ minLength: w * h, maxLength: w * h, min: 0, max: 1 });

  test('J is symmetric and in [0, 1]', () => {
    fc.assert(fc.property(maskArb(9, 7), maskArb(9, 7), (a, b) => {
      const j = jaccard(a, b);
      return j === jaccard(b, a) && j >= 0 && j <= 1;
    }));
  });

  test('F is in [0, 1], F(m, m) = 1, J(m, m) = 1', () => {
    fc.assert(fc.property(maskArb(11, 6), maskArb(11, 6), (a, b) => {
      const f = fMeasure(a, b, 11, 6).f;
      return f >= 0 && f <= 1 && fMeasure(a, a, 11, 6).f === 1 && jaccard(a, a) === 1;
    }));
  });

  test('fast F equals a naive distance-based F on random masks (sizes up to 160x100, radius 1..2)', () => {
    fc.assert(fc.property(
      fc.integer({ min: 2, max: 160 }), fc.integer({ min: 2, max: 100 }), fc.integer(), fc.integer({ min: 0, max: 3 }),
      (w, h, seed, kind) => {
        let s = seed >>> 0;
        const rnd = (): number => ((s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32);
        const make = (): Uint8Array => {
          const m = new Uint8Array(w * h);
          if (kind === 0) {
            for (let i = 0; i < m.length; i++) { m[i] = rnd() < 0.3 ? 1 : 0; }
          } else if (kind === 3) {
            return m;
          } else {
            for (let k = 0; k < kind * 2; k++) {
              const x0 = Math.floor(rnd() * w); const y0 = Math.floor(rnd() * h);
              const x1 = Math.min(w - 1, x0 + Math.floor(rnd() * w / 2)); const y1 = Math.min(h - 1, y0 + Math.floor(rnd() * h / 2));
              for (let y = y0; y <= y1; y++) { for (let x = x0; x <= x1; x++) { m[y * w + x] = 1; } }
            }
          }
          return m;
        };
        const a = make();
        const b = make();
        return Math.abs(fMeasure(a, b, w, h).f - naiveF(a, b, w, h)) < 1e-12;
      },
    ), { numRuns: 40 });
  });

  test('dilation with a disk equals pixel-wise disk stamping', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 30 }), fc.integer({ min: 1, max: 30 }), fc.integer({ min: 1, max: 6 }), fc.integer(), (w, h, r, seed) => {
      let s = seed >>> 0;
      const rnd = (): number => ((s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32);
      const m = new Uint8Array(w * h).map(() => (rnd() < 0.1 ? 1 : 0));
      const d = dilateDisk(m, w, h, r);
      for (let y = 0; y < h; y++) {
        for (let x = 0; x < w; x++) {
          let want = 0;
          for (let yy = 0; yy < h && !want; yy++) {
            for (let xx = 0; xx < w; xx++) {
              if (m[yy * w + xx] && (yy - y) ** 2 + (xx - x) ** 2 <= r * r) { want = 1; break; }
            }
          }
          if (d[y * w + x] !== want) { return false; }
        }
      }
      return true;
    }), { numRuns: 40 });
  });

  test('boundary map of a single pixel, and a full mask has none (right and bottom edges only look inwards)', () => {
    const one = new Uint8Array(9); one[4] = 1;
    assert.deepEqual(Array.from(boundaryMap(one, 3, 3)), [1, 1, 0, 1, 1, 0, 0, 0, 0]);
    assert.deepEqual(Array.from(boundaryMap(new Uint8Array(9).fill(1), 3, 3)), [0, 0, 0, 0, 0, 0, 0, 0, 0]);
  });
});
