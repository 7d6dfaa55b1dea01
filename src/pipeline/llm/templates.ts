import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { PipelineError } from '../errors';
import { sha256 } from '../run/hash';
import { clipText } from './redact';

/**
 * Prompt templates: `prompts/<stage>.<purpose>.md` files with named `{{variables}}`. A notebook's
 * `alref-prompt` cell overrides a built-in template by name (`template: pivot-frame.cot`), or defines
 * a named variant of one (`template: pivot-frame.cot/v2`: the built-in, a slash, a label), which a
 * stage cell chooses with its `template` field; a variant has the variables of its built-in. Rendering
 * checks both directions: a variable the template uses that the stage does not know (or did not
 * supply) is an error pointing at the line.
 */

/** Known templates and the variables each may use. Stages supply exactly these values. */
export const TEMPLATE_VARIABLES = {
  'pivot-frame.cot': ['expression', 'frameCount', 'frameIds'],
  'pivot-box.cot': ['expression', 'frameCount', 'frameIds', 'pivotFrameId', 'boxCount', 'boxIds', 'boxList'],
  'pivot-box.select': ['expression', 'frameCount', 'frameIds', 'pivotFrameId', 'boxCount', 'boxIds', 'boxList'],
  'pivot-box.describe-select': ['expression', 'frameCount', 'frameIds', 'pivotFrameId', 'boxCount', 'boxIds', 'boxList'],
  'pivot-box.avs': ['expression', 'category', 'frameCount', 'frameIds', 'pivotFrameId', 'boxCount', 'boxIds', 'boxList'],
  'lbru.cot': ['frameCount', 'frameIds', 'audioLabels', 'categoryList'],
  'lbru.single': ['frameCount', 'frameIds', 'audioLabels', 'categoryList'],
  'reask.integer': ['problem'],
  'reask.lbru': ['problem'],
} as const satisfies Record<string, readonly string[]>;

export type TemplateName = keyof typeof TEMPLATE_VARIABLES;

/** What each variable holds, for error messages and documentation. */
const VARIABLE_DOCS: Record<string, string> = {
  expression: 'the referring expression (RVOS) or "the <category> that is making sound" (AVS)',
  category: 'the sounding-object category (AVS)',
  frameCount: 'number of frames in the grid image',
  frameIds: 'the frame ids written on the grid tiles, e.g. "1, 2, 3, 4, 5"',
  pivotFrameId: 'id of the pivot frame in the grid (the one with boxes painted)',
  boxCount: 'number of candidate boxes',
  boxIds: 'the box numbers, e.g. "1, 2, 3"',
  boxList: 'one line per box: number, colour and label (AVS: normalised centre and size)',
  audioLabels: 'audio-tagger labels of the clip, comma separated',
  categoryList: 'the dataset category vocabulary, comma separated',
  problem: 'what was wrong with the previous reply',
};

/** Names of all known templates. */
export function templateNames(): TemplateName[] {
  return Object.keys(TEMPLATE_VARIABLES) as TemplateName[];
}

export function isTemplateName(name: string): name is TemplateName {
  return Object.prototype.hasOwnProperty.call(TEMPLATE_VARIABLES, name);
}

/** Separates a variant's label from its built-in template: `pivot-frame.cot/v2`. */
export const VARIANT_SEPARATOR = '/';

/** A variant label: letters, digits, `.`, `-`, `_`. */
const VARIANT_LABEL = /^[A-Za-z0-9_.-]+$/;

/** True for a variant name (`<built-in>/<label>`) whose built-in exists and whose label is well formed. */
export function isVariantName(name: string): boolean {
  const at = name.indexOf(VARIANT_SEPARATOR);
  return at > 0 && isTemplateName(name.slice(0, at)) && VARIANT_LABEL.test(name.slice(at + 1));
}

/** The built-in template a name refers to: itself, or a variant's built-in; undefined when neither. */
export function baseTemplate(name: string): TemplateName | undefined {
  if (isTemplateName(name)) {
    return name;
  }
  return isVariantName(name) ? (name.slice(0, name.indexOf(VARIANT_SEPARATOR)) as TemplateName) : undefined;
}

/** The built-in templates a stage kind may use (`pivot-frame` -> `pivot-frame.cot`). */
export function templatesForStage(stage: string): TemplateName[] {
  return templateNames().filter((n) => n.startsWith(`${stage}.`));
}

/** Why `name` cannot be the template of a `stage` cell, or undefined when it can. `defined`: the notebook's prompt-cell names. */
export function stageTemplateProblem(name: string, stage: string, defined: readonly string[]): string | undefined {
  const base = baseTemplate(name);
  const builtIns = templatesForStage(stage);
  if (base === undefined || !builtIns.includes(base)) {
    return `template "${clipText(name)}" is not a ${stage} template. Built-in: ${builtIns.join(', ')}; a variant is written <built-in>${VARIANT_SEPARATOR}<label> (e.g. ${builtIns[0] ?? stage}${VARIANT_SEPARATOR}v2) and defined by a prompt cell.`;
  }
  if (base !== name && !defined.includes(name)) {
    return `No prompt cell of this notebook defines the template variant "${clipText(name)}". Add an alref-prompt cell whose first line is "template: ${clipText(name)}", or choose a built-in template (${builtIns.join(', ')}).`;
  }
  return undefined;
}

/** A loaded template: text from `prompts/` or from a prompt cell. */
export interface PromptTemplate {
  /** The built-in template's name, or a variant's (`pivot-frame.cot/v2`). */
  name: string;
  /** The built-in template whose variables it has. */
  base: TemplateName;
  text: string;
  source: 'file' | 'cell';
  /** The file it came from (source `file`). */
  file?: string;
  /** sha256 of the template text (before rendering). */
  hash: string;
}

/** A rendered prompt: exactly the text sent, and its hash. */
export interface RenderedPrompt {
  name: string;
  text: string;
  /** sha256 of the rendered text. */
  hash: string;
  templateHash: string;
  source: 'file' | 'cell';
}

const VARIABLE = /\{\{\s*([^{}]*?)\s*\}\}/g;

/** Where a `{{variable}}` sits in a template. */
export interface VariableUse {
  name: string;
  line: number;
  column: number;
}

/** All `{{variable}}` uses in order, with 1-based line and column. */
export function findVariables(text: string): VariableUse[] {
  const uses: VariableUse[] = [];
  const lines = text.split('\n');
  lines.forEach((line, i) => {
    for (const m of line.matchAll(VARIABLE)) {
      uses.push({ name: m[1], line: i + 1, column: (m.index ?? 0) + 1 });
    }
  });
  return uses;
}

function where(t: { name: string; source: 'file' | 'cell'; file?: string }, line: number): string {
  return t.source === 'cell' ? `prompt cell "${t.name}", line ${line} of the template text (below the "template:" line)` : `${t.file ?? t.name}:${line}`;
}

/**
 * Checks that a template's variables are all known for that template name. Throws an
 * `invalid-input` PipelineError naming the line of the first bad variable.
 */
export function validateTemplate(t: { name: string; text: string; source: 'file' | 'cell'; file?: string }, stage = 'prompt'): void {
  const base = baseTemplate(t.name);
  if (base === undefined) {
    throw new PipelineError(
      `Unknown prompt template "${clipText(t.name)}". Known templates: ${templateNames().join(', ')}; a named variant of one is written <template>${VARIANT_SEPARATOR}<label> (e.g. pivot-frame.cot${VARIANT_SEPARATOR}v2).`,
      { stage, kind: 'invalid-input', field: 'template', file: t.file },
    );
  }
  const allowed: readonly string[] = TEMPLATE_VARIABLES[base];
  for (const use of findVariables(t.text)) {
    if (!/^[A-Za-z_]\w*$/.test(use.name) || !allowed.includes(use.name)) {
      throw new PipelineError(
        `${where(t, use.line)}: unknown variable {{${use.name}}} in template "${t.name}". It may use: ${allowed.map((v) => `{{${v}}}`).join(', ')}.`,
        { stage, kind: 'invalid-input', field: `prompt:${t.name}`, file: t.file },
      );
    }
  }
}

/**
 * Loads a template: the prompt cell of that name when the notebook has one, else (a built-in name)
 * `<resourcesDir>/prompts/<name>.md`; a variant no prompt cell defines is an error. Validates its variables.
 */
export async function loadTemplate(
  name: string,
  opts: { resourcesDir: string; overrides?: Record<string, string>; stage?: string },
): Promise<PromptTemplate> {
  const base = baseTemplate(name);
  const override = opts.overrides && Object.prototype.hasOwnProperty.call(opts.overrides, name) ? opts.overrides[name] : undefined;
  if (base === undefined || (base !== name && override === undefined)) {
    const problem = base === undefined ? undefined : stageTemplateProblem(name, base.slice(0, base.indexOf('.')), []);
    throw new PipelineError(problem ?? `Unknown prompt template "${clipText(name)}". Known templates: ${templateNames().join(', ')}.`, {
      stage: opts.stage ?? 'prompt', kind: 'invalid-input', field: 'template',
    });
  }
  let t: PromptTemplate;
  if (override !== undefined) {
    t = { name, base, text: override, source: 'cell', hash: sha256(override) };
  } else {
    const file = path.join(opts.resourcesDir, 'prompts', `${name}.md`);
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      throw new PipelineError(`Prompt template file ${file} cannot be read. Reinstall the extension, or add an alref-prompt cell named "${name}".`, {
        stage: opts.stage ?? 'prompt', kind: 'invalid-input', file, cause: err,
      });
    }
    t = { name, base, text, source: 'file', file, hash: sha256(text) };
  }
  validateTemplate(t, opts.stage);
  return t;
}

/**
 * Fills a template. Every variable it uses must be supplied (an unknown or missing one is an error
 * naming the template line); supplied values the template does not use are fine (a prompt cell may
 * leave some out).
 */
export function renderTemplate(
  t: PromptTemplate,
  values: Partial<Record<string, string | number>>,
  stage = 'prompt',
): RenderedPrompt {
  const lines = t.text.split('\n');
  const out = lines.map((line, i) =>
    line.replace(VARIABLE, (_m, raw: string) => {
      const name = raw.trim();
      const allowed: readonly string[] = TEMPLATE_VARIABLES[t.base];
      if (!allowed.includes(name)) {
        throw new PipelineError(`${where(t, i + 1)}: unknown variable {{${name}}} in template "${t.name}".`, {
          stage, kind: 'invalid-input', field: `prompt:${t.name}`, file: t.file,
        });
      }
      const v = values[name];
      if (v === undefined || v === null) {
        throw new PipelineError(`${where(t, i + 1)}: variable {{${name}}} has no value in this run (${VARIABLE_DOCS[name] ?? name}).`, {
          stage, kind: 'invalid-input', field: `prompt:${t.name}`, file: t.file,
        });
      }
      return String(v);
    }),
  );
  const text = out.join('\n').trim();
  return { name: t.name, text, hash: sha256(text), templateHash: t.hash, source: t.source };
}
