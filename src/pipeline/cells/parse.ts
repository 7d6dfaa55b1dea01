import Ajv from 'ajv';
import type { ErrorObject, ValidateFunction } from 'ajv';
import { isMap, isPair, isScalar, parseDocument, visit } from 'yaml';
import type { Alias, Document, Node as YamlNode, Pair } from 'yaml';
import type { StageKind, StageRequest } from '../types';
import { STAGE_KINDS, STAGE_SCHEMAS } from '../stages/registry';

/** A 0-based position in a cell's source (line, character), like VS Code's `Position`. */
export interface SourcePosition {
  line: number;
  character: number;
}

export interface SourceRange {
  start: SourcePosition;
  end: SourcePosition;
}

/** A problem in a cell, with where it is: shown as an editor diagnostic and in error outputs. */
export interface CellDiagnostic {
  message: string;
  severity: 'error' | 'warning';
  /** Field path in the cell (`interval`, `uses.video`, `candidates[2].box`); absent for syntax errors. */
  field?: string;
  range: SourceRange;
}

/** The fields every stage cell may have, whatever its kind. */
export const COMMON_FIELDS = ['stage', 'id', 'uses'] as const;

/**
 * Bound on YAML alias expansion in a stage cell (the `yaml` package's `maxAliasCount`): an alias
 * may repeat an anchored value, but the values it expands to are limited, so an "alias bomb"
 * (billion laughs) is a cell error instead of exhausting memory. Stage cells need no aliases at all.
 */
export const MAX_YAML_ALIAS_COUNT = 100;

/** At most this many YAML syntax errors of a cell are reported; the last one says how many more there are. */
export const MAX_YAML_ERRORS = 10;

/** Cell ids: 1-64 letters, digits, `-`, `_` (nbformat 4.5). */
const ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

/** What the parser needs to know about the other cells of the notebook. */
export interface KnownCell {
  /** Effective id (the YAML `id`, else the cell's metadata id). */
  id: string;
  /** Stage kind when the cell is a stage cell whose `stage:` names a known kind. */
  kind?: StageKind;
}

export interface StageParseOptions {
  /** Metadata id of the cell; used unless the YAML names an `id`. */
  cellId: string;
  /** 1-based position in the notebook, for messages. */
  cellIndex?: number;
  /** The notebook's cells; when given, `uses` must name one of them (and one of the right kind). */
  knownCells?: readonly KnownCell[];
}

export type StageParseResult =
  | { ok: true; request: StageRequest; diagnostics: CellDiagnostic[] }
  | { ok: false; diagnostics: CellDiagnostic[]; kind?: StageKind; cellId: string };

/** Converts character offsets of a text to 0-based line/character positions. */
export class OffsetMapper {
  private readonly _lineStarts: number[] = [0];
  constructor(private readonly _text: string) {
    for (let i = 0; i < _text.length; i++) {
      if (_text.charCodeAt(i) === 10) {
        this._lineStarts.push(i + 1);
      }
    }
  }
  position(offset: number): SourcePosition {
    const o = Math.max(0, Math.min(offset, this._text.length));
    let lo = 0;
    let hi = this._lineStarts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this._lineStarts[mid] <= o) {
        lo = mid;
      } else {
        hi = mid - 1;
      }
    }
    return { line: lo, character: o - this._lineStarts[lo] };
  }
  range(start: number, end: number): SourceRange {
    return { start: this.position(start), end: this.position(Math.max(start, end)) };
  }
}

let ajv: Ajv | undefined;
const validators = new Map<StageKind, ValidateFunction>();

function validatorFor(kind: StageKind): ValidateFunction {
  let v = validators.get(kind);
  if (!v) {
    ajv ??= new Ajv({ allErrors: true, strict: true, useDefaults: true, verbose: true });
    v = ajv.compile(STAGE_SCHEMAS[kind]);
    validators.set(kind, v);
  }
  return v;
}

function isStageKind(v: unknown): v is StageKind {
  return typeof v === 'string' && (STAGE_KINDS as readonly string[]).includes(v);
}

/** Longest input for which a "did you mean" hint is computed; longer words get no hint. */
export const MAX_SUGGEST_LENGTH = 64;

/** Longest user value quoted in a message; longer values are cut (see {@link quoteForMessage}). */
export const MAX_ECHO_LENGTH = 80;

/** A user's text as a message quotes it: cut to the first {@link MAX_ECHO_LENGTH} characters, with its length. */
export function clipForMessage(text: string): string {
  return text.length <= MAX_ECHO_LENGTH ? text : `${text.slice(0, MAX_ECHO_LENGTH)}... (${text.length} chars)`;
}

/** A user value in double quotes, JSON-escaped and cut like {@link clipForMessage}. */
export function quoteForMessage(text: string): string {
  if (text.length <= MAX_ECHO_LENGTH) {
    return JSON.stringify(text);
  }
  return `${JSON.stringify(text.slice(0, MAX_ECHO_LENGTH)).slice(0, -1)}..." (${text.length} chars)`;
}

/**
 * Levenshtein distance of `a` and `b`, or `limit + 1` as soon as it must exceed `limit`. Two rows and
 * a band of width 2 * limit + 1: O(limit * length) time, O(length) memory.
 */
export function boundedEditDistance(a: string, b: string, limit: number): number {
  if (Math.abs(a.length - b.length) > limit) {
    return limit + 1;
  }
  const big = limit + 1;
  let prev = new Array<number>(b.length + 1);
  let cur = new Array<number>(b.length + 1);
  for (let j = 0; j <= b.length; j++) {
    prev[j] = j <= limit ? j : big;
  }
  for (let i = 1; i <= a.length; i++) {
    const lo = Math.max(1, i - limit);
    const hi = Math.min(b.length, i + limit);
    cur.fill(big);
    cur[0] = i <= limit ? i : big;
    let rowMin = cur[0];
    for (let j = lo; j <= hi; j++) {
      const v = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a.charCodeAt(i - 1) === b.charCodeAt(j - 1) ? 0 : 1));
      cur[j] = Math.min(v, big);
      rowMin = Math.min(rowMin, cur[j]);
    }
    if (rowMin > limit) {
      return big;
    }
    [prev, cur] = [cur, prev];
  }
  return Math.min(prev[b.length], big);
}

/**
 * The closest candidate within a small edit distance, for "did you mean" hints. Bounded: a word
 * longer than {@link MAX_SUGGEST_LENGTH} gets no hint, and distances are computed only up to the
 * threshold, so a huge unknown value costs nothing.
 */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  if (word.length > MAX_SUGGEST_LENGTH) {
    return undefined;
  }
  const limit = Math.max(2, Math.floor(word.length / 3));
  let best: string | undefined;
  let bestD = limit + 1;
  for (const c of candidates) {
    const dist = boundedEditDistance(word.toLowerCase(), c.toLowerCase(), limit);
    if (dist < bestD) {
      bestD = dist;
      best = c;
    }
  }
  return bestD <= limit ? best : undefined;
}

type Path = Array<string | number>;

function fieldName(path: Path): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? clipForMessage(p) : `.${clipForMessage(p)}`)).join('');
}

function nodeRange(node: unknown, m: OffsetMapper): SourceRange | undefined {
  const r = (node as YamlNode | undefined)?.range;
  return r ? m.range(r[0], r[1]) : undefined;
}

function pairAt(doc: Document, path: Path): Pair | undefined {
  const parent = path.length === 1 ? doc.contents : doc.getIn(path.slice(0, -1), true);
  if (!isMap(parent)) {
    return undefined;
  }
  const key = path[path.length - 1];
  return parent.items.find((p) => isPair(p) && isScalar(p.key) && p.key.value === key) as Pair | undefined;
}

/** Range of the value at `path`, else of its key, else of the nearest enclosing node, else line 1. */
function rangeOf(doc: Document, path: Path, m: OffsetMapper, prefer: 'value' | 'key' = 'value'): SourceRange {
  for (let n = path.length; n > 0; n--) {
    const sub = path.slice(0, n);
    const pair = pairAt(doc, sub);
    if (pair) {
      const r = prefer === 'key' && n === path.length ? nodeRange(pair.key, m) : nodeRange(pair.value, m) ?? nodeRange(pair.key, m);
      if (r) {
        return r;
      }
    }
    const node = doc.getIn(sub, true);
    const r = nodeRange(node, m);
    if (r) {
      return r;
    }
  }
  const first = doc.contents && isMap(doc.contents) ? doc.contents.items[0] : undefined;
  return (first && isPair(first) ? nodeRange(first.key, m) : undefined) ?? nodeRange(doc.contents, m) ?? m.range(0, 0);
}

function describeValue(v: unknown): string {
  if (v === null) {
    return 'null';
  }
  if (Array.isArray(v)) {
    return 'a list';
  }
  if (typeof v === 'object') {
    return 'a mapping';
  }
  if (typeof v === 'number' && !Number.isFinite(v)) {
    // YAML's .inf, -.inf and .nan (JSON would print them as null).
    return Number.isNaN(v) ? '.nan' : v > 0 ? '.inf' : '-.inf';
  }
  if (typeof v === 'string') {
    return `string ${quoteForMessage(v)}`;
  }
  return `${typeof v} ${JSON.stringify(v)}`;
}

function instancePath(pointer: string): Path {
  if (pointer === '') {
    return [];
  }
  return pointer
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((s) => (/^\d+$/.test(s) ? Number(s) : s));
}

function valueAt(root: unknown, path: Path): unknown {
  let v = root;
  for (const p of path) {
    v = v !== null && typeof v === 'object' ? (v as Record<string | number, unknown>)[p] : undefined;
  }
  return v;
}

/** Turns ajv errors into messages a researcher can act on, one per problem. */
function schemaDiagnostics(kind: StageKind, errors: ErrorObject[], params: Record<string, unknown>, doc: Document, m: OffsetMapper): CellDiagnostic[] {
  // A value that matches none of a oneOf's branches also reports every branch's complaint; keep
  // only the summary for that value (it quotes the schema's description of the allowed forms).
  const oneOfPaths = errors.filter((e) => e.keyword === 'oneOf' || e.keyword === 'anyOf').map((e) => e.instancePath);
  // An `if` error only says that its then/else branch failed; that branch's own errors name the field.
  const kept = errors.filter(
    (e) => e.keyword !== 'if' && (e.keyword === 'oneOf' || e.keyword === 'anyOf' || !oneOfPaths.some((p) => e.instancePath === p || e.instancePath.startsWith(`${p}/`))),
  );
  const out: CellDiagnostic[] = [];
  const seen = new Set<string>();
  for (const e of kept) {
    const path = instancePath(e.instancePath);
    const field = fieldName(path);
    const value = valueAt(params, path);
    let message: string;
    let diagPath = path;
    let prefer: 'value' | 'key' = 'value';
    let reported: string | undefined;
    switch (e.keyword) {
      case 'additionalProperties': {
        const name = String((e.params as { additionalProperty: string }).additionalProperty);
        diagPath = [...path, name];
        prefer = 'key';
        const sub = path.length === 0 ? STAGE_SCHEMAS[kind] : undefined;
        const known = sub ? [...COMMON_FIELDS, ...Object.keys((sub.properties ?? {}) as object)] : [];
        const hint = closest(name, known);
        message = path.length === 0
          ? `Unknown field "${clipForMessage(name)}" for ${article(kind)} stage.${hint ? ` Did you mean "${hint}"?` : ''} Known fields: ${known.join(', ')}.`
          : `Unknown field "${fieldName(diagPath)}".`;
        break;
      }
      case 'required': {
        const name = String((e.params as { missingProperty: string }).missingProperty);
        message = `Missing required field "${path.length ? `${field}.` : ''}${name}" for ${article(kind)} stage.`;
        diagPath = path.length ? path : ['stage'];
        reported = fieldName([...path, name]);
        break;
      }
      case 'type': {
        const type = String((e.params as { type: string }).type);
        message = typeof value === 'number' && !Number.isFinite(value) && /number|integer/.test(type)
          ? `Field "${field}" must be a finite ${type.includes('integer') ? 'integer' : 'number'}, got ${describeValue(value)}.`
          : `Field "${field}" must be ${article(type)}, not ${describeValue(value)}.`;
        break;
      }
      case 'enum':
        message = `Field "${field}" must be one of: ${((e.params as { allowedValues: unknown[] }).allowedValues ?? []).map((v) => JSON.stringify(v)).join(', ')} (got ${describeValue(value)}).`;
        break;
      case 'oneOf':
      case 'anyOf': {
        const desc = (e.parentSchema as { description?: string } | undefined)?.description;
        message = desc
          ? `Field "${field}" must be ${desc.replace(/\.$/, '')} (got ${describeValue(value)}).`
          : `Field "${field}" does not match any allowed form (got ${describeValue(value)}).`;
        break;
      }
      case 'not': {
        // the stage schemas forbid a field next to its alias this way, saying why in the description
        const desc = (e.parentSchema as { description?: string } | undefined)?.description;
        message = desc ? `Field "${field}": ${desc}` : `Field "${field || '(cell)'}" is not allowed here.`;
        prefer = 'key';
        break;
      }
      default:
        message = `Field "${field || '(cell)'}" ${e.message ?? 'is invalid'}${value !== undefined && typeof value !== 'object' ? ` (got ${describeValue(value)})` : ''}.`;
    }
    const key = `${fieldName(diagPath)}|${message}`;
    if (seen.has(key)) {
      continue;
    }
    seen.add(key);
    out.push({ message, severity: 'error', field: reported ?? fieldName(diagPath), range: rangeOf(doc, diagPath, m, prefer) });
  }
  return out;
}

function article(type: string): string {
  return `${/^[aeiou]/.test(type) ? 'an' : 'a'} ${type}`;
}

/** Reads only `stage` and `id` of a stage cell, for building the notebook's cell index. Never throws. */
export function peekStageCell(source: string): { kind?: StageKind; id?: string } {
  try {
    const doc = parseDocument(source);
    if (!isMap(doc.contents)) {
      return {};
    }
    const stage = doc.get('stage');
    const id = doc.get('id');
    return { kind: isStageKind(stage) ? stage : undefined, id: typeof id === 'string' && ID_PATTERN.test(id) ? id : undefined };
  } catch {
    return {};
  }
}

/**
 * Parses and validates a stage cell (YAML, language `alref`). On success returns the
 * {@link StageRequest}; otherwise diagnostics with 0-based ranges inside the cell and the field path.
 *
 * @example
 * const r = parseStageCell('stage: video\nsource: clip.mp4\n', { cellId: 'cell-1', cellIndex: 1 });
 * if (r.ok) { runStage(r.request, ctx); }
 */
export function parseStageCell(source: string, options: StageParseOptions): StageParseResult {
  try {
    return parseStageCellUnchecked(source, options);
  } catch (err) {
    // Whatever the YAML library or a check throws on odd input is still a problem of this cell:
    // the runner shows it as a cell error (naming the cell) and the run goes on to write the notebook.
    const m = new OffsetMapper(source);
    return {
      ok: false,
      diagnostics: [{ message: `Cannot read this cell: ${err instanceof Error ? err.message : String(err)}`, severity: 'error', range: m.range(0, 0) }],
      cellId: options.cellId,
    };
  }
}

/** The first alias of a document that names no anchor before it, and the first alias of all. */
function aliasesOf(doc: Document): { unresolved?: Alias; first?: Alias } {
  let unresolved: Alias | undefined;
  let first: Alias | undefined;
  visit(doc, {
    Alias: (_key, node) => {
      first ??= node;
      if (!unresolved && node.resolve(doc) === undefined) {
        unresolved = node;
        return visit.BREAK;
      }
      return undefined;
    },
  });
  return { unresolved, first };
}

/** `doc.toJS()` with alias expansion bounded; a bad or excessive alias is a diagnostic at the alias. */
function toJSChecked(doc: Document, m: OffsetMapper): { value: unknown } | { diagnostics: CellDiagnostic[] } {
  try {
    return { value: doc.toJS({ maxAliasCount: MAX_YAML_ALIAS_COUNT }) };
  } catch (err) {
    const { unresolved, first } = aliasesOf(doc);
    const at = unresolved ?? first;
    const range = nodeRange(at, m) ?? m.range(0, 0);
    let message: string;
    if (unresolved) {
      message = `Invalid YAML: the alias "*${unresolved.source}" names no anchor ("&${unresolved.source}") set before it. Write the value itself; stage cells need no aliases.`;
    } else if (/alias count/i.test((err as Error).message)) {
      message = `Invalid YAML: aliases expand to too many values (more than ${MAX_YAML_ALIAS_COUNT}), as in an "alias bomb". Write the values themselves; stage cells need no aliases.`;
    } else {
      message = `Invalid YAML: ${(err as Error).message}`;
    }
    return { diagnostics: [{ message, severity: 'error', range }] };
  }
}

function parseStageCellUnchecked(source: string, options: StageParseOptions): StageParseResult {
  const m = new OffsetMapper(source);
  const fail = (diagnostics: CellDiagnostic[], kind?: StageKind, cellId = options.cellId): StageParseResult => ({ ok: false, diagnostics, kind, cellId });
  if (source.trim() === '') {
    return fail([{ message: `The cell is empty. Write "stage: <kind>" with one of: ${STAGE_KINDS.join(', ')}.`, severity: 'error', field: 'stage', range: m.range(0, 0) }]);
  }
  const doc = parseDocument(source, { prettyErrors: false, uniqueKeys: true, logLevel: 'error' });
  if (doc.errors.length > 0) {
    // One broken line can make the YAML library report an error per character after it (an
    // unclosed "[" nested a thousand times): the first few say where, a last line counts the rest.
    const shown = doc.errors.slice(0, MAX_YAML_ERRORS).map((e) => ({
      message: /Maximum call stack/.test(e.message) ? 'Invalid YAML: lists or mappings are nested too deeply to read.' : `Invalid YAML: ${e.message.split('\n')[0]}`,
      severity: 'error' as const,
      range: m.range(e.pos[0], e.pos[1]),
    }));
    if (doc.errors.length > MAX_YAML_ERRORS) {
      const last = shown[shown.length - 1];
      last.message += ` (and ${doc.errors.length - MAX_YAML_ERRORS} more YAML errors after this one)`;
    }
    return fail(shown);
  }
  if (!isMap(doc.contents)) {
    return fail([{ message: 'A stage cell is a YAML mapping ("stage: <kind>" then one "field: value" per line).', severity: 'error', range: nodeRange(doc.contents, m) ?? m.range(0, source.length) }]);
  }
  const js = toJSChecked(doc, m);
  if ('diagnostics' in js) {
    return fail(js.diagnostics);
  }
  const value = js.value as Record<string, unknown>;
  const diagnostics: CellDiagnostic[] = [];
  for (const key of Object.keys(value)) {
    const pair = pairAt(doc, [key]);
    if (pair && !isScalar(pair.key)) {
      diagnostics.push({ message: 'Field names must be plain words.', severity: 'error', range: nodeRange(pair.key, m) ?? m.range(0, 0) });
    }
  }
  const stage = value.stage;
  // A cell whose kind is missing or unknown keeps the id it declares (its status, errors and session entry use it).
  const declaredId = typeof value.id === 'string' && ID_PATTERN.test(value.id) ? value.id : options.cellId;
  if (stage === undefined) {
    return fail([{ message: `Missing field "stage": name one of ${STAGE_KINDS.join(', ')}.`, severity: 'error', field: 'stage', range: rangeOf(doc, [], m) }], undefined, declaredId);
  }
  if (!isStageKind(stage)) {
    const hint = typeof stage === 'string' ? closest(stage, STAGE_KINDS) : undefined;
    return fail([
      {
        message: `Unknown stage kind ${typeof stage === 'string' ? quoteForMessage(stage) : describeValue(stage)}.${hint ? ` Did you mean "${hint}"?` : ''} Stage kinds: ${STAGE_KINDS.join(', ')}.`,
        severity: 'error',
        field: 'stage',
        range: rangeOf(doc, ['stage'], m),
      },
    ], undefined, declaredId);
  }
  const kind = stage;
  let cellId = options.cellId;
  if (value.id !== undefined) {
    if (typeof value.id !== 'string' || !ID_PATTERN.test(value.id)) {
      diagnostics.push({ message: `Field "id" must be 1-64 letters, digits, "-" or "_" (got ${describeValue(value.id)}).`, severity: 'error', field: 'id', range: rangeOf(doc, ['id'], m) });
    } else {
      cellId = value.id;
      const dup = options.knownCells?.filter((c) => c.id === cellId).length ?? 0;
      if (dup > 1) {
        diagnostics.push({ message: `Another cell of this notebook also has the id "${cellId}"; ids must be unique.`, severity: 'error', field: 'id', range: rangeOf(doc, ['id'], m) });
      }
    }
  }
  const uses: Partial<Record<StageKind, string>> = {};
  if (value.uses !== undefined) {
    if (value.uses === null || typeof value.uses !== 'object' || Array.isArray(value.uses)) {
      diagnostics.push({ message: `Field "uses" must be a mapping of stage kind to cell id, e.g. "uses: { video: cell-1 }" (got ${describeValue(value.uses)}).`, severity: 'error', field: 'uses', range: rangeOf(doc, ['uses'], m) });
    } else {
      for (const [k, v] of Object.entries(value.uses as Record<string, unknown>)) {
        if (!isStageKind(k)) {
          const hint = closest(k, STAGE_KINDS);
          diagnostics.push({ message: `"uses.${clipForMessage(k)}": "${clipForMessage(k)}" is not a stage kind.${hint ? ` Did you mean "${hint}"?` : ''} Stage kinds: ${STAGE_KINDS.join(', ')}.`, severity: 'error', field: `uses.${clipForMessage(k)}`, range: rangeOf(doc, ['uses', k], m, 'key') });
          continue;
        }
        if (typeof v !== 'string' || !ID_PATTERN.test(v)) {
          diagnostics.push({ message: `Field "uses.${k}" must be a cell id (got ${describeValue(v)}).`, severity: 'error', field: `uses.${k}`, range: rangeOf(doc, ['uses', k], m) });
          continue;
        }
        if (v === cellId) {
          diagnostics.push({ message: `Field "uses.${k}" names this cell itself.`, severity: 'error', field: `uses.${k}`, range: rangeOf(doc, ['uses', k], m) });
          continue;
        }
        if (options.knownCells) {
          const target = options.knownCells.find((c) => c.id === v);
          if (!target) {
            const hint = closest(v, options.knownCells.map((c) => c.id));
            diagnostics.push({ message: `Field "uses.${k}" names cell "${v}", which does not exist in this notebook.${hint ? ` Did you mean "${hint}"?` : ''}`, severity: 'error', field: `uses.${k}`, range: rangeOf(doc, ['uses', k], m) });
            continue;
          }
          if (target.kind !== undefined && target.kind !== k) {
            diagnostics.push({ message: `Field "uses.${k}" names cell "${v}", which is a ${target.kind} stage, not a ${k} stage.`, severity: 'error', field: `uses.${k}`, range: rangeOf(doc, ['uses', k], m) });
            continue;
          }
        }
        uses[k] = v;
      }
    }
  }
  const params: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    if (!(COMMON_FIELDS as readonly string[]).includes(k)) {
      params[k] = v;
    }
  }
  const validate = validatorFor(kind);
  if (!validate(params)) {
    diagnostics.push(...schemaDiagnostics(kind, validate.errors ?? [], params, doc, m));
  }
  if (diagnostics.some((d) => d.severity === 'error')) {
    return fail(diagnostics, kind, cellId);
  }
  return { ok: true, request: { kind, cellId, cellIndex: options.cellIndex, params, uses }, diagnostics };
}

export type PromptParseResult =
  | { ok: true; name: string; text: string; nameRange: SourceRange; diagnostics: CellDiagnostic[] }
  | {
      ok: false;
      diagnostics: CellDiagnostic[];
      /** The template the cell seems to name: a loose match of its FIRST non-empty line only (`template : x`, `template: x y`). */
      name?: string;
    };

const TEMPLATE_LINE = /^template:[ \t]*([A-Za-z0-9_.-]+(?:\/[A-Za-z0-9_.-]+)?)[ \t]*$/;
const LOOSE_TEMPLATE_LINE = /^template\s*:\s*(\S+)/;

/**
 * Parses a prompt cell (language `alref-prompt`): the first non-empty line is `template: <name>`
 * (a built-in template it overrides, or `<built-in>/<label>`, a named variant of one), everything
 * after that line is the template text, verbatim (its hash goes into the record).
 */
export function parsePromptCell(source: string): PromptParseResult {
  const m = new OffsetMapper(source);
  const lines = source.split('\n');
  const first = lines.findIndex((l) => l.trim() !== '');
  if (first < 0) {
    return { ok: false, diagnostics: [{ message: 'The prompt cell is empty. Its first line is "template: <name>", the template text follows.', severity: 'error', field: 'template', range: m.range(0, 0) }] };
  }
  const line = lines[first].replace(/\r$/, '');
  const match = TEMPLATE_LINE.exec(line.trim());
  const lineStart = lines.slice(0, first).reduce((n, l) => n + l.length + 1, 0);
  if (!match) {
    const loose = LOOSE_TEMPLATE_LINE.exec(line.trim())?.[1];
    return {
      ok: false,
      ...(loose ? { name: loose } : {}),
      diagnostics: [
        {
          message: `The first line of a prompt cell must be "template: <name>" (letters, digits, ".", "-", "_"; a variant adds "/<label>"), not ${quoteForMessage(line.trim())}.`,
          severity: 'error',
          field: 'template',
          range: m.range(lineStart, lineStart + line.length),
        },
      ],
    };
  }
  const name = match[1];
  const nameStart = lineStart + lines[first].indexOf(name, lines[first].indexOf(':'));
  const text = lines.slice(first + 1).join('\n');
  const diagnostics: CellDiagnostic[] = [];
  if (text.trim() === '') {
    diagnostics.push({ message: `The prompt cell ${name.includes('/') ? 'defines' : 'overrides'} "${name}" with an empty text.`, severity: 'warning', field: 'template', range: m.range(lineStart, lineStart + line.length) });
  }
  return { ok: true, name, text, nameRange: m.range(nameStart, nameStart + name.length), diagnostics };
}
