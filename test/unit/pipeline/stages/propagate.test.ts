import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { MIME } from '../../../../src/common/mime';
import type { MaskOverlayPayload } from '../../../../src/common/payloads';
import type { BoxPivot, MaskData, PivotBoxData, ReferenceData, VideoData } from '../../../../src/pipeline/domain';
import { PipelineError } from '../../../../src/pipeline/errors';
import type { ImageEvent, StageEvent } from '../../../../src/pipeline/events';
import { readMasksFile } from '../../../../src/pipeline/masks/davisExport';
import { readLabelPng } from '../../../../src/pipeline/masks/labelPng';
import { decodeRle, encodeRle } from '../../../../src/pipeline/masks/rle';
import { readLogitsFile } from '../../../../src/pipeline/masks/logits';
import { SessionRuntime } from '../../../../src/pipeline/models/runtime';
import { Sam2VideoTracker, type Sam2ObjectResult, type Sam2VideoOptions } from '../../../../src/pipeline/models/sam2/video';
import { createModelService } from '../../../../src/pipeline/models/service';
import { defaultSettings } from '../../../../src/pipeline/settings';
import { promptsFromPivots, runPropagate, type PropagateParams } from '../../../../src/pipeline/stages/propagate';
import { NotebookSession } from '../../../../src/pipeline/session';
import type { StageContext, StageRequest, StageResult } from '../../../../src/pipeline/types';
import { maskBoxIou, writeMovingSquare, type SquareClip } from '../../../tooling/movingSquare';
import { writeModelFixtures } from '../../../tooling/onnxFixtures';
import { makeContext, stageResult } from '../../../tooling/stageContext';

function videoData(clip: SquareClip): VideoData {
  return {
    info: { source: clip.dir, sourceKind: 'frames', width: clip.width, height: clip.height, fps: 24, frameCount: clip.frames, durationSec: clip.frames / 24, rotation: 0, variableFrameRate: false, audio: null },
    mode: 'rvos',
    interval: 5,
    framesPerClip: 5,
    clips: [],
    grids: [],
    framesDir: clip.dir,
  };
}

function pivot(clipIndex: number, frameIndex: number, box: BoxPivot['candidates'][number]['box'], valid = true): BoxPivot {
  return { clipIndex, frameIndex, candidates: [{ box, score: 0.9, source: 'grounding-dino', phrase: 'white square' }], chosen: valid ? 0 : null, valid };
}

async function drain(gen: AsyncGenerator<StageEvent, { data: MaskData }, void>): Promise<{ events: StageEvent[]; data: MaskData }> {
  const events: StageEvent[] = [];
  for (;;) {
    const r = await gen.next();
    if (r.done) {
      return { events, data: r.value.data };
    }
    events.push(r.value);
  }
}

suite('stages/propagate: pivot boxes -> SAM 2 masks through real onnxruntime fixture graphs', () => {
  let dir: string;
  let clip: SquareClip;
  let runtime: SessionRuntime;

  const ctx = (results: StageResult[], signal = new AbortController().signal): StageContext => {
    const settings = defaultSettings({ models: { ...defaultSettings().models, localDir: path.join(dir, 'models'), cacheDir: path.join(dir, 'cache') } });
    const session = new NotebookSession();
    results.forEach((r) => session.put(r));
    return makeContext({ runDir: path.join(dir, 'nb.alref.runs'), baseDir: dir, signal, session, settings, services: { models: createModelService(settings.models, { userCacheDir: dir }, runtime) } });
  };
  const request = (params: PropagateParams = {}): StageRequest<PropagateParams> => ({ kind: 'propagate', cellId: 'cell-prop', params, uses: {} });

  suiteSetup(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'alref-prop-'));
    await writeModelFixtures(path.join(dir, 'models'), { only: ['sam2', 'groundingDino'] });
    clip = await writeMovingSquare(path.join(dir, 'nb.alref.runs', 'frames', 'v1'), { frames: 24 });
    runtime = new SessionRuntime({ executionProvider: 'cpu', threads: 1 });
  });
  suiteTeardown(async () => {
    await runtime.dispose();
    await rm(dir, { recursive: true, force: true });
  });

  test('prompts from pivots: invalid clips skipped, middle valid pivot starts, past-the-end and outside boxes reported', () => {
    const r = promptsFromPivots(
      [
        pivot(0, 2, { x0: 1, y0: 1, x1: 5, y1: 5 }),
        pivot(1, 7, { x0: 1, y0: 1, x1: 5, y1: 5 }, false),
        pivot(2, 12, { x0: -10, y0: 1, x1: 5, y1: 5 }),
        pivot(3, 17, { x0: 200, y0: 100, x1: 300, y1: 150 }),
        pivot(4, 30, { x0: 1, y0: 1, x1: 5, y1: 5 }),
        pivot(5, 20, { x0: 1, y0: 1, x1: 5, y1: 5 }),
      ],
      24, 96, 64,
    );
    assert.deepEqual(r.prompts.map((p) => p.frameIndex), [2, 12, 20]);
    assert.equal(r.start, 12);
    assert.deepEqual(r.prompts[1].box, { x0: 0, y0: 1, x1: 5, y1: 5 });
    assert.equal(r.warnings.length, 3);
    assert.match(r.warnings.join('\n'), /clip 2: the chosen box was clipped/);
    assert.match(r.warnings.join('\n'), /clip 3: the chosen box lies outside the 96x64 frame/);
    assert.match(r.warnings.join('\n'), /clip 4: pivot frame 30 is past the end of the video \(24 frames\)/);
  });

  test('end to end: masks per frame follow the square, stored as RLE, overlay payload + PNG contact sheet, DAVIS PNGs', async () => {
    const boxes: PivotBoxData = {
      objects: [{ objectId: 1, text: 'the white square', pivots: [pivot(0, 2, clip.boxes[2]), pivot(1, 12, clip.boxes[12]), pivot(2, 20, clip.boxes[20], false)] }],
    };
    const c = ctx([stageResult('video', 'cell-video', videoData(clip)), stageResult('pivot-box', 'cell-box', boxes)]);
    const { events, data } = await drain(runPropagate(request({ exportPng: 'out/masks' }), c));
    assert.equal(data.frameCount, 24);
    assert.deepEqual(data.objects.map((o) => o.pivotFrames), [[2, 12]]);
    const masks = await readMasksFile(data.objects[0].masksFile, 24);
    for (let f = 0; f < 24; f++) {
      assert.deepEqual(masks[f].size, [64, 96]);
      const iou = maskBoxIou(decodeRle(masks[f]), 96, clip.boxes[f]);
      assert.ok(iou > 0.7, `frame ${f}: IoU ${iou.toFixed(3)}`);
    }
    const progress = events.filter((e) => e.type === 'progress');
    assert.equal(progress.length, 24);
    assert.deepEqual(progress[progress.length - 1], { type: 'progress', done: 24, total: 24, label: 'object 1: frame 0' });
    // forward from the middle valid pivot (12) then backward
    assert.equal((progress[0] as { label: string }).label, 'object 1: frame 12');
    const img = events.find((e): e is ImageEvent => e.type === 'image');
    assert.ok(img);
    assert.equal(img.mime, 'image/png');
    assert.deepEqual([...img.data.subarray(1, 4)], [0x50, 0x4e, 0x47]);
    assert.equal(img.renderer?.mime, MIME.maskOverlay);
    const payload = img.renderer?.payload as MaskOverlayPayload;
    assert.deepEqual(payload.frames, { dir: 'frames/v1', pad: 5, ext: '.jpg' });
    assert.match(payload.objects[0].masks.ref, /^artifacts\/[0-9a-f]{2}\/[0-9a-f]{64}\.json$/);
    assert.deepEqual(payload.objects[0].pivotFrames, [2, 12]);
    const pngs = (await readdir(path.join(dir, 'out', 'masks'))).sort();
    assert.equal(pngs.length, 24);
    const p5 = await readLabelPng(path.join(dir, 'out', 'masks', '00005.png'));
    assert.deepEqual(p5.data, decodeRle(masks[5]));
  });

  test('a frame yielded twice (an unprompted start frame: forward and backward pass): progress counts it once; its later result replaces the earlier one, logits included', async () => {
    // the stage always starts at a prompted frame; force an unprompted start (13) as `alref propagate` can
    const trackObjects = Object.getOwnPropertyDescriptor(Sam2VideoTracker.prototype, 'trackObjects')?.value as Sam2VideoTracker['trackObjects'];
    const seen = new Map<number, number>();
    Sam2VideoTracker.prototype.trackObjects = async function* (this: Sam2VideoTracker, o: Sam2VideoOptions): AsyncGenerator<Sam2ObjectResult, void, void> {
      for await (const { object, result: r } of trackObjects.call(this, { ...o, objects: o.objects.map((obj) => ({ ...obj, startFrame: 13 })) })) {
        seen.set(r.frameIndex, (seen.get(r.frameIndex) ?? 0) + 1);
        // the second (backward) result for frame 13 says "no object": it must win over the first
        const empty = new Uint8Array(r.mask.length);
        yield { object, result: r.frameIndex === 13 && seen.get(13) === 2 ? { ...r, objectScore: -1, mask: empty, rle: encodeRle(empty, clip.width, clip.height) } : r };
      }
    };
    try {
      const boxes: PivotBoxData = { objects: [{ objectId: 1, text: 'the white square', pivots: [pivot(0, 2, clip.boxes[2]), pivot(1, 12, clip.boxes[12])] }] };
      const c = ctx([stageResult('video', 'cell-video', videoData(clip)), stageResult('pivot-box', 'cell-box', boxes)]);
      const { events, data } = await drain(runPropagate(request({ keepLogits: true }), c));
      assert.equal(seen.get(13), 2, 'frame 13 came twice');
      const progress = events.filter((e) => e.type === 'progress') as Array<{ done: number; total: number }>;
      assert.ok(progress.every((p) => p.done <= p.total), JSON.stringify(progress.map((p) => p.done)));
      assert.deepEqual(progress[progress.length - 1], { type: 'progress', done: 24, total: 24, label: 'object 1: frame 0' });
      const masks = await readMasksFile(data.objects[0].masksFile, 24);
      assert.equal(decodeRle(masks[13]).reduce((a, b) => a + b, 0), 0, 'frame 13: the later (empty) mask');
      const logits = await readLogitsFile(data.objects[0].logitsFile as string);
      assert.equal(logits.frames[13], null, 'frame 13: the later result has no object, so no logits');
      assert.notEqual(logits.frames[14], null);
    } finally {
      Sam2VideoTracker.prototype.trackObjects = trackObjects;
    }
  });

  test('a fixed-length memory graph that cannot hold every prompted frame + 6 recent memories says so in the output', async () => {
    // 8 prompted frames (one per clip): the fixture graph's memory holds 7 frames
    const frames = [0, 3, 6, 9, 12, 15, 18, 21];
    const boxes: PivotBoxData = { objects: [{ objectId: 1, text: 'the white square', pivots: frames.map((f, k) => pivot(k, f, clip.boxes[f])) }] };
    const c = ctx([stageResult('video', 'cell-video', videoData(clip)), stageResult('pivot-box', 'cell-box', boxes)]);
    const { events, data } = await drain(runPropagate(request(), c));
    assert.deepEqual(data.objects[0].pivotFrames, frames);
    const warning = events.find((e) => e.type === 'warning' && /fixed memory length/.test(e.message));
    assert.ok(warning, 'a warning about the capped memory');
    assert.match((warning as { message: string }).message, /^SAM 2 "[^"]+" has a fixed memory length \(\d+ memory tokens, 7 frame memories\): for object 1, on \d+ frame\(s\) /);
    assert.match((warning as { message: string }).message, /kept: up to 6 recent memories and the prompted frames closest in time/);
  });

  test('baseline "G-DINO + SAM 2": top GroundingDINO box on frame 0, no LLM', async () => {
    const ref: ReferenceData = { source: 'text', targets: [{ objectId: 1, text: 'white square' }] };
    // frame 0 also holds the distractor: the fixture box is the bright-pixel extent, so check the first frame is prompted
    const noDistractor = await writeMovingSquare(path.join(dir, 'nb.alref.runs', 'frames', 'v2'), { frames: 10, distractor: false });
    const c = ctx([stageResult('video', 'cell-video', videoData(noDistractor)), stageResult('reference', 'cell-ref', ref)]);
    const { data } = await drain(runPropagate(request({ strategy: 'first-frame-top-box' }), c));
    assert.deepEqual(data.objects[0].pivotFrames, [0]);
    const masks = await readMasksFile(data.objects[0].masksFile, 10);
    for (let f = 0; f < 10; f++) {
      assert.ok(maskBoxIou(decodeRle(masks[f]), 96, noDistractor.boxes[f]) > 0.7, `frame ${f}`);
    }
  });

  test('no valid pivot: warning and empty masks; missing pivot-box result names the field', async () => {
    const boxes: PivotBoxData = { objects: [{ objectId: 1, text: 'x', pivots: [pivot(0, 3, clip.boxes[3], false)] }] };
    const c = ctx([stageResult('video', 'cell-video', videoData(clip)), stageResult('pivot-box', 'cell-box', boxes)]);
    const { events, data } = await drain(runPropagate(request(), c));
    assert.ok(events.some((e) => e.type === 'warning' && /has no valid pivot box/.test(e.message)));
    const masks = await readMasksFile(data.objects[0].masksFile, 24);
    assert.ok(masks.every((m) => decodeRle(m).every((v) => v === 0)));
    await assert.rejects(drain(runPropagate(request(), ctx([stageResult('video', 'cell-video', videoData(clip))]))), (err: unknown) => err instanceof PipelineError && err.field === 'uses.pivot-box');
  });

  test('cancel between frames', async () => {
    const boxes: PivotBoxData = { objects: [{ objectId: 1, text: 'x', pivots: [pivot(0, 0, clip.boxes[0])] }] };
    const ac = new AbortController();
    const gen = runPropagate(request(), ctx([stageResult('video', 'cell-video', videoData(clip)), stageResult('pivot-box', 'cell-box', boxes)], ac.signal));
    let n = 0;
    await assert.rejects(async () => {
      for (;;) {
        const r = await gen.next();
        if (r.done) {
          break;
        }
        if (r.value.type === 'progress' && ++n === 2) {
          ac.abort();
        }
      }
    }, (err: unknown) => err instanceof PipelineError && err.kind === 'cancelled');
    assert.equal(n, 2);
  });
});
