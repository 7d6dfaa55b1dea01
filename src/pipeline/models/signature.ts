import { PipelineError } from '../errors';
import type { GraphSignature, TensorSpec } from './manifest';

/** What onnxruntime reports about one input or output (a subset of `InferenceSession.ValueMetadata`). */
export interface ValueMeta {
  name: string;
  isTensor: boolean;
  type?: string;
  shape?: ReadonlyArray<number | string>;
}

/**
 * Compares a loaded graph with its expected signature. Returns a list of human-readable mismatches
 * (empty when the graph fits): missing names, wrong element types, wrong ranks.
 */
export function signatureMismatches(inputs: readonly ValueMeta[], outputs: readonly ValueMeta[], expected: GraphSignature): string[] {
  const problems: string[] = [];
  const check = (side: 'input' | 'output', actual: readonly ValueMeta[], want: TensorSpec[]) => {
    const byName = new Map(actual.map((m) => [m.name, m]));
    for (const w of want) {
      const a = byName.get(w.name);
      if (!a) {
        problems.push(`${side} "${w.name}" is missing (the graph has ${actual.map((m) => `"${m.name}"`).join(', ') || 'none'})`);
        continue;
      }
      if (!a.isTensor) {
        problems.push(`${side} "${w.name}" is not a tensor`);
        continue;
      }
      if (a.type !== undefined && !w.types.includes(a.type as TensorSpec['types'][number])) {
        problems.push(`${side} "${w.name}" has type ${a.type}, expected ${w.types.join(' or ')}`);
      }
      // onnxruntime reports [] for an unknown shape; only a known shape can be wrong
      if (a.shape !== undefined && (a.shape.length > 0 || w.rank === 0) && a.shape.length !== w.rank) {
        problems.push(`${side} "${w.name}" has rank ${a.shape.length} [${a.shape.join(',')}], expected rank ${w.rank}`);
      }
    }
  };
  check('input', inputs, expected.inputs);
  check('output', outputs, expected.outputs);
  return problems;
}

/** Throws a `backend` PipelineError naming the model, the file and every mismatch. */
export function assertSignature(modelId: string, file: string, inputs: readonly ValueMeta[], outputs: readonly ValueMeta[], expected: GraphSignature): void {
  const problems = signatureMismatches(inputs, outputs, expected);
  if (problems.length > 0) {
    throw new PipelineError(
      `Model "${modelId}" file ${file} does not have the expected inputs/outputs: ${problems.join('; ')}. ` +
        'It is probably a different export or a model for another task; use the file listed by `alref models list`, or fix the entry in your model manifest.',
      { stage: 'models', kind: 'backend', file, field: modelId },
    );
  }
}
