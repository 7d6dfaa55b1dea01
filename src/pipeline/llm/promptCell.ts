import { sha256 } from '../run/hash';

/**
 * Summary of an `alref-prompt` cell: the template it overrides, the text's hash (goes into the
 * experiment record) and the `{{variables}}` it uses. The LLM subsystem (issue #3) validates the
 * name and variables against the known templates.
 */
export interface PromptCellInfo {
  name: string;
  hash: string;
  variables: string[];
}

export function describePromptCell(name: string, text: string, _resourcesDir: string): PromptCellInfo {
  const variables = [...new Set([...text.matchAll(/\{\{\s*([A-Za-z_][\w.]*)\s*\}\}/g)].map((m) => m[1]))];
  return { name, hash: sha256(text), variables };
}
