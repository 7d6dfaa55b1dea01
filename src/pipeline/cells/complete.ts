import { TEMPLATE_VARIABLES, baseTemplate, templateNames, templatesForStage } from '../llm/templates';
import { STAGE_KINDS, STAGE_SCHEMAS } from '../stages/registry';
import type { StageKind } from '../types';
import type { KnownCell } from './parse';
import { COMMON_FIELDS, peekStageCell } from './parse';

/** A completion suggestion for a stage cell, independent of the editor. */
export interface CellCompletion {
  label: string;
  kind: 'stage' | 'field' | 'value' | 'cell';
  detail?: string;
  documentation?: string;
  /** Text to insert (defaults to `label`). */
  insertText?: string;
  /** 0-based character of the line where the text it replaces starts (default: the word at the cursor). */
  replaceFrom?: number;
}

/** Template names for a `template:` value: `builtIns`, then the notebook's variants of them (`defined`: its prompt-cell names). */
function templateCompletions(builtIns: readonly string[], defined: readonly string[], replaceFrom: number): CellCompletion[] {
  const variants = defined.filter((n) => n.includes('/') && builtIns.includes(baseTemplate(n) ?? ''));
  return [
    ...builtIns.map((n): CellCompletion => ({ label: n, kind: 'value', detail: defined.includes(n) ? 'built-in template, overridden by a prompt cell' : 'built-in template', replaceFrom })),
    ...[...new Set(variants)].map((n): CellCompletion => ({ label: n, kind: 'value', detail: `prompt-cell variant of ${baseTemplate(n)}`, replaceFrom })),
  ];
}

/**
 * Completions in a prompt cell: template names after `template:` on its first non-empty line (the
 * built-in templates and the variants the notebook's prompt cells define, `defined`), and the
 * template's variables after `{{` in the text. `line`/`character` are 0-based.
 */
export function completePromptCell(source: string, line: number, character: number, defined: readonly string[] = []): CellCompletion[] {
  const lines = source.split('\n');
  const before = (lines[line] ?? '').slice(0, character);
  const first = lines.findIndex((l) => l.trim() !== '');
  if (first < 0 || line <= first) {
    const value = /^(template:\s*)[\w./-]*$/.exec(before);
    if (value) {
      return templateCompletions(templateNames(), defined, value[1].length);
    }
    return /^\w*$/.test(before) ? [{ label: 'template', kind: 'field', detail: 'the template this cell overrides, or <template>/<label> for a variant', insertText: 'template: ' }] : [];
  }
  const open = /\{\{\s*(\w*)$/.exec(before);
  const name = /^template:\s*(\S+)/.exec(lines[first]?.trim() ?? '')?.[1];
  const base = name ? baseTemplate(name) : undefined;
  if (open && base) {
    const from = character - open[1].length;
    return TEMPLATE_VARIABLES[base].map((v) => ({ label: v, kind: 'value', detail: `variable of ${base}`, insertText: (lines[line] ?? '').slice(character).startsWith('}}') ? v : `${v}}}`, replaceFrom: from }));
  }
  return [];
}

interface PropSchema {
  type?: string | string[];
  enum?: unknown[];
  description?: string;
}

const COMMON_DOCS: Record<string, string> = {
  stage: `Stage kind: ${STAGE_KINDS.join(', ')}.`,
  id: 'Cell id used by other cells in "uses" (default: the cell\'s own id).',
  uses: 'Upstream results by stage kind, e.g. { video: cell-1 }; a kind not named takes the latest result of that kind.',
};

function propsOf(kind: StageKind): Record<string, PropSchema> {
  return ((STAGE_SCHEMAS[kind] as { properties?: Record<string, PropSchema> }).properties ?? {}) as Record<string, PropSchema>;
}

/**
 * Completions at a position of a stage cell: stage kinds after `stage:`, the fields of the cell's
 * kind (from its JSON Schema) at the start of a top-level line, enum values after `field:`, stage
 * kinds as keys under `uses:`, cell ids after `uses.<kind>:`, and after `template:` the kind's
 * built-in templates and their variants that the notebook's prompt cells define (`definedTemplates`:
 * the names of its prompt cells). `line`/`character` are 0-based.
 */
export function completeStageCell(source: string, line: number, character: number, knownCells: readonly KnownCell[] = [], definedTemplates: readonly string[] = []): CellCompletion[] {
  const lines = source.split('\n');
  const before = (lines[line] ?? '').slice(0, character);
  const kind = peekStageCell(source).kind;
  const stageValue = /^stage:\s*[\w-]*$/.exec(before);
  if (stageValue) {
    return STAGE_KINDS.map((k) => ({ label: k, kind: 'stage', detail: 'stage kind', documentation: (STAGE_SCHEMAS[k] as { description?: string }).description }));
  }
  const inUses = /^\s+/.test(before) && (() => {
    for (let i = line - 1; i >= 0; i--) {
      const l = lines[i];
      if (/^\S/.test(l)) {
        return /^uses:\s*$/.test(l);
      }
    }
    return false;
  })();
  if (inUses) {
    const usesValue = /^\s+([\w-]+):\s*[\w-]*$/.exec(before);
    if (usesValue) {
      const wanted = usesValue[1];
      return knownCells.filter((c) => c.kind === wanted).map((c) => ({ label: c.id, kind: 'cell', detail: `${c.kind} cell` }));
    }
    if (/^\s+[\w-]*$/.test(before)) {
      return STAGE_KINDS.map((k) => ({ label: k, kind: 'stage', detail: 'upstream stage kind', insertText: `${k}: ` }));
    }
    return [];
  }
  const fieldValue = /^([\w-]+):\s*[^\s]*$/.exec(before);
  if (fieldValue && kind && fieldValue[1] === 'template') {
    return templateCompletions(templatesForStage(kind), definedTemplates, (/^template:\s*/.exec(before)?.[0] ?? before).length);
  }
  if (fieldValue && kind) {
    const prop = propsOf(kind)[fieldValue[1]];
    if (prop?.enum) {
      return prop.enum.map((v) => ({ label: String(v), kind: 'value', detail: `${fieldValue[1]} value` }));
    }
    if (prop?.type === 'boolean') {
      return ['true', 'false'].map((v) => ({ label: v, kind: 'value' }));
    }
    return [];
  }
  if (/^[\w-]*$/.test(before)) {
    const present = new Set(lines.map((l) => /^([\w-]+):/.exec(l)?.[1]).filter((k): k is string => k !== undefined));
    const out: CellCompletion[] = [];
    for (const f of COMMON_FIELDS) {
      if (!present.has(f) || (lines[line] ?? '').startsWith(`${f}:`)) {
        out.push({ label: f, kind: 'field', detail: 'common field', documentation: COMMON_DOCS[f], insertText: `${f}: ` });
      }
    }
    if (kind) {
      for (const [name, prop] of Object.entries(propsOf(kind))) {
        if (!present.has(name)) {
          const type = Array.isArray(prop.type) ? prop.type.join(' | ') : prop.type;
          out.push({ label: name, kind: 'field', detail: `${kind}${type ? `: ${type}` : ''}`, documentation: prop.description, insertText: `${name}: ` });
        }
      }
    }
    return out;
  }
  return [];
}
