/**
 * Recorded exchanges travel with a notebook: a notebook recorded in one folder ("clone") through the
 * real CLI with the bundled ffmpeg replays in another clone whose decoded frames are other bytes (here
 * re-encoded at another JPEG quality, as another ffmpeg build would decode them), with the same
 * answers and traces and no request to the network; the images the model saw travel with the
 * exchanges. Record mode answers requests already recorded from the store, `--rerecord` sends again.
 */
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { runNotebookFile } from '../../../../src/cli/commands/notebook';
import { buildProgram } from '../../../../src/cli/main';
import { MIME } from '../../../../src/common/mime';
import type { ReasoningTracePayload } from '../../../../src/common/payloads';
import { parseNotebook, serializeNotebook } from '../../../../src/pipeline/format';
import type { NotebookModel } from '../../../../src/pipeline/format';
import { type Exchange, exchangeImageFiles, readExchange } from '../../../../src/pipeline/llm/exchanges';
import { sha256 } from '../../../../src/pipeline/run/hash';
import { FFMPEG, FFPROBE, SAMPLES, tempDir } from '../../../tooling/media';
import type { TempDir } from '../../../tooling/media';
import { OpenAiTestServer } from '../../../tooling/openaiServer';

const KEY = 'sk-portable-test-0123456789';
const dec = new TextDecoder();

// `view: full` keeps the trace outputs (with their usage, which says whether a reply was sent) beside
// the pivot view, so the replay is compared output by output, the views included.
const CELLS: Array<[string, string]> = [
  ['video', 'stage: video\nsource: clip.mp4\nmaxFrames: 30\nfilmstripFrames: 0\n'],
  ['ref', 'stage: reference\nexpression: the dog playing with the ball\n'],
  ['pf', 'stage: pivot-frame\nconcurrency: 1\nview: full\n'],
  ['pb', 'stage: pivot-box\nconcurrency: 1\nview: full\ncandidates:\n  - [300, 200, 700, 600]\n  - [0, 0, 250, 250]\n'],
];

function notebook(): NotebookModel {
  return {
    metadata: { alref: { formatVersion: 1 } },
    cells: CELLS.map(([id, source]) => ({ kind: 'code', language: 'alref', source, metadata: { id }, outputs: [] })),
  };
}

/** Everything a cell shows except images: markdown, tables, traces (payload text, answer, validity, usage). */
function textOutputs(nb: NotebookModel, cellId: string): string[] {
  const cell = nb.cells.find((c) => c.metadata.id === cellId);
  assert.ok(cell, cellId);
  // A clone that decodes other bytes draws other grid files: the content-addressed names differ, nothing else may.
  return cell.outputs.flatMap((o) => o.items.filter((i) => i.mime === 'text/markdown' || i.mime.endsWith('+json')).map((i) => `${i.mime}\n${dec.decode(i.data).replace(/artifacts\/[0-9a-f]{2}\/[0-9a-f]{64}\./g, 'artifacts/<content hash>.')}`));
}

function traces(nb: NotebookModel, cellId: string): ReasoningTracePayload[] {
  const cell = nb.cells.find((c) => c.metadata.id === cellId);
  return (cell?.outputs ?? []).flatMap((o) => o.items.filter((i) => i.mime === MIME.reasoningTrace).map((i) => JSON.parse(dec.decode(i.data)) as ReasoningTracePayload));
}

function exchangeJsons(runDir: string): string[] {
  return readdirSync(path.join(runDir, 'exchanges')).filter((f) => f.endsWith('.json')).sort();
}

/** sha256 of every file under a folder. */
function hashesUnder(dir: string): Set<string> {
  const out = new Set<string>();
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile()) {
      out.add(sha256(readFileSync(path.join(e.parentPath, e.name))));
    }
  }
  return out;
}

suite('recorded exchanges replay in another clone whose frames decode to other bytes', function () {
  this.timeout(300_000);
  let tmp: TempDir;
  let server: OpenAiTestServer;
  let stderrWrite: typeof process.stderr.write;
  let savedKey: string | undefined;
  let cloneA: string;
  let recorded: NotebookModel;
  const set = (): string[] => [`llm.baseUrl=${server.baseUrl}`, `ffmpegPath=${FFMPEG}`, `ffprobePath=${FFPROBE}`];

  /** A clone: the notebook and the clip, side by side, in a folder of its own. */
  function clone(name: string): string {
    const dir = path.join(tmp.path, name);
    mkdirSync(dir, { recursive: true });
    cpSync(path.join(SAMPLES, '01_dog.mp4'), path.join(dir, 'clip.mp4'));
    writeFileSync(path.join(dir, 'study.alref'), serializeNotebook(notebook()));
    return path.join(dir, 'study.alref');
  }

  suiteSetup(async () => {
    tmp = tempDir('alref-portable-');
    stderrWrite = process.stderr.write.bind(process.stderr);
    process.stderr.write = (() => true) as typeof process.stderr.write;
    savedKey = process.env.OPENAI_API_KEY;
    process.env.OPENAI_API_KEY = KEY;
    server = await OpenAiTestServer.start({ apiKey: KEY });
    let n = 0;
    server.setScript((r) => (r.text.includes('candidate boxes') ? `The dog is in box 1. [1]` : `Clip ${++n}: the dog is whole in frame ${1 + (n % 5)}. [${1 + (n % 5)}]`));
    cloneA = clone('a');
    const out = path.join(tmp.path, 'a', 'recorded.alref');
    assert.equal(await runNotebookFile(cloneA, { mode: 'record', set: set(), out }), 0);
    recorded = parseNotebook(readFileSync(out, 'utf8'), { file: out });
    assert.ok(server.requests.length >= 2, `${server.requests.length} requests recorded`);
  });
  suiteTeardown(async () => {
    process.stderr.write = stderrWrite;
    if (savedKey === undefined) {
      delete process.env.OPENAI_API_KEY;
    } else {
      process.env.OPENAI_API_KEY = savedKey;
    }
    await server.stop();
    tmp.remove();
  });

  test('record stores every image sent beside its exchange (version 2); exchangeImageFiles finds them', async () => {
    const runDir = `${cloneA}.runs`;
    const files = exchangeJsons(runDir);
    assert.equal(files.length, server.requests.length, 'one exchange per request');
    const sentBytes = server.requests.flatMap((r) =>
      r.body.messages.flatMap((m) => (Array.isArray(m.content) ? m.content : [])).flatMap((p) => (p.type === 'image_url' ? [sha256(Buffer.from(p.image_url.url.split(',')[1], 'base64'))] : [])),
    );
    const stored = new Set<string>();
    for (const f of files) {
      const ex = (await readExchange(runDir, path.basename(f, '.json'))) as Exchange;
      assert.equal(ex.version, 2);
      const descriptors = ex.request.messages.flatMap((m) => m.images ?? []).map((i) => ('describe' in i ? i.describe.kind : 'bytes'));
      assert.ok(descriptors.length === 1 && ['frame-grid', 'pivot-box'].includes(descriptors[0]), `${f}: ${descriptors.join(', ')}`);
      for (const img of await exchangeImageFiles(runDir, ex)) {
        assert.ok(img.exists, img.path);
        assert.equal(sha256(await readFile(img.path)), img.sha256, 'the file holds the exact bytes');
        stored.add(img.sha256);
      }
    }
    assert.deepEqual([...stored].sort(), [...new Set(sentBytes)].sort(), 'the stored images are the bytes that went over the wire');
  });

  test('a clone whose frames are other bytes replays with the same answers and traces, no request sent', async () => {
    const fileB = clone('b');
    const runA = `${cloneA}.runs`;
    const runB = `${fileB}.runs`;
    // What travels with the notebook: the exchanges (and the images in them), not the frames.
    cpSync(path.join(runA, 'exchanges'), path.join(runB, 'exchanges'), { recursive: true });
    // The frames this clone decoded: the same frames, encoded at JPEG quality 40 instead of ffmpeg's.
    const [key] = readdirSync(path.join(runA, 'frames')).filter((k) => !k.includes('.tmp-'));
    cpSync(path.join(runA, 'frames', key), path.join(runB, 'frames', key), { recursive: true });
    const frameFiles = readdirSync(path.join(runB, 'frames', key)).filter((f) => f.endsWith('.jpg'));
    for (const f of frameFiles) {
      const p = path.join(runB, 'frames', key, f);
      await writeFile(p, await sharp(await readFile(p)).jpeg({ quality: 40 }).toBuffer());
    }
    const before = server.requests.length;
    const out = path.join(tmp.path, 'b', 'replayed.alref');
    assert.equal(await runNotebookFile(fileB, { mode: 'replay', set: set(), out }), 0);
    assert.equal(server.requests.length, before, 'no request went to the network');

    // The images clone B built are other bytes than the ones A sent: a byte-keyed replay would miss.
    const sentByA = new Set((await Promise.all(exchangeJsons(runA).map(async (f) => exchangeImageFiles(runA, (await readExchange(runA, path.basename(f, '.json')))!)))).flat().map((i) => i.sha256));
    const builtByB = hashesUnder(path.join(runB, 'artifacts'));
    assert.equal([...sentByA].filter((h) => builtByB.has(h)).length, 0, 'clone B built none of the images clone A sent');

    const replayed = parseNotebook(readFileSync(out, 'utf8'), { file: out });
    for (const id of ['pf', 'pb']) {
      assert.ok(traces(replayed, id).length >= 1, `${id} has traces`);
      assert.deepEqual(traces(replayed, id), traces(recorded, id), `${id}: same traces (text, answer, validity, usage)`);
      assert.deepEqual(textOutputs(replayed, id), textOutputs(recorded, id), `${id}: same tables and markdown`);
    }
    assert.deepEqual(replayed.metadata.alref?.record?.cells.pf, recorded.metadata.alref?.record?.cells.pf);
  });

  test('record mode answers recorded requests from the store (none sent, said so in the usage); --rerecord sends them again', async () => {
    const before = server.requests.length;
    const out = path.join(tmp.path, 'a', 'again.alref');
    assert.equal(await runNotebookFile(cloneA, { mode: 'record', set: set(), out }), 0);
    assert.equal(server.requests.length, before, 'every request was already recorded');
    const again = parseNotebook(readFileSync(out, 'utf8'), { file: out });
    const pf = traces(again, 'pf');
    assert.ok(pf.length >= 1 && pf.every((t) => t.usage?.reused === true), 'the traces say the reply was not sent');
    assert.deepEqual(pf.map((t) => [t.text, t.answer]), traces(recorded, 'pf').map((t) => [t.text, t.answer]));
    assert.match(textOutputs(again, 'pf').join('\n'), /\(recorded reply, not sent\)/);

    const count = exchangeJsons(`${cloneA}.runs`).length;
    assert.equal(await runNotebookFile(cloneA, { mode: 'record', rerecord: true, set: set(), out }), 0);
    assert.equal(server.requests.length - before, count, '--rerecord sends every request again');
    assert.ok(traces(parseNotebook(readFileSync(out, 'utf8')), 'pf').every((t) => t.usage?.reused === undefined));
  });

  test('notebook run --help explains record mode\'s reuse and --rerecord', () => {
    const run = buildProgram().commands.find((c) => c.name() === 'notebook')?.commands.find((c) => c.name() === 'run');
    const help = (run?.helpInformation() ?? '').replace(/\s+/g, ' ');
    assert.match(help, /record answers requests already recorded from the run folder and sends and stores the others/);
    assert.match(help, /--rerecord with --mode record: send every LLM request again and overwrite its recorded exchange/);
  });

  test('--rerecord outside record mode is an error naming the flag, before any cell runs', async () => {
    const out = path.join(tmp.path, 'a', 'never.alref');
    await assert.rejects(runNotebookFile(cloneA, { mode: 'replay', rerecord: true, set: set(), out }), /--rerecord needs record mode \(the LLM mode of this run is replay\); add --mode record\./);
  });
});
