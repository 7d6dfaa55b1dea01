/**
 * The record/replay store as the LLM service uses it: keys on what a request means (an image's
 * descriptor, not its bytes), version 1 exchanges (keyed on image bytes) still replay, and record mode
 * answers what is already recorded without a request unless told to re-record.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { type Exchange, type LegacyExchange, exchangeImageFiles, exchangePath, readExchange } from '../../../../src/pipeline/llm/exchanges';
import { type LlmEvent, type LlmRequest, type LlmServiceEnv, createLlmService } from '../../../../src/pipeline/llm/service';
import { hashJson, sha256 } from '../../../../src/pipeline/run/hash';
import { type LlmSettings, defaultSettings } from '../../../../src/pipeline/settings';
import { OpenAiTestServer } from '../../../tooling/openaiServer';

const KEY = 'sk-store-test-0123456789';

async function drain<T>(gen: AsyncGenerator<LlmEvent, T, void>): Promise<T> {
  for (;;) {
    const r = await gen.next();
    if (r.done) {
      return r.value;
    }
  }
}

suite('LLM exchange store: keys on meaning, version 1 files, reuse in record mode', () => {
  let server: OpenAiTestServer;
  let runDir: string;
  let jpegA: Uint8Array;
  let jpegB: Uint8Array;
  const describe = { kind: 'frame-grid', frames: 'f'.repeat(24), width: 64, height: 48, tiles: [{ frameIndex: 0, frameId: 1, x: 0, y: 0, width: 64, height: 48 }] };

  suiteSetup(async () => {
    const pixels = sharp({ create: { width: 64, height: 48, channels: 3, background: { r: 40, g: 160, b: 90 } } });
    // The same picture, encoded twice: what two ffmpeg builds or JPEG qualities make of one frame.
    jpegA = new Uint8Array(await pixels.clone().jpeg({ quality: 90 }).toBuffer());
    jpegB = new Uint8Array(await pixels.clone().jpeg({ quality: 40 }).toBuffer());
    assert.notEqual(sha256(jpegA), sha256(jpegB));
  });
  setup(async () => {
    server = await OpenAiTestServer.start({ apiKey: KEY });
    runDir = await mkdtemp(path.join(os.tmpdir(), 'alref-store-'));
  });
  teardown(async () => {
    await server.stop();
    await rm(runDir, { recursive: true, force: true });
  });

  const settings = (over: Partial<LlmSettings> = {}): LlmSettings => ({ ...defaultSettings().llm, baseUrl: server.baseUrl, timeoutMs: 2000, maxRetries: 0, ...over });
  const env = (over: Partial<LlmServiceEnv> = {}): LlmServiceEnv => ({ runDir, getSecret: async () => KEY, ...over });
  const described = (bytes: Uint8Array, text = 'Which frame? [n]'): LlmRequest => ({ model: 'vision-model', messages: [{ role: 'user', text, images: [{ bytes, describe }] }] });
  const plain = (bytes: Uint8Array): LlmRequest => ({ model: 'vision-model', messages: [{ role: 'user', text: 'Which frame? [n]', images: [bytes] }] });
  const call = (request: LlmRequest, mode: LlmSettings['mode'], over: Partial<LlmSettings> = {}, envOver: Partial<LlmServiceEnv> = {}) =>
    drain(createLlmService(env(envOver)).complete(request, { settings: settings({ mode, ...over }), stage: 'pivot-frame', cellId: 'pf' }));

  test('an image with a descriptor: other bytes of the same picture replay the recording; the exact bytes sent are stored', async () => {
    server.enqueue('Frame 1. [1]');
    const rec = await call(described(jpegA), 'record');
    const replay = await call(described(jpegB), 'replay');
    assert.equal(replay.text, 'Frame 1. [1]');
    assert.equal(replay.replayed, true);
    assert.equal(replay.exchangeHash, rec.exchangeHash);
    assert.equal(server.requests.length, 1);
    const ex = (await readExchange(runDir, rec.exchangeHash)) as Exchange;
    assert.equal(ex.version, 2);
    assert.deepEqual(ex.request.messages[0].images, [{ describe, mime: 'image/jpeg', detail: 'high', width: 64, height: 48 }]);
    const [file] = await exchangeImageFiles(runDir, ex);
    assert.ok(file.exists);
    assert.deepEqual(new Uint8Array(await readFile(file.path)), jpegA);
    assert.equal(path.relative(runDir, file.path), path.join('exchanges', 'images', `${sha256(jpegA)}.jpg`));
  });

  test('what the request means is the key: another prompt, temperature, detail or descriptor is another exchange', async () => {
    server.setScript(() => '[1]');
    const base = (await call(described(jpegA), 'record')).exchangeHash;
    const others = [
      await call(described(jpegA, 'Which frame, really? [n]'), 'record'),
      await call(described(jpegA), 'record', { temperature: 0.2 }),
      await call(described(jpegA), 'record', { imageDetail: 'low' }),
      await call({ model: 'vision-model', messages: [{ role: 'user', text: 'Which frame? [n]', images: [{ bytes: jpegA, describe: { ...describe, frames: 'e'.repeat(24) } }] }] }, 'record'),
    ].map((r) => r.exchangeHash);
    assert.equal(new Set([base, ...others]).size, 5);
    assert.equal(server.requests.length, 5);
  });

  test('an image without a descriptor is keyed by its bytes: other bytes miss', async () => {
    server.enqueue('[1]');
    await call(plain(jpegA), 'record');
    await assert.rejects(call(plain(jpegB), 'replay'), (err: Error & { kind?: string }) => err.kind === 'replay-miss' && /cell "pf"/.test(err.message));
    assert.equal((await call(plain(jpegA), 'replay')).text, '[1]');
  });

  /** Turns the recorded exchange of `request` into the version 1 file the earlier store wrote for it. */
  async function downgrade(hash: string): Promise<string> {
    const ex = (await readExchange(runDir, hash)) as Exchange;
    const request = {
      model: ex.request.model,
      messages: ex.request.messages.map((m) => ({
        role: m.role,
        text: m.text,
        ...(m.images ? { images: ex.images.map((s) => ({ sha256: s.sha256, mime: s.mime, detail: 'high', width: s.width, height: s.height })) } : {}),
      })),
      temperature: ex.request.temperature,
      maxTokens: ex.request.maxTokens,
    };
    const legacyHash = hashJson(request);
    const legacy: LegacyExchange = { version: 1, hash: legacyHash, request, reply: ex.reply, usage: ex.usage, latencyMs: ex.latencyMs, recordedAt: ex.recordedAt };
    await rm(path.join(runDir, 'exchanges'), { recursive: true });
    await mkdir(path.dirname(exchangePath(runDir, legacyHash)), { recursive: true });
    await writeFile(exchangePath(runDir, legacyHash), `${JSON.stringify(legacy, null, 2)}\n`);
    return legacyHash;
  }

  test('a version 1 exchange (keyed on the image bytes) still replays those bytes, with no request', async () => {
    server.enqueue({ text: 'Frame 1 it is. [1]', promptTokens: 321, completionTokens: 7 });
    const rec = await call(described(jpegA), 'record');
    const legacyHash = await downgrade(rec.exchangeHash);
    const before = server.requests.length;
    const replay = await call(described(jpegA), 'replay');
    assert.equal(replay.text, 'Frame 1 it is. [1]');
    assert.deepEqual([replay.usage.promptTokens, replay.usage.completionTokens], [321, 7]);
    assert.equal(replay.exchangeHash, legacyHash, 'the file that answered');
    assert.equal(server.requests.length, before);
    // A version 1 file names its images by hash only; none were stored with it.
    const files = await exchangeImageFiles(runDir, (await readExchange(runDir, legacyHash))!);
    assert.deepEqual(files.map((f) => [f.sha256, f.exists]), [[sha256(jpegA), false]]);
  });

  test('record mode with a version 1 exchange answers from it and stores it again as version 2, image included', async () => {
    server.enqueue('Frame 1. [1]');
    const rec = await call(described(jpegA), 'record');
    await downgrade(rec.exchangeHash);
    const before = server.requests.length;
    const again = await call(described(jpegA), 'record');
    assert.equal(server.requests.length, before, 'no request sent');
    assert.equal(again.usage.reused, true);
    assert.equal(again.exchangeHash, rec.exchangeHash);
    const ex = (await readExchange(runDir, rec.exchangeHash)) as Exchange;
    assert.equal(ex.version, 2);
    assert.equal(ex.reply.text, 'Frame 1. [1]');
    assert.ok((await exchangeImageFiles(runDir, ex)).every((f) => f.exists));
    // and now other bytes of the same picture replay too
    assert.equal((await call(described(jpegB), 'replay')).text, 'Frame 1. [1]');
  });

  test('record mode answers a recorded request from the store, streamed, marked reused; rerecord sends it and overwrites the exchange', async () => {
    server.enqueue('First answer. [1]', 'Second answer. [2]');
    const first = await call(described(jpegA), 'record');
    assert.equal(first.replayed, false);
    assert.equal(first.usage.reused, undefined);
    const deltas: string[] = [];
    const gen = createLlmService(env({ replayChunkSize: 5 })).complete(described(jpegB), { settings: settings({ mode: 'record' }), stage: 'pivot-frame' });
    let r = await gen.next();
    while (!r.done) {
      if (r.value.type === 'delta') {
        deltas.push(r.value.text);
      }
      r = await gen.next();
    }
    assert.equal(server.requests.length, 1, 'the server saw no second request');
    assert.equal(r.value.text, 'First answer. [1]');
    assert.equal(deltas.join(''), 'First answer. [1]');
    assert.ok(deltas.length > 1, 'streamed in chunks');
    assert.equal(r.value.replayed, true);
    assert.equal(r.value.usage.reused, true);
    const third = await call(described(jpegB), 'record', {}, { rerecord: true });
    assert.equal(server.requests.length, 2);
    assert.equal(third.text, 'Second answer. [2]');
    assert.equal((await readExchange(runDir, first.exchangeHash))?.reply.text, 'Second answer. [2]');
    const images = (await readdir(path.join(runDir, 'exchanges', 'images'))).sort();
    assert.deepEqual(images, [`${sha256(jpegA)}.jpg`, `${sha256(jpegB)}.jpg`].sort(), 'both encodings sent are kept, by content');
  });

  test('record mode re-records a damaged exchange, with a warning naming it, instead of failing', async () => {
    server.enqueue('First. [1]', 'Again. [1]');
    const first = await call(described(jpegA), 'record');
    await writeFile(exchangePath(runDir, first.exchangeHash), '{"version": 2, "hash": "cut sho');
    const events: LlmEvent[] = [];
    const gen = createLlmService(env()).complete(described(jpegA), { settings: settings({ mode: 'record' }), stage: 'pivot-frame', label: 'clip 1' });
    let r = await gen.next();
    while (!r.done) {
      events.push(r.value);
      r = await gen.next();
    }
    assert.equal(server.requests.length, 2, 'sent again');
    assert.equal(r.value.text, 'Again. [1]');
    const warning = events.find((e) => e.type === 'warning') as { message: string } | undefined;
    assert.equal(warning?.message, `clip 1: the recorded exchange ${path.join(path.basename(runDir), 'exchanges', `${first.exchangeHash}.json`)} is damaged; the request is sent again and the exchange re-recorded.`);
    assert.equal((await readExchange(runDir, first.exchangeHash))?.reply.text, 'Again. [1]');
  });

  test('live mode neither reads nor writes the store', async () => {
    server.setScript(() => '[1]');
    await call(described(jpegA), 'record');
    await call(described(jpegA), 'live');
    assert.equal(server.requests.length, 2);
  });
});
