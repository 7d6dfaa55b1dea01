import { PipelineError } from '../errors';
import type { StageEvent } from '../events';
import type { StageContext, StageFn, StageRequest, StageResult } from '../types';
import { STAGES, isStageKind } from './registry';
import { stageResult } from './shared';

/**
 * Runs one stage cell: yields its events and returns the result to keep in the session.
 * The notebook controller and the CLI both call this; only how they show events differs.
 *
 * @example
 * const it = runStage(request, ctx);
 * for (let r = await it.next(); !r.done; r = await it.next()) show(r.value);
 */
export async function* runStage(request: StageRequest, ctx: StageContext): AsyncGenerator<StageEvent, StageResult, void> {
  if (!isStageKind(request.kind)) {
    throw new PipelineError(`Unknown stage kind "${String(request.kind)}".`, {
      stage: String(request.kind),
      kind: 'invalid-input',
      field: 'stage',
      cellId: request.cellId,
    });
  }
  try {
    const fn: StageFn<any, unknown> = await STAGES[request.kind].load();
    const outcome = yield* fn(request, ctx);
    return stageResult(request, outcome, ctx.session);
  } catch (err) {
    if (err instanceof PipelineError && err.cellId === undefined) {
      err.cellId = request.cellId;
    }
    throw err;
  }
}
