import { PipelineError } from '../errors';
import { pullCommand } from '../models/store';
import type { OutputModel } from '../format/model';
import type { SessionLike, StageKind, StageResult } from '../types';

/**
 * What a notebook run does when a cell needs a model that is not installed: `fail` (the cell fails
 * and the run stops, as in VS Code), `skip` (the cell is marked skipped, with the command that
 * installs the model, and the run goes on with the cells that do not need it), or `pull` (download
 * the model, then run the cell; when the download fails, skip as `skip` does).
 */
export type MissingModelPolicy = 'fail' | 'skip' | 'pull';

export const MISSING_MODEL_POLICIES: readonly MissingModelPolicy[] = ['fail', 'skip', 'pull'];

/** A cell a run skipped: its kind, and the model whose absence made it (or an upstream cell) skip. */
export interface SkippedCell {
  cellId: string;
  kind: StageKind;
  modelId: string;
}

/** Metadata key of the notice output of a skipped cell (`{ modelId, upstream? }`). */
export const SKIPPED_METADATA_KEY = 'alref.skipped';

export { pullCommand };

/** The id of the model a failed cell was missing, when that is why it failed. */
export function missingModelOf(error: unknown): string | undefined {
  return error instanceof PipelineError && error.kind === 'missing-model' && error.field ? error.field : undefined;
}

/** Thrown to a stage that reads the result of a skipped cell; the run turns it into a skip. */
export class SkippedUpstreamError extends PipelineError {
  constructor(readonly upstream: SkippedCell) {
    super(`Cell "${upstream.cellId}" was skipped (model "${upstream.modelId}" is not installed).`, { stage: upstream.kind, kind: 'not-available', field: `uses.${upstream.kind}` });
    this.name = 'SkippedUpstreamError';
  }
}

/**
 * `view` (what the cell at `position` of `cellIds` sees of the session) that throws a
 * {@link SkippedUpstreamError} when the cell would read a skipped cell: one it names, or the nearest
 * cell above of a kind it asks for. With nothing skipped, `view` itself.
 */
export function guardSkipped(view: SessionLike, cellIds: readonly string[], position: number, skipped: ReadonlyMap<string, SkippedCell> | undefined): SessionLike {
  if (!skipped || skipped.size === 0) {
    return view;
  }
  return {
    get: (cellId: string): StageResult | undefined => {
      const s = skipped.get(cellId);
      if (s) {
        throw new SkippedUpstreamError(s);
      }
      return view.get(cellId);
    },
    latest: (kind) => {
      const kinds = new Set<StageKind>(typeof kind === 'string' ? [kind] : kind);
      const found = view.latest(kind);
      const from = found ? cellIds.indexOf(found.cellId) + 1 : 0;
      for (let i = Math.min(position, cellIds.length) - 1; i >= from; i--) {
        const s = skipped.get(cellIds[i]);
        if (s && kinds.has(s.kind)) {
          throw new SkippedUpstreamError(s);
        }
      }
      return found;
    },
  };
}

/** The one output of a skipped cell: why it was skipped and the command that installs the model. */
export function skippedOutput(skip: SkippedCell, upstream: SkippedCell | undefined, pullProblem: string | undefined): OutputModel {
  const cmd = pullCommand(skip.modelId);
  const why = upstream
    ? `it needs the result of cell \`${upstream.cellId}\`, which was skipped because model \`${skip.modelId}\` is not installed`
    : `model \`${skip.modelId}\` is not installed${pullProblem ? ` and could not be downloaded (${pullProblem})` : ''}`;
  const md = `**Skipped:** ${why}. Install it with \`${cmd}\` and run the notebook again.`;
  return {
    items: [{ mime: 'text/markdown', data: new TextEncoder().encode(md) }],
    metadata: { [SKIPPED_METADATA_KEY]: { modelId: skip.modelId, ...(upstream ? { upstream: upstream.cellId } : {}) } },
  };
}
