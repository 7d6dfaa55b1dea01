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
import { decodeLabelPng, labelPngFolder, resizeNearest, type LabelImage } from '../masks/labelPng';
import { itemGroundTruth } from '../benchmarks/score';
import { decodeRle } from '../masks/rle';
import { hashJson } from '../run/hash';
import type { StageContext, StageOutcome, StageRequest, StageResult } from '../types';
import type { EvaluateParams } from './schemas/params.generated';
import { requireUpstream } from './shared';

/** A metric protocol of an `evaluate` cell. */
export type EvaluateProtocol = NonNullable<EvaluateParams['protocol']>;

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
  const files = await labelPngFolder(dir);
  if (files.size === 0) {
    throw new PipelineError(`groundTruth ${dir} holds no PNG masks.`, { stage: STAGE, kind: 'invalid-input', field: 'groundTruth', file: dir });
  }
  const out: GtFrame[] = [];
  for (const [frameIndex, file] of files) {
    const img = decodeLabelPng(await readFile(file), file);
    out.push(toGtFrame(img, frameIndex));
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
type Predictions = Array<{ objectId: number; text: string; frames: Array<RleMask | null> }>;

async function loadPredictions(masks: MaskData): Promise<Predictions> {
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

function predLabels(preds: Predictions, t: number, width: number, height: number): Uint8Array | null {
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
async function renderJfPlot(perFrame: Array<{ frameIndex: number; j: number; f: number }>, title: string): Promise<Uint8Array> {
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
async function renderSideBySide(framePathOrNull: string | null, pred: Uint8Array, gt: Uint8Array, width: number, height: number, maxWidth = 420): Promise<Uint8Array> {
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
export async function* runEvaluate(request: StageRequest<EvaluateParams>, ctx: StageContext): AsyncGenerator<StageEvent, StageOutcome<EvaluateData>, void> {
  const params = request.params;
  const protocol: EvaluateProtocol = params.protocol ?? (params.dataset?.kind === 'mevis' ? 'mevis' : params.dataset?.kind.startsWith('avs') ? 'avs-per-video' : 'davis');
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

  const gt = await readGroundTruth(params, ctx);
  for (const n of gt.notices) {
    yield warn(n);
  }
  const preds = await loadPredictions(masks);
  for (const w of mismatchWarnings(gt.frames, preds.length, masks)) {
    yield warn(w);
  }
  const scored = scoreFrames(gt.frames, preds, masks, ctx.signal);
  yield { type: 'progress', done: 1, total: 2, label: 'ground truth and masks read' };

  const scores = scoreProtocol(protocol, scored, preds);
  for (const w of scores.warnings) {
    yield warn(w);
  }
  const data: EvaluateData = { protocol, summary: scores.summary, objects: scores.objects, perFrame: scores.perFrame, warnings };
  yield resultsTable(data, preds, scored.length);
  yield* plotAndWorstFrames(data, scored, worstCount, video?.data, request.cellId, ctx.signal);
  yield { type: 'progress', done: 2, total: 2, label: 'scored' };
  const upstream = [propagated.cellId, ...(video ? [video.cellId] : [])];
  return {
    data,
    inputHash: hashJson({ stage: STAGE, protocol, worstFrames: worstCount, gt: gt.key }),
    upstream,
  };
}

/**
 * The ground truth of the cell: its `groundTruth` folder or its `dataset` entry, a key of it for the
 * input hash, and notices to show (an old spelling of the dataset kind).
 */
async function readGroundTruth(params: EvaluateParams, ctx: StageContext): Promise<{ frames: GtFrame[]; key: unknown; notices: string[] }> {
  let frames: GtFrame[];
  let key: unknown;
  const notices: string[] = [];
  if (params.groundTruth !== undefined) {
    const dir = path.resolve(ctx.baseDir, params.groundTruth);
    frames = await readGtFolder(dir);
    const stats = await Promise.all((await readdir(dir)).filter((n) => n.endsWith('.png')).sort().map(async (n) => [n, (await stat(path.join(dir, n))).size]));
    key = { dir, stats };
  } else {
    // the schema requires one of groundTruth and dataset
    const d = params.dataset!;
    const kind = resolveDatasetKind(d.kind);
    if (!kind) {
      throw new PipelineError(`dataset.kind must be one of ${DATASET_KINDS.join(', ')}.`, { stage: STAGE, kind: 'invalid-input', field: 'dataset.kind' });
    }
    if (kind.notice) {
      notices.push(kind.notice);
    }
    const ds = await readDataset(kind.kind, path.resolve(ctx.baseDir, d.root), d.split);
    const item = ds.items.find((i) => i.id === d.item);
    if (!item) {
      throw new PipelineError(`dataset.item "${d.item}" is not in ${ds.kind}/${ds.split} (items look like "${ds.items[0]?.id}").`, { stage: STAGE, kind: 'invalid-input', field: 'dataset.item' });
    }
    const gtFrames = await itemGroundTruth(ds, item);
    frames = gtFrames.flatMap((f, t) => (f ? [{ frameIndex: t, labels: f.labels, width: f.width, height: f.height, ids: f.ids }] : []));
    key = { kind: ds.kind, root: ds.root, split: ds.split, item: d.item };
  }
  if (frames.length === 0) {
    throw new PipelineError('The ground truth has no annotated frame.', { stage: STAGE, kind: 'invalid-input', field: params.groundTruth ? 'groundTruth' : 'dataset' });
  }
  return { frames, key, notices };
}

/** Warnings about what the prediction lacks: objects, the ground truth's size, annotated frames. */
function mismatchWarnings(gt: GtFrame[], objectCount: number, masks: MaskData): string[] {
  const out: string[] = [];
  if (objectCount === 0) {
    out.push('The propagate result has no object; every frame scores as an empty prediction.');
  }
  const gW = gt[0].width;
  const gH = gt[0].height;
  if (masks.width !== gW || masks.height !== gH) {
    out.push(`The masks are ${masks.width}x${masks.height} and the ground truth ${gW}x${gH}; masks are resized (nearest) to the ground truth for scoring.`);
  }
  const past = gt.filter((g) => g.frameIndex >= masks.frameCount);
  if (past.length > 0) {
    out.push(`${past.length} annotated frame(s) are past the ${masks.frameCount} predicted frames (first: ${past[0].frameIndex}); they score 0.`);
  }
  return out;
}

/** One annotated frame with the prediction at its size (labels, or null past the prediction) and both binary masks. */
interface ScoredFrame {
  g: GtFrame;
  pred: Uint8Array | null;
  gtMask: Uint8Array;
  predMask: Uint8Array;
}

/** Pairs every annotated frame with the prediction, resized (nearest) to the ground truth. */
function scoreFrames(gt: GtFrame[], preds: Predictions, masks: MaskData, signal: AbortSignal): ScoredFrame[] {
  const predAt = (g: GtFrame): Uint8Array | null => {
    const labels = predLabels(preds, g.frameIndex, masks.width, masks.height);
    return labels ? resizeNearest(labels, masks.width, masks.height, g.width, g.height) : null;
  };
  return gt.map((g) => {
    throwIfAborted(signal, STAGE);
    const pred = g.frameIndex < masks.frameCount ? predAt(g) : null;
    const gtMask = g.labels.map((v) => (v !== 0 && !(g.ids && v === 255) ? 1 : 0));
    const predMask = pred ? pred.map((v) => (v !== 0 ? 1 : 0)) : new Uint8Array(g.labels.length);
    return { g, pred, gtMask, predMask };
  });
}

/** The protocol's numbers: headline summary, per-object and per-frame scores. */
function scoreProtocol(protocol: EvaluateProtocol, scored: ScoredFrame[], preds: Predictions): Pick<EvaluateData, 'summary' | 'objects' | 'perFrame' | 'warnings'> {
  if (protocol === 'davis' || protocol === 'davis-semi') {
    return scoreDavis(protocol, scored, preds);
  }
  if (protocol === 'mevis') {
    const perFrame = scored.map((x) => {
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
    return { summary: { 'J&F': (j + f) / 2, J: j, F: f }, objects: [{ objectId: 0, gtObjectId: null, j, f }], perFrame, warnings: [] };
  }
  const convention = protocol === 'avs-per-video' ? 'per-video' : 'per-frame';
  const res = avsScores([{ preds: scored.map((x) => x.predMask), gts: scored.map((x) => x.gtMask) }], convention);
  return {
    summary: { M_J: res.mJ, M_F: res.mF },
    objects: [{ objectId: 0, gtObjectId: null, j: res.mJ, f: res.mF }],
    perFrame: scored.map((x) => ({ frameIndex: x.g.frameIndex, j: avsIoU(x.predMask, x.gtMask), f: avsFMeasure([x.predMask], [x.gtMask]) })),
    warnings: [],
  };
}

/** DAVIS protocols through the DAVIS toolkit port (src/pipeline/metrics/davisSequence.ts). */
function scoreDavis(protocol: 'davis' | 'davis-semi', scored: ScoredFrame[], preds: Predictions): Pick<EvaluateData, 'summary' | 'objects' | 'perFrame' | 'warnings'> {
  const r = evaluateDavisSequence({
    sequence: preds[0]?.text ?? 'video',
    frameIds: scored.map((s) => String(s.g.frameIndex)),
    gt: scored.map((s) => ({ width: s.g.width, height: s.g.height, data: s.g.labels, indexed: s.g.ids })),
    pred: scored.map((s) => (s.pred ? { width: s.g.width, height: s.g.height, data: s.pred, indexed: true } : null)),
    task: protocol === 'davis' ? 'unsupervised' : 'semi-supervised',
    // palette masks follow the toolkit (objects of the first frame); binary masks may start empty
    objectsFrom: scored.every((x) => x.g.ids) ? 'first-frame' : 'all-frames',
  });
  const s = summarizeDavis([r]);
  const objects = r.objects.map((o) => ({
    objectId: o.predObjectId !== null ? preds[o.predObjectId - 1]?.objectId ?? o.predObjectId : -1,
    gtObjectId: o.gtObjectId, j: o.j.mean, f: o.f.mean, jRecall: o.j.recall, jDecay: o.j.decay,
  }));
  const frameIdx = (protocol === 'davis-semi' ? scored.slice(1, -1) : scored).map((x) => x.g.frameIndex);
  const n = r.objects.length;
  const perFrame = frameIdx.map((fi, k) => ({
    frameIndex: fi,
    j: n === 0 ? 0 : r.objects.reduce((acc, o) => acc + o.perFrameJ[k], 0) / n,
    f: n === 0 ? 0 : r.objects.reduce((acc, o) => acc + o.perFrameF[k], 0) / n,
  }));
  return { summary: { 'J&F': s.jf, J: s.jMean, F: s.fMean, 'J recall': s.jRecall, 'J decay': s.jDecay }, objects, perFrame, warnings: r.warnings };
}

/** The table of scores per object and their mean (or the dataset value for AVS), with the metrics renderer payload. */
function resultsTable(data: EvaluateData, preds: Predictions, frameCount: number): StageEvent {
  const { protocol, summary, objects } = data;
  const fmt = (v: number): number | null => (Number.isFinite(v) ? Math.round(v * 10000) / 10000 : null);
  const isAvs = protocol.startsWith('avs');
  const columns = isAvs ? ['object', 'M_J', 'M_F'] : ['object', 'ground truth', 'J', 'F', 'J&F', 'J recall', 'J decay'];
  const rows: Array<Array<string | number | null>> = objects.map((o) => {
    const name = o.objectId === 0 ? 'all objects (union)' : o.objectId < 0 ? '(no prediction)' : `${o.objectId}: ${preds.find((p) => p.objectId === o.objectId)?.text ?? ''}`;
    return isAvs ? [name, fmt(o.j), fmt(o.f)] : [name, o.gtObjectId === null ? 'union' : String(o.gtObjectId), fmt(o.j), fmt(o.f), fmt((o.j + o.f) / 2), o.jRecall === undefined ? null : fmt(o.jRecall), o.jDecay === undefined ? null : fmt(o.jDecay)];
  });
  rows.push(isAvs ? ['dataset value', fmt(summary.M_J), fmt(summary.M_F)] : ['mean', '', fmt(summary.J), fmt(summary.F), fmt(summary['J&F']), summary['J recall'] === undefined ? null : fmt(summary['J recall']), summary['J decay'] === undefined ? null : fmt(summary['J decay'])]);
  return {
    type: 'table',
    title: `Evaluation (${protocol}, ${frameCount} annotated frame(s))`,
    columns,
    rows,
    renderer: { mime: MIME.metrics, payload: { version: 1, ...data } },
  };
}

/** The per-frame J/F plot and the worst frames with prediction and ground truth side by side. */
async function* plotAndWorstFrames(data: EvaluateData, scored: ScoredFrame[], worstCount: number, video: VideoData | undefined, cellId: string, signal: AbortSignal): AsyncGenerator<StageEvent, void, void> {
  const { perFrame } = data;
  const isAvs = data.protocol.startsWith('avs');
  if (perFrame.length > 0) {
    yield {
      type: 'image', id: `${cellId}:plot`, mime: 'image/png',
      data: await renderJfPlot(perFrame, isAvs ? 'per-frame IoU (J) and F' : 'per-frame J and F'),
      caption: `Per-frame ${isAvs ? 'IoU and F-score' : 'J and F'} over ${perFrame.length} frame(s)`,
    };
  }
  const worst = [...perFrame].sort((a, b) => (a.j + a.f) / 2 - (b.j + b.f) / 2 || a.frameIndex - b.frameIndex).slice(0, worstCount);
  for (const wf of worst) {
    throwIfAborted(signal, STAGE);
    const s = scored.find((x) => x.g.frameIndex === wf.frameIndex)!;
    const frameFile = video ? framePath(video.framesDir, wf.frameIndex) : null;
    yield {
      type: 'image', id: `${cellId}:worst:${wf.frameIndex}`, mime: 'image/png',
      data: await renderSideBySide(frameFile, s.predMask, s.gtMask, s.g.width, s.g.height),
      caption: `Frame ${wf.frameIndex}: J ${wf.j.toFixed(3)}, F ${wf.f.toFixed(3)}; prediction (left) | ground truth (right)`,
    };
  }
}
