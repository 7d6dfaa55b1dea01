import { existsSync } from 'node:fs';
import path from 'node:path';
import type { CellDiagnostic, SourceRange } from './parse';

/** Fields of a stage cell that name a file or folder, relative to the notebook's folder. */
const PATH_FIELDS: Record<string, readonly string[]> = {
  video: ['source'],
  lbru: ['audio'],
};

/**
 * Diagnostics for paths a stage cell names that do not exist (resolved against `baseDir`, the
 * notebook's folder, as the stage resolves them), on the field's line, naming the resolved path, so
 * a typo shows in the editor before the cell runs. Pure apart from the existence check.
 */
export function missingPathDiagnostics(source: string, kind: string, params: Record<string, unknown>, baseDir: string, exists: (p: string) => boolean = existsSync): CellDiagnostic[] {
  const out: CellDiagnostic[] = [];
  const lines = source.split(/\r?\n/);
  for (const field of PATH_FIELDS[kind] ?? []) {
    const value = params[field];
    if (typeof value !== 'string' || value.trim() === '') {
      continue;
    }
    const resolved = path.resolve(baseDir, value);
    if (exists(resolved)) {
      continue;
    }
    out.push({
      message: `Field "${field}": ${resolved} does not exist (relative paths resolve against the notebook's folder, ${baseDir}).`,
      severity: 'error',
      field,
      range: fieldLineRange(lines, field),
    });
  }
  return out;
}

/** The range of a top-level field's line in a stage cell (`lines`: its source split into lines), from the field name to the line's end; line 0 when absent. */
export function fieldLineRange(lines: readonly string[], field: string): SourceRange {
  const line = lines.findIndex((l) => new RegExp(`^\\s*${field}\\s*:`).test(l));
  const at = Math.max(0, line);
  const start = line >= 0 ? lines[at].indexOf(field) : 0;
  return { start: { line: at, character: Math.max(0, start) }, end: { line: at, character: (lines[at] ?? '').length } };
}
