import { sha256 } from '../run/hash';
import { type TemplateName, baseTemplate, findVariables, loadTemplate, validateTemplate } from './templates';

/**
 * Summary of an `alref-prompt` cell: the template it overrides, the text's hash (goes into the
 * experiment record) and the `{{variables}}` it uses.
 */
export interface PromptCellInfo {
  name: string;
  /** The built-in template it overrides (`name` itself) or is a variant of. */
  base: TemplateName;
  hash: string;
  variables: string[];
}

/**
 * Describes and validates an `alref-prompt` cell. Throws an `invalid-input` PipelineError (stage
 * `prompt`) when `name` is neither a known template nor a variant of one (`pivot-frame.cot/v2`), or
 * when the text uses a variable that template does not have; the message names the line.
 *
 * @example
 * describePromptCell('pivot-frame.cot', 'Which of frames {{frameIds}} ...', resourcesDir)
 * // { name: 'pivot-frame.cot', base: 'pivot-frame.cot', hash: '…', variables: ['frameIds'] }
 */
export function describePromptCell(name: string, text: string, _resourcesDir: string): PromptCellInfo {
  validateTemplate({ name, text, source: 'cell' });
  const variables = [...new Set(findVariables(text).map((u) => u.name))];
  return { name, base: baseTemplate(name) as TemplateName, hash: sha256(text), variables };
}

/**
 * The text of a new prompt cell for `name` (a built-in template, or `<built-in>/<label>` for a
 * variant): the `template:` line, then the built-in's default text from `<resourcesDir>/prompts/`,
 * ready to edit. Throws an `invalid-input` PipelineError for a name that is neither.
 */
export async function newPromptCellSource(name: string, resourcesDir: string): Promise<string> {
  const base = baseTemplate(name);
  if (base === undefined) {
    validateTemplate({ name, text: '', source: 'cell' });
  }
  const t = await loadTemplate(base as TemplateName, { resourcesDir });
  return `template: ${name}\n${t.text.replace(/\n+$/, '')}\n`;
}
