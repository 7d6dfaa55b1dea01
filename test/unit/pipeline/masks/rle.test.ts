import assert from 'node:assert/strict';
import fc from 'fast-check';
import { countsFromString, countsToString, decodeRle, encodeRle, encodeRleCounts, maskBounds, maskToCounts, rleArea, unionRle, emptyRle } from '../../../../src/pipeline/masks/rle';
import { maskToCountsReference } from './rle.reference';
import { prng } from '../../../tooling/prng';

/** Named `w*h` masks: empty, full, single pixels, borders, stripes, noise, blobs; object values 1, 255 and others. */
function maskCases(w: number, h: number, rand: () => number): Array<[string, Uint8Array]> {
  const make = (fn: (x: number, y: number) => number): Uint8Array => {
    const m = new Uint8Array(w * h);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        m[y * w + x] = fn(x, y);
      }
    }
    return m;
  };
  const cases: Array<[string, Uint8Array]> = [
    ['empty', make(() => 0)],
    ['full', make(() => 1)],
    ['full 255', make(() => 255)],
    ['full, mixed object values', make(() => 1 + Math.floor(rand() * 255))],
    ['first row', make((_x, y) => (y === 0 ? 1 : 0))],
    ['last row', make((_x, y) => (y === h - 1 ? 1 : 0))],
    ['first column', make((x) => (x === 0 ? 1 : 0))],
    ['last column', make((x) => (x === w - 1 ? 1 : 0))],
    ['border frame', make((x, y) => (x === 0 || y === 0 || x === w - 1 || y === h - 1 ? 1 : 0))],
    ['vertical stripes', make((x) => (x % 3 === 1 ? 1 : 0))],
    ['horizontal stripes', make((_x, y) => (y % 2 === 1 ? 7 : 0))],
    ['checkerboard', make((x, y) => ((x + y) % 2))],
    ['diagonal', make((x, y) => (x === y ? 1 : 0))],
  ];
  for (const [x, y] of [[0, 0], [w - 1, 0], [0, h - 1], [w - 1, h - 1], [w >> 1, h >> 1]]) {
    cases.push([`single pixel at ${x},${y}`, make((xx, yy) => (xx === x && yy === y ? 1 : 0))]);
    cases.push([`single hole at ${x},${y}`, make((xx, yy) => (xx === x && yy === y ? 0 : 1))]);
  }
  for (const p of [0.02, 0.5, 0.98]) {
    cases.push([`noise p=${p}`, make(() => (rand() < p ? [1, 2, 128, 255][Math.floor(rand() * 4)] : 0))]);
  }
  for (let k = 0; k < 3; k++) {
    const cx = rand() * w;
    const cy = rand() * h;
    const r = 1 + rand() * Math.max(w, h) * 0.4;
    cases.push([`blob ${k}`, make((x, y) => ((x - cx) ** 2 + (y - cy) ** 2 <= r * r ? 1 : 0))]);
  }
  return cases;
}

suite('masks/rle: COCO run-length encoding', () => {
  test('runs are column-major and start with background', () => {
    // 2 rows x 3 columns, row-major:
    // 0 1 1
    // 0 0 1
    const mask = Uint8Array.from([0, 1, 1, 0, 0, 1]);
    // column-major order: (0,0)=0 (1,0)=0 | (0,1)=1 (1,1)=0 | (0,2)=1 (1,2)=1
    assert.deepEqual(maskToCounts(mask, 3, 2), [2, 1, 1, 2]);
    const full = Uint8Array.from([1, 1, 1, 1]);
    assert.deepEqual(maskToCounts(full, 2, 2), [0, 4]);
  });

  test('string form matches the pycocotools algorithm worked by hand', () => {
    // 100 = 0b11_00100: low group 4 with continuation (4|32)+48 = 'T', then 3 -> '3'; the second count 3 -> '3'
    assert.equal(countsToString([100, 3]), 'T33');
    assert.equal(countsToString([0, 5]), '05');
    // i > 2 are stored as deltas to i-2: [3, 4, 5, 1] -> 3, 4, 5, (1-4 = -3)
    // -3 & 31 = 29 ('M' = 29+48), sign bit set and x>>5 = -1 -> stop
    assert.equal(countsToString([3, 4, 5, 1]), '345M');
    assert.deepEqual(countsFromString('345M'), [3, 4, 5, 1]);
    assert.deepEqual(countsFromString('T33'), [100, 3]);
  });

  test('round trip on random masks (string and number counts)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 17 }), fc.integer({ min: 1, max: 13 }), fc.array(fc.boolean(), { minLength: 221, maxLength: 221 }), (w, h, bits) => {
        const mask = Uint8Array.from(bits.slice(0, w * h).map((b) => (b ? 1 : 0)));
        assert.deepEqual(decodeRle(encodeRle(mask, w, h)), mask);
        assert.deepEqual(decodeRle(encodeRleCounts(mask, w, h)), mask);
        assert.equal(rleArea(encodeRle(mask, w, h)), mask.reduce((a, b) => a + b, 0));
      }),
      { numRuns: 200 },
    );
  });

  test('large counts beyond 2^25 survive the string form', () => {
    const counts = [40_000_000, 7, 1_000_000, 39_000_000];
    assert.deepEqual(countsFromString(countsToString(counts)), counts);
  });

  test('size is [height, width]', () => {
    const rle = encodeRle(new Uint8Array(6), 3, 2);
    assert.deepEqual(rle.size, [2, 3]);
    assert.deepEqual(emptyRle(3, 2), rle);
  });

  test('counts that do not cover the mask are rejected', () => {
    assert.throws(() => decodeRle({ size: [2, 2], counts: [1, 2] }), /cover 3 pixels/);
    assert.throws(() => decodeRle({ size: [2, 2], counts: [3, 2] }), /do not fit/);
    assert.throws(() => countsFromString('T'), /Truncated/);
  });

  test('union and bounds', () => {
    const a = Uint8Array.from([1, 0, 0, 0, 0, 0]);
    const b = Uint8Array.from([0, 0, 0, 0, 0, 1]);
    const u = decodeRle(unionRle([encodeRle(a, 3, 2), encodeRle(b, 3, 2)]));
    assert.deepEqual(u, Uint8Array.from([1, 0, 0, 0, 0, 1]));
    assert.deepEqual(maskBounds(u, 3, 2), { x0: 0, y0: 0, x1: 3, y1: 2 });
    assert.equal(maskBounds(new Uint8Array(6), 3, 2), null);
  });

  test('maskToCounts and encodeRle equal the column-by-column reference on many masks, sizes and buffer offsets', () => {
    const rand = prng(3);
    const sizes: Array<[number, number]> = [[1, 1], [1, 9], [9, 1], [2, 2], [3, 7], [7, 3], [4, 4], [5, 40], [8, 33], [33, 8], [257, 131], [854, 480], [1279, 5], [1280, 720]];
    let compared = 0;
    for (const [w, h] of sizes) {
      for (const [name, mask] of maskCases(w, h, rand)) {
        const want = maskToCountsReference(mask, w, h);
        // the same mask at every alignment inside a larger buffer (a Node Buffer slice, a subarray)
        for (const offset of [0, 1, 2, 3, 5]) {
          const host = new Uint8Array(mask.length + offset + 3).fill(0xaa);
          host.set(mask, offset);
          const view = host.subarray(offset, offset + mask.length);
          assert.deepEqual(maskToCounts(view, w, h), want, `${w}x${h} ${name} at byte offset ${offset}`);
          compared++;
        }
        assert.deepEqual(encodeRle(mask, w, h), { size: [h, w], counts: countsToString(want) }, `${w}x${h} ${name} string`);
      }
    }
    assert.ok(compared > 1000);
  });

  test('maskToCounts: counts that grow past the scratch list (a 1001x999 checkerboard)', () => {
    const w = 1001;
    const h = 999;
    const mask = new Uint8Array(w * h);
    for (let i = 0; i < mask.length; i++) {
      mask[i] = i % 2;
    }
    assert.deepEqual(maskToCounts(mask, w, h), maskToCountsReference(mask, w, h));
  });

  test('maskToCounts: a 0-pixel mask is one empty background run', () => {
    assert.deepEqual(maskToCounts(new Uint8Array(0), 0, 5), [0]);
    assert.deepEqual(maskToCounts(new Uint8Array(0), 4, 0), [0]);
  });
});

