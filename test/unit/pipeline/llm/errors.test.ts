/**
 * The LLM service's errors carry a typed kind (src/pipeline/llm/errors.ts), set from what happened
 * (the HTTP status, the time-out, the stream), never from the wording of a message. Each fault of the
 * local OpenAI-compatible server (test/tooling/openaiServer.ts) is checked for its kind, the pipeline
 * kind it is reported as, and whether a multi-clip stage goes on with the next clip.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import type { PipelineErrorKind } from '../../../../src/pipeline/errors';
import { LlmError, type LlmErrorKind } from '../../../../src/pipeline/llm/errors';
import { type LlmEvent, type LlmRequest, type LlmServiceEnv, createLlmService } from '../../../../src/pipeline/llm/service';
import { type LlmSettings, defaultSettings } from '../../../../src/pipeline/settings';
import { OpenAiTestServer, type ScriptedReply } from '../../../tooling/openaiServer';

const KEY = 'sk-kinds-SECRET-0123456789abcdef';

async function failure(gen: AsyncGenerator<LlmEvent, unknown, void>): Promise<LlmError> {
  try {
    for (let r = await gen.next(); !r.done; r = await gen.next()) {
      // drain
    }
  } catch (err) {
    assert.ok(err instanceof LlmError, `expected an LlmError, got ${err instanceof Error ? err.stack : String(err)}`);
    return err;
  }
  assert.fail('expected the call to fail');
}

interface Expected {
  llmKind: LlmErrorKind;
  kind: PipelineErrorKind;
  /** Whether a multi-clip stage fails the cell (true) or marks the clip invalid (false): `asClipTrace` of src/pipeline/llm/streaming.ts. */
  fatal: boolean;
}

suite('LLM error kinds through the local OpenAI-compatible server', () => {
  let server: OpenAiTestServer;
  let runDir: string;
  let jpeg: Uint8Array;

  suiteSetup(async () => {
    jpeg = new Uint8Array(await sharp({ create: { width: 32, height: 24, channels: 3, background: { r: 10, g: 200, b: 30 } } }).jpeg().toBuffer());
  });
  setup(async () => {
    server = await OpenAiTestServer.start({ apiKey: KEY, textOnlyModels: ['text-only-model'] });
    runDir = await mkdtemp(path.join(os.tmpdir(), 'alref-kinds-'));
  });
  teardown(async () => {
    await server.stop();
    await rm(runDir, { recursive: true, force: true });
  });

  const settings = (over: Partial<LlmSettings> = {}): LlmSettings => ({ ...defaultSettings().llm, baseUrl: server.baseUrl, timeoutMs: 400, maxRetries: 0, ...over });
  const env = (over: Partial<LlmServiceEnv> = {}): LlmServiceEnv => ({ runDir, getSecret: async () => KEY, ...over });
  const request = (model = 'vision-model', images: Uint8Array[] = []): LlmRequest => ({ model, messages: [{ role: 'user', text: 'Which frame? [n]', images }] });
  const call = (req: LlmRequest, over: Partial<LlmSettings> = {}, envOver: Partial<LlmServiceEnv> = {}, signal?: AbortSignal) =>
    createLlmService(env(envOver)).complete(req, { settings: settings(over), stage: 'pivot-frame', cellId: 'pf', signal });

  const check = (err: LlmError, expected: Expected, what: string): void => {
    assert.deepEqual({ llmKind: err.llmKind, kind: err.kind, fatal: !err.perRequest }, expected, `${what}: ${err.message}`);
    assert.equal(err.cellId, 'pf', what);
  };

  const serverFaults: Array<[string, ScriptedReply, Expected]> = [
    ['429', { fault: 'rate-limit', retryAfterSec: 0 }, { llmKind: 'rate-limit', kind: 'backend', fatal: false }],
    ['500', { fault: 'server-error' }, { llmKind: 'server', kind: 'backend', fatal: false }],
    // The wording says "timed out"; the kind follows the status, not the words.
    ['502 whose message speaks of a time-out', { fault: 'http-error', status: 502, errorMessage: 'upstream timed out' }, { llmKind: 'server', kind: 'backend', fatal: false }],
    ['408', { fault: 'http-error', status: 408, errorMessage: 'slow' }, { llmKind: 'timeout', kind: 'timeout', fatal: false }],
    ['no bytes until the time-out', { fault: 'timeout' }, { llmKind: 'timeout', kind: 'timeout', fatal: false }],
    ['a stall mid-stream', { text: 'half a reply that stalls [2]', fault: 'stall', chunkSize: 4 }, { llmKind: 'timeout', kind: 'timeout', fatal: false }],
    ['a stream cut mid-SSE', { text: 'the connection drops in the middle [2]', fault: 'truncate', chunkSize: 4 }, { llmKind: 'stream', kind: 'backend', fatal: false }],
    ['a garbage event', { text: 'reply [2]', fault: 'garbage', garbageLines: ['[1, 2]'] }, { llmKind: 'stream', kind: 'backend', fatal: false }],
    ['400 about a parameter', { fault: 'http-error', status: 400, errorMessage: 'temperature is out of range' }, { llmKind: 'bad-request', kind: 'backend', fatal: false }],
    ['422', { fault: 'http-error', status: 422, errorMessage: 'unprocessable' }, { llmKind: 'bad-request', kind: 'backend', fatal: false }],
    ['404', { fault: 'http-error', status: 404, errorMessage: 'no such model' }, { llmKind: 'model-not-found', kind: 'backend', fatal: true }],
    ['403', { fault: 'http-error', status: 403, errorMessage: 'forbidden' }, { llmKind: 'auth', kind: 'backend', fatal: true }],
  ];
  for (const [name, reply, expected] of serverFaults) {
    test(`${name}: ${expected.llmKind}`, async () => {
      server.setScript(() => reply);
      check(await failure(call(request())), expected, name);
    });
  }

  test('a wrong key (401): auth, on the apiKey field; a text-only model sent an image: no-images, on the model field', async () => {
    const auth = await failure(call(request(), { apiKey: 'sk-wrong-key-000000000000' }));
    check(auth, { llmKind: 'auth', kind: 'backend', fatal: true }, '401');
    assert.equal(auth.field, 'apiKey');
    const images = await failure(call(request('text-only-model', [jpeg])));
    check(images, { llmKind: 'no-images', kind: 'backend', fatal: true }, 'text-only model');
    assert.equal(images.field, 'model');
  });

  test('the retries run out: the kind of the last attempt', async () => {
    server.enqueue({ fault: 'rate-limit', retryAfterSec: 0 }, { fault: 'http-error', status: 503, retryAfterSec: 0 });
    const err = await failure(call(request(), { maxRetries: 1 }));
    check(err, { llmKind: 'server', kind: 'backend', fatal: false }, '429 then 503');
    assert.equal(server.requests.length, 2);
  });

  test('an endpoint nobody listens on: network', async () => {
    const baseUrl = server.baseUrl;
    await server.stop();
    check(await failure(call(request(), { baseUrl })), { llmKind: 'network', kind: 'backend', fatal: false }, 'closed port');
  });

  test('before any request: no-model, no-key, bad-image, replay-miss and cancelled fail the cell', async () => {
    check(await failure(call(request(''))), { llmKind: 'no-model', kind: 'invalid-input', fatal: true }, 'no model');
    check(await failure(call(request(), { apiKey: '' }, { getSecret: async () => undefined })), { llmKind: 'no-key', kind: 'invalid-input', fatal: true }, 'no key');
    check(await failure(call(request('vision-model', [new Uint8Array([1, 2, 3, 4])]))), { llmKind: 'bad-image', kind: 'invalid-input', fatal: true }, 'bad image');
    check(await failure(call(request(), { mode: 'replay' })), { llmKind: 'replay-miss', kind: 'replay-miss', fatal: true }, 'replay miss');
    const ctl = new AbortController();
    ctl.abort();
    check(await failure(call(request(), {}, {}, ctl.signal)), { llmKind: 'cancelled', kind: 'cancelled', fatal: true }, 'cancelled');
    assert.equal(server.requests.length, 0, 'no request reached the server');
  });

  test('cancelled while the reply streams: cancelled', async () => {
    const ctl = new AbortController();
    server.setScript(() => ({ text: 'a long reply '.repeat(20), chunkSize: 4, onChunk: (i) => i === 2 && ctl.abort() }));
    check(await failure(call(request(), { timeoutMs: 5000 }, {}, ctl.signal)), { llmKind: 'cancelled', kind: 'cancelled', fatal: true }, 'mid-stream cancel');
  });

  test('record mode with a run folder that cannot be written: record-failed', async () => {
    const file = path.join(runDir, 'not-a-folder');
    await writeFile(file, 'x');
    server.setScript(() => 'fine [1]');
    check(await failure(call(request(), { mode: 'record' }, { runDir: file })), { llmKind: 'record-failed', kind: 'invalid-input', fatal: true }, 'record');
  });
});
