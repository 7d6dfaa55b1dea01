import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { MIME } from '../../../../src/common/mime';
import type { SweepDetailPayload, SweepMatrixPayload } from '../../../../src/common/payloads';
import type { TableEvent } from '../../../../src/pipeline/events';
import { SessionRuntime } from '../../../../src/pipeline/models/runtime';
import { createModelService } from '../../../../src/pipeline/models/service';
import { defaultSettings } from '../../../../src/pipeline/settings';
import { makeRefDavis } from '../../../tooling/datasets';
import { writeModelFixtures } from '../../../tooling/onnxFixtures';
import { collect, makeContext } from '../../../tooling/stageContext';

suite('sweep stage: a dataset subset with GroundingDINO and SAM 2 installed (fixture graphs)', () => {
  let dir: string;
  let runtime: SessionRuntime;

  suiteSetup(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'alref-sweep-models-'));
    await writeModelFixtures(path.join(dir, 'models'), { only: ['sam2', 'groundingDino'] });
    await makeRefDavis(path.join(dir, 'davis'), { videos: 2, frames: 12, width: 64, height: 48, objects: 1, predictions: false });
    runtime = new SessionRuntime({ executionProvider: 'cpu', threads: 1 });
  });
  suiteTeardown(async () => {
    await runtime.dispose();
    await rm(dir, { recursive: true, force: true });
  });

  test('the items chosen by ids, detector candidates, fixed strategies, J, F and J&F from the evaluate stage', async () => {
    const settings = defaultSettings({ models: { ...defaultSettings().models, localDir: path.join(dir, 'models'), cacheDir: path.join(dir, 'cache') } });
    const runDir = path.join(dir, 'nb.alref.runs');
    const ctx = makeContext({ runDir, baseDir: dir, settings, services: { models: createModelService(settings.models, { userCacheDir: dir }, runtime) } });
    const params = {
      variants: [
        { name: 'first', pivotFrame: { strategy: 'first' }, pivotBox: { strategy: 'top-score' } },
        { name: 'middle', pivotFrame: { strategy: 'middle' }, pivotBox: { strategy: 'top-score' } },
      ],
      dataset: { kind: 'ref-davis17', root: 'davis', ids: ['vid1/0'] },
      video: { interval: 1, framesPerClip: 3 },
    };
    const { events } = await collect({ kind: 'sweep', cellId: 'sw', params, uses: {} }, ctx);
    const table = events.find((e): e is TableEvent => e.type === 'table' && e.renderer?.mime === MIME.sweepMatrix);
    assert.ok(table);
    const m = table.renderer!.payload as SweepMatrixPayload;
    assert.deepEqual(m.inputs.map((i) => [i.id, i.hasGroundTruth, i.candidates]), [['vid1/0#0', true, 'grounding-dino']]);
    assert.match(m.inputs[0].expression, /object 1 of vid1/);
    assert.deepEqual(m.metrics.map((x) => x.key).slice(-3), ['J', 'F', 'JF']);
    for (const row of m.cells) {
      const c = row[0];
      assert.equal(c.status, 'ok', c.message);
      for (const k of ['J', 'F', 'JF', 'frameAreaRatio', 'frameVisible']) {
        const v = c.metrics[k];
        assert.ok(typeof v === 'number' && v >= 0 && v <= 1, `${k} = ${v}`);
      }
      assert.equal(c.metrics.promptTokens, 0, 'fixed strategies and top-score ask no LLM');
    }
    assert.ok(!(m.notes ?? []).some((n) => /not installed/.test(n)), (m.notes ?? []).join('\n'));
    assert.match((m.notes ?? []).join('\n'), /GroundingDINO \(grounding-dino-tiny\): vid1\/0/);
    const detail = JSON.parse(await readFile(path.join(runDir, m.cells[1][0].detail!.ref), 'utf8')) as SweepDetailPayload;
    assert.deepEqual(detail.objects[0].clips.map((c) => c.pivotFrame.note), detail.objects[0].clips.map(() => 'fixed: middle'));
    assert.ok(detail.objects[0].clips.every((c) => c.pivotBox !== undefined && c.pivotBox.note === 'top detector score (no LLM)'));
  });
});
