/**
 * `alref score --dataset davis2017`: plain DAVIS 2017 in the official layout (ImageSets/2017,
 * Annotations/480p or Annotations_unsupervised/480p, JPEGImages/480p; results <pred>/<seq>/<frame>.png),
 * with the toolkit's global table and CSV files. The bundled car-shadow sequence is arranged in that
 * layout in a temp folder.
 */
import * as assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { davisStatistics } from '../../../../src/pipeline/metrics/maskMetrics';
import { encodeIndexedPng, nonZero, readLabelPng } from '../../../../src/pipeline/masks/labelPng';
import { SAMPLES } from '../../../tooling/media';
import { runAlref, type CliResult } from '../../../tooling/cli';
import { CAR_SHADOW_REFERENCE } from '../../../tooling/davisReference';

const alrefScore = (args: string[]): Promise<CliResult> => runAlref(['score', ...args, '--quiet']);

const CAR = path.join(SAMPLES, 'davis-car-shadow');

/** The official DAVIS 2017 code's values on car-shadow, ground truth against ground truth. */
const REF = CAR_SHADOW_REFERENCE;

const mean = (xs: number[]): number => xs.reduce((s, x) => s + x, 0) / xs.length;
const close = (a: number, b: number, tol = 1e-6): void => assert.ok(Math.abs(a - b) <= tol, `${a} vs ${b}`);

suite('benchmarks/davis2017: alref score --dataset davis2017 in the official layout (car-shadow)', function () {
  this.timeout(180_000);
  let base: string;
  let davis: string;
  const frames = readdirSync(path.join(CAR, 'Annotations')).filter((n) => n.endsWith('.png')).map((n) => n.slice(0, -4)).sort();

  /** Results folder: every frame predicts the ground truth of frame 00000, frame 00039 that of 00010; object id `id`. */
  async function results(dir: string, id: number): Promise<string> {
    const ids = new Map<string, Uint8Array>();
    for (const f of ['00000', '00010']) {
      ids.set(f, nonZero((await readLabelPng(path.join(CAR, 'Annotations', `${f}.png`))).data));
    }
    mkdirSync(path.join(dir, 'car-shadow'), { recursive: true });
    for (const f of frames) {
      const m = ids.get(f === '00039' ? '00010' : '00000')!;
      writeFileSync(path.join(dir, 'car-shadow', `${f}.png`), encodeIndexedPng(m.map((v) => v * id), 854, 480));
    }
    return dir;
  }

  suiteSetup(async () => {
    base = mkdtempSync(path.join(os.tmpdir(), 'alref-davis2017-'));
    davis = path.join(base, 'DAVIS');
    mkdirSync(path.join(davis, 'ImageSets', '2017'), { recursive: true });
    writeFileSync(path.join(davis, 'ImageSets', '2017', 'val.txt'), 'car-shadow\n');
    for (const ann of ['Annotations', 'Annotations_unsupervised']) {
      mkdirSync(path.join(davis, ann, '480p', 'car-shadow'), { recursive: true });
    }
    mkdirSync(path.join(davis, 'JPEGImages', '480p', 'car-shadow'), { recursive: true });
    for (const f of frames) {
      // the bundled masks are 0/255 grey; DAVIS annotations are indexed PNGs of object ids
      const g = await readLabelPng(path.join(CAR, 'Annotations', `${f}.png`));
      const png = encodeIndexedPng(nonZero(g.data), g.width, g.height);
      writeFileSync(path.join(davis, 'Annotations', '480p', 'car-shadow', `${f}.png`), png);
      writeFileSync(path.join(davis, 'Annotations_unsupervised', '480p', 'car-shadow', `${f}.png`), png);
      copyFileSync(path.join(CAR, 'JPEGImages', `${f}.jpg`), path.join(davis, 'JPEGImages', '480p', 'car-shadow', `${f}.jpg`));
    }
  });
  suiteTeardown(() => {
    rmSync(base, { recursive: true, force: true });
  });

  test('semi-supervised: per-frame J/F equal the official reference values; the global table and both CSV files as the toolkit writes them', async () => {
    const pred = await results(path.join(base, 'semi'), 1);
    const r = await alrefScore(['--dataset', 'davis2017', '--task', 'semi-supervised', '--root', davis, '--pred', pred, '--out', path.join(base, 'semi.json')]);
    assert.equal(r.code, 0, r.stderr);
    const report = JSON.parse(readFileSync(path.join(base, 'semi.json'), 'utf8'));
    assert.equal(report.objects.length, 1);
    const o = report.objects[0];
    assert.equal(o.name, 'car-shadow_1');
    // first and last frames are not scored: 38 values, value k is frame k + 1
    assert.equal(o.perFrameJ.length, 38);
    close(o.perFrameJ[0], REF.f0v1.j);
    close(o.perFrameF[0], REF.f0v1.f);
    close(o.perFrameJ[4], REF.f0v5.j);
    close(o.perFrameF[4], REF.f0v5.f);
    close(o.perFrameJ[9], REF.f0v10.j);
    close(o.perFrameF[9], REF.f0v10.f);
    // the toolkit's statistics: decay bins of 38 frames are [0..9] and [28..37] (round(linspace(1, 38, 5) + 1e-10) - 1)
    const s = report.summary;
    close(s.jMean, mean(o.perFrameJ), 1e-12);
    close(s.fMean, mean(o.perFrameF), 1e-12);
    close(s.jf, (s.jMean + s.fMean) / 2, 1e-12);
    close(s.jRecall, o.perFrameJ.filter((v: number) => v > 0.5).length / 38, 1e-12);
    close(s.jDecay, mean(o.perFrameJ.slice(0, 10)) - mean(o.perFrameJ.slice(28, 38)), 1e-12);
    close(s.fDecay, mean(o.perFrameF.slice(0, 10)) - mean(o.perFrameF.slice(28, 38)), 1e-12);
    // the printed table and the CSV files
    const lines = r.stdout.split('\n');
    assert.equal(lines[0], '--------------------------- Global results for val ---------------------------');
    assert.equal(lines[1], ' J&F-Mean   J-Mean  J-Recall  J-Decay   F-Mean  F-Recall  F-Decay');
    const row = [s.jf, s.jMean, s.jRecall, s.jDecay, s.fMean, s.fRecall, s.fDecay];
    assert.deepEqual(lines[2].trim().split(/\s+/).map(Number), row.map((v) => Number(v.toFixed(6))));
    assert.equal(lines[4], '---------- Per sequence results for val ----------');
    assert.match(lines[6], /^car-shadow_1 +\d\.\d{6} +\d\.\d{6}$/);
    const g = readFileSync(path.join(pred, 'global_results-val.csv'), 'utf8');
    assert.equal(g, `J&F-Mean,J-Mean,J-Recall,J-Decay,F-Mean,F-Recall,F-Decay\n${row.map((v) => v.toFixed(3)).join(',')}\n`);
    const p = readFileSync(path.join(pred, 'per-sequence_results-val.csv'), 'utf8');
    assert.equal(p, `Sequence,J-Mean,F-Mean\ncar-shadow_1,${o.j.mean.toFixed(3)},${o.f.mean.toFixed(3)}\n`);
    assert.match(r.stderr, /Global results saved in .*global_results-val\.csv/);
  });

  test('unsupervised: every frame scored, the prediction id is matched by the Hungarian algorithm; --csv-dir', async () => {
    // the car predicted as object 2: unsupervised matching finds it
    const pred = await results(path.join(base, 'unsup'), 2);
    const csvDir = path.join(base, 'unsup-csv');
    const r = await alrefScore(['--dataset', 'davis2017', '--task', 'unsupervised', '--root', base, '--pred', pred, '--csv-dir', csvDir, '--out', path.join(base, 'unsup.json')]);
    assert.equal(r.code, 0, r.stderr);
    const report = JSON.parse(readFileSync(path.join(base, 'unsup.json'), 'utf8'));
    assert.equal(report.objects.length, 1);
    const o = report.objects[0];
    assert.equal(o.predObjectId, 2);
    assert.equal(o.perFrameJ.length, 40);
    assert.equal(o.perFrameJ[0], 1);
    close(o.perFrameJ[1], REF.f0v1.j);
    close(o.perFrameJ[39], REF.f10v39.j);
    close(o.perFrameF[39], REF.f10v39.f);
    // decay bins of 40 frames: [0..10] and [29..39]
    close(report.summary.jDecay, mean(o.perFrameJ.slice(0, 11)) - mean(o.perFrameJ.slice(29, 40)), 1e-12);
    assert.ok(existsSync(path.join(csvDir, 'global_results-val.csv')));
    assert.ok(!existsSync(path.join(pred, 'global_results-val.csv')));
    // the same results scored semi-supervised: id 2 is above the sequence's object count, so it scores 0 with a warning
    const semi = await alrefScore(['--dataset', 'davis2017', '--root', davis, '--pred', pred, '--csv-dir', csvDir, '--out', path.join(base, 'semi2.json')]);
    assert.equal(semi.code, 0, semi.stderr);
    assert.match(semi.stderr, /object id 2, but the ground truth has 1 object/);
    assert.equal(JSON.parse(readFileSync(path.join(base, 'semi2.json'), 'utf8')).summary.jMean, 0);
  });

  test('a results folder in another layout, and a missing annotation, are errors naming the expected layout or the file', async () => {
    const wrong = path.join(base, 'wrong');
    await results(path.join(wrong, 'semi-supervised', 'osvos'), 1);
    const r = await alrefScore(['--dataset', 'davis2017', '--root', davis, '--pred', wrong, '--out', path.join(base, 'wrong.json')]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /No prediction in .*wrong matches the DAVIS 2017 layout.*Expected: <pred>\/<seq>\/<frame>\.png.*The folder holds: semi-supervised\./);
    const gone = path.join(davis, 'Annotations', '480p', 'car-shadow', '00007.png');
    const keep = readFileSync(gone);
    unlinkSync(gone);
    try {
      const m = await alrefScore(['--dataset', 'davis2017', '--root', davis, '--pred', path.join(base, 'semi'), '--out', path.join(base, 'gone.json')]);
      assert.equal(m.code, 1);
      assert.ok(m.stderr.includes(`Annotation ${gone} is missing`), m.stderr);
    } finally {
      writeFileSync(gone, keep);
    }
    const shard = await alrefScore(['--dataset', 'davis2017', '--root', davis, '--pred', path.join(base, 'semi'), '--shard', '0/2']);
    assert.match(shard.stderr, /--shard does not apply to --dataset davis2017/);
  });

  test('decay is defined past 256 frames (the toolkit casts the bin indices to uint8 and wraps)', () => {
    const values = Array.from({ length: 300 }, (_, i) => (i < 150 ? 1 : 0));
    const s = davisStatistics(values);
    // bins: round(linspace(1, 300, 5) + 1e-10) - 1 = [0, 75, 150, 224, 299]: first quarter all 1, last all 0
    assert.equal(s.decay, 1);
  });
});
