import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { MIME } from '../../../../src/common/mime';
import type { PivotBoxData, PivotFrameData, VideoData } from '../../../../src/pipeline/domain';
import { PipelineError } from '../../../../src/pipeline/errors';
import type { ImageEvent, TraceEvent } from '../../../../src/pipeline/events';
import { createLlmService } from '../../../../src/pipeline/llm/service';
import { defaultSettings } from '../../../../src/pipeline/settings';
import type { BoxesPayload } from '../../../../src/common/payloads';
import { avsBoxList, parseTypedCandidates, rvosBoxList, validateBoxAnswer } from '../../../../src/pipeline/stages/pivotBox';
import type { StageRequest } from '../../../../src/pipeline/types';
import { OpenAiTestServer } from '../../../tooling/openaiServer';
import { NotebookSession } from '../../../../src/pipeline/session';
import { collect, makeContext, stageResult, traces } from '../../../tooling/stageContext';
import { davisVideo } from '../../../tooling/davisVideo';

const KEY = 'sk-local-box-key';
// Car-shadow frame 10: the car is roughly in the middle-right; three typed boxes of different sizes.
const BOXES = [[300, 150, 700, 420], [100, 60, 260, 200], [320, 250, 520, 420]];

suite('pivot-box stage on the DAVIS car-shadow frames', () => {
  let server: OpenAiTestServer;
  let tmp: string;
  let video: VideoData;
  let avsVideo: VideoData;
  let runDir: string;

  suiteSetup(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'alref-pb-'));
    video = await davisVideo(path.join(tmp, 'grids'));
    avsVideo = await davisVideo(path.join(tmp, 'grids-avs'), { mode: 'avs' });
  });
  suiteTeardown(async () => {
    await rm(tmp, { recursive: true, force: true });
  });
  setup(async () => {
    server = await OpenAiTestServer.start({ apiKey: KEY });
    runDir = await mkdtemp(path.join(tmp, 'run-'));
  });
  teardown(async () => {
    await server.stop();
  });

  const pivots = (valid: boolean[]): PivotFrameData => ({
    objects: [{
      objectId: 1,
      text: 'the black car',
      clips: valid.map((v, i) => ({ clipIndex: i, frameIndex: v ? [10, 30][i] : null, valid: v })),
    }],
  });

  function ctxFor(v: VideoData, pf: PivotFrameData, mode: 'live' | 'record' | 'replay' = 'live') {
    const session = new NotebookSession();
    session.put(stageResult('video', 'cell-video', v));
    session.put(stageResult('reference', 'cell-ref', { source: 'text', targets: [{ objectId: 1, text: 'the black car', category: 'car' }] }));
    session.put(stageResult('pivot-frame', 'cell-pf', pf));
    const settings = defaultSettings({ llm: { ...defaultSettings().llm, baseUrl: server.baseUrl, mode, timeoutMs: 5000 } });
    return makeContext({ runDir, session, services: { llm: createLlmService({ runDir, getSecret: async () => KEY }) }, settings });
  }
  const request = (params: Record<string, unknown>): StageRequest => ({ kind: 'pivot-box', cellId: 'cell-pb', params, uses: {} });

  test('typed candidates: painted image sent with the CoT prompt, answer [2] chosen and shown emphasised', async () => {
    server.setScript(() => ({ text: 'Scene: a road. Box 1 holds the car; box 2 a tree; box 3 part of the car. Subject: car. [1] fits... final answer [2]', chunkSize: 7 }));
    const { events, result } = await collect(request({ candidates: BOXES }), ctxFor(video, pivots([true, false])));
    const data = result.data as PivotBoxData;
    assert.equal(server.requests.length, 1, 'only the valid clip is asked');
    const sent = server.requests[0];
    assert.equal(sent.imageCount, 1);
    assert.match(sent.text, /box 1: green/);
    assert.match(sent.text, /box 2: magenta/);
    assert.match(sent.text, /box 3: orange/);
    assert.match(sent.text, /"the black car"/);
    assert.match(sent.text, /Frame 3 is the key frame/);
    // The sent image: painted frame (854 wide) on top of the clip grid.
    const url = (sent.body.messages[0].content as Array<{ type: string; image_url?: { url: string } }>)[1].image_url?.url ?? '';
    const meta = await sharp(Buffer.from(url.split(',')[1], 'base64')).metadata();
    assert.equal(meta.format, 'jpeg');
    assert.ok((meta.width ?? 0) >= 854 && (meta.height ?? 0) > 480, `${meta.width}x${meta.height}`);

    const pivot = data.objects[0].pivots[0];
    assert.deepEqual([pivot.clipIndex, pivot.frameIndex, pivot.chosen, pivot.valid], [0, 10, 1, true]);
    assert.deepEqual(pivot.candidates[1].box, { x0: 100, y0: 60, x1: 260, y1: 200 });
    assert.equal(pivot.exchanges?.length, 1);
    assert.match(pivot.promptHash ?? '', /^[0-9a-f]{64}$/);

    const shown = events.filter((e): e is ImageEvent => e.type === 'image' && e.renderer?.mime === MIME.boxes);
    assert.deepEqual(shown.map((e) => (e.renderer?.payload as BoxesPayload).view ?? 'choice'), ['sent', 'choice'], 'the image sent (collapsed view), then the choice');
    const payload = shown[1].renderer?.payload as BoxesPayload;
    assert.equal(payload.version, 1);
    assert.equal(payload.chosen, 1);
    assert.deepEqual(payload.boxes.map((b) => b.colourName), ['green', 'magenta', 'orange']);
    // The image sent centres the frame above the grid: its boxes are shifted by the frame's left edge.
    const sentPayload = shown[0].renderer?.payload as BoxesPayload;
    const left = (sentPayload.width - 854) / 2;
    assert.equal(sentPayload.chosen, null);
    assert.deepEqual(sentPayload.boxes[1].box, { x0: 100 + Math.floor(left), y0: 60, x1: 260 + Math.floor(left), y1: 200 });
    // One group per clip: its header, the image sent, the trace, the choice; the prompt printed once above.
    const order: string[] = events.filter((e) => e.type !== 'progress').map((e) => (e.type === 'markdown' ? (e.text.startsWith('**Prompt**') ? 'prompt' : 'header') : e.type));
    const firstOf = (t: string): number => order.indexOf(t);
    assert.ok(firstOf('prompt') < firstOf('header') && firstOf('header') < firstOf('image') && firstOf('image') < firstOf('trace') && order.lastIndexOf('trace') < order.lastIndexOf('image'), order.join(','));
    const final = events.find((e): e is TraceEvent => e.type === 'trace' && e.final !== undefined);
    assert.equal(final?.final?.answer, '[2]');
    assert.ok([...traces(events).values()][0].endsWith('final answer [2]'));
  });

  for (const [reply, why] of [['[0]', /box 0 is not one of the 3/], ['[99]', /box 99 is not one of the 3/], ['[-1]', /\[-1\]/]] as const) {
    test(`answer ${reply} marks the clip invalid; with no valid clip the top typed box on frame 0 is the fallback`, async () => {
      server.setScript(() => `Considering each box... ${reply}`);
      const { events, result } = await collect(request({ candidates: BOXES }), ctxFor(video, pivots([true, false])));
      const data = result.data as PivotBoxData;
      const [asked, fallback] = data.objects[0].pivots;
      assert.equal(asked.valid, false);
      assert.match(asked.note ?? '', why);
      assert.equal(fallback.fallback, true);
      assert.deepEqual([fallback.frameIndex, fallback.chosen, fallback.valid], [0, 0, true]);
      assert.deepEqual(fallback.candidates[0].box, { x0: 300, y0: 150, x1: 700, y1: 420 });
      assert.ok(events.some((e) => e.type === 'warning' && /fallback/.test(e.message)));
    });
  }

  test('no valid pivot frame at all: fallback without any LLM call', async () => {
    const { result } = await collect(request({ candidates: BOXES }), ctxFor(video, pivots([false, false])));
    const data = result.data as PivotBoxData;
    assert.equal(server.requests.length, 0);
    assert.equal(data.objects[0].pivots.length, 1);
    assert.equal(data.objects[0].pivots[0].fallback, true);
  });

  test('top-score strategy chooses without the LLM', async () => {
    const { result } = await collect(request({ strategy: 'top-score', candidates: [{ box: BOXES[0], phrase: 'car' }, BOXES[1]] }), ctxFor(video, pivots([true, true])));
    const data = result.data as PivotBoxData;
    assert.equal(server.requests.length, 0);
    assert.deepEqual(data.objects[0].pivots.map((p) => p.chosen), [0, 0]);
  });

  test('AVS: one candidate needs no LLM call; two use the AVS prompt with normalised centres', async () => {
    // The fixture video samples what the product plans for AVS: the centre frame of each of 5 equal
    // spans of the 40 frames (sampling.ts planAvsFrames), so the pivot frame 20 is tile 3 of 5.
    assert.deepEqual(avsVideo.clips.map((c) => c.frameIndices), [[4, 12, 20, 28, 36]]);
    const avsPivots: PivotFrameData = { objects: [{ objectId: 1, text: 'the car that is making sound', clips: [{ clipIndex: 0, frameIndex: 20, valid: true }] }] };
    const single = await collect(request({ candidates: [BOXES[0]] }), ctxFor(avsVideo, avsPivots));
    assert.equal(server.requests.length, 0);
    assert.equal((single.result.data as PivotBoxData).objects[0].pivots[0].chosen, 0);

    server.setScript(() => 'Box 1 has the car. [1] is my answer, not [2].');
    const two = await collect(request({ candidates: [BOXES[0], BOXES[1]] }), ctxFor(avsVideo, avsPivots));
    assert.equal(server.requests.length, 1);
    assert.match(server.requests[0].text, /box 1 \(green\): centre \(0\.585, 0\.594\), size \(0\.468 x 0\.563\)/);
    assert.match(server.requests[0].text, /category: car/);
    // AVS convention: the FIRST bracketed integer.
    assert.equal((two.result.data as PivotBoxData).objects[0].pivots[0].chosen, 0);
  });

  test('bad typed candidates are errors naming the field', () => {
    assert.throws(() => parseTypedCandidates([[1, 2, 3]], 854, 480), (e: unknown) => e instanceof PipelineError && e.field === 'candidates[0]');
    assert.throws(() => parseTypedCandidates([[10, 10, 5, 20]], 854, 480), /empty/);
    assert.throws(() => parseTypedCandidates([[900, 10, 950, 20]], 854, 480), /outside the 854x480 frame/);
    assert.deepEqual(parseTypedCandidates([[-5, 10, 900, 20]], 854, 480)[0].box, { x0: 0, y0: 10, x1: 854, y1: 20 });
  });

  test('a typed box names its clip from 1, as the captions do; the data keeps the 0-based clipIndex', async () => {
    const [first, anyClip] = parseTypedCandidates([{ box: [10, 10, 50, 50], clip: 1 }, [20, 20, 60, 60]], 854, 480);
    assert.equal(first.clipIndex, 0);
    assert.equal(anyClip.clipIndex, undefined);
    assert.throws(() => parseTypedCandidates([{ box: [10, 10, 50, 50], clip: 0 }], 854, 480), (e: unknown) => e instanceof PipelineError && e.field === 'candidates[0].clip' && /numbered from 1/.test(e.message));
    // Clip 1 of the video (the valid one here) gets only the boxes typed for clip 1 and for every clip.
    server.setScript(() => 'box one. [1]');
    const typed = [{ box: BOXES[0], clip: 1 }, { box: BOXES[1], clip: 2 }, { box: BOXES[2] }];
    const { result, events } = await collect(request({ candidates: typed }), ctxFor(video, pivots([true, false])));
    const pivot = (result.data as PivotBoxData).objects[0].pivots[0];
    assert.equal(pivot.clipIndex, 0);
    assert.deepEqual(pivot.candidates.map((c) => c.box), [parseTypedCandidates([BOXES[0]], 854, 480)[0].box, parseTypedCandidates([BOXES[2]], 854, 480)[0].box]);
    const caption = events.find((e): e is ImageEvent => e.type === 'image' && (e.renderer?.payload as BoxesPayload | undefined)?.view === undefined)?.caption ?? '';
    assert.match(caption, /clip 1, frame 10/);
  });

  test('answer validation and box lists', () => {
    assert.deepEqual(validateBoxAnswer(2, 3), { chosen: 1 });
    assert.deepEqual(validateBoxAnswer(-1, 3), { none: true });
    assert.ok('invalid' in validateBoxAnswer(0, 3));
    assert.ok('invalid' in validateBoxAnswer(99, 3));
    assert.ok('invalid' in validateBoxAnswer(4, 3));
    const cands = parseTypedCandidates(BOXES, 854, 480);
    assert.equal(rvosBoxList(cands).split('\n').length, 3);
    assert.match(avsBoxList(cands, 854, 480), /box 3 \(orange\): centre \(0\.492, 0\.698\), size \(0\.234 x 0\.354\)/);
  });

  test('without typed candidates and without a model store, the detector error is clear and no LLM call is made', async () => {
    await assert.rejects(collect(request({}), ctxFor(video, pivots([true, false]))), (err: unknown) => {
      assert.ok(err instanceof PipelineError, String(err));
      assert.equal(err.cellId, 'cell-pb');
      return true;
    });
    assert.equal(server.requests.length, 0);
  });

  test('a box reply without brackets is re-asked once; the second answer is used', async () => {
    server.enqueue('Box 2 looks like the car, I think.', '[2]');
    const { result } = await collect(request({ candidates: BOXES }), ctxFor(video, pivots([true, false])));
    const pivot = (result.data as PivotBoxData).objects[0].pivots[0];
    assert.equal(server.requests.length, 2);
    assert.deepEqual([pivot.chosen, pivot.valid], [1, true]);
    assert.match(pivot.note ?? '', /after a re-ask/);
    assert.equal(pivot.exchanges?.length, 2);
  });

  for (const [template, marker] of [['pivot-box.select', /Do not describe the image/], ['pivot-box.describe-select', /First, describe briefly what is inside each numbered box/]] as const) {
    test(`ablation template ${template} is one setting away`, async () => {
      server.setScript(() => '[1]');
      const { result } = await collect(request({ candidates: BOXES, template }), ctxFor(video, pivots([true, false])));
      assert.match(server.requests[0].text, marker);
      assert.equal((result.data as PivotBoxData).prompt?.name, template);
    });
  }

  test('a template of another stage is refused', async () => {
    await assert.rejects(collect(request({ candidates: BOXES, template: 'pivot-frame.cot' }), ctxFor(video, pivots([true, false]))), (err: unknown) => err instanceof PipelineError && err.field === 'template');
  });
});

