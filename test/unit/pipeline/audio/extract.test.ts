import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { extractAudio, isSilent } from '../../../../src/pipeline/audio/extract';
import { PipelineError } from '../../../../src/pipeline/errors';
import { resolveFfmpeg } from '../../../../src/pipeline/media/ffmpeg';
import { defaultSettings } from '../../../../src/pipeline/settings';
import { SAMPLES } from '../../../tooling/media';
import { isGone } from '../../../tooling/processes';


const tools = resolveFfmpeg(defaultSettings());

/** Generates a clip with ffmpeg's lavfi sources. */
function gen(dir: string, name: string, args: string[]): string {
  const file = path.join(dir, name);
  execFileSync(tools.ffmpeg, ['-v', 'error', '-y', ...args, file]);
  return file;
}

async function rejection(p: Promise<unknown>): Promise<PipelineError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof PipelineError, `expected a PipelineError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected a rejection');
}

suite('audio/extract: ffmpeg to mono float PCM', () => {
  let dir: string;
  suiteSetup(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'alref-audio-'));
  });
  suiteTeardown(() => rmSync(dir, { recursive: true, force: true }));

  test('01_dog.mp4 (AAC stereo 48 kHz) at 16 kHz and 32 kHz; its track is digital silence', async () => {
    const src = path.join(SAMPLES, '01_dog.mp4');
    const a = await extractAudio(src, tools, { sampleRate: 16000 });
    const b = await extractAudio(src, tools, { sampleRate: 32000 });
    assert.equal(a.sourceStream.channels, 2);
    assert.equal(a.sourceStream.sampleRate, 48000);
    assert.equal(a.sampleRate, 16000);
    assert.ok(a.durationSec > 8 && a.durationSec < 11, `duration ${a.durationSec}`);
    assert.ok(Math.abs(b.samples.length - 2 * a.samples.length) < 64, `${b.samples.length} vs 2x${a.samples.length}`);
    assert.ok(isSilent(a) && isSilent(b), `peak ${a.peak}`);
  });

  test('an AAC tone in MP4 keeps its level (sine amplitude 1/8: RMS about 0.088)', async () => {
    const src = gen(dir, 'tone.mp4', ['-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000:duration=1', '-ac', '2', '-c:a', 'aac']);
    const clip = await extractAudio(src, tools, { sampleRate: 16000 });
    assert.ok(!isSilent(clip));
    assert.ok(Math.abs(clip.rms - 0.125 / Math.SQRT2) < 0.01, `rms ${clip.rms}`);
    assert.ok(clip.peak > 0.1 && clip.peak < 0.15, `peak ${clip.peak}`);
  });

  test('a video without an audio track is a clear invalid-input error naming the file', async () => {
    const src = path.join(SAMPLES, 'bedroom.mp4');
    const err = await rejection(extractAudio(src, tools, { sampleRate: 16000 }));
    assert.equal(err.kind, 'invalid-input');
    assert.equal(err.file, src);
    assert.match(err.message, /has no audio track/);
  });

  test('a missing file and a non-media file are invalid-input errors', async () => {
    const missing = await rejection(extractAudio(path.join(dir, 'nope.mp4'), tools, { sampleRate: 16000 }));
    assert.equal(missing.kind, 'invalid-input');
    assert.match(missing.message, /not found/);
    const junk = path.join(dir, 'junk.mp4');
    writeFileSync(junk, 'this is not a video');
    const bad = await rejection(extractAudio(junk, tools, { sampleRate: 16000 }));
    assert.equal(bad.kind, 'invalid-input');
  });

  test('8-bit unsigned PCM is converted to centred float samples', async () => {
    const src = gen(dir, 'u8.wav', ['-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=8000:duration=1', '-c:a', 'pcm_u8']);
    const clip = await extractAudio(src, tools, { sampleRate: 16000 });
    assert.equal(clip.sourceStream.sampleFormat, 'u8');
    assert.ok(Math.abs(clip.durationSec - 1) < 0.02);
    let mean = 0;
    for (const v of clip.samples) {
      mean += v;
    }
    mean /= clip.samples.length;
    assert.ok(Math.abs(mean) < 0.01, `mean ${mean}: 8-bit offset must be removed`);
    assert.ok(clip.peak > 0.05 && clip.peak <= 1.01, `peak ${clip.peak}`);
  });

  test('6-channel audio is down-mixed to one channel', async () => {
    const src = gen(dir, 'six.wav', ['-f', 'lavfi', '-i', 'sine=frequency=300:duration=0.5', '-ac', '6']);
    const clip = await extractAudio(src, tools, { sampleRate: 32000 });
    assert.equal(clip.sourceStream.channels, 6);
    assert.ok(Math.abs(clip.samples.length - 16000) < 64);
    assert.ok(clip.peak > 0.05);
  });

  test('silent audio decodes to zeros and is reported silent', async () => {
    const src = gen(dir, 'silent.m4a', ['-f', 'lavfi', '-i', 'anullsrc=r=44100:cl=stereo', '-t', '1', '-c:a', 'aac']);
    const clip = await extractAudio(src, tools, { sampleRate: 16000 });
    assert.ok(clip.samples.length > 15000);
    assert.ok(isSilent(clip), `peak ${clip.peak}`);
  });

  test('a 0.2 s clip gives 0.2 s of samples', async () => {
    const src = gen(dir, 'short.wav', ['-f', 'lavfi', '-i', 'sine=frequency=1000:duration=0.2']);
    const clip = await extractAudio(src, tools, { sampleRate: 16000 });
    assert.ok(Math.abs(clip.samples.length - 3200) <= 16, `${clip.samples.length} samples`);
  });

  test('start and duration cut the clip', async () => {
    const src = path.join(SAMPLES, '01_dog.mp4');
    const clip = await extractAudio(src, tools, { sampleRate: 16000, startSec: 1, durationSec: 1.5 });
    assert.ok(Math.abs(clip.durationSec - 1.5) < 0.01, `duration ${clip.durationSec}`);
  });

  test('a start of 1e-7 s reaches ffmpeg in fixed notation (not "1e-7", which ffmpeg refuses)', async () => {
    const clip = await extractAudio(path.join(SAMPLES, '01_dog.mp4'), tools, { sampleRate: 16000, startSec: 1e-7, durationSec: 0.5 });
    assert.ok(Math.abs(clip.durationSec - 0.5) < 0.01, `duration ${clip.durationSec}`);
  });

  test('an aborted signal cancels', async () => {
    const ctl = new AbortController();
    ctl.abort();
    const err = await rejection(extractAudio(path.join(SAMPLES, '01_dog.mp4'), tools, { sampleRate: 16000, signal: ctl.signal }));
    assert.equal(err.kind, 'cancelled');
  });

  test('cancel while ffmpeg runs: cancelled only after ffmpeg has exited', async () => {
    const ctl = new AbortController();
    let pid = 0;
    const err = await rejection(extractAudio(path.join(SAMPLES, '01_dog.mp4'), tools, {
      sampleRate: 16000,
      signal: ctl.signal,
      onSpawn: (p) => {
        // abort the moment the process exists: it is mid-run by construction
        pid = p;
        ctl.abort();
      },
    }));
    assert.equal(err.kind, 'cancelled');
    assert.ok(pid > 0, 'ffmpeg was started');
    assert.ok(isGone(pid), `ffmpeg ${pid} has exited`);
  });
});
