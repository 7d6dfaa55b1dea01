import { sha256 } from '../run/hash';
import { findVariables, validateTemplate } from './templates';

/**
 * Summary of an `alref-prompt` cell: the template it overrides, the text's hash (goes into the
 * experiment record) and the `{{variables}}` it uses.
 */
export interface PromptCellInfo {
  name: string;
  hash: string;
  variables: string[];
}

/**
 * Describes and validates an `alref-prompt` cell. Throws an `invalid-input` PipelineError (stage
 * `prompt`) when `name` is not a known template, or when the text uses a variable that template does
 * not have; the message names the line.
 *
 * @example
 * describePromptCell('pivot-frame.cot', 'Which of frames {{frameIds}} ...', resourcesDir)
 * // { name: 'pivot-frame.cot', hash: '…', variables: ['frameIds'] }
 */
export function describePromptCell(name: string, text: string, _resourcesDir: string): PromptCellInfo {
  validateTemplate({ name, text, source: 'cell' });
  const variables = [...new Set(findVariables(text).map((u) => u.name))];
  return { name, hash: sha256(text), variables };
}
