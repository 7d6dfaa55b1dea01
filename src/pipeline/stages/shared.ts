import type { GridImage, ReferenceData } from '../domain';
import { PipelineError } from '../errors';
import type { LlmService } from '../llm/service';
import { type TemplateName, stageTemplateProblem } from '../llm/templates';
import { hashJson } from '../run/hash';
import type { LlmSettings } from '../settings';
import type { StageContext, StageKind, StageOutcome, StageRequest, StageResult } from '../types';

/*
 * Helpers every stage may use. Stages import this module (and never the registry or the runner in
 * index.ts), so the registry can load stages without an import cycle.
 */

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

/**
 * The reference this cell works on: `uses.reference` or `uses.lbru` when named, else the most recent
 * result of either kind.
 */
export function resolveReference(request: StageRequest, ctx: StageContext): StageResult<ReferenceData> {
  if (request.uses.reference !== undefined) {
    return requireUpstream<ReferenceData>(request, ctx, 'reference');
  }
  if (request.uses.lbru !== undefined) {
    return requireUpstream<ReferenceData>(request, ctx, 'lbru');
  }
  // Either kind gives the referring text: the nearest of the two above the cell.
  const nearest = ctx.session.latest(['reference', 'lbru']);
  return nearest ? (nearest as StageResult<ReferenceData>) : requireUpstream<ReferenceData>(request, ctx, 'reference');
}

/** Settings for this cell: the run's LLM settings with the cell's overrides. */
export function cellLlmSettings(ctx: StageContext, params: { imageDetail?: LlmSettings['imageDetail'] }): LlmSettings {
  return { ...ctx.settings.llm, ...(params.imageDetail ? { imageDetail: params.imageDetail } : {}) };
}

/** The LLM service, or a clear error when the host did not provide one. */
export function requireLlm(ctx: StageContext, stage: string): LlmService {
  const llm = ctx.services.llm;
  if (!llm) {
    throw new PipelineError('No LLM service is configured in this host.', { stage, kind: 'not-available' });
  }
  return llm;
}

/**
 * Checks a template name given in a cell: a built-in template of the stage, or a variant of one
 * (`pivot-frame.cot/v2`) that a prompt cell of the notebook defines (`overrides`).
 */
export function templateParam(name: string | undefined, fallback: TemplateName, stage: string, overrides: Readonly<Record<string, string>> = {}): string {
  if (name === undefined) {
    return fallback;
  }
  const problem = stageTemplateProblem(name, stage, Object.keys(overrides));
  if (problem) {
    throw new PipelineError(problem, { stage, kind: 'invalid-input', field: 'template' });
  }
  return name;
}

/** Frame ids as the prompt lists them ("1, 2, 3, 4, 5"). */
export function frameIdList(grid: GridImage): string {
  return grid.tiles.map((t) => t.frameId).join(', ');
}

/**
 * Validates a frame id answered for a clip (1-based tile id). Returns the video frame index, or the
 * reason the answer is invalid.
 */
export function validateFrameId(id: number, grid: GridImage, frameCount: number): { frameIndex: number } | { invalid: string } {
  if (!Number.isInteger(id) || id < 1) {
    return { invalid: `frame id ${id} is not one of the clip's ids (1-${grid.tiles.length})` };
  }
  if (id > grid.tiles.length) {
    return { invalid: `frame id ${id} is past the last frame of the clip (${grid.tiles.length})` };
  }
  const tile = grid.tiles[id - 1];
  if (tile.frameIndex >= frameCount) {
    return { invalid: `frame id ${id} is past the end of the video` };
  }
  return { frameIndex: tile.frameIndex };
}

/**
 * The result a session keeps for a finished stage: its outcome, with an input hash that also covers
 * its upstream results' hashes (so a change upstream makes it stale). `session` is where the upstream
 * results live (the cell's view, or a sweep's nested session).
 */
export function stageResult<D>(request: StageRequest, outcome: StageOutcome<D>, session: Pick<StageContext['session'], 'get'>): StageResult<D> {
  return {
    kind: request.kind,
    cellId: request.cellId,
    inputHash: hashJson({ own: outcome.inputHash, upstream: outcome.upstream.map((id) => session.get(id)?.inputHash ?? id) }),
    upstream: outcome.upstream,
    data: outcome.data,
    finishedAt: Date.now(),
  };
}
