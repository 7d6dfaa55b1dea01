import assert from 'node:assert/strict';
import sharp from 'sharp';
import { BOX_COLOURS, boxColour, boxesSvg, composePivotImage, frameLabelSvg, layoutBoxes, paintBoxes } from '../../../../src/pipeline/draw/boxes';

async function pixel(bytes: Uint8Array, x: number, y: number): Promise<[number, number, number]> {
  const { data, info } = await sharp(bytes).raw().toBuffer({ resolveWithObject: true });
  const i = (y * info.width + x) * info.channels;
  return [data[i], data[i + 1], data[i + 2]];
}

suite('box painting', () => {
  test('colours follow the reference order', () => {
    assert.deepEqual(BOX_COLOURS.map((c) => c.name), ['green', 'magenta', 'orange', 'blue', 'red', 'yellow']);
    assert.equal(boxColour(7).name, 'green');
  });

  test('layout: boxes clamped to the image, badges inside the image and never overlapping', () => {
    const boxes = [
      { x0: 10, y0: 5, x1: 100, y1: 80 },
      { x0: 12, y0: 6, x1: 90, y1: 70 },
      { x0: 600, y0: 400, x1: 900, y1: 520 },
      { x0: 11, y0: 4, x1: 50, y1: 50 },
    ];
    const l = layoutBoxes(boxes, 854, 480);
    assert.deepEqual(l[2].rect, { x0: 600, y0: 400, x1: 854, y1: 480 });
    for (const a of l) {
      assert.ok(a.badge.x >= 0 && a.badge.y >= 0 && a.badge.x + a.badge.width <= 854 && a.badge.y + a.badge.height <= 480);
    }
    for (let i = 0; i < l.length; i++) {
      for (let j = i + 1; j < l.length; j++) {
        const a = l[i].badge;
        const b = l[j].badge;
        const overlap = a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;
        assert.ok(!overlap, `badges ${i + 1} and ${j + 1} overlap`);
      }
    }
    // A badge goes above its box when there is room.
    const above = layoutBoxes([{ x0: 100, y0: 200, x1: 300, y1: 400 }], 854, 480)[0];
    assert.equal(above.badge.y + above.badge.height, 200);
    assert.equal(above.badge.x, 100);
  });

  test('painting draws each box edge in its colour; the chosen view dims the rest', async () => {
    const grey = await sharp({ create: { width: 400, height: 300, channels: 3, background: { r: 128, g: 128, b: 128 } } }).jpeg({ quality: 95 }).toBuffer();
    const boxes = [{ x0: 50, y0: 100, x1: 150, y1: 250 }, { x0: 220, y0: 120, x1: 380, y1: 280 }];
    const plain = await paintBoxes(grey, boxes, { format: 'png' });
    const [r1, g1, b1] = await pixel(plain.bytes, 50 + 1, 180);
    assert.ok(g1 > 150 && r1 < 80 && b1 < 80, `box 1 left edge is green: ${r1},${g1},${b1}`);
    const [r2, g2, b2] = await pixel(plain.bytes, 379 - 1, 200);
    assert.ok(r2 > 200 && b2 > 200 && g2 < 80, `box 2 right edge is magenta: ${r2},${g2},${b2}`);
    const chosen = await paintBoxes(grey, boxes, { chosen: 0, format: 'png' });
    const inside = await pixel(chosen.bytes, 100, 180);
    const outside = await pixel(chosen.bytes, 300, 50);
    assert.ok(Math.abs(inside[0] - 128) < 6, 'inside the chosen box unchanged');
    assert.ok(outside[0] < 90, 'outside dimmed');
    assert.equal(chosen.layouts.length, 2);
  });

  test('box badges are coloured discs with a number; the frame label is a white rectangle saying "frame N"', async () => {
    const layouts = layoutBoxes([{ x0: 50, y0: 100, x1: 150, y1: 250 }], 400, 300);
    const svg = boxesSvg(layouts, 400, 300);
    const badge = /<rect[^>]*fill="#00c000"[^>]*\/>/.exec(svg.replace(/<rect x="[^"]*" y="[^"]*" width="[^"]*" height="[^"]*" fill="none"[^>]*\/>/g, ''))?.[0] ?? '';
    const height = Number(/height="([\d.]+)"/.exec(badge)?.[1]);
    assert.equal(Number(/rx="([\d.]+)"/.exec(badge)?.[1]), height / 2, `a disc: ${badge}`);
    const label = frameLabelSvg(3, 400, 300);
    assert.match(label.svg, /rx="0\.00" fill="#ffffff"/);
    assert.ok(label.width > 2 * label.height, 'the label holds a word, not only a number');
    // Composed: the label sits on the frame, the frame is centred above the grid.
    const grey = await sharp({ create: { width: 400, height: 300, channels: 3, background: { r: 128, g: 128, b: 128 } } }).jpeg().toBuffer();
    const grid = await sharp({ create: { width: 800, height: 100, channels: 3, background: { r: 0, g: 0, b: 200 } } }).jpeg().toBuffer();
    const composed = await composePivotImage(grey, 3, grid);
    assert.deepEqual([composed.width, composed.height, composed.frameLeft], [800, 300 + 8 + 100, 200]);
    const [r, g, b] = await pixel(composed.bytes, 200 + 8, 8);
    assert.ok(r > 200 && g > 200 && b > 200, `white label at the frame's top-left: ${r},${g},${b}`);
    const [, , gb] = await pixel(composed.bytes, 400, 360);
    assert.ok(gb > 150, 'the grid below');
  });
});
