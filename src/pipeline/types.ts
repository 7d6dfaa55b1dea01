import type { StageEvent } from './events';
import type { Logger } from './logger';
import type { PipelineSettings } from './settings';
import type { Services } from './services';

/**
 * The stage kinds, as keys. Empty here: src/pipeline/stages/registry.ts fills it in (TypeScript
 * declaration merging) from its table of stages, so that each kind is written once, in the registry,
 * while this module, which the layers below the stages use, never imports the stages.
 */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface StageKindRegistry {}

/** A stage kind: defined, with its schema and loader, in stages/registry.ts (`STAGE_KINDS` lists them). */
export type StageKind = keyof StageKindRegistry & string;

/** The host's log a stage writes to (defined in logger.ts, below the services). */
export type { Logger };

/**
 * A parsed and schema-validated stage cell.
 * `params` are the YAML fields other than `stage`, `id` and `uses`.
 */
export interface StageRequest<P = Record<string, unknown>> {
  kind: StageKind;
  /** Stable cell id (kept in cell metadata). */
  cellId: string;
  /** 1-based position of the cell in the notebook, for messages ("cell 3"). */
  cellIndex?: number;
  params: P;
  /**
   * Explicit upstream results: stage kind -> cell id (`uses: { video: cell-1 }`).
   * A kind not named here resolves to `session.latest(kind)`: the nearest cell above with a result of that kind.
   */
  uses: Partial<Record<StageKind, string>>;
}

/** What a finished stage leaves in the session. `data` is stage-specific (see each stage's result type). */
export interface StageResult<D = unknown> {
  kind: StageKind;
  cellId: string;
  /** Hash of the stage's inputs (params, upstream input hashes, prompt text, model checksums). */
  inputHash: string;
  /** Cell ids of the upstream results this one was computed from. */
  upstream: string[];
  data: D;
  finishedAt: number;
}

/** Earlier results of one notebook (or one CLI run), by cell id and by kind. */
export interface SessionLike {
  get(cellId: string): StageResult | undefined;
  /**
   * A result of this kind (or of any of these kinds): for a cell's run, the nearest cell above it that
   * still exists and has one.
   */
  latest(kind: StageKind | readonly StageKind[]): StageResult | undefined;
}

/** Everything a stage may use. Built by the notebook controller or the CLI. */
export interface StageContext {
  signal: AbortSignal;
  session: SessionLike;
  /** Folder for this notebook's artifacts (frames, masks, exchanges), see run/runFolder.ts. */
  runDir: string;
  /** Folder relative paths in cells are resolved against (the notebook's folder; the cwd in the CLI). */
  baseDir: string;
  /** Extension / package root: `prompts/`, `media/` and `assets/` live here. */
  resourcesDir: string;
  settings: PipelineSettings;
  services: Services;
  log: Logger;
  /** Prompt overrides from `alref-prompt` cells of the notebook: template name -> text. */
  promptOverrides: Record<string, string>;
  /**
   * The JSON payload of an output item of `mime` that the cell showed before this run (e.g. the
   * pivot view of a reopened notebook's saved outputs), when the host knows them.
   */
  previousPayload?(mime: string): unknown;
}

/**
 * A stage: an async generator that yields events while it works and returns its result data.
 * The runner wraps the data into a {@link StageResult}.
 */
export type StageFn<P = Record<string, unknown>, D = unknown> = (
  request: StageRequest<P>,
  ctx: StageContext,
) => AsyncGenerator<StageEvent, StageOutcome<D>, void>;

export interface StageOutcome<D = unknown> {
  data: D;
  /** Hash of this stage's own inputs; the runner combines it with upstream hashes. */
  inputHash: string;
  upstream: string[];
}
