import { PipelineError } from '../errors';
import { FORMAT_VERSION, emptyNotebook } from './model';
import type { CellModel, ExecutionSummaryModel, NotebookModel, OutputModel } from './model';
import { JsonTooDeepError, MAX_JSON_DEPTH, findTooDeep, formatJsonPath, joinLines, setOwn, splitLines, stringifySorted } from './json';
import { EXTRA_FIELDS_KEY, popExtras, putExtras, restoreExtras, takeExtras } from './extras';
import { outputFromNbformat, outputToNbformat } from './nbformatOutputs';

/**
 * The `.alref` file is an nbformat 4.5 notebook (JSON) so Jupyter tools and GitHub read it:
 * - code cells carry their language in `metadata.vscode.languageId` (`alref` or `alref-prompt`, the
 *   convention of VS Code's own ipynb support) and their last run in `execution_count` plus
 *   `metadata.alref.execution` (`success`, `startTime`, `endTime`);
 * - `metadata.alref.formatVersion` is the layout version; a newer one is refused;
 * - outputs are nbformat `display_data` / `stream` / `error` outputs (see `./nbformatOutputs.ts`);
 * - keys are sorted, indent is 1 space (like Jupyter), and the file ends with a newline;
 * - every nbformat field the format does not own is written back unchanged: cell `attachments`
 *   (`metadata.attachments` in the model, VS Code's convention), unknown metadata, unknown keys of
 *   the notebook, its cells and outputs (see `./extras.ts`), keys named `__proto__` included;
 * - objects and arrays nest at most {@link MAX_JSON_DEPTH} levels: deeper files are refused when
 *   read, and a deeper model is refused when written (it could not be read back).
 */
export const NBFORMAT = 4;
export const NBFORMAT_MINOR = 5;

/** Top-level notebook fields the format reads; any other is kept in `metadata.alrefFields`. */
const NOTEBOOK_FIELDS = ['nbformat', 'nbformat_minor', 'metadata', 'cells'] as const;
/** Top-level cell fields the format reads, per cell type. */
const TEXT_CELL_FIELDS = ['cell_type', 'id', 'metadata', 'source', 'attachments'] as const;
const CODE_CELL_FIELDS = [...TEXT_CELL_FIELDS, 'outputs', 'execution_count'] as const;
/** Cell metadata keys the model uses itself; a file's own keys of these names are kept aside. */
const CELL_RESERVED_METADATA = ['id', 'attachments', EXTRA_FIELDS_KEY] as const;

/** Language of a code cell that names none. */
export const DEFAULT_CODE_LANGUAGE = 'alref';

/** nbformat 4.5 cell ids: 1-64 characters of letters, digits, `-` and `_`. */
export const CELL_ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

export interface ParseOptions {
  /** File name used in error messages. */
  file?: string;
}

function formatError(message: string, file: string | undefined, cause?: unknown): PipelineError {
  const where = file ? `${file}: ` : '';
  return new PipelineError(`${where}${message} The file was not changed.`, { stage: 'format', kind: 'invalid-input', file, cause });
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/**
 * Reads a `.alref` (or `.ipynb`) file. An empty or whitespace-only text is an empty notebook.
 * Malformed JSON, anything that is not nbformat 4, or a newer `.alref` format version throws a
 * {@link PipelineError} naming the file and the problem: callers must never turn a failure into an
 * empty notebook, or the next save would overwrite the user's file.
 */
export function parseNotebook(text: string, options: ParseOptions = {}): NotebookModel {
  const { file } = options;
  if (text.trim() === '') {
    return emptyNotebook();
  }
  let raw: unknown;
  try {
    // JSON.parse keeps a "__proto__" key as an own property (it never sets a prototype), and
    // everything below copies keys with spreads or `setOwn`, so such keys survive a rewrite.
    raw = JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
  } catch (err) {
    throw formatError(`is not valid JSON (${(err as Error).message}); it may be truncated or corrupted.`, file, err);
  }
  const deep = findTooDeep(raw, MAX_JSON_DEPTH);
  if (deep) {
    const cell = deep[0] === 'cells' && typeof deep[1] === 'number' ? `cell ${deep[1] + 1}: ` : '';
    throw formatError(`${cell}objects and arrays nest more than ${MAX_JSON_DEPTH} levels deep at ${formatJsonPath(deep)}; AL-Ref notebooks allow at most ${MAX_JSON_DEPTH}. Flatten that value.`, file);
  }
  if (!isRecord(raw)) {
    throw formatError('is not a notebook: the top level is not a JSON object.', file);
  }
  if (raw.nbformat !== NBFORMAT) {
    throw formatError(`is not an nbformat 4 notebook (nbformat is ${JSON.stringify(raw.nbformat)}); only nbformat 4 is supported.`, file);
  }
  if (raw.metadata !== undefined && !isRecord(raw.metadata)) {
    throw formatError('has a "metadata" that is not an object.', file);
  }
  const metadata: Record<string, unknown> = isRecord(raw.metadata) ? { ...raw.metadata } : {};
  putExtras(metadata, takeExtras(raw, NOTEBOOK_FIELDS, metadata, [EXTRA_FIELDS_KEY]));
  const alref = metadata.alref;
  if (alref !== undefined) {
    if (!isRecord(alref)) {
      throw formatError('has a "metadata.alref" that is not an object.', file);
    }
    const v = alref.formatVersion;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) {
      throw formatError(`has an invalid metadata.alref.formatVersion ${JSON.stringify(v)}.`, file);
    }
    if (v > FORMAT_VERSION) {
      throw formatError(
        `was written by a newer AL-Ref Notebooks (format version ${v}; this version reads up to ${FORMAT_VERSION}). Update the extension or CLI to open it.`,
        file,
      );
    }
  }
  setOwn(metadata, 'alref', { ...(isRecord(alref) ? alref : {}), formatVersion: FORMAT_VERSION });
  if (!Array.isArray(raw.cells)) {
    throw formatError('has no "cells" array.', file);
  }
  const cells = raw.cells.map((c, i) => {
    try {
      return cellFromNbformat(c);
    } catch (err) {
      throw formatError(`cell ${i + 1} is invalid: ${(err as Error).message}.`, file, err);
    }
  });
  assignMissingIds(cells);
  return { cells, metadata: metadata as NotebookModel['metadata'] };
}

function cellFromNbformat(raw: unknown): CellModel {
  if (!isRecord(raw)) {
    throw new TypeError('it is not an object');
  }
  const type = raw.cell_type;
  if (type !== 'markdown' && type !== 'code' && type !== 'raw') {
    throw new TypeError(`unknown cell_type ${JSON.stringify(type)}`);
  }
  let source: string;
  try {
    source = joinLines(raw.source ?? '');
  } catch {
    throw new TypeError('"source" is not a string or an array of strings');
  }
  if (raw.metadata !== undefined && !isRecord(raw.metadata)) {
    throw new TypeError('its "metadata" is not an object');
  }
  const metadata: Record<string, unknown> = isRecord(raw.metadata) ? { ...raw.metadata } : {};
  putExtras(metadata, takeExtras(raw, type === 'code' ? CODE_CELL_FIELDS : TEXT_CELL_FIELDS, metadata, CELL_RESERVED_METADATA));
  if (raw.attachments !== undefined) {
    setOwn(metadata, 'attachments', raw.attachments);
  }
  let language = type === 'markdown' ? 'markdown' : type === 'raw' ? 'raw' : DEFAULT_CODE_LANGUAGE;
  const vs = metadata.vscode;
  if (isRecord(vs) && typeof vs.languageId === 'string' && type === 'code') {
    language = vs.languageId;
    const { languageId: _languageId, ...restVs } = vs;
    if (Object.keys(restVs).length === 0) {
      delete metadata.vscode;
    } else {
      metadata.vscode = restVs;
    }
  }
  const cell: CellModel = { kind: type === 'markdown' ? 'markdown' : 'code', language, source, metadata, outputs: [] };
  if (typeof raw.id === 'string') {
    if (!CELL_ID_PATTERN.test(raw.id)) {
      throw new TypeError(`its id ${JSON.stringify(raw.id)} is not 1-64 letters, digits, "-" or "_"`);
    }
    cell.metadata = { ...metadata, id: raw.id };
  }
  if (type === 'code') {
    if (raw.outputs !== undefined && !Array.isArray(raw.outputs)) {
      throw new TypeError('"outputs" is not an array');
    }
    cell.outputs = ((raw.outputs as unknown[] | undefined) ?? []).map((o, k) => {
      try {
        return outputFromNbformat(o);
      } catch (err) {
        throw new TypeError(`output ${k + 1}: ${(err as Error).message}`);
      }
    });
    const summary: ExecutionSummaryModel = {};
    if (typeof raw.execution_count === 'number') {
      summary.executionOrder = raw.execution_count;
    }
    const al = cell.metadata.alref;
    if (isRecord(al) && isRecord(al.execution)) {
      const ex = al.execution;
      if (typeof ex.success === 'boolean') {
        summary.success = ex.success;
      }
      if (typeof ex.startTime === 'number' && typeof ex.endTime === 'number') {
        summary.timing = { startTime: ex.startTime, endTime: ex.endTime };
      }
      const { execution: _execution, ...restAl } = al;
      if (Object.keys(restAl).length === 0) {
        delete cell.metadata.alref;
      } else {
        cell.metadata.alref = restAl;
      }
    }
    if (Object.keys(summary).length > 0) {
      cell.executionSummary = summary;
    }
  }
  return cell;
}

/**
 * Gives every cell without an id the first free `cell-<n>` id (n = its 1-based position, then
 * higher). Deterministic, so a file without ids (nbformat 4.4) always opens the same way.
 */
export function assignMissingIds(cells: CellModel[]): void {
  const used = new Set(cells.map((c) => c.metadata.id).filter((id): id is string => typeof id === 'string'));
  cells.forEach((cell, i) => {
    if (typeof cell.metadata.id !== 'string' || !CELL_ID_PATTERN.test(cell.metadata.id)) {
      let n = i + 1;
      while (used.has(`cell-${n}`)) {
        n++;
      }
      const id = `cell-${n}`;
      used.add(id);
      cell.metadata = { ...cell.metadata, id };
    }
  });
}

/**
 * Writes a notebook model as `.alref` text: nbformat 4.5, sorted keys, 1-space indent, trailing
 * newline. The same model always gives the same bytes, and `serializeNotebook(parseNotebook(t)) === t`
 * for any text this function wrote.
 */
export function serializeNotebook(model: NotebookModel): string {
  return nbformatText(toNbformat(model));
}

/**
 * The file text of an nbformat object ({@link toNbformat}): sorted keys, 1-space indent, trailing
 * newline. Throws a {@link PipelineError} naming the place when it nests deeper than
 * {@link MAX_JSON_DEPTH} levels (such a file would be refused when read back); the key sort makes
 * that check, so a save walks the notebook once.
 */
export function nbformatText(nb: Record<string, unknown>): string {
  try {
    return stringifySorted(nb);
  } catch (err) {
    if (!(err instanceof JsonTooDeepError)) {
      throw err;
    }
    const deep = err.path;
    const cell = deep[0] === 'cells' && typeof deep[1] === 'number' ? ` in cell ${deep[1] + 1}` : '';
    throw new PipelineError(
      `The notebook cannot be written: its objects and arrays nest more than ${MAX_JSON_DEPTH} levels deep${cell} at ${formatJsonPath(deep)}, and a file that deep would be refused when read back. Flatten that value.`,
      { stage: 'format', kind: 'invalid-input', field: formatJsonPath(deep), cause: err },
    );
  }
}

/**
 * The nbformat JSON object for a model (before key sorting). Cells without an id get one. Any
 * depth: {@link nbformatText} refuses what is too deep to write.
 */
export function toNbformat(model: NotebookModel, options: { dedupe?: boolean } = {}): Record<string, unknown> {
  const dedupe = options.dedupe ?? true;
  const cells = model.cells.map((c) => ({ ...c, metadata: { ...c.metadata } }));
  assignMissingIds(cells);
  // Shallow copies only: the parts changed below are replaced, never edited in place, and nothing
  // here recurses, so a model of any depth reaches the depth check instead of overflowing the stack.
  const metadata: Record<string, unknown> = { ...model.metadata };
  const extras = popExtras(metadata);
  setOwn(metadata, 'alref', { ...(isRecord(metadata.alref) ? metadata.alref : {}), formatVersion: FORMAT_VERSION });
  const nb: Record<string, unknown> = {
    nbformat: NBFORMAT,
    nbformat_minor: NBFORMAT_MINOR,
    metadata,
    cells: cells.map((c) => cellToNbformat(c, dedupe)),
  };
  restoreExtras(nb, NOTEBOOK_FIELDS, metadata, extras);
  return nb;
}

function cellToNbformat(cell: CellModel, dedupe: boolean): Record<string, unknown> {
  const { id, ...metadata } = cell.metadata as Record<string, unknown>;
  const extras = popExtras(metadata);
  const attachments = metadata.attachments;
  delete metadata.attachments;
  const source = splitLines(cell.source);
  let raw: Record<string, unknown>;
  let owned: readonly string[] = TEXT_CELL_FIELDS;
  if (cell.kind === 'markdown') {
    raw = { cell_type: 'markdown', id, metadata, source };
  } else if (cell.language === 'raw') {
    raw = { cell_type: 'raw', id, metadata, source };
  } else {
    metadata.vscode = { ...(isRecord(metadata.vscode) ? metadata.vscode : {}), languageId: cell.language };
    const s = cell.executionSummary;
    if (s && (s.success !== undefined || s.timing)) {
      metadata.alref = {
        ...(isRecord(metadata.alref) ? metadata.alref : {}),
        execution: { success: s.success, startTime: s.timing?.startTime, endTime: s.timing?.endTime },
      };
    }
    owned = CODE_CELL_FIELDS;
    raw = {
      cell_type: 'code',
      id,
      metadata,
      source,
      execution_count: s?.executionOrder ?? null,
      outputs: cell.outputs.map((o: OutputModel) => outputToNbformat(o, dedupe)),
    };
  }
  if (attachments !== undefined) {
    raw.attachments = attachments;
  }
  restoreExtras(raw, owned, metadata, extras);
  return raw;
}
