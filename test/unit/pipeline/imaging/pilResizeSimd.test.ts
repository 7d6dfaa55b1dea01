import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { pilResizeRgb, pilResizeRgbPlanar } from '../../../tooling/pilResizeReference';
import { pilResizeNormalise, pilResizeNormaliseView, pilResizeRgbView, type Normalisation } from '../../../../src/pipeline/imaging/pilResizeSimd';

const root = path.resolve(__dirname, '..', '..', '..', '..');

/** The tables the float32 normalisation steps give (what the JS reference takes). */
function tables(norm: Normalisation): Float32Array[] {
  return [0, 1, 2].map((c) => Float32Array.from({ length: 256 }, (_, v) => Math.fround(Math.fround(Math.fround(v / 255) - norm.mean[c]) / norm.std[c])));
}

/** Indices where two float32 arrays hold different bits. */
function bitDiffs(a: Float32Array, b: Float32Array): number[] {
  const ua = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const ub = new Uint32Array(b.buffer, b.byteOffset, b.length);
  const out: number[] = [];
  for (let i = 0; i < ua.length && out.length < 5; i++) {
    if (ua[i] !== ub[i]) {
      out.push(i);
    }
  }
  return out;
}

/** The stored Pillow outputs (test/fixtures/sam2-golden/pillow-resize.json). */
function storedPillow(): { cases: Array<{ width: number; height: number; outWidth: number; outHeight: number; src: string; pillow: string }> } {
  return JSON.parse(readFileSync(path.join(root, 'test', 'fixtures', 'sam2-golden', 'pillow-resize.json'), 'utf8'));
}

suite('imaging/pilResizeSimd: the SIMD pre-processing gives the Pillow-exact reference\'s bits', () => {
  const imagenet: Normalisation = { mean: [0.485, 0.456, 0.406].map(Math.fround) as [number, number, number], std: [0.229, 0.224, 0.225].map(Math.fround) as [number, number, number] };
  let seed = 7;
  const byte = (): number => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 16) & 255;
  /** Random bytes with runs of black and white, so that the bicubic lobes overshoot: clip8 on both sides is exercised. */
  const saturating = (n: number): Uint8Array =>
    Uint8Array.from({ length: n }, () => {
      const r = byte();
      return r > 200 ? 255 : r < 50 ? 0 : byte();
    });

  test('stored Pillow outputs, read back through mean 0 / std 1', () => {
    const doc = storedPillow();
    const unit: Normalisation = { mean: [0, 0, 0], std: [1, 1, 1] };
    for (const c of doc.cases) {
      const want = new Uint8Array(Buffer.from(c.pillow, 'base64'));
      const got = pilResizeNormalise(new Uint8Array(Buffer.from(c.src, 'base64')), c.width, c.height, c.outWidth, c.outHeight, unit);
      const plane = c.outWidth * c.outHeight;
      let differ = 0;
      for (let p = 0; p < plane; p++) {
        for (let ch = 0; ch < 3; ch++) {
          differ += got[ch * plane + p] !== Math.fround(want[3 * p + ch] / 255) ? 1 : 0;
        }
      }
      assert.equal(differ, 0, `${c.width}x${c.height} -> ${c.outWidth}x${c.outHeight}: ${differ} values differ from Pillow`);
    }
  });

  test('bit for bit the reference on enlarging, reducing, mixed, identity axes, widths off the 16-value step, saturating pixels', () => {
    const sizes = [
      [1280, 720, 1024, 1024],
      [854, 480, 1024, 1024],
      [7, 5, 3, 9],
      [10, 6, 10, 6],
      [10, 6, 7, 6],
      [10, 6, 10, 9],
      [1, 1, 17, 33],
      [33, 17, 1, 1],
      [300, 200, 37, 515],
      [64, 64, 16, 16],
      [3, 640, 31, 2],
    ];
    for (const norm of [imagenet, { mean: [0.5, 0.25, 0], std: [Math.fround(0.1), 2, Math.fround(1 / 3)] } as Normalisation]) {
      const luts = tables(norm);
      for (const [w, h, ow, oh] of sizes) {
        const src = saturating(w * h * 3);
        const want = pilResizeRgbPlanar(src, w, h, ow, oh, luts);
        const got = pilResizeNormalise(src, w, h, ow, oh, norm);
        assert.equal(got.length, want.length);
        assert.deepEqual(bitDiffs(got, want), [], `${w}x${h} -> ${ow}x${oh}`);
      }
    }
  });

  test('into a reused buffer; the view is the same values and is overwritten by the next call', () => {
    const src = Uint8Array.from({ length: 40 * 30 * 3 }, () => byte());
    const other = Uint8Array.from({ length: 40 * 30 * 3 }, () => byte());
    const reused = new Float32Array(3 * 32 * 32 + 5);
    assert.equal(pilResizeNormalise(src, 40, 30, 32, 32, imagenet, reused), reused);
    const view = pilResizeNormaliseView(src, 40, 30, 32, 32, imagenet);
    assert.deepEqual(bitDiffs(view, reused.subarray(0, view.length)), []);
    const copy = Float32Array.from(view);
    pilResizeNormaliseView(other, 40, 30, 32, 32, imagenet);
    assert.notDeepEqual(bitDiffs(view, copy), [], 'the next frame is written where the view looks');
    // a larger frame afterwards grows the memory; results stay exact
    const big = Uint8Array.from({ length: 900 * 700 * 3 }, () => byte());
    assert.deepEqual(bitDiffs(pilResizeNormalise(big, 900, 700, 1024, 1024, imagenet), pilResizeRgbPlanar(big, 900, 700, 1024, 1024, tables(imagenet))), []);
    assert.deepEqual(bitDiffs(pilResizeNormalise(src, 40, 30, 32, 32, imagenet), reused.subarray(0, 3 * 32 * 32)), []);
  });

  test('errors name the sizes', () => {
    assert.throws(() => pilResizeNormalise(new Uint8Array(10), 2, 2, 4, 4, imagenet), /10 bytes for a 2x2 RGB image/);
    assert.throws(() => pilResizeNormalise(new Uint8Array(12), 2, 2, 4, 4, imagenet, new Float32Array(10)), /output of 10 values for 3x4x4/);
    assert.throws(() => pilResizeNormalise(new Uint8Array(12), 2, 2, 0, 4, imagenet), /cannot resize 2x2 to 0x4/);
  });

  test('RGB form: the stored Pillow outputs byte for byte', () => {
    const doc = storedPillow();
    for (const c of doc.cases) {
      const got = pilResizeRgbView(new Uint8Array(Buffer.from(c.src, 'base64')), c.width, c.height, c.outWidth, c.outHeight);
      assert.ok(Buffer.from(got).equals(Buffer.from(c.pillow, 'base64')), `${c.width}x${c.height} -> ${c.outWidth}x${c.outHeight}`);
    }
  });

  test('RGB form: byte for byte the reference, odd widths (the 4-byte stores, the byte-wise row tails) and saturating pixels included', () => {
    const sizes = [
      [854, 480, 406, 228],
      [427, 240, 406, 228],
      [1920, 1080, 406, 228],
      [7, 5, 3, 9],
      [10, 6, 10, 6],
      [1, 1, 17, 33],
      [33, 17, 1, 1],
      [5, 3, 6, 2],
      [300, 200, 37, 515],
      [3, 640, 31, 2],
    ];
    for (const [w, h, ow, oh] of sizes) {
      const src = saturating(w * h * 3);
      const want = pilResizeRgb(src, w, h, ow, oh);
      const got = pilResizeRgbView(src, w, h, ow, oh);
      assert.equal(got.length, ow * oh * 3);
      let differ = 0;
      for (let i = 0; i < got.length; i++) {
        differ += got[i] !== want[i] ? 1 : 0;
      }
      assert.equal(differ, 0, `${w}x${h} -> ${ow}x${oh}: ${differ} of ${got.length} bytes differ`);
    }
  });

  test('RGB form: errors name the sizes', () => {
    assert.throws(() => pilResizeRgbView(new Uint8Array(10), 2, 2, 4, 4), /10 bytes for a 2x2 RGB image/);
    assert.throws(() => pilResizeRgbView(new Uint8Array(12), 2, 2, 4, 0), /cannot resize 2x2 to 4x0/);
  });
});
