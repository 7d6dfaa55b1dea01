import { PROMPT_LANGUAGE, STAGE_LANGUAGE } from '../../common/mime';
import type { LlmSettings } from '../settings';
import type { StageRequest } from '../types';
import type { KnownCell } from './parse';
import { parsePromptCell, parseStageCell, peekStageCell } from './parse';

/**
 * The little the cell parser and runner need to know about a notebook cell. A `vscode.NotebookCell`
 * and a format `CellModel` both map onto it in one line.
 */
export interface CellLike {
  /** The cell's metadata id (stable across edits). */
  id: string;
  /** Language id: `alref`, `alref-prompt`, `markdown`, ... */
  language: string;
  source: string;
}

/** The id a cell is known by: a stage cell's YAML `id` when it has a valid one, else its metadata id. */
export function effectiveCellId(cell: CellLike): string {
  if (cell.language === STAGE_LANGUAGE) {
    return peekStageCell(cell.source).id ?? cell.id;
  }
  return cell.id;
}

/** Every cell of the notebook by effective id, with its stage kind for stage cells. */
export function knownCells(cells: readonly CellLike[]): KnownCell[] {
  return cells.map((c) => {
    if (c.language === STAGE_LANGUAGE) {
      const peek = peekStageCell(c.source);
      return { id: peek.id ?? c.id, kind: peek.kind };
    }
    return { id: c.id };
  });
}

/** Settings key (`llm.models.<key>`) of the default model of each stage kind that calls the LLM. */
export const LLM_MODEL_KEYS: Readonly<Partial<Record<string, keyof LlmSettings['models']>>> = {
  'pivot-frame': 'pivotFrame',
  'pivot-box': 'pivotBox',
  lbru: 'lbru',
};

/** True for a stage kind that calls the LLM. */
export function isLlmStage(kind: string | undefined): boolean {
  return kind !== undefined && Object.hasOwn(LLM_MODEL_KEYS, kind);
}

/**
 * Each stage cell's request as its text reads now, by effective id (undefined for a cell that is
 * not a stage cell or does not parse). A cell is parsed on its first lookup only. `known` is
 * {@link knownCells} of `cells`.
 */
export function currentRequests(cells: readonly CellLike[], known: readonly KnownCell[]): (id: string) => StageRequest | undefined {
  const parsed = new Map<string, StageRequest | undefined>();
  return (id) => {
    if (!parsed.has(id)) {
      const at = known.findIndex((k) => k.id === id);
      const c = at >= 0 ? cells[at] : undefined;
      const r = c && c.language === STAGE_LANGUAGE ? parseStageCell(c.source, { cellId: c.id, cellIndex: at + 1, knownCells: known }) : undefined;
      parsed.set(id, r?.ok ? r.request : undefined);
    }
    return parsed.get(id);
  };
}

/**
 * Prompt overrides from the notebook's `alref-prompt` cells: template name -> text. The document,
 * not the run order, is the source of truth; when two cells override the same template the later
 * cell wins and `duplicates` names the template.
 */
export function collectPromptOverrides(cells: readonly CellLike[]): { overrides: Record<string, string>; duplicates: string[] } {
  const overrides: Record<string, string> = {};
  const duplicates: string[] = [];
  for (const c of cells) {
    if (c.language !== PROMPT_LANGUAGE) {
      continue;
    }
    const r = parsePromptCell(c.source);
    if (r.ok) {
      if (r.name in overrides && !duplicates.includes(r.name)) {
        duplicates.push(r.name);
      }
      overrides[r.name] = r.text;
    }
  }
  return { overrides, duplicates };
}

/**
 * The language a cell just added to a notebook should have instead of its own, or undefined to keep
 * it. VS Code gives a new code cell the language of the cell it is inserted after, so a cell added
 * below a prompt cell would be a prompt cell too; an empty new prompt cell becomes a stage cell
 * (prompt cells come pre-filled from "Insert Prompt Cell", pasted or moved cells keep their text).
 */
export function languageForAddedCell(cell: Pick<CellLike, 'language' | 'source'>): string | undefined {
  return cell.language === PROMPT_LANGUAGE && cell.source.trim() === '' ? STAGE_LANGUAGE : undefined;
}
