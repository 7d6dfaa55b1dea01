import type { ReferenceData } from '../domain';
import { PipelineError } from '../errors';
import type { StageEvent } from '../events';
import { hashJson } from '../run/hash';
import type { StageContext, StageOutcome, StageRequest } from '../types';
import type { ReferenceParams } from './schemas/params.generated';

/**
 * The `reference` stage: the language expression(s) naming what to segment. Each expression becomes
 * one target with object id 1, 2, ... An empty expression is an error naming the field. Types and
 * the `expression` / `expressions` alias are checked by the schema (schemas/reference.schema.json).
 *
 * @example
 * // stage: reference
 * // expression: the black car driving through the shadow
 */
export async function* runReference(request: StageRequest<ReferenceParams>, _ctx: StageContext): AsyncGenerator<StageEvent, StageOutcome<ReferenceData>, void> {
  const p = request.params ?? {};
  if (p.source === 'audio') {
    throw new PipelineError('source: audio is handled by the lbru stage: add a `stage: lbru` cell instead of a reference cell.', {
      stage: 'reference', kind: 'invalid-input', field: 'source',
    });
  }
  const raw = p.expressions ?? (p.expression === undefined ? [] : [p.expression]);
  if (raw.length === 0) {
    throw new PipelineError('The reference cell has no expression: add `expression: <what to segment>`.', { stage: 'reference', kind: 'invalid-input', field: 'expression' });
  }
  const texts = raw.map((t, i) => {
    const field = p.expressions ? `expressions[${i}]` : 'expression';
    const text = t.replace(/\s+/g, ' ').trim();
    if (!text) {
      throw new PipelineError(`${field} is empty: write what to segment, e.g. "the dog on the left".`, { stage: 'reference', kind: 'invalid-input', field });
    }
    return text;
  });
  const data: ReferenceData = { source: 'text', targets: texts.map((text, i) => ({ objectId: i + 1, text })) };
  yield { type: 'markdown', text: data.targets.map((t) => `Object ${t.objectId}: ${JSON.stringify(t.text)}`).join('  \n') };
  return { data, inputHash: hashJson({ stage: 'reference', texts }), upstream: [] };
}
