/**
 * Data and state in the extension host: record runs keep every reasoning trace (even on a
 * notebook saved with empty "streaming…" traces, the state the old output sync left behind), a failed
 * run keeps the previous outputs, prompt changes and stale inputs are marked, the experiment record
 * names models and checksums, and the editor diagnoses missing paths and keeps a bad cell's id.
 * Runs against the local OpenAI-compatible test server and the fixture ONNX models.
 */
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import { MIME } from '../../src/common/mime';
import type { FrameGridPayload, PivotViewRow, ReasoningTracePayload } from '../../src/common/payloads';
import { CellOutputBuilder, NOTICE_METADATA_KEY } from '../../src/pipeline/cells/outputBuilder';
import { parsePromptCell } from '../../src/pipeline/cells/parse';
import { sha256 } from '../../src/pipeline/run/hash';
import { parseNotebook, type ExperimentRecord } from '../../src/pipeline/format';
import { writeMovingSquare } from '../tooling/movingSquare';
import { pivotViewOf } from '../tooling/pivotOutputs';
import { writeModelFixtures } from '../tooling/onnxFixtures';
import { OpenAiTestServer, type ReceivedRequest, type ScriptedReply } from '../tooling/openaiServer';
import type { CellSpec } from './helpers';
import { cellById, cellStatusItems as statusItems, closeAll, configureAlref as configure, errorOf, executeCell, freshWorkspaceFolder, mimes, openNotebook, runCellOk as runOk, textOf, waitFor, writeNotebookFile } from './helpers';

const writeNotebook = (file: string, cells: CellSpec[]): string => writeNotebookFile(file, cells, 'record');
const freshFolder = (tag: string): string => freshWorkspaceFolder('datastate', tag);

const KEY = 'sk-host-e2e-1515';
const REPORTED = 'gpt-4o-2024-08-06-local';
let failNext = false;

/** Slow streamed replies, so a run has many incremental updates; `failNext` makes the model refuse images (fatal). */
function script(r: ReceivedRequest): ScriptedReply {
  const slow = { chunkSize: 5, chunkDelayMs: 40, reportModel: REPORTED };
  if (failNext) {
    return { fault: 'no-images' };
  }
  if (r.text.includes('candidate boxes')) {
    return { ...slow, text: 'Box 1 covers the bright object.\n[1]' };
  }
  return { ...slow, text: 'The object moves from left to right across the frames.\nIt is clearest in frame 3.\n[3]' };
}

function tracesOf(outputs: readonly { items: readonly { mime: string; data: Uint8Array }[] }[]): ReasoningTracePayload[] {
  return outputs.flatMap((o) => o.items.filter((i) => i.mime === MIME.reasoningTrace).map((i) => JSON.parse(Buffer.from(i.data).toString('utf8')) as ReasoningTracePayload));
}

function noticeOf(cell: vscode.NotebookCell): { slot: unknown; text: string } | undefined {
  const first = cell.outputs[0];
  if (!first || first.metadata?.[NOTICE_METADATA_KEY] === undefined) {
    return undefined;
  }
  return { slot: first.metadata[NOTICE_METADATA_KEY], text: Buffer.from(first.items[0].data).toString('utf8') };
}

function record(doc: vscode.NotebookDocument): ExperimentRecord {
  const r = (doc.metadata.alref as { record?: ExperimentRecord } | undefined)?.record;
  assert.ok(r, 'no experiment record in the notebook metadata');
  return r;
}

suite('data and state in the extension host (local LLM server, fixture models)', function () {
  this.timeout(600_000);
  let server: OpenAiTestServer;

  suiteSetup(async () => {
    server = await OpenAiTestServer.start({ apiKey: KEY });
    server.setScript(script);
    const shared = freshFolder('models');
    const modelsDir = await writeModelFixtures(path.join(shared, 'models'), { only: ['sam2', 'groundingDino'] });
    await configure({
      'llm.baseUrl': server.baseUrl,
      'llm.timeoutMs': 30_000,
      'llm.maxRetries': 0,
      'models.localDir': modelsDir,
      'models.cacheDir': path.join(shared, 'cache'),
    });
    await vscode.commands.executeCommand('alref.setApiKey', KEY);
  });

  suiteTeardown(async () => {
    await closeAll();
    await configure({ 'llm.baseUrl': undefined, 'llm.timeoutMs': undefined, 'llm.maxRetries': undefined, 'models.localDir': undefined, 'models.cacheDir': undefined });
    await vscode.commands.executeCommand('alref.clearApiKey');
    await server.stop().catch(() => undefined);
  });

  /** video (4 clips) -> reference -> pivot-frame (2 replies at a time) [-> more]. */
  async function squareNotebook(tag: string, extra: CellSpec[] = []): Promise<string> {
    const dir = freshFolder(tag);
    await writeMovingSquare(path.join(dir, 'square'), { frames: 48, distractor: false });
    return writeNotebook(path.join(dir, 'square.alref'), [
      { id: 'video', yaml: 'stage: video\nid: video\nsource: square\nfps: 8\ninterval: 3\nfilmstripFrames: 0\n' },
      { id: 'reference', yaml: 'stage: reference\nid: reference\nexpression: the white square\n' },
      { id: 'pivot-frame', yaml: 'stage: pivot-frame\nid: pivot-frame\nconcurrency: 2\n' },
      ...extra,
    ]);
  }

  test('record run on a notebook saved with empty "streaming…" traces: every trace streams, completes and is saved complete', async () => {
    const file = await squareNotebook('record');
    const { doc } = await openNotebook(file);
    const video = await runOk(doc, 'video');
    await runOk(doc, 'reference');
    // The state the issue found saved: one empty, unfinished trace per clip, exactly as a run's first write shows them.
    const grids = video.outputs.flatMap((o) => o.items.filter((i) => i.mime === MIME.frameGrid).map(() => o.metadata?.alref as FrameGridPayload));
    assert.ok(grids.length >= 3, `expected several clips, got ${grids.length}`);
    const stale = new CellOutputBuilder();
    for (const g of grids) {
      const frames = g.tiles.map((t) => t.frameIndex);
      stale.apply({ type: 'trace', streamId: `pivot-frame:pivot-frame:o1:c${g.clipIndex}`, title: `Object 1 · clip ${g.clipIndex + 1} (frames ${frames[0]}–${frames[frames.length - 1]})`, delta: '' });
    }
    const pf = cellById(doc, 'pivot-frame');
    const data = new vscode.NotebookCellData(vscode.NotebookCellKind.Code, pf.document.getText(), 'alref');
    data.metadata = { ...pf.metadata };
    data.outputs = stale.outputs().map((o) => new vscode.NotebookCellOutput(o.items.map((i) => new vscode.NotebookCellOutputItem(i.data, i.mime)), o.metadata));
    const edit = new vscode.WorkspaceEdit();
    edit.set(doc.uri, [vscode.NotebookEdit.replaceCells(new vscode.NotebookRange(pf.index, pf.index + 1), [data])]);
    assert.ok(await vscode.workspace.applyEdit(edit));
    assert.strictEqual(tracesOf(cellById(doc, 'pivot-frame').outputs).filter((t) => !t.done && t.text === '').length, grids.length);

    // Watch the traces grow while the cell runs (several replies stream at once).
    const index = cellById(doc, 'pivot-frame').index;
    let grewWhileRunning = 0;
    const seen = new Set<string>();
    const modes = new Set<unknown>();
    let events = 0;
    const look = (): void => {
      // (The stale traces put there before the run are empty and carry no mode.)
      for (const o of doc.cellAt(index).outputs.filter((x) => tracesOf([x]).some((t) => t.text.length > 0))) {
        modes.add(o.metadata?.llmMode);
      }
      for (const t of tracesOf(doc.cellAt(index).outputs)) {
        if (t.text.length > 0 && !t.done && !seen.has(`${t.streamId}:${t.text.length}`)) {
          seen.add(`${t.streamId}:${t.text.length}`);
          grewWhileRunning++;
        }
      }
    };
    const sub = vscode.workspace.onDidChangeNotebookDocument((e) => {
      if (e.notebook === doc) {
        events++;
        look();
      }
    });
    const poll = setInterval(look, 50);
    let cell: vscode.NotebookCell;
    try {
      cell = await runOk(doc, 'pivot-frame');
    } finally {
      clearInterval(poll);
      sub.dispose();
    }
    console.log(`[alref-test] #15.1: ${events} document changes, ${grewWhileRunning} trace growth steps seen while running`);
    assert.ok(grewWhileRunning >= grids.length, `traces did not stream into the cell (${grewWhileRunning} growth steps seen)`);
    // The LLM mode is on each trace output while it streams.
    assert.deepStrictEqual([...modes], ['record']);
    // When the run ends, the compact pivot view (the default) replaces the streamed traces (and the stale
    // ones): one row per clip, each holding its whole trace.
    const complete = (rows: PivotViewRow[]): boolean => rows.length === grids.length && rows.every((r) => r.valid && r.answer === '[3]' && r.trace === 'The object moves from left to right across the frames.\nIt is clearest in frame 3.\n[3]');
    assert.deepStrictEqual(tracesOf(cell.outputs), [], 'no trace output is left, "streaming…" or not');
    const rows = pivotViewOf(cell.outputs).rows;
    assert.ok(complete(rows), `pivot view rows: ${JSON.stringify(rows.map((r) => [r.clip, r.valid, r.answer, r.trace?.length]))}`);

    // Saved: every trace in the file is complete.
    assert.ok(await doc.save(), 'save failed');
    const saved = parseNotebook(fs.readFileSync(file, 'utf8'));
    const savedCell = saved.cells.find((c) => c.metadata.id === 'pivot-frame');
    assert.ok(savedCell);
    assert.deepStrictEqual(tracesOf(savedCell.outputs), []);
    const savedRows = pivotViewOf(savedCell.outputs).rows;
    assert.ok(complete(savedRows), JSON.stringify(savedRows.map((r) => [r.clip, r.valid, r.answer, r.trace?.length])));

    // requested and reported model; the LLM mode on the cell's status bar.
    const rec = record(doc);
    const requested = server.requests[server.requests.length - 1].body.model;
    assert.deepStrictEqual(rec.llm?.['pivot-frame'], { requested, reported: [REPORTED] });
    assert.notStrictEqual(requested, REPORTED);
    assert.ok((await statusItems(doc, cell)).some((t) => /LLM record/.test(t)), `status bar: ${(await statusItems(doc, cell)).join(' | ')}`);
  });

  test('a failed run keeps the previous answers, marked as the previous run\'s; no trace is left "streaming…"', async () => {
    const file = await squareNotebook('failed');
    const { doc } = await openNotebook(file);
    await runOk(doc, 'video');
    await runOk(doc, 'reference');
    const good = await runOk(doc, 'pivot-frame');
    const before = good.outputs.map((o) => o.items.map((i) => `${i.mime}:${Buffer.from(i.data).toString('base64')}`).join(','));
    failNext = true;
    // In live mode: record mode would answer the recorded requests from the run folder, without the failing server.
    await vscode.commands.executeCommand('alref.setLlmMode', 'live');
    let cell: vscode.NotebookCell;
    try {
      cell = await executeCell(doc, cellById(doc, 'pivot-frame'), 240_000);
    } finally {
      failNext = false;
    }
    assert.strictEqual(cell.executionSummary?.success, false);
    const err = errorOf(cell);
    assert.ok(err && /does not accept images/.test(err.message), `error: ${err?.message}`);
    const noteAt = cell.outputs.findIndex((o) => o.metadata?.[NOTICE_METADATA_KEY] === 'previous-run');
    assert.ok(noteAt >= 1, `no "previous run" note: ${mimes(cell).join(', ')}`);
    assert.match(Buffer.from(cell.outputs[noteAt].items[0].data).toString('utf8'), /Previous run's outputs.*this run failed: Cell 3 \(id "pivot-frame"\)/);
    const after = cell.outputs.slice(noteAt + 1).map((o) => o.items.map((i) => `${i.mime}:${Buffer.from(i.data).toString('base64')}`).join(','));
    assert.deepStrictEqual(after, before, 'the previous outputs are not kept as they were');
    assert.ok(pivotViewOf(cell.outputs).rows.every((r) => r.answer === '[3]' && r.trace?.endsWith('[3]')), 'the kept view holds the previous answers and traces');
    assert.deepStrictEqual(tracesOf(cell.outputs), [], 'no trace is left "streaming…"');
    // Once it runs again successfully, the note goes.
    const again = await runOk(doc, 'pivot-frame');
    assert.ok(!again.outputs.some((o) => o.metadata?.[NOTICE_METADATA_KEY] === 'previous-run'));
  });

  test('a prompt cell marks pivot-frame and its dependents stale; cells on stale inputs say so first; the record has model checksums and no hash of a failed prompt cell', async () => {
    const template = fs.readFileSync(path.join(vscode.extensions.getExtension('alref.alref-notebooks')!.extensionPath, 'prompts', 'pivot-frame.cot.md'), 'utf8');
    const file = await squareNotebook('stale', [
      { id: 'pivot-box', yaml: 'stage: pivot-box\nid: pivot-box\n' },
      { id: 'propagate', yaml: 'stage: propagate\nid: propagate\n' },
    ]);
    const { doc } = await openNotebook(file);
    for (const id of ['video', 'reference', 'pivot-frame', 'pivot-box']) {
      await runOk(doc, id);
    }
    const pf = cellById(doc, 'pivot-frame');
    assert.ok(!(await statusItems(doc, pf)).some((t) => /stale/.test(t)));

    // A prompt cell that fails (unknown variable) leaves no hash of its text in the record.
    const badText = `template: pivot-frame.cot\n${template}\nAlso consider {{noSuchVariable}}.\n`;
    const edit = new vscode.WorkspaceEdit();
    edit.set(doc.uri, [vscode.NotebookEdit.insertCells(0, [new vscode.NotebookCellData(vscode.NotebookCellKind.Code, badText, 'alref-prompt')])]);
    assert.ok(await vscode.workspace.applyEdit(edit));
    const prompt = doc.cellAt(0);
    const failed = await executeCell(doc, prompt);
    assert.strictEqual(failed.executionSummary?.success, false);
    // The hash the record would hold: of the template text as the prompt cell parser reads it.
    const sha = (cellText: string): string => {
      const p = parsePromptCell(cellText);
      assert.ok(p.ok);
      return sha256(p.text);
    };
    assert.ok(!Object.values(record(doc).prompts).includes(sha(badText)), `the failed prompt's hash is in the record: ${JSON.stringify(record(doc).prompts)}`);

    // A valid override: pivot-frame (which used the default template) and pivot-box (computed from it) are stale.
    const goodText = `template: pivot-frame.cot\n${template}\nBe brief.\n`;
    const fix = new vscode.WorkspaceEdit();
    fix.replace(prompt.document.uri, new vscode.Range(0, 0, prompt.document.lineCount, 0), goodText);
    assert.ok(await vscode.workspace.applyEdit(fix));
    const ran = await executeCell(doc, doc.cellAt(0));
    assert.strictEqual(ran.executionSummary?.success, true, textOf(ran));
    const pfItems = await statusItems(doc, cellById(doc, 'pivot-frame'));
    assert.ok(pfItems.some((t) => t.includes('stale: prompt "pivot-frame.cot" changed')), `pivot-frame status: ${pfItems.join(' | ')}`);
    const pbItems = await statusItems(doc, cellById(doc, 'pivot-box'));
    assert.ok(pbItems.some((t) => t.includes('stale: prompt "pivot-frame.cot" changed')), `pivot-box status: ${pbItems.join(' | ')}`);

    // Propagate on the stale pivot-box: it runs, and its first output says the inputs were stale and why.
    const prop = await runOk(doc, 'propagate');
    const notice = noticeOf(prop);
    assert.ok(notice && notice.slot === 'stale-inputs', `first output: ${mimes(prop).join(', ')}`);
    assert.match(notice.text, /ran on stale inputs.*prompt "pivot-frame.cot" changed since upstream "pivot-frame" used it/i);
    // The record after a SAM 2 propagate names the model files and their sha256.
    const models = record(doc).models;
    const sam2 = Object.entries(models).filter(([k]) => k.startsWith('sam2'));
    assert.ok(sam2.length >= 2 && sam2.every(([, h]) => /^[0-9a-f]{64}$/.test(h)), `record.models: ${JSON.stringify(models)}`);
    assert.strictEqual(record(doc).prompts['pivot-frame.cot'], sha(goodText));

    // Re-running pivot-frame with the new prompt: fresh again; pivot-box now stale through it.
    await runOk(doc, 'pivot-frame');
    assert.ok(!(await statusItems(doc, cellById(doc, 'pivot-frame'))).some((t) => /stale/.test(t)));
    assert.ok((await statusItems(doc, cellById(doc, 'pivot-box'))).some((t) => t.includes('stale: "pivot-frame" changed')));
    const pb = await runOk(doc, 'pivot-box');
    assert.strictEqual(noticeOf(pb), undefined, 'pivot-box ran on fresh inputs');

    // Editing pivot-box without re-running it: propagate is marked stale, and a run of it says why first.
    await runOk(doc, 'propagate');
    const pbCell = cellById(doc, 'pivot-box');
    const pbEdit = new vscode.WorkspaceEdit();
    pbEdit.insert(pbCell.document.uri, new vscode.Position(pbCell.document.lineCount, 0), 'maxBoxes: 3\n');
    assert.ok(await vscode.workspace.applyEdit(pbEdit));
    const propItems = await statusItems(doc, cellById(doc, 'propagate'));
    assert.ok(propItems.some((t) => t.includes('stale: "pivot-box" changed')), `propagate status: ${propItems.join(' | ')}`);
    const prop2 = await runOk(doc, 'propagate');
    assert.match(noticeOf(prop2)?.text ?? '', /upstream "pivot-box" was edited since it ran/i);
  });

  test('a cell of unknown kind keeps its declared id; a missing source path is an editor error naming the resolved path', async () => {
    const dir = freshFolder('editing');
    const file = writeNotebook(path.join(dir, 'edit.alref'), [
      { id: 'cell-1', yaml: 'stage: video\nid: clip\nsource: ../nowhere/missing.mp4\n' },
      { id: 'cell-2', yaml: 'stage: pivot-fram\nid: my-pf\n' },
    ]);
    const { doc } = await openNotebook(file);
    const video = doc.cellAt(0);
    const resolved = path.resolve(dir, '../nowhere/missing.mp4');
    await waitFor(doc, () => vscode.languages.getDiagnostics(video.document.uri).some((d) => d.message.includes(resolved)), 30_000, 'the missing-path diagnostic');
    const diag = vscode.languages.getDiagnostics(video.document.uri).find((d) => d.message.includes(resolved))!;
    assert.strictEqual(diag.range.start.line, 2);
    assert.strictEqual(diag.severity, vscode.DiagnosticSeverity.Error);
    const bad = await executeCell(doc, doc.cellAt(1));
    assert.match(errorOf(bad)?.message ?? '', /Cell 2 \(id "my-pf"\).*Unknown stage kind "pivot-fram"/s);
    assert.ok((await statusItems(doc, doc.cellAt(1))).some((t) => t.includes('my-pf')));
  });
});
