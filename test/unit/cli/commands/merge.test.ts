import * as assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { makeMevis, makeRefDavis, makeYtvos } from '../../../tooling/datasets';
import { decodeLabelPng } from '../../../../src/pipeline/masks/labelPng';
import { runAlref } from '../../../tooling/cli';
import { readZip } from '../../../tooling/zip';

const alref = runAlref;


/**
 * A zip written by Python's zipfile (a deflated `Annotations/v/a.txt` and a stored `b.bin`): the known
 * bytes the tests' zip reader is checked on before it reads the product's zips.
 */
const PYTHON_ZIP = 'UEsDBBQAAAAIAIMYIlBPFYxYEQAAACAAAAATAAAAQW5ub3RhdGlvbnMvdi9hLnR4dMtIzcnJV6jKLNBRyMDC5AIAUEsDBBQAAAAAAIMYIlCfaKqICAAAAAgAAAAFAAAAYi5iaW4AAQIDBAUGB1BLAQIUAxQAAAAIAIMYIlBPFYxYEQAAACAAAAATAAAAAAAAAAAAAACAAQAAAABBbm5vdGF0aW9ucy92L2EudHh0UEsBAhQDFAAAAAAAgxgiUJ9oqogIAAAACAAAAAUAAAAAAAAAAAAAAIABQgAAAGIuYmluUEsFBgAAAAACAAIAdAAAAG0AAAAAAA==';

suite('cli: alref score / merge / eval / run', () => {
  let base: string;
  suiteSetup(() => {
    base = mkdtempSync(path.join(os.tmpdir(), 'alref-cli-'));
  });
  suiteTeardown(() => {
    rmSync(base, { recursive: true, force: true });
  });

  test('score prints a summary table and writes a JSON report; sharded scores merged equal the unsharded report', async () => {
    const root = await makeMevis(path.join(base, 'mevis'), { videos: 3 });
    const whole = await alref(['score', '--dataset', 'mevis', '--root', root, '--pred', path.join(root, 'pred'), '--out', path.join(base, 'whole.json'), '--quiet']);
    assert.equal(whole.code, 0, whole.stderr);
    assert.match(whole.stdout, /mevis \/ valid_u: 6 unit\(s\) scored/);
    assert.match(whole.stdout, /J&F/);
    const report = JSON.parse(readFileSync(path.join(base, 'whole.json'), 'utf8'));
    assert.equal(report.records.length, 6);
    for (const i of [0, 1, 2]) {
      const r = await alref(['score', '--dataset', 'mevis', '--root', root, '--pred', path.join(root, 'pred'), '--shard', `${i}/3`, '--out', path.join(base, 'shards', `shard-${i}-of-3.json`), '--quiet']);
      assert.equal(r.code, 0, r.stderr);
    }
    const merged = await alref(['merge', path.join(base, 'shards'), '--out', path.join(base, 'merged.json')]);
    assert.equal(merged.code, 0, merged.stderr);
    const m = JSON.parse(readFileSync(path.join(base, 'merged.json'), 'utf8'));
    assert.deepEqual(m.summary.headline, report.summary.headline);
    assert.equal(m.records.length, 6);
    assert.deepEqual(m.missingShards, []);
    assert.equal(merged.stdout.split('\n').slice(0, 3).join('\n'), whole.stdout.split('\n').slice(0, 3).join('\n'));
  });

  test('merge reports missing shards with exit code 2', async () => {
    const root = path.join(base, 'mevis');
    await alref(['score', '--dataset', 'mevis', '--root', root, '--pred', path.join(root, 'pred'), '--shard', '0/2', '--out', path.join(base, 'half', 'shard-0-of-2.json'), '--quiet']);
    const r = await alref(['merge', path.join(base, 'half'), '--out', path.join(base, 'half.json')]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /shard\(s\) 1 of 2 are missing/);
  });

  test('bad input: unknown dataset kind, bad shard and an incomplete dataset give one clear error line and exit 1', async () => {
    const r1 = await alref(['score', '--dataset', 'mevis', '--root', path.join(base, 'nope'), '--pred', base, '--quiet']);
    assert.equal(r1.code, 1);
    assert.match(r1.stderr, /^error: The mevis dataset is incomplete: .*nope is not a folder\. Expected layout/m);
    const r2 = await alref(['score', '--dataset', 'mevis', '--root', path.join(base, 'mevis'), '--pred', base, '--shard', '3/3', '--quiet']);
    assert.equal(r2.code, 1);
    assert.match(r2.stderr, /--shard must be "i\/n"/);
    await assert.rejects(alref(['score', '--dataset', 'kitti', '--root', base, '--pred', base]), /Allowed choices/);
    // an earlier spelling of a kind is read as the kind, with a deprecation warning
    const r3 = await alref(['score', '--dataset', 'avs-s4', '--root', path.join(base, 'nope'), '--pred', base, '--quiet']);
    assert.equal(r3.code, 1);
    assert.match(r3.stderr, /^warning: dataset kind "avs-s4" is deprecated; use "avsbench-s4"/m);
    assert.match(r3.stderr, /^error: The avsbench-s4 dataset is incomplete/m);
  });

  test('merge --zip writes the Ref-YouTube-VOS submission zip: Annotations/<video>/<expression>/<frame>.png, 0/255', async () => {
    const root = await makeYtvos(path.join(base, 'ytvos'), { videos: 2, objects: 2, dropPrediction: ['vid1:3'] });
    await alref(['score', '--dataset', 'ref-youtube-vos', '--split', 'train', '--root', root, '--pred', path.join(root, 'pred'), '--out', path.join(base, 'yt.json'), '--quiet']);
    const zip = path.join(base, 'sub.zip');
    const r = await alref(['merge', path.join(base, 'yt.json'), '--out', path.join(base, 'yt-report.json'), '--zip', zip]);
    assert.equal(r.code, 0, r.stderr);
    const entries = readZip(zip);
    assert.equal(entries.size, 2 * 2 * 6);
    assert.ok([...entries.keys()].every((n) => /^Annotations\/vid\d\/\d\/\d{5}\.png$/.test(n)));
    const png = decodeLabelPng(entries.get('Annotations/vid0/1/00002.png')!);
    assert.deepEqual([png.width, png.height], [40, 30]);
    assert.ok(png.data.every((v) => v === 0 || v === 255));
    assert.ok(png.data.some((v) => v === 255));
    const empty = decodeLabelPng(entries.get('Annotations/vid1/0/00003.png')!);
    assert.ok(empty.data.every((v) => v === 0));
    assert.match(r.stderr, /vid1\/0: 1 of 6 frames had no prediction/);
  });

  test('the zip reader of these tests reads a zip written by Python\'s zipfile, and refuses one with a wrong CRC-32', () => {
    const bytes = Buffer.from(PYTHON_ZIP, 'base64');
    const entries = readZip(bytes);
    assert.deepEqual([...entries.keys()], ['Annotations/v/a.txt', 'b.bin']);
    assert.equal(entries.get('Annotations/v/a.txt')!.toString('utf8'), 'hello zip, hello zip, hello zip\n');
    assert.deepEqual([...entries.get('b.bin')!], [0, 1, 2, 3, 4, 5, 6, 7]);
    const bad = Buffer.from(bytes);
    bad[bad.indexOf('b.bin') + 5 + 3] ^= 1; // one byte of the stored entry's data
    assert.throws(() => readZip(bad), /b\.bin: 8 bytes with CRC-32/);
  });

  test('merge --zip for MeViS writes <video>/<expression>/<frame>.png at the top of the zip', async () => {
    const zip = path.join(base, 'mevis.zip');
    const r = await alref(['merge', path.join(base, 'whole.json'), '--out', path.join(base, 'mevis-report.json'), '--zip', zip]);
    assert.equal(r.code, 0, r.stderr);
    const entries = readZip(zip);
    assert.equal(entries.size, 3 * 2 * 6);
    assert.ok(entries.has('vid2/1/00005.png'));
    assert.ok([...entries.keys()].every((n) => !n.startsWith('Annotations/')));
  });

  test('merge --davis-sets writes indexed DAVIS-palette PNGs per annotator set that score like the per-expression predictions', async () => {
    const root = await makeRefDavis(path.join(base, 'davis'));
    await alref(['score', '--dataset', 'ref-davis17', '--root', root, '--pred', path.join(root, 'pred'), '--out', path.join(base, 'd1.json'), '--quiet']);
    const sets = path.join(base, 'davis-sets');
    const r = await alref(['merge', path.join(base, 'd1.json'), '--out', path.join(base, 'd1-report.json'), '--davis-sets', sets]);
    assert.equal(r.code, 0, r.stderr);
    const f = path.join(sets, 'anno_2', 'vid1', '00004.png');
    assert.ok(existsSync(f));
    const png = decodeLabelPng(readFileSync(f));
    assert.ok(png.indexed);
    assert.ok(png.data.some((v) => v === 2));
    await alref(['score', '--dataset', 'ref-davis17', '--root', root, '--pred', sets, '--out', path.join(base, 'd2.json'), '--quiet']);
    const a = JSON.parse(readFileSync(path.join(base, 'd1.json'), 'utf8'));
    const b = JSON.parse(readFileSync(path.join(base, 'd2.json'), 'utf8'));
    assert.deepEqual(b.summary.headline, a.summary.headline);
  });

  test('eval stops at the first item when the setup would fail every item (no API key), names the item and the cause, writes no half item', async () => {
    const root = await makeMevis(path.join(base, 'mevis-eval'), { videos: 1, predictions: false });
    const out = path.join(base, 'eval-out');
    const key = process.env.OPENAI_API_KEY;
    delete process.env.OPENAI_API_KEY;
    try {
      const r = await alref(['eval', '--dataset', 'mevis', '--root', root, '--out', out, '--quiet']);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /^error: vid0\/0: .*OPENAI_API_KEY.*run stops here/ms);
      assert.doesNotMatch(r.stderr, /vid0\/1/, 'the second item was tried after a setup error');
      assert.ok(!existsSync(path.join(out, 'predictions', 'vid0', '0')));
      assert.ok(!existsSync(path.join(out, 'items', 'vid0__1.json')), 'the run went on after a setup error');
    } finally {
      if (key !== undefined) {
        process.env.OPENAI_API_KEY = key;
      }
    }
  });

  test('run needs exactly one of --expression and --audio', async () => {
    const r = await alref(['run', path.join(base, 'mevis', 'valid_u', 'JPEGImages', 'vid0'), '--quiet']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /exactly one of --expression/);
  });
});
