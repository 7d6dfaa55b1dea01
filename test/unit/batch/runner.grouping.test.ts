import * as assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, unlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { itemFileName, runDataset, type ItemStatus, type RunnerHost } from '../../../src/batch/runner';
import { readDataset, type Dataset } from '../../../src/pipeline/benchmarks/datasets';
import { scoreDataset, summarizeRecords } from '../../../src/pipeline/benchmarks/score';
import { observeGraphRuns } from '../../../src/pipeline/models/runtime';
import { makeMevis, makeRefDavis } from '../../tooling/datasets';
import { writeModelFixtures } from '../../tooling/onnxFixtures';
import { OpenAiTestServer } from '../../tooling/openaiServer';
import { testRunnerHost } from '../../tooling/runnerHost';

/** Every file under a folder, by relative path (bytes). */
function files(dir: string): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  const walk = (d: string): void => {
    for (const n of readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, n.name);
      if (n.isDirectory()) {
        walk(p);
      } else {
        out.set(path.relative(dir, p), readFileSync(p));
      }
    }
  };
  walk(dir);
  return out;
}

/** An item status without what differs from run to run (seconds, stage timings). */
function stable(status: ItemStatus): Omit<ItemStatus, 'seconds' | 'timings'> {
  const { seconds: _s, timings: _t, ...rest } = status;
  return rest;
}

suite('batch/runner: the expressions of a video tracked together (fixture ONNX models, local OpenAI-compatible server)', function () {
  this.timeout(300_000);
  let base: string;
  let server: OpenAiTestServer;
  let host: RunnerHost;

  suiteSetup(async () => {
    base = mkdtempSync(path.join(os.tmpdir(), 'alref-grouping-'));
    await writeModelFixtures(path.join(base, 'models'));
    server = await OpenAiTestServer.start();
    // object 2's (Ref-DAVIS17) and the union's (MeViS) expressions pick the second frame / box, the
    // others the first: a video's expressions have different pivot frames and boxes, so different tracks
    server.setScript((req) => (/object 2 of|all things in/.test(req.text) ? 'The object is clearest here. [2]' : 'The object is clearest here. [1]'));
    host = testRunnerHost(base, server.baseUrl);
  });
  suiteTeardown(async () => {
    await server?.stop();
    rmSync(base, { recursive: true, force: true });
  });

  /** Runs a dataset with or without grouping; the SAM 2 vision-encoder runs it took and its item statuses. */
  async function run(ds: Dataset, out: string, groupByVideo: boolean, shard?: { index: number; count: number }): Promise<{ encoderRuns: number; statuses: ItemStatus[] }> {
    let encoderRuns = 0;
    const stop = observeGraphRuns((r) => {
      encoderRuns += r.graph === 'vision_encoder' && r.modelId.startsWith('sam2') ? 1 : 0;
    });
    const statuses: ItemStatus[] = [];
    try {
      const summary = await runDataset({ dataset: ds, outDir: out, host, signal: new AbortController().signal, groupByVideo, shard, onItemDone: (s) => statuses.push(s) });
      assert.equal(summary.failed, 0, JSON.stringify(statuses.map((s) => s.error)));
    } finally {
      stop();
    }
    return { encoderRuns, statuses };
  }

  /** Predictions, logits and item statuses (less timings) of two output folders are the same, byte for byte. */
  function assertSameOutputs(a: string, b: string): void {
    for (const sub of ['predictions', 'logits']) {
      assert.equal(existsSync(path.join(a, sub)), existsSync(path.join(b, sub)), sub);
      const fa = existsSync(path.join(a, sub)) ? files(path.join(a, sub)) : new Map<string, Buffer>();
      const fb = existsSync(path.join(b, sub)) ? files(path.join(b, sub)) : new Map<string, Buffer>();
      assert.deepEqual([...fa.keys()].sort(), [...fb.keys()].sort(), sub);
      for (const [k, v] of fa) {
        assert.ok(v.equals(fb.get(k) as Buffer), `${sub}/${k} differs`);
      }
    }
    // the records name files in the run folder, under each output folder
    const statusesOf = (dir: string) => [...files(path.join(dir, 'items')).entries()].sort().map(([k, v]) => [k, stable(JSON.parse(v.toString('utf8').split(dir).join('<out>')) as ItemStatus)]);
    assert.deepEqual(statusesOf(a), statusesOf(b));
  }

  test('Ref-DAVIS17 (logits, composition): 8 expressions of a video tracked in one SAM 2 run write what one run per expression writes, with V encoder runs instead of V x 8; the scores are equal', async () => {
    const root = await makeRefDavis(path.join(base, 'davis'), { videos: 2, objects: 2, frames: 12, predictions: false, width: 64, height: 48 });
    const ds = await readDataset('ref-davis17', root);
    const perVideo = ds.items.filter((i) => i.video === ds.items[0].video).length;
    assert.equal(perVideo, 8);
    const frames = ds.items[0].frames.length;
    const one = await run(ds, path.join(base, 'davis-each'), false);
    const grouped = await run(ds, path.join(base, 'davis-grouped'), true);
    assert.equal(one.encoderRuns, 2 * perVideo * frames, 'one SAM 2 run per expression');
    assert.equal(grouped.encoderRuns, 2 * frames, 'each frame encoded once for all the expressions of its video');
    assert.deepEqual(grouped.statuses.map((s) => s.id), one.statuses.map((s) => s.id), 'items finish in the same order');
    assertSameOutputs(path.join(base, 'davis-each'), path.join(base, 'davis-grouped'));
    const scoreOf = async (dir: string) => summarizeRecords('ref-davis17', (await scoreDataset(ds, path.join(dir, 'predictions'))).records);
    assert.deepEqual(await scoreOf(path.join(base, 'davis-grouped')), await scoreOf(path.join(base, 'davis-each')));
  });

  test('MeViS: resumed after losing items, and in two shards, the grouped run writes the per-expression run\'s predictions', async () => {
    const root = await makeMevis(path.join(base, 'mevis'), { videos: 3, frames: 12, width: 64, height: 48, objects: 2, predictions: false, drawObjects: true });
    const ds = await readDataset('mevis', root);
    await run(ds, path.join(base, 'mevis-each'), false);
    const out = path.join(base, 'mevis-grouped');
    const first = await run(ds, out, true);
    assert.equal(first.statuses.length, ds.items.length);
    assertSameOutputs(path.join(base, 'mevis-each'), out);
    // two items of one video lost (an interrupted run): only they run again, tracked together
    const video = ds.items[0].video;
    const lost = ds.items.filter((i) => i.video === video).slice(0, 2);
    assert.equal(lost.length, 2);
    for (const i of lost) {
      unlinkSync(path.join(out, 'items', `${itemFileName(i.id)}.json`));
      rmSync(path.join(out, 'predictions', i.video, i.expressionId as string), { recursive: true });
    }
    const again = await run(ds, out, true);
    assert.deepEqual(again.statuses.map((s) => s.id), lost.map((i) => i.id));
    assert.equal(again.encoderRuns, ds.items[0].frames.length);
    assertSameOutputs(path.join(base, 'mevis-each'), out);
    const shards = path.join(base, 'mevis-shards');
    await run(ds, shards, true, { index: 0, count: 2 });
    await run(ds, shards, true, { index: 1, count: 2 });
    assertSameOutputs(path.join(base, 'mevis-each'), shards);
  });
});
