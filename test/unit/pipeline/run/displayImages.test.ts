import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { FULL_IMAGE_METADATA_KEY, type FullImagePayload } from '../../../../src/common/payloads';
import { CellOutputBuilder, imageCaptionMarkdown } from '../../../../src/pipeline/cells/outputBuilder';
import type { ImageEvent } from '../../../../src/pipeline/events';
import { DISPLAY_MAX_HEIGHT, DISPLAY_MAX_WIDTH, displayImage, displaySize } from '../../../../src/pipeline/run/displayImages';
import { sha256 } from '../../../../src/pipeline/run/hash';
import { tempDir } from '../../../tooling/media';

async function noise(width: number, height: number): Promise<Uint8Array> {
  const raw = Buffer.alloc(width * height * 3);
  for (let i = 0; i < raw.length; i++) {
    raw[i] = (i * 7919) % 251;
  }
  return new Uint8Array(await sharp(raw, { raw: { width, height, channels: 3 } }).jpeg({ quality: 90 }).toBuffer());
}

suite('display-size images: originals in the run folder', () => {
  test('display size: fits inside the bounds, aspect kept; small images unchanged', () => {
    assert.deepEqual(displaySize(1280, 720), { width: 640, height: 360 });
    assert.deepEqual(displaySize(2046, 228), { width: DISPLAY_MAX_WIDTH, height: 114 });
    assert.deepEqual(displaySize(320, 200), { width: 320, height: 200 });
    const s = displaySize(5000, 3000);
    assert.ok(s.width <= DISPLAY_MAX_WIDTH && s.height <= DISPLAY_MAX_HEIGHT);
  });

  test('a large image: the original is stored by content hash, the event carries a smaller copy and names it', async () => {
    const dir = tempDir('alref-display-');
    try {
      const data = await noise(1280, 720);
      const event: ImageEvent = { type: 'image', id: 'x', mime: 'image/jpeg', data, caption: 'c' };
      const shown = await displayImage(event, dir.path);
      const meta = await sharp(shown.data).metadata();
      assert.deepEqual([meta.width, meta.height, meta.format], [640, 360, 'jpeg']);
      assert.ok(shown.data.byteLength < data.byteLength / 2, `${shown.data.byteLength} vs ${data.byteLength}`);
      const full = shown.full as FullImagePayload;
      assert.deepEqual([full.width, full.height, full.mime, full.sha256], [1280, 720, 'image/jpeg', sha256(data)]);
      assert.match(full.ref, /^artifacts\/[0-9a-f]{2}\/[0-9a-f]{64}\.jpg$/);
      assert.deepEqual(new Uint8Array(readFileSync(path.join(dir.path, full.ref))), data);
      const small: ImageEvent = { type: 'image', mime: 'image/jpeg', data: await noise(300, 200) };
      assert.equal(await displayImage(small, dir.path), small, 'an image that fits is kept as it is');
    } finally {
      dir.remove();
    }
  });

  test('the output names the original in its metadata; a plain image caption names the file', () => {
    const full: FullImagePayload = { ref: 'artifacts/ab/ab.jpg', sha256: 'ab', mime: 'image/jpeg', width: 1600, height: 906 };
    const b = new CellOutputBuilder();
    b.apply({ type: 'image', id: 'i', mime: 'image/jpeg', data: new Uint8Array([1]), caption: 'sent *x*', full });
    const [caption, image] = b.outputs();
    assert.deepEqual(image.metadata?.[FULL_IMAGE_METADATA_KEY], full);
    assert.equal(new TextDecoder().decode(caption.items[0].data), imageCaptionMarkdown('sent *x*', full));
    assert.match(imageCaptionMarkdown('sent *x*', full), /^\*sent \\\*x\\\*\* · full size \(1600 x 906\): `artifacts\/ab\/ab\.jpg` in the run folder$/);
  });
});
