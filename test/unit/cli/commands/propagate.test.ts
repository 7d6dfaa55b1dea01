import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { decodeRle } from '../../../../src/pipeline/masks/rle';
import { parsePromptArg } from '../../../../src/cli/commands/propagate';
import { runAlref } from '../../../tooling/cli';
import { FFMPEG } from '../../../tooling/media';
import { GOLDEN, goldenMask, readCase } from '../../../tooling/sam2Golden';

function alref(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--require', 'tsx/cjs', path.resolve('src/cli/main.ts'), ...args], { env: { ...process.env, ALREF_MODELS_LOCAL_DIR: '' }, timeout: 600_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

suite('cli: alref propagate (SAM 2 from box prompts, on the micro golden export)', () => {
  let dir: string;
  suiteSetup(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'alref-propagate-cli-'));
  });
  suiteTeardown(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test('a frames folder + a model folder: PNG masks (0/255, named like the frames, source size) and masks.json equal to the official predictor', async () => {
    const c = await readCase('fill-holes');
    const p = c.prompts[0];
    const out = path.join(dir, 'out');
    const r = await alref(['propagate', '--video', path.join(GOLDEN, 'clips', c.clip), '--prompt', `${p.frameIndex}:${p.box.join(',')}`, '--model', path.join(GOLDEN, 'model'), '--out', out, '--quiet', '--threads', '1']);
    assert.equal(r.code, 0, r.stderr);
    const files = (await readdir(out)).sort();
    assert.deepEqual(files, [...Array.from({ length: c.numFrames }, (_, i) => `${String(i).padStart(5, '0')}.png`), 'masks.json'].sort());
    const json = JSON.parse(await readFile(path.join(out, 'masks.json'), 'utf8')) as { model: string; width: number; height: number; startFrame: number; masks: Record<string, { size: [number, number]; counts: string }> };
    assert.equal(json.model, 'model');
    assert.deepEqual([json.width, json.height, json.startFrame], [c.width, c.height, p.frameIndex]);
    for (let i = 0; i < c.numFrames; i++) {
      const name = String(i).padStart(5, '0');
      const meta = await sharp(path.join(out, `${name}.png`)).metadata();
      assert.deepEqual([meta.width, meta.height, meta.channels], [c.width, c.height, 1], `${name}.png: one grey channel at the source size`);
      const { data } = await sharp(path.join(out, `${name}.png`)).extractChannel(0).raw().toBuffer({ resolveWithObject: true });
      assert.ok(data.every((v) => v === 0 || v === 255), `${name}.png holds only 0 and 255`);
      const want = goldenMask(c.frames[String(i)], c.width * c.height);
      const rle = decodeRle(json.masks[name]);
      let differ = 0;
      for (let k = 0; k < want.length; k++) {
        differ += (data[k] ? 1 : 0) !== want[k] ? 1 : 0;
        assert.equal(rle[k] ? 1 : 0, data[k] ? 1 : 0);
      }
      assert.ok(differ <= 3, `frame ${i}: ${differ} pixels differ from the official predictor`);
    }
  });

  test('a video file is decoded with ffmpeg; masks are named 00000.png ... in frame order', async () => {
    const video = path.join(dir, 'square.mkv');
    await new Promise<void>((resolve, reject) => {
      execFile(FFMPEG, ['-v', 'error', '-framerate', '10', '-i', path.join(GOLDEN, 'clips', 'square', '%05d.jpg'), '-c:v', 'ffv1', '-y', video], (err) => (err ? reject(err) : resolve()));
    });
    const out = path.join(dir, 'from-file');
    const r = await alref(['propagate', '--video', video, '--prompt', '3:20,20,90,100', '--start', '5', '--model', path.join(GOLDEN, 'model'), '--out', out, '--quiet', '--threads', '1']);
    assert.equal(r.code, 0, r.stderr);
    const pngs = (await readdir(out)).filter((f) => f.endsWith('.png')).sort();
    assert.deepEqual(pngs, Array.from({ length: 10 }, (_, i) => `${String(i).padStart(5, '0')}.png`));
    const json = JSON.parse(await readFile(path.join(out, 'masks.json'), 'utf8')) as { startFrame: number; width: number; masks: Record<string, unknown> };
    assert.deepEqual([json.startFrame, json.width, Object.keys(json.masks).length], [5, 128, 10]);
  });

  test('unpadded frame names (0.jpg ... 10.jpg) track in natural order; an unprompted start frame counts once (progress never above the total) and its final mask is written', async () => {
    const clip = path.join(GOLDEN, 'clips', 'square');
    const src = (await readdir(clip)).filter((f) => f.endsWith('.jpg')).sort();
    const plain = path.join(dir, 'unpadded');
    const padded = path.join(dir, 'padded');
    await mkdir(plain, { recursive: true });
    await mkdir(padded, { recursive: true });
    // 11 frames: the clip's 10 and its last one again
    for (let i = 0; i <= 10; i++) {
      const from = path.join(clip, src[Math.min(i, src.length - 1)]);
      await copyFile(from, path.join(plain, `${i}.jpg`));
      await copyFile(from, path.join(padded, `${String(i).padStart(5, '0')}.jpg`));
    }
    const args = (video: string, out: string): string[] => ['propagate', '--video', video, '--prompt', '3:20,20,90,100', '--start', '5', '--model', path.join(GOLDEN, 'model'), '--out', out, '--threads', '1'];
    const a = await runAlref(args(plain, path.join(dir, 'out-unpadded')));
    assert.equal(a.code, 0, a.stderr);
    const b = await runAlref(args(padded, path.join(dir, 'out-padded')));
    assert.equal(b.code, 0, b.stderr);
    const progress = [...a.stderr.matchAll(/\((\d+)\/(\d+)\)/g)].map((m) => [Number(m[1]), Number(m[2])]);
    assert.ok(progress.length > 0, a.stderr);
    assert.ok(progress.every(([k, n]) => n === 11 && k <= n), `progress above the total: ${progress.map(([k, n]) => `${k}/${n}`).join(' ')}`);
    assert.deepEqual(progress[progress.length - 1], [11, 11]);
    const names = Array.from({ length: 11 }, (_, i) => String(i));
    const ja = JSON.parse(await readFile(path.join(dir, 'out-unpadded', 'masks.json'), 'utf8')) as { masks: Record<string, { size: [number, number]; counts: string }> };
    const jb = JSON.parse(await readFile(path.join(dir, 'out-padded', 'masks.json'), 'utf8')) as { masks: Record<string, { size: [number, number]; counts: string }> };
    assert.deepEqual(Object.keys(ja.masks), names, 'masks.json in frame order');
    // the same frames in the same order: the same masks as with zero-padded names
    for (const n of names) {
      assert.deepEqual(ja.masks[n], jb.masks[n.padStart(5, '0')], `frame ${n}`);
      const { data } = await sharp(path.join(dir, 'out-unpadded', `${n}.png`)).extractChannel(0).raw().toBuffer({ resolveWithObject: true });
      const rle = decodeRle(ja.masks[n]);
      assert.ok(data.every((v, k) => (v !== 0) === (rle[k] !== 0)), `${n}.png is the final mask of masks.json`);
    }
  });

  test('a model folder without the five graphs is an error naming what is missing', async () => {
    const r = await alref(['propagate', '--video', path.join(GOLDEN, 'clips', 'square'), '--prompt', '3:10,10,50,50', '--model', path.join(GOLDEN, 'clips'), '--out', path.join(dir, 'x'), '--quiet']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /--model .*clips lacks onnx\/vision_encoder\.onnx/);
  });

  test('--prompt parsing: frame and box with decimals; malformed or empty boxes are clear errors', () => {
    assert.deepEqual(parsePromptArg('12:40,30.5,200,180.25'), { frameIndex: 12, box: { x0: 40, y0: 30.5, x1: 200, y1: 180.25 } });
    assert.throws(() => parsePromptArg('12:40,30'), /not <frame>:<x0>,<y0>,<x1>,<y1>/);
    assert.throws(() => parsePromptArg('1:50,50,40,60'), /x1 > x0 and y1 > y0/);
  });
});
