import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { PivotBoxData, PivotFrameData, VideoData } from '../../../../src/pipeline/domain';
import { PipelineError } from '../../../../src/pipeline/errors';
import { createLlmService } from '../../../../src/pipeline/llm/service';
import { NotebookSession } from '../../../../src/pipeline/session';
import { defaultSettings } from '../../../../src/pipeline/settings';
import { overrideFor, parseBoxOverrides, parseFrameOverrides } from '../../../../src/pipeline/stages/pivotOverrides';
import type { StageRequest } from '../../../../src/pipeline/types';
import { davisVideo } from '../../../tooling/davisVideo';
import { OpenAiTestServer } from '../../../tooling/openaiServer';
import { collect, makeContext, stageResult } from '../../../tooling/stageContext';

const KEY = 'sk-local-override-key';

function fieldOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof PipelineError, String(err));
    return err.field;
  }
  assert.fail('expected a PipelineError');
}

suite('pivot overrides on the DAVIS car-shadow frames', () => {
  let server: OpenAiTestServer;
  let tmp: string;
  let video: VideoData;
  let runDir: string;

  suiteSetup(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'alref-ov-'));
    video = await davisVideo(path.join(tmp, 'grids'));
  });
  suiteTeardown(async () => {
    await rm(tmp, { recursive: true, force: true });
  });
  setup(async () => {
    server = await OpenAiTestServer.start({ apiKey: KEY });
    server.setScript((r) => (r.text.includes('candidate boxes') || r.text.includes('box 1') ? { text: 'Box 1. [1]' } : { text: 'Clearest in frame 2. [2]' }));
    runDir = await mkdtemp(path.join(tmp, 'run-'));
  });
  teardown(async () => {
    await server.stop();
  });

  function ctxFor(pf?: PivotFrameData) {
    const session = new NotebookSession();
    session.put(stageResult('video', 'cell-video', video));
    session.put(stageResult('reference', 'cell-ref', { source: 'text', targets: [{ objectId: 1, text: 'the black car', category: 'car' }] }));
    if (pf) {
      session.put(stageResult('pivot-frame', 'cell-pf', pf));
    }
    const settings = defaultSettings({ llm: { ...defaultSettings().llm, baseUrl: server.baseUrl, mode: 'live', timeoutMs: 5000 } });
    return makeContext({ runDir, session, services: { llm: createLlmService({ runDir, getSecret: async () => KEY }) }, settings });
  }
  const pfRequest = (params: Record<string, unknown>): StageRequest => ({ kind: 'pivot-frame', cellId: 'cell-pf', params, uses: {} });
  const pbRequest = (params: Record<string, unknown>): StageRequest => ({ kind: 'pivot-box', cellId: 'cell-pb', params, uses: {} });

  test('parsing names the field of a bad override: clip out of range, a frame not in the clip, an unknown object, candidate and box together', () => {
    const second = video.clips[1].frameIndices;
    assert.equal(fieldOf(() => parseFrameOverrides([{ clip: 9, frame: 0 }], video, [1])), 'overrides[0].clip');
    assert.equal(fieldOf(() => parseFrameOverrides([{ clip: 1, frame: 0 }, { clip: 2, frame: second[0] + 1 }], video, [1])), 'overrides[1].frame');
    assert.equal(fieldOf(() => parseFrameOverrides([{ clip: 1, object: 7, frame: 0 }], video, [1])), 'overrides[0].object');
    assert.equal(fieldOf(() => parseBoxOverrides([{ clip: 1, candidate: 1, box: [0, 0, 5, 5] }], video, [1])), 'overrides[0]');
    assert.equal(fieldOf(() => parseBoxOverrides([{ clip: 1, box: [0, 0, video.info.width + 1, 5] }], video, [1])), 'overrides[0].box');
    assert.equal(fieldOf(() => parseBoxOverrides([{ clip: 1, box: [10, 10, 5, 20] }], video, [1])), 'overrides[0].box');
    assert.deepEqual(parseFrameOverrides([{ clip: 2, frame: second[1] }], video, [1]), [{ at: 0, clipIndex: 1, frameIndex: second[1] }]);
  });

  test('an override for one object wins over one for every object; the last of equals wins', () => {
    const list = parseFrameOverrides([{ clip: 1, frame: 0 }, { clip: 1, object: 2, frame: 5 }, { clip: 1, frame: 10 }], video, [1, 2]);
    assert.equal(overrideFor(list, 2, 0)?.frameIndex, 5);
    assert.equal(overrideFor(list, 1, 0)?.frameIndex, 10);
    assert.equal(overrideFor(list, 1, 1), undefined);
  });

  test('pivot-frame: an overridden clip sends no request, is valid and marked overridden; the overrides change the input hash', async () => {
    const plain = await collect(pfRequest({}), ctxFor());
    assert.equal(server.requests.length, 2, 'one request per clip without overrides');
    server.requests.length = 0;
    const frame = video.clips[0].frameIndices[4];
    const { result } = await collect(pfRequest({ overrides: [{ clip: 1, frame }] }), ctxFor());
    assert.equal(server.requests.length, 1, 'only the clip without an override is asked');
    assert.ok(server.requests[0].text.includes(`${video.clips[1].frameIndices.length}`));
    const clips = (result.data as PivotFrameData).objects[0].clips;
    assert.deepEqual(clips.map((c) => [c.clipIndex, c.overridden === true, c.valid]), [[0, true, true], [1, false, true]]);
    assert.equal(clips[0].frameIndex, frame);
    assert.equal(clips[0].exchanges, undefined, 'no exchange recorded for the overridden clip');
    assert.notEqual(result.inputHash, plain.result.inputHash);
  });

  test('pivot-frame: every clip overridden needs no LLM at all', async () => {
    const ctx = ctxFor();
    ctx.services.llm = undefined;
    const { result } = await collect(pfRequest({ overrides: video.clips.map((c) => ({ clip: c.clipIndex + 1, frame: c.frameIndices[0] })) }), ctx);
    assert.equal(server.requests.length, 0);
    assert.ok((result.data as PivotFrameData).objects[0].clips.every((c) => c.overridden && c.valid));
    assert.equal((result.data as PivotFrameData).prompt, undefined);
  });

  const pf: PivotFrameData = { objects: [{ objectId: 1, text: 'the black car', clips: [{ clipIndex: 0, frameIndex: 10, valid: true }, { clipIndex: 1, frameIndex: null, valid: false }] }] };
  const BOXES = [[300, 150, 700, 420], [100, 60, 260, 200], [320, 250, 520, 420]];

  test('pivot-box: a candidate override chooses that box without a request; an explicit box is added and chosen', async () => {
    const byCandidate = await collect(pbRequest({ candidates: BOXES, overrides: [{ clip: 1, candidate: 3 }] }), ctxFor(pf));
    assert.equal(server.requests.length, 0);
    const p = (byCandidate.result.data as PivotBoxData).objects[0].pivots[0];
    assert.deepEqual([p.clipIndex, p.frameIndex, p.chosen, p.valid, p.overridden], [0, 10, 2, true, true]);

    const byBox = await collect(pbRequest({ candidates: BOXES, overrides: [{ clip: 1, object: 1, box: [10, 20, 110, 220] }] }), ctxFor(pf));
    assert.equal(server.requests.length, 0);
    const q = (byBox.result.data as PivotBoxData).objects[0].pivots[0];
    assert.equal(q.candidates.length, 4);
    assert.equal(q.chosen, 3);
    assert.deepEqual(q.candidates[3].box, { x0: 10, y0: 20, x1: 110, y1: 220 });
    assert.notEqual(byBox.result.inputHash, byCandidate.result.inputHash);

    const asked = await collect(pbRequest({ candidates: BOXES }), ctxFor(pf));
    assert.equal(server.requests.length, 1, 'without the override the clip is asked');
    assert.equal((asked.result.data as PivotBoxData).objects[0].pivots[0].overridden, undefined);
  });

  test('pivot-box: a candidate number past the candidates, or a clip without a pivot frame, fails naming the field', async () => {
    await assert.rejects(collect(pbRequest({ candidates: BOXES, overrides: [{ clip: 1, candidate: 4 }] }), ctxFor(pf)), (err: unknown) => err instanceof PipelineError && err.field === 'overrides[0].candidate' && /has 3 candidate boxes/.test(err.message));
    await assert.rejects(collect(pbRequest({ candidates: BOXES, overrides: [{ clip: 2, candidate: 1 }] }), ctxFor(pf)), (err: unknown) => err instanceof PipelineError && err.field === 'overrides[0].clip' && /no valid pivot frame in clip 2/.test(err.message));
    assert.equal(server.requests.length, 0);
  });
});
