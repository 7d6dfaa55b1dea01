import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import { NOTEBOOK_TYPE } from '../../src/common/mime';
import { activateExtension, closeAll, EXTENSION_ID, freshExample, openNotebook, workspaceRoot } from './helpers';

suite('Extension host: activation and notebook type', () => {
  suiteTeardown(closeAll);

  test('the test host runs a real VS Code with the extension under development loaded', async () => {
    assert.ok(vscode.version.length > 0);
    const ext = await activateExtension();
    assert.strictEqual(ext.isActive, true);
    assert.strictEqual(ext.id, EXTENSION_ID);
    const pkg = ext.packageJSON as { contributes: { notebooks: { type: string }[] } };
    assert.deepStrictEqual(pkg.contributes.notebooks.map((n) => n.type), [NOTEBOOK_TYPE]);
  });

  test('examples/demo.alref opens as an alref-notebook with YAML stage cells', async () => {
    assert.ok(fs.existsSync(path.join(workspaceRoot(), 'examples', 'demo.alref')), 'examples/demo.alref missing from the test workspace');
    const { doc, editor } = await openNotebook(freshExample('activation'));
    assert.strictEqual(doc.notebookType, NOTEBOOK_TYPE);
    assert.strictEqual(vscode.window.activeNotebookEditor, editor);
    const code = doc.getCells().filter((c) => c.kind === vscode.NotebookCellKind.Code);
    assert.ok(code.length > 0, 'the demo has no code cells');
    assert.ok(code.every((c) => c.document.languageId === 'alref' || c.document.languageId === 'alref-prompt'),
      `unexpected cell languages: ${code.map((c) => c.document.languageId).join(', ')}`);
    assert.ok(code.some((c) => /^\s*stage\s*:\s*video\s*$/m.test(c.document.getText())), 'the demo has no `stage: video` cell');
  });
});
