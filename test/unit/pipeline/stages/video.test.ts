import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { MIME } from '../../../../src/common/mime';
import type { FrameGridPayload } from '../../../../src/common/payloads';
import { framePath, type VideoData } from '../../../../src/pipeline/domain';
import { PipelineError } from '../../../../src/pipeline/errors';
import type { ImageEvent, StageEvent } from '../../../../src/pipeline/events';
import { defaultSettings, type PipelineSettings } from '../../../../src/pipeline/settings';
import { runStage } from '../../../../src/pipeline/stages';
import type { VideoParams } from '../../../../src/pipeline/stages/schemas/params.generated';
import { resolveVideoParams, runVideo } from '../../../../src/pipeline/stages/video';
import { parseStageCell } from '../../../../src/pipeline/cells/parse';
import type { StageContext, StageOutcome, StageRequest } from '../../../../src/pipeline/types';
import { ffmpegSeconds } from '../../../../src/pipeline/media/ffmpeg';
import { numberingGaps } from '../../../../src/pipeline/media/probe';
import { makeClip, makeFrameFolder, makeTextAsVideo, SAMPLES, tempDir, type TempDir } from '../../../tooling/media';
import { ffmpegDescendants, firstTempFrame, isGone, tempEntries, waitFor } from '../../../tooling/processes';
import { makeContext } from '../../../tooling/stageContext';

function context(dir: string, options: { signal?: AbortSignal; settings?: Partial<PipelineSettings> } = {}): StageContext {
  return makeContext({ runDir: path.join(dir, 'demo.alref.runs'), baseDir: dir, signal: options.signal, settings: defaultSettings(options.settings) });
}

function request(params: VideoParams, cellId = 'cell-video'): StageRequest<VideoParams> {
  return { kind: 'video', cellId, cellIndex: 2, params, uses: {} };
}

async function run(params: VideoParams, ctx: StageContext): Promise<{ events: StageEvent[]; outcome: StageOutcome<VideoData> }> {
  const events: StageEvent[] = [];
  const gen = runVideo(request(params), ctx);
  for (let r = await gen.next(); ; r = await gen.next()) {
    if (r.done) {
      return { events, outcome: r.value };
    }
    events.push(r.value);
  }
}

async function rejectsField(p: Promise<unknown>, field: string, pattern?: RegExp): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof PipelineError, String(err));
    assert.equal(err.field, field, err.message);
    if (pattern) {
      assert.match(err.message, pattern);
    }
    return true;
  });
}

suite('video stage', () => {
  let tmp: TempDir;
  setup(() => {
    tmp = tempDir('alref stage ü ');
  });
  teardown(() => tmp.remove());

  test('end to end on a small clip: progress, summary, filmstrip, one grid per clip, result data', async () => {
    makeClip(path.join(tmp.path, 'clips', 'my clip.mp4'), { width: 96, height: 64, frames: 23, fps: 10, audio: true });
    const ctx = context(tmp.path);
    const { events, outcome } = await run({ source: 'clips/my clip.mp4', interval: 2 }, ctx);
    const data = outcome.data;

    // Sampling: 23 frames, interval 2, 5 per clip -> [0..8], [10..18], [20, 22].
    assert.deepEqual(data.clips.map((c) => c.frameIndices), [[0, 2, 4, 6, 8], [10, 12, 14, 16, 18], [20, 22]]);
    assert.equal(data.mode, 'rvos');
    assert.equal(data.interval, 2);
    assert.equal(data.framesPerClip, 5);
    assert.equal(data.info.frameCount, 23);
    assert.equal(data.info.width, 96);
    assert.equal(data.info.audio?.sampleRate, 16000);
    assert.equal(data.info.source, path.join(tmp.path, 'clips', 'my clip.mp4'));
    assert.ok(existsSync(framePath(data.framesDir, 22)));
    assert.ok(data.framesDir.startsWith(ctx.runDir));
    assert.deepEqual(outcome.upstream, []);

    // Events: decode progress first, then the summary, the filmstrip, then the grids in clip order.
    const kinds = events.map((e) => (e.type === 'image' ? `image:${e.id}` : e.type));
    const firstMd = kinds.indexOf('markdown');
    assert.ok(firstMd > 0 && kinds.slice(0, firstMd).every((k) => k === 'progress'), kinds.join(' '));
    assert.deepEqual(kinds.filter((k) => k.startsWith('image')), ['image:filmstrip', 'image:grid-0', 'image:grid-1', 'image:grid-2']);
    const md = events[firstMd] as { text: string };
    assert.match(md.text, /96 × 64/);
    assert.match(md.text, /\| Frames \| 23 \|/);
    assert.match(md.text, /aac, 16000 Hz, 1 channel/);
    assert.match(md.text, /RVOS: 3 clips/);

    // Grid images: JPEG bytes = the file the LLM will get; renderer payload matches the result.
    const grids = events.filter((e): e is ImageEvent => e.type === 'image' && e.id!.startsWith('grid-'));
    assert.equal(data.grids.length, 3);
    for (const [i, ev] of grids.entries()) {
      assert.equal(ev.mime, 'image/jpeg');
      assert.equal(ev.renderer?.mime, MIME.frameGrid);
      const payload = ev.renderer!.payload as FrameGridPayload;
      assert.equal(payload.version, 1);
      assert.equal(payload.kind, 'clip');
      assert.equal(payload.clipIndex, i);
      assert.deepEqual(payload.tiles, data.grids[i].tiles);
      assert.deepEqual(payload.tiles.map((t) => t.frameIndex), data.clips[i].frameIndices);
      assert.deepEqual(payload.tiles.map((t) => t.frameId), data.clips[i].frameIndices.map((_, k) => k + 1));
      assert.ok(readFileSync(data.grids[i].path).equals(Buffer.from(ev.data)));
      const meta = await sharp(data.grids[i].path).metadata();
      assert.deepEqual([meta.width, meta.height], [payload.width, payload.height]);
      assert.ok(data.grids[i].path.startsWith(ctx.runDir));
    }
    assert.ok(Math.abs((grids[1].renderer!.payload as FrameGridPayload).tiles[0].timeSec - 1.0) < 1e-6);
    const strip = events.find((e): e is ImageEvent => e.type === 'image' && e.id === 'filmstrip')!;
    assert.equal((strip.renderer!.payload as FrameGridPayload).kind, 'filmstrip');
    assert.equal((strip.renderer!.payload as FrameGridPayload).tiles.length, 12);
  });

  test('a re-run reuses decoded frames and gives the same input hash; other params change it', async () => {
    makeClip(path.join(tmp.path, 'c.mp4'), { frames: 12 });
    const ctx = context(tmp.path);
    const a = await run({ source: 'c.mp4' }, ctx);
    const b = await run({ source: path.join(tmp.path, 'c.mp4') }, ctx);
    assert.equal(a.outcome.inputHash, b.outcome.inputHash);
    assert.equal(a.outcome.data.framesDir, b.outcome.data.framesDir);
    assert.match((b.events.find((e) => e.type === 'markdown') as { text: string }).text, /\(reused\)/);
    const c = await run({ source: 'c.mp4', interval: 3 }, ctx);
    assert.notEqual(c.outcome.inputHash, a.outcome.inputHash);
  });

  test('AVS preset on the DAVIS frames folder: one grid of 10 frames in two rows', async () => {
    const ctx = context(tmp.path);
    const { outcome, events } = await run({ source: path.join(SAMPLES, 'davis-car-shadow'), preset: 'avss', filmstripFrames: 0 }, ctx);
    assert.equal(outcome.data.mode, 'avs');
    assert.equal(outcome.data.info.sourceKind, 'frames');
    assert.deepEqual(outcome.data.clips, [{ clipIndex: 0, frameIndices: [2, 6, 10, 14, 18, 22, 26, 30, 34, 38] }]);
    const tiles = outcome.data.grids[0].tiles;
    assert.equal(new Set(tiles.map((t) => t.y)).size, 2);
    assert.ok(!events.some((e) => e.type === 'image' && e.id === 'filmstrip'));
    assert.equal(outcome.data.info.fps, 1);
  });

  test('Ref-DAVIS17 preset: interval 5 on the car-shadow frames', async () => {
    const { outcome } = await run({ source: path.join(SAMPLES, 'davis-car-shadow'), preset: 'ref-davis17', filmstripFrames: 0 }, context(tmp.path));
    assert.deepEqual(outcome.data.clips.map((c) => c.frameIndices), [[0, 5, 10, 15, 20], [25, 30, 35]]);
  });

  test('rotated and downscaled clip: the summary says so and a warning names the sizes', async () => {
    makeClip(path.join(tmp.path, 'phone.mp4'), { width: 160, height: 96, frames: 6, rotate: 90 });
    const { events, outcome } = await run({ source: 'phone.mp4', maxSide: 80 }, context(tmp.path));
    assert.equal(outcome.data.info.rotation, 90);
    assert.deepEqual([outcome.data.info.width, outcome.data.info.height], [48, 80]);
    const md = (events.find((e) => e.type === 'markdown') as { text: string }).text;
    assert.match(md, /90° clockwise/);
    assert.match(md, /downscaled from 96 × 160/);
    assert.ok(events.some((e) => e.type === 'warning' && /96x160/.test(e.message)));
  });

  test('variable frame rate clip: the summary notes it', async () => {
    makeClip(path.join(tmp.path, 'vfr.mp4'), { vfr: true, frames: 30 });
    const { events, outcome } = await run({ source: 'vfr.mp4', filmstripFrames: 0 }, context(tmp.path));
    assert.equal(outcome.data.info.variableFrameRate, true);
    assert.match((events.find((e) => e.type === 'markdown') as { text: string }).text, /variable frame rate/);
  });

  test('bad fields are errors naming the field: types and ranges from the schema, the rest from the stage', async () => {
    // the cell parser checks the schema (schemas/video.schema.json) before the stage runs
    for (const [yaml, field, pattern] of [
      ['', 'source', /Missing required field "source"/],
      ['source: x.mp4\ninterval: "5"', 'interval', /must be an integer/],
      ['source: x.mp4\ninterval: 0', 'interval', />= 1/],
      ['source: x.mp4\nintervall: 5', 'intervall', /Unknown field/],
      ['source: x.mp4\npreset: davis', 'preset', /must be one of/],
      ['source: x.mp4\nmaxSide: 10', 'maxSide', />= 64/],
    ] as const) {
      const r = parseStageCell(`stage: video\n${yaml}\n`, { cellId: 'v' });
      assert.ok(!r.ok, yaml);
      assert.ok(r.diagnostics.some((d) => d.field === field && pattern.test(d.message)), `${yaml}: ${JSON.stringify(r.diagnostics)}`);
    }
    const ctx = context(tmp.path);
    await rejectsField(run({ source: '  ' }, ctx), 'source');
    await rejectsField(run({ source: 'x.mp4', preset: 'avss', mode: 'rvos' }, ctx), 'mode', /contradicts/);
    await rejectsField(run({ source: 'x.mp4', startSec: 3, endSec: 2 }, ctx), 'endSec');
  });

  test('bad sources name the file; nothing is written for them', async () => {
    const ctx = context(tmp.path);
    await rejectsField(run({ source: 'missing.mp4' }, ctx), 'source', /missing\.mp4/);
    makeTextAsVideo(path.join(tmp.path, 'notes.mp4'));
    await rejectsField(run({ source: 'notes.mp4' }, ctx), 'source', /not a video ffmpeg can read: .*notes\.mp4/i);
    makeClip(path.join(tmp.path, 'short.mp4'), { frames: 5, fps: 10 });
    await rejectsField(run({ source: 'short.mp4', startSec: 3 }, ctx), 'startSec', /past the end/);
    assert.ok(!existsSync(path.join(ctx.runDir, 'frames')) || readdirSync(path.join(ctx.runDir, 'frames')).length === 0);
  });

  test('alref.ffmpegPath pointing nowhere is an error naming the setting', async () => {
    makeClip(path.join(tmp.path, 'c.mp4'), { frames: 3 });
    await rejectsField(run({ source: 'c.mp4' }, context(tmp.path, { settings: { ffmpegPath: '/nope/ffmpeg' } })), 'alref.ffmpegPath');
  });

  test('through runStage: the error carries the cell id', async () => {
    const gen = runStage(request({ source: 'missing.mp4' }, 'cell-42'), context(tmp.path));
    await assert.rejects(gen.next(), (err: unknown) => err instanceof PipelineError && err.cellId === 'cell-42' && err.field === 'source');
  });

  test('cancel mid-decode: the stage ends with a cancelled error after ffmpeg has exited; no temporary folder is left', async () => {
    const ac = new AbortController();
    const ctx = context(tmp.path, { signal: ac.signal });
    const before = new Set(ffmpegDescendants(process.pid));
    const gen = runVideo(request({ source: path.join(SAMPLES, 'bedroom.mp4') }), ctx);
    let ended = false;
    const drained = (async () => {
      for (let r = await gen.next(); !r.done; r = await gen.next()) {
        // drain
      }
    })();
    void drained.catch(() => undefined).finally(() => (ended = true));
    await waitFor(() => firstTempFrame(ctx.runDir), 'the first decoded frame', () => (ended ? 'the stage ended first' : undefined));
    const pids = ffmpegDescendants(process.pid).filter((p) => !before.has(p));
    assert.ok(pids.length >= 1, 'ffmpeg runs when the stage is cancelled');
    ac.abort();
    await assert.rejects(drained, (err: unknown) => err instanceof PipelineError && err.kind === 'cancelled');
    for (const pid of pids) {
      assert.ok(isGone(pid), `ffmpeg ${pid} has exited`);
    }
    assert.deepEqual(tempEntries(ctx.runDir), []);
  });

  test('a truncated MP4 (a quarter of 01_dog.mp4): a warning with the decoded and listed counts; frame count and duration are the decoded ones', async () => {
    const bytes = readFileSync(path.join(SAMPLES, '01_dog.mp4'));
    writeFileSync(path.join(tmp.path, 'cut.mp4'), bytes.subarray(0, Math.floor(bytes.length / 4)));
    const { events, outcome } = await run({ source: 'cut.mp4' }, context(tmp.path));
    const n = outcome.data.info.frameCount;
    assert.ok(n > 0 && n < 200, `${n} frames decoded`);
    const warnings = events.filter((e) => e.type === 'warning').map((e) => (e as { message: string }).message);
    assert.equal(warnings.length, 1, warnings.join('\n'));
    assert.match(warnings[0], new RegExp(`^Only ${n} of the 289 frames that cut\\.mp4 lists could be decoded \\([\\d.]+ s of 9\\.64 s\\): the file looks truncated`));
    assert.ok(outcome.data.info.durationSec < 9, `duration ${outcome.data.info.durationSec} is the decoded span`);
    const summary = events.find((e) => e.type === 'markdown') as { text: string };
    assert.match(summary.text, new RegExp(`\\| Frames \\| ${n} \\(decoded; the container lists 289\\) \\|`));
    assert.match(summary.text, new RegExp(`\\| Duration \\| ${outcome.data.info.durationSec.toFixed(2)} s \\|`));
    // the whole file: no warning
    const whole = await run({ source: path.join(SAMPLES, '01_dog.mp4'), maxSide: 320, filmstripFrames: 0 }, context(tmp.path));
    assert.equal(whole.events.filter((e) => e.type === 'warning' && /truncated/.test(e.message)).length, 0);
  });

  test('startSec / endSec of 1e-7 reach ffmpeg in fixed notation; an empty range blames endSec', async () => {
    makeClip(path.join(tmp.path, 'c.mp4'), { frames: 10, fps: 10 });
    const ctx = context(tmp.path);
    const a = await run({ source: 'c.mp4', startSec: 1e-7 }, ctx);
    assert.equal(a.outcome.data.info.frameCount, 10);
    const b = await run({ source: 'c.mp4', startSec: 1e-7, endSec: 0.35 }, ctx);
    assert.ok(b.outcome.data.info.frameCount >= 3 && b.outcome.data.info.frameCount <= 4, `${b.outcome.data.info.frameCount} frames`);
    await rejectsField(run({ source: 'c.mp4', endSec: 1e-7 }, ctx), 'endSec', /No frames of c\.mp4 fall between the start and endSec 1e-7 s/);
    assert.equal(ffmpegSeconds(1e-7), '0');
    assert.equal(ffmpegSeconds(2.5), '2.5');
    assert.equal(ffmpegSeconds(0.0000015), '0.000002');
  });

  test('a frame folder with gaps in its numbering: a warning saying frames are taken in name order by position; even steps do not warn', async () => {
    const gappy = makeFrameFolder(path.join(tmp.path, 'gappy'), 3, { width: 32, height: 24 });
    makeFrameFolder(gappy, 2, { width: 32, height: 24, start: 5 });
    makeFrameFolder(gappy, 1, { width: 32, height: 24, start: 9 });
    const { events, outcome } = await run({ source: 'gappy', filmstripFrames: 0 }, context(tmp.path));
    const warnings = events.filter((e) => e.type === 'warning').map((e) => (e as { message: string }).message);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0], /^The frame folder gappy has gaps in its numbering \(2 places, e\.g\. 00002\.jpg → 00005\.jpg, 00006\.jpg → 00009\.jpg\)\. Frames are taken in name order and numbered by position: frame index i is the i-th file/);
    assert.equal(outcome.data.info.frameCount, 6);
    const yt = makeFrameFolder(path.join(tmp.path, 'every5'), 4, { width: 32, height: 24, step: 5 });
    const even = await run({ source: yt, filmstripFrames: 0 }, context(tmp.path));
    assert.equal(even.events.filter((e) => e.type === 'warning').length, 0);
    assert.deepEqual(numberingGaps(['a/00000.jpg', 'a/00001.jpg', 'a/00002.jpg']), undefined);
    assert.deepEqual(numberingGaps(['a/00000.jpg', 'a/00001.jpg', 'a/00005.jpg'])?.examples, [['00001.jpg', '00005.jpg']]);
  });

  test('resolveVideoParams: preset defaults, then general defaults', () => {
    const yt = resolveVideoParams({ source: 'a.mp4', preset: 'ref-youtube-vos' }, '/base');
    assert.equal(yt.source, '/base/a.mp4');
    assert.equal(yt.interval, 10);
    assert.equal(yt.mode, 'rvos');
    const s4 = resolveVideoParams({ source: 'a.mp4', preset: 'avsbench-s4' }, '/base');
    assert.equal(s4.mode, 'avs');
    assert.equal(s4.avsFrames, 5);
    const plain = resolveVideoParams({ source: '/abs/a.mp4' }, '/base');
    assert.deepEqual([plain.source, plain.mode, plain.interval, plain.framesPerClip, plain.maxSide, plain.gridMaxSide], ['/abs/a.mp4', 'rvos', 5, 5, 1920, 2048]);
  });
});
