/**
 * `alref score` never prints a wrong number silently (issue 12, defect 8): missing or unreadable
 * ground truth is an error naming the file, 16-bit label PNGs read as labels, and a prediction folder
 * in a layout that matches nothing is an error showing the expected layout; AVSBench's own S4 save
 * layout is recognised.
 */
import * as assert from 'node:assert/strict';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { encode } from 'fast-png';
import { scoreLayoutsHelp } from '../../../../src/cli/commands/score';
import { evalLayoutsHelp } from '../../../../src/cli/commands/eval';
import { DATASET_KINDS, readDataset } from '../../../../src/pipeline/benchmarks/datasets';
import { encodeBinaryPng, labelEquals, readLabelPng } from '../../../../src/pipeline/masks/labelPng';
import { scoreDataset, summarizeRecords } from '../../../../src/pipeline/benchmarks/score';
import { makeMevis, makeS4, makeYtvos } from '../../../tooling/datasets';
import { runAlref, type CliResult } from '../../../tooling/cli';

const alrefScore = (args: string[]): Promise<CliResult> => runAlref(['score', ...args, '--quiet']);


/** Ref-YouTube-VOS train split (5 frames) whose predictions are exactly the ground truth. */
async function perfectYtvos(root: string): Promise<string> {
  await makeYtvos(root, { videos: 1, objects: 2, frames: 5, predictions: false });
  const gtDir = path.join(root, 'train', 'Annotations', 'vid0');
  for (const n of readdirSync(gtDir)) {
    const g = await readLabelPng(path.join(gtDir, n));
    for (const k of [0, 1]) {
      const dir = path.join(root, 'pred', 'vid0', String(k));
      mkdirSync(dir, { recursive: true });
      writeFileSync(path.join(dir, n), encodeBinaryPng(labelEquals(g.data, k + 1), g.width, g.height));
    }
  }
  return root;
}

suite('benchmarks/score: wrong inputs are errors, never silent numbers', () => {
  let base: string;
  suiteSetup(() => {
    base = mkdtempSync(path.join(os.tmpdir(), 'alref-score-inputs-'));
  });
  suiteTeardown(() => {
    rmSync(base, { recursive: true, force: true });
  });

  test('a perfect prediction scores 1; with 2 of 5 ground-truth PNGs missing it is an error naming the first missing file', async () => {
    const root = await perfectYtvos(path.join(base, 'yt-missing'));
    const ok = await alrefScore(['--dataset', 'ref-youtube-vos', '--split', 'train', '--root', root, '--pred', path.join(root, 'pred'), '--out', path.join(base, 'yt-ok.json')]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /100\.00\s+100\.00\s+100\.00/);
    unlinkSync(path.join(root, 'train', 'Annotations', 'vid0', '00001.png'));
    unlinkSync(path.join(root, 'train', 'Annotations', 'vid0', '00003.png'));
    const r = await alrefScore(['--dataset', 'ref-youtube-vos', '--split', 'train', '--root', root, '--pred', path.join(root, 'pred'), '--out', path.join(base, 'yt-bad.json')]);
    assert.equal(r.code, 1);
    assert.equal(r.stdout, '', 'no table is printed');
    assert.match(r.stderr, /^error: Ground truth .*vid0.00001\.png is missing \(2 of 5 frames of vid0 have no ground-truth PNG; also 00003\)/m);
  });

  test('a missing ground-truth folder is an error naming it (not a score of 0)', async () => {
    const root = await perfectYtvos(path.join(base, 'yt-nofolder'));
    rmSync(path.join(root, 'train', 'Annotations', 'vid0'), { recursive: true });
    // the split still has ground truth (Annotations/ exists), but not for this video
    mkdirSync(path.join(root, 'train', 'Annotations', 'other'), { recursive: true });
    const ds = await readDataset('ref-youtube-vos', root, 'train');
    await assert.rejects(scoreDataset(ds, path.join(root, 'pred')), (err: Error) => {
      assert.match(err.message, /The ground truth of vid0 is missing: .*Annotations.vid0 does not exist/);
      return true;
    });
  });

  test('an unreadable ground-truth PNG is an error naming the file', async () => {
    const root = await perfectYtvos(path.join(base, 'yt-garbage'));
    const file = path.join(root, 'train', 'Annotations', 'vid0', '00002.png');
    writeFileSync(file, 'not a png');
    const ds = await readDataset('ref-youtube-vos', root, 'train');
    await assert.rejects(scoreDataset(ds, path.join(root, 'pred')), (err: Error) => {
      assert.ok(err.message.includes(`${file} is not a readable PNG`), err.message);
      return true;
    });
  });

  test('16-bit label PNGs (object ids stored as 16-bit grey) read as labels: a perfect prediction scores 1, not 0', async () => {
    const root = await perfectYtvos(path.join(base, 'yt-16bit'));
    const gtDir = path.join(root, 'train', 'Annotations', 'vid0');
    for (const n of readdirSync(gtDir)) {
      const g = await readLabelPng(path.join(gtDir, n));
      writeFileSync(path.join(gtDir, n), encode({ width: g.width, height: g.height, data: Uint16Array.from(g.data), depth: 16, channels: 1 }));
    }
    const ds = await readDataset('ref-youtube-vos', root, 'train');
    const { records, warnings } = await scoreDataset(ds, path.join(root, 'pred'));
    assert.deepEqual(warnings, []);
    assert.deepEqual(summarizeRecords('ref-youtube-vos', records).headline, { 'J&F': 1, J: 1, F: 1 });
  });

  test('MeViS predictions without the expression level are an error that shows the expected layout', async () => {
    const root = await makeMevis(path.join(base, 'mevis-flat'), { videos: 2 });
    const flat = path.join(base, 'mevis-flat-pred');
    for (const v of ['vid0', 'vid1']) {
      cpSync(path.join(root, 'pred', v, '0'), path.join(flat, v), { recursive: true });
    }
    const r = await alrefScore(['--dataset', 'mevis', '--root', root, '--pred', flat, '--out', path.join(base, 'flat.json')]);
    assert.equal(r.code, 1);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /No prediction in .*mevis-flat-pred matches the mevis layout/);
    assert.match(r.stderr, /without the expression level/);
    assert.match(r.stderr, /Expected: <pred>\/<video>\/<expression id>\/<frame>\.png/);
    assert.ok(r.stderr.includes(`for example ${path.join(flat, 'vid0', '0', '00000.png')}`), r.stderr);
    const none = await alrefScore(['--dataset', 'mevis', '--root', root, '--pred', path.join(base, 'no-such-folder'), '--out', path.join(base, 'none.json')]);
    assert.equal(none.code, 1);
    assert.match(none.stderr, /no-such-folder does not exist or is not a folder\. Expected layout/);
  });

  test("AVSBench's own S4 save layout (<category>/<video>/<frame>.png) scores like the plain layout; an unknown layout is an error", async () => {
    const root = await makeS4(path.join(base, 's4'), { videos: 2 });
    const ds = await readDataset('avsbench-s4', root);
    const plain = await scoreDataset(ds, path.join(root, 'pred'));
    const own = path.join(base, 's4-own');
    for (const item of ds.items) {
      cpSync(path.join(root, 'pred', item.video), path.join(own, item.category!, item.video), { recursive: true });
    }
    const theirs = await scoreDataset(ds, own);
    assert.deepEqual(theirs.warnings, []);
    assert.deepEqual(summarizeRecords('avsbench-s4', theirs.records).headline, summarizeRecords('avsbench-s4', plain.records).headline);
    const wrong = path.join(base, 's4-wrong');
    cpSync(path.join(root, 'pred', 's4vid0'), path.join(wrong, 'masks'), { recursive: true });
    await assert.rejects(scoreDataset(ds, wrong), /No prediction in .*s4-wrong matches the avsbench-s4 layout .*The folder holds: masks\./);
  });

  test('alref score --help and alref eval --help list every layout, each with a one-line example tree', () => {
    const score = scoreLayoutsHelp();
    const evalHelp = evalLayoutsHelp();
    for (const kind of [...DATASET_KINDS, 'davis2017']) {
      const block = score.split(/\n(?= {2}\S)/).find((b) => b.startsWith(`  ${kind}`));
      assert.ok(block, `score --help lacks ${kind}`);
      assert.match(block, /root: .*\n\s+e\.g\. \S+/, kind);
      assert.match(block, /pred: .*\n\s+e\.g\. \S+/, kind);
      if (kind !== 'davis2017') {
        assert.match(evalHelp, new RegExp(`  ${kind}: .*\n\\s+e\\.g\\. \\S+`), kind);
      }
    }
    assert.match(score, /AVSBench's own test output/);
    assert.match(score, /Annotations\/<video>\/<expression id>/);
  });
});
