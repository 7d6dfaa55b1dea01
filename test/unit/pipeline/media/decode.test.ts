import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { framePath } from '../../../../src/pipeline/domain';
import { PipelineError } from '../../../../src/pipeline/errors';
import type { ProgressEvent } from '../../../../src/pipeline/events';
import { decodeFrames, decodeSize, type DecodeOptions, type DecodeResult } from '../../../../src/pipeline/media/decode';
import { resolveFfmpeg } from '../../../../src/pipeline/media/ffmpeg';
import { probeSource, type ProbeResult } from '../../../../src/pipeline/media/probe';
import { hashFrameFiles, hashSourceFile } from '../../../../src/pipeline/media/sourceHash';
import { makeClip, makeFrameFolder, meanAbsDiff, SAMPLES, tempDir, type TempDir } from '../../../tooling/media';
import { firstTempFrame, isAlive, isGone, tempEntries, waitFor } from '../../../tooling/processes';

const tools = resolveFfmpeg({ ffmpegPath: '', ffprobePath: '' });

async function drain(gen: AsyncGenerator<ProgressEvent, DecodeResult, void>): Promise<{ result: DecodeResult; progress: ProgressEvent[] }> {
  const progress: ProgressEvent[] = [];
  for (let r = await gen.next(); ; r = await gen.next()) {
    if (r.done) {
      return { result: r.value, progress };
    }
    progress.push(r.value);
  }
}

async function decode(source: string, runDir: string, extra: Partial<DecodeOptions> = {}, fps?: number): Promise<{ probe: ProbeResult; result: DecodeResult; progress: ProgressEvent[] }> {
  const probe = await probeSource(source, tools, { frameFolderFps: fps });
  const sourceHash = probe.info.sourceKind === 'frames' ? await hashFrameFiles(probe.frameFiles!) : await hashSourceFile(source);
  const out = await drain(decodeFrames(probe, tools, { runDir, sourceHash, maxSide: 1920, ...extra }));
  return { probe, ...out };
}

async function rgb(file: string): Promise<Uint8Array> {
  return new Uint8Array(await sharp(file).removeAlpha().raw().toBuffer());
}

suite('media/decode: every frame to a cached folder', () => {
  let tmp: TempDir;
  setup(() => {
    tmp = tempDir('alref decode é ');
  });
  teardown(() => tmp.remove());

  test('decodeSize: display size up to maxSide, downscaled beyond', () => {
    assert.deepEqual(decodeSize(853, 480, 1920), { width: 853, height: 480, scaled: false });
    assert.deepEqual(decodeSize(3840, 2160, 1920), { width: 1920, height: 1080, scaled: true });
    assert.deepEqual(decodeSize(2160, 3840, 1920), { width: 1080, height: 1920, scaled: true });
  });

  test('all frames as JPEG at display size, with progress, in a run folder whose path has % and spaces', async () => {
    const clip = makeClip(path.join(tmp.path, 'c.mp4'), { width: 853, height: 481, frames: 23, fps: 10 });
    const runDir = path.join(tmp.path, 'demo 100% ü.alref.runs');
    const { result, progress } = await decode(clip, runDir);
    assert.equal(result.reused, false);
    assert.equal(result.manifest.frameCount, 23);
    const files = readdirSync(result.framesDir).filter((n) => n.endsWith('.jpg')).sort();
    assert.equal(files.length, 23);
    assert.equal(files[0], '00000.jpg');
    assert.equal(path.join(result.framesDir, files[22]), framePath(result.framesDir, 22));
    const meta = await sharp(framePath(result.framesDir, 22)).metadata();
    assert.equal(meta.format, 'jpeg');
    assert.equal(meta.width, 853);
    assert.equal(meta.height, 481);
    assert.ok(progress.length >= 1);
    assert.deepEqual(progress[progress.length - 1], { type: 'progress', done: 23, total: 23, label: 'decoding frames' });
    assert.ok(progress.every((p, i) => i === 0 || p.done >= progress[i - 1].done));
    assert.deepEqual(result.manifest.times.slice(0, 3), [0, 0.1, 0.2]);
  });

  test('a re-run reuses the cached frames without starting ffmpeg', async () => {
    const clip = makeClip(path.join(tmp.path, 'c.mp4'), { frames: 8 });
    const first = await decode(clip, tmp.path);
    let spawned = 0;
    const second = await decode(clip, tmp.path, { onSpawn: () => spawned++ });
    assert.equal(second.result.reused, true);
    assert.equal(spawned, 0);
    assert.equal(second.result.framesDir, first.result.framesDir);
    // A copy of the same bytes under another name shares the cache (content hash).
    const copy = path.join(tmp.path, 'copy of c.mp4');
    copyFileSync(clip, copy);
    const third = await decode(copy, tmp.path);
    assert.equal(third.result.framesDir, first.result.framesDir);
    // Other options: another folder.
    const small = await decode(clip, tmp.path, { maxSide: 32 });
    assert.notEqual(small.result.framesDir, first.result.framesDir);
    assert.equal(small.result.manifest.width, 32);
  });

  test('rotated phone video: frames are upright (rotated clockwise) at display size', async () => {
    const plain = makeClip(path.join(tmp.path, 'plain.mp4'), { width: 64, height: 48, frames: 3 });
    const rot = makeClip(path.join(tmp.path, 'rot.mp4'), { width: 64, height: 48, frames: 3, rotate: 90 });
    const a = await decode(plain, path.join(tmp.path, 'a'));
    const b = await decode(rot, path.join(tmp.path, 'b'));
    assert.equal(b.result.manifest.width, 48);
    assert.equal(b.result.manifest.height, 64);
    const upright = await rgb(framePath(b.result.framesDir, 0));
    const cw = new Uint8Array(await sharp(framePath(a.result.framesDir, 0)).rotate(90).raw().toBuffer());
    const ccw = new Uint8Array(await sharp(framePath(a.result.framesDir, 0)).rotate(270).raw().toBuffer());
    assert.ok(meanAbsDiff(upright, cw) < 12, `clockwise ${meanAbsDiff(upright, cw)}`);
    assert.ok(meanAbsDiff(upright, ccw) > 20, `counter-clockwise ${meanAbsDiff(upright, ccw)}`);
  });

  test('variable frame rate: one frame per decoded frame, times from timestamps', async () => {
    const clip = makeClip(path.join(tmp.path, 'vfr.mp4'), { vfr: true, frames: 30 });
    const { result } = await decode(clip, tmp.path);
    assert.equal(result.manifest.frameCount, 30);
    const t = result.manifest.times;
    assert.ok(Math.abs(t[9] - 0.9) < 1e-6 && Math.abs(t[10] - 1.0) < 1e-6 && Math.abs(t[11] - 1.02) < 1e-6, t.join(','));
    assert.ok(Math.abs(t[29] - 1.38) < 1e-6);
  });

  test('very large resolution: decoded downscaled to maxSide', async () => {
    const clip = makeClip(path.join(tmp.path, 'big.mp4'), { width: 2400, height: 1800, frames: 2 });
    const { result } = await decode(clip, tmp.path, { maxSide: 1200 });
    assert.equal(result.manifest.width, 1200);
    assert.equal(result.manifest.height, 900);
    const meta = await sharp(framePath(result.framesDir, 1)).metadata();
    assert.deepEqual([meta.width, meta.height], [1200, 900]);
  });

  test('startSec / endSec / maxFrames trim a video; times stay absolute', async () => {
    const clip = makeClip(path.join(tmp.path, 't.mp4'), { frames: 30, fps: 10 });
    const a = await decode(clip, tmp.path, { startSec: 1, endSec: 2 });
    assert.equal(a.result.manifest.frameCount, 10);
    assert.ok(Math.abs(a.result.manifest.times[0] - 1) < 1e-6);
    const b = await decode(clip, tmp.path, { maxFrames: 4 });
    assert.equal(b.result.manifest.frameCount, 4);
  });

  test('DAVIS frame folder: JPEG frames copied byte for byte, names kept in the manifest', async () => {
    const { result } = await decode(path.join(SAMPLES, 'davis-car-shadow'), tmp.path, {}, 24);
    assert.equal(result.manifest.frameCount, 40);
    assert.equal(result.manifest.decoder, 'copy');
    assert.equal(result.manifest.names![7], '00007.jpg');
    assert.ok(readFileSync(framePath(result.framesDir, 7)).equals(readFileSync(path.join(SAMPLES, 'davis-car-shadow/JPEGImages/00007.jpg'))));
    assert.ok(Math.abs(result.manifest.times[12] - 0.5) < 1e-9);
  });

  test('PNG frame folder: converted to JPEG; trimmed by maxFrames', async () => {
    const d = makeFrameFolder(path.join(tmp.path, 'png seq'), 6, { ext: 'png', width: 40, height: 30 });
    const { result } = await decode(d, tmp.path, { maxFrames: 4 }, 5);
    assert.equal(result.manifest.frameCount, 4);
    const meta = await sharp(framePath(result.framesDir, 3)).metadata();
    assert.equal(meta.format, 'jpeg');
    assert.equal(meta.width, 40);
  });

  test('a frame folder with a frame of another size is refused, naming the frame; nothing is left behind', async () => {
    const d = makeFrameFolder(path.join(tmp.path, 'seq'), 3, { width: 40, height: 30 });
    makeFrameFolder(d, 1, { width: 50, height: 30, start: 3 });
    await assert.rejects(decode(d, path.join(tmp.path, 'run')), (err: unknown) => {
      assert.ok(err instanceof PipelineError);
      assert.match(err.message, /00003\.jpg is 50x30/);
      return true;
    });
    assert.deepEqual(readdirSync(path.join(tmp.path, 'run', 'frames')), []);
  });

  test('cancel mid-decode: the cancelled error comes after ffmpeg has exited and the temporary folder is removed', async () => {
    const runDir = path.join(tmp.path, 'run');
    const probe = await probeSource(path.join(SAMPLES, '01_dog.mp4'), tools);
    const sourceHash = await hashSourceFile(probe.info.source);
    const ac = new AbortController();
    let pid = 0;
    const gen = decodeFrames(probe, tools, { runDir, sourceHash, maxSide: 1920, signal: ac.signal, onSpawn: (p) => (pid = p) });
    let ended = false;
    const drained = drain(gen);
    void drained.catch(() => undefined).finally(() => (ended = true));
    await waitFor(() => firstTempFrame(runDir), 'the first decoded frame', () => (ended ? 'the decode ended first' : undefined));
    assert.ok(pid > 0 && isAlive(pid), 'ffmpeg runs');
    ac.abort();
    await assert.rejects(drained, (err: unknown) => err instanceof PipelineError && err.kind === 'cancelled');
    assert.ok(isGone(pid), 'ffmpeg is gone once the error is thrown');
    assert.deepEqual(readdirSync(path.join(runDir, 'frames')), []);
    assert.deepEqual(tempEntries(runDir), []);
  });

  test('cancel before ffmpeg starts: cancelled, nothing spawned, nothing left', async () => {
    const runDir = path.join(tmp.path, 'run0');
    const probe = await probeSource(path.join(SAMPLES, '01_dog.mp4'), tools);
    const ac = new AbortController();
    ac.abort();
    let spawned = false;
    const gen = decodeFrames(probe, tools, { runDir, sourceHash: await hashSourceFile(probe.info.source), maxSide: 1920, signal: ac.signal, onSpawn: () => (spawned = true) });
    await assert.rejects(drain(gen), (err: unknown) => err instanceof PipelineError && err.kind === 'cancelled');
    assert.equal(spawned, false);
    assert.deepEqual(tempEntries(runDir), []);
  });

  test('temporary folders left by a dead process are removed on the next decode', async () => {
    const clip = makeClip(path.join(tmp.path, 'c.mp4'), { frames: 4 });
    const first = await decode(clip, tmp.path);
    const key = path.basename(first.result.framesDir);
    rmSync(first.result.framesDir, { recursive: true });
    // pid 2^22+7 is above Linux's pid_max default, so no process has it.
    const stale = path.join(tmp.path, 'frames', `${key}.tmp-4194311-abcdef`);
    mkdirSync(stale);
    writeFileSync(path.join(stale, '00000.jpg'), 'partial');
    const again = await decode(clip, tmp.path);
    assert.equal(again.result.reused, false);
    assert.deepEqual(readdirSync(path.join(tmp.path, 'frames')), [key]);
  });

  test('a consumer that stops iterating stops ffmpeg too', async () => {
    const runDir = path.join(tmp.path, 'run');
    const probe = await probeSource(path.join(SAMPLES, '03_blocks.mp4'), tools);
    let pid = 0;
    const gen = decodeFrames(probe, tools, { runDir, sourceHash: await hashSourceFile(probe.info.source), maxSide: 1920, onSpawn: (p) => (pid = p) });
    await gen.next();
    assert.ok(isAlive(pid));
    await gen.return(undefined as never);
    assert.ok(isGone(pid));
    assert.deepEqual(readdirSync(path.join(runDir, 'frames')), []);
    assert.deepEqual(tempEntries(runDir), []);
  });
});
