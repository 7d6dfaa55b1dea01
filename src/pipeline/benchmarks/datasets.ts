/**
 * Readers of the benchmark folders, in the layouts the public releases and reference code use.
 * A reader returns {@link DatasetItem}s, the units the pipeline runs on (one language expression, or
 * one AVS video), plus where the ground truth is. Nothing is decoded here; frames and masks are read
 * when scored.
 *
 * Layouts (root = the folder given with `--root`):
 * - `ref-youtube-vos`: `meta_expressions/<split>/meta_expressions.json`, `<split>/JPEGImages/<video>/<frame>.jpg`;
 *   `train` also has `<split>/Annotations/<video>/<frame>.png` (palette, object ids). valid/test are
 *   scored by the benchmark server from the submission zip.
 * - `ref-davis17`: the ReferFormer conversion (`meta_expressions/<split>/meta_expressions.json` with 4
 *   expressions per object, `<split>/JPEGImages`, `<split>/Annotations`) or the raw release
 *   (`davis_text_annotations/Davis17_annot{1,2}[_full_video].txt`, `DAVIS/JPEGImages/480p`,
 *   `DAVIS/Annotations_unsupervised/480p`, `DAVIS/ImageSets/2017/<split>.txt`). The 4 annotator sets are
 *   annot1 first-frame, annot1 full-video, annot2 first-frame, annot2 full-video (set index 0..3).
 * - `mevis`: `<split>/meta_expressions.json`, `<split>/JPEGImages/<video>/<frame>.jpg`,
 *   `<split>/mask_dict.json` (COCO RLE per annotation id and frame; absent for the server split `valid`).
 *   Videos and expressions may be objects keyed by id or arrays; `obj_id`/`anno_id` scalars or arrays.
 * - `avsbench-s4`: `Single-source/s4_meta_data.csv`, `Single-source/s4_data/{visual_frames,audio_wav,gt_masks}/<split>/<category>/...`.
 * - `avsbench-ms3`: `Multi-sources/ms3_meta_data.csv`, `Multi-sources/ms3_data/visual_frames/<video>/<video>.mp4_<k>.png`,
 *   `audio_wav/<split>/<video>.wav`, `gt_masks/<split>/<video>/<video>_<k>.png`.
 * - `avss` and `avss-v2-binary` (binary scoring of the `v2` subset): `metadata.csv` (uid, split, label),
 *   `<label>/<uid>/frames/<k>.jpg`, `<label>/<uid>/audio.wav`, `<label>/<uid>/labels_rgb/<k>.png`.
 */
import { existsSync } from 'node:fs';
import { readFile, readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { PipelineError } from '../errors';
import type { PRESETS } from '../sampling';

/**
 * Dataset kinds `--dataset` and the evaluate stage accept. They are the names of the video-stage
 * presets (`PRESETS` in sampling.ts) too, so one benchmark has one name everywhere.
 */
export const DATASET_KINDS = ['ref-youtube-vos', 'ref-davis17', 'mevis', 'avsbench-s4', 'avsbench-ms3', 'avss', 'avss-v2-binary'] as const satisfies ReadonlyArray<keyof typeof PRESETS>;
export type DatasetKind = (typeof DATASET_KINDS)[number];

/** Earlier spellings of dataset kinds, still read (with a deprecation notice) from command lines, cells and score files. */
const DEPRECATED_DATASET_KINDS: Readonly<Record<string, DatasetKind>> = {
  'avs-s4': 'avsbench-s4',
  'avs-ms3': 'avsbench-ms3',
  'avs-v2': 'avss-v2-binary',
};

/**
 * The dataset kind a name means, with a deprecation notice when the name is an earlier spelling;
 * undefined for a name that is neither.
 */
export function resolveDatasetKind(name: string): { kind: DatasetKind; notice?: string } | undefined {
  if ((DATASET_KINDS as readonly string[]).includes(name)) {
    return { kind: name as DatasetKind };
  }
  if (!Object.hasOwn(DEPRECATED_DATASET_KINDS, name)) {
    return undefined;
  }
  const kind = DEPRECATED_DATASET_KINDS[name];
  return { kind, notice: `dataset kind "${name}" is deprecated; use "${kind}" (the name of its video preset). "${name}" is still read for now.` };
}

/** One frame of a dataset video. */
export interface DatasetFrame {
  /** File stem, used to name prediction PNGs (`00000`, `abc_1`, `0`). */
  name: string;
  /** Absolute path of the image. */
  path: string;
}

/** What the pipeline runs on: one expression (RVOS) or one video (AVS). */
export interface DatasetItem {
  /** Unique within the dataset split: `<video>/<expressionId>` or `<video>`. */
  id: string;
  video: string;
  expressionId?: string;
  /** The referring expression (RVOS). */
  expression?: string;
  /** AVS: the audio file of the video. */
  audioPath?: string;
  frames: DatasetFrame[];
  /** Ref-DAVIS17: annotator set 0..3. */
  annotatorSet?: number;
  /** Ground-truth object ids the expression refers to (Ref-YouTube-VOS train, Ref-DAVIS17). */
  objectIds?: number[];
  /** MeViS: annotation ids whose union is the ground truth. */
  annotationIds?: string[];
  /** AVS S4: the sounding category; AVSS: the subset label (v1s, v1m, v2). */
  category?: string;
}

/** A dataset split as read from disk. */
export interface Dataset {
  kind: DatasetKind;
  root: string;
  split: string;
  items: DatasetItem[];
  /** Ground-truth folder per video (palette PNGs, binary PNGs or colour labels), when the split has one. */
  gtDirs: Map<string, string>;
  /** MeViS: the mask_dict.json path when present. */
  maskDictPath?: string;
  /** Whether the split's ground truth is available locally (false for server-scored splits). */
  hasGroundTruth: boolean;
}

/** Default split per dataset kind. */
const DEFAULT_SPLIT: Record<DatasetKind, string> = {
  'ref-youtube-vos': 'valid',
  'ref-davis17': 'valid',
  mevis: 'valid_u',
  'avsbench-s4': 'test',
  'avsbench-ms3': 'test',
  avss: 'test',
  'avss-v2-binary': 'test',
};

const LAYOUTS: Record<DatasetKind, string> = {
  'ref-youtube-vos': 'meta_expressions/<split>/meta_expressions.json and <split>/JPEGImages/<video>/<frame>.jpg (train: <split>/Annotations/<video>/<frame>.png)',
  'ref-davis17': 'meta_expressions/<split>/meta_expressions.json with <split>/JPEGImages/<video>/ and <split>/Annotations/<video>/ (ReferFormer layout), or davis_text_annotations/Davis17_annot1.txt ... with DAVIS/JPEGImages/480p, DAVIS/Annotations_unsupervised/480p, DAVIS/ImageSets/2017/<split>.txt',
  mevis: '<split>/meta_expressions.json, <split>/JPEGImages/<video>/<frame>.jpg and <split>/mask_dict.json',
  'avsbench-s4': 'Single-source/s4_meta_data.csv and Single-source/s4_data/{visual_frames,audio_wav,gt_masks}/<split>/<category>/<video>...',
  'avsbench-ms3': 'Multi-sources/ms3_meta_data.csv and Multi-sources/ms3_data/{visual_frames/<video>/<video>.mp4_<k>.png, audio_wav/<split>/<video>.wav, gt_masks/<split>/<video>/<video>_<k>.png}',
  avss: 'metadata.csv and <label>/<uid>/{frames/<k>.jpg, audio.wav, labels_rgb/<k>.png}',
  'avss-v2-binary': 'metadata.csv and v2/<uid>/{frames/<k>.jpg, audio.wav, labels_rgb/<k>.png}',
};

/** One-line example trees of each dataset kind's folder (`--help`). */
export const DATASET_EXAMPLES: Record<DatasetKind, string> = {
  'ref-youtube-vos': 'ytvos/{meta_expressions/valid/meta_expressions.json, valid/JPEGImages/003234408d/00000.jpg}',
  'ref-davis17': 'refdavis/{meta_expressions/valid/meta_expressions.json, valid/JPEGImages/bike-packing/00000.jpg, valid/Annotations/bike-packing/00000.png}',
  mevis: 'mevis/valid_u/{meta_expressions.json, mask_dict.json, JPEGImages/0a4d0f2e4fa7/00000.jpg}',
  'avsbench-s4': 'AVSBench/Single-source/{s4_meta_data.csv, s4_data/visual_frames/test/dog/-0OQjWg_6bQ_1000_6000/-0OQjWg_6bQ_1000_6000_1.png}',
  'avsbench-ms3': 'AVSBench/Multi-sources/{ms3_meta_data.csv, ms3_data/gt_masks/test/0h8X4l3Cq2Q/0h8X4l3Cq2Q_1.png}',
  avss: 'AVSBench-semantic/{metadata.csv, v1s/_-3ImeXHqpk_0/{frames/0.jpg, audio.wav, labels_rgb/0.png}}',
  'avss-v2-binary': 'AVSBench-semantic/{metadata.csv, v2/_2BIbJqn4vc_0/{frames/0.jpg, audio.wav, labels_rgb/0.png}}',
};

/** The expected layout of a dataset kind, in words (used in errors and `--help`). */
export function datasetLayout(kind: DatasetKind): string {
  return LAYOUTS[kind];
}

function missing(kind: DatasetKind, file: string, what = 'is missing'): PipelineError {
  return new PipelineError(`The ${kind} dataset is incomplete: ${file} ${what}. Expected layout: ${LAYOUTS[kind]}.`, {
    stage: 'evaluate', kind: 'invalid-input', field: 'root', file,
  });
}

async function requireFile(kind: DatasetKind, file: string): Promise<void> {
  if (!existsSync(file)) {
    throw missing(kind, file);
  }
}

async function readJson(kind: DatasetKind, file: string): Promise<unknown> {
  await requireFile(kind, file);
  try {
    return JSON.parse(await readFile(file, 'utf8'));
  } catch (err) {
    throw new PipelineError(`${file} is not valid JSON (${(err as Error).message}).`, {
      stage: 'evaluate', kind: 'invalid-input', field: 'root', file, cause: err,
    });
  }
}

/** Files of a folder with one of the extensions, sorted by name; a missing folder is an error naming it. */
async function listFrames(kind: DatasetKind, dir: string, exts: string[]): Promise<DatasetFrame[]> {
  await requireFile(kind, dir);
  const names = (await readdir(dir)).filter((n) => exts.includes(path.extname(n).toLowerCase())).sort();
  return names.map((n) => ({ name: n.slice(0, -path.extname(n).length), path: path.join(dir, n) }));
}

/** Parses a CSV with a header row (no quoted commas in these files except simple quoted fields). */
function parseCsv(text: string): Array<Record<string, string>> {
  const lines = text.split(/\r?\n/).filter((l) => l.trim().length > 0);
  if (lines.length === 0) {
    return [];
  }
  const splitLine = (line: string): string[] => {
    const out: string[] = [];
    let cur = '';
    let quoted = false;
    for (const ch of line) {
      if (ch === '"') {
        quoted = !quoted;
      } else if (ch === ',' && !quoted) {
        out.push(cur);
        cur = '';
      } else {
        cur += ch;
      }
    }
    out.push(cur);
    return out.map((s) => s.trim());
  };
  const header = splitLine(lines[0]);
  return lines.slice(1).map((l) => {
    const cells = splitLine(l);
    const row: Record<string, string> = {};
    header.forEach((h, i) => {
      row[h || `col${i}`] = cells[i] ?? '';
    });
    row.__first = cells[0] ?? '';
    return row;
  });
}

type Json = Record<string, any>;

/** Videos as `[name, value]` pairs whether the JSON keeps them in an object or an array. */
function entries(value: unknown, idKeys: string[]): Array<[string, Json]> {
  if (Array.isArray(value)) {
    return value.map((v, i) => {
      const id = idKeys.map((k) => (v as Json)?.[k]).find((x) => x !== undefined);
      return [String(id ?? i), v as Json];
    });
  }
  if (value && typeof value === 'object') {
    return Object.entries(value as Json);
  }
  return [];
}

function asList(v: unknown): unknown[] {
  if (v === undefined || v === null) {
    return [];
  }
  return Array.isArray(v) ? v : [v];
}

/**
 * Reads a dataset split. `split` defaults per kind (valid, valid_u, test). An incomplete folder gives an
 * `invalid-input` error naming the first missing file and the expected layout.
 *
 * @example
 * const ds = await readDataset('mevis', '/data/mevis', 'valid_u');
 * ds.items.length; // expressions
 */
export async function readDataset(kind: DatasetKind, root: string, split?: string): Promise<Dataset> {
  if (!(DATASET_KINDS as readonly string[]).includes(kind)) {
    throw new PipelineError(`Unknown dataset kind "${kind}". Use one of: ${DATASET_KINDS.join(', ')}.`, {
      stage: 'evaluate', kind: 'invalid-input', field: 'dataset',
    });
  }
  const absRoot = path.resolve(root);
  if (!existsSync(absRoot) || !(await stat(absRoot)).isDirectory()) {
    throw missing(kind, absRoot, 'is not a folder');
  }
  const s = split ?? DEFAULT_SPLIT[kind];
  const ds = await readKind(kind, absRoot, s);
  if (ds.items.length === 0) {
    throw new PipelineError(`The ${kind} split "${s}" under ${absRoot} lists no ${kind.startsWith('avs') ? 'videos' : 'expressions'}: nothing to run or score. Check --split (expected layout: ${LAYOUTS[kind]}).`, {
      stage: 'evaluate', kind: 'invalid-input', field: 'split',
    });
  }
  return ds;
}

function readKind(kind: DatasetKind, absRoot: string, s: string): Promise<Dataset> {
  switch (kind) {
    case 'ref-youtube-vos':
      return readYtvos(absRoot, s);
    case 'ref-davis17':
      return readRefDavis(absRoot, s);
    case 'mevis':
      return readMevis(absRoot, s);
    case 'avsbench-s4':
      return readS4(absRoot, s);
    case 'avsbench-ms3':
      return readMs3(absRoot, s);
    case 'avss':
    case 'avss-v2-binary':
      return readAvss(kind, absRoot, s);
  }
}

async function readYtvos(root: string, split: string): Promise<Dataset> {
  const kind: DatasetKind = 'ref-youtube-vos';
  const meta = (await readJson(kind, path.join(root, 'meta_expressions', split, 'meta_expressions.json'))) as Json;
  const items: DatasetItem[] = [];
  const gtDirs = new Map<string, string>();
  const annRoot = path.join(root, split, 'Annotations');
  const hasGt = existsSync(annRoot);
  for (const [video, v] of entries(meta.videos, ['video_id', 'video'])) {
    const framesDir = path.join(root, split, 'JPEGImages', video);
    const listed = await listFrames(kind, framesDir, ['.jpg', '.jpeg', '.png']);
    const names: string[] = Array.isArray(v.frames) ? v.frames.map(String) : listed.map((f) => f.name);
    const frames = names.map((n) => ({ name: n, path: path.join(framesDir, `${n}.jpg`) }));
    if (frames.length > 0) {
      await requireFile(kind, frames[0].path);
    }
    if (hasGt) {
      gtDirs.set(video, path.join(annRoot, video));
    }
    for (const [expId, e] of entries(v.expressions, ['exp_id', 'id'])) {
      items.push({
        id: `${video}/${expId}`, video, expressionId: expId, expression: String(e.exp ?? ''), frames,
        objectIds: asList(e.obj_id).map(Number).filter((x) => !Number.isNaN(x)),
      });
    }
  }
  return { kind, root, split, items, gtDirs, hasGroundTruth: hasGt };
}

async function readRefDavis(root: string, split: string): Promise<Dataset> {
  const kind: DatasetKind = 'ref-davis17';
  const metaFile = path.join(root, 'meta_expressions', split, 'meta_expressions.json');
  const items: DatasetItem[] = [];
  const gtDirs = new Map<string, string>();
  if (existsSync(metaFile)) {
    const meta = (await readJson(kind, metaFile)) as Json;
    for (const [video, v] of entries(meta.videos, ['video_id', 'video'])) {
      const framesDir = path.join(root, split, 'JPEGImages', video);
      const frames = await listFrames(kind, framesDir, ['.jpg', '.jpeg']);
      const officialGt = path.join(root, 'DAVIS', 'Annotations_unsupervised', '480p', video);
      const convertedGt = path.join(root, split, 'Annotations', video);
      const gt = existsSync(officialGt) ? officialGt : convertedGt;
      await requireFile(kind, gt);
      gtDirs.set(video, gt);
      const exps = entries(v.expressions, ['exp_id', 'id']).sort((a, b) => Number(a[0]) - Number(b[0]));
      exps.forEach(([expId, e], i) => {
        items.push({
          id: `${video}/${expId}`, video, expressionId: expId, expression: String(e.exp ?? ''), frames,
          annotatorSet: i % 4, objectIds: asList(e.obj_id).map(Number),
        });
      });
    }
    return { kind, root, split, items, gtDirs, hasGroundTruth: true };
  }
  // raw release
  const textDir = path.join(root, 'davis_text_annotations');
  if (!existsSync(textDir)) {
    throw missing(kind, metaFile);
  }
  const setFiles = ['Davis17_annot1.txt', 'Davis17_annot1_full_video.txt', 'Davis17_annot2.txt', 'Davis17_annot2_full_video.txt'];
  const imageSet = path.join(root, 'DAVIS', 'ImageSets', '2017', `${split === 'valid' ? 'val' : split}.txt`);
  await requireFile(kind, imageSet);
  const videos = (await readFile(imageSet, 'utf8')).split(/\r?\n/).map((l) => l.trim()).filter(Boolean);
  // the public text files misspell three sequence names
  const fix: Record<string, string> = { 'clasic-car': 'classic-car', 'dog-scale': 'dogs-scale', 'motor-bike': 'motorbike' };
  const sets: Array<Map<string, Array<{ objectId: number; text: string }>>> = [];
  for (const f of setFiles) {
    const file = path.join(textDir, f);
    await requireFile(kind, file);
    const buf = await readFile(file);
    // annotator 2's files are Latin-1
    const text = f.includes('annot2') ? buf.toString('latin1') : buf.toString('utf8');
    const byVideo = new Map<string, Array<{ objectId: number; text: string }>>();
    for (const line of text.split(/\r?\n/)) {
      const m = /^(\S+)\s+(\d+)\s+(.*)$/.exec(line.trim());
      if (!m) {
        continue;
      }
      const video = fix[m[1]] ?? m[1];
      const expr = m[3].replace(/^"(.*)"$/, '$1');
      const list = byVideo.get(video) ?? [];
      list.push({ objectId: Number(m[2]), text: expr });
      byVideo.set(video, list);
    }
    for (const list of byVideo.values()) {
      list.sort((a, b) => a.objectId - b.objectId);
    }
    sets.push(byVideo);
  }
  for (const video of videos) {
    const framesDir = path.join(root, 'DAVIS', 'JPEGImages', '480p', video);
    const frames = await listFrames(kind, framesDir, ['.jpg', '.jpeg']);
    const gt = path.join(root, 'DAVIS', 'Annotations_unsupervised', '480p', video);
    await requireFile(kind, gt);
    gtDirs.set(video, gt);
    const n = Math.min(...sets.map((s) => s.get(video)?.length ?? 0));
    let expId = 0;
    for (let o = 0; o < n; o++) {
      for (let k = 0; k < 4; k++) {
        const e = sets[k].get(video)![o];
        items.push({ id: `${video}/${expId}`, video, expressionId: String(expId), expression: e.text, frames, annotatorSet: k, objectIds: [e.objectId] });
        expId++;
      }
    }
  }
  return { kind, root, split, items, gtDirs, hasGroundTruth: true };
}

async function readMevis(root: string, split: string): Promise<Dataset> {
  const kind: DatasetKind = 'mevis';
  const meta = (await readJson(kind, path.join(root, split, 'meta_expressions.json'))) as Json;
  const maskDict = path.join(root, split, 'mask_dict.json');
  const items: DatasetItem[] = [];
  for (const [video, v] of entries(meta.videos, ['video_id', 'video', 'vid'])) {
    const framesDir = path.join(root, split, 'JPEGImages', video);
    let names: string[];
    if (Array.isArray(v.frames)) {
      names = [...v.frames.map(String)].sort();
    } else {
      names = (await listFrames(kind, framesDir, ['.jpg', '.jpeg'])).map((f) => f.name);
    }
    const frames = names.map((n) => ({ name: n, path: path.join(framesDir, `${n}.jpg`) }));
    if (frames.length > 0) {
      await requireFile(kind, frames[0].path);
    }
    for (const [expId, e] of entries(v.expressions, ['exp_id', 'id'])) {
      items.push({
        id: `${video}/${expId}`, video, expressionId: expId, expression: String(e.exp ?? ''), frames,
        objectIds: asList(e.obj_id).map(Number),
        annotationIds: asList(e.anno_id).map(String),
      });
    }
  }
  const hasGt = existsSync(maskDict);
  return { kind, root, split, items, gtDirs: new Map(), maskDictPath: hasGt ? maskDict : undefined, hasGroundTruth: hasGt };
}

function avsRoot(root: string, sub: string): string {
  return path.basename(root) === sub ? root : path.join(root, sub);
}

async function readS4(root: string, split: string): Promise<Dataset> {
  const kind: DatasetKind = 'avsbench-s4';
  const base = avsRoot(root, 'Single-source');
  const csv = path.join(base, 's4_meta_data.csv');
  await requireFile(kind, csv);
  const rows = parseCsv(await readFile(csv, 'utf8')).filter((r) => r.split === split);
  const data = path.join(base, 's4_data');
  const items: DatasetItem[] = [];
  const gtDirs = new Map<string, string>();
  for (const r of rows) {
    const name = r.name ?? r.__first;
    const category = r.category ?? '';
    const framesDir = path.join(data, 'visual_frames', split, category, name);
    const frames = [1, 2, 3, 4, 5].map((k) => ({ name: `${name}_${k}`, path: path.join(framesDir, `${name}_${k}.png`) }));
    await requireFile(kind, frames[0].path);
    const audioPath = path.join(data, 'audio_wav', split, category, `${name}.wav`);
    await requireFile(kind, audioPath);
    const gt = path.join(data, 'gt_masks', split, category, name);
    await requireFile(kind, gt);
    gtDirs.set(name, gt);
    items.push({ id: name, video: name, audioPath, frames, category });
  }
  return { kind, root, split, items, gtDirs, hasGroundTruth: true };
}

async function readMs3(root: string, split: string): Promise<Dataset> {
  const kind: DatasetKind = 'avsbench-ms3';
  const base = avsRoot(root, 'Multi-sources');
  const csv = path.join(base, 'ms3_meta_data.csv');
  await requireFile(kind, csv);
  const rows = parseCsv(await readFile(csv, 'utf8')).filter((r) => r.split === split);
  const data = path.join(base, 'ms3_data');
  const items: DatasetItem[] = [];
  const gtDirs = new Map<string, string>();
  for (const r of rows) {
    const name = r.video_id ?? r.name ?? r.__first;
    const framesDir = path.join(data, 'visual_frames', name);
    const frames = [1, 2, 3, 4, 5].map((k) => ({ name: `${name}_${k}`, path: path.join(framesDir, `${name}.mp4_${k}.png`) }));
    await requireFile(kind, frames[0].path);
    const audioPath = path.join(data, 'audio_wav', split, `${name}.wav`);
    await requireFile(kind, audioPath);
    const gt = path.join(data, 'gt_masks', split, name);
    await requireFile(kind, gt);
    gtDirs.set(name, gt);
    items.push({ id: name, video: name, audioPath, frames });
  }
  return { kind, root, split, items, gtDirs, hasGroundTruth: true };
}

async function readAvss(kind: 'avss' | 'avss-v2-binary', root: string, split: string): Promise<Dataset> {
  const csv = path.join(root, 'metadata.csv');
  await requireFile(kind, csv);
  let rows = parseCsv(await readFile(csv, 'utf8')).filter((r) => r.split === split);
  if (kind === 'avss-v2-binary') {
    rows = rows.filter((r) => r.label === 'v2');
  }
  const items: DatasetItem[] = [];
  const gtDirs = new Map<string, string>();
  for (const r of rows) {
    const uid = r.uid ?? r.__first;
    const label = r.label ?? 'v2';
    const dir = path.join(root, label, uid);
    const frames = (await listFrames(kind, path.join(dir, 'frames'), ['.jpg', '.jpeg', '.png'])).sort((a, b) => Number(a.name) - Number(b.name));
    const audioPath = path.join(dir, 'audio.wav');
    await requireFile(kind, audioPath);
    const gt = path.join(dir, 'labels_rgb');
    await requireFile(kind, gt);
    gtDirs.set(uid, gt);
    items.push({ id: uid, video: uid, audioPath, frames, category: label });
  }
  return { kind, root, split, items, gtDirs, hasGroundTruth: true };
}

/** Videos of a dataset in a stable order (the order sharding and reports use). */
export function datasetVideos(ds: Dataset): string[] {
  return [...new Set(ds.items.map((i) => i.video))].sort();
}

/** Parses `i/n` (0-based shard i of n). */
export function parseShard(text: string | undefined): { index: number; count: number } {
  if (text === undefined) {
    return { index: 0, count: 1 };
  }
  const m = /^(\d+)\/(\d+)$/.exec(text.trim());
  const index = m ? Number(m[1]) : Number.NaN;
  const count = m ? Number(m[2]) : Number.NaN;
  if (!m || count < 1 || index < 0 || index >= count) {
    throw new PipelineError(`--shard must be "i/n" with 0 <= i < n (for example 0/4 ... 3/4) or "auto", got "${text}".`, {
      stage: 'evaluate', kind: 'invalid-input', field: 'shard',
    });
  }
  return { index, count };
}

/** Where `--shard auto` found its index and count. */
export interface AutoShard {
  index: number;
  count: number;
  /** `slurm` or `kubernetes`, with the variables read, for the log line. */
  source: string;
}

function envInt(env: NodeJS.ProcessEnv, name: string): number | undefined {
  const v = env[name];
  if (v === undefined || v.trim() === '') {
    return undefined;
  }
  if (!/^\d+$/.test(v.trim())) {
    throw new PipelineError(`--shard auto: ${name}="${v}" is not a whole number.`, { stage: 'evaluate', kind: 'invalid-input', field: 'shard' });
  }
  return Number(v.trim());
}

/**
 * The shard of this task from the scheduler's environment (`--shard auto`):
 * - Slurm array: the shard index is `SLURM_ARRAY_TASK_ID` (submit `--array=0-(n-1)`). The count is, in
 *   order: `count` (the `--shard-count` flag) or `ALREF_SHARD_COUNT`; `recorded` (the count the first
 *   task of the run left in the output folder), so a task re-submitted alone (`--array=5`) still runs
 *   shard 5 of n; the array itself when it is a whole `0-(n-1)` array (`SLURM_ARRAY_TASK_MIN` = 0 and
 *   `SLURM_ARRAY_TASK_COUNT` = MAX + 1); else it is an error saying what to pass.
 * - Kubernetes Indexed Job: `JOB_COMPLETION_INDEX`; Kubernetes does not expose the completion count,
 *   so it comes from `count`, `ALREF_SHARD_COUNT` (the manifest sets it to `completions`) or `recorded`.
 * No scheduler variable at all is an error that says what to set.
 */
export function autoShard(env: NodeJS.ProcessEnv = process.env, count?: number, recorded?: { count: number; file: string }): AutoShard {
  const given = count !== undefined ? { n: count, from: '--shard-count' } : envInt(env, 'ALREF_SHARD_COUNT') !== undefined ? { n: envInt(env, 'ALREF_SHARD_COUNT')!, from: 'ALREF_SHARD_COUNT' } : undefined;
  const bad = (m: string): PipelineError => new PipelineError(`--shard auto: ${m}`, { stage: 'evaluate', kind: 'invalid-input', field: 'shard' });
  const fromRecord = recorded ? { n: recorded.count, from: `as recorded in ${recorded.file}` } : undefined;
  const taskId = envInt(env, 'SLURM_ARRAY_TASK_ID');
  if (taskId !== undefined) {
    const min = envInt(env, 'SLURM_ARRAY_TASK_MIN');
    const max = envInt(env, 'SLURM_ARRAY_TASK_MAX');
    const tasks = envInt(env, 'SLURM_ARRAY_TASK_COUNT');
    const whole = min === 0 && max !== undefined && (tasks === undefined || tasks === max + 1) ? { n: max + 1, from: 'the array 0-' + max } : undefined;
    const chosen = given ?? fromRecord ?? whole;
    if (!chosen) {
      throw bad(`this Slurm array (task ${taskId}, min ${min ?? '?'}, max ${max ?? '?'}, ${tasks ?? '?'} task(s)) is not a whole 0-(n-1) array, so the number of shards is unknown: pass --shard-count <n> (or set ALREF_SHARD_COUNT), or submit --array=0-(n-1).`);
    }
    if (taskId >= chosen.n) {
      throw bad(`Slurm array task ${taskId} is not a shard of ${chosen.n} (${chosen.from}): shard indices are the array task ids 0..${chosen.n - 1}; submit --array=0-${chosen.n - 1}${chosen === fromRecord ? ', or use a new --out folder to shard differently' : ''}.`);
    }
    return { index: taskId, count: chosen.n, source: `slurm (SLURM_ARRAY_TASK_ID=${taskId}, ${chosen.n} shards: ${chosen.from})` };
  }
  const k8s = envInt(env, 'JOB_COMPLETION_INDEX');
  if (k8s !== undefined) {
    const chosen = given ?? fromRecord;
    if (!chosen) {
      throw bad('JOB_COMPLETION_INDEX is set (Kubernetes Indexed Job) but the number of shards is not: pass --shard-count <completions> or set ALREF_SHARD_COUNT.');
    }
    if (k8s >= chosen.n) {
      throw bad(`JOB_COMPLETION_INDEX=${k8s} is not below the shard count ${chosen.n} (${chosen.from}); set ALREF_SHARD_COUNT to the Job's completions.`);
    }
    return { index: k8s, count: chosen.n, source: `kubernetes (JOB_COMPLETION_INDEX=${k8s}, ${chosen.n} shards: ${chosen.from})` };
  }
  throw bad('no scheduler task index in the environment: SLURM_ARRAY_TASK_ID (sbatch --array) and JOB_COMPLETION_INDEX (Kubernetes Indexed Job, completionMode: Indexed) are both unset. Outside a scheduler use --shard i/n.');
}

/** `--shard` of eval / score: `i/n`, `auto` (see {@link autoShard}) or nothing (everything). */
export function resolveShard(
  text: string | undefined, env: NodeJS.ProcessEnv = process.env, count?: number, recorded?: { count: number; file: string },
): { index: number; count: number; source?: string } {
  if (text !== undefined && text.trim() === 'auto') {
    return autoShard(env, count, recorded);
  }
  if (count !== undefined) {
    throw new PipelineError('--shard-count only goes with --shard auto.', { stage: 'evaluate', kind: 'invalid-input', field: 'shard-count' });
  }
  return parseShard(text);
}

/** Parses `--shard-count` (a whole number >= 1). */
export function parseShardCount(text: string | undefined): number | undefined {
  if (text === undefined) {
    return undefined;
  }
  if (!/^\d+$/.test(text.trim()) || Number(text) < 1) {
    throw new PipelineError(`--shard-count must be a whole number >= 1, got "${text}".`, { stage: 'evaluate', kind: 'invalid-input', field: 'shard-count' });
  }
  return Number(text);
}

/**
 * The videos of shard i of n: videos sorted by name, every n-th starting at i. All expressions of a
 * video stay in one shard (their ground truth and frames are read once), and the partition depends
 * only on the dataset, never on the machine or the order files were listed in.
 */
export function shardVideos(videos: string[], shard: { index: number; count: number }): Set<string> {
  return new Set([...videos].sort().filter((_, k) => k % shard.count === shard.index));
}
