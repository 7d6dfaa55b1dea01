/**
 * Score files and reports. A score file (`shard-<i>-of-<n>.json`, or what `alref score --out` writes)
 * holds the records of the units it scored; `alref merge` reads any number of them and writes the
 * final report. Numbers in reports are full precision; tables round for reading only.
 */
import { existsSync } from 'node:fs';
import { readFile, readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { PipelineError } from '../errors';
import type { ExperimentRecord } from '../format/model';
import { resolveDatasetKind, type DatasetKind } from './datasets';
import { summarizeRecords, type ScoreRecord, type ScoreSummary } from './score';

/** Format version of score files and reports. */
export const SCORE_FILE_VERSION = 1;

/** What one scoring run (a shard, or everything) leaves on disk. */
export interface ScoreFile {
  version: number;
  dataset: DatasetKind;
  root: string;
  split: string;
  shard: { index: number; count: number };
  /** Where the scored predictions were. */
  predictions: string;
  records: ScoreRecord[];
  warnings: string[];
  /** False when the split has no local ground truth (server-scored) or scoring was turned off. */
  scored?: boolean;
  /** Pipeline runs (alref eval): counts and the experiment record(s) of the items. */
  run?: { total: number; done: number; failed: number; skipped: number; experiments: ExperimentRecord[] };
  createdAt: string;
}

/** The merged report. */
export interface ScoreReport {
  version: number;
  dataset: DatasetKind;
  split: string;
  /** False when no file was scored (a server-scored split): the summary is then empty. */
  scored: boolean;
  summary: ScoreSummary;
  shards: Array<{ index: number; count: number; file: string; units: number }>;
  missingShards: number[];
  warnings: string[];
  experiments: ExperimentRecord[];
  /** Pipeline item counts summed over the shards (alref eval). */
  run?: { total: number; done: number; failed: number; skipped: number };
  records: ScoreRecord[];
  createdAt: string;
}

/** Distinct experiment records (by JSON text), so a report lists each configuration once. */
export function distinctRecords(list: ExperimentRecord[]): ExperimentRecord[] {
  const seen = new Map<string, ExperimentRecord>();
  for (const r of list) {
    const { cells: _cells, ...rest } = r;
    seen.set(JSON.stringify(rest), r);
  }
  return [...seen.values()];
}

/** Finds score files: JSON files given directly, or `shard-*.json` / `score.json` inside given folders. */
export async function findScoreFiles(inputs: string[]): Promise<string[]> {
  const out: string[] = [];
  for (const p of inputs) {
    if (!existsSync(p)) {
      throw new PipelineError(`${p} does not exist.`, { stage: 'evaluate', kind: 'invalid-input', field: 'inputs', file: p });
    }
    if ((await stat(p)).isDirectory()) {
      const names = (await readdir(p)).filter((n) => /^shard-\d+-of-\d+\.json$/.test(n) || n === 'score.json').sort();
      out.push(...names.map((n) => path.join(p, n)));
    } else {
      out.push(p);
    }
  }
  if (out.length === 0) {
    throw new PipelineError(`No score files (shard-<i>-of-<n>.json) in ${inputs.join(', ')}. Run \`alref eval --shard i/n --out <dir>\` or \`alref score --out <file>\` first.`, {
      stage: 'evaluate', kind: 'invalid-input', field: 'inputs',
    });
  }
  return out;
}

/** Reads and checks a score file. */
export async function readScoreFile(file: string): Promise<ScoreFile> {
  let data: ScoreFile;
  try {
    data = JSON.parse(await readFile(file, 'utf8')) as ScoreFile;
  } catch (err) {
    throw new PipelineError(`${file} is not a readable score file (${(err as Error).message}).`, { stage: 'evaluate', kind: 'invalid-input', file, cause: err });
  }
  if (data.version !== SCORE_FILE_VERSION || !Array.isArray(data.records)) {
    throw new PipelineError(`${file} is not a score file of this version (expected version ${SCORE_FILE_VERSION} with records).`, { stage: 'evaluate', kind: 'invalid-input', file });
  }
  // files written before the dataset kinds took the preset names keep their old spelling
  const kind = resolveDatasetKind(data.dataset);
  return kind ? { ...data, dataset: kind.kind } : data;
}

/**
 * Merges score files of one dataset split into the final report. Files of different datasets or
 * splits are an error; shards missing from `0..n-1` are listed (the numbers then cover fewer units).
 */
export function mergeScoreFiles(files: Array<{ file: string; data: ScoreFile }>): ScoreReport {
  const first = files[0].data;
  for (const { file, data } of files) {
    if (data.dataset !== first.dataset || data.split !== first.split) {
      throw new PipelineError(`${file} scores ${data.dataset}/${data.split}, but ${files[0].file} scores ${first.dataset}/${first.split}; merge one dataset split at a time.`, {
        stage: 'evaluate', kind: 'invalid-input', file,
      });
    }
  }
  const records = files.flatMap((f) => f.data.records);
  const count = Math.max(...files.map((f) => f.data.shard?.count ?? 1));
  const present = new Set(files.filter((f) => (f.data.shard?.count ?? 1) === count).map((f) => f.data.shard?.index ?? 0));
  const missingShards = Array.from({ length: count }, (_, i) => i).filter((i) => !present.has(i));
  const summary = summarizeRecords(first.dataset, records);
  return {
    version: SCORE_FILE_VERSION,
    dataset: first.dataset,
    split: first.split,
    scored: files.some((f) => f.data.scored !== false),
    summary,
    shards: files.map((f) => ({ index: f.data.shard?.index ?? 0, count: f.data.shard?.count ?? 1, file: f.file, units: f.data.records.length })),
    missingShards,
    warnings: files.flatMap((f) => f.data.warnings),
    experiments: distinctRecords(files.flatMap((f) => f.data.run?.experiments ?? [])),
    run: files.some((f) => f.data.run)
      ? files.reduce((acc, f) => ({
          total: acc.total + (f.data.run?.total ?? 0), done: acc.done + (f.data.run?.done ?? 0),
          failed: acc.failed + (f.data.run?.failed ?? 0), skipped: acc.skipped + (f.data.run?.skipped ?? 0),
        }), { total: 0, done: 0, failed: 0, skipped: 0 })
      : undefined,
    records: [...new Map(records.map((r) => [r.id, r])).values()].sort((a, b) => (a.id < b.id ? -1 : 1)),
    createdAt: new Date().toISOString(),
  };
}

const pct = (v: number): string => (Number.isFinite(v) ? (v * 100).toFixed(2) : 'n/a');

/** A plain-text summary table (values in percent, as papers print them). */
export function formatSummary(summary: ScoreSummary, split: string): string {
  const lines: string[] = [];
  const head = Object.keys(summary.headline);
  lines.push(`${summary.kind} / ${split}: ${summary.units} unit(s) scored`);
  const widths = head.map((h) => Math.max(h.length, 6));
  lines.push(head.map((h, i) => h.padStart(widths[i])).join('  '));
  lines.push(head.map((h, i) => pct(summary.headline[h]).padStart(widths[i])).join('  '));
  if (summary.perSet) {
    lines.push('');
    lines.push('annotator set    J&F      J      F   objects');
    summary.perSet.forEach((s, k) => {
      lines.push(`anno_${k}        ${pct(s.jf).padStart(6)} ${pct(s.jMean).padStart(6)} ${pct(s.fMean).padStart(6)}   ${s.objects}`);
    });
  }
  return lines.join('\n');
}
