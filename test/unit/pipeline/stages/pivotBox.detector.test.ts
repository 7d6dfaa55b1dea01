import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import type { PivotBoxData, PivotFrameData, VideoData } from '../../../../src/pipeline/domain';
import { framePath } from '../../../../src/pipeline/domain';
import { createLlmService } from '../../../../src/pipeline/llm/service';
import { SessionRuntime } from '../../../../src/pipeline/models/runtime';
import { createModelService } from '../../../../src/pipeline/models/service';
import { defaultSettings } from '../../../../src/pipeline/settings';
import type { StageRequest } from '../../../../src/pipeline/types';
import { OpenAiTestServer } from '../../../tooling/openaiServer';
import { writeModelFixtures } from '../../../tooling/onnxFixtures';
import { NotebookSession } from '../../../../src/pipeline/session';
import { collect, makeContext, stageResult } from '../../../tooling/stageContext';
import { buildGrid } from '../../../tooling/davisVideo';

const KEY = 'sk-detector-test';
const W = 200;
const H = 100;
const RECT = { x0: 50, y0: 20, x1: 90, y1: 60 };

suite('pivot-box with the GroundingDINO detector (fixture graph in a real onnxruntime session)', () => {
  let dir: string;
  let video: VideoData;
  let runtime: SessionRuntime;
  let server: OpenAiTestServer;

  suiteSetup(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'alref-pb-det-'));
    await writeModelFixtures(path.join(dir, 'models'), { only: ['groundingDino'] });
    const framesDir = path.join(dir, 'frames');
    await mkdir(framesDir, { recursive: true });
    for (let i = 0; i < 10; i++) {
      const px = Buffer.alloc(W * H * 3);
      for (let y = RECT.y0; y < RECT.y1; y++) {
        px.fill(255, (y * W + RECT.x0) * 3, (y * W + RECT.x1) * 3);
      }
      await sharp(px, { raw: { width: W, height: H, channels: 3 } }).jpeg({ quality: 100 }).toFile(framePath(framesDir, i));
    }
    const clips = [{ clipIndex: 0, frameIndices: [0, 2, 4, 6, 8] }];
    video = {
      info: { source: framesDir, sourceKind: 'frames', width: W, height: H, fps: 24, frameCount: 10, durationSec: 10 / 24, rotation: 0, variableFrameRate: false, audio: null },
      mode: 'rvos', interval: 2, framesPerClip: 5, clips, grids: [await buildGrid(framesDir, clips[0], path.join(dir, 'grids'))], framesDir,
    };
  });
  setup(async () => {
    runtime = new SessionRuntime({ executionProvider: 'cpu', threads: 1 });
    server = await OpenAiTestServer.start({ apiKey: KEY });
  });
  teardown(async () => {
    await runtime.dispose();
    await server.stop();
  });
  suiteTeardown(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  function ctxFor(valid: boolean) {
    const session = new NotebookSession();
    session.put(stageResult('video', 'v', video));
    session.put(stageResult('reference', 'r', { source: 'text', targets: [{ objectId: 1, text: 'the white square' }] }));
    const pf: PivotFrameData = { objects: [{ objectId: 1, text: 'the white square', clips: [{ clipIndex: 0, frameIndex: valid ? 4 : null, valid }] }] };
    session.put(stageResult('pivot-frame', 'pf', pf));
    const settings = defaultSettings({ llm: { ...defaultSettings().llm, baseUrl: server.baseUrl, timeoutMs: 5000 } });
    const models = createModelService({ ...settings.models, localDir: path.join(dir, 'models'), cacheDir: path.join(dir, 'cache') }, { userCacheDir: dir }, runtime);
    return makeContext({ runDir: path.join(dir, 'run'), session, settings, services: { llm: createLlmService({ runDir: path.join(dir, 'run'), getSecret: async () => KEY }), models } });
  }
  const request: StageRequest = { kind: 'pivot-box', cellId: 'pb', params: {}, uses: {} };

  test('detector candidates (best first, at most 3) are painted and sent; the answer picks the bright box', async () => {
    server.setScript(() => 'Box 1 holds the whole white square. [1]');
    const { result } = await collect(request, ctxFor(true));
    const pivot = (result.data as PivotBoxData).objects[0].pivots[0];
    assert.equal(server.requests.length, 1);
    // the reference code's prompt shows the boxes, not their scores (showScores: true lists them)
    assert.match(server.requests[0].text, /box 1: green, detector label "the white square"\n/);
    assert.doesNotMatch(server.requests[0].text, /score 0\.88/);
    assert.ok(pivot.candidates.length >= 2 && pivot.candidates.length <= 3);
    assert.ok(pivot.candidates.every((c) => c.source === 'grounding-dino'));
    assert.ok(pivot.candidates.every((c, i) => i === 0 || c.score <= pivot.candidates[i - 1].score));
    assert.equal(pivot.chosen, 0);
    const b = pivot.candidates[0].box;
    assert.ok(Math.abs(b.x0 - RECT.x0) <= 2 && Math.abs(b.x1 - RECT.x1) <= 2 && Math.abs(b.y0 - RECT.y0) <= 2 && Math.abs(b.y1 - RECT.y1) <= 2, JSON.stringify(b));
  });

  test('no valid pivot frame: the fallback takes the top detector box on frame 0 without any LLM call', async () => {
    const { result } = await collect(request, ctxFor(false));
    const [fallback] = (result.data as PivotBoxData).objects[0].pivots;
    assert.equal(server.requests.length, 0);
    assert.equal(fallback.fallback, true);
    assert.equal(fallback.frameIndex, 0);
    assert.equal(fallback.candidates.length, 1);
    assert.equal(fallback.candidates[0].source, 'grounding-dino');
    assert.ok(Math.abs(fallback.candidates[0].box.x0 - RECT.x0) <= 2);
  });
});
