// Evaluation throughput: J&F over the 40-frame DAVIS car-shadow sequence and over a synthetic
// 1000-frame 854x480 sequence (PNG decoding timed separately from the metrics), and `alref score` on a
// synthetic MeViS-layout dataset of 100 expressions. Prints figures; asserts nothing.
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { evaluateDavisSequence } from '../src/pipeline/eval/davis';
import { readDataset } from '../src/pipeline/eval/datasets';
import { fMeasureFeatures, jaccard, maskFeatures } from '../src/pipeline/eval/metrics';
import { decodeLabelPng, encodeBinaryPng, nonZero, type LabelImage } from '../src/pipeline/eval/png';
import { scoreDataset, summarizeRecords } from '../src/pipeline/eval/score';
import { makeMevis } from '../test/tooling/datasets';

const CAR = path.resolve(__dirname, '../media/samples/davis-car-shadow/Annotations');

function now(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

function line(label: string, frames: number, ms: number): void {
  console.log(`${label.padEnd(58)} ${frames.toString().padStart(5)} frames  ${ms.toFixed(0).padStart(7)} ms  ${((frames * 1000) / ms).toFixed(1).padStart(8)} frames/s`);
}

/** Binary J and F of each pair (pred t, gt t), features computed once per mask. */
function jfFrames(preds: Uint8Array[], gts: Uint8Array[], w: number, h: number): { j: number; f: number } {
  let sj = 0;
  let sf = 0;
  for (let t = 0; t < gts.length; t++) {
    sj += jaccard(preds[t], gts[t]);
    sf += fMeasureFeatures(maskFeatures(preds[t], w, h), maskFeatures(gts[t], w, h)).f;
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
  const n = 1000;
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
  line('synthetic 1000 x 854x480: PNG decode', n, now() - t0);
  t0 = now();
  const r = jfFrames(decoded, gts, w, h);
  line(`synthetic 1000 x 854x480: J and F (J ${r.j.toFixed(4)} F ${r.f.toFixed(4)})`, n, now() - t0);
}

async function scoreHundred(): Promise<void> {
  const base = mkdtempSync(path.join(os.tmpdir(), 'alref-bench-eval-'));
  try {
    let t0 = now();
    // 50 videos x 2 expressions = 100 expressions of 20 frames at 320x240
    const root = await makeMevis(path.join(base, 'mevis'), { videos: 50, frames: 20, width: 320, height: 240 });
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

async function main(): Promise<void> {
  console.log(`node ${process.version}, ${os.cpus().length} CPU(s): ${os.cpus()[0]?.model ?? '?'}`);
  await carShadow();
  await synthetic1000();
  await scoreHundred();
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
