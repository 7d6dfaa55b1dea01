/**
 * Pivot overrides in the extension host: an `applyOverride` message (as the pivot view posts on a
 * click) writes `overrides:` into the pivot-frame cell's YAML, keeping its comment, through a
 * workspace edit; the cell and the cells downstream of it show as stale; a re-run sends no request
 * for the overridden clip and marks it overridden in the pivot view, with the change since the
 * previous run. Runs against the local OpenAI-compatible test server.
 */
import * as assert from 'assert';
import * as path from 'path';
import * as vscode from 'vscode';
import { isApplyOverrideRequest } from '../../src/common/messages';
import { MIME } from '../../src/common/mime';
import type { PivotViewPayload } from '../../src/common/payloads';
import { applyPivotOverride } from '../../src/notebook/overrides';
import { writeMovingSquare } from '../tooling/movingSquare';
import { OpenAiTestServer } from '../tooling/openaiServer';
import { cellById, cellStatusItems, closeAll, configureAlref, freshWorkspaceFolder, openNotebook, runCellOk, writeNotebookFile } from './helpers';

const KEY = 'sk-host-override-77';

function viewOf(cell: vscode.NotebookCell): PivotViewPayload {
  const item = cell.outputs.flatMap((o) => o.items).find((i) => i.mime === MIME.pivotView);
  assert.ok(item, `no pivot view in the outputs of cell ${cell.index + 1}`);
  return JSON.parse(Buffer.from(item.data).toString('utf8')) as PivotViewPayload;
}

suite('pivot overrides in the extension host (local LLM server)', function () {
  this.timeout(600_000);
  let server: OpenAiTestServer;

  suiteSetup(async () => {
    server = await OpenAiTestServer.start({ apiKey: KEY });
    server.setScript((r) => (r.text.includes('box 1') ? { text: 'Box 1 holds the square. [1]' } : { text: 'The square is clearest in frame 3. [3]' }));
    await configureAlref({ 'llm.baseUrl': server.baseUrl, 'llm.timeoutMs': 30_000, 'llm.maxRetries': 0 });
    await vscode.commands.executeCommand('alref.setApiKey', KEY);
  });

  suiteTeardown(async () => {
    await closeAll();
    await configureAlref({ 'llm.baseUrl': undefined, 'llm.timeoutMs': undefined, 'llm.maxRetries': undefined });
    await vscode.commands.executeCommand('alref.clearApiKey');
    await server.stop().catch(() => undefined);
  });

  test('an applyOverride message writes overrides: into the cell, marks it and pivot-box stale, and the re-run skips that clip', async () => {
    const dir = freshWorkspaceFolder('overrides', 'host');
    await writeMovingSquare(path.join(dir, 'square'), { frames: 48, distractor: false });
    const file = writeNotebookFile(path.join(dir, 'square.alref'), [
      { id: 'video', yaml: 'stage: video\nid: video\nsource: square\nfps: 8\ninterval: 3\nfilmstripFrames: 0\n' },
      { id: 'reference', yaml: 'stage: reference\nid: reference\nexpression: the white square\n' },
      { id: 'pivot-frame', yaml: '# the frame where the square is clearest\nstage: pivot-frame\nid: pivot-frame\n' },
      { id: 'pivot-box', yaml: 'stage: pivot-box\nid: pivot-box\ncandidates: [[0, 0, 40, 40], [20, 20, 80, 80]]\n' },
    ], 'live');
    const { doc } = await openNotebook(file);
    for (const id of ['video', 'reference', 'pivot-frame', 'pivot-box']) {
      await runCellOk(doc, id);
    }
    const first = viewOf(cellById(doc, 'pivot-frame'));
    assert.ok(first.rows.length >= 2, `rows: ${first.rows.length}`);
    assert.ok(first.rows.every((r) => r.answer === '[3]' && !r.overridden));
    assert.ok(!(await cellStatusItems(doc, cellById(doc, 'pivot-box'))).some((t) => /stale/.test(t)));

    const row = first.rows[1];
    const chosen = row.frames[0];
    const msg = { type: 'applyOverride', notebookUri: doc.uri.toString(), cellId: 'pivot-frame', object: row.objectId, clip: row.clip, frameIndex: chosen };
    assert.ok(isApplyOverrideRequest(msg));
    await applyPivotOverride(msg);

    const text = cellById(doc, 'pivot-frame').document.getText();
    assert.ok(text.startsWith('# the frame where the square is clearest\nstage: pivot-frame\n'), text);
    assert.match(text, new RegExp(`overrides:\\n  - \\{ clip: ${row.clip}, object: ${row.objectId}, frame: ${chosen} \\}\\n`));
    assert.ok(doc.isDirty, 'the edit marks the notebook dirty');
    const pfStatus = await cellStatusItems(doc, cellById(doc, 'pivot-frame'));
    assert.ok(pfStatus.some((t) => t.includes('stale: edited')), `pivot-frame status: ${pfStatus.join(' | ')}`);
    const pbStatus = await cellStatusItems(doc, cellById(doc, 'pivot-box'));
    assert.ok(pbStatus.some((t) => t.includes('stale: "pivot-frame" changed')), `pivot-box status: ${pbStatus.join(' | ')}`);

    // The same click again replaces the entry; a wrong kind of cell is refused.
    await applyPivotOverride({ ...msg, frameIndex: row.frames[1] } as typeof msg);
    assert.strictEqual((cellById(doc, 'pivot-frame').document.getText().match(/clip:/g) ?? []).length, 1);
    await assert.rejects(applyPivotOverride({ ...msg, cellId: 'pivot-box' } as typeof msg), /pivot-box cell; this override belongs in a pivot-frame cell/);

    const before = server.requests.length;
    const rerun = await runCellOk(doc, 'pivot-frame');
    assert.strictEqual(server.requests.length - before, first.rows.length - 1, 'no request for the overridden clip');
    const view = viewOf(rerun);
    const over = view.rows.find((r) => r.clip === row.clip)!;
    assert.deepStrictEqual([over.overridden, over.frameIndex, over.valid], [true, row.frames[1], true]);
    assert.deepStrictEqual(view.changes, [`clip ${row.clip}: [3] -> [2] (overridden)`]);
    assert.ok(!(await cellStatusItems(doc, cellById(doc, 'pivot-frame'))).some((t) => /stale/.test(t)));
    assert.ok((await cellStatusItems(doc, cellById(doc, 'pivot-box'))).some((t) => t.includes('stale: "pivot-frame" changed')));
  });
});
