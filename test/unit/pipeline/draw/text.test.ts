import assert from 'node:assert/strict';
import sharp from 'sharp';
import { badgeSvg, canDraw, measureText, svgDocument, textSvg } from '../../../../src/pipeline/draw/text';

/** Renders an SVG body on black and returns the grey pixels. */
async function render(width: number, height: number, body: string): Promise<Uint8Array> {
  const svg = svgDocument(width, height, `<rect width="${width}" height="${height}" fill="#000"/>${body}`);
  return new Uint8Array(await sharp(Buffer.from(svg)).greyscale().raw().toBuffer());
}

function litBox(px: Uint8Array, width: number): { x0: number; y0: number; x1: number; y1: number; count: number } {
  let x0 = Infinity;
  let y0 = Infinity;
  let x1 = -1;
  let y1 = -1;
  let count = 0;
  px.forEach((v, i) => {
    if (v > 64) {
      const x = i % width;
      const y = Math.floor(i / width);
      x0 = Math.min(x0, x);
      y0 = Math.min(y0, y);
      x1 = Math.max(x1, x);
      y1 = Math.max(y1, y);
      count++;
    }
  });
  return { x0, y0, x1, y1, count };
}

suite('draw/text: vector stroke labels (no font needed)', () => {
  test('covers what the pipeline writes: digits, #, ., s, brackets', () => {
    assert.ok(canDraw('#1234567890 12.50s [3] (1/2) -1'));
    assert.ok(!canDraw('Q'));
  });

  test('width grows with the text and scales with the height', () => {
    const a = measureText('1', 20).width;
    const b = measureText('11', 20).width;
    const c = measureText('11', 40).width;
    assert.ok(b > a);
    assert.ok(Math.abs(c - 2 * b) < 1e-9);
  });

  test('rendered strokes stay inside the measured box and are visible', async () => {
    const text = '#207 8.34s';
    const h = 30;
    const m = measureText(text, h);
    const W = Math.ceil(m.width) + 20;
    const px = await render(W, h + 20, textSvg(text, 10, 10, { height: h, color: '#fff' }));
    const box = litBox(px, W);
    assert.ok(box.count > 200, `few lit pixels: ${box.count}`);
    assert.ok(box.x0 >= 9 && box.y0 >= 9, JSON.stringify(box));
    assert.ok(box.x1 <= 10 + m.width + 1 && box.y1 <= 10 + h + 1, JSON.stringify(box));
    // Spans most of the measured width (no glyph silently dropped).
    assert.ok(box.x1 - box.x0 > m.width * 0.85);
  });

  test('every digit draws a different shape', async () => {
    const shapes = await Promise.all('0123456789'.split('').map((d) => render(24, 34, textSvg(d, 2, 2, { height: 30, color: '#fff' }))));
    for (let i = 0; i < 10; i++) {
      for (let j = i + 1; j < 10; j++) {
        let diff = 0;
        shapes[i].forEach((v, k) => { diff += Math.abs(v - shapes[j][k]) > 128 ? 1 : 0; });
        assert.ok(diff > 20, `digits ${i} and ${j} look alike (${diff} differing pixels)`);
      }
    }
  });

  test('an unknown character is drawn as a box, not dropped', async () => {
    const px = await render(40, 40, textSvg('Q', 5, 5, { height: 30, color: '#fff' }));
    assert.ok(litBox(px, 40).count > 50);
  });

  test('badge: filled rectangle at the given corner, at least as wide as tall', async () => {
    const b = badgeSvg('7', 4, 6, { height: 24, color: '#000', background: '#fff' });
    assert.equal(b.height, 24);
    assert.ok(b.width >= 24);
    const px = await render(60, 40, b.svg);
    const box = litBox(px, 60);
    assert.equal(box.x0, 4);
    assert.equal(box.y0, 6);
    assert.ok(Math.abs(box.x1 + 1 - (4 + b.width)) <= 1 && box.y1 + 1 === 30);
    // The dark digit is inside the white badge: some pixels in the badge are not lit.
    let dark = 0;
    for (let y = 6; y < 30; y++) {
      for (let x = 4; x < 4 + b.width; x++) {
        dark += px[y * 60 + x] < 64 ? 1 : 0;
      }
    }
    assert.ok(dark > 10);
  });

  test('attribute values are escaped', () => {
    const s = textSvg('1', 0, 0, { height: 10, color: '"><script>' });
    assert.ok(!s.includes('"><script>'));
  });
});
