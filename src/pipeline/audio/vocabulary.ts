import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { PipelineError } from '../errors';
import { type AudioSetLabels, type RankedLabel, ancestorNames, audioSetDir } from './labels';

/** Name of the built-in vocabulary: the 70 AVSBench object categories. */
const AVSBENCH_VOCABULARY = 'avsbench';

const STOPWORDS = new Set(['a', 'an', 'the', 'of', 'that', 'is', 'are', 'making', 'makes', 'sound', 'sounds', 'sounding', 'and', 'or', 'some', 'one']);

/**
 * Loads the category vocabulary of an `lbru` cell.
 * - `undefined` or `"avsbench"`: the 70 AVSBench categories shipped in `assets/audioset/`;
 * - a list of names;
 * - a path (relative to `baseDir`) of a text file with one category per line (`#` starts a comment).
 * Names are trimmed; duplicates (case-insensitive) and empty lines are dropped.
 */
export async function loadVocabulary(
  spec: string | string[] | undefined,
  opts: { resourcesDir: string; baseDir: string; stage?: string; field?: string },
): Promise<{ categories: string[]; source: string }> {
  const stage = opts.stage ?? 'lbru';
  const field = opts.field ?? 'vocabulary';
  let names: string[];
  let source: string;
  if (Array.isArray(spec)) {
    names = spec.map((s) => String(s));
    source = 'cell';
  } else {
    const file = spec === undefined || spec === AVSBENCH_VOCABULARY
      ? path.join(audioSetDir(opts.resourcesDir), 'avsbench-categories.txt')
      : path.resolve(opts.baseDir, spec);
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      throw new PipelineError(`${field}: the vocabulary file ${file} cannot be read (${(err as Error).message}). Give "avsbench", a list of names, or a text file with one category per line.`, {
        stage, kind: 'invalid-input', field, file, cause: err,
      });
    }
    names = text.split(/\r?\n/).map((l) => l.replace(/#.*$/, ''));
    source = spec === undefined || spec === AVSBENCH_VOCABULARY ? AVSBENCH_VOCABULARY : file;
  }
  const seen = new Set<string>();
  const categories: string[] = [];
  for (const raw of names) {
    const n = raw.trim();
    const key = n.toLowerCase();
    if (n && !seen.has(key)) {
      seen.add(key);
      categories.push(n);
    }
  }
  if (categories.length === 0) {
    throw new PipelineError(`${field}: the vocabulary (${source}) is empty. List at least one object category.`, { stage, kind: 'invalid-input', field });
  }
  return { categories, source };
}

/** Lowercase word tokens without stop words, with simple plurals made singular ("buses" -> "bus"). */
function categoryTokens(text: string): string[] {
  return text
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter((t) => t && !STOPWORDS.has(t))
    .map(singular);
}

function singular(t: string): string {
  if (t.length > 4 && /(ses|xes|ches|shes)$/.test(t)) {
    return t.slice(0, -2);
  }
  if (t.length > 3 && t.endsWith('ies')) {
    return `${t.slice(0, -3)}y`;
  }
  if (t.length > 3 && t.endsWith('s') && !t.endsWith('ss') && !t.endsWith('us')) {
    return t.slice(0, -1);
  }
  return t;
}

/** Canonical form for comparing category names: tokens joined by "-" ("Hair dryers" -> "hair-dryer"). */
export function normalizeCategory(text: string): string {
  return categoryTokens(text).join('-');
}

/** Levenshtein edit distance. */
function editDistance(a: string, b: string): number {
  if (a === b) {
    return 0;
  }
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length];
}

/** How a reply category was matched to the vocabulary. */
export interface CategoryMatch {
  /** The category as the LLM wrote it. */
  input: string;
  /** The vocabulary entry, or null when nothing is close enough. */
  category: string | null;
  how: 'exact' | 'normalized' | 'nearest' | 'none';
  /** Similarity in [0, 1] of the match (1 for exact/normalized). */
  score: number;
}

/** Thresholds of {@link matchCategory}. */
export interface MatchOptions {
  /** Minimum token overlap (Jaccard) for a nearest match. Default 0.5. */
  minTokenOverlap?: number;
  /** Minimum edit similarity 1 - distance / longer length for a nearest match. Default 0.75. */
  minEditSimilarity?: number;
}

/**
 * Maps a category named in a reply onto the vocabulary: exact (case-insensitive), then after
 * normalisation (case, separators, plurals, stop words: "the Dogs" -> "dog"), then the nearest entry
 * by token overlap or edit similarity when that clears the thresholds; otherwise `none`.
 */
export function matchCategory(input: string, vocabulary: string[], options: MatchOptions = {}): CategoryMatch {
  const trimmed = input.trim();
  const lower = trimmed.toLowerCase();
  const exact = vocabulary.find((v) => v.toLowerCase() === lower);
  if (exact) {
    return { input, category: exact, how: 'exact', score: 1 };
  }
  const norm = normalizeCategory(trimmed);
  const normalized = norm ? vocabulary.find((v) => normalizeCategory(v) === norm) : undefined;
  if (normalized) {
    return { input, category: normalized, how: 'normalized', score: 1 };
  }
  const minTok = options.minTokenOverlap ?? 0.5;
  const minEdit = options.minEditSimilarity ?? 0.75;
  const tokens = new Set(categoryTokens(trimmed));
  let best: { category: string; score: number; edit: number } | undefined;
  for (const v of vocabulary) {
    const vt = new Set(categoryTokens(v));
    let common = 0;
    for (const t of tokens) {
      if (vt.has(t)) {
        common++;
      }
    }
    const union = tokens.size + vt.size - common;
    const jaccard = union === 0 ? 0 : common / union;
    const nv = normalizeCategory(v);
    const longer = Math.max(norm.length, nv.length);
    const edit = longer === 0 ? 0 : 1 - editDistance(norm, nv) / longer;
    if (jaccard < minTok && edit < minEdit) {
      continue;
    }
    const score = Math.max(jaccard, edit);
    if (!best || score > best.score || (score === best.score && edit > best.edit)) {
      best = { category: v, score, edit };
    }
  }
  return best ? { input, category: best.category, how: 'nearest', score: best.score } : { input, category: null, how: 'none', score: 0 };
}

/**
 * Categories a tagger label stands for: a category is linked when all its tokens appear in one
 * comma-separated part of the label's name or of an ontology ancestor's name ("Bark" -> its parent
 * "Dog" -> `dog`; "Male speech, man speaking" -> `man`).
 */
export function linkLabel(label: Pick<RankedLabel, 'mid' | 'name'>, labels: AudioSetLabels, categories: string[]): string[] {
  const names = [label.name, ...ancestorNames(labels, label.mid).slice(1)];
  const phrases = names.flatMap((n) => n.split(',')).map((p) => new Set(categoryTokens(p)));
  const linked: string[] = [];
  for (const c of categories) {
    const ct = categoryTokens(c);
    if (ct.length > 0 && phrases.some((p) => ct.every((t) => p.has(t)))) {
      linked.push(c);
    }
  }
  return linked;
}

/** What happened to one tagger label in LBRU, for display. */
export interface LabelFate {
  label: string;
  probability: number;
  /** Reply categories this label is linked to (by name or ontology ancestor). */
  categories: string[];
  /** `kept`: linked to exactly one answer category that no other label links to; `merged`: shares it. */
  fate: 'kept' | 'merged' | 'dropped';
}

/**
 * Derives which labels were kept, merged (several labels name the same answer category) or dropped
 * (linked to no answer category). This is a reading of the labels against the answer, shown next to
 * the LLM's own reasoning; it does not change the answer.
 */
export function labelFates(ranked: RankedLabel[], answerCategories: string[], labels: AudioSetLabels): LabelFate[] {
  const links = ranked.map((l) => linkLabel(l, labels, answerCategories));
  const count = new Map<string, number>();
  for (const cs of links) {
    for (const c of cs) {
      count.set(c, (count.get(c) ?? 0) + 1);
    }
  }
  return ranked.map((l, i) => {
    const cs = links[i];
    const fate: LabelFate['fate'] = cs.length === 0 ? 'dropped' : cs.some((c) => (count.get(c) ?? 0) > 1) ? 'merged' : 'kept';
    return { label: l.name, probability: l.probability, categories: cs, fate };
  });
}

/**
 * Deterministic synonyms onto the AVSBench class names (the fallback of {@link nearestClass} before the
 * plain string distance): words an LLM uses for objects whose class has another name.
 */
const CLASS_SYNONYMS: Readonly<Record<string, string>> = {
  person: 'man', human: 'man', gentleman: 'man', guy: 'man', male: 'man', singer: 'man', speaker: 'man',
  lady: 'woman', female: 'woman', child: 'boy', kid: 'boy', infant: 'baby', toddler: 'baby',
  puppy: 'dog', hound: 'dog', kitten: 'cat', chicken: 'hen', rooster: 'hen', cock: 'hen',
  plane: 'airplane', aircraft: 'airplane', jet: 'airplane', ship: 'boat', automobile: 'car', vehicle: 'car',
  ambulance: 'emergency-car', 'police-car': 'emergency-car', 'fire-truck': 'emergency-car', siren: 'emergency-car',
  motorbike: 'motorcycle', bike: 'motorcycle', 'lawn-mower': 'mower', lawnmower: 'mower', 'hair-clipper': 'clipper',
  'electric-guitar': 'guitar', 'bass-guitar': 'guitar', 'acoustic-guitar': 'guitar', 'drum-kit': 'drum', drums: 'drum',
  'grand-piano': 'piano', 'electric-keyboard': 'keyboard', synthesizer: 'keyboard', organ: 'keyboard', fiddle: 'violin',
  'vacuum': 'vacuum-cleaner', hoover: 'vacuum-cleaner', rifle: 'gun', pistol: 'gun', 'machine-gun': 'gun', rocket: 'missile-rocket',
  missile: 'missile-rocket', chainsaw: 'saw', pan: 'frying-food', frying: 'frying-food', cooking: 'frying-food', watch: 'clock',
  'hair-drier': 'hair-dryer', blowdryer: 'hair-dryer', 'off-road-vehicle': 'utv', atv: 'utv', lamb: 'sheep', goat: 'sheep',
};

/** How a category became a class of a closed list (AVSS class ids). */
export interface ClassMatch {
  category: string;
  /** The class name chosen: never null when the list is not empty. */
  className: string;
  how: CategoryMatch['how'] | 'synonym' | 'closest';
  score: number;
}

/**
 * Maps a category onto its nearest class of a closed list (AVSS: the 70 classes, background left out):
 * {@link matchCategory} (exact, normalised, nearest above the thresholds), then the deterministic
 * {@link CLASS_SYNONYMS}, then the class with the highest token overlap or edit similarity whatever its
 * value (first in list order on a tie), so every category gets a class. Throws on an empty list.
 *
 * @example
 * nearestClass('Puppies', ['dog', 'cat']).className // 'dog'
 */
export function nearestClass(category: string, classNames: string[]): ClassMatch {
  if (classNames.length === 0) {
    throw new Error('nearestClass: the class list is empty.');
  }
  const m = matchCategory(category, classNames);
  if (m.category !== null) {
    return { category, className: m.category, how: m.how, score: m.score };
  }
  const norm = normalizeCategory(category);
  const tokens = categoryTokens(category);
  const syn = [norm, ...tokens].map((t) => CLASS_SYNONYMS[t]).find((s) => s !== undefined);
  const synClass = syn === undefined ? undefined : classNames.find((c) => normalizeCategory(c) === syn);
  if (synClass) {
    return { category, className: synClass, how: 'synonym', score: 1 };
  }
  let best = classNames[0];
  let bestScore = -1;
  const tok = new Set(tokens);
  for (const c of classNames) {
    const ct = new Set(categoryTokens(c));
    const inter = [...ct].filter((t) => tok.has(t)).length;
    const union = new Set([...ct, ...tok]).size;
    const jaccard = union === 0 ? 0 : inter / union;
    const a = normalizeCategory(c);
    const longer = Math.max(a.length, norm.length);
    const edit = longer === 0 ? 0 : 1 - editDistance(a, norm) / longer;
    const score = Math.max(jaccard, edit);
    if (score > bestScore) {
      best = c;
      bestScore = score;
    }
  }
  return { category, className: best, how: 'closest', score: Math.max(0, bestScore) };
}
