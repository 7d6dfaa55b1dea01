/**
 * Pivot-box rules of the paper / reference code (docs/PIPELINE.md "Corrections"), on the DAVIS
 * car-shadow frames with a local OpenAI-compatible server.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Candidate, PivotBoxData, PivotFrameData, VideoData } from '../../../../src/pipeline/domain';
import { createLlmService } from '../../../../src/pipeline/llm/service';
import { fallbackThresholds } from '../../../../src/pipeline/models/detectionDefaults';
import { defaultSettings } from '../../../../src/pipeline/settings';
import { rvosBoxList } from '../../../../src/pipeline/stages/pivotBox';
import type { StageRequest } from '../../../../src/pipeline/types';
import { OpenAiTestServer } from '../../../tooling/openaiServer';
import { NotebookSession } from '../../../../src/pipeline/session';
import { collect, makeContext, stageResult } from '../../../tooling/stageContext';
import { davisVideo } from '../../../tooling/davisVideo';

const KEY = 'sk-local-fidelity-key';
const BOXES = [[300, 150, 700, 420], [100, 60, 260, 200], [320, 250, 520, 420]];

suite('fidelity: pivot-box rules', () => {
  let server: OpenAiTestServer;
  let tmp: string;
  let video: VideoData;
  let avsVideo: VideoData;
  let runDir: string;

  suiteSetup(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'alref-fid-pb-'));
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

  const avsPivots: PivotFrameData = { objects: [{ objectId: 1, text: 'the car that is making sound', clips: [{ clipIndex: 0, frameIndex: 20, valid: true }] }] };
  function ctxFor(v: VideoData, pf: PivotFrameData, maxRetries = 4, maxTokens: number | null = null) {
    const session = new NotebookSession();
    session.put(stageResult('video', 'cell-video', v));
    session.put(stageResult('reference', 'cell-ref', { source: 'text', targets: [{ objectId: 1, text: pf.objects[0].text, category: 'car' }] }));
    session.put(stageResult('pivot-frame', 'cell-pf', pf));
    const settings = defaultSettings({ llm: { ...defaultSettings().llm, baseUrl: server.baseUrl, timeoutMs: 5000, maxRetries, maxTokens } });
    return makeContext({ runDir, session, services: { llm: createLlmService({ runDir, getSecret: async () => KEY }) }, settings });
  }
  const request = (params: Record<string, unknown>): StageRequest => ({ kind: 'pivot-box', cellId: 'cell-pb', params, uses: {} });

  test('AVS without candidates (reference code): no prompt, no frame-0 fallback, no pivot: the object gets empty masks', async () => {
    const { events, result } = await collect(request({ candidates: [] }), ctxFor(avsVideo, avsPivots));
    const pivots = (result.data as PivotBoxData).objects[0].pivots;
    assert.equal(server.requests.length, 0);
    assert.ok(pivots.every((p) => !p.valid && !p.fallback), JSON.stringify(pivots));
    assert.ok(events.some((e) => e.type === 'warning' && /AVS has no frame-0 fallback/.test(e.message)));
  });

  for (const [what, script] of [
    ['[-1]', () => '[-1]'],
    ['an out-of-range [7]', () => '[7]'],
    ['an unparsable reply (re-asked once)', () => 'I cannot tell which box it is.'],
    ['a failed call', () => ({ fault: 'server-error' as const })],
  ] as const) {
    test(`AVS answer rule (reference code): ${what} means box 1 on the LBRU frame`, async () => {
      server.setScript(script);
      const { result } = await collect(request({ candidates: BOXES }), ctxFor(avsVideo, avsPivots, 0));
      const [pivot] = (result.data as PivotBoxData).objects[0].pivots;
      assert.deepEqual([pivot.frameIndex, pivot.chosen, pivot.valid, pivot.fallback], [20, 0, true, undefined]);
      assert.match(pivot.note ?? '', /box 1 by the AVS default/);
    });
  }

  test('AVS answer rule: the prompt asks for the answer only and the FIRST bracket is read; `answer: last` reads the last one', async () => {
    server.setScript(() => '[2] is the car; [3] is only a part of it.');
    const first = await collect(request({ candidates: BOXES }), ctxFor(avsVideo, avsPivots));
    assert.match(server.requests[0].text, /Reply with the number of that box in square brackets and nothing else/);
    assert.doesNotMatch(server.requests[0].text, /Describe what you see/);
    assert.equal((first.result.data as PivotBoxData).objects[0].pivots[0].chosen, 1);
    const last = await collect(request({ candidates: BOXES, answer: 'last' }), ctxFor(avsVideo, avsPivots));
    assert.equal((last.result.data as PivotBoxData).objects[0].pivots[0].chosen, 2);
  });

  test('RVOS keeps the frame-0 fallback; Ref-DAVIS17 (reference code) uses box 0.1 / text 0.1 there, other presets 0.001 / 0.1', () => {
    assert.deepEqual(fallbackThresholds('ref-davis17'), { boxThreshold: 0.1, textThreshold: 0.1, topK: 1 });
    assert.deepEqual(fallbackThresholds('mevis'), { boxThreshold: 0.001, textThreshold: 0.1, topK: 1 });
    assert.deepEqual(fallbackThresholds(null), { boxThreshold: 0.001, textThreshold: 0.1, topK: 1 });
  });

  test('RVOS box prompt (reference code): detector scores are not listed unless showScores is set', async () => {
    const cands: Candidate[] = [{ box: { x0: 1, y0: 2, x1: 30, y1: 40 }, score: 0.4321, phrase: 'car', source: 'grounding-dino' }];
    assert.doesNotMatch(rvosBoxList(cands), /score/);
    assert.match(rvosBoxList(cands, { showScores: true }), /score 0\.43/);
    server.setScript(() => 'Reasoning... [1]');
    const rvosPivots: PivotFrameData = { objects: [{ objectId: 1, text: 'the black car', clips: [{ clipIndex: 0, frameIndex: 10, valid: true }] }] };
    await collect(request({ candidates: BOXES }), ctxFor(video, rvosPivots));
    assert.doesNotMatch(server.requests[0].text, /score/);
  });

  test('reference code: no max-tokens limit is sent by default; a configured llm.maxTokens is', async () => {
    server.setScript(() => 'Long five-step reasoning ... [1]');
    const rvosPivots: PivotFrameData = { objects: [{ objectId: 1, text: 'the black car', clips: [{ clipIndex: 0, frameIndex: 10, valid: true }] }] };
    await collect(request({ candidates: BOXES }), ctxFor(video, rvosPivots));
    const body = server.requests[0].body as Record<string, unknown>;
    assert.ok(!('max_tokens' in body) && !('max_completion_tokens' in body), JSON.stringify(Object.keys(body)));
    await collect(request({ candidates: BOXES }), ctxFor(video, rvosPivots, 4, 99));
    assert.equal((server.requests[1].body as Record<string, unknown>).max_tokens, 99);
  });
});
