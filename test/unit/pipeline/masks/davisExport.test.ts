import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { decode as decodePng } from 'fast-png';
import { readFile } from 'node:fs/promises';
import { exportDavisPngs, labelMap } from '../../../../src/pipeline/masks/davisExport';
import { davisPalette, readLabelPng } from '../../../../src/pipeline/masks/labelPng';
import { decodeRle, encodeRle, rleArea } from '../../../../src/pipeline/masks/rle';
import type { MaskData } from '../../../../src/pipeline/domain';
import { SAMPLES } from '../../../tooling/media';

const DAVIS = path.join(SAMPLES, 'davis-car-shadow/Annotations');

suite('masks/davisExport: DAVIS-style PNG export', () => {
  let dir: string;
  setup(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'alref-davis-'));
  });
  teardown(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test('the DAVIS palette: 0 black, 1 (128,0,0), 2 (0,128,0), 3 (128,128,0), 4 (0,0,128)', () => {
    assert.deepEqual(davisPalette(5), [[0, 0, 0], [128, 0, 0], [0, 128, 0], [128, 128, 0], [0, 0, 128]]);
  });

  test('a real DAVIS annotation survives RLE and comes back pixel for pixel', async () => {
    const gt = await readLabelPng(path.join(DAVIS, '00000.png'));
    assert.deepEqual([gt.width, gt.height], [854, 480]);
    const bin = gt.data.map((v) => (v > 0 ? 1 : 0));
    const rle = encodeRle(bin, gt.width, gt.height);
    assert.ok(rleArea(rle) > 1000);
    assert.deepEqual(decodeRle(rle), bin);
  });

  test('export: palette indices = object ids (later objects on top), binary mode 0/255, one file per frame', async () => {
    const W = 5;
    const H = 4;
    const a = new Uint8Array(W * H);
    a.fill(1, 0, 10);
    const b = new Uint8Array(W * H);
    b.fill(1, 5, 15);
    const empty = new Uint8Array(W * H);
    const files = { one: path.join(dir, 'o1.json'), two: path.join(dir, 'o2.json') };
    await writeFile(files.one, JSON.stringify([encodeRle(a, W, H), encodeRle(empty, W, H)]));
    await writeFile(files.two, JSON.stringify([encodeRle(b, W, H), encodeRle(b, W, H)]));
    const data: MaskData = { width: W, height: H, frameCount: 2, objects: [{ objectId: 1, text: 'a', pivotFrames: [0], masksFile: files.one }, { objectId: 2, text: 'b', pivotFrames: [1], masksFile: files.two }] };
    const out = await exportDavisPngs(data, path.join(dir, 'png'));
    assert.deepEqual(out.map((f) => path.basename(f)), ['00000.png', '00001.png']);
    const png = decodePng(await readFile(out[0]));
    assert.equal(png.channels, 1);
    assert.deepEqual(png.palette?.slice(0, 3), [[0, 0, 0], [128, 0, 0], [0, 128, 0]]);
    const f0 = await readLabelPng(out[0]);
    assert.deepEqual([...f0.data], [...labelMap([{ objectId: 1, rle: encodeRle(a, W, H) }, { objectId: 2, rle: encodeRle(b, W, H) }], W, H)]);
    assert.deepEqual([...f0.data.subarray(0, 5)], [1, 1, 1, 1, 1]);
    assert.deepEqual([...f0.data.subarray(5, 15)], new Array(10).fill(2));
    const bin = await exportDavisPngs(data, path.join(dir, 'bin'), { binary: true });
    const f1 = await readLabelPng(bin[1]);
    assert.deepEqual([...f1.data], [...b].map((v) => v * 255));
    await writeFile(files.two, JSON.stringify([encodeRle(b, W, H)]));
    await assert.rejects(exportDavisPngs(data, path.join(dir, 'x')), /must hold an array of 2 RLE masks/);
  });
});
