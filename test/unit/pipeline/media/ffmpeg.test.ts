import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { PipelineError } from '../../../../src/pipeline/errors';
import { ffprobe, resolveFfmpeg, toolVersion } from '../../../../src/pipeline/media/ffmpeg';
import { FFMPEG, FFPROBE, tempDir, type TempDir } from '../../../tooling/media';
import { isGone, waitFor } from '../../../tooling/processes';

const NO_SETTINGS = { ffmpegPath: '', ffprobePath: '' };

function expectSettingError(fn: () => unknown, field: string): PipelineError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof PipelineError, String(err));
    assert.equal(err.field, field);
    assert.equal(err.stage, 'video');
    assert.match(err.message, new RegExp(field.replace('.', '\\.')));
    return err;
  }
  assert.fail('expected an error');
}

suite('media/ffmpeg: finding ffmpeg and ffprobe', () => {
  let tmp: TempDir;
  setup(() => {
    tmp = tempDir();
  });
  teardown(() => tmp.remove());

  test('nothing on PATH: the bundled @ffmpeg-installer binaries, which run', () => {
    const t = resolveFfmpeg(NO_SETTINGS, { env: { PATH: path.join(tmp.path, 'empty') } });
    assert.equal(t.ffmpegFrom, 'bundled');
    assert.equal(t.ffprobeFrom, 'bundled');
    assert.equal(t.ffmpeg, FFMPEG);
    assert.match(toolVersion(t.ffmpeg), /^ffmpeg version/);
    assert.match(toolVersion(t.ffprobe), /^ffprobe version/);
  });

  test('ffmpeg and ffprobe on PATH win over the bundled ones', () => {
    const bin = path.join(tmp.path, 'bin dir');
    mkdirSync(bin);
    symlinkSync(FFMPEG, path.join(bin, 'ffmpeg'));
    symlinkSync(FFPROBE, path.join(bin, 'ffprobe'));
    const t = resolveFfmpeg(NO_SETTINGS, { env: { PATH: `/nonexistent${path.delimiter}${bin}` } });
    assert.equal(t.ffmpeg, path.join(bin, 'ffmpeg'));
    assert.equal(t.ffmpegFrom, 'path');
    assert.equal(t.ffprobeFrom, 'path');
  });

  test('alref.ffmpegPath is used, with the ffprobe next to it', () => {
    const bin = path.join(tmp.path, 'tools');
    mkdirSync(bin);
    symlinkSync(FFMPEG, path.join(bin, 'ffmpeg'));
    symlinkSync(FFPROBE, path.join(bin, 'ffprobe'));
    const t = resolveFfmpeg({ ffmpegPath: path.join(bin, 'ffmpeg'), ffprobePath: '' }, { env: { PATH: '' } });
    assert.equal(t.ffmpeg, path.join(bin, 'ffmpeg'));
    assert.equal(t.ffmpegFrom, 'setting');
    assert.equal(t.ffprobe, path.join(bin, 'ffprobe'));
    assert.equal(t.ffprobeFrom, 'next-to-ffmpeg');
  });

  test('alref.ffmpegPath naming a missing file is an error naming the setting', () => {
    const err = expectSettingError(() => resolveFfmpeg({ ffmpegPath: '/no/such/ffmpeg', ffprobePath: '' }), 'alref.ffmpegPath');
    assert.match(err.message, /\/no\/such\/ffmpeg/);
  });

  test('alref.ffmpegPath naming a file that is not a program is an error naming the setting', () => {
    const f = path.join(tmp.path, 'notes.txt');
    writeFileSync(f, 'hello');
    chmodSync(f, 0o755);
    expectSettingError(() => resolveFfmpeg({ ffmpegPath: f, ffprobePath: '' }), 'alref.ffmpegPath');
  });

  test('alref.ffprobePath naming a missing file is an error naming that setting', () => {
    expectSettingError(() => resolveFfmpeg({ ffmpegPath: '', ffprobePath: path.join(tmp.path, 'nope') }), 'alref.ffprobePath');
  });

  test('nothing anywhere: the error tells the user to set alref.ffmpegPath', () => {
    const err = expectSettingError(
      () => resolveFfmpeg(NO_SETTINGS, { env: { PATH: '' }, bundled: { ffmpeg: () => undefined, ffprobe: () => undefined } }),
      'alref.ffmpegPath',
    );
    assert.equal(err.kind, 'backend');
  });

  test('a bundled binary that lost its executable bit is made executable', () => {
    const f = path.join(tmp.path, 'ffmpeg-bundled');
    writeFileSync(f, '#!/bin/sh\necho "ffmpeg version test"\n');
    chmodSync(f, 0o644);
    const t = resolveFfmpeg(NO_SETTINGS, { env: { PATH: '' }, bundled: { ffmpeg: () => f, ffprobe: () => FFPROBE } });
    assert.equal(t.ffmpeg, f);
    assert.ok((statSync(f).mode & 0o111) !== 0);
  });
});

suite('media/ffmpeg: ffprobe', () => {
  let tmp: TempDir;
  setup(() => {
    tmp = tempDir();
  });
  teardown(() => tmp.remove());

  test('cancelling an ffprobe stuck on a FIFO nobody writes: cancelled, and the ffprobe process is gone', async function () {
    if (process.platform === 'win32') {
      this.skip();
    }
    // Bounded so that a regression (waiting for an ffprobe that never exits) fails instead of hanging.
    this.timeout(30_000);
    const fifo = path.join(tmp.path, 'stuck.mp4');
    execFileSync('mkfifo', [fifo]);
    const tools = resolveFfmpeg(NO_SETTINGS);
    const ac = new AbortController();
    let pid = 0;
    const probing = ffprobe(fifo, tools, { signal: ac.signal, onSpawn: (p) => (pid = p) });
    const outcome = probing.then(() => 'resolved', (err: unknown) => (err instanceof PipelineError ? err.kind : String(err)));
    await waitFor(() => pid > 0, 'ffprobe to start');
    ac.abort();
    assert.equal(await outcome, 'cancelled');
    assert.ok(isGone(pid), `ffprobe ${pid} should be gone`);
  });

  test('a file ffprobe cannot read: the error ends with ffprobe\'s message', async () => {
    const f = path.join(tmp.path, 'text.mp4');
    writeFileSync(f, 'not a video\n'.repeat(50));
    await assert.rejects(ffprobe(f, resolveFfmpeg(NO_SETTINGS)), /ffprobe exited with code 1\n[\s\S]*Invalid data/);
  });
});
