import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import { MIME } from '../../src/common/mime';
import { pivotViewOf } from '../tooling/pivotOutputs';
import { cellById, closeAll, freshExample, openNotebook, runCellOk } from './helpers';

const dec = new TextDecoder();

suite('Export: HTML report of an open notebook', function () {
  this.timeout(300_000);
  suiteTeardown(closeAll);

  test('AL-Ref: Export as HTML Report writes one file holding the cells, the embedded images, the traces and the record', async () => {
    const file = freshExample('html');
    const { doc } = await openNotebook(file);
    for (const id of ['video', 'reference', 'pivot-frame']) {
      await runCellOk(doc, id);
    }
    const target = vscode.Uri.file(path.join(path.dirname(file), 'report.html'));
    const written = await vscode.commands.executeCommand<vscode.Uri>('alref.exportHtml', doc.uri, target);
    assert.strictEqual(written?.fsPath, target.fsPath);
    assert.ok(fs.existsSync(target.fsPath), 'the report file exists');
    const html = fs.readFileSync(target.fsPath, 'utf8');

    assert.match(html, /^<!DOCTYPE html>/);
    assert.match(html, /<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data:;/);
    assert.ok(!/<script/i.test(html), 'no script');
    // Every cell: markdown rendered, stage cells' YAML as text.
    assert.ok(html.includes('<h1>AL-Ref Notebooks demo</h1>'), 'the intro heading');
    for (const cell of doc.getCells().filter((c) => c.kind === vscode.NotebookCellKind.Code)) {
      const escaped = cell.document.getText().replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
      assert.ok(html.includes(escaped), `the source of cell ${cell.index + 1}`);
    }
    // Images embedded: one per image output of the cells that ran, and one per pivot view row.
    const imageOutputs = doc.getCells().flatMap((c) => c.outputs).filter((o) => o.items.some((i) => i.mime.startsWith('image/')));
    assert.ok(imageOutputs.length > 0);
    assert.strictEqual(html.match(/<img src="data:image\/(png|jpeg);base64,/g)?.length, imageOutputs.length + pivotViewOf(cellById(doc, 'pivot-frame').outputs).rows.length);
    // The traces, each answer highlighted: the compact pivot-frame cell keeps them in its pivot view,
    // whose rows the report draws with their grids (read from the run folder).
    const view = pivotViewOf(cellById(doc, 'pivot-frame').outputs);
    assert.ok(view.rows.length > 0 && view.rows.every((r) => r.trace), 'the pivot view holds the traces');
    const traces = [
      ...doc.getCells().flatMap((c) => c.outputs).flatMap((o) => o.items.filter((i) => i.mime === MIME.reasoningTrace)).map((i) => JSON.parse(dec.decode(i.data)) as { text: string; answer?: string; done: boolean }),
      ...view.rows.map((r) => ({ text: r.trace ?? '', answer: r.answer, done: true })),
    ];
    assert.strictEqual(html.match(/<mark class="answer">/g)?.length, traces.filter((t) => t.done && t.answer && t.text.includes(t.answer)).length);
    assert.strictEqual(html.match(/<details class="pivot-trace"><summary>[^<]*<\/summary><figure><img src="data:image\/jpeg;base64,/g)?.length, view.rows.length, 'each row\'s grid embedded');
    // The experiment record the kernel wrote into the notebook metadata.
    assert.match(html, /<h2>Experiment record<\/h2><table class="record">/);
    assert.match(html, /<td>pivot-frame\.cot<\/td><td>[0-9a-f]{64}<\/td>/);
  });
});
