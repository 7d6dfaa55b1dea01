import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { CellLike } from '../../../../src/pipeline/cells/notebook';
import { ExperimentRecorder } from '../../../../src/pipeline/cells/record';
import type { CellHostContext } from '../../../../src/pipeline/cells/runCell';
import { runNotebook } from '../../../../src/pipeline/cells/runNotebook';
import type { NotebookRecordInput } from '../../../../src/pipeline/cells/runNotebook';
import { ERROR_MIME } from '../../../../src/pipeline/format';
import { sha256 } from '../../../../src/pipeline/run/hash';
import { NotebookSession } from '../../../../src/pipeline/session';
import { defaultSettings } from '../../../../src/pipeline/settings';

const repoRoot = path.resolve(__dirname, '../../../..');
const PROMPT_TEXT = 'Pick the clearest frame. Answer in brackets.\n';

suite('cells: the one notebook run loop', () => {
  let dir: string;
  let host: CellHostContext;
  let logged: string[];
  setup(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'alref-runnotebook-'));
    logged = [];
    host = {
      runDir: path.join(dir, 'nb.alref.runs'),
      baseDir: dir,
      resourcesDir: repoRoot,
      settings: defaultSettings(),
      services: {},
      log: { info: () => undefined, warn: () => undefined, error: (m) => logged.push(m) },
    };
  });
  teardown(() => rmSync(dir, { recursive: true, force: true }));

  const recordInput = (): NotebookRecordInput => ({ version: '9.9.9', settings: defaultSettings(), usedModelFiles: [], warn: () => undefined });

  const cells: CellLike[] = [
    { id: 'intro', language: 'markdown', source: '# Demo' },
    { id: 'p', language: 'alref-prompt', source: `template: pivot-frame.cot\n${PROMPT_TEXT}` },
    { id: 'bad', language: 'alref', source: 'stage: video\nid: vid\nsource: no such file.mp4\n' },
    { id: 'q', language: 'alref-prompt', source: 'template: pivot-box.cot\ntext\n' },
  ];

  test('runs the cells in order through the hooks, stops at the first failure and builds the record', async () => {
    const seen: string[] = [];
    const run = await runNotebook({
      cells,
      session: new NotebookSession(),
      host,
      recorder: new ExperimentRecorder(),
      beforeCell: (cell, index) => {
        if (cell.language === 'markdown') {
          seen.push(`skip ${index}`);
          return 'skip';
        }
        seen.push(`start ${index}`);
        return { done: (outcome) => void seen.push(`done ${index} ${outcome.status}`) };
      },
      record: ({ status, ran }) => {
        seen.push(`record ${status} ${ran.length}`);
        return recordInput();
      },
    });
    assert.deepEqual(seen, ['skip 0', 'start 1', 'done 1 ok', 'start 2', 'done 2 error', 'record error 2']);
    assert.equal(run.status, 'error');
    assert.deepEqual(run.ran.map((r) => [r.index, r.outcome.status]), [[1, 'ok'], [2, 'error']]);
    assert.match(run.ran[1].outcome.message ?? '', /^Cell 3 \(id "vid"\), field "source"/);
    assert.equal(run.record?.extensionVersion, '9.9.9');
    // the record holds the document's prompt overrides (the recorder's rule), by the text's hash
    assert.deepEqual(run.record?.prompts, { 'pivot-frame.cot': sha256(PROMPT_TEXT), 'pivot-box.cot': sha256('text\n') });
  });

  test('without a beforeCell hook every cell runs; no record unless asked for', async () => {
    const run = await runNotebook({ cells: cells.slice(0, 2), session: new NotebookSession(), host, recorder: new ExperimentRecorder() });
    assert.equal(run.status, 'ok');
    assert.deepEqual(run.ran.map((r) => r.outcome.status), ['skipped', 'ok']);
    assert.equal(run.record, undefined);
  });

  test('a cancelled run starts no cell and hands the status to record', async () => {
    const ac = new AbortController();
    ac.abort();
    let started = 0;
    let recordedFor: string | undefined;
    const run = await runNotebook({
      cells,
      session: new NotebookSession(),
      host,
      signal: ac.signal,
      recorder: new ExperimentRecorder(),
      beforeCell: () => {
        started++;
        return {};
      },
      record: ({ status }) => {
        recordedFor = status;
        return undefined;
      },
    });
    assert.equal(run.status, 'cancelled');
    assert.equal(started, 0);
    assert.deepEqual(run.ran, []);
    assert.equal(recordedFor, 'cancelled');
    assert.equal(run.record, undefined);
  });

  test('a cell that is gone (negative position) or a stop from the host ends the run', async () => {
    let position = 1;
    const gone = await runNotebook({ cells, positions: [() => position, () => -1, 3], session: new NotebookSession(), host, recorder: new ExperimentRecorder(), beforeCell: () => ({ done: () => void (position = -1) }) });
    assert.equal(gone.status, 'stopped');
    assert.deepEqual(gone.ran.map((r) => r.index), [1]);
    const stopped = await runNotebook({ cells, positions: [1, 3], session: new NotebookSession(), host, recorder: new ExperimentRecorder(), beforeCell: (_c, i) => (i === 3 ? 'stop' : {}) });
    assert.equal(stopped.status, 'stopped');
    assert.deepEqual(stopped.ran.map((r) => r.index), [1]);
  });

  test('cells read again before each cell: a cell deleted during the run is not seen by later cells', async () => {
    const live: CellLike[] = [
      { id: 'p', language: 'alref-prompt', source: `template: pivot-frame.cot\n${PROMPT_TEXT}` },
      { id: 'pf', language: 'alref', source: 'stage: pivot-frame\nid: pf\nstrategy: middle\n' },
    ];
    const session = new NotebookSession();
    session.put({ kind: 'video', cellId: 'removed', inputHash: 'h', upstream: [], data: {}, finishedAt: 0 });
    const run = await runNotebook({ cells: () => live, session, host, recorder: new ExperimentRecorder() });
    assert.equal(run.status, 'error');
    assert.match(run.ran[1].outcome.message ?? '', /needs a "video" result: run a video cell above it first/);
  });

  test('a host context that cannot be built fails that cell with an error output naming it; the run stops', async () => {
    const run = await runNotebook({
      cells,
      positions: [1, 3],
      session: new NotebookSession(),
      host: () => {
        throw new Error('no services');
      },
      recorder: new ExperimentRecorder(),
    });
    assert.equal(run.status, 'error');
    assert.equal(run.ran.length, 1);
    const { outcome } = run.ran[0];
    assert.equal(outcome.message, 'Cell 2 (id "p"): no services');
    const item = outcome.outputs.flatMap((o) => o.items).find((i) => i.mime === ERROR_MIME);
    assert.ok(item, 'an error output');
    assert.equal(JSON.parse(new TextDecoder().decode(item.data)).message, 'Cell 2 (id "p"): no services');
  });
});
