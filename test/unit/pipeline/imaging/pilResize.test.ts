import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { axisCoefficients } from '../../../../src/pipeline/imaging/pilResize';
import { pilResizeRgb, pilResizeRgbPlanar } from '../../../tooling/pilResizeReference';

interface PilCase {
  width: number;
  height: number;
  outWidth: number;
  outHeight: number;
  src: string;
  pillow: string;
}

suite('imaging/pilResize: Pillow\'s default resize, the official SAM 2 frame loader\'s pre-processing', () => {
  const doc = JSON.parse(readFileSync(path.join(__dirname, '..', '..', '..', 'fixtures', 'sam2-golden', 'pillow-resize.json'), 'utf8')) as { cases: PilCase[] };

  test('bit-exact against stored Pillow outputs (enlarging, reducing, mixed, identity axis)', () => {
    assert.ok(doc.cases.length >= 4);
    for (const c of doc.cases) {
      const src = new Uint8Array(Buffer.from(c.src, 'base64'));
      const want = new Uint8Array(Buffer.from(c.pillow, 'base64'));
      const got = pilResizeRgb(src, c.width, c.height, c.outWidth, c.outHeight);
      assert.equal(got.length, want.length);
      let differ = 0;
      for (let k = 0; k < got.length; k++) {
        differ += got[k] !== want[k] ? 1 : 0;
      }
      assert.equal(differ, 0, `${c.width}x${c.height} -> ${c.outWidth}x${c.outHeight}: ${differ} of ${got.length} values differ from Pillow`);
    }
  });

  test('the fused planar pass gives each channel\'s table value of the Pillow bytes, into a reused buffer', () => {
    const luts = [0, 1, 2].map((c) => Float32Array.from({ length: 256 }, (_, v) => (v - 100 - c) / 57));
    let reused: Float32Array | undefined;
    for (const c of doc.cases) {
      const src = new Uint8Array(Buffer.from(c.src, 'base64'));
      const want = new Uint8Array(Buffer.from(c.pillow, 'base64'));
      const plane = c.outWidth * c.outHeight;
      if (!reused || reused.length < 3 * plane) {
        reused = new Float32Array(3 * plane);
      }
      const got = pilResizeRgbPlanar(src, c.width, c.height, c.outWidth, c.outHeight, luts, reused);
      assert.equal(got, reused);
      for (let p = 0; p < plane; p++) {
        for (let ch = 0; ch < 3; ch++) {
          assert.equal(got[ch * plane + p], luts[ch][want[3 * p + ch]], `${c.width}x${c.height} -> ${c.outWidth}x${c.outHeight}, pixel ${p}, channel ${ch}`);
        }
      }
    }
    // an axis of the same size (one pass or none), against the 8-bit resize
    const src = Uint8Array.from({ length: 10 * 6 * 3 }, (_, k) => (k * 97) % 256);
    for (const [ow, oh] of [[7, 6], [10, 9], [10, 6]]) {
      const bytes = pilResizeRgb(src, 10, 6, ow, oh);
      const planar = pilResizeRgbPlanar(src, 10, 6, ow, oh, luts);
      assert.deepEqual([...planar], [0, 1, 2].flatMap((ch) => Array.from({ length: ow * oh }, (_, p) => luts[ch][bytes[3 * p + ch]])), `10x6 -> ${ow}x${oh}`);
    }
    assert.throws(() => pilResizeRgbPlanar(new Uint8Array(12), 2, 2, 4, 4, luts, new Float32Array(10)), /output of 10 values/);
  });

  test('coefficients are fixed-point, sum to one, and are cached per size pair', () => {
    const a = axisCoefficients(320, 128);
    assert.equal(axisCoefficients(320, 128), a);
    for (let o = 0; o < 128; o++) {
      let s = 0;
      for (let k = 0; k < a.count[o]; k++) {
        s += a.weights[o * a.taps + k];
      }
      assert.ok(Math.abs(s - 2 ** 22) <= a.count[o], `output ${o}: sum ${s}`);
    }
  });

  test('a short buffer is a clear error', () => {
    assert.throws(() => pilResizeRgb(new Uint8Array(5), 2, 2, 4, 4), /5 bytes for a 2x2 RGB image/);
  });
});
