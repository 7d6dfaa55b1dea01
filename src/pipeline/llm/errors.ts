import { PipelineError, type PipelineErrorKind } from '../errors';

/**
 * What went wrong with an LLM call, as the service tells it apart. Callers decide on the kind, never
 * on the wording of the message.
 *
 * Before any request is sent:
 * - `no-model`: no model id is set for the stage;
 * - `no-key`: live or record mode without an API key;
 * - `bad-image`: an image of the request cannot be decoded or re-encoded;
 * - `replay-miss`: replay mode, and the request was not recorded;
 * - `cancelled`: the run was cancelled (before or during the call).
 *
 * Answers of the provider that no retry can change:
 * - `auth`: the key was refused (HTTP 401 or 403);
 * - `no-images`: the model does not accept images (HTTP 400 about images);
 * - `model-not-found`: the model is not available at the endpoint (HTTP 404);
 * - `bad-request`: any other refusal (another HTTP 4xx).
 *
 * Failures that are retried (the kind of the last attempt is reported when the retries run out):
 * - `rate-limit`: HTTP 429;
 * - `timeout`: no answer within the time-out (or HTTP 408);
 * - `server`: HTTP 5xx or 409, or an error object inside the reply stream;
 * - `network`: the endpoint cannot be reached, or the connection failed otherwise;
 * - `stream`: the reply stream was cut off or held an event that is no chat completion chunk.
 *
 * After the call: `record-failed`: the exchange could not be stored in record mode.
 */
export type LlmErrorKind =
  | 'no-model'
  | 'no-key'
  | 'bad-image'
  | 'replay-miss'
  | 'cancelled'
  | 'auth'
  | 'no-images'
  | 'model-not-found'
  | 'bad-request'
  | 'rate-limit'
  | 'timeout'
  | 'server'
  | 'network'
  | 'stream'
  | 'record-failed';

/** The pipeline-wide kind each LLM error kind is reported as (what the notebook and the CLI show). */
const PIPELINE_KIND: Record<LlmErrorKind, PipelineErrorKind> = {
  'no-model': 'invalid-input',
  'no-key': 'invalid-input',
  'bad-image': 'invalid-input',
  'replay-miss': 'replay-miss',
  cancelled: 'cancelled',
  auth: 'backend',
  'no-images': 'backend',
  'model-not-found': 'backend',
  'bad-request': 'backend',
  'rate-limit': 'backend',
  timeout: 'timeout',
  server: 'backend',
  network: 'backend',
  stream: 'backend',
  'record-failed': 'invalid-input',
};

/**
 * Kinds that concern one request only: a multi-clip stage marks that clip invalid and goes on. Every
 * other kind (configuration, cancellation, a replay miss, a model that cannot serve the stage) fails
 * the cell, since the next request would fail the same way.
 */
const PER_REQUEST: ReadonlySet<LlmErrorKind> = new Set<LlmErrorKind>(['bad-request', 'rate-limit', 'timeout', 'server', 'network', 'stream']);

/** Where an {@link LlmError} comes from: the pipeline error's fields, less the kind (derived from `llmKind`). */
export type LlmErrorOptions = Omit<ConstructorParameters<typeof PipelineError>[1], 'kind'>;

/** An error of the LLM service: a {@link PipelineError} that also says what went wrong, as an {@link LlmErrorKind}. */
export class LlmError extends PipelineError {
  constructor(
    message: string,
    readonly llmKind: LlmErrorKind,
    options: LlmErrorOptions,
  ) {
    // The name stays `PipelineError`: error outputs and logs read the same as before.
    super(message, { ...options, kind: PIPELINE_KIND[llmKind] });
  }

  /** Whether the failure concerns only this request (see {@link PER_REQUEST}). */
  get perRequest(): boolean {
    return PER_REQUEST.has(this.llmKind);
  }
}
