import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { PipelineError } from '../errors';
import { sha256 } from '../run/hash';
import { clipText } from './redact';

/**
 * Prompt templates: `prompts/<stage>.<purpose>.md` files with named `{{variables}}`. A notebook's
 * `alref-prompt` cell overrides a template by name. Rendering checks both directions: a variable the
 * template uses that the stage does not know (or did not supply) is an error pointing at the line.
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

/** A loaded template: text from `prompts/` or from a prompt cell. */
export interface PromptTemplate {
  name: TemplateName;
  text: string;
  source: 'file' | 'cell';
  /** The file it came from (source `file`). */
  file?: string;
  /** sha256 of the template text (before rendering). */
  hash: string;
}

/** A rendered prompt: exactly the text sent, and its hash. */
export interface RenderedPrompt {
  name: TemplateName;
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
  if (!isTemplateName(t.name)) {
    throw new PipelineError(
      `Unknown prompt template "${clipText(t.name)}". Known templates: ${templateNames().join(', ')}.`,
      { stage, kind: 'invalid-input', field: 'template', file: t.file },
    );
  }
  const allowed: readonly string[] = TEMPLATE_VARIABLES[t.name];
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
 * Loads a template: the prompt-cell override when the notebook has one, else
 * `<resourcesDir>/prompts/<name>.md`. Validates its variables.
 */
export async function loadTemplate(
  name: TemplateName,
  opts: { resourcesDir: string; overrides?: Record<string, string>; stage?: string },
): Promise<PromptTemplate> {
  const override = opts.overrides?.[name];
  let t: PromptTemplate;
  if (override !== undefined) {
    t = { name, text: override, source: 'cell', hash: sha256(override) };
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
    t = { name, text, source: 'file', file, hash: sha256(text) };
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
      const allowed: readonly string[] = TEMPLATE_VARIABLES[t.name];
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
