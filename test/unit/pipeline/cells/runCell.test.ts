import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runCell } from '../../../../src/pipeline/cells/runCell';
import type { CellHostContext } from '../../../../src/pipeline/cells/runCell';
import type { CellLike } from '../../../../src/pipeline/cells/notebook';
import { ERROR_MIME } from '../../../../src/pipeline/format';
import { NotebookSession } from '../../../../src/pipeline/session';
import { defaultSettings } from '../../../../src/pipeline/settings';
import { sha256 } from '../../../../src/pipeline/run/hash';
import { makeClip, makeFrameFolder, SAMPLES, tempDir } from '../../../tooling/media';
import { ffmpegDescendants, firstTempFrame, isGone, tempEntries, waitFor } from '../../../tooling/processes';
import type { TempDir } from '../../../tooling/media';

const dec = new TextDecoder();
const repoRoot = path.resolve(__dirname, '../../../..');

function errorOf(outputs: { items: Array<{ mime: string; data: Uint8Array }> }[]): { name: string; message: string } {
  const item = outputs.flatMap((o) => o.items).find((i) => i.mime === ERROR_MIME);
  assert.ok(item, 'an error output');
  return JSON.parse(dec.decode(item.data));
}

suite('cells: the shared cell runner (real stages)', () => {
  let dir: string;
  let host: CellHostContext;
  setup(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'alref-runcell-'));
    const lines: string[] = [];
    host = {
      runDir: path.join(dir, 'nb.alref.runs'),
      baseDir: dir,
      resourcesDir: repoRoot,
      settings: defaultSettings(),
      services: {},
      log: { info: (m) => lines.push(m), warn: (m) => lines.push(m), error: (m) => lines.push(m) },
    };
  });
  teardown(() => rmSync(dir, { recursive: true, force: true }));

  const cells: CellLike[] = [
    { id: 'intro', language: 'markdown', source: '# Demo' },
    { id: 'cell-2', language: 'alref', source: 'stage: video\nid: vid\nsource: no such file.mp4\n' },
    { id: 'cell-3', language: 'alref', source: 'stage: pivot-frame\nuses: { video: vdi }\n' },
    { id: 'cell-4', language: 'alref', source: 'stage: video\nsource: x.mp4\ninterval: "5"\n' },
    { id: 'p', language: 'alref-prompt', source: 'template: pivot-frame.cot\nPick the clearest frame. Answer in brackets.\n' },
    { id: 'q', language: 'alref-prompt', source: 'template: no-such-template\ntext\n' },
  ];

  test('a markdown cell is skipped', async () => {
    const out = await runCell({ cells, index: 0, session: new NotebookSession(), host, signal: new AbortController().signal });
    assert.equal(out.status, 'skipped');
    assert.deepEqual(out.outputs, []);
  });

  test('a failing stage gives one error output naming the cell (position and id) and the field; no session result', async () => {
    const session = new NotebookSession();
    const out = await runCell({ cells, index: 1, session, host, signal: new AbortController().signal });
    assert.equal(out.status, 'error');
    assert.equal(out.cellId, 'vid');
    assert.match(out.message ?? '', /^Cell 2 \(id "vid"\), field "[a-z.]+": /);
    const err = errorOf(out.outputs);
    assert.equal(err.message, out.message);
    assert.equal(session.get('vid'), undefined);
  });

  test('schema errors stop the run before the stage with the line and field', async () => {
    const out = await runCell({ cells, index: 3, session: new NotebookSession(), host, signal: new AbortController().signal });
    assert.equal(out.status, 'error');
    assert.equal(out.message, 'Cell 4 (id "cell-4"), line 3, field "interval": Field "interval" must be an integer, not string "5".');
    assert.equal(errorOf(out.outputs).message, out.message);
  });

  test('uses naming a cell that does not exist is reported with the field', async () => {
    const out = await runCell({ cells, index: 2, session: new NotebookSession(), host, signal: new AbortController().signal });
    assert.equal(out.status, 'error');
    assert.match(out.message ?? '', /^Cell 3 \(id "cell-3"\), line 2, field "uses\.video": Field "uses\.video" names cell "vdi", which does not exist in this notebook\. Did you mean "vid"\?/);
  });

  test('cancellation ends quietly: no error output', async () => {
    const ac = new AbortController();
    ac.abort();
    const out = await runCell({ cells, index: 1, session: new NotebookSession(), host, signal: ac.signal });
    assert.equal(out.status, 'cancelled');
    assert.equal(out.outputs.some((o) => o.items.some((i) => i.mime === ERROR_MIME)), false);
  });

  test('a prompt cell shows its template, hash and variables; an unknown template names the cell', async () => {
    const ok = await runCell({ cells, index: 4, session: new NotebookSession(), host, signal: new AbortController().signal });
    assert.equal(ok.status, 'ok', ok.message);
    const text = 'Pick the clearest frame. Answer in brackets.\n';
    assert.deepEqual(ok.prompt, { name: 'pivot-frame.cot', hash: sha256(text), variables: [] });
    const md = dec.decode(ok.outputs[0].items[0].data);
    assert.match(md, /\*\*Prompt override\*\* `pivot-frame\.cot`/);
    assert.ok(md.includes(sha256(text)));
    const bad = await runCell({ cells, index: 5, session: new NotebookSession(), host, signal: new AbortController().signal });
    assert.equal(bad.status, 'error');
    assert.match(bad.message ?? '', /^Cell 6 \(id "q"\).*no-such-template/);
  });

  test('a prompt cell that does not parse names a failed template from its FIRST non-empty line only', async () => {
    const run = (source: string) => runCell({ cells: [{ id: 'p', language: 'alref-prompt', source }], index: 0, session: new NotebookSession(), host, signal: new AbortController().signal });
    const later = await run('templat: x\nSome text.\ntemplate: pivot-box.cot\n');
    assert.equal(later.status, 'error');
    assert.equal(later.failedPrompt, undefined, 'a "template:" line further down is template text, not the header');
    const loose = await run('\n  template : pivot-box.cot extra\nSome text.\n');
    assert.equal(loose.status, 'error');
    assert.equal(loose.failedPrompt, 'pivot-box.cot');
  });
});

suite('cells: runner + session with real stages on a real clip', () => {
  let tmp: TempDir;
  let host: CellHostContext;
  suiteSetup(() => {
    tmp = tempDir('alref-runcell-real-');
    makeClip(path.join(tmp.path, 'clip.mp4'), { frames: 30, fps: 10, width: 64, height: 48 });
  });
  suiteTeardown(() => tmp.remove());
  setup(() => {
    host = {
      runDir: path.join(tmp.path, 'nb.alref.runs'),
      baseDir: tmp.path,
      resourcesDir: repoRoot,
      settings: defaultSettings(),
      services: {},
      log: { info: () => undefined, warn: () => undefined, error: () => undefined },
    };
  });

  test('results land in the session; re-running upstream with other params marks dependents stale', async () => {
    const cells: CellLike[] = [
      { id: 'c1', language: 'alref', source: 'stage: video\nid: vid\nsource: clip.mp4\npreset: ref-davis17\n' },
      { id: 'c2', language: 'alref', source: 'stage: reference\nid: ref\nexpression: the moving pattern\n' },
      { id: 'c3', language: 'alref', source: 'stage: pivot-frame\nid: pf\nstrategy: middle\nuses: { video: vid, reference: ref }\n' },
    ];
    const session = new NotebookSession();
    const signal = new AbortController().signal;
    for (let i = 0; i < cells.length; i++) {
      const out = await runCell({ cells, index: i, session, host, signal });
      assert.equal(out.status, 'ok', out.message);
    }
    assert.equal(session.get('vid')?.kind, 'video');
    assert.deepEqual(session.get('pf')?.upstream.sort(), ['ref', 'vid']);
    assert.equal(session.staleness('pf').stale, false);
    const edited = [{ ...cells[0], source: 'stage: video\nid: vid\nsource: clip.mp4\npreset: ref-davis17\nmaxFrames: 20\n' }, cells[1], cells[2]];
    const rerun = await runCell({ cells: edited, index: 0, session, host, signal });
    assert.equal(rerun.status, 'ok', rerun.message);
    const st = session.staleness('pf');
    assert.equal(st.stale, true);
    assert.deepEqual(st.changedUpstream, ['vid']);
    assert.equal(session.staleness('ref').stale, false);
  });

  test('a deleted video cell no longer feeds a later cell that names no upstream: it fails naming the missing kind', async () => {
    const cells: CellLike[] = [
      { id: 'c1', language: 'alref', source: 'stage: video\nid: vid\nsource: clip.mp4\npreset: ref-davis17\n' },
      { id: 'c2', language: 'alref', source: 'stage: reference\nid: ref\nexpression: the moving pattern\n' },
      { id: 'c3', language: 'alref', source: 'stage: pivot-frame\nid: pf\nstrategy: middle\n' },
    ];
    const session = new NotebookSession();
    const signal = new AbortController().signal;
    for (let i = 0; i < cells.length; i++) {
      const out = await runCell({ cells, index: i, session, host, signal });
      assert.equal(out.status, 'ok', out.message);
    }
    const withoutVideo = cells.slice(1);
    const out = await runCell({ cells: withoutVideo, index: 1, session, host, signal });
    assert.equal(out.status, 'error');
    assert.match(out.message ?? '', /^Cell 2 \(id "pf"\), field "uses\.video": This "pivot-frame" cell needs a "video" result: run a video cell above it first\.$/);
  });

  test('a cell takes the nearest result of a kind ABOVE it, not the last one run anywhere', async () => {
    const cells: CellLike[] = [
      { id: 'c1', language: 'alref', source: 'stage: video\nid: v1\nsource: clip.mp4\npreset: ref-davis17\n' },
      { id: 'c2', language: 'alref', source: 'stage: reference\nid: ref\nexpression: the moving pattern\n' },
      { id: 'c3', language: 'alref', source: 'stage: pivot-frame\nid: pf\nstrategy: middle\n' },
      { id: 'c4', language: 'alref', source: 'stage: video\nid: v2\nsource: clip.mp4\nmaxFrames: 10\n' },
    ];
    const session = new NotebookSession();
    const signal = new AbortController().signal;
    for (const i of [0, 1, 3, 2]) {
      const out = await runCell({ cells, index: i, session, host, signal });
      assert.equal(out.status, 'ok', out.message);
    }
    assert.deepEqual(session.get('pf')?.upstream.sort(), ['ref', 'v1']);
  });

  test('a truncated JPEG in a frame folder: an error naming the frame file relative to the notebook, no stack trace or absolute path', async () => {
    const seq = makeFrameFolder(path.join(tmp.path, 'trunc', 'seq'), 6, { width: 64, height: 48 });
    const victim = path.join(seq, '00003.jpg');
    const bytes = readFileSync(victim);
    writeFileSync(victim, bytes.subarray(0, Math.floor(bytes.length / 2)));
    const cells: CellLike[] = [{ id: 'c1', language: 'alref', source: 'stage: video\nsource: seq\n' }];
    const out = await runCell({ cells, index: 0, session: new NotebookSession(), host: { ...host, baseDir: path.join(tmp.path, 'trunc'), runDir: path.join(tmp.path, 'trunc', 'nb.alref.runs') }, signal: new AbortController().signal });
    assert.equal(out.status, 'error');
    assert.match(out.message ?? '', /^Cell 1 \(id "c1"\), field "source": Cannot read the frame image seq\/00003\.jpg \(decoded frame 3\): the JPEG data is cut short/);
    const item = out.outputs.flatMap((o) => o.items).find((i) => i.mime === ERROR_MIME)!;
    const json = JSON.parse(dec.decode(item.data)) as Record<string, unknown>;
    assert.equal(json.stack, undefined);
    assert.ok(!dec.decode(item.data).includes(tmp.path), 'no absolute path in the output');
    assert.deepEqual(tempEntries(path.join(tmp.path, 'trunc', 'nb.alref.runs')), []);
  });

  test('an error that is not a PipelineError (a damaged cached frame): message only in the output, the stack trace in the log', async () => {
    const logged: string[] = [];
    const h: CellHostContext = { ...host, log: { info: () => undefined, warn: () => undefined, error: (m) => logged.push(m) } };
    const cells: CellLike[] = [{ id: 'c1', language: 'alref', source: 'stage: video\nsource: clip.mp4\n' }];
    const first = await runCell({ cells, index: 0, session: new NotebookSession(), host: h, signal: new AbortController().signal });
    assert.equal(first.status, 'ok', first.message);
    const framesDir = String((first.result?.data as { framesDir: string }).framesDir);
    const frame0 = path.join(framesDir, '00000.jpg');
    writeFileSync(frame0, readFileSync(frame0).subarray(0, 200));
    const out = await runCell({ cells, index: 0, session: new NotebookSession(), host: h, signal: new AbortController().signal });
    assert.equal(out.status, 'error');
    assert.match(out.message ?? '', /^Cell 1 \(id "c1"\): [\s\S]+ \(unexpected error in the video stage; details in the log\)$/);
    const item = out.outputs.flatMap((o) => o.items).find((i) => i.mime === ERROR_MIME)!;
    const text = dec.decode(item.data);
    assert.equal((JSON.parse(text) as Record<string, unknown>).stack, undefined);
    assert.ok(!text.includes(repoRoot) && !text.includes(tmp.path), `no absolute path in the output: ${text}`);
    assert.ok(logged.some((l) => /^Cell 1 \(id "c1"\): .*\n\s+at /s.test(l)), 'the stack trace is in the log');
  });

  test('cancelling mid-decode returns only after ffmpeg has exited and its temporary folder is gone; no error output', async () => {
    const runDir = path.join(tmp.path, 'long.runs');
    const cells: CellLike[] = [{ id: 'c1', language: 'alref', source: `stage: video\nsource: ${JSON.stringify(path.join(SAMPLES, '01_dog.mp4'))}\n` }];
    const ac = new AbortController();
    const before = new Set(ffmpegDescendants(process.pid));
    let ended = false;
    const running = runCell({ cells, index: 0, session: new NotebookSession(), host: { ...host, runDir }, signal: ac.signal });
    void running.finally(() => (ended = true));
    // abort once ffmpeg has written its first frame into the temporary folder
    await waitFor(() => firstTempFrame(runDir), 'the first decoded frame', () => (ended ? 'the run ended first' : undefined));
    const pids = ffmpegDescendants(process.pid).filter((p) => !before.has(p));
    assert.ok(pids.length >= 1, 'ffmpeg runs when the cell is cancelled');
    ac.abort();
    const out = await running;
    assert.equal(out.status, 'cancelled');
    for (const pid of pids) {
      assert.ok(isGone(pid), `ffmpeg ${pid} has exited when runCell returns`);
    }
    assert.deepEqual(tempEntries(runDir), [], 'no temporary folder is left');
    assert.equal(out.outputs.some((o) => o.items.some((i) => i.mime === ERROR_MIME)), false);
  });
});
