import { PipelineError } from '../errors';
import type { StageEvent } from '../events';
import type { StageContext, StageFn, StageKind, StageRequest, StageResult } from '../types';
import { hashJson } from '../run/hash';

/**
 * Stage implementations by kind, loaded on first use so that a notebook that only decodes video
 * never loads onnxruntime or the LLM client.
 */
const loaders: Record<StageKind, () => Promise<StageFn<any, unknown>>> = {
  video: async () => (await import('./video')).runVideo,
  reference: async () => (await import('./reference')).runReference,
  lbru: async () => (await import('./lbru')).runLbru,
  'pivot-frame': async () => (await import('./pivotFrame')).runPivotFrame,
  'pivot-box': async () => (await import('./pivotBox')).runPivotBox,
  propagate: async () => (await import('./propagate')).runPropagate,
  evaluate: async () => (await import('./evaluate')).runEvaluate,
};

/**
 * Runs one stage cell: yields its events and returns the result to keep in the session.
 * The notebook controller and the CLI both call this; only how they show events differs.
 *
 * @example
 * const it = runStage(request, ctx);
 * for (let r = await it.next(); !r.done; r = await it.next()) show(r.value);
 */
export async function* runStage(request: StageRequest, ctx: StageContext): AsyncGenerator<StageEvent, StageResult, void> {
  const load = loaders[request.kind];
  if (!load) {
    throw new PipelineError(`Unknown stage kind "${String(request.kind)}".`, {
      stage: String(request.kind),
      kind: 'invalid-input',
      field: 'stage',
      cellId: request.cellId,
    });
  }
  try {
    const fn = await load();
    const outcome = yield* fn(request, ctx);
    return {
      kind: request.kind,
      cellId: request.cellId,
      inputHash: hashJson({ own: outcome.inputHash, upstream: outcome.upstream.map((id) => ctx.session.get(id)?.inputHash ?? id) }),
      upstream: outcome.upstream,
      data: outcome.data,
      finishedAt: Date.now(),
    };
  } catch (err) {
    if (err instanceof PipelineError && err.cellId === undefined) {
      err.cellId = request.cellId;
    }
    throw err;
  }
}

/**
 * Finds the upstream result a stage needs: the cell named in `uses.<kind>`, else the latest result
 * of that kind. Throws an `invalid-input` error naming the field when there is none.
 */
export function requireUpstream<D>(request: StageRequest, ctx: StageContext, kind: StageKind): StageResult<D> {
  const named = request.uses[kind];
  if (named !== undefined) {
    const r = ctx.session.get(named);
    if (!r) {
      throw new PipelineError(`uses.${kind} names cell "${named}", which has no result in this session. Run that cell first, or check the id.`, {
        stage: request.kind, kind: 'invalid-input', field: `uses.${kind}`,
      });
    }
    if (r.kind !== kind) {
      throw new PipelineError(`uses.${kind} names cell "${named}", but that cell is a "${r.kind}" stage.`, {
        stage: request.kind, kind: 'invalid-input', field: `uses.${kind}`,
      });
    }
    return r as StageResult<D>;
  }
  const latest = ctx.session.latest(kind);
  if (!latest) {
    throw new PipelineError(`This "${request.kind}" cell needs a "${kind}" result: run a ${kind} cell above it first.`, {
      stage: request.kind, kind: 'invalid-input', field: `uses.${kind}`,
    });
  }
  return latest as StageResult<D>;
}
