import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, readlinkSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { exportNotebookFile, runNotebookFile } from '../../../../src/cli/commands/notebook';
import { ERROR_MIME, parseNotebook, serializeNotebook } from '../../../../src/pipeline/format';
import type { NotebookModel } from '../../../../src/pipeline/format';
import { PipelineError } from '../../../../src/pipeline/errors';
import { checkWritable, writeFileAtomic } from '../../../../src/pipeline/run/runFolder';
import { tempDir } from '../../../tooling/media';
import type { TempDir } from '../../../tooling/media';

const ROOT = path.resolve(__dirname, '../../../..');
const FIXTURE = path.join(ROOT, 'test/fixtures/notebooks/jupyter-extras.alref');
const PNG = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==';
const dec = new TextDecoder();

type Json = Record<string, any>;

function notebook(cells: Array<[string, string, string]>): NotebookModel {
  return {
    metadata: { alref: { formatVersion: 1 } },
    cells: cells.map(([id, language, source]) => ({ kind: language === 'markdown' ? 'markdown' : 'code', language, source, metadata: { id }, outputs: [] })),
  };
}

/** Every file under `dir` whose name ends in `.tmp` (what a failed atomic write could leave). */
function tempFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.tmp'));
}

suite('cli: what notebook run and export write', () => {
  let tmp: TempDir;
  let stderrWrite: typeof process.stderr.write;
  let stderr: string[];
  setup(() => {
    tmp = tempDir('alref-writes-');
    stderr = [];
    stderrWrite = process.stderr.write.bind(process.stderr);
    process.stderr.write = ((chunk: string | Uint8Array) => {
      stderr.push(typeof chunk === 'string' ? chunk : dec.decode(chunk));
      return true;
    }) as typeof process.stderr.write;
  });
  teardown(() => {
    process.stderr.write = stderrWrite;
    tmp.remove();
  });

  test('attachments and unknown nbformat fields survive a run in place, a run with --out and an export', async () => {
    const file = path.join(tmp.path, 'nb.alref');
    copyFileSync(FIXTURE, file);
    const original = readFileSync(file, 'utf8');
    const out = path.join(tmp.path, 'out.alref');
    assert.equal(await runNotebookFile(file, { out }), 0);
    assert.equal(readFileSync(file, 'utf8'), original, '--out never writes the input');
    assert.equal(await runNotebookFile(file, {}), 0);
    const ipynb = await exportNotebookFile(file, path.join(tmp.path, 'nb.ipynb'));
    for (const written of [out, file, ipynb]) {
      const raw = JSON.parse(readFileSync(written, 'utf8')) as Json;
      assert.deepEqual(raw.cells[0].attachments, { 'dog.png': { 'image/png': PNG } }, written);
      assert.deepEqual(raw.cells[1].attachments, { 'note.txt': { 'text/plain': 'hello' } }, written);
      assert.equal(raw.cells[0]['x-cell-extra'], 42, written);
      assert.deepEqual(raw['x-unknown-top'], { kept: true }, written);
      assert.deepEqual(raw.metadata.__proto__, { polluted: true }, written);
      assert.deepEqual(Object.keys(raw.cells[0].metadata), ['__proto__', 'editable', 'tags'], written);
      assert.equal(raw.cells[2].outputs[1].output_type, 'execute_result', written);
      assert.equal(raw.cells[2].outputs[1]['x-result-extra'], 'kept', written);
      // The stage cell really ran.
      assert.equal(raw.cells[4].execution_count, 1, written);
    }
  });

  test('a YAML alias error is an error of its cell: earlier cells keep their results and the notebook is written', async () => {
    const file = path.join(tmp.path, 'alias.alref');
    const bomb = ['a0: &a0 [l, l, l, l, l, l, l, l, l]', ...Array.from({ length: 8 }, (_, i) => `a${i + 1}: &a${i + 1} [${Array(9).fill(`*a${i}`).join(', ')}]`)].join('\n');
    writeFileSync(
      file,
      serializeNotebook(notebook([['ref', 'alref', 'stage: reference\nexpression: the dog\n'], ['bad', 'alref', 'stage: reference\nexpression: *x\n'], ['bomb', 'alref', `stage: reference\nexpression: y\n${bomb}\n`]])),
    );
    assert.equal(await runNotebookFile(file, {}), 1);
    const nb = parseNotebook(readFileSync(file, 'utf8'));
    assert.equal(nb.cells[0].executionSummary?.success, true, 'the first cell ran and its result was written');
    assert.ok(nb.cells[0].outputs.length > 0);
    assert.equal(nb.cells[1].executionSummary?.success, false);
    const err = JSON.parse(dec.decode(nb.cells[1].outputs[0].items.find((i) => i.mime === ERROR_MIME)!.data)) as { message: string };
    assert.match(err.message, /^Cell 2 \(id "bad"\), line 2: Invalid YAML: the alias "\*x" names no anchor/);
    // The alias bomb, run on its own with --out, is a named cell error too.
    const only = path.join(tmp.path, 'bomb.alref');
    writeFileSync(only, serializeNotebook(notebook([['bomb', 'alref', `stage: reference\nexpression: y\n${bomb}\n`]])));
    assert.equal(await runNotebookFile(only, { out: path.join(tmp.path, 'bomb.out.alref') }), 1);
    const b = parseNotebook(readFileSync(path.join(tmp.path, 'bomb.out.alref'), 'utf8'));
    assert.match(dec.decode(b.cells[0].outputs[0].items[0].data), /Cell 1 \(id \\"bomb\\"\), line 4: Invalid YAML: aliases expand to too many values/);
  });

  test('an output path that is a folder (or under a file) fails before any cell runs, naming the path, leaving no temp file', async () => {
    const file = path.join(tmp.path, 'nb.alref');
    const text = serializeNotebook(notebook([['ref', 'alref', 'stage: reference\nexpression: x\n']]));
    writeFileSync(file, text);
    const folder = path.join(tmp.path, 'a folder');
    mkdirSync(folder);
    await assert.rejects(runNotebookFile(file, { out: folder }), (err: unknown) => {
      assert.ok(err instanceof PipelineError);
      assert.equal(err.message, `Cannot write ${folder}: it is a folder (EISDIR).`);
      return true;
    });
    const underFile = path.join(file, 'x.alref');
    await assert.rejects(runNotebookFile(file, { out: underFile }), new RegExp(`Cannot write ${underFile.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: a part of the path is a file`));
    assert.equal(stderr.join('').includes('running'), false, 'no cell ran');
    assert.equal(readFileSync(file, 'utf8'), text);
    assert.deepEqual(tempFiles(tmp.path), []);
    assert.deepEqual(readdirSync(folder), []);
  });

  test('an in-place run writes through a symbolic link (the link stays a link), also with --out onto a link', async () => {
    const real = path.join(tmp.path, 'real', 'nb.alref');
    mkdirSync(path.dirname(real));
    writeFileSync(real, serializeNotebook(notebook([['ref', 'alref', 'stage: reference\nexpression: x\n']])));
    const link = path.join(tmp.path, 'link.alref');
    symlinkSync(path.relative(tmp.path, real), link);
    assert.equal(await runNotebookFile(link, {}), 0);
    assert.ok(lstatSync(link).isSymbolicLink(), 'still a link');
    assert.equal(readlinkSync(link), path.join('real', 'nb.alref'));
    assert.equal(parseNotebook(readFileSync(real, 'utf8')).cells[0].executionSummary?.success, true, 'the target was written');
    // --out naming a link whose target does not exist yet: the target is created, the link kept.
    const outTarget = path.join(tmp.path, 'real', 'out.alref');
    const outLink = path.join(tmp.path, 'out-link.alref');
    symlinkSync(outTarget, outLink);
    assert.equal(await runNotebookFile(link, { out: outLink }), 0);
    assert.ok(lstatSync(outLink).isSymbolicLink());
    assert.equal(parseNotebook(readFileSync(outTarget, 'utf8')).cells[0].executionSummary?.success, true);
    assert.deepEqual(tempFiles(tmp.path), []);
  });

  test('bytes that are not valid UTF-8: an in-place run is refused (file unchanged); with --out it runs and warns, naming the cell', async () => {
    const file = path.join(tmp.path, 'latin1.alref');
    const text = serializeNotebook(notebook([['md', 'markdown', 'Caf\u00e9 au lait'], ['ref', 'alref', 'stage: reference\nexpression: x\n']]));
    const bytes = Buffer.from(text.replace('Caf\u00e9', 'Caf#'), 'utf8');
    bytes[bytes.indexOf('Caf#') + 3] = 0xe9; // Latin-1 "é": not valid UTF-8
    writeFileSync(file, bytes);
    await assert.rejects(runNotebookFile(file, {}), (err: unknown) => {
      assert.ok(err instanceof PipelineError);
      assert.match(err.message, /latin1\.alref has bytes that are not valid UTF-8 \(one place in cell 1, at line \d+, column \d+ .*nothing was run and the file was not changed/);
      return true;
    });
    assert.deepEqual(readFileSync(file), bytes);
    await assert.rejects(exportNotebookFile(file, file), /is the notebook itself/);
    assert.deepEqual(readFileSync(file), bytes);
    // --out naming the notebook through a symbolic link (or a chain of two) is in place too.
    symlinkSync('latin1.alref', path.join(tmp.path, 'link1.alref'));
    symlinkSync('link1.alref', path.join(tmp.path, 'link2.alref'));
    await assert.rejects(runNotebookFile(file, { out: path.join(tmp.path, 'link2.alref') }), /nothing was run and the file was not changed/);
    assert.deepEqual(readFileSync(file), bytes);
    const out = path.join(tmp.path, 'fixed.alref');
    assert.equal(await runNotebookFile(file, { out }), 0);
    assert.deepEqual(readFileSync(file), bytes, 'the input is never written with --out');
    assert.match(stderr.join(''), /warning: .*latin1\.alref has bytes that are not valid UTF-8 \(one place in cell 1.*fixed\.alref gets U\+FFFD/);
    assert.equal(parseNotebook(readFileSync(out, 'utf8')).cells[0].source, 'Caf\uFFFD au lait');
  });
});

suite('run folder: atomic writes', () => {
  let tmp: TempDir;
  setup(() => {
    tmp = tempDir('alref-atomic-');
  });
  teardown(() => tmp.remove());

  test('a failed rename removes the temp file and names the path; the old content stays', async () => {
    const target = path.join(tmp.path, 'busy');
    mkdirSync(path.join(target, 'child'), { recursive: true });
    await assert.rejects(writeFileAtomic(target, 'data'), (err: unknown) => {
      assert.ok(err instanceof PipelineError);
      assert.match(err.message, new RegExp(`^Cannot write ${target}: `));
      assert.equal(err.file, target);
      return true;
    });
    assert.deepEqual(tempFiles(tmp.path), []);
    assert.ok(statSync(path.join(target, 'child')).isDirectory());
  });

  test('writes through links, keeps the mode of the file it replaces, and checkWritable probes without leaving anything', async () => {
    const real = path.join(tmp.path, 'real.txt');
    writeFileSync(real, 'old');
    chmodSync(real, 0o640);
    const link = path.join(tmp.path, 'link.txt');
    symlinkSync(real, link);
    await writeFileAtomic(link, 'new');
    assert.ok(lstatSync(link).isSymbolicLink());
    assert.equal(readFileSync(real, 'utf8'), 'new');
    assert.equal(statSync(real).mode & 0o777, 0o640);
    assert.equal(await checkWritable(link), real);
    assert.equal(await checkWritable(path.join(tmp.path, 'new', 'dir', 'x.alref')), path.join(tmp.path, 'new', 'dir', 'x.alref'));
    assert.ok(statSync(path.join(tmp.path, 'new', 'dir')).isDirectory(), 'the parent folders are created');
    assert.equal(existsSync(path.join(tmp.path, 'new', 'dir', 'x.alref')), false);
    assert.deepEqual(tempFiles(tmp.path), []);
  });

  test('a write that fails part-way (file size limit, like a full disk) leaves no temp file, names the path, and keeps the notebook', function () {
    if (process.platform === 'win32') {
      this.skip();
    }
    const file = path.join(tmp.path, 'big.alref');
    // A notebook of about 2 MB (a large markdown cell) under a 1 MB file size limit (ulimit -f, in KiB).
    const text = serializeNotebook(notebook([['md', 'markdown', 'x'.repeat(2_000_000)], ['ref', 'alref', 'stage: reference\nexpression: x\n']]));
    writeFileSync(file, text);
    const r = spawnSync('bash', ['-c', 'ulimit -f 1024 && exec "$0" --import tsx src/cli/main.ts notebook run "$1"', process.execPath, file], { cwd: ROOT, encoding: 'utf8' });
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, new RegExp(`alref: Cannot write ${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: the file is larger than allowed \\(file size limit\\) \\(EFBIG\\)\\. The results of this run were not saved; ${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} keeps its previous content\\.`));
    assert.match(r.stderr, /\[cell 2\] done/, 'the run happened before the write failed');
    assert.equal(readFileSync(file, 'utf8'), text);
    assert.deepEqual(tempFiles(tmp.path), []);
  });
});
