/**
 * Fuzzing of the notebook parser (`parseNotebook`, with `decodeNotebookBytes` in front as the CLI
 * and VS Code read files) and of the stage-cell parser (`parseStageCell`, `peekStageCell`,
 * `parsePromptCell`), optionally through `alref notebook run`.
 *
 * Mutants are derived deterministically from (seed, index), so any failure is reproduced alone
 * with the same seed and `only: index`. Every input must end in a clean parse or in a
 * `PipelineError` that names the file (and, for cells, diagnostics with positions): never another
 * exception, never a write to the input file. A notebook that parses must also write, read back to
 * the same bytes, and keep the fields of the input that the format does not own.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runNotebookFile } from '../../src/cli/commands/notebook';
import { effectiveCellId, knownCells } from '../../src/pipeline/cells/notebook';
import type { CellLike } from '../../src/pipeline/cells/notebook';
import { parsePromptCell, parseStageCell, peekStageCell } from '../../src/pipeline/cells/parse';
import type { KnownCell, StageParseResult } from '../../src/pipeline/cells/parse';
import { PipelineError } from '../../src/pipeline/errors';
import { decodeNotebookBytes, parseNotebook, serializeNotebook } from '../../src/pipeline/format';
import type { NotebookModel } from '../../src/pipeline/format';
import { prng } from '../tooling/prng';

const ROOT = path.resolve(__dirname, '../..');

/** The seed notebooks: the demo and a Jupyter notebook with attachments and unknown fields. */
export const SEED_FILES = [path.join(ROOT, 'examples/demo.alref'), path.join(ROOT, 'test/fixtures/notebooks/jupyter-extras.alref')];

/** The name parse errors must carry (mutants are parsed in memory under this name). */
export const FUZZ_FILE = '/fuzz/mutant.alref';

export type MutationKind =
  | 'byte-flip'
  | 'byte-set'
  | 'truncate'
  | 'deep-nesting'
  | 'deep-nesting-text'
  | 'huge-string'
  | 'alias-bomb'
  | 'alias-unresolved'
  | 'invalid-utf8'
  | 'json-edit'
  | 'yaml-edit';

export const MUTATION_KINDS: readonly MutationKind[] = [
  'byte-flip',
  'byte-set',
  'truncate',
  'deep-nesting',
  'deep-nesting-text',
  'huge-string',
  'alias-bomb',
  'alias-unresolved',
  'invalid-utf8',
  'json-edit',
  'yaml-edit',
];

export interface FuzzOptions {
  seed: number;
  count: number;
  /** Run only this mutant index (to reproduce a failure). */
  only?: number;
  /** Largest "huge string" in characters. */
  maxHuge?: number;
  /** Deepest JSON nesting inserted. */
  maxDepth?: number;
  /** Deepest YAML nesting inserted into stage cells (the YAML library is slow on deep input). */
  maxYamlDepth?: number;
  /** Also run every n-th mutant through `alref notebook run` (0: never). */
  cliEvery?: number;
  /** Stop collecting after this many failures. */
  maxFailures?: number;
}

export interface FuzzFailure {
  index: number;
  kinds: MutationKind[];
  phase: string;
  error: string;
}

export interface FuzzReport {
  seed: number;
  count: number;
  /** Mutants that parsed (and were written and read back) / were refused with a named error. */
  parsed: number;
  refused: number;
  /** Stage / prompt cell sources parsed (distinct ones), and how many of those were rejected with diagnostics. */
  cellsParsed: number;
  cellsRejected: number;
  /** Runs through `alref notebook run` and how they ended. */
  cliRuns: number;
  cliOutcomes: Record<string, number>;
  byKind: Record<MutationKind, { mutants: number; parsed: number; refused: number }>;
  /** First line of each distinct refusal message (numbers stripped), with counts: what users would see. */
  refusals: Record<string, number>;
  failures: FuzzFailure[];
  ms: number;
}

export class Rng {
  constructor(readonly next: () => number) {}
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  range(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)];
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
}

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

const enc = new TextEncoder();
const dec = new TextDecoder();

/** Every object and array of a JSON value, with a setter for each of its slots. */
function containers(root: Json): Array<Json[] | { [k: string]: Json }> {
  const out: Array<Json[] | { [k: string]: Json }> = [];
  const stack: Json[] = [root];
  while (stack.length > 0) {
    const v = stack.pop()!;
    if (v !== null && typeof v === 'object') {
      out.push(v);
      for (const c of Array.isArray(v) ? v : Object.values(v)) {
        stack.push(c);
      }
    }
  }
  return out;
}

function setSlot(rng: Rng, root: Json, make: (old: Json) => Json): void {
  const all = containers(root);
  const target = rng.pick(all);
  if (Array.isArray(target)) {
    if (target.length === 0 || rng.chance(0.2)) {
      target.push(make(null));
    } else {
      const i = rng.int(target.length);
      target[i] = make(target[i]);
    }
  } else {
    const keys = Object.keys(target);
    if (keys.length === 0 || rng.chance(0.2)) {
      Object.defineProperty(target, rng.pick(['x-new', 'metadata', 'attachments', 'id', '__proto__', 'alrefFields', 'outputs', 'source', 'data']), {
        value: make(null),
        enumerable: true,
        writable: true,
        configurable: true,
      });
    } else {
      const k = rng.pick(keys);
      Object.defineProperty(target, k, { value: make(target[k]), enumerable: true, writable: true, configurable: true });
    }
  }
}

/** A placeholder for `depth` nested arrays or objects, replaced by {@link deepText} once the JSON is written. */
function deepValue(rng: Rng, depth: number): Json {
  return `@@deep:${depth}:${rng.chance(0.5) ? 'a' : 'o'}@@`;
}

function deepText(depth: number, arrays: boolean): string {
  return arrays ? `${'['.repeat(depth)}1${']'.repeat(depth)}` : `${'{"a":'.repeat(depth)}"leaf"${'}'.repeat(depth)}`;
}

function randomJson(rng: Rng, depth = 0): Json {
  switch (rng.int(depth > 3 ? 5 : 7)) {
    case 0:
      return null;
    case 1:
      return rng.chance(0.5);
    case 2:
      return rng.pick([0, -1, 1.5, 1e308, -0, 2 ** 53 + 1, 7]);
    case 3:
      return rng.pick(['', 'x', 'stage: video', '\u0000', '\uFFFD', '\uD800', 'cell-1', 'alref', 'markdown', 'code', 'raw', 'display_data', 'image/png', '@@@', '{{x}}']);
    case 4:
      return rng.pick(['stream', 'error', 'execute_result', 'application/json', 'text/plain', 'application/vnd.alref.frame-grid']);
    case 5:
      return Array.from({ length: rng.int(4) }, () => randomJson(rng, depth + 1));
    default: {
      const o: { [k: string]: Json } = {};
      for (let i = rng.int(4); i > 0; i--) {
        Object.defineProperty(o, rng.pick(['a', 'id', 'cell_type', 'source', 'outputs', 'metadata', 'data', 'output_type', 'name', 'text', '__proto__', 'formatVersion', 'alref', 'vscode', 'languageId', 'attachments']), {
          value: randomJson(rng, depth + 1),
          enumerable: true,
          writable: true,
          configurable: true,
        });
      }
      return o;
    }
  }
}

/** The YAML text of a random stage cell of the notebook, and a setter for it. */
function stageCells(nb: Json): Array<{ get: () => string; set: (s: string) => void }> {
  const cells = nb !== null && typeof nb === 'object' && !Array.isArray(nb) && Array.isArray(nb.cells) ? nb.cells : [];
  const out: Array<{ get: () => string; set: (s: string) => void }> = [];
  for (const c of cells) {
    if (c !== null && typeof c === 'object' && !Array.isArray(c) && c.cell_type === 'code') {
      const cell = c;
      out.push({
        get: () => (Array.isArray(cell.source) ? cell.source.join('') : typeof cell.source === 'string' ? cell.source : ''),
        set: (s) => {
          cell.source = s;
        },
      });
    }
  }
  return out;
}

export function aliasBomb(levels: number, width = 9): string {
  const lines = [`b0: &b0 [${Array(width).fill('lol').join(', ')}]`];
  for (let i = 1; i < levels; i++) {
    lines.push(`b${i}: &b${i} [${Array(width).fill(`*b${i - 1}`).join(', ')}]`);
  }
  return lines.join('\n');
}

const YAML_BITS = ['*', '&', '!', '!!', '{', '}', '[', ']', ':', ': ', '- ', '? ', '|', '>', '\t', '#', '%YAML 1.1\n', '---\n', '...\n', '"', "'", '\\', '\n', '  ', '*x', '&x ', '<<: ', '!!binary ', '!!js/function ', '\uFEFF', '\u0085', '\u2028'];

function mutateYaml(rng: Rng, src: string, maxHuge: number, maxYamlDepth: number): string {
  let s = src;
  for (let n = rng.range(1, 3); n > 0; n--) {
    const at = rng.int(s.length + 1);
    switch (rng.int(7)) {
      case 0:
        s = s.slice(0, at) + rng.pick(YAML_BITS) + s.slice(at);
        break;
      case 1:
        s = s.slice(0, at) + s.slice(at + rng.range(1, 8));
        break;
      case 2: {
        const lines = s.split('\n');
        const i = rng.int(lines.length);
        lines.splice(i, 0, lines[rng.int(lines.length)]);
        s = lines.join('\n');
        break;
      }
      case 3:
        s = `${s}\nnote: ${'['.repeat(rng.range(10, maxYamlDepth))}`;
        break;
      case 4:
        s = `${s}\nexpression: ${'y'.repeat(rng.range(1000, maxHuge))}`;
        break;
      case 5:
        s = s.slice(0, at) + String.fromCharCode(rng.int(0x10000)) + s.slice(at);
        break;
      default:
        s = s.replace(/: (\S+)/, (_m, v: string) => `: &a ${v}\nagain: *a`);
    }
  }
  return s;
}

/** One mutant of a seed notebook: the bytes and what was done to them. */
export function mutate(rng: Rng, seedText: string, options: Required<Pick<FuzzOptions, 'maxHuge' | 'maxDepth' | 'maxYamlDepth'>>): { bytes: Uint8Array; kinds: MutationKind[] } {
  const kinds: MutationKind[] = [];
  let text = seedText;
  let bytes: Uint8Array | undefined;
  const structural = (edit: (nb: Json) => void): void => {
    let nb: Json;
    try {
      nb = JSON.parse(text) as Json;
    } catch {
      return;
    }
    edit(nb);
    try {
      text = JSON.stringify(nb, null, rng.chance(0.5) ? undefined : 1);
    } catch {
      // JSON.stringify recurses: a text made deep by an earlier mutation stays as it was.
      return;
    }
    // Deep values go in as text (JSON.stringify could not write them).
    text = text.replace(/"@@deep:(\d+):([ao])@@"/g, (_m, n: string, how: string) => deepText(Number(n), how === 'a'));
  };
  for (let n = rng.chance(0.7) ? 1 : rng.range(2, 3); n > 0; n--) {
    const kind = rng.pick(MUTATION_KINDS);
    kinds.push(kind);
    switch (kind) {
      case 'byte-flip':
      case 'byte-set':
      case 'truncate':
      case 'invalid-utf8': {
        const b = bytes ?? enc.encode(text);
        if (kind === 'truncate') {
          bytes = b.slice(0, rng.int(b.length));
        } else if (kind === 'invalid-utf8') {
          const bad = rng.pick([[0xff], [0xc3], [0xc0, 0xaf], [0xed, 0xa0, 0x80], [0xf0, 0x9f, 0x98], [0xe9], [0x80, 0x80], [0xf5, 0x80, 0x80, 0x80]]);
          const at = rng.int(b.length + 1);
          const out = new Uint8Array(b.length + bad.length);
          out.set(b.subarray(0, at), 0);
          out.set(bad, at);
          out.set(b.subarray(at), at + bad.length);
          bytes = out;
        } else {
          const out = b.slice();
          for (let k = rng.range(1, 4); k > 0 && out.length > 0; k--) {
            const i = rng.int(out.length);
            out[i] = kind === 'byte-flip' ? out[i] ^ (1 << rng.int(8)) : rng.int(256);
          }
          bytes = out;
        }
        text = dec.decode(bytes);
        continue;
      }
      case 'deep-nesting':
        // Half of them around the limit (200 levels in all), half far beyond it.
        structural((nb) => setSlot(rng, nb, () => deepValue(rng, rng.chance(0.5) ? rng.range(150, 260) : rng.range(150, options.maxDepth))));
        break;
      case 'deep-nesting-text': {
        const depth = rng.range(150, options.maxDepth);
        const at = rng.int(text.length + 1);
        text = text.slice(0, at) + deepText(depth, rng.chance(0.5)) + text.slice(at);
        break;
      }
      case 'huge-string':
        structural((nb) => {
          const huge = rng.pick(['x', 'é', '\u{1F600}', '\\', '"', '\n']).repeat(rng.range(1000, options.maxHuge));
          const cells = stageCells(nb);
          if (cells.length > 0 && rng.chance(0.4)) {
            const c = rng.pick(cells);
            c.set(`${c.get()}\nexpression: "${huge.replace(/["\\\n]/g, 'q')}"\n`);
          } else {
            setSlot(rng, nb, () => huge);
          }
        });
        break;
      case 'alias-bomb':
      case 'alias-unresolved':
        structural((nb) => {
          const cells = stageCells(nb);
          if (cells.length === 0) {
            return;
          }
          const c = rng.pick(cells);
          c.set(kind === 'alias-bomb' ? `${c.get()}\n${aliasBomb(rng.range(3, 12), rng.range(2, 12))}\n` : c.get().replace(/: .*/, ': *nowhere'));
        });
        break;
      case 'json-edit':
        structural((nb) => {
          for (let k = rng.range(1, 3); k > 0; k--) {
            const op = rng.int(4);
            if (op === 0) {
              setSlot(rng, nb, () => randomJson(rng));
            } else if (op === 1) {
              // Delete a key or element.
              const target = rng.pick(containers(nb));
              if (Array.isArray(target)) {
                target.splice(rng.int(target.length + 1), 1);
              } else {
                const keys = Object.keys(target);
                if (keys.length > 0) {
                  delete target[rng.pick(keys)];
                }
              }
            } else if (op === 2) {
              // Duplicate, move or retype a cell.
              const cells = nb !== null && typeof nb === 'object' && !Array.isArray(nb) && Array.isArray(nb.cells) ? nb.cells : undefined;
              if (cells && cells.length > 0) {
                const c = cells[rng.int(cells.length)];
                if (rng.chance(0.5)) {
                  cells.splice(rng.int(cells.length + 1), 0, JSON.parse(JSON.stringify(c)) as Json);
                } else if (c !== null && typeof c === 'object' && !Array.isArray(c)) {
                  c.cell_type = rng.pick(['markdown', 'code', 'raw', 'heading', 1]);
                }
              }
            } else {
              // Change a value's type in place.
              setSlot(rng, nb, (old) => (typeof old === 'string' ? (rng.chance(0.5) ? [old] : old.length) : Array.isArray(old) ? { ...old } : old === null ? '' : JSON.stringify(old)));
            }
          }
        });
        break;
      case 'yaml-edit':
        structural((nb) => {
          const cells = stageCells(nb);
          if (cells.length > 0) {
            const c = rng.pick(cells);
            c.set(mutateYaml(rng, c.get(), options.maxHuge, options.maxYamlDepth));
          }
        });
        break;
    }
    bytes = undefined;
  }
  return { bytes: bytes ?? enc.encode(text), kinds };
}

function describe(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message.slice(0, 300)}` : String(err);
}

/** Checks one stage/prompt cell parse result: diagnostics exist and point inside the source. */
function checkCellResult(r: StageParseResult, source: string): void {
  if (r.ok) {
    return;
  }
  assert.ok(r.diagnostics.length > 0, 'a rejected cell has diagnostics');
  const lines = source.split('\n').length;
  for (const d of r.diagnostics) {
    assert.equal(typeof d.message, 'string');
    assert.ok(d.message.length > 0, 'a diagnostic has a message');
    assert.ok(d.range.start.line >= 0 && d.range.start.line < lines && d.range.end.line < lines, `range inside the cell: ${JSON.stringify(d.range)}`);
  }
}

type RawCell = Record<string, unknown>;

const OWNED_CELL_KEYS = new Set(['cell_type', 'id', 'metadata', 'source', 'outputs', 'execution_count']);

/** The fields of the input that the format does not own are in the written file, unchanged. */
function checkPreserved(input: unknown, written: unknown): void {
  const inp = input as { cells: unknown[]; [k: string]: unknown };
  const out = written as { cells: RawCell[]; [k: string]: unknown };
  for (const key of Object.keys(inp)) {
    if (!['nbformat', 'nbformat_minor', 'metadata', 'cells'].includes(key)) {
      assert.deepEqual(out[key], inp[key], `notebook field ${key}`);
    }
  }
  const meta = (inp.metadata ?? {}) as Record<string, unknown>;
  for (const key of Object.keys(meta)) {
    if (key !== 'alref') {
      assert.deepEqual((out.metadata as Record<string, unknown>)[key], meta[key], `notebook metadata.${key}`);
    }
  }
  inp.cells.forEach((c, i) => {
    const cell = c as RawCell;
    for (const key of Object.keys(cell)) {
      if (!OWNED_CELL_KEYS.has(key) || (cell.cell_type !== 'code' && (key === 'outputs' || key === 'execution_count'))) {
        assert.deepEqual(out.cells[i][key], cell[key], `cell ${i + 1} field ${key}`);
      }
    }
    const meta = (cell.metadata ?? {}) as Record<string, unknown>;
    const outMeta = (out.cells[i].metadata ?? {}) as Record<string, unknown>;
    for (const key of Object.keys(meta)) {
      if (cell.cell_type === 'code' && (key === 'vscode' || key === 'alref')) {
        continue;
      }
      assert.deepEqual(outMeta[key], meta[key], `cell ${i + 1} metadata.${key}`);
    }
  });
}

function emptyReport(seed: number, count: number): FuzzReport {
  return {
    seed,
    count,
    parsed: 0,
    refused: 0,
    cellsParsed: 0,
    cellsRejected: 0,
    cliRuns: 0,
    cliOutcomes: {},
    byKind: Object.fromEntries(MUTATION_KINDS.map((k) => [k, { mutants: 0, parsed: 0, refused: 0 }])) as FuzzReport['byKind'],
    refusals: {},
    failures: [],
    ms: 0,
  };
}

/** Runs one mutant file through `alref notebook run`; the input must never change. */
async function checkCli(bytes: Uint8Array, parsedOk: boolean, report: FuzzReport): Promise<void> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'alref-fuzz-'));
  const quiet = process.stderr.write;
  try {
    const file = path.join(dir, 'mutant.alref');
    writeFileSync(file, bytes);
    const before = statSync(file);
    process.stderr.write = (() => true) as typeof process.stderr.write;
    let outcome: string;
    // A notebook that does not parse is also run in place: it must be refused without a write.
    const opts = parsedOk ? { out: path.join(dir, 'out.alref'), mode: 'replay' as const } : { mode: 'replay' as const };
    try {
      outcome = `exit ${await runNotebookFile(file, opts)}`;
    } catch (err) {
      if (!(err instanceof PipelineError) || !err.message.includes(file)) {
        throw new Error(`notebook run threw something other than a PipelineError naming the file: ${describe(err)}`);
      }
      outcome = 'refused';
    } finally {
      process.stderr.write = quiet;
    }
    report.cliRuns++;
    report.cliOutcomes[outcome] = (report.cliOutcomes[outcome] ?? 0) + 1;
    assert.deepEqual(new Uint8Array(readFileSync(file)), bytes, 'the input file was not written');
    assert.equal(statSync(file).mtimeMs, before.mtimeMs, 'the input file was not touched');
    if (outcome.startsWith('exit') && parsedOk) {
      parseNotebook(readFileSync(path.join(dir, 'out.alref'), 'utf8'), { file: 'out.alref' });
    }
  } finally {
    process.stderr.write = quiet;
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Runs the fuzzer. Never throws for a failing mutant: failures are in the report. */
export async function runFuzz(options: FuzzOptions, onProgress?: (done: number, report: FuzzReport) => void): Promise<FuzzReport> {
  // Mocha sets Error.stackTraceLimit to Infinity; the CLI and VS Code run with Node's default (10).
  // Keep the default here, or every stack overflow caught inside the YAML library records ten
  // thousand frames and the run takes twice as long.
  const stackTraceLimit = Error.stackTraceLimit;
  Error.stackTraceLimit = 10;
  try {
    return await fuzzLoop(options, onProgress);
  } finally {
    Error.stackTraceLimit = stackTraceLimit;
  }
}

async function fuzzLoop(options: FuzzOptions, onProgress?: (done: number, report: FuzzReport) => void): Promise<FuzzReport> {
  const t0 = Date.now();
  const maxHuge = options.maxHuge ?? 100_000;
  const maxDepth = options.maxDepth ?? 3000;
  const maxYamlDepth = options.maxYamlDepth ?? 300;
  const maxFailures = options.maxFailures ?? 20;
  const seeds = SEED_FILES.map((f) => readFileSync(f, 'utf8'));
  const report = emptyReport(options.seed, options.count);
  const seenCells = new Set<string>();
  const peeks = new Map<string, ReturnType<typeof peekStageCell>>();
  const first = options.only ?? 0;
  const last = options.only !== undefined ? options.only + 1 : options.count;
  for (let index = first; index < last && report.failures.length < maxFailures; index++) {
    const rng = new Rng(prng((options.seed * 0x9e3779b1) ^ (index * 0x85ebca6b) ^ 0x5bd1e995));
    const seedText = seeds[index % seeds.length];
    const { bytes, kinds } = mutate(rng, seedText, { maxHuge, maxDepth, maxYamlDepth });
    const fail = (phase: string, err: unknown): void => {
      report.failures.push({ index, kinds, phase, error: describe(err) });
    };
    let model: NotebookModel | undefined;
    let text = '';
    try {
      const decoded = decodeNotebookBytes(bytes);
      text = decoded.text;
      if (decoded.invalidUtf8) {
        assert.ok(decoded.invalidUtf8.count > 0 && decoded.invalidUtf8.line >= 1);
      }
      model = parseNotebook(text, { file: FUZZ_FILE });
      report.parsed++;
    } catch (err) {
      if (err instanceof PipelineError && err.file === FUZZ_FILE && err.message.startsWith(`${FUZZ_FILE}: `)) {
        report.refused++;
        const key = err.message.slice(FUZZ_FILE.length + 2).replace(/\d+/g, 'N').slice(0, 72);
        report.refusals[key] = (report.refusals[key] ?? 0) + 1;
      } else {
        fail('parse', err);
        continue;
      }
    }
    for (const k of new Set(kinds)) {
      report.byKind[k].mutants++;
      report.byKind[k][model ? 'parsed' : 'refused']++;
    }
    if (model) {
      try {
        const written = serializeNotebook(model);
        const again = parseNotebook(written, { file: FUZZ_FILE });
        assert.equal(serializeNotebook(again), written, 'written -> read -> written is byte-identical');
        checkPreserved(JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text), JSON.parse(written));
      } catch (err) {
        fail('write', err);
        continue;
      }
      try {
        const cells: CellLike[] = model.cells.map((c) => ({ id: String(c.metadata.id), language: c.kind === 'markdown' ? 'markdown' : c.language, source: c.source }));
        // peekStageCell runs once per distinct source (the notebook index is rebuilt from the
        // cache); the real knownCells/effectiveCellId run whenever a new source appears.
        const fresh = cells.filter((c) => c.language === 'alref' && !peeks.has(c.source));
        for (const c of fresh) {
          peeks.set(c.source, peekStageCell(c.source));
        }
        const known: KnownCell[] = cells.map((c) => {
          const peek = c.language === 'alref' ? peeks.get(c.source)! : undefined;
          return peek ? { id: peek.id ?? c.id, kind: peek.kind } : { id: c.id };
        });
        if (fresh.length > 0 && index % 16 === 0) {
          const check = fresh.slice(0, 2);
          assert.deepEqual(knownCells(check), check.map((c) => known[cells.indexOf(c)]));
          assert.equal(effectiveCellId(check[0]), known[cells.indexOf(check[0])].id);
        }
        const knownKey = JSON.stringify(known);
        cells.forEach((cell, i) => {
          const key = `${cell.language}\u0000${knownKey}\u0000${cell.source}`;
          if (seenCells.has(key)) {
            return;
          }
          seenCells.add(key);
          if (cell.language === 'alref') {
            const r = parseStageCell(cell.source, { cellId: cell.id, cellIndex: i + 1, knownCells: known });
            report.cellsParsed++;
            report.cellsRejected += r.ok ? 0 : 1;
            checkCellResult(r, cell.source);
          } else if (cell.language === 'alref-prompt') {
            const r = parsePromptCell(cell.source);
            report.cellsParsed++;
            report.cellsRejected += r.ok ? 0 : 1;
          }
        });
      } catch (err) {
        fail('cells', err);
        continue;
      }
    }
    if (options.cliEvery && index % options.cliEvery === 0) {
      try {
        await checkCli(bytes, model !== undefined, report);
      } catch (err) {
        fail('cli', err);
      }
    }
    if (onProgress && (index + 1) % 1000 === 0) {
      onProgress(index + 1, report);
    }
  }
  report.ms = Date.now() - t0;
  return report;
}

/** A short plain-text summary of a report. */
export function summarize(r: FuzzReport): string {
  const lines = [
    `fuzz: seed ${r.seed}, ${r.count} mutants in ${(r.ms / 1000).toFixed(1)} s: ${r.parsed} parsed (written and read back), ${r.refused} refused with a named error, ${r.failures.length} failures`,
    `cells: ${r.cellsParsed} distinct stage/prompt cells parsed, ${r.cellsRejected} rejected with positioned diagnostics`,
  ];
  if (r.cliRuns > 0) {
    lines.push(`notebook run: ${r.cliRuns} runs (${Object.entries(r.cliOutcomes).map(([k, v]) => `${k}: ${v}`).join(', ')}); the input file was never written`);
  }
  lines.push('by mutation: ' + MUTATION_KINDS.map((k) => `${k} ${r.byKind[k].mutants} (${r.byKind[k].parsed} parsed)`).join(', '));
  const top = Object.entries(r.refusals).sort((a, b) => b[1] - a[1]).slice(0, 8);
  lines.push('most common refusals: ' + top.map(([k, v]) => `${v}x "${k}"`).join('; '));
  for (const f of r.failures) {
    lines.push(`FAILURE #${f.index} [${f.kinds.join('+')}] in ${f.phase}: ${f.error}  (reproduce: npm run fuzz -- --seed ${r.seed} --only ${f.index})`);
  }
  return lines.join('\n');
}
