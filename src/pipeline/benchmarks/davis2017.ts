/**
 * Plain DAVIS 2017 (semi-supervised and unsupervised video object segmentation) scored from the
 * official folders, with the official toolkit's outputs: the global table (J&F-Mean, J-Mean, J-Recall,
 * J-Decay, F-Mean, F-Recall, F-Decay) and the per-object table, as `global_results-<split>.csv` and
 * `per-sequence_results-<split>.csv` (3 decimals, the toolkit's pandas `to_csv(float_format="%.3f")`).
 *
 * Layout (root = the DAVIS folder, or a folder holding `DAVIS/`):
 * - `ImageSets/2017/<split>.txt`: one sequence per line (split `train` or `val`);
 * - `Annotations/480p/<seq>/<frame>.png` (semi-supervised) or `Annotations_unsupervised/480p/<seq>/<frame>.png`
 *   (unsupervised): indexed PNGs of object ids, 255 = void;
 * - `JPEGImages/480p/<seq>/<frame>.jpg`: the frames (when present, every frame needs its annotation;
 *   without it, the annotation PNGs are the frames);
 * - predictions: `<pred>/<seq>/<frame>.png`, indexed PNGs of object ids.
 *
 * Differences from the toolkit, on purpose: its decay casts the frame indices to uint8, so sequences
 * longer than 256 frames get wrapped bins (NaN or wrong decay); here the indices are not wrapped (DAVIS
 * 2017 itself has no sequence that long, so DAVIS numbers are identical). A missing prediction frame
 * scores 0 with a warning where the toolkit stops; a missing annotation is an error naming the file.
 */
import { existsSync } from 'node:fs';
import { readFile, readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { PipelineError, throwIfAborted } from '../errors';
import { evaluateDavisSequence, summarizeDavis, type DavisSequenceResult, type DavisSummary, type DavisTask } from '../metrics/davisSequence';
import { decodeLabelPng, readLabelPng, type LabelImage } from '../masks/labelPng';

/** The DAVIS 2017 layout in words (errors, `--help`). */
export const DAVIS2017_LAYOUT = 'ImageSets/2017/<split>.txt, Annotations/480p/<seq>/<frame>.png (semi-supervised) or Annotations_unsupervised/480p/<seq>/<frame>.png (unsupervised), JPEGImages/480p/<seq>/<frame>.jpg';
/** The prediction layout `alref score --dataset davis2017` reads. */
export const DAVIS2017_PRED_LAYOUT = '<pred>/<seq>/<frame>.png (indexed PNGs of object ids, the toolkit\'s results folder)';

/** Options of {@link scoreDavis2017}. */
export interface Davis2017Options {
  root: string;
  predDir: string;
  task: DavisTask;
  /** `train` or `val` (default `val`; `valid` is read as `val`). */
  split?: string;
  signal?: AbortSignal;
  onProgress?(done: number, total: number, sequence: string): void;
  onWarning?(message: string): void;
}

/** Result of {@link scoreDavis2017}. */
export interface Davis2017Result {
  root: string;
  split: string;
  task: DavisTask;
  predictions: string;
  summary: DavisSummary;
  sequences: DavisSequenceResult[];
  warnings: string[];
}

function layoutError(message: string, file?: string, field = 'root'): PipelineError {
  return new PipelineError(`${message} Expected DAVIS 2017 layout: ${DAVIS2017_LAYOUT}.`, { stage: 'evaluate', kind: 'invalid-input', field, file });
}

/** The DAVIS folder under `root` (root itself, or `root/DAVIS`). */
function davisRoot(root: string): string {
  const abs = path.resolve(root);
  if (!existsSync(path.join(abs, 'ImageSets')) && existsSync(path.join(abs, 'DAVIS', 'ImageSets'))) {
    return path.join(abs, 'DAVIS');
  }
  return abs;
}

async function pngStems(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter((n) => n.toLowerCase().endsWith('.png')).map((n) => n.slice(0, -4)).sort();
}

/**
 * Scores a DAVIS 2017 results folder like the official toolkit (`evaluation_method.py --task ... --set ...`).
 *
 * @example
 * const r = await scoreDavis2017({ root: '/data/DAVIS', predDir: 'results', task: 'semi-supervised' });
 * r.summary.jf;
 */
export async function scoreDavis2017(options: Davis2017Options): Promise<Davis2017Result> {
  const root = davisRoot(options.root);
  const split = options.split === undefined || options.split === 'valid' ? 'val' : options.split;
  const { task } = options;
  const predDir = path.resolve(options.predDir);
  const warnings: string[] = [];
  const warn = (m: string): void => {
    warnings.push(m);
    options.onWarning?.(m);
  };
  if (!existsSync(root) || !(await stat(root)).isDirectory()) {
    throw layoutError(`The DAVIS folder ${root} does not exist.`, root);
  }
  const imageSet = path.join(root, 'ImageSets', '2017', `${split}.txt`);
  if (!existsSync(imageSet)) {
    throw layoutError(`${imageSet} is missing (the sequence list of split "${split}").`, imageSet, 'split');
  }
  const sequences = (await readFile(imageSet, 'utf8')).split(/\r?\n/).map((l) => l.trim()).filter(Boolean);
  if (sequences.length === 0) {
    throw layoutError(`${imageSet} lists no sequence.`, imageSet, 'split');
  }
  const annRoot = path.join(root, task === 'semi-supervised' ? 'Annotations' : 'Annotations_unsupervised', '480p');
  if (!existsSync(annRoot)) {
    throw layoutError(`The ${task} annotations ${annRoot} are missing.`, annRoot);
  }
  if (!existsSync(predDir) || !(await stat(predDir)).isDirectory()) {
    throw new PipelineError(`The predictions folder ${predDir} does not exist or is not a folder. Expected: ${DAVIS2017_PRED_LAYOUT}.`, {
      stage: 'evaluate', kind: 'invalid-input', field: 'pred', file: predDir,
    });
  }
  // a results folder in which no sequence has a folder is a layout slip, not a score of 0
  if (!sequences.some((s) => existsSync(path.join(predDir, s)))) {
    const held = (await readdir(predDir)).sort().slice(0, 5);
    throw new PipelineError(
      `No prediction in ${predDir} matches the DAVIS 2017 layout: none of the ${sequences.length} sequence folders of ${split} is there. Expected: ${DAVIS2017_PRED_LAYOUT}; for example ${path.join(predDir, sequences[0], '00000.png')}. The folder holds: ${held.length > 0 ? held.join(', ') : 'nothing'}${held.length === 5 ? ', ...' : ''}.`,
      { stage: 'evaluate', kind: 'invalid-input', field: 'pred', file: predDir },
    );
  }
  const results: DavisSequenceResult[] = [];
  for (const [k, seq] of sequences.entries()) {
    throwIfAborted(options.signal, 'evaluate');
    const gtDir = path.join(annRoot, seq);
    if (!existsSync(gtDir)) {
      throw layoutError(`The annotations of ${seq} are missing: ${gtDir} does not exist.`, gtDir);
    }
    const imgDir = path.join(root, 'JPEGImages', '480p', seq);
    const gtNames = await pngStems(gtDir);
    const frameIds = existsSync(imgDir)
      ? (await readdir(imgDir)).filter((n) => /\.jpe?g$/i.test(n)).map((n) => n.replace(/\.jpe?g$/i, '')).sort()
      : gtNames;
    const have = new Set(gtNames);
    const absent = frameIds.filter((f) => !have.has(f));
    if (absent.length > 0 || frameIds.length === 0) {
      const file = path.join(gtDir, `${absent[0] ?? '00000'}.png`);
      throw new PipelineError(`Annotation ${file} is missing (${absent.length || 'all'} of ${frameIds.length || 'the'} frames of ${seq} have no annotation PNG).`, {
        stage: 'evaluate', kind: 'invalid-input', field: 'root', file,
      });
    }
    const gt: LabelImage[] = [];
    for (const f of frameIds) {
      gt.push(await readLabelPng(path.join(gtDir, `${f}.png`)));
    }
    const pred: Array<LabelImage | null> = [];
    const seqPred = path.join(predDir, seq);
    if (!existsSync(seqPred)) {
      warn(`${seq}: no predictions (${seqPred}); every object of the sequence scores 0.`);
    }
    for (const [t, f] of frameIds.entries()) {
      // semi-supervised does not score the first and last frames, so their files are not needed
      const scored = task === 'unsupervised' || (t > 0 && t < frameIds.length - 1);
      const file = path.join(seqPred, `${f}.png`);
      if (!scored || !existsSync(file)) {
        pred.push(null);
        continue;
      }
      try {
        pred.push(decodeLabelPng(await readFile(file), file));
      } catch (err) {
        warn(`${file}: ${(err as Error).message}; scored as missing.`);
        pred.push(null);
      }
    }
    const r = evaluateDavisSequence({ sequence: seq, frameIds, gt, pred, task });
    if (existsSync(seqPred)) {
      r.warnings.forEach(warn);
    }
    results.push(r);
    options.onProgress?.(k + 1, sequences.length, seq);
  }
  return { root, split, task, predictions: predDir, summary: summarizeDavis(results), sequences: results, warnings };
}

const GLOBAL_COLUMNS = ['J&F-Mean', 'J-Mean', 'J-Recall', 'J-Decay', 'F-Mean', 'F-Recall', 'F-Decay'] as const;

function globalRow(s: DavisSummary): number[] {
  return [s.jf, s.jMean, s.jRecall, s.jDecay, s.fMean, s.fRecall, s.fDecay];
}

/** A number as pandas writes it with `float_format="%.3f"` (NaN as an empty field). */
function csvNumber(v: number): string {
  return Number.isNaN(v) ? '' : v.toFixed(3);
}

/** `global_results-<split>.csv` as the toolkit writes it. */
export function davisGlobalCsv(summary: DavisSummary): string {
  return `${GLOBAL_COLUMNS.join(',')}\n${globalRow(summary).map(csvNumber).join(',')}\n`;
}

/** `per-sequence_results-<split>.csv` as the toolkit writes it: one row per object (`<seq>_<k>`). */
export function davisPerSequenceCsv(sequences: DavisSequenceResult[]): string {
  const rows = sequences.flatMap((s) => s.objects.map((o) => `${o.name},${csvNumber(o.j.mean)},${csvNumber(o.f.mean)}`));
  return `Sequence,J-Mean,F-Mean\n${rows.map((r) => `${r}\n`).join('')}`;
}

/** A table the way pandas' `to_string(index=False)` prints it: right-aligned, 6 decimals. */
function pandasTable(header: string[], rows: Array<Array<string | number>>): string {
  const cells = rows.map((r) => r.map((v) => (typeof v === 'number' ? (Number.isNaN(v) ? 'NaN' : v.toFixed(6)) : v)));
  const widths = header.map((h, c) => Math.max(h.length + 1, ...cells.map((r) => r[c].length)));
  const line = (r: string[]): string => r.map((v, c) => v.padStart(widths[c])).join(' ');
  return [line(header), ...cells.map(line)].join('\n');
}

/** What the toolkit prints: the global table, then the per-object table. */
export function formatDavisTables(result: Pick<Davis2017Result, 'summary' | 'sequences' | 'split'>): string {
  const objs = result.sequences.flatMap((s) => s.objects);
  return [
    `--------------------------- Global results for ${result.split} ---------------------------`,
    pandasTable([...GLOBAL_COLUMNS], [globalRow(result.summary)]),
    '',
    `---------- Per sequence results for ${result.split} ----------`,
    pandasTable(['Sequence', 'J-Mean', 'F-Mean'], objs.map((o) => [o.name, o.j.mean, o.f.mean])),
  ].join('\n');
}
