import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import { NOTEBOOK_TYPE } from '../../src/common/mime';
import { activateExtension, closeAll, EXTENSION_ID, freshExample, openNotebook, repoRoot, workspaceRoot } from './helpers';

suite('Extension host: activation and notebook type', () => {
  suiteTeardown(closeAll);

  test('the test host runs a real VS Code with the extension under development loaded', async () => {
    const ext = await activateExtension();
    assert.strictEqual(ext.isActive, true);
    assert.strictEqual(ext.id, EXTENSION_ID);
    // The loaded extension is this checkout, not an installed copy.
    assert.strictEqual(fs.realpathSync(ext.extensionPath), fs.realpathSync(repoRoot()));
    const pkg = ext.packageJSON as { engines: { vscode: string }; contributes: { notebooks: { type: string }[] } };
    // The host is a release the manifest accepts: same major, minor at least the `^x.y.z` floor.
    const host = /^(\d+)\.(\d+)\.(\d+)/.exec(vscode.version);
    const floor = /^\^(\d+)\.(\d+)\.(\d+)$/.exec(pkg.engines.vscode);
    assert.ok(host, `VS Code version ${vscode.version} is not x.y.z`);
    assert.ok(floor, `engines.vscode ${pkg.engines.vscode} is not ^x.y.z`);
    assert.strictEqual(Number(host[1]), Number(floor[1]), `VS Code ${vscode.version} vs engines.vscode ${pkg.engines.vscode}`);
    assert.ok(Number(host[2]) >= Number(floor[2]), `VS Code ${vscode.version} is older than engines.vscode ${pkg.engines.vscode}`);
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
