/**
 * The one error type the pipeline throws. Every message says what failed and what to do next.
 */
export type PipelineErrorKind =
  | 'cancelled'
  | 'invalid-input'
  | 'not-available'
  | 'backend'
  | 'timeout'
  | 'missing-model'
  | 'replay-miss';

export interface PipelineErrorOptions {
  /** Stage kind (`video`, `pivot-frame`, ...) or subsystem (`format`, `models`, `llm`). */
  stage: string;
  kind: PipelineErrorKind;
  /** The YAML field, setting or file the problem is in, when there is one (e.g. `source`, `clips[2]`). */
  field?: string;
  /** Cell id the error belongs to; filled by the runner when the stage did not set it. */
  cellId?: string;
  /** The file the problem is in, when there is one. */
  file?: string;
  cause?: unknown;
}

export class PipelineError extends Error {
  readonly stage: string;
  readonly kind: PipelineErrorKind;
  readonly field?: string;
  cellId?: string;
  readonly file?: string;

  constructor(message: string, options: PipelineErrorOptions) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'PipelineError';
    this.stage = options.stage;
    this.kind = options.kind;
    this.field = options.field;
    this.cellId = options.cellId;
    this.file = options.file;
  }
}

/** Throws a `cancelled` PipelineError when the signal has been aborted. Call between frames and chunks. */
export function throwIfAborted(signal: AbortSignal | undefined, stage: string): void {
  if (signal?.aborted) {
    throw new PipelineError('Cancelled.', { stage, kind: 'cancelled' });
  }
}

export function isCancellation(err: unknown): boolean {
  return (
    (err instanceof PipelineError && err.kind === 'cancelled') ||
    (err instanceof Error && (err.name === 'AbortError' || err.name === 'APIUserAbortError'))
  );
}
