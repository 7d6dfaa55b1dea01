import assert from 'node:assert/strict';
import path from 'node:path';
import sharp from 'sharp';
import { readLabelPng } from '../../../../src/pipeline/masks/labelPng';
import { boxIoU } from '../../../../src/common/boxes';
import { maskBounds as maskBox } from '../../../../src/pipeline/masks/rle';
import { boxMetrics, deltaByKey, frameMetrics, maskArea, meanByKey, meanDefined, scaleBox } from '../../../../src/pipeline/metrics/pivotMetrics';
import { SAMPLES } from '../../../tooling/media';

/** A width x height mask with the rectangle [x0, x1) x [y0, y1) set. */
function rect(width: number, height: number, x0: number, y0: number, x1: number, y1: number): Uint8Array {
  const m = new Uint8Array(width * height);
  for (let y = y0; y < y1; y++) {
    for (let x = x0; x < x1; x++) {
      m[y * width + x] = 1;
    }
  }
  return m;
}

suite('pivot metrics on small synthetic masks', () => {
  test('area and tight bounding box of a mask; an empty mask has no box', () => {
    const m = rect(10, 8, 2, 3, 6, 5);
    assert.equal(maskArea(m), 8);
    assert.deepEqual(maskBox(m, 10, 8), { x0: 2, y0: 3, x1: 6, y1: 5 });
    assert.equal(maskBox(new Uint8Array(80), 10, 8), null);
  });

  test('box IoU: identical, disjoint, and a hand-computed overlap', () => {
    const a = { x0: 0, y0: 0, x1: 4, y1: 4 };
    assert.equal(boxIoU(a, a), 1);
    assert.equal(boxIoU(a, { x0: 5, y0: 5, x1: 6, y1: 6 }), 0);
    // overlap 2 x 4 = 8; union 16 + 16 - 8 = 24
    assert.equal(boxIoU(a, { x0: 2, y0: 0, x1: 6, y1: 4 }), 8 / 24);
  });

  test('frame metrics: chosen area over the best sampled frame; visibility; undefined without ground truth', () => {
    const areas = new Map([[0, 10], [5, 40], [10, 0]]);
    assert.deepEqual(frameMetrics(areas, 5), { frameAreaRatio: 1, frameVisible: 1 });
    assert.deepEqual(frameMetrics(areas, 0), { frameAreaRatio: 0.25, frameVisible: 1 });
    assert.deepEqual(frameMetrics(areas, 10), { frameAreaRatio: 0, frameVisible: 0 });
    assert.deepEqual(frameMetrics(areas, 15), { frameAreaRatio: null, frameVisible: null });
    assert.deepEqual(frameMetrics(new Map([[0, 0], [5, 0]]), 5), { frameAreaRatio: null, frameVisible: 0 }, 'referent absent from the whole clip');
  });

  test('box metrics: IoU with the mask box and whether the centre pixel is on the object', () => {
    // an L-shaped object: its box is [2, 8) x [2, 8), but the centre (5, 5) is background
    const m = rect(10, 10, 2, 2, 8, 4);
    for (let y = 4; y < 8; y++) {
      m[y * 10 + 2] = 1;
      m[y * 10 + 3] = 1;
    }
    assert.deepEqual(maskBox(m, 10, 10), { x0: 2, y0: 2, x1: 8, y1: 8 });
    assert.deepEqual(boxMetrics({ x0: 2, y0: 2, x1: 8, y1: 8 }, m, 10, 10), { boxIoU: 1, boxCentreOnObject: 0 });
    // box [0, 4) x [0, 8): centre (2, 4) is on the object; overlap with [2, 8) x [2, 8) is 2 x 6 = 12, union 32 + 36 - 12 = 56
    assert.deepEqual(boxMetrics({ x0: 0, y0: 0, x1: 4, y1: 8 }, m, 10, 10), { boxIoU: 12 / 56, boxCentreOnObject: 1 });
    assert.deepEqual(boxMetrics({ x0: 0, y0: 0, x1: 4, y1: 4 }, new Uint8Array(100), 10, 10), { boxIoU: 0, boxCentreOnObject: 0 }, 'no object on the frame');
  });

  test('boxes scale from the decoded frame to the mask grid', () => {
    assert.deepEqual(scaleBox({ x0: 10, y0: 20, x1: 30, y1: 40 }, { width: 100, height: 200 }, { width: 50, height: 50 }), { x0: 5, y0: 5, x1: 15, y1: 10 });
  });

  test('means skip undefined values; deltas are null where either side is', () => {
    assert.equal(meanDefined([1, null, 3, undefined]), 2);
    assert.equal(meanDefined([null]), null);
    assert.deepEqual(meanByKey([{ a: 1, b: null }, { a: 3, b: null }], ['a', 'b']), { a: 2, b: null });
    assert.deepEqual(deltaByKey({ a: 0.5, b: 2 }, { a: 0.75, b: null }, ['a', 'b']), { a: -0.25, b: null });
  });
});

suite('pivot metrics on the DAVIS car-shadow ground truth', () => {
  const ANN = path.join(SAMPLES, 'davis-car-shadow/Annotations');
  const file = (t: number): string => path.join(ANN, `${String(t).padStart(5, '0')}.png`);

  /** Object pixels and box counted from sharp's raw decode, independently of the product's PNG reader. */
  async function reference(t: number): Promise<{ area: number; box: { x0: number; y0: number; x1: number; y1: number } }> {
    const { data, info } = await sharp(file(t)).greyscale().raw().toBuffer({ resolveWithObject: true });
    let area = 0;
    let x0 = info.width;
    let y0 = info.height;
    let x1 = 0;
    let y1 = 0;
    for (let i = 0; i < data.length; i++) {
      if (data[i] > 0) {
        area++;
        const x = i % info.width;
        const y = Math.floor(i / info.width);
        x0 = Math.min(x0, x);
        y0 = Math.min(y0, y);
        x1 = Math.max(x1, x + 1);
        y1 = Math.max(y1, y + 1);
      }
    }
    return { area, box: { x0, y0, x1, y1 } };
  }

  async function mask(t: number): Promise<{ m: Uint8Array; width: number; height: number }> {
    const img = await readLabelPng(file(t));
    return { m: img.data.map((v) => (v !== 0 ? 1 : 0)), width: img.width, height: img.height };
  }

  test('areas and boxes match an independent count; the car shrinks as it drives away', async () => {
    for (const t of [0, 10, 20]) {
      const { m, width, height } = await mask(t);
      const ref = await reference(t);
      assert.equal(maskArea(m), ref.area, `frame ${t}`);
      assert.deepEqual(maskBox(m, width, height), ref.box, `frame ${t}`);
    }
    assert.equal(maskArea((await mask(0)).m), 41790);
    assert.deepEqual(maskBox((await mask(0)).m, 854, 480), { x0: 313, y0: 88, x1: 655, y1: 282 });
  });

  test('clip of frames 0, 5, 10, 15, 20: choosing frame 10 scores its area over frame 0', async () => {
    const areas = new Map<number, number>();
    for (const t of [0, 5, 10, 15, 20]) {
      areas.set(t, maskArea((await mask(t)).m));
    }
    assert.deepEqual(frameMetrics(areas, 10), { frameAreaRatio: 31960 / 41790, frameVisible: 1 });
    assert.deepEqual(frameMetrics(areas, 0), { frameAreaRatio: 1, frameVisible: 1 });
  });

  test('the car box on frame 0 scores IoU 1 with its centre on the car; a shifted box scores its hand-computed IoU', async () => {
    const { m, width, height } = await mask(0);
    const car = { x0: 313, y0: 88, x1: 655, y1: 282 };
    const exact = boxMetrics(car, m, width, height);
    assert.equal(exact.boxIoU, 1);
    assert.equal(exact.boxCentreOnObject, 1);
    // shifted right by 171 px (half the width): overlap 171 x 194, union 2 x 342 x 194 - 171 x 194
    const shifted = boxMetrics({ x0: 484, y0: 88, x1: 826, y1: 282 }, m, width, height);
    assert.equal(shifted.boxIoU, (171 * 194) / (2 * 342 * 194 - 171 * 194));
    const sky = boxMetrics({ x0: 0, y0: 0, x1: 100, y1: 60 }, m, width, height);
    assert.deepEqual(sky, { boxIoU: 0, boxCentreOnObject: 0 });
  });
});
