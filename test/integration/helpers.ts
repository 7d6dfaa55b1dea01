/**
 * Helpers for the in-host suites: they drive the real VS Code API (open, select kernel, execute,
 * cancel, save) and wait on document events rather than sleeping.
 */
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import { CONTROLLER_ID, NOTEBOOK_TYPE } from '../../src/common/mime';

export const EXTENSION_ID = 'alref.alref-notebooks';
export const ERROR_MIME = 'application/vnd.code.notebook.error';

/** Root of the throwaway workspace the harness opened (a copy of examples/ and samples). */
export function workspaceRoot(): string {
  const folder = vscode.workspace.workspaceFolders?.[0];
  assert.ok(folder, 'the test run must open a workspace folder (the harness passes a copy of the fixtures)');
  return folder.uri.fsPath;
}

/** Repository root (for node_modules tools such as the bundled ffmpeg). */
export function repoRoot(): string {
  return process.env.ALREF_TEST_REPO_ROOT ?? path.resolve(__dirname, '..', '..');
}

/** Activates the extension under test and returns it. */
export async function activateExtension(): Promise<vscode.Extension<unknown>> {
  const ext = vscode.extensions.getExtension(EXTENSION_ID);
  assert.ok(ext, `extension ${EXTENSION_ID} is not loaded in this host`);
  await ext.activate();
  return ext;
}

let copies = 0;
/**
 * Copies the workspace's `examples/` folder to a sibling `examples-<tag>-<n>/` (so relative paths in
 * the notebooks keep resolving) and returns the path of `file` in the copy. Each test gets its own files.
 */
export function freshExample(tag: string, file = 'demo.alref'): string {
  const root = workspaceRoot();
  const dest = path.join(root, `examples-${tag}-${++copies}`);
  fs.cpSync(path.join(root, 'examples'), dest, {
    recursive: true,
    // Keep recorded LLM exchanges; drop decoded-frame caches so each copy decodes its video.
    filter: (src) => !/\.alref\.runs[\\/](frames|tmp)([\\/]|$)/.test(src),
  });
  return path.join(dest, file);
}

/** Opens a notebook file, shows it, and selects the AL-Ref controller for it. */
export async function openNotebook(file: string): Promise<{ doc: vscode.NotebookDocument; editor: vscode.NotebookEditor }> {
  const doc = await vscode.workspace.openNotebookDocument(vscode.Uri.file(file));
  assert.strictEqual(doc.notebookType, NOTEBOOK_TYPE, `${path.basename(file)} opened as ${doc.notebookType}`);
  const editor = await vscode.window.showNotebookDocument(doc);
  await vscode.commands.executeCommand('notebook.selectKernel', { notebookEditor: editor, id: CONTROLLER_ID, extension: EXTENSION_ID });
  return { doc, editor };
}

/** Resolves when `check()` is true after a change to `doc` (or at once); rejects after `timeoutMs`. */
export function waitFor(doc: vscode.NotebookDocument, check: () => boolean, timeoutMs: number, what: string): Promise<void> {
  if (check()) {
    return Promise.resolve();
  }
  return new Promise((resolve, reject) => {
    const poll = setInterval(() => settle(), 250);
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
    }, timeoutMs);
    const sub = vscode.workspace.onDidChangeNotebookDocument((e) => {
      if (e.notebook === doc) {
        settle();
      }
    });
    function cleanup() {
      clearInterval(poll);
      clearTimeout(timer);
      sub.dispose();
    }
    function settle() {
      if (check()) {
        cleanup();
        resolve();
      }
    }
  });
}

/** Finds the first code cell whose YAML declares `stage: <kind>` (or `kind: <kind>`). */
export function stageCell(doc: vscode.NotebookDocument, kind: string): vscode.NotebookCell {
  const re = new RegExp(`^\\s*(stage|kind)\\s*:\\s*['"]?${kind}['"]?\\s*$`, 'm');
  const cell = doc.getCells().find((c) => c.kind === vscode.NotebookCellKind.Code && re.test(c.document.getText()));
  assert.ok(cell, `no "${kind}" stage cell in ${path.basename(doc.uri.fsPath)}`);
  return cell;
}

/** Executes one cell through the `notebook.cell.execute` command and waits until that run has ended. */
export async function executeCell(doc: vscode.NotebookDocument, cell: vscode.NotebookCell, timeoutMs = 120_000): Promise<vscode.NotebookCell> {
  const before = Date.now();
  const range = { start: cell.index, end: cell.index + 1 };
  const finished = waitFor(doc, () => ended(doc.cellAt(range.start), before), timeoutMs, `cell ${cell.index + 1} to finish`);
  await vscode.commands.executeCommand('notebook.cell.execute', { ranges: [range], document: doc.uri });
  await finished;
  return doc.cellAt(range.start);
}

/**
 * True when a run of the cell that started at or after `since` (ms epoch, same clock: the suites run
 * in the extension host) has ended. Controllers call `start(Date.now())` and `end(success, Date.now())`.
 */
export function ended(cell: vscode.NotebookCell, since: number): boolean {
  const t = cell.executionSummary?.timing;
  return t !== undefined && t.startTime >= since && t.endTime >= t.startTime;
}

/** Replaces a cell's source text. */
export async function setCellText(cell: vscode.NotebookCell, text: string): Promise<void> {
  const edit = new vscode.WorkspaceEdit();
  const all = new vscode.Range(0, 0, cell.document.lineCount, 0);
  edit.replace(cell.document.uri, all, text);
  assert.ok(await vscode.workspace.applyEdit(edit), 'cell edit was not applied');
}

/** Inserts a code cell (language `alref`) at `index` and returns it. */
export async function insertStageCell(doc: vscode.NotebookDocument, index: number, yaml: string): Promise<vscode.NotebookCell> {
  const edit = new vscode.WorkspaceEdit();
  const data = new vscode.NotebookCellData(vscode.NotebookCellKind.Code, yaml, 'alref');
  edit.set(doc.uri, [vscode.NotebookEdit.insertCells(index, [data])]);
  assert.ok(await vscode.workspace.applyEdit(edit), 'cell insert was not applied');
  return doc.cellAt(index);
}

/** All MIME types of a cell's outputs, flattened. */
export function mimes(cell: vscode.NotebookCell): string[] {
  return cell.outputs.flatMap((o) => o.items.map((i) => i.mime));
}

/** The `{ name, message }` of the cell's first error output, if any. */
export function errorOf(cell: vscode.NotebookCell): { name: string; message: string } | undefined {
  for (const o of cell.outputs) {
    for (const item of o.items) {
      if (item.mime === ERROR_MIME) {
        return JSON.parse(Buffer.from(item.data).toString('utf8')) as { name: string; message: string };
      }
    }
  }
  return undefined;
}

/** Text of all `text/markdown` and `text/plain` items of a cell. */
export function textOf(cell: vscode.NotebookCell): string {
  return cell.outputs
    .flatMap((o) => o.items)
    .filter((i) => i.mime === 'text/markdown' || i.mime === 'text/plain' || i.mime === ERROR_MIME)
    .map((i) => Buffer.from(i.data).toString('utf8'))
    .join('\n');
}

/** Saves and closes every editor, so no save prompt can block (the workspace is a throwaway copy). */
export async function closeAll(): Promise<void> {
  await vscode.commands.executeCommand('workbench.action.files.saveAll');
  await vscode.commands.executeCommand('workbench.action.closeAllEditors');
}

/** One code cell of a notebook written by {@link writeNotebookFile}. */
export interface CellSpec {
  id: string;
  yaml: string;
  /** Default `alref` (a stage cell); `alref-prompt` for a prompt cell. */
  language?: string;
}

/** Writes a `.alref` notebook (nbformat 4) with one code cell per spec, in LLM mode `mode`. */
export function writeNotebookFile(file: string, cells: CellSpec[], mode: 'record' | 'replay' | 'live'): string {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const nb = {
    cells: cells.map((c) => ({
      cell_type: 'code', execution_count: null, id: c.id, metadata: { vscode: { languageId: c.language ?? 'alref' } }, outputs: [],
      source: c.yaml.split(/(?<=\n)/),
    })),
    metadata: { alref: { formatVersion: 1, llmMode: mode } },
    nbformat: 4,
    nbformat_minor: 5,
  };
  fs.writeFileSync(file, JSON.stringify(nb, null, 1));
  return file;
}

let workspaceFolders = 0;
/** A fresh folder `<prefix>-<tag>-<n>` inside the workspace copy. */
export function freshWorkspaceFolder(prefix: string, tag: string): string {
  const dir = path.join(workspaceRoot(), `${prefix}-${tag}-${++workspaceFolders}`);
  fs.mkdirSync(dir, { recursive: true });
  return dir;
}

/** The cell whose metadata id is `id`, or whose YAML declares `id: <id>`. */
export function cellById(doc: vscode.NotebookDocument, id: string): vscode.NotebookCell {
  const cell = doc.getCells().find((c) => c.metadata?.id === id || new RegExp(`^\\s*id\\s*:\\s*${id}\\s*$`, 'm').test(c.document.getText()));
  assert.ok(cell, `no cell "${id}"`);
  return cell;
}

/** Runs a cell and asserts it succeeded without an error output. */
export async function runCellOk(doc: vscode.NotebookDocument, id: string, timeoutMs = 240_000): Promise<vscode.NotebookCell> {
  const cell = await executeCell(doc, cellById(doc, id), timeoutMs);
  const err = errorOf(cell);
  assert.strictEqual(err, undefined, `cell ${id} failed: ${err?.message}`);
  assert.strictEqual(cell.executionSummary?.success, true, `cell ${id} did not succeed (outputs: ${mimes(cell).join(', ')})`);
  return cell;
}

/** The texts of a cell's status bar items (through the extension's internal test command). */
export async function cellStatusItems(doc: vscode.NotebookDocument, cell: vscode.NotebookCell): Promise<string[]> {
  const items = await vscode.commands.executeCommand<Array<{ text: string }>>('alref._cellStatusItems', doc.uri, cell.index);
  return items.map((i) => i.text);
}

/** Sets `alref.*` settings globally (undefined removes one). */
export async function configureAlref(values: Record<string, unknown>): Promise<void> {
  const config = vscode.workspace.getConfiguration('alref');
  for (const [key, value] of Object.entries(values)) {
    await config.update(key, value, vscode.ConfigurationTarget.Global);
  }
}
