import assert from 'node:assert/strict';
import { fillHoles, resizeBilinear, resizeLogitsToMask } from '../../../../../src/pipeline/models/sam2/maskOps';
import { fillHolesReference, resizeLogitsToMaskReference } from './maskOps.reference';
import { prng } from '../../../../tooling/prng';

/** Values where `<= 0` / `> 0` and float32 rounding are delicate: signed zeros, denormals, infinities. */
const EDGE_VALUES = [0, -0, 1e-45, -1e-45, 1e-38, -1e-38, 1e-30, -1e-30, Infinity, -Infinity, 0.1, -0.1, 3.4e38, -3.4e38];

/** Named generators of `w*h` logits: noise of several densities, blobs with holes and sprinkles, edge values. */
function logitCases(w: number, h: number, rand: () => number): Array<[string, Float32Array]> {
  const n = w * h;
  const make = (fn: (x: number, y: number) => number): Float32Array => {
    const a = new Float32Array(n);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        a[y * w + x] = fn(x, y);
      }
    }
    return a;
  };
  const cases: Array<[string, Float32Array]> = [
    ['all background', make(() => -5)],
    ['all foreground', make(() => 5)],
    ['all zero', make(() => 0)],
    ['all -0', make(() => -0)],
    ['uniform [-1, 1]', make(() => rand() * 2 - 1)],
    ['uniform near 0', make(() => (rand() * 2 - 1) * 1e-38)],
    ['edge values', make(() => EDGE_VALUES[Math.floor(rand() * EDGE_VALUES.length)])],
    ['vertical stripes', make((x) => (x % 3 === 0 ? 2 : -2))],
    ['horizontal stripes', make((_x, y) => (y % 2 === 0 ? 2 : -2))],
    ['checkerboard', make((x, y) => ((x + y) % 2 === 0 ? 1 : -1))],
    ['border frame', make((x, y) => (x === 0 || y === 0 || x === w - 1 || y === h - 1 ? -1 : 1))],
  ];
  for (const p of [0.05, 0.3, 0.5, 0.7, 0.95]) {
    cases.push([`noise p=${p}`, make(() => (rand() < p ? rand() * 10 - 10.0001 : rand() * 10 + 1e-3))]);
  }
  for (let k = 0; k < 4; k++) {
    // a foreground blob with small holes inside and sprinkles and small pits outside
    const cx = rand() * w;
    const cy = rand() * h;
    const r = 1 + rand() * Math.max(w, h) * 0.4;
    const blob = make((x, y) => ((x - cx) ** 2 + (y - cy) ** 2 <= r * r ? 1 + rand() : -1 - rand()));
    for (let s = 0; s < 1 + n / 50; s++) {
      const x0 = Math.floor(rand() * w);
      const y0 = Math.floor(rand() * h);
      const sw = 1 + Math.floor(rand() * 4);
      const sh = 1 + Math.floor(rand() * 4);
      const v = rand() < 0.5 ? -0.5 : 0.5;
      for (let y = y0; y < Math.min(h, y0 + sh); y++) {
        for (let x = x0; x < Math.min(w, x0 + sw); x++) {
          blob[y * w + x] = v;
        }
      }
    }
    cases.push([`blob ${k}`, blob]);
  }
  for (const [x, y] of [[0, 0], [w - 1, 0], [0, h - 1], [w - 1, h - 1], [w >> 1, h >> 1]]) {
    cases.push([`single background pixel at ${x},${y}`, make((xx, yy) => (xx === x && yy === y ? -1 : 1))]);
    cases.push([`single foreground pixel at ${x},${y}`, make((xx, yy) => (xx === x && yy === y ? 1 : -1))]);
  }
  return cases;
}

const SIZES: Array<[number, number]> = [[1, 1], [1, 9], [9, 1], [2, 2], [3, 7], [7, 3], [16, 16], [33, 17], [64, 64], [257, 131], [256, 256]];

/** Same float32 bits (so -0 vs 0 and NaN payloads count as different). */
function assertSameBits(actual: Float32Array, expected: Float32Array, message: string): void {
  const a = new Uint32Array(actual.buffer, actual.byteOffset, actual.length);
  const e = new Uint32Array(expected.buffer, expected.byteOffset, expected.length);
  assert.equal(a.length, e.length, message);
  for (let i = 0; i < a.length; i++) {
    if (a[i] !== e[i]) {
      assert.fail(`${message}: first difference at ${i}: ${actual[i]} vs ${expected[i]}`);
    }
  }
}

/** The first differing index of two masks (a readable failure instead of a huge deepEqual diff). */
function assertSameMask(actual: Uint8Array, expected: Uint8Array, message: string): void {
  assert.equal(actual.length, expected.length, message);
  for (let i = 0; i < actual.length; i++) {
    if (actual[i] !== expected[i]) {
      assert.fail(`${message}: first difference at ${i}: ${actual[i]} vs ${expected[i]}`);
    }
  }
}

suite('models/sam2: host mask operations against their straightforward references', () => {
  test('fillHoles equals the flood-fill reference bit for bit (sizes 1x1 .. 257x131, areas 0 .. 10000)', () => {
    const rand = prng(1);
    let compared = 0;
    for (const [w, h] of SIZES) {
      for (const [name, logits] of logitCases(w, h, rand)) {
        for (const maxArea of [0, 1, 2, 8, 37, 10_000]) {
          const want = fillHolesReference(Float32Array.from(logits), w, h, maxArea);
          const input = Float32Array.from(logits);
          const got = fillHoles(input, w, h, maxArea);
          assert.equal(got, input, 'works in place');
          assertSameBits(got, want, `${w}x${h} ${name} maxArea ${maxArea}`);
          compared++;
        }
      }
    }
    assert.ok(compared > 1000);
  });

  test('fillHoles: 8-connectivity, border components, the default area 8', () => {
    const w = 6;
    const h = 5;
    // 9 diagonal-connected background pixels (one component, not filled), a 2-pixel border pit (filled)
    const l = new Float32Array(w * h).fill(1);
    for (const [x, y] of [[0, 0], [1, 1], [2, 2], [3, 3], [4, 4], [5, 3], [4, 2], [5, 1], [4, 0]]) {
      l[y * w + x] = -1;
    }
    l[4 * w + 0] = -1;
    l[4 * w + 1] = -0;
    fillHoles(l, w, h);
    assert.equal(l[0], -1);
    assert.equal(l[4 * w + 4], -1);
    assert.equal(l[4 * w + 0], Math.fround(0.1));
    assert.equal(l[4 * w + 1], Math.fround(0.1));
    const small = Float32Array.from(l);
    small[2 * w + 2] = 1;
    // the diagonal split into a 2-pixel and a 6-pixel component: both filled
    fillHoles(small, w, h);
    assert.ok(small.every((v) => v > 0));
  });

  test('fillHoles leaves NaN alone: it is not background (SAM 2 labels `mask <= 0`)', () => {
    const l = Float32Array.from([NaN, 1, 1, 1, -1, 1, 1, 1, NaN]);
    fillHoles(l, 3, 3, 8);
    assert.ok(Number.isNaN(l[0]) && Number.isNaN(l[8]));
    assert.equal(l[4], Math.fround(0.1));
  });

  test('resizeLogitsToMask equals the full bilinear reference, > 0, bit for bit (up, down, odd sizes)', () => {
    const rand = prng(2);
    const pairs: Array<[number, number, number, number]> = [
      [1, 1, 1, 1], [1, 1, 5, 3], [2, 2, 4, 2], [3, 7, 257, 131], [3, 7, 7, 3], [7, 3, 3, 7], [16, 16, 1280, 720], [33, 17, 854, 480],
      [64, 64, 64, 64], [257, 131, 3, 7], [257, 131, 1280, 720], [257, 131, 100, 61], [256, 256, 1280, 720], [256, 256, 854, 480],
    ];
    for (const [sw, sh, dw, dh] of pairs) {
      const cases = logitCases(sw, sh, rand);
      // NaN taps: the reference gives NaN there, never > 0
      const withNan = Float32Array.from(cases[4][1]);
      for (let k = 0; k < withNan.length; k += 5) {
        withNan[k] = NaN;
      }
      cases.push(['uniform with NaN', withNan]);
      for (const [name, logits] of cases) {
        // twice: the second call runs on the cached axes and reused scratch
        for (let rep = 0; rep < 2; rep++) {
          assertSameMask(resizeLogitsToMask(logits, sw, sh, dw, dh), resizeLogitsToMaskReference(logits, sw, sh, dw, dh), `${sw}x${sh} -> ${dw}x${dh} ${name}`);
        }
      }
    }
  });

  test('resizeLogitsToMask agrees with resizeBilinear > 0 where one positive pixel sits near 0', () => {
    // the products of a tiny positive logit and the weights round to 0 or to a denormal: the exact float32 steps decide
    for (const v of [1e-45, 3e-45, 1e-40, 1e-38]) {
      const src = new Float32Array(5 * 4).fill(-0);
      src[2 * 5 + 3] = v;
      const want = [...resizeBilinear(src, 5, 4, 23, 17)].map((x) => (x > 0 ? 1 : 0));
      assert.deepEqual([...resizeLogitsToMask(src, 5, 4, 23, 17)], want, String(v));
    }
  });
});
