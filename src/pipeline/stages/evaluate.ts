import { existsSync } from 'node:fs';
import { readFile, readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { MIME } from '../../common/mime';
import type { MaskData, RleMask, VideoData } from '../domain';
import { framePath } from '../domain';
import { PipelineError, throwIfAborted } from '../errors';
import type { StageEvent } from '../events';
import { evaluateDavisSequence, summarizeDavis } from '../metrics/davisSequence';
import { DATASET_KINDS, readDataset, resolveDatasetKind } from '../benchmarks/datasets';
import { avsFMeasure, avsIoU, avsScores, fMeasureFeatures, jaccard, maskFeatures } from '../metrics/maskMetrics';
import { decodeLabelPng, resizeNearest, type LabelImage } from '../masks/labelPng';
import { itemGroundTruth } from '../benchmarks/score';
import { decodeRle } from '../masks/rle';
import { hashJson } from '../run/hash';
import type { StageContext, StageOutcome, StageRequest, StageResult } from '../types';
import { requireUpstream } from './index';

/** Metric protocols of an `evaluate` cell. */
export const EVALUATE_PROTOCOLS = ['davis', 'davis-semi', 'mevis', 'avs-per-video', 'avs-per-frame'] as const;
export type EvaluateProtocol = (typeof EVALUATE_PROTOCOLS)[number];

/** Parameters of an `evaluate` cell (see schemas/evaluate.schema.json). */
export interface EvaluateParams {
  /** Folder of ground-truth PNGs (one per frame), relative to the notebook. */
  groundTruth?: string;
  /**
   * Or one entry of a dataset: the item id is `<video>/<expression id>` (RVOS) or `<video>` (AVS);
   * `kind` is a `DatasetKind` (benchmarks/datasets.ts), or an earlier spelling of one (read with a deprecation warning).
   */
  dataset?: { kind: string; root: string; split?: string; item: string };
  protocol?: EvaluateProtocol;
  /** How many worst frames to show side by side (3). */
  worstFrames?: number;
}

/** Result data of the `evaluate` stage. */
export interface EvaluateData {
  protocol: EvaluateProtocol;
  /** Headline numbers: J, F, J&F (DAVIS / MeViS) or M_J, M_F (AVS). */
  summary: Record<string, number>;
  objects: Array<{ objectId: number; gtObjectId: number | null; j: number; f: number; jRecall?: number; jDecay?: number }>;
  /** Per scored frame (union of objects, or the first object for DAVIS). */
  perFrame: Array<{ frameIndex: number; j: number; f: number }>;
  warnings: string[];
}

const STAGE = 'evaluate';

/** Ground truth of one frame: label map (object ids; 255 = void for DAVIS palette masks) at its own size. */
interface GtFrame {
  frameIndex: number;
  labels: Uint8Array;
  width: number;
  height: number;
  /** True for palette PNGs whose values are object ids (255 = void). */
  ids: boolean;
}

/**
 * Reads a ground-truth folder. Frames are matched by number when every file stem is an integer
 * (`00017.png` is frame 17), else by position in name order. Palette PNGs hold object ids (255 = void);
 * grey PNGs are binary (any non-zero value is the object), as DAVIS 2016 / AVS masks are.
 */
async function readGtFolder(dir: string): Promise<GtFrame[]> {
  if (!existsSync(dir) || !(await stat(dir)).isDirectory()) {
    throw new PipelineError(`groundTruth ${dir} is not a folder.`, { stage: STAGE, kind: 'invalid-input', field: 'groundTruth', file: dir });
  }
  const names = (await readdir(dir)).filter((n) => n.toLowerCase().endsWith('.png')).sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
  if (names.length === 0) {
    throw new PipelineError(`groundTruth ${dir} holds no PNG masks.`, { stage: STAGE, kind: 'invalid-input', field: 'groundTruth', file: dir });
  }
  const numeric = names.every((n) => /^\d+$/.test(n.slice(0, -4)));
  const out: GtFrame[] = [];
  for (const [k, n] of names.entries()) {
    const file = path.join(dir, n);
    const img = decodeLabelPng(await readFile(file), file);
    out.push(toGtFrame(img, numeric ? Number(n.slice(0, -4)) : k));
  }
  return out;
}

function toGtFrame(img: LabelImage, frameIndex: number): GtFrame {
  if (img.indexed) {
    return { frameIndex, labels: img.data, width: img.width, height: img.height, ids: true };
  }
  const labels = new Uint8Array(img.data.length);
  for (let i = 0; i < labels.length; i++) {
    labels[i] = img.data[i] !== 0 ? 1 : 0;
  }
  return { frameIndex, labels, width: img.width, height: img.height, ids: false };
}

/** Per-object predicted masks, decoded lazily per frame. */
async function loadPredictions(masks: MaskData): Promise<Array<{ objectId: number; text: string; frames: Array<RleMask | null> }>> {
  const out = [];
  for (const o of masks.objects) {
    let frames: Array<RleMask | null>;
    try {
      frames = JSON.parse(await readFile(o.masksFile, 'utf8')) as Array<RleMask | null>;
    } catch (err) {
      throw new PipelineError(`Cannot read the masks of object ${o.objectId} (${o.masksFile}); re-run the propagate cell.`, { stage: STAGE, kind: 'invalid-input', field: 'uses.propagate', file: o.masksFile, cause: err });
    }
    out.push({ objectId: o.objectId, text: o.text, frames });
  }
  return out;
}

function predLabels(preds: Awaited<ReturnType<typeof loadPredictions>>, t: number, width: number, height: number): Uint8Array | null {
  if (preds.length === 0 || preds.every((p) => t >= p.frames.length)) {
    return null;
  }
  const labels = new Uint8Array(width * height);
  preds.forEach((p, k) => {
    const rle = p.frames[t];
    if (!rle) {
      return;
    }
    const m = decodeRle(rle);
    for (let i = 0; i < labels.length; i++) {
      if (m[i] && labels[i] === 0) {
        labels[i] = k + 1;
      }
    }
  });
  return labels;
}

/** A line plot of per-frame J and F as a PNG (SVG rendered by sharp). */
export async function renderJfPlot(perFrame: Array<{ frameIndex: number; j: number; f: number }>, title: string): Promise<Uint8Array> {
  const W = 760;
  const H = 260;
  const L = 44;
  const R = 12;
  const T = 28;
  const B = 30;
  const n = perFrame.length;
  const x = (k: number): number => L + (n <= 1 ? (W - L - R) / 2 : (k * (W - L - R)) / (n - 1));
  const y = (v: number): number => T + (1 - v) * (H - T - B);
  const line = (key: 'j' | 'f'): string => perFrame.map((p, k) => `${x(k).toFixed(1)},${y(Number.isFinite(p[key]) ? p[key] : 0).toFixed(1)}`).join(' ');
  const grid = [0, 0.25, 0.5, 0.75, 1].map((v) => `<line x1="${L}" x2="${W - R}" y1="${y(v)}" y2="${y(v)}" stroke="#ddd"/><text x="${L - 6}" y="${y(v) + 4}" font-size="11" text-anchor="end" fill="#555">${v.toFixed(2)}</text>`).join('');
  const ticks = n === 0 ? '' : [0, Math.floor((n - 1) / 2), n - 1].map((k) => `<text x="${x(k)}" y="${H - 10}" font-size="11" text-anchor="middle" fill="#555">${perFrame[k].frameIndex}</text>`).join('');
  const esc = (s: string): string => s.replace(/[<>&"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;' })[c]!);
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}"><rect width="100%" height="100%" fill="white"/>${grid}${ticks}
<polyline fill="none" stroke="#1f77b4" stroke-width="2" points="${line('j')}"/>
<polyline fill="none" stroke="#ff7f0e" stroke-width="2" points="${line('f')}"/>
<text x="${L}" y="18" font-size="13" fill="#222">${esc(title)}</text>
<rect x="${W - 150}" y="8" width="12" height="4" fill="#1f77b4"/><text x="${W - 134}" y="14" font-size="11" fill="#222">J</text>
<rect x="${W - 110}" y="8" width="12" height="4" fill="#ff7f0e"/><text x="${W - 94}" y="14" font-size="11" fill="#222">F</text></svg>`;
  return new Uint8Array(await sharp(Buffer.from(svg)).png().toBuffer());
}

/** Frame with the prediction (left, green) and the ground truth (right, magenta) overlaid, side by side. */
export async function renderSideBySide(framePathOrNull: string | null, pred: Uint8Array, gt: Uint8Array, width: number, height: number, maxWidth = 420): Promise<Uint8Array> {
  const scale = Math.min(1, maxWidth / width);
  const w = Math.max(1, Math.round(width * scale));
  const h = Math.max(1, Math.round(height * scale));
  let base: Buffer;
  if (framePathOrNull && existsSync(framePathOrNull)) {
    base = await sharp(framePathOrNull).resize(w, h, { fit: 'fill' }).removeAlpha().raw().toBuffer();
  } else {
    base = Buffer.alloc(w * h * 3, 40);
  }
  const gap = 6;
  const out = Buffer.alloc((2 * w + gap) * h * 3, 255);
  const stride = (2 * w + gap) * 3;
  const sx = width / w;
  const sy = height / h;
  for (let yy = 0; yy < h; yy++) {
    const srcY = Math.min(height - 1, Math.floor((yy + 0.5) * sy));
    for (let xx = 0; xx < w; xx++) {
      const srcX = Math.min(width - 1, Math.floor((xx + 0.5) * sx));
      const i = srcY * width + srcX;
      const b = (yy * w + xx) * 3;
      for (const [side, mask, col] of [[0, pred, [0, 200, 80]], [1, gt, [230, 0, 200]]] as const) {
        const o = yy * stride + (side * (w + gap) + xx) * 3;
        const on = mask[i] !== 0;
        for (let c = 0; c < 3; c++) {
          out[o + c] = on ? Math.round(base[b + c] * 0.45 + col[c] * 0.55) : base[b + c];
        }
      }
    }
  }
  return new Uint8Array(await sharp(out, { raw: { width: 2 * w + gap, height: h, channels: 3 } }).png().toBuffer());
}

/**
 * The "evaluate" stage: scores the session's masks (the latest `propagate` result) against ground
 * truth (a folder of PNGs or one dataset entry) with the official metric definitions, and shows a
 * table of J, F and J&F, a per-frame J/F plot, and the worst frames with prediction and ground truth
 * side by side.
 *
 * Protocols: `davis` (all annotated frames, void 255 ignored, predicted objects matched to ground-truth
 * objects by the Hungarian algorithm, as the Ref-DAVIS17 protocol does), `davis-semi` (object ids
 * matched by id, first and last frame not scored), `mevis` (union of objects, means over all frames),
 * `avs-per-video` / `avs-per-frame` (AVSBench M_J and M_F). A prediction whose size differs from the
 * ground truth is resized (nearest) and reported; frames past the end of the prediction score 0.
 *
 * @example
 * // stage: evaluate
 * // groundTruth: ../data/davis-car-shadow/Annotations
 */
export async function* runEvaluate(request: StageRequest, ctx: StageContext): AsyncGenerator<StageEvent, StageOutcome<EvaluateData>, void> {
  const params = request.params as EvaluateParams;
  if ((params.groundTruth === undefined) === (params.dataset === undefined)) {
    throw new PipelineError('An evaluate cell needs exactly one of groundTruth (a folder of PNG masks) or dataset ({ kind, root, item }).', {
      stage: STAGE, kind: 'invalid-input', field: params.groundTruth === undefined ? 'groundTruth' : 'dataset',
    });
  }
  const protocol: EvaluateProtocol = params.protocol ?? (params.dataset?.kind === 'mevis' ? 'mevis' : params.dataset?.kind.startsWith('avs') ? 'avs-per-video' : 'davis');
  if (!(EVALUATE_PROTOCOLS as readonly string[]).includes(protocol)) {
    throw new PipelineError(`protocol must be one of ${EVALUATE_PROTOCOLS.join(', ')}.`, { stage: STAGE, kind: 'invalid-input', field: 'protocol' });
  }
  const worstCount = params.worstFrames ?? 3;
  const propagated = requireUpstream<MaskData>(request, ctx, 'propagate');
  const masks = propagated.data;
  let video: StageResult<VideoData> | undefined;
  try {
    video = requireUpstream<VideoData>(request, ctx, 'video');
  } catch {
    video = undefined; // frames are only needed for the side-by-side pictures
  }
  const warnings: string[] = [];
  const warn = function (m: string): StageEvent {
    warnings.push(m);
    return { type: 'warning', message: m };
  };

  // ground truth
  let gt: GtFrame[];
  let gtKey: unknown;
  if (params.groundTruth !== undefined) {
    const dir = path.resolve(ctx.baseDir, params.groundTruth);
    gt = await readGtFolder(dir);
    const stats = await Promise.all((await readdir(dir)).filter((n) => n.endsWith('.png')).sort().map(async (n) => [n, (await stat(path.join(dir, n))).size]));
    gtKey = { dir, stats };
  } else {
    const d = params.dataset!;
    const kind = resolveDatasetKind(d.kind);
    if (!kind) {
      throw new PipelineError(`dataset.kind must be one of ${DATASET_KINDS.join(', ')}.`, { stage: STAGE, kind: 'invalid-input', field: 'dataset.kind' });
    }
    if (kind.notice) {
      yield warn(kind.notice);
    }
    const ds = await readDataset(kind.kind, path.resolve(ctx.baseDir, d.root), d.split);
    const item = ds.items.find((i) => i.id === d.item);
    if (!item) {
      throw new PipelineError(`dataset.item "${d.item}" is not in ${ds.kind}/${ds.split} (items look like "${ds.items[0]?.id}").`, { stage: STAGE, kind: 'invalid-input', field: 'dataset.item' });
    }
    const frames = await itemGroundTruth(ds, item);
    gt = frames.flatMap((f, t) => (f ? [{ frameIndex: t, labels: f.labels, width: f.width, height: f.height, ids: f.ids }] : []));
    gtKey = { kind: d.kind, root: ds.root, split: ds.split, item: d.item };
  }
  if (gt.length === 0) {
    throw new PipelineError('The ground truth has no annotated frame.', { stage: STAGE, kind: 'invalid-input', field: params.groundTruth ? 'groundTruth' : 'dataset' });
  }
  const preds = await loadPredictions(masks);
  if (preds.length === 0) {
    yield warn('The propagate result has no object; every frame scores as an empty prediction.');
  }
  const gW = gt[0].width;
  const gH = gt[0].height;
  if (masks.width !== gW || masks.height !== gH) {
    yield warn(`The masks are ${masks.width}x${masks.height} and the ground truth ${gW}x${gH}; masks are resized (nearest) to the ground truth for scoring.`);
  }
  const past = gt.filter((g) => g.frameIndex >= masks.frameCount);
  if (past.length > 0) {
    yield warn(`${past.length} annotated frame(s) are past the ${masks.frameCount} predicted frames (first: ${past[0].frameIndex}); they score 0.`);
  }

  // per-frame predictions at the ground-truth size
  const predAt = (g: GtFrame): Uint8Array | null => {
    const labels = predLabels(preds, g.frameIndex, masks.width, masks.height);
    return labels ? resizeNearest(labels, masks.width, masks.height, g.width, g.height) : null;
  };
  let summary: Record<string, number>;
  let objects: EvaluateData['objects'] = [];
  let perFrame: EvaluateData['perFrame'] = [];
  const scored: Array<{ g: GtFrame; pred: Uint8Array | null; gtMask: Uint8Array; predMask: Uint8Array }> = [];
  for (const g of gt) {
    throwIfAborted(ctx.signal, STAGE);
    const p = g.frameIndex < masks.frameCount ? predAt(g) : null;
    const gtMask = g.labels.map((v) => (v !== 0 && !(g.ids && v === 255) ? 1 : 0));
    const predMask = p ? p.map((v) => (v !== 0 ? 1 : 0)) : new Uint8Array(g.labels.length);
    scored.push({ g, pred: p, gtMask, predMask });
  }
  yield { type: 'progress', done: 1, total: 2, label: 'ground truth and masks read' };

  if (protocol === 'davis' || protocol === 'davis-semi') {
    const r = evaluateDavisSequence({
      sequence: masks.objects[0]?.text ?? 'video',
      frameIds: scored.map((s) => String(s.g.frameIndex)),
      gt: scored.map((s) => ({ width: s.g.width, height: s.g.height, data: s.g.labels, indexed: s.g.ids })),
      pred: scored.map((s) => (s.pred ? { width: s.g.width, height: s.g.height, data: s.pred, indexed: true } : null)),
      task: protocol === 'davis' ? 'unsupervised' : 'semi-supervised',
      // palette masks follow the toolkit (objects of the first frame); binary masks may start empty
      objectsFrom: scored.every((x) => x.g.ids) ? 'first-frame' : 'all-frames',
    });
    for (const w of r.warnings) {
      yield warn(w);
    }
    const s = summarizeDavis([r]);
    summary = { 'J&F': s.jf, J: s.jMean, F: s.fMean, 'J recall': s.jRecall, 'J decay': s.jDecay };
    objects = r.objects.map((o) => ({
      objectId: o.predObjectId !== null ? preds[o.predObjectId - 1]?.objectId ?? o.predObjectId : -1,
      gtObjectId: o.gtObjectId, j: o.j.mean, f: o.f.mean, jRecall: o.j.recall, jDecay: o.j.decay,
    }));
    const frameIdx = (protocol === 'davis-semi' ? scored.slice(1, -1) : scored).map((x) => x.g.frameIndex);
    const n = r.objects.length;
    perFrame = frameIdx.map((fi, k) => ({
      frameIndex: fi,
      j: n === 0 ? 0 : r.objects.reduce((acc, o) => acc + o.perFrameJ[k], 0) / n,
      f: n === 0 ? 0 : r.objects.reduce((acc, o) => acc + o.perFrameF[k], 0) / n,
    }));
  } else if (protocol === 'mevis') {
    perFrame = scored.map((x) => {
      if (!x.pred) {
        return { frameIndex: x.g.frameIndex, j: 0, f: 0 };
      }
      return {
        frameIndex: x.g.frameIndex,
        j: jaccard(x.predMask, x.gtMask),
        f: fMeasureFeatures(maskFeatures(x.predMask, x.g.width, x.g.height), maskFeatures(x.gtMask, x.g.width, x.g.height)).f,
      };
    });
    const j = perFrame.reduce((a, p) => a + p.j, 0) / perFrame.length;
    const f = perFrame.reduce((a, p) => a + p.f, 0) / perFrame.length;
    summary = { 'J&F': (j + f) / 2, J: j, F: f };
    objects = [{ objectId: 0, gtObjectId: null, j, f }];
  } else {
    const convention = protocol === 'avs-per-video' ? 'per-video' : 'per-frame';
    const res = avsScores([{ preds: scored.map((x) => x.predMask), gts: scored.map((x) => x.gtMask) }], convention);
    summary = { M_J: res.mJ, M_F: res.mF };
    perFrame = scored.map((x) => ({ frameIndex: x.g.frameIndex, j: avsIoU(x.predMask, x.gtMask), f: avsFMeasure([x.predMask], [x.gtMask]) }));
    objects = [{ objectId: 0, gtObjectId: null, j: res.mJ, f: res.mF }];
  }

  // table
  const fmt = (v: number): number | null => (Number.isFinite(v) ? Math.round(v * 10000) / 10000 : null);
  const isAvs = protocol.startsWith('avs');
  const columns = isAvs ? ['object', 'M_J', 'M_F'] : ['object', 'ground truth', 'J', 'F', 'J&F', 'J recall', 'J decay'];
  const rows: Array<Array<string | number | null>> = objects.map((o) => {
    const name = o.objectId === 0 ? 'all objects (union)' : o.objectId < 0 ? '(no prediction)' : `${o.objectId}: ${preds.find((p) => p.objectId === o.objectId)?.text ?? ''}`;
    return isAvs ? [name, fmt(o.j), fmt(o.f)] : [name, o.gtObjectId === null ? 'union' : String(o.gtObjectId), fmt(o.j), fmt(o.f), fmt((o.j + o.f) / 2), o.jRecall === undefined ? null : fmt(o.jRecall), o.jDecay === undefined ? null : fmt(o.jDecay)];
  });
  rows.push(isAvs ? ['dataset value', fmt(summary.M_J), fmt(summary.M_F)] : ['mean', '', fmt(summary.J), fmt(summary.F), fmt(summary['J&F']), summary['J recall'] === undefined ? null : fmt(summary['J recall']), summary['J decay'] === undefined ? null : fmt(summary['J decay'])]);
  const data: EvaluateData = { protocol, summary, objects, perFrame, warnings };
  yield {
    type: 'table',
    title: `Evaluation (${protocol}, ${scored.length} annotated frame(s))`,
    columns,
    rows,
    renderer: { mime: MIME.metrics, payload: { version: 1, ...data } },
  };

  // per-frame plot
  if (perFrame.length > 0) {
    yield {
      type: 'image', id: `${request.cellId}:plot`, mime: 'image/png',
      data: await renderJfPlot(perFrame, isAvs ? 'per-frame IoU (J) and F' : 'per-frame J and F'),
      caption: `Per-frame ${isAvs ? 'IoU and F-score' : 'J and F'} over ${perFrame.length} frame(s)`,
    };
  }

  // worst frames
  const worst = [...perFrame].sort((a, b) => (a.j + a.f) / 2 - (b.j + b.f) / 2 || a.frameIndex - b.frameIndex).slice(0, worstCount);
  for (const wf of worst) {
    throwIfAborted(ctx.signal, STAGE);
    const s = scored.find((x) => x.g.frameIndex === wf.frameIndex)!;
    const frameFile = video ? framePath(video.data.framesDir, wf.frameIndex) : null;
    yield {
      type: 'image', id: `${request.cellId}:worst:${wf.frameIndex}`, mime: 'image/png',
      data: await renderSideBySide(frameFile, s.predMask, s.gtMask, s.g.width, s.g.height),
      caption: `Frame ${wf.frameIndex}: J ${wf.j.toFixed(3)}, F ${wf.f.toFixed(3)}; prediction (left) | ground truth (right)`,
    };
  }
  yield { type: 'progress', done: 2, total: 2, label: 'scored' };
  const upstream = [propagated.cellId, ...(video ? [video.cellId] : [])];
  return {
    data,
    inputHash: hashJson({ stage: STAGE, protocol, worstFrames: worstCount, gt: gtKey }),
    upstream,
  };
}
