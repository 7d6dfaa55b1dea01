import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { MIME } from '../../../../src/common/mime';
import type { PivotViewPayload } from '../../../../src/common/payloads';
import type { BoxPivot, PivotBoxData, PivotFrameData, VideoData } from '../../../../src/pipeline/domain';
import type { TableEvent } from '../../../../src/pipeline/events';
import { CellOutputBuilder } from '../../../../src/pipeline/cells/outputBuilder';
import { createLlmService } from '../../../../src/pipeline/llm/service';
import { NotebookSession } from '../../../../src/pipeline/session';
import { defaultSettings } from '../../../../src/pipeline/settings';
import { boxChanges, changeList, frameChanges } from '../../../../src/pipeline/stages/pivotView';
import type { StageRequest } from '../../../../src/pipeline/types';
import { davisVideo } from '../../../tooling/davisVideo';
import { OpenAiTestServer } from '../../../tooling/openaiServer';
import { collect, makeContext, stageResult } from '../../../tooling/stageContext';

const KEY = 'sk-local-view-key';

function viewOf(events: readonly { type: string }[]): PivotViewPayload {
  const t = events.find((e): e is TableEvent => e.type === 'table' && (e as TableEvent).renderer?.mime === MIME.pivotView);
  assert.ok(t, 'the run ends with a pivot view');
  return t.renderer!.payload as PivotViewPayload;
}

const box = (x0: number, y0: number, x1: number, y1: number) => ({ box: { x0, y0, x1, y1 }, score: 1, source: 'typed' as const });

suite('pivot view and the changes since the previous run', () => {
  let tmp: string;
  let video: VideoData;

  suiteSetup(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'alref-pv-'));
    video = await davisVideo(path.join(tmp, 'grids'));
  });
  suiteTeardown(async () => {
    await rm(tmp, { recursive: true, force: true });
  });

  test('frame changes: a new frame id, a clip now invalid, an override, and "no change"', () => {
    const [c0, c1] = video.clips;
    const prev: PivotFrameData = { objects: [{ objectId: 1, text: 'car', clips: [{ clipIndex: 0, frameIndex: c0.frameIndices[1], valid: true }, { clipIndex: 1, frameIndex: c1.frameIndices[0], valid: true }] }] };
    const next: PivotFrameData = { objects: [{ objectId: 1, text: 'car', clips: [{ clipIndex: 0, frameIndex: c0.frameIndices[2], valid: true, overridden: true }, { clipIndex: 1, frameIndex: null, valid: false }] }] };
    assert.deepEqual(changeList(frameChanges(prev, next, video), 1), ['clip 1: [2] -> [3] (overridden)', 'clip 2: now invalid (was [1])']);
    assert.deepEqual(changeList(frameChanges(prev, prev, video), 1), ['no change']);
    assert.deepEqual(changeList(frameChanges(prev, next, video), 2), ['object 1, clip 1: [2] -> [3] (overridden)', 'object 1, clip 2: now invalid (was [1])']);
  });

  test('box changes: another box, a box that moved, now valid', () => {
    const cands = [box(0, 0, 100, 100), box(200, 200, 300, 300), box(10, 0, 110, 100)];
    const p = (clipIndex: number, chosen: number | null, candidates = cands): BoxPivot => ({ clipIndex, frameIndex: 10 + clipIndex, candidates, chosen, valid: chosen !== null });
    const prev: PivotBoxData = { objects: [{ objectId: 1, text: 'car', pivots: [p(0, 0), p(1, 1), p(2, null)] }] };
    const moved = [box(0, 0, 100, 100), box(212, 200, 300, 300)];
    const next: PivotBoxData = { objects: [{ objectId: 1, text: 'car', pivots: [p(0, 2), p(1, 1, moved), p(2, 0)] }] };
    assert.deepEqual(changeList(boxChanges(prev, next), 1), ['clip 1: box 1 -> box 3, box moved by 10 px', 'clip 2: box moved by 12 px', 'clip 3: now valid (box 1)']);
  });

  test('a re-run of a pivot-frame cell lists per clip what changed; a first run has no change list', async () => {
    const server = await OpenAiTestServer.start({ apiKey: KEY });
    try {
      let answer = 3;
      server.setScript(() => ({ text: `Clearest here. [${answer}]` }));
      const runDir = await mkdtemp(path.join(tmp, 'run-'));
      const session = new NotebookSession();
      session.put(stageResult('video', 'cell-video', video));
      session.put(stageResult('reference', 'cell-ref', { source: 'text', targets: [{ objectId: 1, text: 'the black car' }] }));
      const settings = defaultSettings({ llm: { ...defaultSettings().llm, baseUrl: server.baseUrl, mode: 'live', timeoutMs: 5000 } });
      const ctx = makeContext({ runDir, session, services: { llm: createLlmService({ runDir, getSecret: async () => KEY }) }, settings });
      const request: StageRequest = { kind: 'pivot-frame', cellId: 'cell-pf', params: {}, uses: {} };

      const first = await collect(request, ctx);
      const view1 = viewOf(first.events);
      assert.equal(view1.changes, undefined);
      assert.equal(view1.rows.length, video.clips.length);
      assert.equal(view1.rows[0].answer, '[3]');
      assert.ok(view1.rows[0].trace?.includes('Clearest here.'));
      assert.ok(view1.rows[0].tokens && view1.rows[0].tokens.prompt > 0);
      assert.equal(view1.rows[0].grid, undefined, 'these grids lie outside the run folder: the renderer gets no reference to them');
      session.put(first.result);

      const same = await collect(request, ctx);
      assert.deepEqual(viewOf(same.events).changes, ['no change']);
      session.put(same.result);

      answer = 2;
      const frame = video.clips[1].frameIndices[0];
      const changed = await collect({ ...request, params: { overrides: [{ clip: 2, frame }] } }, ctx);
      const view3 = viewOf(changed.events);
      assert.deepEqual(view3.changes, ['clip 1: [3] -> [2]', 'clip 2: [3] -> [1] (overridden)']);
      assert.equal(view3.rows[1].overridden, true);
      assert.equal(view3.rows[1].change, '[3] -> [1] (overridden)');

      // A reopened notebook: no session result, but the pivot view saved in the cell's outputs.
      const reopened = new NotebookSession();
      reopened.put(stageResult('video', 'cell-video', video));
      reopened.put(stageResult('reference', 'cell-ref', { source: 'text', targets: [{ objectId: 1, text: 'the black car' }] }));
      const saved = JSON.parse(JSON.stringify(view3)) as PivotViewPayload;
      answer = 3;
      const again = await collect(request, { ...ctx, session: reopened, previousPayload: (mime) => (mime === MIME.pivotView ? saved : undefined) });
      assert.deepEqual(viewOf(again.events).changes, ['clip 1: [2] -> [3]', 'clip 2: [1] -> [3]']);
    } finally {
      await server.stop();
    }
  });

  test('by default the cell keeps one pivot view instead of the per-clip traces, grids and headers; view: full keeps them (pivot-frame and pivot-box)', async () => {
    const server = await OpenAiTestServer.start({ apiKey: KEY });
    try {
      server.setScript((r) => (r.text.includes('box 1') ? { text: 'Box 2. [2]' } : { text: 'Clearest here. [3]' }));
      const runDir = await mkdtemp(path.join(tmp, 'run-'));
      const session = new NotebookSession();
      session.put(stageResult('video', 'cell-video', video));
      session.put(stageResult('reference', 'cell-ref', { source: 'text', targets: [{ objectId: 1, text: 'the black car', category: 'car' }] }));
      const settings = defaultSettings({ llm: { ...defaultSettings().llm, baseUrl: server.baseUrl, mode: 'live', timeoutMs: 5000 } });
      const ctx = makeContext({ runDir, session, services: { llm: createLlmService({ runDir, getSecret: async () => KEY }) }, settings });
      const outputsOf = (events: readonly unknown[]): string[] => {
        const b = new CellOutputBuilder();
        events.forEach((e) => b.apply(e as Parameters<CellOutputBuilder['apply']>[0]));
        b.finish('ok');
        return b.outputs().map((o) => o.items[0].mime);
      };
      const full = await collect({ kind: 'pivot-frame', cellId: 'pf', params: { view: 'full' }, uses: {} }, ctx);
      assert.ok(outputsOf(full.events).filter((m) => m === MIME.reasoningTrace).length >= 2, 'the full view keeps the traces');
      const compact = await collect({ kind: 'pivot-frame', cellId: 'pf', params: {}, uses: {} }, ctx);
      const pfOut = outputsOf(compact.events);
      assert.deepEqual(pfOut.filter((m) => m === MIME.reasoningTrace || m === MIME.frameGrid), [], pfOut.join(', '));
      assert.equal(pfOut.filter((m) => m === MIME.pivotView).length, 1);
      session.put(compact.result);

      const box = await collect({ kind: 'pivot-box', cellId: 'pb', params: { candidates: [[300, 150, 700, 420], [100, 60, 260, 200]] }, uses: {} }, ctx);
      const pbOut = outputsOf(box.events);
      assert.deepEqual(pbOut.filter((m) => m === MIME.reasoningTrace || m === MIME.boxes), [], pbOut.join(', '));
      const view = viewOf(box.events);
      assert.equal(view.stage, 'pivot-box');
      assert.ok(view.rows.every((r) => r.chosen === 2 && r.candidates?.length === 2 && r.trace?.includes('Box 2.')));
    } finally {
      await server.stop();
    }
  });
});
