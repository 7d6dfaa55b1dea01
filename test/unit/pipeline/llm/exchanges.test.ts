/**
 * A damaged recorded exchange (`<nb>.alref.runs/exchanges/<hash>.json`: truncated JSON, wrong shape,
 * missing or mistyped fields, another request's record) is a clear cell error naming the file by its
 * path relative to the notebook, saying what is wrong and how to re-record it: never a raw
 * JavaScript error with a stack trace or an absolute path.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { CellLike } from '../../../../src/pipeline/cells/notebook';
import { runCell } from '../../../../src/pipeline/cells/runCell';
import { PipelineError } from '../../../../src/pipeline/errors';
import { ERROR_MIME } from '../../../../src/pipeline/format/nbformatOutputs';
import { readExchange } from '../../../../src/pipeline/llm/exchanges';
import { createServices } from '../../../../src/pipeline/services';
import { NotebookSession } from '../../../../src/pipeline/session';
import { defaultSettings } from '../../../../src/pipeline/settings';
import { OpenAiTestServer } from '../../../tooling/openaiServer';
import { RESOURCES } from '../../../tooling/stageContext';
import { davisVideo } from '../../../tooling/davisVideo';

const KEY = 'sk-exchanges-test-0123456789';

/** Damages a recorded exchange's text; each entry: name, damage, what the message must say. */
const DAMAGES: Array<[string, (text: string) => string, RegExp]> = [
  ['truncated JSON', (t) => t.slice(0, Math.floor(t.length / 2)), /is not valid JSON \(.*\), perhaps cut short/],
  ['an empty file', () => '', /it is empty/],
  ['a list instead of an object', () => '[1, 2, 3]', /it holds a list, not an exchange object/],
  ['a missing reply text', (t) => { const v = JSON.parse(t); delete v.reply.text; return JSON.stringify(v); }, /field "reply\.text" must be a string \(got missing\)/],
  ['a missing reply', (t) => { const v = JSON.parse(t); delete v.reply; return JSON.stringify(v); }, /field "reply" is missing/],
  ['usage as a string', (t) => { const v = JSON.parse(t); v.usage.promptTokens = 'many'; return JSON.stringify(v); }, /field "usage\.promptTokens" must be a number of tokens \(got string "many"\)/],
  ['another request\'s record', (t) => { const v = JSON.parse(t); v.hash = 'f'.repeat(64); return JSON.stringify(v); }, /it records another request \(hash ffffffffffff, expected [0-9a-f]{12}\)/],
  ['a newer version', (t) => { const v = JSON.parse(t); v.version = 3; return JSON.stringify(v); }, /field "version" must be 1 or 2 \(got number 3, written by a newer AL-Ref Notebooks: update the extension or CLI\)/],
  ['an image file outside images/', (t) => { const v = JSON.parse(t); v.images[0].file = '../../secret.jpg'; return JSON.stringify(v); }, /field "images\[0\]" must name a sent image by its sha256 and file images\/<sha256>\.jpg/],
  ['no list of images', (t) => { const v = JSON.parse(t); delete v.images; return JSON.stringify(v); }, /field "images" must be a list \(got missing\)/],
];

suite('damaged recorded exchanges', () => {
  let tmp: string;
  let runDir: string;
  let server: OpenAiTestServer;
  let session: NotebookSession;
  let exchangeFile: string;
  let original: string;
  const cells: CellLike[] = [
    { id: 'vid', language: 'alref', source: 'stage: video\nsource: x\n' },
    { id: 'ref', language: 'alref', source: 'stage: reference\nexpression: the car\n' },
    { id: 'pf', language: 'alref', source: 'stage: pivot-frame\n' },
  ];

  function host(mode: 'record' | 'replay') {
    const settings = defaultSettings({ llm: { ...defaultSettings().llm, baseUrl: server.baseUrl, mode, timeoutMs: 5000, maxRetries: 0 } });
    const log = { info: () => undefined, warn: () => undefined, error: () => undefined };
    const services = createServices(settings, { runDir, resourcesDir: RESOURCES, userCacheDir: path.join(tmp, 'cache'), getSecret: async () => KEY });
    return { runDir, baseDir: tmp, resourcesDir: RESOURCES, settings, services, log };
  }

  suiteSetup(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'alref-exchanges-'));
    runDir = path.join(tmp, 'study.alref.runs');
    server = await OpenAiTestServer.start({ apiKey: KEY });
    server.setScript(() => 'Frame 2. [2]');
    session = new NotebookSession();
    // One clip only, so one exchange is recorded.
    const video = await davisVideo(path.join(tmp, 'grids'), { mode: 'avs' });
    session.put({ kind: 'video', cellId: 'vid', inputHash: 'v', upstream: [], data: { ...video, mode: 'rvos' }, finishedAt: 1 });
    session.put({ kind: 'reference', cellId: 'ref', inputHash: 'r', upstream: [], data: { source: 'text', targets: [{ objectId: 1, text: 'the car' }] }, finishedAt: 2 });
    const out = await runCell({ cells, index: 2, session, host: host('record'), signal: new AbortController().signal });
    assert.equal(out.status, 'ok', out.message);
    const files = (await readdir(path.join(runDir, 'exchanges'))).filter((f) => f.endsWith('.json'));
    assert.equal(files.length, 1);
    exchangeFile = path.join(runDir, 'exchanges', files[0]);
    original = await readFile(exchangeFile, 'utf8');
  });
  suiteTeardown(async () => {
    await server.stop();
    await rm(tmp, { recursive: true, force: true });
  });

  test('the intact record replays', async () => {
    await writeFile(exchangeFile, original);
    const out = await runCell({ cells, index: 2, session, host: host('replay'), signal: new AbortController().signal });
    assert.equal(out.status, 'ok', out.message);
  });

  for (const [name, damage, what] of DAMAGES) {
    test(`${name}: a cell error naming the file (relative), what is wrong and how to re-record; no stack, no absolute path`, async () => {
      await writeFile(exchangeFile, damage(original));
      try {
        const requests = server.requests.length;
        const out = await runCell({ cells, index: 2, session, host: host('replay'), signal: new AbortController().signal });
        assert.equal(out.status, 'error');
        const rel = path.join('study.alref.runs', 'exchanges', path.basename(exchangeFile));
        assert.ok(out.message?.startsWith(`Cell 3 (id "pf"): The recorded exchange ${rel} is damaged: `), out.message);
        assert.match(out.message ?? '', what);
        assert.match(out.message ?? '', /switch the notebook to record mode .* or delete .* and run in record mode/);
        assert.ok(!(out.message ?? '').includes(tmp), 'no absolute path in the message');
        assert.ok(out.error instanceof PipelineError && out.error.kind === 'invalid-input' && out.error.file === exchangeFile);
        const errorItem = out.outputs.flatMap((o) => o.items).find((i) => i.mime === ERROR_MIME);
        assert.ok(errorItem, 'an error output');
        const shown = JSON.parse(Buffer.from(errorItem.data).toString('utf8')) as { stack?: string };
        assert.ok(!shown.stack, 'no stack trace in the output');
        assert.equal(server.requests.length, requests, 'replay makes no network call');
      } finally {
        await writeFile(exchangeFile, original);
      }
    });
  }

  test('record mode into a run folder where exchanges/ cannot be created: a cell error naming the file, no stack', async () => {
    const blocked = path.join(tmp, 'blocked.alref.runs');
    await rm(blocked, { recursive: true, force: true });
    await mkdir(blocked, { recursive: true });
    await writeFile(path.join(blocked, 'exchanges'), 'a file where the folder should be');
    const h = host('record');
    const settings = h.settings;
    const services = createServices(settings, { runDir: blocked, resourcesDir: RESOURCES, userCacheDir: path.join(tmp, 'cache'), getSecret: async () => KEY });
    const out = await runCell({ cells, index: 2, session, host: { ...h, runDir: blocked, services }, signal: new AbortController().signal });
    assert.equal(out.status, 'error');
    assert.match(out.message ?? '', /^Cell 3 \(id "pf"\): Cannot store the recorded exchange blocked\.alref\.runs\/exchanges\/[0-9a-f]{64}\.json \((ENOTDIR|EEXIST)\)\. Check that the run folder is writable/);
    assert.ok(out.error instanceof PipelineError);
  });

  test('readExchange: a missing file is "not recorded" (undefined); the intact record is read back', async () => {
    const hash = path.basename(exchangeFile, '.json');
    assert.equal(await readExchange(runDir, 'a'.repeat(64)), undefined);
    assert.equal((await readExchange(runDir, hash))?.hash, hash);
  });
});
