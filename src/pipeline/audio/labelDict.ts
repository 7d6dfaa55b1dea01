import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { PipelineError } from '../errors';
import type { AudioSetLabels } from './labels';

/**
 * A tagger checkpoint's own index-to-label map. BEATs checkpoints carry `label_dict` (output index ->
 * AudioSet MID), whose order is not the order of `class_labels_indices.csv`; docs/PIPELINE.md "Stages (one cell kind each)": map through
 * it. ONNX Runtime for Node does not expose a graph's custom `metadata_props`, so an export carries the
 * map as a JSON SIDECAR next to the graph:
 *
 * - `<graph stem>.label_dict.json` (e.g. `model.label_dict.json` next to `model.onnx`), else
 *   `label_dict.json` in the same folder;
 * - content: the checkpoint's `label_dict` as JSON, either an object `{ "0": "/m/09x0r", ... }` (index ->
 *   MID or display name) or an array in output order. `tools/` exports write it with
 *   `json.dump({str(k): v for k, v in checkpoint['label_dict'].items()}, f)`.
 *
 * Without a sidecar the output is read in CSV order (right for EfficientAT / PANNs; a BEATs graph
 * without one gets a warning).
 */

/** Where the sidecar of a graph file is looked for, in order. */
function labelDictCandidates(modelFile: string): string[] {
  const dir = path.dirname(modelFile);
  const stem = path.basename(modelFile).replace(/\.onnx$/i, '');
  return [path.join(dir, `${stem}.label_dict.json`), path.join(dir, 'label_dict.json')];
}

/** Parses a label_dict JSON value into labels in output order. Throws naming the file on a bad shape. */
function parseLabelDict(value: unknown, file: string): string[] {
  const bad = (why: string): PipelineError =>
    new PipelineError(`${file}: ${why}. A label_dict sidecar maps each tagger output index to an AudioSet MID or name: {"0": "/m/09x0r", ...} or ["/m/09x0r", ...].`, {
      stage: 'lbru', kind: 'invalid-input', field: 'tagger', file,
    });
  if (Array.isArray(value)) {
    if (!value.every((v) => typeof v === 'string')) {
      throw bad('every entry must be a string');
    }
    return value as string[];
  }
  if (value === null || typeof value !== 'object') {
    throw bad('it is not an object or an array');
  }
  const entries = Object.entries(value as Record<string, unknown>);
  const out: string[] = new Array(entries.length);
  for (const [k, v] of entries) {
    const i = Number(k);
    if (!Number.isInteger(i) || i < 0 || i >= entries.length) {
      throw bad(`key "${k}" is not an output index 0..${entries.length - 1}`);
    }
    if (typeof v !== 'string') {
      throw bad(`entry "${k}" is not a string`);
    }
    out[i] = v;
  }
  return out;
}

/** Reads the sidecar of a graph file; null when there is none. */
export async function readLabelDict(modelFile: string): Promise<{ file: string; labels: string[] } | null> {
  for (const file of labelDictCandidates(modelFile)) {
    if (existsSync(file)) {
      let json: unknown;
      try {
        json = JSON.parse(await readFile(file, 'utf8'));
      } catch (err) {
        throw new PipelineError(`${file} is not valid JSON (${(err as Error).message}).`, { stage: 'lbru', kind: 'invalid-input', field: 'tagger', file, cause: err });
      }
      return { file, labels: parseLabelDict(json, file) };
    }
  }
  return null;
}

/**
 * For each output index of the graph, the index of its class in the label table (CSV order), by MID
 * or, failing that, by display name (case-insensitive). Throws naming the first unknown label.
 */
export function labelDictMapping(labels: string[], table: AudioSetLabels, file: string): Int32Array {
  const byName = new Map(table.classes.map((c) => [c.name.toLowerCase(), c.index]));
  return Int32Array.from(labels, (l, i) => {
    const idx = table.byMid.get(l)?.index ?? byName.get(l.toLowerCase());
    if (idx === undefined) {
      throw new PipelineError(`${file}: output ${i} is labelled "${l}", which is neither an AudioSet MID nor a class name of class_labels_indices.csv.`, {
        stage: 'lbru', kind: 'invalid-input', field: 'tagger', file,
      });
    }
    return idx;
  });
}

/** Scores in the label table's order: `out[mapping[i]] = scores[i]` (classes the graph lacks score 0). */
export function remapScores(scores: ArrayLike<number>, mapping: Int32Array, classCount: number): Float32Array {
  if (scores.length !== mapping.length) {
    throw new PipelineError(`The tagger returned ${scores.length} scores but its label_dict lists ${mapping.length} labels.`, { stage: 'lbru', kind: 'backend', field: 'tagger' });
  }
  const out = new Float32Array(classCount);
  for (let i = 0; i < mapping.length; i++) {
    out[mapping[i]] = scores[i];
  }
  return out;
}
