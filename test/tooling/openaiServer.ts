/**
 * A local OpenAI-compatible chat-completions server for tests, demos and benchmarks. It speaks the
 * real wire protocol (JSON bodies, SSE streaming with `data: ...` lines and `[DONE]`), so the
 * product's real `openai` client talks to it unchanged. Replies are scripted by the test (a queue, or
 * a function of the request); faults are injected per reply: 429 with Retry-After, 500 and any other
 * HTTP error (502, 503, ...), a time-out (the server never answers), a stall mid-stream, a truncated
 * stream (connection destroyed mid-SSE), garbage events (non-JSON `data:` lines), a stream without
 * `[DONE]`, a wrong key (401), and a model that rejects images. `{{authorization}}` in a reply text or
 * an error message is replaced by the request's Authorization header, like a server that echoes it.
 *
 * Listens on 127.0.0.1 only, on a free port.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

/** One content part of a user message, as sent by the client. */
export type ContentPart =
  | { type: 'text'; text: string }
  | { type: 'image_url'; image_url: { url: string; detail?: string } };

export interface ChatMessage {
  role: string;
  content: string | ContentPart[];
}

/** What the server saw of one request. */
export interface ReceivedRequest {
  path: string;
  headers: http.IncomingHttpHeaders;
  body: {
    model: string;
    messages: ChatMessage[];
    stream?: boolean;
    stream_options?: { include_usage?: boolean };
    temperature?: number;
    max_tokens?: number;
    max_completion_tokens?: number;
    [key: string]: unknown;
  };
  /** Number of image parts in the request. */
  imageCount: number;
  /** Plain text of all text parts, joined with newlines. */
  text: string;
  receivedAt: number;
}

/** A scripted reply: text to answer with, or a fault to inject. */
export type ScriptedReply =
  | string
  | {
      text?: string;
      /** Inject an HTTP error or fault instead of (or, for `truncate`, part of) the reply. */
      fault?: 'rate-limit' | 'server-error' | 'http-error' | 'timeout' | 'stall' | 'truncate' | 'garbage' | 'no-done' | 'no-images';
      /** Seconds for the Retry-After header of a `rate-limit` or `http-error` fault. */
      retryAfterSec?: number;
      /** HTTP status of an `http-error` fault (default 500). */
      status?: number;
      /** Message of a `server-error` or `http-error` fault (may hold `{{authorization}}`). */
      errorMessage?: string;
      /** Send the error message as a plain-text body instead of an OpenAI error object. */
      plainErrorBody?: boolean;
      /**
       * `garbage`: raw lines written as `data: <line>` events half-way through the stream (default
       * one non-JSON line); the stream then goes on and finishes normally.
       */
      garbageLines?: string[];
      /** Characters per streamed chunk (default 8). */
      chunkSize?: number;
      /** Milliseconds between streamed chunks (default 0). */
      chunkDelayMs?: number;
      /** Model id the server reports (default: the requested one, suffixed "-local"). */
      reportModel?: string;
      promptTokens?: number;
      completionTokens?: number;
      /** Called right before streamed chunk `index` (0-based, content chunks only) is written. */
      onChunk?: (index: number) => void;
      /** The reply (or fault) is sent only once this settles: a test holds a request open with it. */
      holdUntil?: Promise<unknown>;
    };

export type ReplyScript = (request: ReceivedRequest) => ScriptedReply;

export interface OpenAiServerOptions {
  /** The API key the server accepts; any other bearer token gets a 401. Default: accept any. */
  apiKey?: string;
  /** Models that reject image parts with a 400, like a text-only model would. */
  textOnlyModels?: string[];
  /** Reply used when the queue is empty and no function is set. Default: an error 500 naming the problem. */
  defaultReply?: ScriptedReply;
}

/** A running local server. */
export class OpenAiTestServer {
  /** Every request received, in order (including those that got a fault). */
  readonly requests: ReceivedRequest[] = [];
  /** Chat requests received whose response has not ended yet. */
  inFlight = 0;
  /** The most chat requests in flight at once since start (a test may reset it to 0). */
  maxInFlight = 0;
  private readonly _queue: ScriptedReply[] = [];
  private _script: ReplyScript | undefined;
  private readonly _server: http.Server;
  private readonly _sockets = new Set<import('node:net').Socket>();
  private _port = 0;

  private constructor(private readonly _options: OpenAiServerOptions) {
    this._server = http.createServer((req, res) => {
      void this._handle(req, res);
    });
    this._server.on('connection', (s) => {
      this._sockets.add(s);
      s.on('close', () => this._sockets.delete(s));
    });
  }

  /** Starts a server on 127.0.0.1 with a free port. */
  static async start(options: OpenAiServerOptions = {}): Promise<OpenAiTestServer> {
    const server = new OpenAiTestServer(options);
    await new Promise<void>((resolve, reject) => {
      server._server.once('error', reject);
      server._server.listen(0, '127.0.0.1', () => resolve());
    });
    server._port = (server._server.address() as AddressInfo).port;
    return server;
  }

  /** Base URL to give the client, ending in `/v1`. */
  get baseUrl(): string {
    return `http://127.0.0.1:${this._port}/v1`;
  }

  /** Appends replies to the queue; each request takes the next one. */
  enqueue(...replies: ScriptedReply[]): this {
    this._queue.push(...replies);
    return this;
  }

  /** Answers every request (after the queue is empty) with a function of the request. */
  setScript(script: ReplyScript | undefined): this {
    this._script = script;
    return this;
  }

  /** Stops listening and drops open connections (including ones held open by a `timeout` fault). */
  async stop(): Promise<void> {
    for (const s of this._sockets) {
      s.destroy();
    }
    await new Promise<void>((resolve) => this._server.close(() => resolve()));
  }

  private async _handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) {
      chunks.push(c as Buffer);
    }
    const url = req.url ?? '';
    if (req.method !== 'POST' || !url.endsWith('/chat/completions')) {
      sendError(res, 404, `No route ${req.method} ${url}`, 'not_found');
      return;
    }
    let body: ReceivedRequest['body'];
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    } catch {
      sendError(res, 400, 'Body is not JSON.', 'invalid_request_error');
      return;
    }
    const received = describe(url, req.headers, body);
    this.requests.push(received);
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    res.once('close', () => this.inFlight--);

    const auth = req.headers.authorization ?? '';
    if (this._options.apiKey !== undefined && auth !== `Bearer ${this._options.apiKey}`) {
      // A real provider echoes a masked key; this server echoes nothing of it.
      sendError(res, 401, 'Incorrect API key provided.', 'invalid_api_key');
      return;
    }
    if (!Array.isArray(body.messages) || typeof body.model !== 'string') {
      sendError(res, 400, 'model and messages are required.', 'invalid_request_error');
      return;
    }
    if (received.imageCount > 0 && this._options.textOnlyModels?.includes(body.model)) {
      sendError(res, 400, `Invalid content type. image_url is only supported by certain models; ${body.model} does not support images.`, 'invalid_request_error');
      return;
    }

    const scripted = this._next(received);
    const echo = (t: string): string => t.split('{{authorization}}').join(String(req.headers.authorization ?? ''));
    const reply = typeof scripted === 'string' ? { text: scripted } : scripted;
    if (reply.holdUntil) {
      await reply.holdUntil;
    }
    switch (reply.fault) {
      case 'rate-limit':
        res.setHeader('retry-after', String(reply.retryAfterSec ?? 1));
        sendError(res, 429, 'Rate limit reached for requests.', 'rate_limit_exceeded');
        return;
      case 'server-error':
      case 'http-error': {
        const status = reply.fault === 'http-error' ? reply.status ?? 500 : 500;
        const message = echo(reply.errorMessage ?? 'The server had an error while processing your request.');
        if (reply.retryAfterSec !== undefined) {
          res.setHeader('retry-after', String(reply.retryAfterSec));
        }
        if (reply.plainErrorBody) {
          res.writeHead(status, { 'content-type': 'text/plain' });
          res.end(message);
        } else {
          sendError(res, status, message, status === 429 ? 'rate_limit_exceeded' : 'server_error');
        }
        return;
      }
      case 'timeout':
        // Never answer; the connection is dropped by the client's time-out or by stop().
        return;
      case 'no-images':
        sendError(res, 400, `Invalid content type. image_url is only supported by certain models; ${body.model} does not support images.`, 'invalid_request_error');
        return;
      default:
        break;
    }

    const text = echo(reply.text ?? '');
    const model = reply.reportModel ?? `${body.model}-local`;
    const promptTokens = reply.promptTokens ?? Math.ceil(received.text.length / 4) + 85 * received.imageCount;
    const completionTokens = reply.completionTokens ?? Math.ceil(text.length / 4);
    const usage = { prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens };
    const id = `chatcmpl-local-${this.requests.length}`;
    const created = Math.floor(Date.now() / 1000);

    if (!body.stream) {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({
        id, object: 'chat.completion', created, model,
        choices: [{ index: 0, message: { role: 'assistant', content: text }, finish_reason: 'stop' }],
        usage,
      }));
      return;
    }

    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
    const size = Math.max(1, reply.chunkSize ?? 8);
    const pieces: string[] = [];
    for (let i = 0; i < text.length; i += size) {
      pieces.push(text.slice(i, i + size));
    }
    const send = (obj: unknown): void => {
      res.write(`data: ${JSON.stringify(obj)}\n\n`);
    };
    const chunk = (delta: Record<string, unknown>, finish: string | null): unknown => ({
      id, object: 'chat.completion.chunk', created, model,
      choices: [{ index: 0, delta, finish_reason: finish }],
    });
    send(chunk({ role: 'assistant', content: '' }, null));
    const half = Math.max(1, Math.floor(pieces.length / 2));
    const cut = reply.fault === 'truncate' || reply.fault === 'stall' ? half : pieces.length;
    for (let i = 0; i < cut; i++) {
      if (reply.fault === 'garbage' && i === Math.min(half, pieces.length - 1)) {
        for (const line of reply.garbageLines ?? ['this is not json']) {
          res.write(`data: ${echo(line)}\n\n`);
        }
      }
      if (reply.chunkDelayMs) {
        await new Promise((r) => setTimeout(r, reply.chunkDelayMs));
      }
      if (res.destroyed) {
        return;
      }
      reply.onChunk?.(i);
      send(chunk({ content: pieces[i] }, null));
    }
    if (reply.fault === 'stall') {
      // Send nothing more and keep the connection open: the client's time-out (or stop()) ends it.
      return;
    }
    if (reply.fault === 'truncate') {
      // Drop the connection mid-stream (after the sent chunks are flushed): no finish_reason, no [DONE].
      await new Promise((r) => setTimeout(r, 30));
      res.socket?.destroy();
      return;
    }
    send(chunk({}, 'stop'));
    if (body.stream_options?.include_usage) {
      send({ id, object: 'chat.completion.chunk', created, model, choices: [], usage });
    }
    if (reply.fault !== 'no-done') {
      res.write('data: [DONE]\n\n');
    }
    res.end();
  }

  private _next(request: ReceivedRequest): ScriptedReply {
    const queued = this._queue.shift();
    if (queued !== undefined) {
      return queued;
    }
    if (this._script) {
      return this._script(request);
    }
    return this._options.defaultReply ?? { fault: 'server-error' };
  }
}

function describe(path: string, headers: http.IncomingHttpHeaders, body: ReceivedRequest['body']): ReceivedRequest {
  let imageCount = 0;
  const texts: string[] = [];
  for (const m of Array.isArray(body.messages) ? body.messages : []) {
    if (typeof m.content === 'string') {
      texts.push(m.content);
    } else if (Array.isArray(m.content)) {
      for (const p of m.content) {
        if (p.type === 'text') {
          texts.push(p.text);
        } else if (p.type === 'image_url') {
          imageCount++;
        }
      }
    }
  }
  return { path, headers, body, imageCount, text: texts.join('\n'), receivedAt: Date.now() };
}

function sendError(res: http.ServerResponse, status: number, message: string, code: string): void {
  res.statusCode = status;
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify({ error: { message, type: code, param: null, code } }));
}
