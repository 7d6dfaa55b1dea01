import * as assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, unlinkSync, mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DATASET_KINDS, readDataset, parseShard, resolveDatasetKind, shardVideos, type DatasetKind } from '../../../../src/pipeline/benchmarks/datasets';
import { SCORE_FILE_VERSION, readScoreFile } from '../../../../src/pipeline/benchmarks/report';
import { PRESETS } from '../../../../src/pipeline/sampling';
import { scoreDataset, summarizeRecords, type ScoreRecord } from '../../../../src/pipeline/benchmarks/score';
import { fMeasure, jaccard } from '../../../../src/pipeline/metrics/maskMetrics';
import { encodeIndexedPng, readLabelPng, nonZero } from '../../../../src/pipeline/masks/labelPng';
import { decodeRle } from '../../../../src/pipeline/masks/rle';
import { PipelineError } from '../../../../src/pipeline/errors';
import { makeAvss, makeMevis, makeMs3, makeRefDavis, makeS4, makeYtvos } from '../../../tooling/datasets';
import { readFileSync } from 'node:fs';

suite('benchmarks/datasets + score: synthetic datasets in every layout', () => {
  let base: string;
  suiteSetup(() => {
    base = mkdtempSync(path.join(os.tmpdir(), 'alref-eval-'));
  });
  suiteTeardown(() => {
    rmSync(base, { recursive: true, force: true });
  });

  const cases: Array<{ kind: DatasetKind; name: string; make: (r: string) => Promise<string>; split?: string; items: number }> = [
    { kind: 'ref-youtube-vos', name: 'ytvos', make: (r) => makeYtvos(r), split: 'train', items: 4 },
    { kind: 'ref-davis17', name: 'davis', make: (r) => makeRefDavis(r), items: 16 },
    { kind: 'ref-davis17', name: 'davis-raw', make: (r) => makeRefDavis(r, {}, 'raw'), items: 16 },
    { kind: 'mevis', name: 'mevis', make: (r) => makeMevis(r), items: 4 },
    { kind: 'mevis', name: 'mevis-array', make: (r) => makeMevis(r, {}, 'array'), items: 4 },
    { kind: 'avsbench-s4', name: 's4', make: (r) => makeS4(r), items: 2 },
    { kind: 'avsbench-ms3', name: 'ms3', make: (r) => makeMs3(r), items: 2 },
    { kind: 'avss', name: 'avss', make: (r) => makeAvss(r, { videos: 3 }), items: 3 },
    { kind: 'avss-v2-binary', name: 'avss-v2-binary', make: (r) => makeAvss(r, { videos: 3 }), items: 1 },
  ];

  for (const c of cases) {
    test(`${c.name}: reads ${c.items} items, scores in (0, 1), and 2 shards merged equal the unsharded run`, async () => {
      const root = await c.make(path.join(base, c.name));
      const ds = await readDataset(c.kind, root, c.split);
      assert.equal(ds.items.length, c.items);
      assert.ok(ds.items.every((i) => i.frames.length > 0));
      const pred = path.join(root, 'pred');
      const all = await scoreDataset(ds, pred);
      assert.deepEqual(all.warnings, []);
      const whole = summarizeRecords(c.kind, all.records);
      const values = Object.values(whole.headline);
      assert.ok(values.length > 0);
      for (const v of values) {
        assert.ok(v > 0 && v < 1, `${c.name}: ${JSON.stringify(whole.headline)}`);
      }
      const shards: ScoreRecord[] = [];
      for (let i = 0; i < 2; i++) {
        const part = await scoreDataset(ds, pred, { shard: { index: i, count: 2 } });
        shards.push(...JSON.parse(JSON.stringify(part.records)));
      }
      assert.equal(shards.length, all.records.length);
      assert.deepEqual(summarizeRecords(c.kind, shards.reverse()).headline, whole.headline);
    });
  }

  test('MeViS: J and F are means over all frames of the union ground truth, recomputed by hand', async () => {
    const root = path.join(base, 'mevis');
    const ds = await readDataset('mevis', root);
    const dict = JSON.parse(readFileSync(path.join(root, 'valid_u', 'mask_dict.json'), 'utf8'));
    const { records } = await scoreDataset(ds, path.join(root, 'pred'));
    const item = ds.items.find((i) => i.id === 'vid1/1')!;
    let sj = 0;
    let sf = 0;
    for (const [t, fr] of item.frames.entries()) {
      const p = await readLabelPng(path.join(root, 'pred', 'vid1', '1', `${fr.name}.png`));
      const gt = new Uint8Array(p.width * p.height);
      for (const a of item.annotationIds!) {
        if (dict[a][t]) {
          decodeRle(dict[a][t]).forEach((v, i) => { gt[i] |= v; });
        }
      }
      sj += jaccard(nonZero(p.data), gt);
      sf += fMeasure(nonZero(p.data), gt, p.width, p.height).f;
    }
    const r = records.find((x) => x.id === 'vid1/1');
    assert.ok(r && r.type === 'expression');
    assert.ok(Math.abs(r.j - sj / item.frames.length) < 1e-12);
    assert.ok(Math.abs(r.f - sf / item.frames.length) < 1e-12);
  });

  test('missing prediction frames and expressions score 0 and are reported', async () => {
    const root = await makeMevis(path.join(base, 'mevis-drop'), { dropPrediction: ['vid0:2'] });
    const ds = await readDataset('mevis', root);
    rmSync(path.join(root, 'pred', 'vid1', '0'), { recursive: true });
    const { records, warnings } = await scoreDataset(ds, path.join(root, 'pred'));
    const r0 = records.find((r) => r.id === 'vid0/0');
    assert.ok(r0 && r0.type === 'expression');
    assert.equal(r0.perFrameJ[2], 0);
    assert.equal(r0.perFrameF[2], 0);
    assert.equal(r0.missingFrames, 1);
    const r1 = records.find((r) => r.id === 'vid1/0');
    assert.ok(r1 && r1.type === 'expression' && r1.missing && r1.j === 0 && r1.f === 0);
    assert.ok(warnings.some((w) => w.includes('vid0/0') && w.includes('missing')));
    assert.ok(warnings.some((w) => w.includes('vid1/0') && w.includes('no predictions')));
  });

  test('a prediction of another size is reported and scores 0, without crashing', async () => {
    const root = await makeYtvos(path.join(base, 'ytvos-size'), { videos: 1, objects: 1 });
    const ds = await readDataset('ref-youtube-vos', root, 'train');
    const big = await makeYtvos(path.join(base, 'ytvos-big'), { videos: 1, objects: 1, width: 50, height: 30 });
    const from = path.join(big, 'pred', 'vid0', '0', '00003.png');
    writeFileSync(path.join(root, 'pred', 'vid0', '0', '00003.png'), readFileSync(from));
    const { records, warnings } = await scoreDataset(ds, path.join(root, 'pred'));
    const r = records[0];
    assert.ok(r.type === 'expression');
    assert.equal(r.perFrameJ[3], 0);
    assert.ok(warnings.some((w) => w.includes('differ in size')));
  });

  test('palette prediction PNGs are read as indices (object ids), any non-zero index is foreground', async () => {
    const root = path.join(base, 'davis');
    const ds = await readDataset('ref-davis17', root);
    // rewrite the official layout anno_0 with indexed PNGs that copy the ground truth exactly
    const item = ds.items.find((i) => i.annotatorSet === 0)!;
    const gtDir = ds.gtDirs.get(item.video)!;
    const out = path.join(base, 'davis-official', 'anno_0', item.video);
    mkdirSync(out, { recursive: true });
    for (const f of item.frames) {
      const g = await readLabelPng(path.join(gtDir, `${f.name}.png`));
      assert.ok(g.indexed);
      writeFileSync(path.join(out, `${f.name}.png`), encodeIndexedPng(g.data.map((v) => (v === 255 ? 0 : v)), g.width, g.height));
    }
    const { records } = await scoreDataset(ds, path.join(base, 'davis-official'));
    const r = records.find((x) => x.id === `anno_0/${item.video}`);
    assert.ok(r && r.type === 'davis-set');
    // ground truth against itself: void is ignored, so every object scores 1
    for (const o of r.objects) {
      assert.equal(o.j.mean, 1);
      assert.equal(o.f.mean, 1);
    }
  });

  test('an incomplete dataset names the first missing file and the expected layout', async () => {
    const root = await makeMevis(path.join(base, 'mevis-broken'), { predictions: false });
    unlinkSync(path.join(root, 'valid_u', 'JPEGImages', 'vid1', '00000.jpg'));
    await assert.rejects(readDataset('mevis', root), (err: unknown) => {
      assert.ok(err instanceof PipelineError);
      assert.equal(err.kind, 'invalid-input');
      assert.ok(err.message.includes(path.join('vid1', '00000.jpg')), err.message);
      assert.ok(err.message.includes('Expected layout'), err.message);
      return true;
    });
    await assert.rejects(readDataset('avsbench-s4', path.join(base, 'nothing-here')), /is not a folder/);
    const s4 = await makeS4(path.join(base, 's4-broken'), { predictions: false });
    rmSync(path.join(s4, 'Single-source', 's4_data', 'audio_wav'), { recursive: true });
    await assert.rejects(readDataset('avsbench-s4', s4), /audio_wav.*is missing/);
  });

  test('an empty dataset is a clear error, and a server-scored split cannot be scored locally', async () => {
    const root = path.join(base, 'empty');
    mkdirSync(path.join(root, 'valid_u'), { recursive: true });
    writeFileSync(path.join(root, 'valid_u', 'meta_expressions.json'), JSON.stringify({ videos: {} }));
    await assert.rejects(readDataset('mevis', root), /lists no expressions/);
    const yt = await makeYtvos(path.join(base, 'ytvos-valid'), { videos: 1 }, 'valid');
    rmSync(path.join(yt, 'valid', 'Annotations'), { recursive: true });
    const ds = await readDataset('ref-youtube-vos', yt, 'valid');
    assert.equal(ds.hasGroundTruth, false);
    await assert.rejects(scoreDataset(ds, path.join(yt, 'pred')), /benchmark server/);
  });

  test('sharding: i/n parses strictly and partitions videos deterministically', () => {
    assert.deepEqual(parseShard('2/5'), { index: 2, count: 5 });
    assert.throws(() => parseShard('5/5'), /0 <= i < n/);
    assert.throws(() => parseShard('a/b'), /--shard/);
    const videos = ['c', 'a', 'e', 'b', 'd'];
    const parts = [0, 1, 2].map((i) => shardVideos(videos, { index: i, count: 3 }));
    assert.deepEqual(parts.map((p) => [...p]), [['a', 'd'], ['b', 'e'], ['c']]);
    assert.deepEqual([...shardVideos([...videos].reverse(), { index: 0, count: 3 })], ['a', 'd']);
  });

  test('one benchmark vocabulary: every dataset kind is a video preset; earlier spellings resolve with a notice, score files included', async () => {
    assert.deepEqual([...DATASET_KINDS].filter((k) => !Object.hasOwn(PRESETS, k)), []);
    assert.deepEqual(resolveDatasetKind('avsbench-ms3'), { kind: 'avsbench-ms3' });
    for (const [old, kind] of [['avs-s4', 'avsbench-s4'], ['avs-ms3', 'avsbench-ms3'], ['avs-v2', 'avss-v2-binary']]) {
      const r = resolveDatasetKind(old);
      assert.equal(r?.kind, kind);
      assert.match(r?.notice ?? '', new RegExp(`"${old}" is deprecated; use "${kind}"`));
    }
    assert.equal(resolveDatasetKind('kitti'), undefined);
    assert.equal(resolveDatasetKind('toString'), undefined);
    const file = path.join(base, 'old-score.json');
    writeFileSync(file, JSON.stringify({ version: SCORE_FILE_VERSION, dataset: 'avs-v2', root: base, split: 'test', shard: { index: 0, count: 1 }, predictions: base, records: [], warnings: [], createdAt: '' }));
    assert.equal((await readScoreFile(file)).dataset, 'avss-v2-binary');
  });
});
