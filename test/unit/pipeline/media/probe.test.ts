import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { PipelineError } from '../../../../src/pipeline/errors';
import { resolveFfmpeg } from '../../../../src/pipeline/media/ffmpeg';
import { findFrameFiles, frameNumbers, naturalCompare, numberingGaps, probeSource } from '../../../../src/pipeline/media/probe';
import { makeAudioOnly, makeClip, makeFrameFolder, makeTextAsVideo, makeZeroFrameVideo, SAMPLES, tempDir, type TempDir } from '../../../tooling/media';

const tools = resolveFfmpeg({ ffmpegPath: '', ffprobePath: '' });
const gallery = (name: string): string => path.join(SAMPLES, name);

async function rejectsInvalid(p: Promise<unknown>, pattern: RegExp, file?: string): Promise<PipelineError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof PipelineError, String(err));
    assert.equal(err.kind, 'invalid-input');
    assert.equal(err.field, 'source');
    assert.match(err.message, pattern);
    if (file) {
      assert.ok(err.message.includes(file), `message should name ${file}: ${err.message}`);
      assert.equal(err.file, file);
    }
    return err;
  }
  assert.fail('expected an error');
}

suite('media/probe: shared sample clips', () => {
  test('01_dog.mp4: 1280x720, 289 frames at 29.97 fps, AAC stereo 48 kHz', async () => {
    const p = await probeSource(gallery('01_dog.mp4'), tools);
    assert.equal(p.info.sourceKind, 'file');
    assert.equal(p.info.width, 1280);
    assert.equal(p.info.height, 720);
    assert.equal(p.info.frameCount, 289);
    assert.ok(Math.abs(p.info.fps - 30000 / 1001) < 1e-6);
    assert.ok(Math.abs(p.info.durationSec - 9.64) < 0.05);
    assert.equal(p.info.rotation, 0);
    assert.equal(p.info.variableFrameRate, false);
    assert.deepEqual(p.info.audio, { sampleRate: 48000, channels: 2, codec: 'aac' });
    assert.equal(p.codec, 'h264');
  });

  test('bedroom.mp4: 960x540, 200 frames at 30 fps, no audio track', async () => {
    const p = await probeSource(gallery('bedroom.mp4'), tools);
    assert.equal(p.info.width, 960);
    assert.equal(p.info.height, 540);
    assert.equal(p.info.frameCount, 200);
    assert.equal(p.info.fps, 30);
    assert.equal(p.info.audio, null);
  });

  test('03_blocks.mp4 has audio', async () => {
    const p = await probeSource(gallery('03_blocks.mp4'), tools);
    assert.equal(p.info.frameCount, 292);
    assert.notEqual(p.info.audio, null);
  });

  test('DAVIS car-shadow sequence folder: its JPEGImages subfolder, 40 frames of 854x480 in order', async () => {
    const root = path.join(SAMPLES, 'davis-car-shadow');
    const p = await probeSource(root, tools, { frameFolderFps: 24 });
    assert.equal(p.info.sourceKind, 'frames');
    assert.equal(p.info.source, path.join(root, 'JPEGImages'));
    assert.equal(p.info.width, 854);
    assert.equal(p.info.height, 480);
    assert.equal(p.info.frameCount, 40);
    assert.equal(p.info.fps, 24);
    assert.equal(p.frameCountFrom, 'files');
    assert.equal(path.basename(p.frameFiles![0]), '00000.jpg');
    assert.equal(path.basename(p.frameFiles![39]), '00039.jpg');
    // The JPEGImages folder itself works too.
    const q = await probeSource(path.join(root, 'JPEGImages'), tools);
    assert.equal(q.info.frameCount, 40);
  });
});

suite('media/probe: generated clips and bad input', () => {
  let tmp: TempDir;
  suiteSetup(() => {
    tmp = tempDir('alref probe ü 日本 ');
  });
  suiteTeardown(() => tmp.remove());

  test('path with spaces and non-ASCII characters', async () => {
    const f = makeClip(path.join(tmp.path, 'mon clip é 動画.mp4'), { frames: 7 });
    const p = await probeSource(f, tools);
    assert.equal(p.info.source, f);
    assert.equal(p.info.frameCount, 7);
  });

  test('odd size 853x481 is reported exactly', async () => {
    const p = await probeSource(makeClip(path.join(tmp.path, 'odd.mp4'), { width: 853, height: 481, frames: 3 }), tools);
    assert.equal(p.info.width, 853);
    assert.equal(p.info.height, 481);
  });

  test('rotated phone video: display size swapped, rotation clockwise', async () => {
    for (const rotate of [90, 270] as const) {
      const p = await probeSource(makeClip(path.join(tmp.path, `rot${rotate}.mp4`), { width: 64, height: 48, rotate }), tools);
      assert.equal(p.info.rotation, rotate);
      assert.equal(p.info.width, 48);
      assert.equal(p.info.height, 64);
      assert.equal(p.codedWidth, 64);
    }
    const p = await probeSource(makeClip(path.join(tmp.path, 'rot180.mp4'), { width: 64, height: 48, rotate: 180 }), tools);
    assert.equal(p.info.rotation, 180);
    assert.equal(p.info.width, 64);
  });

  test('variable frame rate is detected; constant is not', async () => {
    const vfr = await probeSource(makeClip(path.join(tmp.path, 'vfr.mp4'), { vfr: true, frames: 30 }), tools);
    assert.equal(vfr.info.variableFrameRate, true);
    assert.equal(vfr.info.frameCount, 30);
    const cfr = await probeSource(makeClip(path.join(tmp.path, 'cfr.mp4'), { fps: 25, frames: 10 }), tools);
    assert.equal(cfr.info.variableFrameRate, false);
    assert.equal(cfr.info.fps, 25);
  });

  test('a container without a frame count (Matroska): frames are counted', async () => {
    const p = await probeSource(makeClip(path.join(tmp.path, 'clip.mkv'), { frames: 17 }), tools);
    assert.equal(p.frameCountFrom, 'counted');
    assert.equal(p.info.frameCount, 17);
  });

  test('generated clip with audio reports its audio stream', async () => {
    const p = await probeSource(makeClip(path.join(tmp.path, 'audio.mp4'), { frames: 10, audio: true }), tools);
    assert.equal(p.info.audio?.sampleRate, 16000);
    assert.equal(p.info.audio?.channels, 1);
  });

  test('missing file: error naming the path and the field', async () => {
    const f = path.join(tmp.path, 'nope.mp4');
    await rejectsInvalid(probeSource(f, tools), /not found/, f);
  });

  test('a text file renamed .mp4: "not a video ffmpeg can read: <file>"', async () => {
    const f = makeTextAsVideo(path.join(tmp.path, 'notes.mp4'));
    await rejectsInvalid(probeSource(f, tools), /Not a video ffmpeg can read/, f);
  });

  test('an empty file', async () => {
    const f = path.join(tmp.path, 'empty.mp4');
    writeFileSync(f, '');
    await rejectsInvalid(probeSource(f, tools), /Not a video ffmpeg can read.*empty/, f);
  });

  test('a truncated video', async () => {
    const full = makeClip(path.join(tmp.path, 'full.mp4'), { frames: 20 });
    const cut = path.join(tmp.path, 'cut.mp4');
    const bytes = readFileSync(full);
    writeFileSync(cut, bytes.subarray(0, Math.floor(bytes.length / 3)));
    await rejectsInvalid(probeSource(cut, tools), /Not a video ffmpeg can read/, cut);
  });

  test('zero frames: an audio-only file has no video stream', async () => {
    const f = makeAudioOnly(path.join(tmp.path, 'sound.mp4'));
    await rejectsInvalid(probeSource(f, tools), /zero frames/, f);
  });

  test('zero frames: a video written with no frames', async () => {
    const f = makeZeroFrameVideo(path.join(tmp.path, 'zero.mp4'));
    const err = await rejectsInvalid(probeSource(f, tools), /zero frames|Not a video ffmpeg can read/, f);
    assert.ok(err.message.length < 400);
  });

  test('zero frames: an empty frame folder', async () => {
    const d = path.join(tmp.path, 'no frames');
    mkdirSync(d);
    await rejectsInvalid(probeSource(d, tools), /No frames in/, d);
  });

  test('a dataset root (folders only) asks for one sequence folder', async () => {
    const d = path.join(tmp.path, 'JPEGImages-root');
    mkdirSync(path.join(d, 'seq-a'), { recursive: true });
    mkdirSync(path.join(d, 'seq-b'), { recursive: true });
    await rejectsInvalid(probeSource(d, tools), /one sequence folder/, d);
  });

  test('a folder mixing .jpg and .png is refused', async () => {
    const d = path.join(tmp.path, 'mixed');
    makeFrameFolder(d, 2, { ext: 'jpg' });
    makeFrameFolder(d, 2, { ext: 'png', start: 2 });
    await rejectsInvalid(probeSource(d, tools), /mixes \.jpg and \.png/, d);
  });

  test('frames sort in natural order (2 before 10)', async () => {
    assert.deepEqual(['10.jpg', '2.jpg', '1.jpg'].sort(naturalCompare), ['1.jpg', '2.jpg', '10.jpg']);
    const d = path.join(tmp.path, 'natural');
    mkdirSync(d);
    for (const n of ['frame10.png', 'frame2.png', 'frame1.png']) {
      writeFileSync(path.join(d, n), '');
    }
    const { files } = await findFrameFiles(d);
    assert.deepEqual(files.map((f) => path.basename(f)), ['frame1.png', 'frame2.png', 'frame10.png']);
  });

  test('YouTube-VOS style folder (frames every 5th index) is one video of consecutive frames', async () => {
    const d = makeFrameFolder(path.join(tmp.path, 'ytvos', 'JPEGImages', 'abc123'), 4, { step: 5 });
    const p = await probeSource(d, tools, { frameFolderFps: 6 });
    assert.equal(p.info.frameCount, 4);
    assert.deepEqual(p.frameFiles!.map((f) => path.basename(f)), ['00000.jpg', '00005.jpg', '00010.jpg', '00015.jpg']);
    assert.ok(Math.abs(p.info.durationSec - 4 / 6) < 1e-9);
  });
});

suite('media/probe: frame numbers of a frame folder', () => {
  test('one parser: the last run of digits; the stride is the most common step', () => {
    const yt = ['frame_00000.jpg', 'frame_00005.jpg', 'frame_00010.jpg', 'frame_00015.jpg'];
    assert.deepEqual(frameNumbers(yt), { numbers: [0, 5, 10, 15], steps: [{ step: 5, count: 3 }], stride: 5 });
    assert.equal(numberingGaps(yt), undefined);
    assert.equal(frameNumbers(['a.jpg', 'b.jpg']), undefined);
    assert.equal(frameNumbers(['00005.jpg']), undefined);
  });

  test('gaps are measured against the stride: one odd step in a folder stepping by 5', () => {
    const files = ['00000.jpg', '00005.jpg', '00010.jpg', '00012.jpg', '00017.jpg'].map((n) => `/v/${n}`);
    assert.equal(frameNumbers(files)?.stride, 5);
    assert.deepEqual(numberingGaps(files), {
      steps: [{ step: 5, count: 3 }, { step: 2, count: 1 }],
      examples: [['00010.jpg', '00012.jpg']],
      count: 1,
    });
  });
});
