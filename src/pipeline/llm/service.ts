import path from 'node:path';
import OpenAI, { AzureOpenAI } from 'openai';
import { PipelineError } from '../errors';
import type { UsageSummary } from '../events';
import type { LlmSettings } from '../settings';
import { sha256 } from '../run/hash';
import {
  EXCHANGE_VERSION,
  type Exchange,
  type ImageDescriptor,
  type KeyedRequest,
  type NormalizedRequest,
  type SentImage,
  type StoredExchange,
  exchangeLabel,
  exchangePath,
  readExchange,
  requestHash,
  writeExchange,
  writeSentImage,
} from './exchanges';
import { LlmError, type LlmErrorKind } from './errors';
import { DEFAULT_IMAGE_LIMITS, type ImageLimits, type PreparedImage, dataUrl, prepareImage } from './images';
import type { ParseResult } from './parsers';
import { StreamRedactor, clipText, redactSecrets } from './redact';
import type { Logger } from '../logger';

/**
 * An image for the LLM with what it shows: the stage that built it describes it (source content,
 * frame indices, layout, boxes drawn) so that recorded exchanges are keyed on that description, not
 * on bytes that another ffmpeg build or JPEG encoder would make differently.
 */
export interface LlmImage {
  /** JPEG or PNG bytes. */
  bytes: Uint8Array;
  /** What the image shows (see {@link ImageDescriptor}); absent: the exchange is keyed by the bytes. */
  describe?: ImageDescriptor;
}

/** One message of a request. Images go with user messages only. */
export interface LlmMessage {
  role: 'user' | 'assistant';
  text: string;
  /** Sent as JPEG data URLs with the request's `detail`; plain bytes are keyed by their hash. */
  images?: Array<Uint8Array | LlmImage>;
}

/** A chat request, as the stages build it. Sampling settings come from {@link LlmSettings}. */
export interface LlmRequest {
  model: string;
  messages: LlmMessage[];
}

/** Per-call context. */
export interface LlmCallOptions {
  signal?: AbortSignal;
  /** Settings in force for this run (mode, temperature, tokens, detail, time-out, retries, prices). */
  settings: LlmSettings;
  /** Stage kind or subsystem, for errors. */
  stage: string;
  /** The cell the call belongs to, for errors (a replay miss names it). */
  cellId?: string;
  /** What the call is for, in words ("clip 2"), for warnings. */
  label?: string;
}

/** What a call reports while it runs. */
export type LlmEvent =
  | { type: 'delta'; text: string }
  /** The reply restarts from scratch (a retry after a cut stream); deltas so far are void. */
  | { type: 'restart'; reason: string }
  | { type: 'warning'; message: string };

/** A finished reply. */
export interface LlmReply {
  text: string;
  usage: UsageSummary;
  finishReason: string | null;
  /** Content address of the request (the exchange file name without `.json`). */
  exchangeHash: string;
  /** True when the reply came from a recorded exchange (replay, or record mode reusing one): no request was sent. */
  replayed: boolean;
}

/** Result of {@link LlmService.ask}: the parsed answer, or a typed failure after one re-ask. */
export interface AskResult<T> {
  parsed: ParseResult<T>;
  /** Every reply, in order (the first, and the re-ask's when there was one). */
  replies: LlmReply[];
  /** Usage summed over the replies. */
  usage: UsageSummary;
  reasked: boolean;
}

/** LLM access used by the stages: streaming chat with retries, re-asks, usage and record/replay. */
export interface LlmService {
  readonly kind: 'llm';
  /**
   * One chat completion, streamed: yields deltas (and warnings) and returns the reply. In `replay`
   * mode it reads the recorded exchange and makes no network call; in `record` mode it stores it.
   */
  complete(request: LlmRequest, options: LlmCallOptions): AsyncGenerator<LlmEvent, LlmReply, void>;
  /**
   * {@link complete} then `parse`; when the reply cannot be parsed, asks once more with `reask` as a
   * short clarification (the first reply stays in the conversation), and parses that.
   */
  ask<T>(request: LlmRequest, parse: (text: string) => ParseResult<T>, reask: string, options: LlmCallOptions): AsyncGenerator<LlmEvent, AskResult<T>, void>;
}

/** How the service reaches the outside world. */
export interface LlmServiceEnv {
  /** Where `exchanges/` lives. */
  runDir: string;
  getSecret(name: 'openai-api-key'): Promise<string | undefined>;
  /** Image limits of the provider (tests lower them). */
  imageLimits?: ImageLimits;
  /** Characters per chunk when a recorded reply is replayed (default 24). */
  replayChunkSize?: number;
  /**
   * Record mode only: send every request again and overwrite its exchange, instead of answering the
   * requests already recorded from the store (`alref notebook run --rerecord`).
   */
  rerecord?: boolean;
  /**
   * Where the openai library's own diagnostics go (redacted, at info level), instead of the
   * console. Absent: they are dropped (the call's warnings and errors say what went wrong).
   */
  log?: Logger;
}

const OPENAI_BASE_URL = 'https://api.openai.com/v1';
const DEFAULT_AZURE_API_VERSION = '2024-10-21';

/** Creates the LLM service of one notebook or CLI run. Nothing connects until the first call. */
export function createLlmService(env: LlmServiceEnv): LlmService {
  return new OpenAiLlmService(env);
}

/** Sum of usages; costs add when all are known. */
function addUsage(a: UsageSummary, b: UsageSummary): UsageSummary {
  return {
    promptTokens: a.promptTokens + b.promptTokens,
    completionTokens: a.completionTokens + b.completionTokens,
    latencyMs: a.latencyMs + b.latencyMs,
    costUsd: a.costUsd === undefined || b.costUsd === undefined ? undefined : a.costUsd + b.costUsd,
    model: a.model ?? b.model,
    ...(a.reused && b.reused ? { reused: true } : {}),
  };
}

/** Cost in USD from the price table (USD per million tokens, by requested model id). */
function costOf(prices: LlmSettings['prices'], model: string, promptTokens: number, completionTokens: number): number | undefined {
  const p = prices[model];
  if (!p) {
    return undefined;
  }
  return (promptTokens * p.input + completionTokens * p.output) / 1_000_000;
}

/** A failure of one attempt that may go away on a retry; `kind` is what the final error reports. */
class TransientError extends Error {
  constructor(
    message: string,
    readonly kind: LlmErrorKind,
    readonly retryAfterMs?: number,
  ) {
    super(message);
  }
}

/** What one streamed attempt gave. */
interface StreamResult {
  text: string;
  finishReason: string | null;
  model?: string;
  usage?: { prompt_tokens: number; completion_tokens: number };
  latencyMs: number;
}

/** An image of a request as prepared for sending, with the descriptor its stage gave. */
interface SendImage extends PreparedImage {
  describe?: ImageDescriptor;
}

/** A request with each image replaced by its key, in the shape both exchange versions store. */
function keyRequest<I>(request: LlmRequest, prepared: SendImage[][], settings: LlmSettings, imageKey: (p: SendImage, detail: string) => I) {
  return {
    model: request.model,
    messages: request.messages.map((m, i) => ({
      role: m.role,
      text: m.text,
      ...(prepared[i].length > 0 ? { images: prepared[i].map((p) => imageKey(p, settings.imageDetail)) } : {}),
    })),
    temperature: settings.temperature,
    maxTokens: settings.maxTokens,
  };
}

/** An image keyed by the sha256 of its bytes, with mime, detail and size. */
function byteKey(p: SendImage, detail: string): { sha256: string; mime: string; detail: string; width: number; height: number } {
  return { sha256: sha256(p.bytes), mime: p.mime, detail, width: p.width, height: p.height };
}

/**
 * The request as recorded and hashed (version 2): prompt texts, model settings, and each image by the
 * descriptor its stage gave (with detail and size), or by the sha256 of its bytes when it has none.
 */
function keyedRequest(request: LlmRequest, prepared: SendImage[][], settings: LlmSettings): KeyedRequest {
  return keyRequest(request, prepared, settings, (p, detail) => (p.describe ? { describe: p.describe, mime: p.mime, detail, width: p.width, height: p.height } : byteKey(p, detail)));
}

/** The request as version 1 recorded and hashed it: every image by the sha256 of its bytes. */
function normalizeRequest(request: LlmRequest, prepared: SendImage[][], settings: LlmSettings): NormalizedRequest {
  return keyRequest(request, prepared, settings, byteKey);
}

/** The chat-completions body: streamed, with usage; images as data URLs; OpenAI's own endpoint takes `max_completion_tokens`. */
function chatBody(request: LlmRequest, prepared: SendImage[][], settings: LlmSettings): Record<string, unknown> {
  const messages = request.messages.map((m, i) =>
    m.role === 'assistant'
      ? { role: 'assistant' as const, content: m.text }
      : {
          role: 'user' as const,
          content: [
            { type: 'text' as const, text: m.text },
            ...prepared[i].map((p) => ({ type: 'image_url' as const, image_url: { url: dataUrl(p), detail: settings.imageDetail } })),
          ],
        },
  );
  const isOpenAi = !settings.baseUrl;
  return {
    model: request.model,
    messages,
    stream: true as const,
    stream_options: { include_usage: true },
    ...(settings.temperature === null ? {} : { temperature: settings.temperature }),
    ...(settings.maxTokens === null ? {} : isOpenAi ? { max_completion_tokens: settings.maxTokens } : { max_tokens: settings.maxTokens }),
  };
}

/** `clip 2: ` for messages about a call with a label. */
function labelPrefix(options: LlmCallOptions): string {
  return options.label ? `${options.label}: ` : '';
}

class OpenAiLlmService implements LlmService {
  readonly kind = 'llm' as const;
  private readonly _clients = new Map<string, OpenAI>();

  constructor(private readonly _env: LlmServiceEnv) {}

  async *ask<T>(request: LlmRequest, parse: (text: string) => ParseResult<T>, reask: string, options: LlmCallOptions): AsyncGenerator<LlmEvent, AskResult<T>, void> {
    const first = yield* this.complete(request, options);
    const parsed = parse(first.text);
    if (parsed.ok) {
      return { parsed, replies: [first], usage: first.usage, reasked: false };
    }
    yield { type: 'warning', message: `${labelPrefix(options)}${parsed.message} Asking once more.` };
    yield { type: 'delta', text: `\n\n— re-ask: ${reask.trim()}\n\n` };
    const second = yield* this.complete(
      { model: request.model, messages: [...request.messages, { role: 'assistant', text: first.text }, { role: 'user', text: reask }] },
      options,
    );
    return { parsed: parse(second.text), replies: [first, second], usage: addUsage(first.usage, second.usage), reasked: true };
  }

  async *complete(request: LlmRequest, options: LlmCallOptions): AsyncGenerator<LlmEvent, LlmReply, void> {
    const { settings } = options;
    checkCall(request, options);
    const prepared = yield* this._prepareImages(request, options);
    const keyed = keyedRequest(request, prepared, settings);
    const hash = requestHash(keyed);
    const legacyHash = (): string => requestHash(normalizeRequest(request, prepared, settings));
    if (settings.mode === 'replay') {
      const found = await this._lookup(hash, legacyHash, options);
      if (!found) {
        throw new LlmError(
          `Replay: cell "${options.cellId ?? '?'}" sent a request (${request.model}, hash ${hash.slice(0, 12)}) that was not recorded in ${exchangeLabel(this._env.runDir, hash)}. ` +
            'Run this cell in record mode (with an API key), or restore the run folder that came with the notebook.',
          'replay-miss',
          { stage: options.stage, cellId: options.cellId, file: exchangePath(this._env.runDir, hash) },
        );
      }
      return yield* this._fromStore(request.model, found, options, false);
    }
    if (settings.mode === 'record' && !this._env.rerecord) {
      const found = yield* this._lookupForRecord(hash, legacyHash, options);
      if (found) {
        if (found.ex.version !== EXCHANGE_VERSION) {
          // A version 1 recording of the same bytes: stored again under the new key, with its images.
          const { reply, usage, latencyMs, recordedAt } = found.ex;
          await this._record({ version: EXCHANGE_VERSION, hash, request: keyed, reply, usage, latencyMs, recordedAt }, prepared, options);
        }
        this._env.log?.info(
          `${labelPrefix(options)}answered from the recorded exchange ${exchangeLabel(this._env.runDir, found.hash)}; no request sent (run with --rerecord, or delete the file, to send it again).`,
        );
        return yield* this._fromStore(request.model, { hash, ex: found.ex }, options, true);
      }
    }
    const apiKey = await this._apiKey(options);
    const result = yield* this._streamWithRetries(request.model, chatBody(request, prepared, settings), apiKey, options);
    const model = result.model ?? request.model;
    const promptTokens = result.usage?.prompt_tokens ?? 0;
    const completionTokens = result.usage?.completion_tokens ?? 0;
    if (settings.mode === 'record') {
      await this._record(
        {
          version: EXCHANGE_VERSION,
          hash,
          request: keyed,
          reply: { text: result.text, model, finishReason: result.finishReason },
          usage: { promptTokens, completionTokens },
          latencyMs: result.latencyMs,
          recordedAt: new Date().toISOString(),
        },
        prepared,
        options,
      );
    }
    return {
      text: result.text,
      finishReason: result.finishReason,
      exchangeHash: hash,
      replayed: false,
      usage: { promptTokens, completionTokens, latencyMs: result.latencyMs, costUsd: costOf(settings.prices, request.model, promptTokens, completionTokens), model },
    };
  }

  /** Decodes and, where the provider's limits ask for it, downscales every image; warns for each one downscaled. */
  private async *_prepareImages(request: LlmRequest, options: LlmCallOptions): AsyncGenerator<LlmEvent, SendImage[][], void> {
    const prepared: SendImage[][] = [];
    for (const m of request.messages) {
      const imgs: SendImage[] = [];
      for (const image of m.images ?? []) {
        const { bytes, describe } = image instanceof Uint8Array ? { bytes: image, describe: undefined } : image;
        let p: PreparedImage;
        try {
          p = await prepareImage(bytes, this._env.imageLimits ?? DEFAULT_IMAGE_LIMITS);
        } catch (err) {
          throw new LlmError(`An image for the LLM cannot be prepared: ${(err as Error).message}`, 'bad-image', { stage: options.stage, cause: err, cellId: options.cellId });
        }
        if (p.downscaled) {
          yield {
            type: 'warning',
            message: `${labelPrefix(options)}the image sent to ${request.model} was downscaled from ${p.downscaled.fromWidth}x${p.downscaled.fromHeight} to ${p.width}x${p.height} (${p.downscaled.reason}).`,
          };
        }
        imgs.push(describe ? { ...p, describe } : p);
      }
      prepared.push(imgs);
    }
    return prepared;
  }

  /**
   * The recorded exchange of a request: under its key, else (a notebook recorded before requests were
   * keyed on meaning) under the version 1 key of the same bytes. Undefined when neither is stored.
   */
  private async _lookup(hash: string, legacyHash: () => string, options: LlmCallOptions): Promise<{ hash: string; ex: StoredExchange } | undefined> {
    try {
      const ex = await readExchange(this._env.runDir, hash);
      if (ex) {
        return { hash, ex };
      }
      const legacy = legacyHash();
      const old = legacy === hash ? undefined : await readExchange(this._env.runDir, legacy);
      return old ? { hash: legacy, ex: old } : undefined;
    } catch (err) {
      if (err instanceof PipelineError) {
        err.cellId ??= options.cellId;
      }
      throw err;
    }
  }

  /** {@link _lookup} for record mode: a damaged exchange is not an answer; it is re-recorded, with a warning. */
  private async *_lookupForRecord(hash: string, legacyHash: () => string, options: LlmCallOptions): AsyncGenerator<LlmEvent, { hash: string; ex: StoredExchange } | undefined, void> {
    try {
      return await this._lookup(hash, legacyHash, options);
    } catch (err) {
      if (!(err instanceof PipelineError && err.kind === 'invalid-input')) {
        throw err;
      }
      const file = err.file ? path.relative(path.dirname(this._env.runDir), err.file) : exchangeLabel(this._env.runDir, hash);
      yield { type: 'warning', message: `${labelPrefix(options)}the recorded exchange ${file} is damaged; the request is sent again and the exchange re-recorded.` };
      return undefined;
    }
  }

  /** A recorded reply, streamed in chunks; no network. `reused`: record mode answered from the store (said so in the usage). */
  private async *_fromStore(model: string, found: { hash: string; ex: StoredExchange }, options: LlmCallOptions, reused: boolean): AsyncGenerator<LlmEvent, LlmReply, void> {
    const { settings } = options;
    const { ex } = found;
    const size = Math.max(1, this._env.replayChunkSize ?? 24);
    for (let i = 0; i < ex.reply.text.length; i += size) {
      throwIfCancelled(options);
      yield { type: 'delta', text: ex.reply.text.slice(i, i + size) };
    }
    return {
      text: ex.reply.text,
      finishReason: ex.reply.finishReason,
      exchangeHash: found.hash,
      replayed: true,
      usage: {
        promptTokens: ex.usage.promptTokens,
        completionTokens: ex.usage.completionTokens,
        latencyMs: ex.latencyMs,
        costUsd: costOf(settings.prices, model, ex.usage.promptTokens, ex.usage.completionTokens),
        model: ex.reply.model,
        ...(reused ? { reused: true } : {}),
      },
    };
  }

  /** The key from the settings (CLI) or the host's secret store (VS Code). */
  private async _apiKey(options: LlmCallOptions): Promise<string> {
    const apiKey = options.settings.apiKey || (await this._env.getSecret('openai-api-key'));
    if (!apiKey) {
      throw new LlmError(
        'No API key is set. In VS Code run "AL-Ref: Set API Key"; for the CLI set OPENAI_API_KEY. Or switch the notebook to replay mode to use recorded exchanges.',
        'no-key',
        { stage: options.stage, field: 'apiKey', cellId: options.cellId },
      );
    }
    return apiKey;
  }

  /**
   * Streams the reply, retrying transient failures up to `maxRetries` times with back-off (or the
   * server's Retry-After); a retry after a partly streamed reply is announced with a `restart` event.
   */
  private async *_streamWithRetries(model: string, body: Record<string, unknown>, apiKey: string, options: LlmCallOptions): AsyncGenerator<LlmEvent, StreamResult, void> {
    const { settings, stage } = options;
    const client = this._client(settings, apiKey);
    const attempts = Math.max(0, settings.maxRetries) + 1;
    for (let attempt = 1; ; attempt++) {
      throwIfCancelled(options);
      const started = Date.now();
      let text = '';
      try {
        const result = yield* this._stream(client, body, settings.timeoutMs, options, apiKey, (t) => {
          text += t;
        });
        return { ...result, text, latencyMs: Date.now() - started };
      } catch (err) {
        throwIfCancelled(options);
        const transient = this._classify(err, model, settings, apiKey, options);
        const reason = redact(transient.message, apiKey);
        if (attempt >= attempts) {
          throw new LlmError(
            `${model} did not answer after ${attempts} attempt${attempts === 1 ? '' : 's'}: ${reason}. Check the endpoint and the network, or raise alref.llm.maxRetries / alref.llm.timeoutMs.`,
            transient.kind,
            { stage, cellId: options.cellId },
          );
        }
        const delay = transient.retryAfterMs ?? Math.min(30_000, 500 * 2 ** (attempt - 1)) * (0.75 + Math.random() * 0.5);
        yield { type: 'warning', message: `${labelPrefix(options)}${reason}; retry ${attempt} of ${attempts - 1} in ${(delay / 1000).toFixed(1)} s.` };
        if (text) {
          yield { type: 'restart', reason };
        }
        await sleep(delay, options);
      }
    }
  }

  /** Record mode: stores the images that were sent, then the exchange, in the run folder. */
  private async _record(ex: Omit<Exchange, 'images'>, prepared: SendImage[][], options: LlmCallOptions): Promise<void> {
    try {
      const images: SentImage[] = [];
      for (const [message, imgs] of prepared.entries()) {
        for (const [index, img] of imgs.entries()) {
          images.push(await writeSentImage(this._env.runDir, { message, index }, img));
        }
      }
      await writeExchange(this._env.runDir, { ...ex, images });
    } catch (err) {
      const label = exchangeLabel(this._env.runDir, ex.hash);
      // The atomic writer wraps the system error; its code is what the user can act on.
      const code = (err as NodeJS.ErrnoException).code ?? ((err as { cause?: NodeJS.ErrnoException }).cause?.code);
      throw new LlmError(
        `Cannot store the recorded exchange ${label} (${code ?? (err as Error).message}). Check that the run folder is writable and the disk has space, or switch the notebook to live mode.`,
        'record-failed',
        { stage: options.stage, file: exchangePath(this._env.runDir, ex.hash), cellId: options.cellId, cause: err },
      );
    }
  }

  /** Streams one attempt; deltas go to `onText` and out as events. Throws on a cut stream. */
  private async *_stream(
    client: OpenAI,
    body: Record<string, unknown>,
    timeoutMs: number,
    options: LlmCallOptions,
    apiKey: string,
    onText: (t: string) => void,
  ): AsyncGenerator<LlmEvent, Omit<StreamResult, 'text' | 'latencyMs'>, void> {
    const ctl = new AbortController();
    let timedOut = false;
    const onAbort = (): void => ctl.abort();
    options.signal?.addEventListener('abort', onAbort, { once: true });
    let timer: NodeJS.Timeout | undefined;
    const arm = (): void => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        timedOut = true;
        ctl.abort();
      }, timeoutMs);
    };
    arm();
    let finishReason: string | null = null;
    let sawFinish = false;
    let gotChunk = false;
    let model: string | undefined;
    let usage: { prompt_tokens: number; completion_tokens: number } | undefined;
    // A server may echo the key (from the Authorization header) into the reply: it never reaches a trace or an exchange.
    const redactor = new StreamRedactor(apiKey);
    try {
      const stream = await client.chat.completions.create(body as unknown as OpenAI.ChatCompletionCreateParamsStreaming, {
        signal: ctl.signal,
        timeout: timeoutMs,
        maxRetries: 0,
      });
      for await (const chunk of stream as AsyncIterable<unknown>) {
        arm();
        if (chunk === null || typeof chunk !== 'object' || Array.isArray(chunk)) {
          throw new TransientError(`the server sent a malformed event in the reply stream (${clipText(redactSecrets(JSON.stringify(chunk) ?? String(chunk), apiKey), 60)}, not a chat completion chunk)`, 'stream');
        }
        const c = chunk as OpenAI.ChatCompletionChunk;
        gotChunk = true;
        model = typeof c.model === 'string' && c.model ? c.model : model;
        if (c.usage && typeof c.usage === 'object') {
          usage = c.usage;
        }
        for (const choice of Array.isArray(c.choices) ? c.choices : []) {
          const raw = choice?.delta?.content;
          const t = typeof raw === 'string' && raw ? redactor.push(raw) : '';
          if (t) {
            onText(t);
            yield { type: 'delta', text: t };
          }
          if (choice?.finish_reason) {
            finishReason = String(choice.finish_reason);
            sawFinish = true;
          }
        }
      }
    } catch (err) {
      if (timedOut) {
        throw timeoutError(timeoutMs);
      }
      if (err instanceof TransientError) {
        throw err;
      }
      if (err instanceof SyntaxError) {
        // The openai library could not parse a `data:` line of the event stream.
        throw new TransientError(`the server sent a malformed event in the reply stream (not JSON: ${clipText(redactSecrets(err.message, apiKey), 100)})`, 'stream');
      }
      if (gotChunk && !options.signal?.aborted && !(err instanceof OpenAI.APIError && err.status !== undefined)) {
        throw new TransientError(`the reply stream was cut off before it finished (${err instanceof Error ? err.message : String(err)})`, 'stream');
      }
      throw err;
    } finally {
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
    }
    if (timedOut) {
      throw timeoutError(timeoutMs);
    }
    if (!sawFinish) {
      throw new TransientError('the reply stream was cut off before it finished', 'stream');
    }
    const rest = redactor.flush();
    if (rest) {
      onText(rest);
      yield { type: 'delta', text: rest };
    }
    return { finishReason, model, usage };
  }

  /** Turns an error into a transient one (to retry) or throws the final, clear error. */
  private _classify(err: unknown, model: string, settings: LlmSettings, apiKey: string, options: LlmCallOptions): TransientError {
    if (err instanceof TransientError) {
      return err;
    }
    if (err instanceof PipelineError) {
      throw err;
    }
    const endpoint = settings.baseUrl ? hostOf(settings.baseUrl) : 'api.openai.com';
    if (err instanceof OpenAI.APIConnectionTimeoutError) {
      return timeoutError(settings.timeoutMs);
    }
    if (err instanceof OpenAI.APIConnectionError) {
      return new TransientError(`cannot connect to ${endpoint}`, 'network');
    }
    if (err instanceof OpenAI.APIError) {
      return classifyHttpError(err, endpoint, model, apiKey, options);
    }
    return new TransientError(clipText(redact(err instanceof Error ? err.message : String(err), apiKey), 300), 'network');
  }

  /**
   * The openai library's logger: its messages (for example "Could not parse message into JSON" with
   * the raw event, on a garbage server-sent event) go to the host's log, redacted and shortened,
   * never to the console.
   */
  private _libraryLogger(apiKey: string): { error: LogFn; warn: LogFn; info: LogFn; debug: LogFn } {
    const emit = (level: string) => (...args: unknown[]): void => {
      const text = args.map((a) => (typeof a === 'string' ? a : a instanceof Error ? a.message : safeJson(a))).join(' ');
      this._env.log?.info(`openai library (${level}): ${clipText(redactSecrets(text, apiKey), 500)}`);
    };
    return { error: emit('error'), warn: emit('warn'), info: emit('info'), debug: emit('debug') };
  }

  private _client(settings: LlmSettings, apiKey: string): OpenAI {
    const baseUrl = settings.baseUrl || OPENAI_BASE_URL;
    const key = `${baseUrl}\n${apiKey}`;
    let client = this._clients.get(key);
    if (!client) {
      const host = hostOf(baseUrl);
      client = /\.openai\.azure\.com$|\.cognitiveservices\.azure\.com$/.test(host)
        ? new AzureOpenAI({ apiKey, endpoint: new URL(baseUrl).origin, apiVersion: settings.azureApiVersion || DEFAULT_AZURE_API_VERSION, maxRetries: 0, logger: this._libraryLogger(apiKey) })
        : new OpenAI({ apiKey, baseURL: baseUrl, maxRetries: 0, organization: null, project: null, logger: this._libraryLogger(apiKey) });
      this._clients.set(key, client);
    }
    return client;
  }
}

/** An HTTP error of the provider: the transient ones (429, 408, 409, 5xx, an error inside the stream) to retry, the others thrown. */
function classifyHttpError(err: InstanceType<typeof OpenAI.APIError>, endpoint: string, model: string, apiKey: string, options: LlmCallOptions): TransientError {
  const { stage, cellId } = options;
  const status = err.status;
  const serverMessage = clipText(redact(String((err.error as { message?: string } | undefined)?.message ?? err.message ?? ''), apiKey), 300);
  const detail = serverMessage ? ` (${serverMessage})` : '';
  if (status === undefined) {
    // An error object inside the stream.
    return new TransientError(`error in the reply stream from ${endpoint}${detail}`, 'server');
  }
  const transient: LlmErrorKind | undefined = status === 429 ? 'rate-limit' : status === 408 ? 'timeout' : status === 409 || status >= 500 ? 'server' : undefined;
  if (transient) {
    return new TransientError(`HTTP ${status} from ${endpoint}${detail}`, transient, retryAfterMs(err.headers));
  }
  if (status === 401 || status === 403) {
    throw new LlmError(
      `${endpoint} rejected the API key (HTTP ${status}) for model ${model}. Set a valid key ("AL-Ref: Set API Key" in VS Code, OPENAI_API_KEY for the CLI).`,
      'auth',
      { stage, field: 'apiKey', cellId },
    );
  }
  // The provider says so only in words: a 400 whose message is about images.
  if (status === 400 && /image/i.test(serverMessage)) {
    throw new LlmError(`Model ${model} at ${endpoint} does not accept images (${serverMessage}). Choose a vision-capable model in alref.llm.models.`, 'no-images', {
      stage, field: 'model', cellId,
    });
  }
  if (status === 404) {
    throw new LlmError(`Model ${model} is not available at ${endpoint} (HTTP 404: ${serverMessage}). Check alref.llm.models and alref.llm.baseUrl.`, 'model-not-found', {
      stage, field: 'model', cellId,
    });
  }
  throw new LlmError(`${endpoint} refused the request for ${model} (HTTP ${status}: ${serverMessage}).`, 'bad-request', { stage, cellId });
}

function timeoutError(timeoutMs: number): TransientError {
  return new TransientError(`no answer within ${Math.round(timeoutMs / 1000)} s (time-out)`, 'timeout');
}

/** Removes the secret (and anything credential-like, see {@link redactSecrets}) from a message. */
function redact(message: string, secret: string | undefined): string {
  return redactSecrets(message, secret);
}

/** Throws a `cancelled` error when the call's signal has been aborted. */
function throwIfCancelled(options: LlmCallOptions): void {
  if (options.signal?.aborted) {
    throw new LlmError('Cancelled.', 'cancelled', { stage: options.stage, cellId: options.cellId });
  }
}

/** Checks what needs no work: the call is not cancelled and names a model. */
function checkCall(request: LlmRequest, options: LlmCallOptions): void {
  throwIfCancelled(options);
  if (!request.model) {
    throw new LlmError('No model id is set for this stage. Set alref.llm.models in the settings, or `model:` in the cell.', 'no-model', {
      stage: options.stage, field: 'model', cellId: options.cellId,
    });
  }
}

type LogFn = (...args: unknown[]) => void;

function safeJson(v: unknown): string {
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return String(v);
  }
}

function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return url;
  }
}

/** Retry-After as milliseconds (`retry-after-ms`, seconds, or an HTTP date), capped at 60 s. */
function retryAfterMs(headers: Headers | undefined): number | undefined {
  if (!headers || typeof headers.get !== 'function') {
    return undefined;
  }
  const ms = Number(headers.get('retry-after-ms'));
  if (Number.isFinite(ms) && ms > 0) {
    return Math.min(ms, 60_000);
  }
  const raw = headers.get('retry-after');
  if (!raw) {
    return undefined;
  }
  const sec = Number(raw);
  if (Number.isFinite(sec)) {
    return Math.min(Math.max(0, sec * 1000), 60_000);
  }
  const date = Date.parse(raw);
  return Number.isFinite(date) ? Math.min(Math.max(0, date - Date.now()), 60_000) : undefined;
}

function sleep(ms: number, options: LlmCallOptions): Promise<void> {
  const signal = options.signal;
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(t);
      reject(new LlmError('Cancelled.', 'cancelled', { stage: options.stage, cellId: options.cellId }));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
