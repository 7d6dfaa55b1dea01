import * as assert from 'node:assert/strict';
import sharp from 'sharp';
import { decode, encode } from 'fast-png';
import { avssPalette, davisPalette, decodeLabelPng, encodeBinaryPng, encodeIndexedPng, resizeNearest } from '../../../../src/pipeline/masks/labelPng';

function noise(n: number, seed: number, max = 256): Uint8Array {
  let s = seed >>> 0;
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    s = (s * 1664525 + 1013904223) >>> 0;
    // smooth-ish rows so the encoder picks different filters
    out[i] = i % 7 < 3 ? (s >>> 24) % max : out[Math.max(0, i - 1)];
  }
  return out;
}

suite('masks/labelPng: label maps from PNG files', () => {
  test('grey, RGB and RGBA PNGs written by libpng with adaptive filters decode like fast-png', async () => {
    for (const channels of [1, 3, 4] as const) {
      const w = 37;
      const h = 23;
      const raw = noise(w * h * channels, channels * 13);
      const png = await sharp(Buffer.from(raw), { raw: { width: w, height: h, channels } }).png({ adaptiveFiltering: true, compressionLevel: 9 }).toBuffer();
      const ref = decode(png);
      const img = decodeLabelPng(png);
      assert.deepEqual([img.width, img.height], [w, h]);
      const expected = new Uint8Array(w * h);
      for (let i = 0; i < w * h; i++) {
        const k = i * ref.channels;
        const [r, g, b] = ref.channels >= 3 ? [ref.data[k], ref.data[k + 1], ref.data[k + 2]] : [ref.data[k], ref.data[k], ref.data[k]];
        const idx = davisPalette().findIndex((c) => c[0] === r && c[1] === g && c[2] === b);
        expected[i] = r === g && g === b ? r : idx >= 0 ? idx : 1;
      }
      assert.deepEqual(img.data, expected, `channels ${channels}`);
    }
  });

  test('palette PNGs give indices, not colours; 16-bit and 1-bit PNGs take the general decoder', () => {
    const labels = noise(30 * 20, 5, 4);
    labels[0] = 255;
    const png = encodeIndexedPng(labels, 30, 20);
    const img = decodeLabelPng(png);
    assert.ok(img.indexed);
    assert.deepEqual(img.data, labels);
    const g16 = (values: number[], channels = 1): Uint8Array => encode({ width: values.length / channels, height: 1, data: new Uint16Array(values), depth: 16, channels });
    // label ids stored as 16-bit values are read as they are (the high byte alone would make them 0)
    assert.deepEqual(Array.from(decodeLabelPng(g16([0, 1, 2, 255])).data), [0, 1, 2, 255]);
    // 8-bit masks widened to 16 bits: scaled by 257 (0/65535) or shifted by 8
    assert.deepEqual(Array.from(decodeLabelPng(g16([0, 65535, 257 * 3, 0])).data), [0, 255, 3, 0]);
    assert.deepEqual(Array.from(decodeLabelPng(g16([0, 256, 65280, 512])).data), [0, 1, 255, 2]);
    // grey+alpha: the alpha channel does not decide
    assert.deepEqual(Array.from(decodeLabelPng(g16([1, 65535, 2, 65535], 2)).data), [1, 2]);
    assert.throws(() => decodeLabelPng(g16([0, 300, 1, 0]), '/tmp/deep.png'), /\/tmp\/deep\.png is a 16-bit PNG with value 300/);
    // the error names the first value that fits neither widening, not the maximum (65535 is a valid 0/65535 value)
    assert.throws(() => decodeLabelPng(g16([0, 65535, 300, 0]), '/tmp/deep.png'), /16-bit PNG with value 300 \(pixel 2\), a multiple of neither/);
    assert.throws(() => decodeLabelPng(g16([0, 65535, 300, 0]), '/tmp/deep.png'), (e: Error) => !/value 65535/.test(e.message));
    // each value fits one widening, but not the same one: both are named
    assert.throws(() => decodeLabelPng(g16([0, 256, 65535, 0]), '/tmp/mix.png'), /value 256 \(pixel 1\) and value 65535 \(pixel 2\)/);
    const bits = encode({ width: 9, height: 1, data: new Uint8Array([0b10110000, 0b10000000]), depth: 1, channels: 1 });
    assert.deepEqual(Array.from(decodeLabelPng(bits).data), [255, 0, 255, 255, 0, 0, 0, 0, 255]);
  });

  test('binary PNGs are 0/255; colour labels map through a palette, unknown colours to 0', () => {
    const m = new Uint8Array([0, 1, 3, 0]);
    assert.deepEqual(Array.from(decodeLabelPng(encodeBinaryPng(m, 2, 2)).data), [0, 255, 255, 0]);
    const pal = avssPalette();
    const rgb = new Uint8Array([...pal[5], ...pal[70], 1, 2, 3, ...pal[0]]);
    const png = encode({ width: 4, height: 1, data: rgb, depth: 8, channels: 3 });
    assert.deepEqual(Array.from(decodeLabelPng(png, 'x', { colourPalette: pal }).data), [5, 70, 0, 0]);
    // (128,128,128) is class 7 in the palette, not grey 128
    const grey = encode({ width: 1, height: 1, data: new Uint8Array(pal[7]), depth: 8, channels: 3 });
    assert.deepEqual(Array.from(decodeLabelPng(grey, 'x', { colourPalette: pal }).data), [7]);
  });

  test('a broken PNG is an invalid-input error naming the file', () => {
    assert.throws(() => decodeLabelPng(new Uint8Array([1, 2, 3]), '/tmp/broken.png'), /\/tmp\/broken\.png is not a readable PNG/);
  });

  test('nearest resize samples pixel centres like PIL', () => {
    const src = new Uint8Array([1, 2, 3, 4]);
    assert.deepEqual(Array.from(resizeNearest(src, 4, 1, 2, 1)), [2, 4]);
    assert.deepEqual(Array.from(resizeNearest(src, 4, 1, 8, 1)), [1, 1, 2, 2, 3, 3, 4, 4]);
  });
});
