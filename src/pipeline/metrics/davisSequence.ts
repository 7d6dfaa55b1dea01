/**
 * DAVIS 2017 sequence evaluation (semi-supervised and unsupervised tasks) and its global summary,
 * following the official `davis2017-evaluation` toolkit:
 *
 * - ground-truth PNGs hold object ids; 255 is void. The objects of a sequence are ids
 *   1..max(first frame) (void removed), as the toolkit counts them;
 * - predictions hold object ids too; their objects are 1..max over all predicted frames;
 * - semi-supervised: the first and last frames are not scored, void is not used, prediction id k is
 *   object k (ids above the number of objects are reported and ignored; the toolkit stops there);
 * - unsupervised: every frame is scored, void pixels are ignored in J and F, at most 20 predicted
 *   objects, and predictions are matched to objects by the Hungarian algorithm on the mean over frames
 *   of (J + F) / 2 (maximised);
 * - a missing or wrongly sized prediction frame scores 0 for every object in that frame (the toolkit
 *   stops on a missing file; a score of 0 keeps a long run going and is reported as a warning).
 */
import { linearSumAssignment } from 'linear-sum-assignment';
import { PipelineError } from '../errors';
import { davisStatistics, fMeasureFeatures, jaccardFeatures, labelRows, packedFeatures, packLabel, releaseFeatures, voidBits, type LabelRows, type DavisStatistics, type MaskFeatures } from './maskMetrics';
import type { LabelImage } from '../masks/labelPng';

/** DAVIS evaluation task. */
export type DavisTask = 'semi-supervised' | 'unsupervised';

/** One evaluated object of a sequence. */
export interface DavisObjectResult {
  /** `<sequence>_<k>` as the toolkit names it (k = 1-based position in its output). */
  name: string;
  /** Ground-truth object id this result belongs to. */
  gtObjectId: number;
  /** Prediction id matched to it (unsupervised), the same id (semi-supervised), or null (padding). */
  predObjectId: number | null;
  j: DavisStatistics;
  f: DavisStatistics;
  perFrameJ: number[];
  perFrameF: number[];
}

/** Result of {@link evaluateDavisSequence}. */
export interface DavisSequenceResult {
  sequence: string;
  /** Frame ids (file stems) that were scored. */
  frameIds: string[];
  objects: DavisObjectResult[];
  warnings: string[];
}

/** Input of {@link evaluateDavisSequence}: one label map per frame, `null` for a missing prediction. */
export interface DavisSequenceInput {
  sequence: string;
  frameIds: string[];
  gt: LabelImage[];
  pred: Array<LabelImage | null>;
  task: DavisTask;
  /** Unsupervised only: the toolkit's limit on predicted objects (default 20). */
  maxProposals?: number;
  /**
   * Where the number of ground-truth objects comes from: the first frame (the toolkit's rule, default)
   * or every frame (for binary masks whose object appears later, e.g. a notebook's ground-truth folder).
   */
  objectsFrom?: 'first-frame' | 'all-frames';
}

function maxLabel(data: Uint8Array, ignore255: boolean): number {
  let m = 0;
  const n = data.length;
  let i = 0;
  if ((data.byteOffset & 3) === 0) {
    // background words (4 zero pixels) are skipped whole
    const words = new Uint32Array(data.buffer, data.byteOffset, n >>> 2);
    for (let k = 0; k < words.length; k++) {
      if (words[k] === 0) {
        continue;
      }
      for (let j = k << 2, e = j + 4; j < e; j++) {
        const v = data[j];
        if (v > m && !(ignore255 && v === 255)) {
          m = v;
        }
      }
    }
    i = words.length << 2;
  }
  for (; i < n; i++) {
    const v = data[i];
    if (v > m && !(ignore255 && v === 255)) {
      m = v;
    }
  }
  return m;
}

/**
 * Scores one sequence. Ground truth and predictions are label maps of object ids.
 *
 * @example
 * const r = evaluateDavisSequence({ sequence: 'car-shadow', frameIds, gt, pred, task: 'semi-supervised' });
 * summarizeDavis([r]).jf;
 */
export function evaluateDavisSequence(input: DavisSequenceInput): DavisSequenceResult {
  const { sequence, task } = input;
  const warnings: string[] = [];
  if (input.gt.length === 0) {
    return { sequence, frameIds: [], objects: [], warnings: [`${sequence}: no ground-truth frames.`] };
  }
  const { width, height } = input.gt[0];
  const nGt = input.objectsFrom === 'all-frames' ? Math.max(...input.gt.map((g) => maxLabel(g.data, true))) : maxLabel(input.gt[0].data, true);
  let frames = input.gt.map((_, t) => t);
  if (task === 'semi-supervised') {
    frames = frames.slice(1, -1);
  }
  const frameIds = frames.map((t) => input.frameIds[t]);
  const usable = (t: number): LabelImage | null => {
    const p = input.pred[t];
    if (!p) {
      return null;
    }
    if (p.width !== width || p.height !== height) {
      return null;
    }
    return p;
  };
  const missing = frames.filter((t) => !input.pred[t]);
  const badSize = frames.filter((t) => input.pred[t] && !usable(t));
  if (missing.length > 0) {
    warnings.push(`${sequence}: ${missing.length} prediction frame(s) missing (first: ${input.frameIds[missing[0]]}); they score 0.`);
  }
  if (badSize.length > 0) {
    const p = input.pred[badSize[0]]!;
    warnings.push(`${sequence}: ${badSize.length} prediction frame(s) are ${p.width}x${p.height}, ground truth is ${width}x${height} (first: ${input.frameIds[badSize[0]]}); they score 0.`);
  }
  if (nGt === 0) {
    warnings.push(`${sequence}: the first ground-truth frame has no object; nothing to score.`);
    return { sequence, frameIds, objects: [], warnings };
  }
  // the rows each id occupies in each usable prediction: the number of predicted objects, and the
  // rows the kernels visit
  const predRows = new Map<number, LabelRows>();
  let nPred = 0;
  for (const t of task === 'semi-supervised' ? frames : input.gt.map((_, i) => i)) {
    const p = usable(t);
    if (p) {
      const rows = labelRows(p.data, width, height);
      predRows.set(t, rows);
      nPred = Math.max(nPred, rows.max255);
    }
  }
  if (task === 'semi-supervised' && nPred > nGt) {
    warnings.push(`${sequence}: predictions use object id ${nPred}, but the ground truth has ${nGt} object(s); ids above ${nGt} are ignored.`);
  }
  const maxProposals = input.maxProposals ?? 20;
  if (task === 'unsupervised' && nPred > maxProposals) {
    throw new PipelineError(`${sequence}: predictions use object id ${nPred}, above the ${maxProposals} proposals the unsupervised DAVIS protocol allows.`, {
      stage: 'evaluate', kind: 'invalid-input', field: 'pred',
    });
  }
  const nRes = task === 'semi-supervised' ? nGt : Math.max(nPred, nGt);
  // jRes[r][g][k], fRes[r][g][k]; semi-supervised only uses r = g
  const T = frames.length;
  const jRes: Float64Array[][] = [];
  const fRes: Float64Array[][] = [];
  for (let r = 0; r < nRes; r++) {
    jRes.push([]);
    fRes.push([]);
    for (let g = 0; g < nGt; g++) {
      jRes[r].push(new Float64Array(T));
      fRes[r].push(new Float64Array(T));
    }
  }
  for (let k = 0; k < T; k++) {
    const t = frames[k];
    const gtImg = input.gt[t];
    if (gtImg.width !== width || gtImg.height !== height) {
      throw new PipelineError(`${sequence}: ground-truth frame ${input.frameIds[t]} is ${gtImg.width}x${gtImg.height}, the first frame is ${width}x${height}.`, {
        stage: 'evaluate', kind: 'invalid-input', field: 'gt',
      });
    }
    const p = usable(t);
    if (!p) {
      continue; // stays 0
    }
    // void (255 in the ground truth) is ignored in the unsupervised task only: its bits, once per frame
    const voidLabels = task === 'unsupervised' ? voidBits(gtImg.data, width * height) : undefined;
    const gtRows = labelRows(gtImg.data, width, height);
    const gtFeat: MaskFeatures[] = [];
    for (let g = 0; g < nGt; g++) {
      gtFeat.push(packedFeatures(packLabel(gtImg.data, g + 1, width, height, voidLabels, gtRows)));
    }
    const predFeat: MaskFeatures[] = [];
    for (let r = 0; r < nRes; r++) {
      predFeat.push(packedFeatures(packLabel(p.data, r + 1, width, height, voidLabels, predRows.get(t))));
    }
    for (let r = 0; r < nRes; r++) {
      for (let g = 0; g < nGt; g++) {
        if (task === 'semi-supervised' && r !== g) {
          continue;
        }
        jRes[r][g][k] = jaccardFeatures(predFeat[r], gtFeat[g]);
        fRes[r][g][k] = fMeasureFeatures(predFeat[r], gtFeat[g]).f;
      }
    }
    releaseFeatures(gtFeat);
    releaseFeatures(predFeat);
  }
  const pairs: Array<{ r: number; g: number }> = [];
  if (task === 'semi-supervised') {
    for (let g = 0; g < nGt; g++) {
      pairs.push({ r: g, g });
    }
  } else {
    const mean = (a: Float64Array): number => (a.length === 0 ? 0 : a.reduce((s, x) => s + x, 0) / a.length);
    const cost = jRes.map((row, r) => row.map((_, g) => (mean(jRes[r][g]) + mean(fRes[r][g])) / 2));
    const { rowAssignments } = linearSumAssignment(cost, { maximaze: true });
    for (let r = 0; r < nRes; r++) {
      const g = rowAssignments[r];
      if (g >= 0) {
        pairs.push({ r, g });
      }
    }
  }
  const objects: DavisObjectResult[] = pairs.map(({ r, g }, i) => ({
    name: `${sequence}_${i + 1}`,
    gtObjectId: g + 1,
    predObjectId: r < nPred ? r + 1 : null,
    j: davisStatistics(jRes[r][g]),
    f: davisStatistics(fRes[r][g]),
    perFrameJ: Array.from(jRes[r][g]),
    perFrameF: Array.from(fRes[r][g]),
  }));
  return { sequence, frameIds, objects, warnings };
}

/** Global DAVIS numbers: means over all objects of all sequences. */
export interface DavisSummary {
  jf: number;
  jMean: number;
  jRecall: number;
  jDecay: number;
  fMean: number;
  fRecall: number;
  fDecay: number;
  objects: number;
}

/** DAVIS global results: per-object statistics averaged over objects; J&F = (J-Mean + F-Mean) / 2. */
export function summarizeDavis(results: DavisSequenceResult[]): DavisSummary {
  const objs = results.flatMap((r) => r.objects);
  const mean = (xs: number[]): number => (xs.length === 0 ? Number.NaN : xs.reduce((s, x) => s + x, 0) / xs.length);
  const jMean = mean(objs.map((o) => o.j.mean));
  const fMean = mean(objs.map((o) => o.f.mean));
  return {
    jf: (jMean + fMean) / 2,
    jMean,
    jRecall: mean(objs.map((o) => o.j.recall)),
    jDecay: mean(objs.map((o) => o.j.decay)),
    fMean,
    fRecall: mean(objs.map((o) => o.f.recall)),
    fDecay: mean(objs.map((o) => o.f.decay)),
    objects: objs.length,
  };
}
