import type { StageFn } from '../types';
import video from './schemas/video.schema.json';
import reference from './schemas/reference.schema.json';
import lbru from './schemas/lbru.schema.json';
import pivotFrame from './schemas/pivot-frame.schema.json';
import pivotBox from './schemas/pivot-box.schema.json';
import propagate from './schemas/propagate.schema.json';
import evaluate from './schemas/evaluate.schema.json';
import sweep from './schemas/sweep.schema.json';

/** What the registry knows of one stage kind. */
export interface StageDefinition {
  /**
   * JSON Schema (draft-07) of the cell's parameters: the YAML fields other than `stage`, `id` and
   * `uses`. The cell parser (src/pipeline/cells/parse.ts) validates with it, the editor offers its
   * properties and enum values as completions, and tools/gen-stage-params.ts derives the parameter
   * type (schemas/params.generated.ts) from it.
   */
  schema: Record<string, unknown>;
  /**
   * Loads the stage function. Stages load on first use, so that a notebook that only decodes video
   * never loads onnxruntime or the LLM client.
   */
  load: () => Promise<StageFn<any, unknown>>;
}

/**
 * Every stage kind a `alref` YAML cell can name in its `stage:` field, in pipeline order. Adding a
 * stage: write `<name>.ts` (an async generator, see src/pipeline/types.ts `StageFn`; shared helpers
 * in ./shared.ts) and `schemas/<kind>.schema.json`, add its entry here, and regenerate the parameter
 * types (`npx tsx tools/gen-stage-params.ts`). Stages never import this module.
 */
export const STAGES = {
  video: { schema: video, load: async () => (await import('./video')).runVideo },
  reference: { schema: reference, load: async () => (await import('./reference')).runReference },
  lbru: { schema: lbru, load: async () => (await import('./lbru')).runLbru },
  'pivot-frame': { schema: pivotFrame, load: async () => (await import('./pivotFrame')).runPivotFrame },
  'pivot-box': { schema: pivotBox, load: async () => (await import('./pivotBox')).runPivotBox },
  propagate: { schema: propagate, load: async () => (await import('./propagate')).runPropagate },
  evaluate: { schema: evaluate, load: async () => (await import('./evaluate')).runEvaluate },
  sweep: { schema: sweep, load: async () => (await import('./sweep')).runSweep },
} satisfies Record<string, StageDefinition>;

/** A stage kind: a key of {@link STAGES}. */
export type StageKind = keyof typeof STAGES;

// Makes the keys of STAGES the `StageKind` of src/pipeline/types.ts, which sits in the layer below
// the stages and so cannot import this module. (Inside this block `StageKind` would name the merged
// type of types.ts itself, hence `keyof typeof STAGES`.)
declare module '../types' {
  // eslint-disable-next-line @typescript-eslint/no-empty-object-type
  interface StageKindRegistry extends Record<keyof typeof STAGES, true> {}
}

/** The stage kinds, in registry (pipeline) order. */
export const STAGE_KINDS = Object.keys(STAGES) as readonly StageKind[];

/** The parameter schema of each stage kind (see {@link StageDefinition.schema}). */
export const STAGE_SCHEMAS: Readonly<Record<StageKind, Record<string, unknown>>> = Object.fromEntries(
  STAGE_KINDS.map((k): [StageKind, Record<string, unknown>] => [k, STAGES[k].schema]),
) as Record<StageKind, Record<string, unknown>>;

/** True when `v` names a registered stage kind. */
export function isStageKind(v: unknown): v is StageKind {
  return typeof v === 'string' && Object.prototype.hasOwnProperty.call(STAGES, v);
}
