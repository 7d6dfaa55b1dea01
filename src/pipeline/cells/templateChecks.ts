import { PipelineError } from '../errors';
import { describePromptCell } from '../llm/promptCell';
import { stageTemplateProblem } from '../llm/templates';
import type { CellDiagnostic, SourceRange } from './parse';
import { fieldLineRange } from './pathChecks';

/**
 * Editor diagnostics for template names, before a run: a stage cell's `template` must be a built-in
 * template of its kind or a variant of one that a prompt cell of the notebook defines (`defined`:
 * the names of the notebook's prompt cells); a prompt cell must name a known template (or a variant
 * of one) and use only that template's variables. The same checks the run makes
 * (src/pipeline/stages/shared.ts `templateParam`, src/pipeline/llm/promptCell.ts).
 */
export function stageTemplateDiagnostics(source: string, kind: string, params: Record<string, unknown>, defined: readonly string[]): CellDiagnostic[] {
  const name = params.template;
  if (typeof name !== 'string' || name === '') {
    return [];
  }
  const problem = stageTemplateProblem(name, kind, defined);
  return problem ? [{ message: problem, severity: 'error', field: 'template', range: fieldLineRange(source.split(/\r?\n/), 'template') }] : [];
}

/** The problem of a parsed prompt cell's name or variables, on its `template:` name, or none. */
export function promptTemplateDiagnostics(name: string, text: string, nameRange: SourceRange): CellDiagnostic[] {
  try {
    describePromptCell(name, text, '');
    return [];
  } catch (err) {
    if (!(err instanceof PipelineError)) {
      throw err;
    }
    return [{ message: err.message, severity: 'error', field: 'template', range: nameRange }];
  }
}
