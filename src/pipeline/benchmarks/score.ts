/**
 * Scores predictions on disk against a dataset's ground truth, protocol by protocol, in units that
 * can be computed on different machines and merged: every unit gives a JSON-safe {@link ScoreRecord},
 * and {@link summarizeRecords} turns any set of records into the dataset numbers. A sharded run merged
 * therefore gives exactly the numbers of an unsharded one.
 *
 * Prediction layout (what `alref eval` writes and `alref score --pred` reads; {@link PREDICTION_LAYOUTS}):
 * - RVOS (Ref-YouTube-VOS, MeViS, Ref-DAVIS17): `<pred>/<video>/<expression id>/<frame>.png`, 0/255
 *   (any non-zero pixel is foreground, as the MeViS and YouTube-VOS tools read them), or the same under
 *   `<pred>/Annotations/` (an unpacked submission zip). Ref-DAVIS17 also accepts the official layout
 *   `<pred>/anno_<set>/<video>/<frame>.png` (indexed, object ids).
 * - AVS S4 / MS3 / V2: `<pred>/<video>/<frame>.png`, 0/255, resized (nearest) to the ground truth; S4
 *   also `<pred>/<category>/<video>/<frame>.png`, the layout AVSBench's own test script saves.
 * - AVSS: `<pred>/<uid>/<k>.png`, colour-coded with the AVSS palette (or indexed with it).
 * A folder where no frame of any unit is found is an error showing the expected layout (not a score of 0).
 *
 * Ground truth: DAVIS PNGs hold object ids with 255 = void; S4/MS3 masks are foreground where non-zero;
 * AVSS colour labels are looked up in the AVSS palette (unknown colours = background). Every scored
 * frame needs its ground-truth PNG: a missing or unreadable one is an error naming the file.
 */
import { existsSync, readdirSync } from 'node:fs';
import { readFile, readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { PipelineError, throwIfAborted } from '../errors';
import { decodeRle } from '../masks/rle';
import type { RleMask } from '../domain';
import { evaluateDavisSequence, summarizeDavis, type DavisSummary } from '../metrics/davisSequence';
import { datasetVideos, shardVideos, type Dataset, type DatasetItem } from './datasets';
import {
  AVSS_SIZE, AvssAccumulator, avsFMeasure, avsIoU, fMeasureFeatures, jaccardFeatures, maskFeatures,
  type AvsConvention,
} from '../metrics/maskMetrics';
import { AVSS_CLASSES, avssPalette, decodeLabelPng, labelEquals, nonZero, readLabelPng, resizeNearest, type LabelImage } from '../masks/labelPng';

/** One scored unit: an expression, a (Ref-DAVIS17 annotator set, video) pair, or an AVS video. */
export type ScoreRecord =
  | {
      type: 'expression';
      id: string;
      video: string;
      /** Means over all frames. */
      j: number;
      f: number;
      perFrameJ: number[];
      perFrameF: number[];
      frameNames: string[];
      missingFrames: number;
      /** True when the whole expression had no prediction (scores 0). */
      missing: boolean;
    }
  | {
      type: 'davis-set';
      id: string;
      video: string;
      set: number;
      objects: Array<{ name: string; gtObjectId: number; predObjectId: number | null; j: { mean: number; recall: number; decay: number }; f: { mean: number; recall: number; decay: number } }>;
    }
  | {
      type: 'avs-video';
      id: string;
      video: string;
      /** IoU of each frame. */
      frameJ: number[];
      /** F of each frame scored alone (the per-frame convention). */
      frameF: number[];
      /** F of the video scored as one call (the per-video convention). */
      videoF: number;
    }
  | { type: 'avss-video'; id: string; video: string; ious: number[]; fs: number[]; counts: number[] };

/** Options of {@link scoreDataset}. */
export interface ScoreOptions {
  /** Only this shard of the videos. */
  shard?: { index: number; count: number };
  signal?: AbortSignal;
  /** Called after each unit. */
  onProgress?(done: number, total: number, unitId: string): void;
  /** Called with each warning as it happens. */
  onWarning?(message: string): void;
  /**
   * Score even when no prediction matches the layout (every unit then scores 0). `alref eval` sets it:
   * a shard whose items all failed still writes its (zero) records. Otherwise that is an error that
   * shows the expected layout.
   */
  allowNoPredictions?: boolean;
}

/** A unit of scoring, before it is scored. */
export interface ScoreUnit {
  id: string;
  video: string;
  items: DatasetItem[];
  set?: number;
}

/** Splits a dataset into scoring units (sorted by id), optionally one shard of them. */
function scoreUnits(ds: Dataset, shard?: { index: number; count: number }): ScoreUnit[] {
  const keep = shard ? shardVideos(datasetVideos(ds), shard) : undefined;
  const units: ScoreUnit[] = [];
  if (ds.kind === 'ref-davis17') {
    const bySetVideo = new Map<string, ScoreUnit>();
    for (const item of ds.items) {
      const set = item.annotatorSet ?? 0;
      const id = `anno_${set}/${item.video}`;
      const u = bySetVideo.get(id) ?? { id, video: item.video, items: [], set };
      u.items.push(item);
      bySetVideo.set(id, u);
    }
    units.push(...bySetVideo.values());
  } else {
    units.push(...ds.items.map((i) => ({ id: i.id, video: i.video, items: [i] })));
  }
  return units.filter((u) => !keep || keep.has(u.video)).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/** Reads a prediction PNG; null when the file does not exist. A broken file is reported and treated as missing. */
async function readPred(file: string, warn: (m: string) => void, palette?: number[][]): Promise<LabelImage | null> {
  if (!existsSync(file)) {
    return null;
  }
  try {
    return decodeLabelPng(await readFile(file), file, palette ? { colourPalette: palette } : {});
  } catch (err) {
    warn(`${file}: ${(err as Error).message}; scored as missing.`);
    return null;
  }
}

/**
 * Scores the predictions in `predDir` against the dataset's ground truth.
 *
 * @example
 * const records = await scoreDataset(ds, 'out/predictions');
 * summarizeRecords(ds.kind, records).headline;
 */
export async function scoreDataset(ds: Dataset, predDirIn: string, options: ScoreOptions = {}): Promise<{ records: ScoreRecord[]; warnings: string[] }> {
  if (!ds.hasGroundTruth) {
    throw new PipelineError(
      `The ${ds.kind} split "${ds.split}" has no local ground truth: it is scored by the benchmark server. Write the submission zip with \`alref eval\` (or \`alref merge --zip\`) and upload it.`,
      { stage: 'evaluate', kind: 'invalid-input', field: 'split' },
    );
  }
  const warnings: string[] = [];
  const warn = (m: string): void => {
    warnings.push(m);
    options.onWarning?.(m);
  };
  let predDir = predDirIn;
  const units = scoreUnits(ds, options.shard);
  const records: ScoreRecord[] = [];
  let maskDict: Record<string, Array<RleMask | null>> | undefined;
  if (ds.kind === 'mevis' && ds.maskDictPath) {
    maskDict = JSON.parse(await readFile(ds.maskDictPath, 'utf8'));
  }
  const gtCache = new Map<string, Map<string, LabelImage>>();
  /** The ground truth of the frames of a video, by frame name; a missing folder or file is an error naming it. */
  const gtFrames = async (video: string, frameNames: string[], palette?: number[][]): Promise<Map<string, LabelImage>> => {
    const cached = gtCache.get(video);
    if (cached) {
      return cached;
    }
    gtCache.clear(); // units are sorted by video; keep one video in memory
    const out = await readGroundTruthFrames(ds, video, frameNames, palette);
    gtCache.set(video, out);
    return out;
  };
  const predLayout = await resolvePredictionLayout(ds, predDir, units, Boolean(options.allowNoPredictions));
  predDir = predLayout.predDir;
  let done = 0;
  for (const unit of units) {
    throwIfAborted(options.signal, 'evaluate');
    switch (ds.kind) {
      case 'mevis':
      case 'ref-youtube-vos': {
        const item = unit.items[0];
        let gtFor: (t: number, frame: string) => Promise<{ mask: Uint8Array; width: number; height: number } | null>;
        if (ds.kind === 'mevis') {
          const absent = (item.annotationIds ?? []).find((a) => !maskDict || !(a in maskDict));
          if (absent !== undefined || (item.annotationIds ?? []).length === 0) {
            throw new PipelineError(
              `${item.id}: the ground truth of this expression is missing: ${absent === undefined ? 'it lists no anno_id' : `annotation id ${absent} is not in ${ds.maskDictPath}`}.`,
              { stage: 'evaluate', kind: 'invalid-input', field: 'root', file: ds.maskDictPath },
            );
          }
          gtFor = async (t) => {
            let acc: Uint8Array | null = null;
            let size: [number, number] | null = null;
            for (const a of item.annotationIds ?? []) {
              const rle = maskDict?.[a]?.[t];
              if (!rle) {
                continue;
              }
              const m = decodeRle(rle);
              size = rle.size;
              acc = acc ?? new Uint8Array(m.length);
              for (let i = 0; i < m.length; i++) {
                acc[i] |= m[i];
              }
            }
            if (!acc || !size) {
              return null; // empty ground truth; its size is taken from the prediction
            }
            return { mask: acc, width: size[1], height: size[0] };
          };
        } else {
          const frames = await gtFrames(item.video, item.frames.map((f) => f.name));
          gtFor = async (_t, frame) => {
            const g = frames.get(frame);
            if (!g) {
              return null;
            }
            const mask = new Uint8Array(g.data.length);
            for (const id of item.objectIds ?? []) {
              const eq = labelEquals(g.data, id);
              for (let i = 0; i < mask.length; i++) {
                mask[i] |= eq[i];
              }
            }
            return { mask, width: g.width, height: g.height };
          };
        }
        records.push(await scoreExpression(item, predDir, gtFor, warn));
        break;
      }
      case 'ref-davis17':
        records.push(await scoreDavisSet(unit, predDir, await gtFrames(unit.video, unit.items[0].frames.map((f) => f.name)), warn));
        break;
      case 'avsbench-s4':
      case 'avsbench-ms3':
      case 'avss-v2-binary': {
        const item = unit.items[0];
        const names = item.frames.map((f) => f.name);
        const gts = await gtFrames(item.video, names, ds.kind === 'avss-v2-binary' ? avssPalette() : undefined);
        const preds: Uint8Array[] = [];
        const gtMasks: Uint8Array[] = [];
        const videoDir = predLayout.videoDir(item);
        for (const frameName of names) {
          const g = gts.get(frameName)!;
          const p = await readPred(path.join(videoDir, `${frameName}.png`), warn);
          gtMasks.push(nonZero(g.data));
          if (!p) {
            warn(`${item.id}: prediction for frame ${frameName} is missing; it scores as an empty mask.`);
            preds.push(new Uint8Array(g.data.length));
          } else {
            preds.push(nonZero(resizeNearest(p.data, p.width, p.height, g.width, g.height)));
          }
        }
        records.push({
          type: 'avs-video', id: item.id, video: item.video,
          frameJ: preds.map((p, k) => avsIoU(p, gtMasks[k])),
          frameF: preds.map((p, k) => avsFMeasure([p], [gtMasks[k]])),
          videoF: avsFMeasure(preds, gtMasks),
        });
        break;
      }
      case 'avss': {
        const item = unit.items[0];
        const palette = avssPalette();
        const names = item.frames.map((f) => f.name);
        const gts = await gtFrames(item.video, names, palette);
        const acc = new AvssAccumulator(AVSS_CLASSES);
        const videoDir = predLayout.videoDir(item);
        for (const name of names) {
          const g = gts.get(name)!;
          const gt = resizeNearest(g.data, g.width, g.height, AVSS_SIZE, AVSS_SIZE);
          const p = await readPred(path.join(videoDir, `${name}.png`), warn, palette);
          if (!p) {
            warn(`${item.id}: prediction for frame ${name} is missing; it scores as all background.`);
          }
          const pred = p ? resizeNearest(p.data, p.width, p.height, AVSS_SIZE, AVSS_SIZE) : new Uint8Array(AVSS_SIZE * AVSS_SIZE);
          acc.add(pred, gt);
        }
        records.push({ type: 'avss-video', id: item.id, video: item.video, ...acc.sums() });
        break;
      }
    }
    done++;
    options.onProgress?.(done, units.length, unit.id);
  }
  return { records, warnings };
}

/** Where `alref score --pred` looks, per dataset kind (shown in `--help` and in layout errors). */
export const PREDICTION_LAYOUTS: Record<Dataset['kind'], string[]> = {
  'ref-youtube-vos': ['<pred>/<video>/<expression id>/<frame>.png (0/255)', '<pred>/Annotations/<video>/<expression id>/<frame>.png (the submission zip, unpacked)'],
  mevis: ['<pred>/<video>/<expression id>/<frame>.png (0/255)'],
  'ref-davis17': ['<pred>/<video>/<expression id>/<frame>.png (0/255, what alref eval writes)', '<pred>/anno_<set>/<video>/<frame>.png (indexed, object ids: the official layout)'],
  'avsbench-s4': ['<pred>/<video>/<video>_<k>.png (0/255)', "<pred>/<category>/<video>/<video>_<k>.png (AVSBench's own test output)"],
  'avsbench-ms3': ['<pred>/<video>/<video>_<k>.png (0/255, also AVSBench\'s own test output)'],
  avss: ['<pred>/<uid>/<k>.png (AVSS palette colours, or indexed)'],
  'avss-v2-binary': ['<pred>/<uid>/<k>.png (0/255)'],
};

/** One-line example prediction trees per dataset kind (`--help`). */
export const PREDICTION_EXAMPLES: Record<Dataset['kind'], string> = {
  'ref-youtube-vos': 'pred/003234408d/0/00000.png',
  mevis: 'pred/0a4d0f2e4fa7/0/00000.png',
  'ref-davis17': 'pred/bike-packing/0/00000.png or pred/anno_0/bike-packing/00000.png',
  'avsbench-s4': 'pred/-0OQjWg_6bQ_1000_6000/-0OQjWg_6bQ_1000_6000_1.png or pred/dog/-0OQjWg_6bQ_1000_6000/-0OQjWg_6bQ_1000_6000_1.png',
  'avsbench-ms3': 'pred/0h8X4l3Cq2Q/0h8X4l3Cq2Q_1.png',
  avss: 'pred/_-3ImeXHqpk_0/0.png',
  'avss-v2-binary': 'pred/_2BIbJqn4vc_0/0.png',
};

/** Reads the ground-truth PNG of every frame of a video; a missing folder or file is an error naming it. */
async function readGroundTruthFrames(ds: Dataset, video: string, frameNames: string[], palette?: number[][]): Promise<Map<string, LabelImage>> {
  const dir = ds.gtDirs.get(video);
  if (!dir || !existsSync(dir)) {
    throw new PipelineError(
      `The ground truth of ${video} is missing: ${dir ?? '(no ground-truth folder)'} does not exist. Without it every frame would score as if the object were absent; restore the folder or leave the video out of the split.`,
      { stage: 'evaluate', kind: 'invalid-input', field: 'root', file: dir },
    );
  }
  const present = new Set((await readdir(dir)).filter((n) => n.toLowerCase().endsWith('.png')));
  const out = new Map<string, LabelImage>();
  const absent = frameNames.filter((n) => !present.has(`${n}.png`));
  if (absent.length > 0) {
    const file = path.join(dir, `${absent[0]}.png`);
    throw new PipelineError(
      `Ground truth ${file} is missing (${absent.length} of ${frameNames.length} frames of ${video} have no ground-truth PNG${absent.length > 1 ? `; also ${absent.slice(1, 4).join(', ')}${absent.length > 4 ? ' ...' : ''}` : ''}). Scores would be wrong for those frames, so nothing is scored.`,
      { stage: 'evaluate', kind: 'invalid-input', field: 'root', file },
    );
  }
  for (const n of frameNames) {
    out.set(n, await readLabelPng(path.join(dir, `${n}.png`), palette ? { colourPalette: palette } : {}));
  }
  return out;
}

/** Where the predictions of a dataset are, once their layout is recognised. */
interface PredictionLayout {
  /** The folder RVOS predictions are read from (`<pred>` or `<pred>/Annotations`). */
  predDir: string;
  /** AVS: the folder of a video's prediction PNGs. */
  videoDir(item: DatasetItem): string;
}

function pngNames(dir: string): Set<string> | null {
  try {
    return new Set(readdirSync(dir).filter((n) => n.toLowerCase().endsWith('.png')));
  } catch {
    return null;
  }
}

/** True when at least one frame of one item has a prediction PNG in the folder `dirOf(item)` gives. */
function anyPrediction(units: ScoreUnit[], dirOf: (item: DatasetItem, unit: ScoreUnit) => string): boolean {
  for (const unit of units) {
    for (const item of unit.items) {
      const names = pngNames(dirOf(item, unit));
      if (names && item.frames.some((f) => names.has(`${f.name}.png`))) {
        return true;
      }
    }
  }
  return false;
}

/**
 * Recognises the layout of a prediction folder (see {@link PREDICTION_LAYOUTS}). A folder in which no
 * frame of any unit is found is an error that shows the expected layout with a real example path and,
 * where it is recognisable, what the folder holds instead (so a run does not print 0 for a layout slip).
 */
async function resolvePredictionLayout(ds: Dataset, predDir: string, units: ScoreUnit[], allowNone: boolean): Promise<PredictionLayout> {
  const isDir = existsSync(predDir) && (await stat(predDir)).isDirectory();
  if (!isDir && !allowNone) {
    throw new PipelineError(`The predictions folder ${predDir} does not exist or is not a folder. Expected layout: ${PREDICTION_LAYOUTS[ds.kind].join(', or ')}.`, {
      stage: 'evaluate', kind: 'invalid-input', field: 'pred', file: predDir,
    });
  }
  const plain: PredictionLayout = { predDir, videoDir: (item) => path.join(predDir, item.video) };
  if (units.length === 0 || !isDir) {
    return plain;
  }
  const isAvs = ds.kind.startsWith('avs');
  const rvosDir = (root: string) => (item: DatasetItem, unit: ScoreUnit): string =>
    ds.kind === 'ref-davis17' && existsSync(path.join(root, `anno_${unit.set ?? 0}`)) ? path.join(root, `anno_${unit.set ?? 0}`, item.video) : path.join(root, item.video, item.expressionId ?? '');
  if (anyPrediction(units, isAvs ? (item) => plain.videoDir(item) : rvosDir(predDir))) {
    return plain;
  }
  if (!isAvs && anyPrediction(units, rvosDir(path.join(predDir, 'Annotations')))) {
    const inner = path.join(predDir, 'Annotations');
    return { predDir: inner, videoDir: (item) => path.join(inner, item.video) };
  }
  if (ds.kind === 'avsbench-s4') {
    const byCategory = (item: DatasetItem): string => path.join(predDir, item.category ?? '', item.video);
    if (anyPrediction(units, byCategory)) {
      return { predDir, videoDir: byCategory };
    }
  }
  if (allowNone) {
    return plain;
  }
  const item = units[0].items[0];
  const frame = `${item.frames[0]?.name ?? '<frame>'}.png`;
  const example = isAvs ? path.join(predDir, item.video, frame) : path.join(predDir, item.video, item.expressionId ?? '', frame);
  let found = '';
  if (!isAvs && anyPrediction(units, (i) => path.join(predDir, i.video))) {
    found = ` The folder holds <video>/<frame>.png without the expression level: ${ds.kind} scores each expression separately, so every expression needs its own folder <video>/<expression id>/.`;
  } else if (isAvs && ds.kind !== 'avsbench-s4' && anyPrediction(units, (i) => path.join(predDir, i.category ?? '', i.video))) {
    found = ' The folder holds <category>/<video>/ folders; this kind expects <video>/ at the top.';
  }
  let entries: string[] = [];
  try {
    entries = (await readdir(predDir)).sort().slice(0, 5);
  } catch {
    // unreadable: the message says so below
  }
  throw new PipelineError(
    `No prediction in ${predDir} matches the ${ds.kind} layout (${units.length} unit(s) looked for, none found).${found} Expected: ${PREDICTION_LAYOUTS[ds.kind].join(', or ')}; for example ${example}. The folder holds: ${entries.length > 0 ? entries.join(', ') : 'nothing'}${entries.length === 5 ? ', ...' : ''}.`,
    { stage: 'evaluate', kind: 'invalid-input', field: 'pred', file: predDir },
  );
}

/** Ground truth of one frame of a dataset item, as the evaluate stage reads it. */
export interface ItemGtFrame {
  /** 1 = object, 0 = background, 255 = void (DAVIS only, then `ids` is true). */
  labels: Uint8Array;
  width: number;
  height: number;
  ids: boolean;
}

/**
 * The ground truth of one dataset item, frame by frame in the item's frame order (null where a frame
 * is not annotated): the referred object(s) for RVOS, the sounding objects for AVS.
 */
export async function itemGroundTruth(ds: Dataset, item: DatasetItem): Promise<Array<ItemGtFrame | null>> {
  if (!ds.hasGroundTruth) {
    throw new PipelineError(`The ${ds.kind} split "${ds.split}" has no local ground truth.`, { stage: 'evaluate', kind: 'invalid-input', field: 'dataset.split' });
  }
  if (ds.kind === 'mevis') {
    const dict = JSON.parse(await readFile(ds.maskDictPath!, 'utf8')) as Record<string, Array<RleMask | null>>;
    let size: [number, number] | null = null;
    for (const a of item.annotationIds ?? []) {
      size ??= (dict[a] ?? []).find((r): r is RleMask => Boolean(r))?.size ?? null;
    }
    return item.frames.map((_, t) => {
      let acc: Uint8Array | null = size ? new Uint8Array(size[0] * size[1]) : null;
      for (const a of item.annotationIds ?? []) {
        const rle = dict[a]?.[t];
        if (rle) {
          const m = decodeRle(rle);
          acc ??= new Uint8Array(m.length);
          for (let i = 0; i < m.length; i++) {
            acc[i] |= m[i];
          }
        }
      }
      return acc && size ? { labels: acc, width: size[1], height: size[0], ids: false } : null;
    });
  }
  const dir = ds.gtDirs.get(item.video);
  if (!dir || !existsSync(dir)) {
    throw new PipelineError(`No ground-truth folder for ${item.video}.`, { stage: 'evaluate', kind: 'invalid-input', field: 'dataset.item' });
  }
  const names = (await readdir(dir)).filter((n) => n.toLowerCase().endsWith('.png')).sort(naturalCompare);
  const palette = ds.kind === 'avss' || ds.kind === 'avss-v2-binary' ? avssPalette() : undefined;
  const byName = new Map(names.map((n) => [n.slice(0, -4), n]));
  const out: Array<ItemGtFrame | null> = [];
  for (const [t, f] of item.frames.entries()) {
    const n = byName.get(f.name) ?? (ds.kind.startsWith('avs') ? names[t] : undefined);
    if (!n) {
      out.push(null);
      continue;
    }
    const img = await readLabelPng(path.join(dir, n), palette ? { colourPalette: palette } : {});
    const labels = new Uint8Array(img.data.length);
    if (ds.kind === 'ref-davis17') {
      const id = item.objectIds?.[0] ?? 1;
      for (let i = 0; i < labels.length; i++) {
        labels[i] = img.data[i] === id ? 1 : img.data[i] === 255 ? 255 : 0;
      }
      out.push({ labels, width: img.width, height: img.height, ids: true });
      continue;
    }
    if (ds.kind === 'ref-youtube-vos') {
      const ids = new Set(item.objectIds ?? []);
      for (let i = 0; i < labels.length; i++) {
        labels[i] = ids.has(img.data[i]) ? 1 : 0;
      }
    } else {
      for (let i = 0; i < labels.length; i++) {
        labels[i] = img.data[i] !== 0 ? 1 : 0;
      }
    }
    out.push({ labels, width: img.width, height: img.height, ids: false });
  }
  return out;
}

function naturalCompare(a: string, b: string): number {
  return a.localeCompare(b, 'en', { numeric: true });
}

async function scoreExpression(
  item: DatasetItem,
  predDir: string,
  gtFor: (t: number, frame: string) => Promise<{ mask: Uint8Array; width: number; height: number } | null>,
  warn: (m: string) => void,
): Promise<ScoreRecord> {
  const dir = path.join(predDir, item.video, item.expressionId ?? '');
  const frameNames = item.frames.map((f) => f.name);
  const T = frameNames.length;
  if (!existsSync(dir)) {
    warn(`${item.id}: no predictions (${dir}); the expression scores 0.`);
    return { type: 'expression', id: item.id, video: item.video, j: 0, f: 0, perFrameJ: new Array(T).fill(0), perFrameF: new Array(T).fill(0), frameNames, missingFrames: T, missing: true };
  }
  const perFrameJ: number[] = [];
  const perFrameF: number[] = [];
  let missingFrames = 0;
  let badSize = 0;
  for (let t = 0; t < T; t++) {
    const p = await readPred(path.join(dir, `${frameNames[t]}.png`), warn);
    if (!p) {
      missingFrames++;
      perFrameJ.push(0);
      perFrameF.push(0);
      continue;
    }
    const g = (await gtFor(t, frameNames[t])) ?? { mask: new Uint8Array(p.width * p.height), width: p.width, height: p.height };
    if (g.width !== p.width || g.height !== p.height) {
      badSize++;
      perFrameJ.push(0);
      perFrameF.push(0);
      continue;
    }
    // packed once per mask (any non-zero value is the object): J and F both read the features
    const pf = maskFeatures(p.data, p.width, p.height);
    const gf = maskFeatures(g.mask, g.width, g.height);
    perFrameJ.push(jaccardFeatures(pf, gf));
    perFrameF.push(fMeasureFeatures(pf, gf).f);
  }
  if (missingFrames > 0) {
    warn(`${item.id}: ${missingFrames} of ${T} prediction frames are missing; they score 0.`);
  }
  if (badSize > 0) {
    warn(`${item.id}: ${badSize} prediction frames differ in size from the ground truth; they score 0.`);
  }
  const mean = (xs: number[]): number => (xs.length === 0 ? 0 : xs.reduce((s, x) => s + x, 0) / xs.length);
  return { type: 'expression', id: item.id, video: item.video, j: mean(perFrameJ), f: mean(perFrameF), perFrameJ, perFrameF, frameNames, missingFrames, missing: false };
}

async function scoreDavisSet(unit: ScoreUnit, predDir: string, gts: Map<string, LabelImage>, warn: (m: string) => void): Promise<ScoreRecord> {
  const set = unit.set ?? 0;
  const frameIds = [...gts.keys()].sort();
  const gt = frameIds.map((f) => gts.get(f)!);
  const official = path.join(predDir, `anno_${set}`, unit.video);
  const pred: Array<LabelImage | null> = [];
  if (existsSync(official)) {
    for (const f of frameIds) {
      pred.push(await readPred(path.join(official, `${f}.png`), warn));
    }
  } else {
    // compose the set's expressions into one label map per frame, object id = the expression's obj_id
    const anyPred = unit.items.some((i) => existsSync(path.join(predDir, i.video, i.expressionId ?? '')));
    for (const f of frameIds) {
      if (!anyPred) {
        pred.push(null);
        continue;
      }
      const g = gts.get(f)!;
      const labels = new Uint8Array(g.width * g.height);
      let sized = true;
      for (const item of [...unit.items].sort((a, b) => (a.objectIds?.[0] ?? 0) - (b.objectIds?.[0] ?? 0))) {
        const p = await readPred(path.join(predDir, item.video, item.expressionId ?? '', `${f}.png`), warn);
        if (!p) {
          continue;
        }
        if (p.width !== g.width || p.height !== g.height) {
          sized = false;
          continue;
        }
        const id = item.objectIds?.[0] ?? 1;
        for (let i = 0; i < labels.length; i++) {
          if (p.data[i] !== 0 && labels[i] === 0) {
            labels[i] = id;
          }
        }
      }
      pred.push(sized ? { width: g.width, height: g.height, data: labels, indexed: true } : { width: 0, height: 0, data: new Uint8Array(0), indexed: true });
    }
  }
  const r = evaluateDavisSequence({ sequence: unit.video, frameIds, gt, pred, task: 'unsupervised' });
  for (const w of r.warnings) {
    warn(`anno_${set}/${w}`);
  }
  return {
    type: 'davis-set', id: unit.id, video: unit.video, set,
    objects: r.objects.map((o) => ({ name: o.name, gtObjectId: o.gtObjectId, predObjectId: o.predObjectId, j: o.j, f: o.f })),
  };
}

/** Dataset-level numbers. `headline` holds the numbers papers report for the kind. */
export interface ScoreSummary {
  kind: Dataset['kind'];
  units: number;
  headline: Record<string, number>;
  /** Ref-DAVIS17: DAVIS numbers per annotator set. */
  perSet?: DavisSummary[];
  /** AVS: both conventions. */
  avs?: Record<AvsConvention, { mJ: number; mF: number; count: number }>;
  /** AVSS: per-class values. */
  avss?: ReturnType<AvssAccumulator['result']>;
}

/** Turns records (from one run or merged shards) into dataset numbers. Records are deduplicated by id. */
export function summarizeRecords(kind: Dataset['kind'], records: ScoreRecord[]): ScoreSummary {
  const byId = new Map<string, ScoreRecord>();
  for (const r of records) {
    byId.set(r.id, r);
  }
  const recs = [...byId.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const mean = (xs: number[]): number => (xs.length === 0 ? 0 : xs.reduce((s, x) => s + x, 0) / xs.length);
  switch (kind) {
    case 'mevis':
    case 'ref-youtube-vos': {
      const ex = recs.filter((r): r is Extract<ScoreRecord, { type: 'expression' }> => r.type === 'expression');
      const j = mean(ex.map((r) => r.j));
      const f = mean(ex.map((r) => r.f));
      return { kind, units: ex.length, headline: { 'J&F': (j + f) / 2, J: j, F: f } };
    }
    case 'ref-davis17': {
      const sets: DavisSummary[] = [];
      for (let k = 0; k < 4; k++) {
        const rs = recs.filter((r): r is Extract<ScoreRecord, { type: 'davis-set' }> => r.type === 'davis-set' && r.set === k);
        sets.push(summarizeDavis(rs.map((r) => ({
          sequence: r.video, frameIds: [], warnings: [],
          objects: r.objects.map((o) => ({ ...o, perFrameJ: [], perFrameF: [] })),
        }))));
      }
      const used = sets.filter((s) => s.objects > 0);
      return {
        kind, units: recs.length, perSet: sets,
        headline: { 'J&F': mean(used.map((s) => s.jf)), J: mean(used.map((s) => s.jMean)), F: mean(used.map((s) => s.fMean)) },
      };
    }
    case 'avsbench-s4':
    case 'avsbench-ms3':
    case 'avss-v2-binary': {
      const vs = recs.filter((r): r is Extract<ScoreRecord, { type: 'avs-video' }> => r.type === 'avs-video');
      const perVideo = { mJ: mean(vs.map((v) => mean(v.frameJ))), mF: mean(vs.map((v) => v.videoF)), count: vs.length };
      const allJ = vs.flatMap((v) => v.frameJ);
      const allF = vs.flatMap((v) => v.frameF);
      const perFrame = { mJ: mean(allJ), mF: mean(allF), count: allJ.length };
      return {
        kind, units: vs.length, avs: { 'per-video': perVideo, 'per-frame': perFrame },
        headline: { M_J: perVideo.mJ, M_F: perVideo.mF, 'M_J (per frame)': perFrame.mJ, 'M_F (per frame)': perFrame.mF },
      };
    }
    case 'avss': {
      const acc = new AvssAccumulator(AVSS_CLASSES);
      const vs = recs.filter((r): r is Extract<ScoreRecord, { type: 'avss-video' }> => r.type === 'avss-video');
      for (const v of vs) {
        acc.addSums(v);
      }
      const res = acc.result();
      return { kind, units: vs.length, avss: res, headline: { mIoU: res.mIoU, 'F-score': res.fScore, 'mIoU (no bg)': res.mIoUNoBg, 'F-score (no bg)': res.fScoreNoBg } };
    }
  }
}
