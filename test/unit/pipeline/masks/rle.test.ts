import assert from 'node:assert/strict';
import fc from 'fast-check';
import { countsFromString, countsToString, decodeRle, encodeRle, encodeRleCounts, maskBounds, maskToCounts, rleArea, unionRle, emptyRle } from '../../../../src/pipeline/masks/rle';

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
});
