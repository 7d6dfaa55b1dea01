import { PipelineError } from '../errors';
import { FORMAT_VERSION, emptyNotebook } from './model';
import type { CellModel, ExecutionSummaryModel, NotebookModel, OutputModel } from './model';
import { joinLines, splitLines, stringifySorted } from './json';
import { outputFromNbformat, outputToNbformat } from './outputs';

/**
 * The `.alref` file is an nbformat 4.5 notebook (JSON) so Jupyter tools and GitHub read it:
 * - code cells carry their language in `metadata.vscode.languageId` (`alref` or `alref-prompt`, the
 *   convention of VS Code's own ipynb support) and their last run in `execution_count` plus
 *   `metadata.alref.execution` (`success`, `startTime`, `endTime`);
 * - `metadata.alref.formatVersion` is the layout version; a newer one is refused;
 * - outputs are nbformat `display_data` / `stream` / `error` outputs (see `./outputs.ts`);
 * - keys are sorted, indent is 1 space (like Jupyter), and the file ends with a newline.
 */
export const NBFORMAT = 4;
export const NBFORMAT_MINOR = 5;

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
    raw = JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
  } catch (err) {
    throw formatError(`is not valid JSON (${(err as Error).message}); it may be truncated or corrupted.`, file, err);
  }
  if (!isRecord(raw)) {
    throw formatError('is not a notebook: the top level is not a JSON object.', file);
  }
  if (raw.nbformat !== NBFORMAT) {
    throw formatError(`is not an nbformat 4 notebook (nbformat is ${JSON.stringify(raw.nbformat)}); only nbformat 4 is supported.`, file);
  }
  const metadata = isRecord(raw.metadata) ? structuredClone(raw.metadata) : {};
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
  metadata.alref = { ...(isRecord(alref) ? alref : {}), formatVersion: FORMAT_VERSION };
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
  const metadata: Record<string, unknown> = isRecord(raw.metadata) ? structuredClone(raw.metadata) : {};
  let language = type === 'markdown' ? 'markdown' : type === 'raw' ? 'raw' : DEFAULT_CODE_LANGUAGE;
  const vs = metadata.vscode;
  if (isRecord(vs) && typeof vs.languageId === 'string' && type === 'code') {
    language = vs.languageId;
    delete vs.languageId;
    if (Object.keys(vs).length === 0) {
      delete metadata.vscode;
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
      delete al.execution;
      if (Object.keys(al).length === 0) {
        delete cell.metadata.alref;
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
  return stringifySorted(toNbformat(model));
}

/** The nbformat JSON object for a model (before key sorting). Cells without an id get one. */
export function toNbformat(model: NotebookModel, options: { dedupe?: boolean } = {}): Record<string, unknown> {
  const dedupe = options.dedupe ?? true;
  const cells = model.cells.map((c) => ({ ...c, metadata: { ...c.metadata } }));
  assignMissingIds(cells);
  const metadata = structuredClone(model.metadata) as Record<string, unknown>;
  metadata.alref = { ...(isRecord(metadata.alref) ? metadata.alref : {}), formatVersion: FORMAT_VERSION };
  return {
    nbformat: NBFORMAT,
    nbformat_minor: NBFORMAT_MINOR,
    metadata,
    cells: cells.map((c) => cellToNbformat(c, dedupe)),
  };
}

function cellToNbformat(cell: CellModel, dedupe: boolean): Record<string, unknown> {
  const { id, ...rest } = cell.metadata;
  const metadata: Record<string, unknown> = structuredClone(rest);
  const source = splitLines(cell.source);
  if (cell.kind === 'markdown') {
    return { cell_type: 'markdown', id, metadata, source };
  }
  if (cell.language === 'raw') {
    return { cell_type: 'raw', id, metadata, source };
  }
  metadata.vscode = { ...(isRecord(metadata.vscode) ? metadata.vscode : {}), languageId: cell.language };
  const s = cell.executionSummary;
  if (s && (s.success !== undefined || s.timing)) {
    metadata.alref = {
      ...(isRecord(metadata.alref) ? metadata.alref : {}),
      execution: { success: s.success, startTime: s.timing?.startTime, endTime: s.timing?.endTime },
    };
  }
  return {
    cell_type: 'code',
    id,
    metadata,
    source,
    execution_count: s?.executionOrder ?? null,
    outputs: cell.outputs.map((o: OutputModel) => outputToNbformat(o, dedupe)),
  };
}
