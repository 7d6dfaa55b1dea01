/**
 * Fault injection against the local OpenAI-compatible server (real HTTP, real SSE, the real openai
 * client): 429 / 5xx with Retry-After, stalls, cut streams, garbage events, a missing [DONE], and a
 * server that echoes the Authorization header. Asserts: no crash (a call succeeds after retries or
 * fails with a clear PipelineError), retries follow the settings, clips whose call failed are invalid
 * in the stage result and its outputs, the openai library prints nothing to the console, and the API
 * key is written nowhere (errors, warnings, replies, outputs, logs, every file of the run folder).
 */
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { MIME } from '../../../../src/common/mime';
import type { ReasoningTracePayload } from '../../../../src/common/payloads';
import type { CellLike } from '../../../../src/pipeline/cells/notebook';
import { TRACE_MAX_CHARS } from '../../../../src/pipeline/llm/traceText';
import { type CellRunOutcome, runCell } from '../../../../src/pipeline/cells/runCell';
import type { PivotBoxData, PivotFrameData } from '../../../../src/pipeline/domain';
import { PipelineError } from '../../../../src/pipeline/errors';
import type { OutputModel } from '../../../../src/pipeline/format/model';
import { REDACTED, StreamRedactor, redactSecrets } from '../../../../src/pipeline/llm/redact';
import { type LlmEvent, type LlmRequest, type LlmServiceEnv, createLlmService } from '../../../../src/pipeline/llm/service';
import { createServices } from '../../../../src/pipeline/services';
import { NotebookSession } from '../../../../src/pipeline/session';
import { type LlmSettings, defaultSettings } from '../../../../src/pipeline/settings';
import { OpenAiTestServer, type ReceivedRequest, type ScriptedReply } from '../../../tooling/openaiServer';
import { RESOURCES } from '../../../tooling/stageContext';
import { DAVIS_FRAMES } from '../../../tooling/davisVideo';
import { pivotViewOf } from '../../../tooling/pivotOutputs';

const KEY = 'sk-fault-SECRET-0123456789abcdefXYZ';

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
    assert.ok(err instanceof PipelineError, `expected a PipelineError, got ${err instanceof Error ? err.stack : String(err)}`);
    return err;
  }
  assert.fail('expected the call to fail');
}

/** Everything printed through console.* and process.stdout/stderr while `fn` runs. */
async function captureConsole<T>(fn: () => Promise<T>): Promise<{ value: T; printed: string }> {
  const printed: string[] = [];
  const saved = { error: console.error, warn: console.warn, log: console.log, info: console.info, debug: console.debug };
  const savedErr = process.stderr.write.bind(process.stderr);
  const savedOut = process.stdout.write.bind(process.stdout);
  const grab = (...args: unknown[]): void => {
    printed.push(args.map(String).join(' '));
  };
  Object.assign(console, { error: grab, warn: grab, log: grab, info: grab, debug: grab });
  process.stderr.write = ((chunk: unknown) => (printed.push(String(chunk)), true)) as typeof process.stderr.write;
  process.stdout.write = ((chunk: unknown) => (printed.push(String(chunk)), true)) as typeof process.stdout.write;
  try {
    return { value: await fn(), printed: printed.join('\n') };
  } finally {
    Object.assign(console, saved);
    process.stderr.write = savedErr;
    process.stdout.write = savedOut;
  }
}

async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    const p = path.join(dir, e.name);
    out.push(...(e.isDirectory() ? await listFiles(p) : [p]));
  }
  return out;
}

/** Fails when the key is in any file under `dir` (every file, whatever its size). */
async function assertKeyInNoFile(dir: string): Promise<number> {
  const files = await listFiles(dir);
  for (const f of files) {
    assert.ok(!(await readFile(f)).includes(Buffer.from(KEY)), `${path.relative(dir, f)} holds the API key`);
  }
  return files.length;
}

function serialise(outputs: OutputModel[]): string {
  return JSON.stringify(outputs.map((o) => ({ ...o, items: o.items.map((i) => ({ mime: i.mime, data: Buffer.from(i.data).toString('utf8') })) })));
}

suite('LLM fault injection: the service against a misbehaving server', () => {
  let server: OpenAiTestServer;
  let runDir: string;
  let logs: string[];

  setup(async () => {
    server = await OpenAiTestServer.start({ apiKey: KEY });
    runDir = await mkdtemp(path.join(os.tmpdir(), 'alref-faults-'));
    logs = [];
  });
  teardown(async () => {
    await server.stop();
    await rm(runDir, { recursive: true, force: true });
  });

  const settings = (over: Partial<LlmSettings> = {}): LlmSettings => ({ ...defaultSettings().llm, baseUrl: server.baseUrl, timeoutMs: 3000, maxRetries: 3, ...over });
  const env = (over: Partial<LlmServiceEnv> = {}): LlmServiceEnv => ({
    runDir, getSecret: async () => KEY, log: { info: (m) => logs.push(m), warn: (m) => logs.push(m), error: (m) => logs.push(m) }, ...over,
  });
  const request: LlmRequest = { model: 'vision-model', messages: [{ role: 'user', text: 'Which frame? Answer in brackets.', images: [] }] };
  const warnings = (events: LlmEvent[]): string[] => events.filter((e) => e.type === 'warning').map((e) => (e as { message: string }).message);

  test('429, 502 and 503 are retried (Retry-After honoured); a persistent 503 fails after exactly maxRetries + 1 attempts', async () => {
    server.enqueue(
      { fault: 'rate-limit', retryAfterSec: 0 },
      { fault: 'http-error', status: 502, errorMessage: 'Bad gateway' },
      { fault: 'http-error', status: 503, retryAfterSec: 1, errorMessage: 'Overloaded' },
      'fine [1]',
    );
    const { events, result } = await drain(createLlmService(env()).complete(request, { settings: settings(), stage: 'pivot-frame' }));
    assert.equal(result.text, 'fine [1]');
    assert.equal(server.requests.length, 4);
    assert.deepEqual(warnings(events).map((w) => /HTTP (\d+)/.exec(w)?.[1]), ['429', '502', '503']);
    const gap = server.requests[3].receivedAt - server.requests[2].receivedAt;
    assert.ok(gap >= 950, `the request after "503, Retry-After: 1" came after ${gap} ms`);

    for (const maxRetries of [0, 2]) {
      const before: number = server.requests.length;
      server.setScript(() => ({ fault: 'http-error', status: 503, retryAfterSec: 0, errorMessage: 'Service unavailable' }));
      const err = await rejection(drain(createLlmService(env()).complete(request, { settings: settings({ maxRetries }), stage: 'pivot-frame', cellId: 'pf' })));
      assert.equal(server.requests.length - before, maxRetries + 1, `maxRetries ${maxRetries}`);
      assert.equal(err.kind, 'backend');
      assert.match(err.message, new RegExp(`after ${maxRetries + 1} attempts?: HTTP 503 from 127\\.0\\.0\\.1:\\d+ \\(Service unavailable\\)`));
      assert.match(err.message, /alref\.llm\.maxRetries/);
    }
  });

  test('no bytes until the time-out, on every attempt: a time-out error; a stall mid-stream is retried and restarts the trace', async () => {
    server.setScript(() => ({ fault: 'timeout' }));
    const err = await rejection(drain(createLlmService(env()).complete(request, { settings: settings({ timeoutMs: 300, maxRetries: 1 }), stage: 'pivot-frame' })));
    assert.equal(err.kind, 'timeout');
    assert.match(err.message, /after 2 attempts: no answer within 0 s \(time-out\)/);
    assert.equal(server.requests.length, 2);

    server.setScript(undefined);
    server.enqueue({ text: 'a reply that stalls half-way [4]', fault: 'stall', chunkSize: 4 }, 'whole reply [4]');
    const { events, result } = await drain(createLlmService(env()).complete(request, { settings: settings({ timeoutMs: 400 }), stage: 'pivot-frame' }));
    assert.equal(result.text, 'whole reply [4]');
    assert.ok(events.some((e) => e.type === 'restart'), 'the partial trace is restarted');
    assert.match(warnings(events)[0], /time-out/);
  });

  test('a stream cut mid-SSE is retried; a finished stream without [DONE] is accepted', async () => {
    server.enqueue({ text: 'the connection drops in the middle of this [2]', fault: 'truncate', chunkSize: 5 }, 'again [2]', { text: 'no done marker [3]', fault: 'no-done' });
    const svc = createLlmService(env());
    const first = await drain(svc.complete(request, { settings: settings(), stage: 'pivot-frame' }));
    assert.equal(first.result.text, 'again [2]');
    assert.match(warnings(first.events)[0], /cut off/);
    const second = await drain(svc.complete(request, { settings: settings(), stage: 'pivot-frame' }));
    assert.equal(second.result.text, 'no done marker [3]');
    assert.equal(server.requests.length, 3);
  });

  test('garbage events: a clear "malformed event" error, retried; the openai library prints nothing; its message goes to the log, redacted', async () => {
    server.enqueue({ text: 'some text then garbage [1]', fault: 'garbage', garbageLines: ['this is not json, from {{authorization}}'] }, { text: 'x [1]', fault: 'garbage', garbageLines: ['null'] }, 'clean [1]');
    const { value, printed } = await captureConsole(() => drain(createLlmService(env()).complete(request, { settings: settings(), stage: 'pivot-frame' })));
    assert.equal(value.result.text, 'clean [1]');
    const w = warnings(value.events);
    assert.equal(w.length, 2);
    assert.match(w[0], /malformed event in the reply stream \(not JSON/);
    assert.match(w[1], /malformed event in the reply stream \(null, not a chat completion chunk\)/);
    assert.equal(printed, '', 'nothing printed to the console');
    assert.ok(logs.some((l) => /^openai library \(error\): Could not parse message into JSON/.test(l)), `log: ${logs.join(' | ')}`);
    const everything = `${w.join('\n')}\n${logs.join('\n')}`;
    assert.ok(!everything.includes(KEY), 'the echoed key is redacted');
    assert.ok(everything.includes(REDACTED));

    server.setScript(() => ({ text: 'always garbage [1]', fault: 'garbage' }));
    const err = await rejection(captureConsole(() => drain(createLlmService(env()).complete(request, { settings: settings({ maxRetries: 1 }), stage: 'pivot-frame' }))));
    assert.equal(err.kind, 'backend');
    assert.match(err.message, /did not answer after 2 attempts: the server sent a malformed event/);
  });

  test('a server echoing the Authorization header: the key is in no error, warning, reply, delta, exchange or log', async () => {
    server.enqueue(
      { fault: 'http-error', status: 500, plainErrorBody: true, errorMessage: 'upstream failed for Authorization: {{authorization}}' },
      { fault: 'http-error', status: 503, errorMessage: 'bad header {{authorization}}' },
      { text: 'Your header was "{{authorization}}" and the key {{authorization}} again. [1]', chunkSize: 3 },
    );
    const svc = createLlmService(env());
    const { events, result } = await drain(svc.complete(request, { settings: settings({ mode: 'record' }), stage: 'pivot-frame' }));
    const deltas = events.filter((e) => e.type === 'delta').map((e) => (e as { text: string }).text).join('');
    assert.equal(deltas, result.text, 'the deltas add up to the (redacted) reply');
    assert.equal(result.text, `Your header was "Bearer ${REDACTED}" and the key Bearer ${REDACTED} again. [1]`);
    const w = warnings(events);
    assert.equal(w.length, 2);
    assert.ok(w.every((m) => m.includes(REDACTED)), w.join('\n'));

    server.enqueue({ fault: 'http-error', status: 400, errorMessage: 'Invalid header Authorization: {{authorization}} (key sk-other-9876543210abcdef)' });
    const err = await rejection(drain(svc.complete({ ...request, model: 'other' }, { settings: settings({ mode: 'record' }), stage: 'pivot-frame' })));
    assert.match(err.message, /refused the request for other \(HTTP 400: Invalid header Authorization: Bearer \[redacted\] \(key sk-\[redacted\]\)\)/);

    const everything = [w.join('\n'), result.text, err.message, err.stack ?? '', JSON.stringify(err), logs.join('\n')].join('\n');
    assert.ok(!everything.includes(KEY));
    assert.ok(!everything.includes('sk-other-9876543210abcdef'));
    assert.ok((await assertKeyInNoFile(runDir)) >= 1, 'the exchange was recorded');
    assert.ok(server.requests.every((r) => r.headers.authorization === `Bearer ${KEY}`), 'the key was sent as the bearer token');
  });

  test('streamed redaction: any split of a reply into chunks gives the reply with every occurrence of the key removed', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.constant(KEY), fc.constant(KEY.slice(0, 9)), fc.string({ maxLength: 12 })), { maxLength: 12 }), fc.array(fc.integer({ min: 1, max: 40 }), { minLength: 1, maxLength: 8 }), (parts, sizes) => {
        const text = parts.join('');
        const r = new StreamRedactor(KEY);
        let out = '';
        for (let i = 0, k = 0; i < text.length; k++) {
          const n = sizes[k % sizes.length];
          out += r.push(text.slice(i, i + n));
          i += n;
        }
        out += r.flush();
        assert.equal(out, text.split(KEY).join(REDACTED));
      }),
      { numRuns: 300 },
    );
    assert.equal(redactSecrets('Authorization: Bearer abc.def-123, then sk-proj-ABCDEF123456'), `Authorization: Bearer ${REDACTED}, then sk-${REDACTED}`);
  });
});

suite('LLM fault injection through the cell runner: pivot-frame and pivot-box clips go invalid, the key goes nowhere', function () {
  this.timeout(180_000);
  let tmp: string;
  let runDir: string;
  let server: OpenAiTestServer;
  let session: NotebookSession;
  let clipCount: number;
  const cells: CellLike[] = [
    { id: 'vid', language: 'alref', source: `stage: video\nsource: ${DAVIS_FRAMES}\ninterval: 2\nmaxFrames: 30\nfilmstripFrames: 0\n` },
    { id: 'ref', language: 'alref', source: 'stage: reference\nexpression: the silver car driving through the shadow\n' },
    { id: 'pf', language: 'alref', source: 'stage: pivot-frame\nconcurrency: 1\n' },
    { id: 'pb', language: 'alref', source: 'stage: pivot-box\nconcurrency: 1\ncandidates:\n  - [265, 120, 560, 285]\n  - [0, 0, 240, 200]\n' },
  ];
  const isBox = (r: ReceivedRequest): boolean => r.text.includes('candidate boxes');

  suiteSetup(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'alref-faults-cells-'));
    runDir = path.join(tmp, 'nb.alref.runs');
    server = await OpenAiTestServer.start({ apiKey: KEY });
    session = new NotebookSession();
    for (const index of [0, 1]) {
      const out = await run(index);
      assert.equal(out.outcome.status, 'ok', out.outcome.message);
    }
    clipCount = 0;
    server.setScript(() => 'Frame 2 is sharpest. [2]');
    const pf = await run(2);
    assert.equal(pf.outcome.status, 'ok', pf.outcome.message);
    clipCount = (pf.outcome.result?.data as PivotFrameData).objects[0].clips.length;
    assert.ok(clipCount >= 3, `the fixture has ${clipCount} clips; the tests need at least 3`);
  });
  suiteTeardown(async () => {
    await server.stop();
    await rm(tmp, { recursive: true, force: true });
  });

  /**
   * Runs one cell in record mode (maxRetries 1, short time-out), collecting logs, console output and
   * trace updates. Every run re-records, so each one sends its requests to the faulty server.
   */
  async function run(index: number, onTraceUpdate?: (bytes: number, trace: ReasoningTracePayload) => void): Promise<{ outcome: CellRunOutcome; logs: string[]; printed: string }> {
    const settings = defaultSettings({ llm: { ...defaultSettings().llm, baseUrl: server.baseUrl, mode: 'record', timeoutMs: 500, maxRetries: 1 } });
    const logs: string[] = [];
    const log = { info: (m: string) => logs.push(m), warn: (m: string) => logs.push(m), error: (m: string) => logs.push(m) };
    const services = createServices(settings, { runDir, resourcesDir: RESOURCES, userCacheDir: path.join(tmp, 'cache'), getSecret: async () => KEY, log, rerecord: true });
    const { value, printed } = await captureConsole(() =>
      runCell({
        cells, index, session, signal: new AbortController().signal,
        host: { runDir, baseDir: tmp, resourcesDir: RESOURCES, settings, services, log },
        onOutputs: (change, outputs) => {
          const trace = outputs[change.index]?.items.find((i) => i.mime === MIME.reasoningTrace);
          if (trace && change.slot.startsWith('trace:')) {
            onTraceUpdate?.(outputs[change.index].items.reduce((n, i) => n + i.data.length, 0), JSON.parse(Buffer.from(trace.data).toString('utf8')) as ReasoningTracePayload);
          }
        },
      }),
    );
    return { outcome: value, logs, printed };
  }

  function tracePayloads(outputs: OutputModel[]): ReasoningTracePayload[] {
    return outputs.flatMap((o) => o.items.filter((i) => i.mime === MIME.reasoningTrace).map((i) => JSON.parse(Buffer.from(i.data).toString('utf8')) as ReasoningTracePayload));
  }

  async function assertNoKeyAnywhere(r: { outcome: CellRunOutcome; logs: string[]; printed: string }): Promise<void> {
    assert.ok(!serialise(r.outcome.outputs).includes(KEY), 'outputs hold the key');
    assert.ok(!JSON.stringify(r.outcome.result?.data ?? null).includes(KEY), 'the result holds the key');
    assert.ok(!(r.outcome.message ?? '').includes(KEY), 'the error message holds the key');
    assert.ok(!r.logs.join('\n').includes(KEY), 'the log holds the key');
    assert.ok(!r.printed.includes(KEY), 'the console output holds the key');
    await assertKeyInNoFile(runDir);
  }

  const faults: Array<[string, ScriptedReply, RegExp]> = [
    ['503 echoing the Authorization header', { fault: 'http-error', status: 503, retryAfterSec: 0, errorMessage: 'overloaded; you sent {{authorization}}' }, /HTTP 503 .*\[redacted\]/],
    ['502 with a plain-text body', { fault: 'http-error', status: 502, plainErrorBody: true, errorMessage: '<html>Bad Gateway {{authorization}}</html>' }, /HTTP 502/],
    ['429 with Retry-After', { fault: 'rate-limit', retryAfterSec: 0 }, /HTTP 429/],
    ['no bytes until the time-out', { fault: 'timeout' }, /time-out/],
    ['a stall mid-stream', { text: 'I look at frame 1 and then', fault: 'stall', chunkSize: 3 }, /time-out/],
    ['a stream cut mid-SSE', { text: 'The car is in frame 2 and', fault: 'truncate', chunkSize: 3 }, /cut off/],
    ['garbage events', { text: 'Frame 2. [2]', fault: 'garbage', garbageLines: ['{not json {{authorization}}'] }, /malformed event/],
  ];

  for (const [name, fault, note] of faults) {
    test(`pivot-frame, ${name} for clip 1: the stage completes, clip 1 is invalid in the result and the outputs, the others are valid`, async () => {
      const before = server.requests.length;
      let n = 0;
      // concurrency 1: the first two requests (one attempt + one retry) are clip 1's.
      server.setScript(() => (n++ < 2 ? fault : 'The car is whole in frame 2. [2]'));
      const r = await run(2);
      assert.equal(r.outcome.status, 'ok', r.outcome.message);
      const clips = (r.outcome.result?.data as PivotFrameData).objects[0].clips;
      assert.equal(clips[0].valid, false);
      assert.equal(clips[0].frameIndex, null);
      assert.match(clips[0].note ?? '', /^LLM failed: /);
      assert.match(clips[0].note ?? '', note);
      assert.ok(clips.slice(1).every((c) => c.valid), 'the other clips are valid');
      assert.equal(server.requests.length - before, 2 + (clipCount - 1), 'retries follow maxRetries: 1');
      // The compact view (the default) replaced the streamed trace outputs; its rows tell the same.
      assert.deepEqual(tracePayloads(r.outcome.outputs), []);
      const rows = pivotViewOf(r.outcome.outputs).rows;
      assert.equal(rows.length, clipCount);
      assert.equal(rows[0].valid, false);
      assert.match(rows[0].note ?? '', note);
      assert.ok(rows.slice(1).every((p) => p.valid && p.answer === '[2]' && p.trace === 'The car is whole in frame 2. [2]'));
      const table = r.outcome.outputs.map((o) => Buffer.from(o.items[o.items.length - 1].data).toString('utf8')).find((t) => t.includes('**Pivot frames**'));
      assert.match(table ?? '', /\| 1 \| 1 \| [\d-]+ \| {2}\| NO \| LLM failed/);
      assert.equal(r.printed, '', 'nothing printed to the console');
      await assertNoKeyAnywhere(r);
    });
  }

  test('pivot-frame, a reply that echoes the key: the trace, the result and the recorded exchange hold it redacted', async () => {
    server.setScript(() => ({ text: 'You authorised with {{authorization}}; frame 2 it is. [2]', chunkSize: 4 }));
    const r = await run(2);
    assert.equal(r.outcome.status, 'ok', r.outcome.message);
    assert.ok((r.outcome.result?.data as PivotFrameData).objects[0].clips.every((c) => c.valid));
    const rows = pivotViewOf(r.outcome.outputs).rows;
    assert.equal(rows.length, clipCount);
    assert.ok(rows.every((p) => p.trace?.includes(`Bearer ${REDACTED}`)));
    await assertNoKeyAnywhere(r);
  });

  test('pivot-box, 503 for the first pivot: the stage completes, that pivot is invalid in the result and the outputs', async () => {
    server.setScript(() => 'Frame 2 shows the car. [2]');
    assert.equal((await run(2)).outcome.status, 'ok');
    const before = server.requests.length;
    let n = 0;
    server.setScript((req) => (isBox(req) && n++ < 2 ? { fault: 'http-error', status: 503, retryAfterSec: 0, errorMessage: 'busy {{authorization}}' } : 'Box 1 holds the car. [1]'));
    const r = await run(3);
    assert.equal(r.outcome.status, 'ok', r.outcome.message);
    const pivots = (r.outcome.result?.data as PivotBoxData).objects[0].pivots;
    assert.equal(pivots.length, clipCount);
    assert.equal(pivots[0].valid, false);
    assert.match(pivots[0].note ?? '', /LLM failed: .*HTTP 503/);
    assert.ok(pivots.slice(1).every((p) => p.valid && p.chosen === 0));
    assert.equal(server.requests.length - before, 2 + (clipCount - 1));
    const rows = pivotViewOf(r.outcome.outputs).rows;
    assert.equal(rows[0].valid, false);
    assert.match(rows[0].note ?? '', /LLM failed: .*HTTP 503/);
    assert.ok(rows.slice(1).every((p) => p.valid && p.chosen === 1 && p.trace === 'Box 1 holds the car. [1]'));
    assert.equal(r.printed, '');
    await assertNoKeyAnywhere(r);
  });

  test('pivot-box, garbage events and cut streams for every pivot: the stage completes with every pivot invalid (fallback), no crash', async () => {
    server.setScript(() => 'Frame 2 shows the car. [2]');
    assert.equal((await run(2)).outcome.status, 'ok');
    let n = 0;
    server.setScript((req) => (isBox(req) ? (n++ % 2 === 0 ? { text: 'box [1]', fault: 'garbage' } : { text: 'box one is it [1]', fault: 'truncate', chunkSize: 2 }) : '[2]'));
    const r = await run(3);
    assert.equal(r.outcome.status, 'ok', r.outcome.message);
    const data = r.outcome.result?.data as PivotBoxData;
    const rows = pivotViewOf(r.outcome.outputs).rows;
    const asked = rows.filter((p) => !/^fallback/.test(p.note ?? ''));
    assert.ok(asked.length >= 1 && asked.every((p) => !p.valid && /LLM failed/.test(p.note ?? '')), JSON.stringify(rows.map((p) => [p.valid, p.note])));
    assert.ok(rows.length - asked.length <= 1, 'at most one fallback pivot');
    assert.ok(data.objects[0].pivots.length >= 1);
    assert.equal(r.printed, '');
    await assertNoKeyAnywhere(r);
  });

  test('a 2 MB streamed reply completes, is parsed whole, and its trace is rebuilt a logarithmic number of times, capped with a note', async () => {
    const big = `${'The car moves along the road and the shadow of the tree covers it. '.repeat(31_000)}So the answer is [2]`;
    assert.ok(big.length > 2_000_000);
    let n = 0;
    server.setScript(() => (n++ === 0 ? { text: big, chunkSize: 256 } : 'Frame 2. [2]'));
    let updates = 0;
    let bytes = 0;
    let streamed: ReasoningTracePayload | undefined;
    const r = await run(2, (b, t) => {
      updates++;
      bytes += b;
      if (t.streamId.endsWith(':c0')) {
        streamed = t;
      }
    });
    assert.equal(r.outcome.status, 'ok', r.outcome.message);
    const clips = (r.outcome.result?.data as PivotFrameData).objects[0].clips;
    assert.equal(clips[0].valid, true, clips[0].note);
    assert.equal(clips[0].frameIndex !== null, true, 'the answer at the very end of the 2 MB reply was parsed');
    // The trace output while the cell ran, and the pivot view that replaced it, are both capped.
    for (const [what, text] of [['streamed trace', streamed?.text ?? ''], ['pivot view', pivotViewOf(r.outcome.outputs).rows[0].trace ?? '']]) {
      assert.ok(text.length <= TRACE_MAX_CHARS + 200, `${what}: ${text.length} chars`);
      assert.match(text, /… trace truncated: \d+ chars not stored/, what);
      assert.ok(text.endsWith('So the answer is [2]'), `${what}: the end of the reply is kept`);
    }
    // The reply came in ~8,000 deltas; without throttling every one rebuilt the whole output.
    assert.ok(updates < 600, `${updates} trace updates`);
    assert.ok(bytes < 16 * big.length, `${bytes} bytes built for a ${big.length}-char reply`);
    await assertNoKeyAnywhere(r);
  });
});
