import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { PipelineError } from '../errors';

/** AudioSet MID of the "Silence" class (index 500 in the 527-class output order). */
export const SILENCE_MID = '/m/028v0c';

/** Number of classes of AudioSet taggers (BEATs, EfficientAT, PANNs). */
export const AUDIOSET_CLASS_COUNT = 527;

/** One AudioSet class in model output order. */
export interface AudioSetClass {
  /** Position in the tagger's output vector. */
  index: number;
  /** Freebase machine id, e.g. `/m/0bt9lr` (Dog). */
  mid: string;
  /** Display name, e.g. "Dog" or "Male speech, man speaking". */
  name: string;
}

/** One node of the AudioSet ontology. */
export interface OntologyNode {
  id: string;
  name: string;
  description?: string;
  child_ids: string[];
  restrictions?: string[];
}

/** The label table plus the ontology, for naming and linking labels. */
export interface AudioSetLabels {
  classes: AudioSetClass[];
  /** Index of Silence in `classes`, or -1 when the table has no Silence class. */
  silenceIndex: number;
  byMid: Map<string, AudioSetClass>;
  /** Ontology nodes by MID; empty when the ontology is not loaded. */
  ontology: Map<string, OntologyNode>;
  /** Parent MIDs of each node (the ontology is a DAG: a node may have several parents). */
  parents: Map<string, string[]>;
}

/** Folder of the shipped AudioSet files, under the package root. */
export function audioSetDir(resourcesDir: string): string {
  return path.join(resourcesDir, 'assets', 'audioset');
}

/** Splits one CSV line with double-quoted fields (`""` escapes a quote). */
export function splitCsvLine(line: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i];
    if (quoted) {
      if (ch === '"' && line[i + 1] === '"') {
        cur += '"';
        i++;
      } else if (ch === '"') {
        quoted = false;
      } else {
        cur += ch;
      }
    } else if (ch === '"') {
      quoted = true;
    } else if (ch === ',') {
      out.push(cur);
      cur = '';
    } else {
      cur += ch;
    }
  }
  out.push(cur);
  return out;
}

/**
 * Parses `class_labels_indices.csv` (header `index,mid,display_name`). Indices must be 0..n-1 in
 * order, because they are positions in the tagger output.
 */
export function parseClassLabels(csv: string, file = 'class_labels_indices.csv'): AudioSetClass[] {
  const lines = csv.split(/\r?\n/).filter((l) => l.trim() !== '');
  const header = splitCsvLine(lines[0] ?? '').map((h) => h.trim());
  if (header[0] !== 'index' || header[1] !== 'mid' || header[2] !== 'display_name') {
    throw new PipelineError(`${file}: expected the header "index,mid,display_name", found "${lines[0] ?? ''}".`, {
      stage: 'audio', kind: 'invalid-input', file,
    });
  }
  const classes: AudioSetClass[] = [];
  for (let i = 1; i < lines.length; i++) {
    const [idx, mid, name] = splitCsvLine(lines[i]);
    const index = Number(idx);
    if (!Number.isInteger(index) || index !== classes.length || !mid || name === undefined) {
      throw new PipelineError(`${file}, line ${i + 1}: expected class ${classes.length} as "index,mid,name", found "${lines[i]}".`, {
        stage: 'audio', kind: 'invalid-input', file,
      });
    }
    classes.push({ index, mid: mid.trim(), name: name.trim() });
  }
  return classes;
}

/** Builds {@link AudioSetLabels} from parsed classes and (optionally) ontology nodes. */
export function buildLabels(classes: AudioSetClass[], ontologyNodes: OntologyNode[] = []): AudioSetLabels {
  const byMid = new Map(classes.map((c) => [c.mid, c]));
  const ontology = new Map(ontologyNodes.map((n) => [n.id, n]));
  const parents = new Map<string, string[]>();
  for (const n of ontologyNodes) {
    for (const child of n.child_ids ?? []) {
      const list = parents.get(child) ?? [];
      list.push(n.id);
      parents.set(child, list);
    }
  }
  return { classes, silenceIndex: byMid.get(SILENCE_MID)?.index ?? -1, byMid, ontology, parents };
}

/**
 * Loads the shipped label table and ontology from `<resourcesDir>/assets/audioset/`.
 * The label table must have {@link AUDIOSET_CLASS_COUNT} classes.
 */
export async function loadAudioSetLabels(resourcesDir: string): Promise<AudioSetLabels> {
  const dir = audioSetDir(resourcesDir);
  const csvFile = path.join(dir, 'class_labels_indices.csv');
  const ontFile = path.join(dir, 'ontology.json');
  let csv: string;
  let ont: string;
  try {
    [csv, ont] = await Promise.all([readFile(csvFile, 'utf8'), readFile(ontFile, 'utf8')]);
  } catch (err) {
    throw new PipelineError(`The AudioSet label files in ${dir} cannot be read (${(err as Error).message}). Reinstall the extension.`, {
      stage: 'audio', kind: 'invalid-input', file: csvFile, cause: err,
    });
  }
  const classes = parseClassLabels(csv, csvFile);
  if (classes.length !== AUDIOSET_CLASS_COUNT) {
    throw new PipelineError(`${csvFile} lists ${classes.length} classes; AudioSet taggers output ${AUDIOSET_CLASS_COUNT}.`, {
      stage: 'audio', kind: 'invalid-input', file: csvFile,
    });
  }
  let nodes: OntologyNode[];
  try {
    nodes = JSON.parse(ont) as OntologyNode[];
  } catch (err) {
    throw new PipelineError(`${ontFile} is not valid JSON.`, { stage: 'audio', kind: 'invalid-input', file: ontFile, cause: err });
  }
  return buildLabels(classes, nodes);
}

/**
 * Names of a class and all its ontology ancestors, nearest first (e.g. Bark -> Dog -> Domestic
 * animals, pets -> Animal). Used to link a tagger label to an object category.
 */
export function ancestorNames(labels: AudioSetLabels, mid: string, maxDepth = 6): string[] {
  const names: string[] = [];
  const seen = new Set<string>();
  let frontier = [mid];
  for (let depth = 0; depth <= maxDepth && frontier.length > 0; depth++) {
    const next: string[] = [];
    for (const id of frontier) {
      if (seen.has(id)) {
        continue;
      }
      seen.add(id);
      const name = labels.ontology.get(id)?.name ?? labels.byMid.get(id)?.name;
      if (name) {
        names.push(name);
      }
      next.push(...(labels.parents.get(id) ?? []));
    }
    frontier = next;
  }
  return names;
}

/** One ranked tagger label. */
export interface RankedLabel {
  index: number;
  mid: string;
  name: string;
  /** Probability in [0, 1] (the largest over checkpoints for a union). */
  probability: number;
  /** Ids of the taggers whose top-k held this label (one unless a union). */
  sources?: string[];
}

/** Options of {@link rankLabels}. */
export interface RankOptions {
  /** Labels kept. Default 5. */
  topK?: number;
  /** MIDs whose probability is set to 0 before ranking. Default: Silence only. */
  zeroMids?: string[];
  /** Labels below this probability are not kept. Default 0 (always k labels, as the reference code). */
  minProbability?: number;
}

/**
 * Ranks one probability vector: zeroes Silence (and any other `zeroMids`), then keeps the top k.
 * Ties keep the lower class index first, so the result is deterministic.
 */
export function rankLabels(probabilities: ArrayLike<number>, labels: AudioSetLabels, options: RankOptions = {}): RankedLabel[] {
  if (probabilities.length !== labels.classes.length) {
    throw new PipelineError(
      `The tagger returned ${probabilities.length} scores, but the label table has ${labels.classes.length} classes. Use an AudioSet tagger with ${labels.classes.length} outputs.`,
      { stage: 'audio', kind: 'backend' },
    );
  }
  const topK = options.topK ?? 5;
  const zero = new Set((options.zeroMids ?? [SILENCE_MID]).map((m) => labels.byMid.get(m)?.index).filter((i): i is number => i !== undefined));
  const min = options.minProbability ?? 0;
  const order: number[] = [];
  for (let i = 0; i < probabilities.length; i++) {
    if (!zero.has(i)) {
      order.push(i);
    }
  }
  order.sort((a, b) => (probabilities[b] - probabilities[a]) || a - b);
  return order
    .slice(0, Math.max(0, topK))
    .filter((i) => probabilities[i] >= min && Number.isFinite(probabilities[i]))
    .map((i) => ({ index: i, mid: labels.classes[i].mid, name: labels.classes[i].name, probability: probabilities[i] }));
}

/**
 * Union of several taggers' top-k lists (the reference code unions two BEATs checkpoints for MS3 and
 * AVSS): each label once, with its largest probability and the taggers that ranked it, sorted by
 * probability.
 */
export function unionTopK(lists: Array<{ taggerId: string; labels: RankedLabel[] }>): RankedLabel[] {
  const byIndex = new Map<number, RankedLabel>();
  for (const { taggerId, labels } of lists) {
    for (const l of labels) {
      const cur = byIndex.get(l.index);
      if (!cur) {
        byIndex.set(l.index, { ...l, sources: [taggerId] });
      } else {
        cur.probability = Math.max(cur.probability, l.probability);
        cur.sources = [...(cur.sources ?? []), taggerId];
      }
    }
  }
  return [...byIndex.values()].sort((a, b) => (b.probability - a.probability) || a.index - b.index);
}
