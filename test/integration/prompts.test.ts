/**
 * Editing in the extension host: named prompt variants beside the built-in template
 * (chosen by a stage cell, recorded, stale per variant), template-name completion in prompt and
 * stage cells, "Insert Prompt Cell", word wrap in prompt cells, and the language of a cell added
 * below a prompt cell. Runs against the local OpenAI-compatible test server (no models needed).
 */
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import { PROMPT_LANGUAGE, STAGE_LANGUAGE } from '../../src/common/mime';
import type { ExperimentRecord } from '../../src/pipeline/format';
import { sha256 } from '../../src/pipeline/run/hash';
import { writeMovingSquare } from '../tooling/movingSquare';
import { OpenAiTestServer } from '../tooling/openaiServer';
import {
  cellById, cellStatusItems, closeAll, configureAlref, errorOf, executeCell, freshWorkspaceFolder, openNotebook, repoRoot, runCellOk, setCellText, textOf, waitFor, writeNotebookFile,
} from './helpers';

const KEY = 'sk-host-prompts-1515';
const V2 = 'V2 MARKER: the frames {{frameIds}} show "{{expression}}". Which frame shows it best? Answer [id].\n';

async function completionLabels(uri: vscode.Uri, line: number, character: number): Promise<string[]> {
  const list = await vscode.commands.executeCommand<vscode.CompletionList>('vscode.executeCompletionItemProvider', uri, new vscode.Position(line, character));
  return list.items.map((i) => (typeof i.label === 'string' ? i.label : i.label.label));
}

function record(doc: vscode.NotebookDocument): ExperimentRecord {
  const r = (doc.metadata.alref as { record?: ExperimentRecord } | undefined)?.record;
  assert.ok(r, 'no experiment record in the notebook metadata');
  return r;
}

suite('editing: prompt variants, template completion, Insert Prompt Cell (local LLM server)', function () {
  this.timeout(600_000);
  let server: OpenAiTestServer;

  suiteSetup(async () => {
    server = await OpenAiTestServer.start({ apiKey: KEY });
    server.setScript(() => ({ text: 'It is clearest in frame 2.\n[2]', chunkSize: 40 }));
    await configureAlref({ 'llm.baseUrl': server.baseUrl, 'llm.timeoutMs': 30_000, 'llm.maxRetries': 0 });
    await vscode.commands.executeCommand('alref.setApiKey', KEY);
  });

  suiteTeardown(async () => {
    await closeAll();
    await configureAlref({ 'llm.baseUrl': undefined, 'llm.timeoutMs': undefined, 'llm.maxRetries': undefined });
    await vscode.commands.executeCommand('alref.clearApiKey');
    await server.stop().catch(() => undefined);
  });

  async function variantNotebook(tag: string): Promise<vscode.NotebookDocument> {
    const dir = freshWorkspaceFolder('prompts', tag);
    await writeMovingSquare(path.join(dir, 'square'), { frames: 24, distractor: false });
    const file = writeNotebookFile(path.join(dir, 'variants.alref'), [
      { id: 'video', yaml: 'stage: video\nid: video\nsource: square\nfps: 8\ninterval: 3\nfilmstripFrames: 0\n' },
      { id: 'reference', yaml: 'stage: reference\nid: reference\nexpression: the white square\n' },
      { id: 'p-v2', yaml: `template: pivot-frame.cot/v2\n${V2}`, language: PROMPT_LANGUAGE },
      { id: 'pf', yaml: 'stage: pivot-frame\nid: pf\n' },
      { id: 'pf2', yaml: 'stage: pivot-frame\nid: pf2\ntemplate: pivot-frame.cot/v2\n' },
    ], 'record');
    return (await openNotebook(file)).doc;
  }

  test('a prompt cell defines pivot-frame.cot/v2 beside the built-in; a stage cell chooses it; both hashes recorded; editing it makes only its user stale', async () => {
    const doc = await variantNotebook('variants');
    await runCellOk(doc, 'video');
    await runCellOk(doc, 'reference');
    const prompt = await runCellOk(doc, 'p-v2');
    assert.match(textOf(prompt), /Prompt variant.*pivot-frame\.cot\/v2.*of.*pivot-frame\.cot/);
    const start = server.requests.length;
    await runCellOk(doc, 'pf');
    const mid = server.requests.length;
    await runCellOk(doc, 'pf2');
    const builtIn = server.requests.slice(start, mid).map((r) => r.text);
    const variant = server.requests.slice(mid).map((r) => r.text);
    assert.ok(builtIn.length > 0 && builtIn.every((t) => !t.includes('V2 MARKER')), 'pf sends the built-in template');
    assert.ok(variant.length > 0 && variant.every((t) => t.includes('V2 MARKER') && t.includes('"the white square"')), 'pf2 sends the variant, filled in');
    const prompts = record(doc).prompts;
    assert.strictEqual(prompts['pivot-frame.cot/v2'], sha256(V2));
    assert.match(prompts['pivot-frame.cot'] ?? '', /^[0-9a-f]{64}$/, `record.prompts: ${JSON.stringify(prompts)}`);

    // Edit the variant without running anything: pf2 is stale because of it, pf is not.
    const promptCell = cellById(doc, 'p-v2');
    await setCellText(promptCell, `template: pivot-frame.cot/v2\n${V2}Think step by step first.\n`);
    const pf2Items = await cellStatusItems(doc, cellById(doc, 'pf2'));
    assert.ok(pf2Items.some((t) => t.includes('stale: prompt "pivot-frame.cot/v2" changed')), `pf2 status: ${pf2Items.join(' | ')}`);
    const pfItems = await cellStatusItems(doc, cellById(doc, 'pf'));
    assert.ok(!pfItems.some((t) => /stale/.test(t)), `pf status: ${pfItems.join(' | ')}`);

    // A stage cell naming a variant no prompt cell defines: an editor error on its template line, and the run refuses it by name.
    const pf = cellById(doc, 'pf');
    await setCellText(pf, 'stage: pivot-frame\nid: pf\ntemplate: pivot-frame.cot/v9\n');
    const about = (): vscode.Diagnostic[] => vscode.languages.getDiagnostics(pf.document.uri).filter((d) => d.message.includes('pivot-frame.cot/v9'));
    await waitFor(doc, () => about().length > 0, 30_000, 'a diagnostic on the undefined variant');
    assert.strictEqual(about()[0].range.start.line, 2);
    const failed = await executeCell(doc, pf);
    assert.match(errorOf(failed)?.message ?? '', /No prompt cell of this notebook defines the template variant "pivot-frame\.cot\/v9"/);
  });

  test('Insert Prompt Cell pre-fills the default text; template names complete in prompt and stage cells; prompt cells wrap; a cell added below a prompt cell is a stage cell', async () => {
    const dir = freshWorkspaceFolder('prompts', 'editing');
    const file = writeNotebookFile(path.join(dir, 'edit.alref'), [{ id: 'pb', yaml: 'stage: pivot-box\nid: pb\ntemplate: \n' }], 'replay');
    const { doc, editor } = await openNotebook(file);

    const index = await vscode.commands.executeCommand<number>('alref.insertPromptCell', { template: 'pivot-box.cot', variant: 'short', notebook: doc.uri, index: 1 });
    assert.strictEqual(index, 1);
    const promptCell = doc.cellAt(1);
    assert.strictEqual(promptCell.document.languageId, PROMPT_LANGUAGE);
    const defaultText = fs.readFileSync(path.join(repoRoot(), 'prompts', 'pivot-box.cot.md'), 'utf8').replace(/\n+$/, '');
    assert.strictEqual(promptCell.document.getText(), `template: pivot-box.cot/short\n${defaultText}\n`);

    assert.strictEqual(vscode.workspace.getConfiguration('editor', { languageId: PROMPT_LANGUAGE }).get('wordWrap'), 'on');
    assert.notStrictEqual(vscode.workspace.getConfiguration('editor', { languageId: STAGE_LANGUAGE }).get('wordWrap'), 'on');

    const inPrompt = await completionLabels(promptCell.document.uri, 0, 'template: '.length);
    for (const n of ['pivot-frame.cot', 'pivot-box.cot', 'lbru.cot', 'pivot-box.cot/short']) {
      assert.ok(inPrompt.includes(n), `prompt cell: ${n} not offered (got ${inPrompt.join(', ')})`);
    }
    const inStage = await completionLabels(doc.cellAt(0).document.uri, 2, 'template: '.length);
    assert.ok(inStage.includes('pivot-box.select') && inStage.includes('pivot-box.cot/short'), `stage cell: ${inStage.join(', ')}`);
    assert.ok(!inStage.includes('pivot-frame.cot'), 'a pivot-frame template is offered in a pivot-box cell');

    // An empty cell added below the prompt cell in its language (what VS Code's "insert code cell below" does) becomes a stage cell.
    const edit = new vscode.WorkspaceEdit();
    edit.set(doc.uri, [vscode.NotebookEdit.insertCells(2, [new vscode.NotebookCellData(vscode.NotebookCellKind.Code, '', PROMPT_LANGUAGE)])]);
    assert.ok(await vscode.workspace.applyEdit(edit));
    await waitFor(doc, () => doc.cellAt(2).document.languageId === STAGE_LANGUAGE, 15_000, 'the new cell to take the stage language');
    // And through the editor's own command, with the prompt cell selected.
    editor.selections = [new vscode.NotebookRange(1, 2)];
    await vscode.commands.executeCommand('notebook.cell.insertCodeCellBelow');
    await waitFor(doc, () => doc.cellCount === 4 && doc.cellAt(2).document.getText() === '' && doc.cellAt(2).document.languageId === STAGE_LANGUAGE, 15_000, 'the cell inserted below the prompt cell to be a stage cell');
  });
});
