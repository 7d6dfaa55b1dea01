// Evaluation throughput: J&F over the 40-frame DAVIS car-shadow sequence and over a synthetic
// 1000-frame 854x480 sequence (PNG decoding timed separately from the metrics), `alref score` on a
// synthetic MeViS-layout dataset of 100 expressions, and the official DAVIS 2017 toolkit side by side
// with this project on the same generated masks (skipped with a note when the toolkit or its Python
// packages are absent). Prints figures; asserts nothing. `--quick` (or ALREF_BENCH_QUICK=1): 200
// synthetic frames, 20 expressions, 2 toolkit sequences of 20 frames.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { evaluateDavisSequence, type DavisTask } from '../src/pipeline/metrics/davisSequence';
import { readDataset } from '../src/pipeline/benchmarks/datasets';
import { fMeasureFeatures, jaccardFeatures, maskFeatures } from '../src/pipeline/metrics/maskMetrics';
import { decodeLabelPng, encodeBinaryPng, encodeIndexedPng, nonZero, type LabelImage } from '../src/pipeline/masks/labelPng';
import { scoreDataset, summarizeRecords } from '../src/pipeline/benchmarks/score';
import { makeMevis } from '../test/tooling/datasets';
import { QUICK, reportFigure } from './lib/figures';

const CAR = path.resolve(__dirname, '../media/samples/davis-car-shadow/Annotations');

function now(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

/** CPU milliseconds of this process (all threads). */
function cpuNow(): number {
  const c = process.cpuUsage();
  return (c.user + c.system) / 1000;
}

function line(label: string, frames: number, ms: number): void {
  console.log(`${label.padEnd(58)} ${frames.toString().padStart(5)} frames  ${ms.toFixed(0).padStart(7)} ms  ${((frames * 1000) / ms).toFixed(1).padStart(8)} frames/s`);
}

/** Binary J and F of each pair (pred t, gt t), features computed once per mask. */
function jfFrames(preds: Uint8Array[], gts: Uint8Array[], w: number, h: number): { j: number; f: number } {
  let sj = 0;
  let sf = 0;
  for (let t = 0; t < gts.length; t++) {
    const p = maskFeatures(preds[t], w, h);
    const g = maskFeatures(gts[t], w, h);
    sj += jaccardFeatures(p, g);
    sf += fMeasureFeatures(p, g).f;
  }
  return { j: sj / gts.length, f: sf / gts.length };
}

async function carShadow(): Promise<void> {
  const names = readdirSync(CAR).filter((n) => n.endsWith('.png')).sort();
  const bytes = names.map((n) => readFileSync(path.join(CAR, n)));
  let t0 = now();
  const imgs = bytes.map((b, k) => decodeLabelPng(b, names[k]));
  line('car-shadow: PNG decode (854x480 grey)', imgs.length, now() - t0);
  const gts = imgs.map((i) => nonZero(i.data));
  const preds = gts.map((_, t) => gts[Math.min(t + 1, gts.length - 1)]);
  t0 = now();
  const r = jfFrames(preds, gts, 854, 480);
  line(`car-shadow: J and F, pred = next frame (J ${r.j.toFixed(4)} F ${r.f.toFixed(4)})`, gts.length, now() - t0);
  const labels: LabelImage[] = gts.map((g) => ({ width: 854, height: 480, data: g, indexed: true }));
  const predLabels: LabelImage[] = preds.map((g) => ({ width: 854, height: 480, data: g, indexed: true }));
  for (const task of ['semi-supervised', 'unsupervised'] as const) {
    t0 = now();
    const s = evaluateDavisSequence({ sequence: 'car-shadow', frameIds: names, gt: labels, pred: predLabels, task });
    line(`car-shadow: DAVIS ${task} (J&F ${((s.objects[0].j.mean + s.objects[0].f.mean) / 2).toFixed(4)})`, s.frameIds.length, now() - t0);
  }
}

async function synthetic1000(): Promise<void> {
  const w = 854;
  const h = 480;
  const n = QUICK ? 200 : 1000;
  // an ellipse that drifts and breathes; the prediction lags it by a few pixels
  const mask = (t: number, lag: number): Uint8Array => {
    const m = new Uint8Array(w * h);
    const cx = 200 + ((t * 3 + lag) % 450);
    const cy = 240 + 60 * Math.sin((t + lag) / 40);
    const rx = 120 + 30 * Math.sin(t / 25);
    const ry = 90;
    for (let y = Math.max(0, Math.floor(cy - ry)); y < Math.min(h, Math.ceil(cy + ry)); y++) {
      for (let x = Math.max(0, Math.floor(cx - rx)); x < Math.min(w, Math.ceil(cx + rx)); x++) {
        if (((x - cx) / rx) ** 2 + ((y - cy) / ry) ** 2 <= 1) {
          m[y * w + x] = 1;
        }
      }
    }
    return m;
  };
  const gts: Uint8Array[] = [];
  const preds: Uint8Array[] = [];
  for (let t = 0; t < n; t++) {
    gts.push(mask(t, 0));
    preds.push(mask(t, 4));
  }
  const pngs = preds.map((p) => encodeBinaryPng(p, w, h));
  let t0 = now();
  const decoded = pngs.map((b) => nonZero(decodeLabelPng(b).data));
  line(`synthetic ${n} x 854x480: PNG decode`, n, now() - t0);
  t0 = now();
  const r = jfFrames(decoded, gts, w, h);
  line(`synthetic ${n} x 854x480: J and F (J ${r.j.toFixed(4)} F ${r.f.toFixed(4)})`, n, now() - t0);
}

async function scoreHundred(): Promise<void> {
  const base = mkdtempSync(path.join(os.tmpdir(), 'alref-bench-eval-'));
  try {
    let t0 = now();
    // 50 videos x 2 expressions = 100 expressions of 20 frames at 320x240 (quick: 10 videos)
    const root = await makeMevis(path.join(base, 'mevis'), { videos: QUICK ? 10 : 50, frames: 20, width: 320, height: 240 });
    console.log(`synthetic MeViS dataset written in ${(now() - t0).toFixed(0)} ms`);
    t0 = now();
    const ds = await readDataset('mevis', root);
    const readMs = now() - t0;
    t0 = now();
    const { records } = await scoreDataset(ds, path.join(root, 'pred'));
    const ms = now() - t0;
    const s = summarizeRecords('mevis', records);
    console.log(`alref score, ${ds.items.length} expressions (read dataset ${readMs.toFixed(0)} ms): ${ms.toFixed(0)} ms, ${((ds.items.length * 1000) / ms).toFixed(1)} expressions/s, ${((ds.items.length * 20 * 1000) / ms).toFixed(1)} frames/s; J&F ${s.headline['J&F'].toFixed(4)}`);
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------
// Side by side with the official DAVIS 2017 toolkit (numpy + OpenCV + scikit-image)
// ---------------------------------------------------------------------------------------------

/**
 * The toolkit checkout (github.com/davisvideochallenge/davis2017-evaluation): ALREF_DAVIS_TOOLKIT,
 * else .cache/ in the repository, else a vendored copy in ../shared/vendor beside the repository.
 */
const TOOLKIT = process.env.ALREF_DAVIS_TOOLKIT
  ?? [path.resolve(__dirname, '../.cache/davis2017-evaluation'), path.resolve(__dirname, '../../shared/vendor/davis2017-evaluation')].find((d) => existsSync(d))
  ?? path.resolve(__dirname, '../.cache/davis2017-evaluation');
/** Debian's python3 carries the toolkit's packages (python3-numpy, -opencv, -skimage, -pil, -scipy, -tqdm). */
const PYTHON = process.env.ALREF_BENCH_PYTHON ?? '/usr/bin/python3';
const SEQUENCES = QUICK ? 2 : 4;
const FRAMES = QUICK ? 20 : 30;

/**
 * Label map of frame t of sequence s: two elliptic objects (ids 1 and 2) drifting across 854x480, and
 * for the ground truth a void (255) band around object 1, as DAVIS annotations have.
 */
function blobLabels(s: number, t: number, w: number, h: number, lag: number, withVoid: boolean): Uint8Array {
  const m = new Uint8Array(w * h);
  const objects = [
    { cx: 150 + ((t + lag) * 9 + s * 70) % 550, cy: 200 + 80 * Math.sin((t + lag + s * 7) / 9), rx: 90 + 20 * Math.sin(t / 6), ry: 70 },
    { cx: 650 - ((t + lag) * 6 + s * 50) % 450, cy: 300 + 50 * Math.cos((t + lag) / 7), rx: 60, ry: 100 + 15 * Math.cos(t / 5) },
  ];
  objects.forEach((o, k) => {
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const d = ((x - o.cx) / o.rx) ** 2 + ((y - o.cy) / o.ry) ** 2;
        if (d <= 1) {
          m[y * w + x] = k + 1;
        } else if (withVoid && k === 0 && d <= 1.08 && m[y * w + x] === 0) {
          m[y * w + x] = 255;
        }
      }
    }
  });
  return m;
}

function toolkitMissing(): string | null {
  if (!existsSync(path.join(TOOLKIT, 'davis2017', 'evaluation.py'))) {
    return `the DAVIS 2017 toolkit is not at ${TOOLKIT} (set ALREF_DAVIS_TOOLKIT to a davis2017-evaluation checkout)`;
  }
  const probe = spawnSync(PYTHON, ['-c', 'import numpy, cv2, skimage, PIL, scipy, tqdm'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) {
    return `${PYTHON} lacks the toolkit's packages (apt-get install python3-numpy python3-opencv python3-skimage python3-pil python3-scipy python3-tqdm): ${(probe.error?.message ?? probe.stderr).trim().split('\n').pop()}`;
  }
  return null;
}

interface ToolkitRun {
  read_s: number;
  metrics_s: number;
  read_cpu_s: number;
  metrics_cpu_s: number;
  objects: Array<{ name: string; j: number; f: number; perFrameJ: number[]; perFrameF: number[] }>;
  blas: string;
  numpy: string;
}

async function againstToolkit(): Promise<void> {
  const missing = toolkitMissing();
  if (missing) {
    console.log(`DAVIS toolkit side by side: skipped, ${missing}.`);
    reportFigure({ id: 'jf-toolkit', skipped: missing });
    reportFigure({ id: 'jf-toolkit-metrics', skipped: missing });
    return;
  }
  const w = 854;
  const h = 480;
  const base = mkdtempSync(path.join(os.tmpdir(), 'alref-bench-davis-'));
  try {
    const seqs = Array.from({ length: SEQUENCES }, (_, s) => `blobs${s}`);
    const frameIds = Array.from({ length: FRAMES }, (_, t) => t.toString().padStart(5, '0'));
    for (const seq of seqs) {
      for (const dir of ['Annotations/480p', 'Annotations_unsupervised/480p', 'results']) {
        mkdirSync(path.join(base, dir, seq), { recursive: true });
      }
      frameIds.forEach((id, t) => {
        const s = seqs.indexOf(seq);
        const gt = encodeIndexedPng(blobLabels(s, t, w, h, 0, true), w, h);
        writeFileSync(path.join(base, 'Annotations/480p', seq, `${id}.png`), gt);
        writeFileSync(path.join(base, 'Annotations_unsupervised/480p', seq, `${id}.png`), gt);
        writeFileSync(path.join(base, 'results', seq, `${id}.png`), encodeIndexedPng(blobLabels(s, t, w, h, 0.6, false), w, h));
      });
    }
    mkdirSync(path.join(base, 'ImageSets/2017'), { recursive: true });
    writeFileSync(path.join(base, 'ImageSets/2017/val.txt'), seqs.join('\n'));
    console.log(`DAVIS toolkit side by side: ${seqs.length} sequences x ${FRAMES} frames of ${w}x${h}, 2 objects, the same PNGs for both`);
    // BLAS: OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE slow a current numpy down; unset for this run only
    const env = { ...process.env };
    delete env.OPENBLAS_CORETYPE;
    delete env.OPENBLAS_L2_SIZE;
    const ours = (task: DavisTask): { readMs: number; metricsMs: number; readCpu: number; metricsCpu: number; objects: Array<{ name: string; j: number; f: number; perFrameJ: number[]; perFrameF: number[] }> } => {
      let t0 = now();
      let c0 = cpuNow();
      const inputs = seqs.map((seq) => {
        const read = (dir: string): LabelImage[] => frameIds.map((id) => {
          const file = path.join(base, dir, seq, `${id}.png`);
          return decodeLabelPng(readFileSync(file), file);
        });
        return { sequence: seq, frameIds, gt: read(task === 'unsupervised' ? 'Annotations_unsupervised/480p' : 'Annotations/480p'), pred: read('results'), task };
      });
      const readMs = now() - t0;
      const readCpu = cpuNow() - c0;
      t0 = now();
      c0 = cpuNow();
      const results = inputs.map((input) => evaluateDavisSequence(input));
      const metricsMs = now() - t0;
      const metricsCpu = cpuNow() - c0;
      return { readMs, metricsMs, readCpu, metricsCpu, objects: results.flatMap((r) => r.objects.map((o) => ({ name: o.name, j: o.j.mean, f: o.f.mean, perFrameJ: o.perFrameJ, perFrameF: o.perFrameF }))) };
    };
    // the figures for the summary: the lower ratio of the two tasks, and whether every value was identical
    const ratios = { all: [] as number[], metrics: [] as number[], allCpu: [] as number[], metricsCpu: [] as number[], identical: true, failed: [] as string[] };
    for (const task of ['semi-supervised', 'unsupervised'] as const) {
      ours(task); // warm-up (JIT), not timed
      const mine = ours(task);
      const py = spawnSync(PYTHON, [path.join(__dirname, 'davis_toolkit.py'), TOOLKIT, base, path.join(base, 'results'), task, ...seqs], { encoding: 'utf8', env, maxBuffer: 1 << 24 });
      if (py.status !== 0) {
        console.log(`  ${task}: the toolkit failed (exit ${py.status ?? py.signal}): ${py.stderr.trim().split('\n').slice(-3).join(' | ')}`);
        ratios.failed.push(`${task}: the toolkit exited with ${py.status ?? py.signal}`);
        continue;
      }
      const tk = JSON.parse(py.stdout.trim().split('\n').pop()!) as ToolkitRun;
      let maxDiff = 0;
      let frameValues = 0;
      let frameDiffering = 0;
      for (const o of tk.objects) {
        const m = mine.objects.find((x) => x.name === o.name);
        maxDiff = Math.max(maxDiff, m ? Math.max(Math.abs(m.j - o.j), Math.abs(m.f - o.f)) : Number.POSITIVE_INFINITY);
        o.perFrameJ.forEach((v, k) => {
          frameValues += 2;
          frameDiffering += (m?.perFrameJ[k] === v ? 0 : 1) + (m?.perFrameF[k] === o.perFrameF[k] ? 0 : 1);
        });
      }
      const tkMetrics = tk.metrics_s * 1000;
      const tkAll = (tk.read_s + tk.metrics_s) * 1000;
      const myAll = mine.readMs + mine.metricsMs;
      if (task === 'semi-supervised') {
        console.log(`  toolkit Python: numpy ${tk.numpy}, BLAS ${tk.blas}`);
      }
      console.log(`  ${task}: ${tk.objects.length} objects; per-frame J and F: ${frameValues - frameDiffering} of ${frameValues} values bit-identical; per-object means differ by at most ${maxDiff.toExponential(1)} (summation order)`);
      const tkMetricsCpu = tk.metrics_cpu_s * 1000;
      const tkAllCpu = (tk.read_cpu_s + tk.metrics_cpu_s) * 1000;
      const myAllCpu = mine.readCpu + mine.metricsCpu;
      console.log(`    metrics alone:   toolkit ${tkMetrics.toFixed(0).padStart(6)} ms   alref ${mine.metricsMs.toFixed(0).padStart(5)} ms   ${(tkMetrics / mine.metricsMs).toFixed(1)}x faster; CPU time ${tkMetricsCpu.toFixed(0)} vs ${mine.metricsCpu.toFixed(0)} ms, ${(tkMetricsCpu / mine.metricsCpu).toFixed(1)}x`);
      console.log(`    with PNG decode: toolkit ${tkAll.toFixed(0).padStart(6)} ms   alref ${myAll.toFixed(0).padStart(5)} ms   ${(tkAll / myAll).toFixed(1)}x faster; CPU time ${tkAllCpu.toFixed(0)} vs ${myAllCpu.toFixed(0)} ms, ${(tkAllCpu / myAllCpu).toFixed(1)}x`);
      ratios.all.push(tkAll / myAll);
      ratios.metrics.push(tkMetrics / mine.metricsMs);
      ratios.allCpu.push(tkAllCpu / myAllCpu);
      ratios.metricsCpu.push(tkMetricsCpu / mine.metricsCpu);
      ratios.identical &&= frameDiffering === 0 && frameValues > 0;
    }
    if (ratios.failed.length > 0) {
      reportFigure({ id: 'jf-toolkit', skipped: ratios.failed.join('; ') });
      reportFigure({ id: 'jf-toolkit-metrics', skipped: ratios.failed.join('; ') });
    } else {
      // wall and CPU ratios; the verdict goes by wall time, the figure the goal was set in
      const shown = (wall: number[], cpu: number[]): string => `${Math.min(...wall).toFixed(1)}x wall, ${Math.min(...cpu).toFixed(1)}x CPU${ratios.identical ? ', bit-identical' : ', VALUES DIFFER'}`;
      const note = `${SEQUENCES} sequences x ${FRAMES} frames, the lower of the two tasks; verdict by wall time`;
      reportFigure({ id: 'jf-toolkit', value: shown(ratios.all, ratios.allCpu), met: ratios.identical && Math.min(...ratios.all) >= 10, note });
      reportFigure({ id: 'jf-toolkit-metrics', value: shown(ratios.metrics, ratios.metricsCpu), met: ratios.identical && Math.min(...ratios.metrics) >= 10, note });
    }
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  console.log(`node ${process.version}, ${os.cpus().length} CPU(s): ${os.cpus()[0]?.model ?? '?'}`);
  // `npx tsx bench/eval.ts toolkit` runs only the side-by-side part
  if (!process.argv.includes('toolkit')) {
    await carShadow();
    await synthetic1000();
    await scoreHundred();
  }
  await againstToolkit();
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
