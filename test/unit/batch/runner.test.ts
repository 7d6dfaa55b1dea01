import * as assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { readDataset } from '../../../src/pipeline/benchmarks/datasets';
import { avssPalette, decodeLabelPng } from '../../../src/pipeline/masks/labelPng';
import { davisLogitsPath, itemFileName, pipelineCells, predictionDir, runDataset, type ItemStatus, type RunnerHost } from '../../../src/batch/runner';
import { scoreDataset, summarizeRecords } from '../../../src/pipeline/benchmarks/score';
import { makeAvss, makeMevis, makeRefDavis, makeS4, makeYtvos } from '../../tooling/datasets';
import { readLogitsFile } from '../../../src/pipeline/masks/logits';
import { decodeRle } from '../../../src/pipeline/masks/rle';
import { writeModelFixtures } from '../../tooling/onnxFixtures';
import { writeBeatsFixtures } from '../../tooling/taggerGraphs';
import { OpenAiTestServer } from '../../tooling/openaiServer';
import { Command } from 'commander';
import { registerRunCommand } from '../../../src/cli/commands/run';
import { registerEvalCommand } from '../../../src/cli/commands/eval';
import { registerMergeCommand } from '../../../src/cli/commands/merge';
import { PipelineError } from '../../../src/pipeline/errors';
import { tempEntries } from '../../tooling/processes';
import { readZip } from '../../tooling/zip';
import { testRunnerHost } from '../../tooling/runnerHost';

/** Every PNG under a folder, by relative path. */
function pngs(dir: string): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  const walk = (d: string): void => {
    for (const n of readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, n.name);
      if (n.isDirectory()) {
        walk(p);
      } else if (n.name.endsWith('.png')) {
        out.set(path.relative(dir, p), readFileSync(p));
      }
    }
  };
  walk(dir);
  return out;
}

suite('batch/runner: stage cells of an item', () => {
  test('RVOS and AVS chains, JSON-quoted values, stage overrides', () => {
    const rvos = pipelineCells({ source: '/v/a b', expression: 'the "red" car: left', mode: 'rvos', preset: 'mevis', overrides: { 'pivot-frame': { strategy: 'middle' } } });
    assert.deepEqual(rvos.map((c) => c.id), ['video', 'reference', 'pivot-frame', 'pivot-box', 'propagate']);
    assert.equal(rvos[0].source, 'stage: video\nid: video\nsource: "/v/a b"\npreset: "mevis"\nmode: "rvos"\n');
    assert.match(rvos[1].source, /expression: "the \\"red\\" car: left"/);
    assert.match(rvos[2].source, /strategy: "middle"/);
    const avs = pipelineCells({ source: '/v', mode: 'avs', audioPath: '/v/a.wav' });
    assert.deepEqual(avs.map((c) => c.id), ['video', 'lbru', 'pivot-frame', 'pivot-box', 'propagate']);
    assert.match(avs[0].source, /mode: "avs"/);
    assert.match(avs[1].source, /audio: "\/v\/a\.wav"/);
    assert.throws(() => pipelineCells({ source: '/v', mode: 'rvos' }), /needs an expression/);
  });
});

suite('batch/runner: the full pipeline over a synthetic MeViS split (fixture ONNX models, local OpenAI-compatible server)', function () {
  this.timeout(300_000);
  let base: string;
  let server: OpenAiTestServer;
  let host: RunnerHost;
  let root: string;
  const baseScript = (req: { text: string }): string => (/audio|sound/i.test(req.text) && /categor/i.test(req.text) ? "The dog barks. ['dog': 1]" : 'The object is clearest here. [1]');

  suiteSetup(async () => {
    base = mkdtempSync(path.join(os.tmpdir(), 'alref-runner-'));
    await writeModelFixtures(path.join(base, 'models'));
    // the AVS presets tag with the reference code's BEATs checkpoints (fixtures with their label_dict)
    await writeBeatsFixtures(path.join(base, 'models'));
    server = await OpenAiTestServer.start();
    // every question gets the same short reasoning and picks frame / box 1
    // LBRU (AVS) answers with categories and frame ids; every other question picks frame / box 1
    server.setScript(baseScript);
    host = testRunnerHost(base, server.baseUrl);
    // One white box per video moving on black (it leaves in the last frame): the fixture tracker follows it.
    root = await makeMevis(path.join(base, 'mevis'), { videos: 2, frames: 6, width: 64, height: 48, objects: 1, predictions: false, drawObjects: true });
  });
  suiteTeardown(async () => {
    await server?.stop();
    rmSync(base, { recursive: true, force: true });
  });

  test('writes one PNG per frame per expression, an item status with the experiment record, and scores', async () => {
    const ds = await readDataset('mevis', root);
    const out = path.join(base, 'out-all');
    const done: ItemStatus[] = [];
    const summary = await runDataset({ dataset: ds, outDir: out, host, signal: new AbortController().signal, onItemDone: (s) => done.push(s) });
    assert.equal(summary.failed, 0, JSON.stringify(done.find((s) => s.status === 'failed')?.error));
    assert.equal(summary.done, 4);
    assert.equal(done.length, 4);
    for (const item of ds.items) {
      const dir = path.join(out, 'predictions', item.video, item.expressionId!);
      assert.deepEqual(readdirSync(dir).sort(), item.frames.map((f) => `${f.name}.png`));
      const png = decodeLabelPng(readFileSync(path.join(dir, '00000.png')));
      assert.deepEqual([png.width, png.height], [64, 48]);
      assert.ok(png.data.every((v) => v === 0 || v === 255));
      const status = JSON.parse(readFileSync(path.join(out, 'items', `${itemFileName(item.id)}.json`), 'utf8')) as ItemStatus;
      assert.equal(status.status, 'done');
      assert.ok(status.record && Object.keys(status.record.cells).length === 5);
      assert.ok(status.timings && 'propagate' in status.timings);
    }
    assert.ok(server.requests.length >= 4, 'the pivot-frame stage asked the LLM');
    const { records } = await scoreDataset(ds, summary.predictionsDir);
    const scored = summarizeRecords('mevis', records);
    assert.equal(scored.units, 4);
    // The fixture tracker follows the white box: J&F near 1. All-foreground masks score about 0.1 here
    // (the box is 1/12 of the frame and the last frame is empty), all-background about 0.17 (the empty
    // last frame only), so both fall far below this range.
    const jf = scored.headline['J&F'];
    assert.ok(jf >= 0.9 && jf <= 1, `J&F ${jf}`);
    for (const r of records) {
      assert.ok(r.type === 'expression' && r.j >= 0.8 && r.f >= 0.8, `${r.id}: ${JSON.stringify(r)}`);
    }
  });

  test('a second run skips finished items without asking the LLM; a removed status re-runs only that item', async () => {
    const ds = await readDataset('mevis', root);
    const out = path.join(base, 'out-all');
    const before = server.requests.length;
    const again = await runDataset({ dataset: ds, outDir: out, host, signal: new AbortController().signal });
    assert.deepEqual([again.skipped, again.done, again.failed], [4, 4, 0]);
    assert.equal(server.requests.length, before);
    unlinkSync(path.join(out, 'items', `${itemFileName('vid1/0')}.json`));
    const third = await runDataset({ dataset: ds, outDir: out, host, signal: new AbortController().signal });
    assert.deepEqual([third.skipped, third.done], [3, 4]);
    assert.ok(existsSync(path.join(out, 'predictions', 'vid1', '0', '00005.png')));
  });

  test('two shards write exactly the predictions of the unsharded run; a cancelled run leaves no partial item', async () => {
    const ds = await readDataset('mevis', root);
    const shardOut = path.join(base, 'out-shards');
    for (const index of [0, 1]) {
      const s = await runDataset({ dataset: ds, outDir: shardOut, shard: { index, count: 2 }, host, signal: new AbortController().signal });
      assert.equal(s.total, 2);
      assert.equal(s.failed, 0);
    }
    const a = pngs(path.join(base, 'out-all', 'predictions'));
    const b = pngs(path.join(shardOut, 'predictions'));
    assert.deepEqual([...b.keys()].sort(), [...a.keys()].sort());
    for (const [k, v] of a) {
      assert.ok(v.equals(b.get(k)!), k);
    }
    const ac = new AbortController();
    ac.abort();
    await assert.rejects(runDataset({ dataset: ds, outDir: path.join(base, 'out-cancel'), host, signal: ac.signal }), /Cancelled/);
    assert.ok(!existsSync(path.join(base, 'out-cancel', 'predictions')));
  });

  for (const groupByVideo of [false, true]) {
    const kept = groupByVideo
      ? 'tracked together: the cut item\'s video keeps nothing (its items finish together), no prediction, status or temporary file'
      : 'one at a time: finished items stay, the cut item leaves no prediction, status or temporary file';
    test(`cancelled mid-item (during an LLM reply stream), expressions of a video ${kept}; the next run finishes the rest`, async () => {
      const ds = await readDataset('mevis', root);
      const out = path.join(base, `out-mid-cancel-${groupByVideo}`);
      const ac = new AbortController();
      let cutAt = -1;
      // The first question of the second item (vid0/1) streams one chunk, then the run is cancelled while
      // the server holds the stream open ('stall': it never finishes by itself).
      server.setScript((req) => {
        if (cutAt < 0 && req.text.includes('all things in vid0')) {
          cutAt = server.requests.length;
          return { text: 'The object is clearest here. [1]', fault: 'stall', chunkSize: 4, onChunk: (i) => i === 0 && ac.abort() };
        }
        return baseScript(req);
      });
      const done: ItemStatus[] = [];
      try {
        await assert.rejects(
          runDataset({ dataset: ds, outDir: out, host, signal: ac.signal, groupByVideo, onItemDone: (s) => done.push(s) }),
          (err: unknown) => err instanceof PipelineError && err.kind === 'cancelled',
        );
      } finally {
        server.setScript(baseScript);
      }
      assert.ok(cutAt > 0, 'the second item asked the LLM');
      assert.equal(server.requests.length, cutAt, 'no question was asked after the cancel');
      if (groupByVideo) {
        assert.deepEqual(done, []);
        assert.deepEqual(readdirSync(path.join(out, 'items')), []);
        assert.ok(!existsSync(path.join(out, 'predictions')));
      } else {
        assert.deepEqual(done.map((s) => [s.id, s.status]), [['vid0/0', 'done']]);
        assert.deepEqual(readdirSync(path.join(out, 'items')), [`${itemFileName('vid0/0')}.json`]);
        assert.deepEqual(readdirSync(path.join(out, 'predictions', 'vid0')), ['0']);
        assert.equal(readdirSync(path.join(out, 'predictions', 'vid0', '0')).length, 6);
      }
      assert.deepEqual(tempEntries(out), []);
      // Run again: the finished item is skipped, the cut one runs in full.
      const again = await runDataset({ dataset: ds, outDir: out, host, signal: new AbortController().signal, groupByVideo });
      assert.deepEqual([again.skipped, again.done, again.failed], [groupByVideo ? 0 : 1, 4, 0]);
    });
  }

  test('AVS (AVSBench S4 layout): video -> lbru with the separate audio file -> pivot-box -> propagate, one PNG per frame', async () => {
    const s4 = await makeS4(path.join(base, 's4'), { videos: 1, predictions: false, width: 64, height: 48 });
    const ds = await readDataset('avsbench-s4', s4);
    const out = path.join(base, 'out-s4');
    const statuses: ItemStatus[] = [];
    const summary = await runDataset({ dataset: ds, outDir: out, host, signal: new AbortController().signal, onItemDone: (s) => statuses.push(s) });
    assert.equal(summary.failed, 0, JSON.stringify(statuses[0]?.error));
    assert.deepEqual(readdirSync(path.join(out, 'predictions', 's4vid0')).sort(), [1, 2, 3, 4, 5].map((k) => `s4vid0_${k}.png`));
    assert.ok(statuses[0].record && 'lbru' in statuses[0].record.cells);
  });

  test('Ref-DAVIS17 (reference code): the objects of a video and annotator set are composed by argmax of their logits with background -1 into anno_<set>/<video>', async () => {
    const davis = await makeRefDavis(path.join(base, 'davis'), { videos: 1, objects: 2, predictions: false, width: 64, height: 48 });
    const ds = await readDataset('ref-davis17', davis);
    const only = { ...ds, items: ds.items.filter((i) => i.annotatorSet === 0) };
    assert.equal(only.items.length, 2);
    const out = path.join(base, 'out-davis');
    const statuses: ItemStatus[] = [];
    // object 2's expression picks the second frame / box, so the two objects' logits differ and both can show
    server.setScript((req) => (/object 2 of/.test(req.text) ? 'The object is clearest here. [2]' : baseScript(req)));
    let summary: Awaited<ReturnType<typeof runDataset>>;
    try {
      summary = await runDataset({ dataset: only, outDir: out, host, signal: new AbortController().signal, onItemDone: (st) => statuses.push(st) });
    } finally {
      server.setScript(baseScript);
    }
    assert.equal(summary.failed, 0, JSON.stringify(statuses.map((st) => st.error)));
    const video = only.items[0].video;
    const dir = path.join(out, 'predictions', 'anno_0', video);
    const logits = await Promise.all(only.items.map((i) => readLogitsFile(davisLogitsPath(out, i))));
    const labelOf = only.items.map((i) => i.objectIds?.[0] ?? 1);
    assert.equal(new Set(labelOf).size, labelOf.length, 'one label per object');
    const seen = new Set<number>();
    let nonZeroPixels = 0;
    let bothSet = 0;
    for (const [t, f] of only.items[0].frames.entries()) {
      const png = decodeLabelPng(readFileSync(path.join(dir, `${f.name}.png`)), f.name);
      const n = png.width * png.height;
      // the stored logits read by hand (kept pixels: an RLE mask; values: float32, base64), not through fromSparse
      const stored = logits.map((l) => {
        const dense = new Float32Array(n).fill(-Infinity);
        const frame = l.frames[t];
        if (frame) {
          const keep = decodeRle(frame.rle);
          const raw = Buffer.from(frame.values, 'base64');
          const values = new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
          for (let i = 0, k = 0; i < n; i++) {
            if (keep[i]) {
              dense[i] = values[k++];
            }
          }
        }
        return dense;
      });
      const bins = only.items.map((item) => decodeLabelPng(readFileSync(path.join(predictionDir(path.join(out, 'predictions'), ds, item), `${f.name}.png`)), f.name).data);
      for (let i = 0; i < n; i++) {
        const label = png.data[i];
        seen.add(label);
        nonZeroPixels += label !== 0 ? 1 : 0;
        const on = bins.map((b) => b[i] !== 0);
        // the stored logits are the masks' own: logit > 0 is exactly each expression's binary prediction
        on.forEach((v, k) => assert.equal(v, stored[k][i] > 0, `object ${k + 1}, frame ${f.name}, pixel ${i}`));
        if (on[0] && on[1]) {
          bothSet++;
          const want = stored[1][i] > stored[0][i] ? labelOf[1] : labelOf[0];
          assert.equal(label, want, `overlap: the larger logit wins (frame ${f.name}, pixel ${i})`);
        } else if (on[0] !== on[1]) {
          assert.equal(label, on[0] ? labelOf[0] : labelOf[1], `one mask set: its object (frame ${f.name}, pixel ${i})`);
        }
        if (stored.every((l) => !(l[i] > -1))) {
          assert.equal(label, 0, `no logit above -1: background (frame ${f.name}, pixel ${i})`);
        } else {
          assert.ok(labelOf.includes(label), `some logit above -1: an object (frame ${f.name}, pixel ${i})`);
        }
      }
    }
    assert.ok(bothSet > 0, 'the masks overlap somewhere (the argmax rule is exercised)');
    assert.ok(nonZeroPixels > 0, 'the label maps are not all background');
    for (const l of labelOf) {
      assert.ok(seen.has(l), `object ${l} appears in the composed labels`);
    }
    // a resumed run with nothing new leaves composed units alone; a unit whose folder is gone is composed again
    const marker = path.join(dir, 'marker.txt');
    writeFileSync(marker, 'kept');
    const before = readFileSync(path.join(dir, `${only.items[0].frames[0].name}.png`));
    const again = await runDataset({ dataset: only, outDir: out, host, signal: new AbortController().signal });
    assert.deepEqual([again.skipped, again.failed], [2, 0]);
    assert.ok(existsSync(marker), 'an unchanged unit is not composed again');
    rmSync(dir, { recursive: true, force: true });
    await runDataset({ dataset: only, outDir: out, host, signal: new AbortController().signal });
    assert.ok(!existsSync(marker));
    assert.ok(readFileSync(path.join(dir, `${only.items[0].frames[0].name}.png`)).equals(before), 'a missing unit is composed again, the same');
    // the binary setting leaves the composition to scoring
    const outBinary = path.join(base, 'out-davis-binary');
    await runDataset({ dataset: only, outDir: outBinary, host, signal: new AbortController().signal, davisComposition: 'binary' });
    assert.ok(!existsSync(path.join(outBinary, 'predictions', 'anno_0')));
    const { records } = await scoreDataset(only, summary.predictionsDir);
    assert.equal(records.length, 1);
  });

  test('AVSS: sounding objects are written as colour labels of their class (label2idx.json), and the split scores', async () => {
    const avss = await makeAvss(path.join(base, 'avss'), { videos: 3, predictions: false, width: 64, height: 48 });
    const ds = await readDataset('avss', avss);
    const v2 = ds.items.find((i) => i.category === 'v2')!;
    const only = { ...ds, items: [v2] };
    const out = path.join(base, 'out-avss');
    const statuses: ItemStatus[] = [];
    const summary = await runDataset({ dataset: only, outDir: out, host, signal: new AbortController().signal, onItemDone: (s) => statuses.push(s) });
    assert.equal(summary.failed, 0, JSON.stringify(statuses[0]?.error));
    const files = readdirSync(path.join(out, 'predictions', v2.video)).sort((a, b) => parseInt(a, 10) - parseInt(b, 10));
    assert.deepEqual(files, Array.from({ length: 10 }, (_, k) => `${k}.png`));
    // every labelled pixel carries the class of "dog" (index 17 after background), the category LBRU answered
    const labels = new Set<number>();
    for (const f of files) {
      decodeLabelPng(readFileSync(path.join(out, 'predictions', v2.video, f)), f, { colourPalette: avssPalette() }).data.forEach((v) => labels.add(v));
    }
    assert.ok([...labels].every((v) => v === 0 || v === 17), [...labels].join(','));
    assert.ok(labels.has(17));
    const { records } = await scoreDataset(only, summary.predictionsDir);
    assert.equal(summarizeRecords('avss', records).units, 1);
  });

  test('alref run and alref eval on the command line: masks, per-object masks, report; eval prints the summary table', async () => {
    const env = { key: process.env.OPENAI_API_KEY, xdg: process.env.XDG_CACHE_HOME };
    process.env.OPENAI_API_KEY = 'sk-local-test';
    process.env.XDG_CACHE_HOME = path.join(base, 'xdg');
    const program = new Command('alref').exitOverride();
    registerRunCommand(program);
    registerEvalCommand(program);
    const sets = ['--set', `llm.baseUrl=${server.baseUrl}`, '--set', `models.localDir=${path.join(base, 'models')}`, '--set', 'llm.maxRetries=0'];
    let stdout = '';
    const ow = process.stdout.write.bind(process.stdout);
    const ew = process.stderr.write.bind(process.stderr);
    (process.stdout as any).write = (x: string) => { stdout += String(x); return true; };
    (process.stderr as any).write = () => true;
    const saved = process.exitCode;
    process.exitCode = 0;
    let code: number;
    try {
      const out = path.join(base, 'cli-run');
      await program.parseAsync(['node', 'alref', 'run', path.join(root, 'valid_u', 'JPEGImages', 'vid0'), '--expression', 'the white square', '--out', out, '--quiet', ...sets]);
      code = Number(process.exitCode ?? 0);
      assert.equal(code, 0);
      assert.deepEqual(readdirSync(path.join(out, 'masks')).sort(), ['00000.png', '00001.png', '00002.png', '00003.png', '00004.png', '00005.png']);
      assert.ok(existsSync(path.join(out, 'objects', '1', '00003.png')));
      const report = JSON.parse(readFileSync(path.join(out, 'report.json'), 'utf8'));
      assert.equal(report.frames, 6);
      assert.equal(report.expression, 'the white square');
      assert.equal(report.cells.length, 5);
      assert.ok(report.experiment.settings.llm);
      assert.ok(!JSON.stringify(report).includes('sk-local-test'));
      await program.parseAsync(['node', 'alref', 'eval', '--dataset', 'mevis', '--root', root, '--out', path.join(base, 'cli-eval'), '--quiet', ...sets]);
      code = Number(process.exitCode ?? 0);
    } finally {
      process.stdout.write = ow;
      process.stderr.write = ew;
      process.exitCode = saved;
      process.env.OPENAI_API_KEY = env.key;
      process.env.XDG_CACHE_HOME = env.xdg;
      if (env.key === undefined) {
        delete process.env.OPENAI_API_KEY;
      }
      if (env.xdg === undefined) {
        delete process.env.XDG_CACHE_HOME;
      }
    }
    assert.equal(code, 0, stdout);
    assert.match(stdout, /mevis \/ valid_u: 4 unit\(s\) scored/);
    const report = JSON.parse(readFileSync(path.join(base, 'cli-eval', 'report.json'), 'utf8'));
    assert.equal(report.records.length, 4);
    assert.equal(report.experiments.length, 1);
    assert.ok(existsSync(path.join(base, 'cli-eval', 'shard-0-of-1.json')));
  });

  test('a server-scored split (Ref-YouTube-VOS valid): eval writes the submission zip; two shards merged write the same zip entries', async () => {
    const yt = await makeYtvos(path.join(base, 'yt'), { videos: 2, objects: 1, frames: 6, width: 64, height: 48, predictions: false }, 'valid');
    rmSync(path.join(yt, 'valid', 'Annotations'), { recursive: true });
    const key = process.env.OPENAI_API_KEY;
    process.env.OPENAI_API_KEY = 'sk-local-test';
    const program = new Command('alref').exitOverride();
    registerEvalCommand(program);
    registerMergeCommand(program);
    const sets = ['--set', `llm.baseUrl=${server.baseUrl}`, '--set', `models.localDir=${path.join(base, 'models')}`];
    let stdout = '';
    const ow = process.stdout.write.bind(process.stdout);
    const ew = process.stderr.write.bind(process.stderr);
    (process.stdout as any).write = (x: string) => { stdout += String(x); return true; };
    (process.stderr as any).write = () => true;
    const saved = process.exitCode;
    try {
      const ev = (extra: string[]) => program.parseAsync(['node', 'alref', 'eval', '--dataset', 'ref-youtube-vos', '--root', yt, '--quiet', ...sets, ...extra]);
      await ev(['--out', path.join(base, 'yt-all')]);
      await ev(['--out', path.join(base, 'yt-s0'), '--shard', '0/2']);
      await ev(['--out', path.join(base, 'yt-s1'), '--shard', '1/2']);
      await program.parseAsync(['node', 'alref', 'merge', path.join(base, 'yt-s0'), path.join(base, 'yt-s1'), '--out', path.join(base, 'yt-report.json'), '--zip', path.join(base, 'yt-merged.zip')]);
    } finally {
      process.stdout.write = ow;
      process.stderr.write = ew;
      process.exitCode = saved;
      if (key === undefined) {
        delete process.env.OPENAI_API_KEY;
      } else {
        process.env.OPENAI_API_KEY = key;
      }
    }
    assert.match(stdout, /Submission zip with 12 masks: .*yt-all.submission\.zip/);
    assert.match(stdout, /no local ground truth \(scored by the benchmark server\); 2 of 2 items have predictions/);
    const a = readZip(path.join(base, 'yt-all', 'submission.zip'));
    const b = readZip(path.join(base, 'yt-merged.zip'));
    assert.deepEqual([...b.keys()].sort(), [...a.keys()].sort());
    assert.ok([...a.keys()].every((k) => /^Annotations\/vid[01]\/0\/0000[0-5]\.png$/.test(k)));
    for (const [k, v] of a) {
      assert.ok(v.equals(b.get(k)!), k);
    }
  });
});
