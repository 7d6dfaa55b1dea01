import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { framePath } from '../../../../src/pipeline/domain';
import { maskColour, renderContactSheet, sheetFrames } from '../../../../src/pipeline/masks/contactSheet';
import { encodeRle } from '../../../../src/pipeline/masks/rle';
import { writeMovingSquare } from '../../../tooling/movingSquare';

suite('masks/contactSheet: the image/png fallback of the mask overlay', () => {
  test('frames spread evenly with the pivot frames always included', () => {
    assert.deepEqual(sheetFrames(100, 4), [12, 37, 62, 87]);
    assert.deepEqual(sheetFrames(100, 4, [50]), [12, 37, 50, 62]);
    assert.deepEqual(sheetFrames(4, 4, [2]), [0, 1, 2, 3]);
    assert.deepEqual(sheetFrames(10, 2, [1, 5, 9]), [1, 5, 9]);
    assert.deepEqual(sheetFrames(3, 8), [0, 1, 2]);
  });

  test('tiles in a grid with the mask colour painted over the object', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'alref-sheet-'));
    try {
      const clip = await writeMovingSquare(dir, { frames: 6, distractor: false });
      const masks = clip.boxes.map((b) => {
        const m = new Uint8Array(clip.width * clip.height);
        for (let y = b.y0; y < b.y1; y++) {
          m.fill(1, y * clip.width + b.x0, y * clip.width + b.x1);
        }
        return encodeRle(m, clip.width, clip.height);
      });
      const png = await renderContactSheet({ frames: [0, 5], frameSource: (i) => framePath(dir, i), width: clip.width, height: clip.height, objects: [{ objectId: 1, masks }], thumbWidth: 96, opacity: 1 });
      const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
      assert.deepEqual([info.width, info.height], [192, 64]);
      const at = (x: number, y: number) => [...data.subarray((y * info.width + x) * info.channels, (y * info.width + x) * info.channels + 3)];
      const [r, g, b] = maskColour(1);
      const centre0 = at(clip.boxes[0].x0 + 8, clip.boxes[0].y0 + 8);
      const centre5 = at(96 + clip.boxes[5].x0 + 8, clip.boxes[5].y0 + 8);
      for (const c of [centre0, centre5]) {
        assert.ok(Math.abs(c[0] - r) < 30 && Math.abs(c[1] - g) < 30 && Math.abs(c[2] - b) < 30, JSON.stringify(c));
      }
      // background stays dark
      assert.ok(at(90, 60).every((v) => v < 40));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
