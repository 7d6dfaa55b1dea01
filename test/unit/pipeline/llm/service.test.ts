import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { PipelineError } from '../../../../src/pipeline/errors';
import { parseLastBracketedInteger } from '../../../../src/pipeline/llm/parsers';
import { type LlmEvent, type LlmRequest, type LlmServiceEnv, createLlmService } from '../../../../src/pipeline/llm/service';
import { type LlmSettings, defaultSettings } from '../../../../src/pipeline/settings';
import { OpenAiTestServer } from '../../../tooling/openaiServer';

const KEY = 'sk-test-SECRET-1234567890abcdef';

async function drain<T>(gen: AsyncGenerator<LlmEvent, T, void>): Promise<{ events: LlmEvent[]; result: T }> {
  const events: LlmEvent[] = [];
  for (;;) {
    const r = await gen.next();
    if (r.done) {
      return { events, result: r.value };
    }
    events.push(r.value);
  }
}

async function rejection(p: Promise<unknown>): Promise<PipelineError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof PipelineError, `expected a PipelineError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected the call to fail');
}

suite('LLM service against the local OpenAI-compatible server', () => {
  let server: OpenAiTestServer;
  let runDir: string;
  let jpeg: Uint8Array;

  suiteSetup(async () => {
    jpeg = new Uint8Array(await sharp({ create: { width: 64, height: 48, channels: 3, background: { r: 200, g: 30, b: 30 } } }).jpeg().toBuffer());
  });

  setup(async () => {
    server = await OpenAiTestServer.start({ apiKey: KEY, textOnlyModels: ['text-only-model'] });
    runDir = await mkdtemp(path.join(os.tmpdir(), 'alref-llm-'));
  });

  teardown(async () => {
    await server.stop();
    await rm(runDir, { recursive: true, force: true });
  });

  function settings(over: Partial<LlmSettings> = {}): LlmSettings {
    return { ...defaultSettings().llm, baseUrl: server.baseUrl, timeoutMs: 2000, maxRetries: 3, prices: { 'vision-model': { input: 2.5, output: 10 } }, ...over };
  }

  function env(over: Partial<LlmServiceEnv> = {}): LlmServiceEnv {
    return { runDir, getSecret: async () => KEY, ...over };
  }

  const request = (model = 'vision-model'): LlmRequest => ({ model, messages: [{ role: 'user', text: 'Which frame? Answer in brackets.', images: [jpeg] }] });

  test('streams deltas that add up to the reply, sends the image as a JPEG data URL, reports usage and cost', async () => {
    server.enqueue({ text: 'The car is clearest in frame 3. [3]', chunkSize: 5, promptTokens: 1000, completionTokens: 20 });
    const svc = createLlmService(env());
    const { events, result } = await drain(svc.complete(request(), { settings: settings(), stage: 'pivot-frame' }));
    const deltas = events.filter((e) => e.type === 'delta');
    assert.ok(deltas.length >= 7, `expected several deltas, got ${deltas.length}`);
    assert.equal(deltas.map((e) => (e as { text: string }).text).join(''), 'The car is clearest in frame 3. [3]');
    assert.equal(result.text, 'The car is clearest in frame 3. [3]');
    assert.equal(result.usage.promptTokens, 1000);
    assert.equal(result.usage.completionTokens, 20);
    assert.equal(result.usage.model, 'vision-model-local');
    assert.ok(Math.abs((result.usage.costUsd ?? 0) - (1000 * 2.5 + 20 * 10) / 1e6) < 1e-12);
    const sent = server.requests[0];
    assert.equal(sent.imageCount, 1);
    const parts = sent.body.messages[0].content as Array<{ type: string; image_url?: { url: string; detail?: string } }>;
    const img = parts.find((p) => p.type === 'image_url');
    const url = img?.image_url?.url ?? '';
    assert.ok(url.startsWith('data:image/jpeg;base64,'));
    assert.equal(Buffer.from(url.split(',')[1], 'base64').compare(Buffer.from(jpeg)), 0);
    assert.equal(img?.image_url?.detail, 'high');
    assert.equal(sent.body.stream, true);
    assert.equal(sent.body.stream_options?.include_usage, true);
  });

  test('retries a 429 after the Retry-After delay, then a 500, then succeeds', async () => {
    server.enqueue({ fault: 'rate-limit', retryAfterSec: 1 }, { fault: 'server-error' }, 'ok [1]');
    const svc = createLlmService(env());
    const t0 = Date.now();
    const { events, result } = await drain(svc.complete(request(), { settings: settings(), stage: 'pivot-frame' }));
    assert.equal(result.text, 'ok [1]');
    assert.equal(server.requests.length, 3);
    const gap = server.requests[1].receivedAt - server.requests[0].receivedAt;
    assert.ok(gap >= 950, `second request came ${gap} ms after the 429 with Retry-After: 1`);
    assert.ok(Date.now() - t0 >= 950);
    const warnings = events.filter((e) => e.type === 'warning').map((e) => (e as { message: string }).message);
    assert.equal(warnings.length, 2);
    assert.match(warnings[0], /HTTP 429/);
    assert.match(warnings[1], /HTTP 500/);
  });

  test('a server that never answers times out and is retried; a stream cut half-way restarts', async () => {
    server.enqueue({ fault: 'timeout' }, { text: 'a long answer that will be cut [2]', fault: 'truncate', chunkSize: 4 }, 'whole answer [2]');
    const svc = createLlmService(env());
    const { events, result } = await drain(svc.complete(request(), { settings: settings({ timeoutMs: 400 }), stage: 'pivot-frame' }));
    assert.equal(result.text, 'whole answer [2]');
    assert.equal(server.requests.length, 3);
    const kinds = events.map((e) => e.type);
    assert.ok(kinds.includes('restart'), 'a restart event follows the cut stream');
    const warnings = events.filter((e) => e.type === 'warning').map((e) => (e as { message: string }).message);
    assert.match(warnings[0], /time-out/);
    assert.match(warnings[1], /cut off/);
  });

  test('gives up with a clear error after maxRetries', async () => {
    server.setScript(() => ({ fault: 'server-error' }));
    const svc = createLlmService(env());
    const err = await rejection(drain(svc.complete(request(), { settings: settings({ maxRetries: 1 }), stage: 'pivot-frame', cellId: 'c1' })));
    assert.equal(err.kind, 'backend');
    assert.match(err.message, /after 2 attempts/);
    assert.equal(server.requests.length, 2);
  });

  test('re-asks once with the clarification when the reply cannot be parsed', async () => {
    server.enqueue('I think it is the third frame.', 'Sorry: [3]');
    const svc = createLlmService(env());
    const { result } = await drain(svc.ask(request(), parseLastBracketedInteger, 'Answer with one frame id in brackets.', { settings: settings(), stage: 'pivot-frame' }));
    assert.ok(result.reasked);
    assert.deepEqual(result.parsed.ok && result.parsed.value, 3);
    assert.equal(server.requests.length, 2);
    const second = server.requests[1].body.messages;
    assert.equal(second.length, 3);
    assert.equal(second[1].role, 'assistant');
    assert.equal(second[1].content, 'I think it is the third frame.');
    assert.match(String((second[2].content as Array<{ text: string }>)[0].text), /one frame id in brackets/);
    assert.equal(result.usage.promptTokens, result.replies[0].usage.promptTokens + result.replies[1].usage.promptTokens);
  });

  test('a second unparseable reply is a typed failure, not a throw', async () => {
    server.enqueue('no idea', 'still no idea');
    const svc = createLlmService(env());
    const { result } = await drain(svc.ask(request(), parseLastBracketedInteger, 'Brackets please.', { settings: settings(), stage: 'pivot-frame' }));
    assert.equal(result.parsed.ok, false);
    assert.equal(result.replies.length, 2);
  });

  test('a wrong key is a clear error and the key appears nowhere', async () => {
    const wrong = 'sk-wrong-KEY-should-never-print-42';
    server.enqueue('unused');
    const svc = createLlmService(env({ getSecret: async () => wrong }));
    const err = await rejection(drain(svc.complete(request(), { settings: settings({ mode: 'record' }), stage: 'pivot-frame' })));
    assert.match(err.message, /rejected the API key/);
    assert.equal(err.field, 'apiKey');
    const everything = `${err.message}\n${err.stack}\n${JSON.stringify(err)}\n${String(err.cause ?? '')}`;
    assert.ok(!everything.includes(wrong));
    assert.deepEqual(await readdir(runDir), [], 'nothing recorded for a failed call');
  });

  test('the key is sent as a bearer token but never stored in recorded exchanges', async () => {
    server.enqueue('fine [2]');
    const svc = createLlmService(env());
    await drain(svc.complete(request(), { settings: settings({ mode: 'record' }), stage: 'pivot-frame' }));
    assert.equal(server.requests[0].headers.authorization, `Bearer ${KEY}`);
    const files = (await readdir(path.join(runDir, 'exchanges'))).filter((f) => f.endsWith('.json'));
    assert.equal(files.length, 1);
    const stored = await readFile(path.join(runDir, 'exchanges', files[0]), 'utf8');
    assert.ok(!stored.includes(KEY));
    assert.ok(!stored.includes(server.baseUrl), 'the endpoint is not part of the record');
    assert.ok(!stored.includes('base64'), 'images are stored as files beside the exchange, not inline');
  });

  test('a model that rejects images is a clear error naming the model', async () => {
    const svc = createLlmService(env());
    const err = await rejection(drain(svc.complete(request('text-only-model'), { settings: settings(), stage: 'pivot-box' })));
    assert.match(err.message, /text-only-model/);
    assert.match(err.message, /does not accept images/);
    assert.equal(server.requests.length, 1, 'not retried');
  });

  test('an image over the provider limit is downscaled, with a warning', async () => {
    server.enqueue('[1]');
    const big = new Uint8Array(await sharp({ create: { width: 900, height: 300, channels: 3, background: '#336699' } }).png().toBuffer());
    const svc = createLlmService(env({ imageLimits: { maxSide: 300, maxBytes: 1e7 } }));
    const { events } = await drain(svc.complete({ model: 'vision-model', messages: [{ role: 'user', text: 'x', images: [big] }] }, { settings: settings(), stage: 'pivot-frame' }));
    const warning = events.find((e) => e.type === 'warning') as { message: string } | undefined;
    assert.match(warning?.message ?? '', /downscaled from 900x300 to 300x100/);
    const parts = server.requests[0].body.messages[0].content as Array<{ type: string; image_url?: { url: string } }>;
    const sent = Buffer.from(parts[1].image_url!.url.split(',')[1], 'base64');
    const meta = await sharp(sent).metadata();
    assert.deepEqual([meta.format, meta.width, meta.height], ['jpeg', 300, 100]);
  });

  test('replay with the server stopped reproduces the recorded reply and usage exactly', async () => {
    server.enqueue({ text: 'Frame 4 shows the whole car. [4]', promptTokens: 777, completionTokens: 9 });
    const svc = createLlmService(env());
    const live = await drain(svc.complete(request(), { settings: settings({ mode: 'record' }), stage: 'pivot-frame' }));
    await server.stop();
    const replaySvc = createLlmService(env({ getSecret: async () => undefined }));
    const replay = await drain(replaySvc.complete(request(), { settings: settings({ mode: 'replay' }), stage: 'pivot-frame' }));
    assert.equal(replay.result.text, live.result.text);
    assert.deepEqual(replay.result.usage, live.result.usage);
    assert.equal(replay.result.replayed, true);
    assert.equal(replay.events.map((e) => (e.type === 'delta' ? e.text : '')).join(''), live.result.text);
    server = await OpenAiTestServer.start();
  });

  test('replay of a request that was not recorded is a replay-miss naming the cell', async () => {
    const svc = createLlmService(env());
    const err = await rejection(drain(svc.complete(request(), { settings: settings({ mode: 'replay' }), stage: 'pivot-frame', cellId: 'cell-7' })));
    assert.equal(err.kind, 'replay-miss');
    assert.equal(err.cellId, 'cell-7');
    assert.match(err.message, /cell "cell-7"/);
    assert.equal(server.requests.length, 0, 'no network call in replay mode');
  });

  test('no key in live mode is a clear error', async () => {
    const svc = createLlmService(env({ getSecret: async () => undefined }));
    const err = await rejection(drain(svc.complete(request(), { settings: settings(), stage: 'pivot-frame' })));
    assert.match(err.message, /No API key/);
    assert.equal(server.requests.length, 0);
  });

  test('cancelling mid-stream stops at once with a cancelled error', async () => {
    server.enqueue({ text: 'x'.repeat(400), chunkSize: 2, chunkDelayMs: 20 });
    const svc = createLlmService(env());
    const ac = new AbortController();
    const gen = svc.complete(request(), { settings: settings(), stage: 'pivot-frame', signal: ac.signal });
    let deltas = 0;
    const t0 = Date.now();
    const err = await rejection((async () => {
      for (let r = await gen.next(); !r.done; r = await gen.next()) {
        if (r.value.type === 'delta' && ++deltas === 3) {
          ac.abort();
        }
      }
    })());
    assert.equal(err.kind, 'cancelled');
    assert.ok(Date.now() - t0 < 2000, 'did not wait for the whole reply');
    assert.equal(server.requests.length, 1, 'not retried');
  });

  test('createServices exposes the LLM service lazily, with the host secret reader', async () => {
    const { createServices } = await import('../../../../src/pipeline/services');
    let asked = 0;
    const services = createServices(defaultSettings(), { runDir, resourcesDir: '.', userCacheDir: runDir, getSecret: async () => { asked++; return KEY; } });
    assert.equal(asked, 0);
    assert.equal(services.llm?.kind, 'llm');
    assert.equal(services.llm, services.llm, 'one instance');
    server.enqueue('[1]');
    await drain(services.llm!.complete(request(), { settings: settings(), stage: 'pivot-frame' }));
    assert.equal(asked, 1);
  });
});

