import * as assert from 'assert';
import * as vscode from 'vscode';
import { closeAll, freshExample, insertStageCell, openNotebook, setCellText } from './helpers';

/** Polls `check` until it is true; rejects after `timeoutMs` naming `what`. */
async function until(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const start = Date.now();
  while (!check()) {
    if (Date.now() - start > timeoutMs) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function completionLabels(uri: vscode.Uri, line: number, character: number): Promise<string[]> {
  const list = await vscode.commands.executeCommand<vscode.CompletionList>('vscode.executeCompletionItemProvider', uri, new vscode.Position(line, character));
  return list.items.map((i) => (typeof i.label === 'string' ? i.label : i.label.label));
}

suite('Editor support in stage cells: diagnostics and completions', () => {
  suiteTeardown(closeAll);

  test('a field of the wrong type is marked on its line with the field named; fixing it clears the mark', async () => {
    const { doc } = await openNotebook(freshExample('diagnostics'));
    const cell = await insertStageCell(doc, doc.cellCount, 'stage: video\nsource: ../media/samples/01_dog.mp4\nframesPerClip: many\n');
    const about = (): vscode.Diagnostic[] => vscode.languages.getDiagnostics(cell.document.uri).filter((d) => /framesPerClip/.test(d.message));
    await until(() => about().length > 0, 15_000, 'a diagnostic naming framesPerClip');
    const [d] = about();
    assert.strictEqual(d.severity, vscode.DiagnosticSeverity.Error);
    assert.strictEqual(d.range.start.line, 2, `diagnostic on line ${d.range.start.line}, expected the framesPerClip line`);
    await setCellText(cell, 'stage: video\nsource: ../media/samples/01_dog.mp4\nframesPerClip: 5\n');
    await until(() => about().length === 0, 15_000, 'the framesPerClip diagnostic to clear');
  });

  test('an unknown stage kind is marked with the known kinds suggested', async () => {
    const { doc } = await openNotebook(freshExample('diagnostics-kind'));
    const cell = await insertStageCell(doc, doc.cellCount, 'stage: pivot-frames\n');
    const diags = (): vscode.Diagnostic[] => vscode.languages.getDiagnostics(cell.document.uri);
    await until(() => diags().length > 0, 15_000, 'a diagnostic on the unknown stage kind');
    assert.ok(diags().some((d) => /pivot-frames/.test(d.message) && /pivot-frame\b/.test(d.message)), `no helpful message: ${diags().map((d) => d.message).join(' | ')}`);
  });

  test('completions offer the stage kinds after "stage:" and the fields of the cell\'s kind', async () => {
    const { doc } = await openNotebook(freshExample('completions'));
    const cell = await insertStageCell(doc, doc.cellCount, 'stage: \n');
    const kinds = await completionLabels(cell.document.uri, 0, 7);
    for (const k of ['video', 'reference', 'lbru', 'pivot-frame', 'pivot-box', 'propagate', 'evaluate']) {
      assert.ok(kinds.includes(k), `stage kind ${k} not offered (got ${kinds.join(', ')})`);
    }
    await setCellText(cell, 'stage: video\n\n');
    const fields = await completionLabels(cell.document.uri, 1, 0);
    for (const f of ['source', 'preset', 'framesPerClip']) {
      assert.ok(fields.includes(f), `field ${f} not offered (got ${fields.join(', ')})`);
    }
    assert.ok(!fields.includes('candidates'), 'a pivot-box field is offered in a video cell');
  });
});
