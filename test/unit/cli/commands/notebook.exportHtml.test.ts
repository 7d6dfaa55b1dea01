import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { JSDOM } from 'jsdom';
import { exportHtmlFile, runNotebookFile } from '../../../../src/cli/commands/notebook';
import { buildProgram } from '../../../../src/cli/main';
import { MIME } from '../../../../src/common/mime';
import { parseNotebook } from '../../../../src/pipeline/format';
import { pivotViews } from '../../../tooling/pivotOutputs';
import { tempDir } from '../../../tooling/media';
import type { TempDir } from '../../../tooling/media';
import { copyDemo } from '../../../tooling/demoCopy';

const dec = new TextDecoder();

suite('cli: alref notebook export --html', () => {
  let tmp: TempDir;
  let stderrWrite: typeof process.stderr.write;
  setup(() => {
    tmp = tempDir('alref-html-');
    stderrWrite = process.stderr.write.bind(process.stderr);
    process.stderr.write = (() => true) as typeof process.stderr.write;
  });
  teardown(() => {
    process.stderr.write = stderrWrite;
    tmp.remove();
  });

  test('notebook export --help names --html and --out', () => {
    const exp = buildProgram().commands.find((c) => c.name() === 'notebook')?.commands.find((c) => c.name() === 'export');
    assert.ok(exp);
    const help = exp.helpInformation();
    assert.match(help, /--html\s+write an HTML report/);
    assert.match(help, /-o, --out <file>/);
  });

  test('the executed demo: one HTML file next to it with every image embedded, the traces, the sources and the record', async () => {
    const file = copyDemo(tmp.path);
    // As `npm run demo` without SAM 2 and offline: the cells that need it are skipped.
    assert.equal(await runNotebookFile(file, { missingModels: 'skip', set: [`models.cacheDir=${path.join(tmp.path, 'models')}`] }), 0);
    const before = readFileSync(file);

    const written = await exportHtmlFile(file);
    assert.equal(written, path.join(tmp.path, 'examples/demo.html'));
    assert.deepEqual(readFileSync(file), before, 'the notebook is not touched');
    const html = readFileSync(written, 'utf8');
    const doc = new JSDOM(html).window.document;
    const nb = parseNotebook(before.toString('utf8'));

    // Every output image once, embedded; and each pivot view row's grid or pivot frame, read from the run folder.
    const outputs = nb.cells.flatMap((c) => c.outputs);
    const imageOutputs = outputs.filter((o) => o.items.some((i) => i.mime.startsWith('image/')));
    const views = pivotViews(outputs);
    assert.ok(views.length >= 2, 'the pivot-frame and pivot-box cells keep their pivot views');
    const viewImages = views.flatMap((v) => v.rows.map((r) => r.grid ?? r.frame).filter((i) => i !== undefined));
    const imgs = [...doc.querySelectorAll('img')];
    assert.ok(imageOutputs.length > 10);
    assert.equal(imgs.filter((i) => !i.closest('.pivot-view')).length, imageOutputs.length);
    assert.ok(viewImages.length >= 22);
    assert.equal(imgs.filter((i) => i.closest('.pivot-view')).length, viewImages.length);
    assert.ok(imgs.every((i) => i.getAttribute('src')?.startsWith('data:image/')), 'all images are data: URIs');
    const embedded = imgs.filter((i) => i.closest('.pivot-view')).reduce((n, i) => n + (i.getAttribute('src')?.length ?? 0), 0);
    assert.match(doc.querySelector('figure .note')?.textContent ?? '', /run folder: demo\.alref\.runs\/artifacts\//);

    // Every trace with its answer highlighted, every cell's source, the markdown rendered.
    // A trace output, or (in a compact pivot cell) the traces of its pivot view's rows, in output order.
    const traces = outputs.flatMap((o) => [
      ...o.items.filter((i) => i.mime === MIME.reasoningTrace).map((i) => JSON.parse(dec.decode(i.data)) as { text: string; answer?: string }),
      ...pivotViews([o]).flatMap((v) => v.rows.filter((r) => r.trace !== undefined).map((r) => ({ text: r.trace as string, answer: r.answer }))),
    ]);
    assert.ok(traces.length >= 22);
    const shown = [...doc.querySelectorAll('.trace pre')].map((p) => p.textContent);
    assert.deepEqual(shown, traces.map((t) => t.text));
    assert.deepEqual([...doc.querySelectorAll('.trace mark.answer')].map((m) => m.textContent), traces.filter((t) => t.answer && t.text.includes(t.answer)).map((t) => t.answer));
    const sources = [...doc.querySelectorAll('pre.source')].map((p) => p.textContent);
    assert.deepEqual(sources, nb.cells.filter((c) => c.kind === 'code').map((c) => c.source));
    assert.equal(doc.querySelector('h1')?.textContent, 'AL-Ref Notebooks demo');
    assert.ok(doc.querySelectorAll('.markdown-cell strong').length > 0, 'markdown cells are rendered');
    assert.equal(doc.querySelectorAll('script').length, 0);

    // The record, without secrets or where the key would go.
    const record = nb.metadata.alref?.record;
    assert.ok(record);
    const recordText = doc.querySelector('table.record')?.textContent ?? '';
    for (const hash of Object.values(record.prompts)) {
      assert.ok(recordText.includes(hash), `prompt hash ${hash}`);
    }
    assert.ok(recordText.includes(record.extensionVersion));
    assert.doesNotMatch(html, /apiKey|baseUrl|api\.openai\.com|127\.0\.0\.1/);

    // Roughly the notebook's own weight with the pivot views' images added (the images are base64 in both).
    const ratio = statSync(written).size / (before.byteLength + embedded);
    assert.ok(ratio > 0.5 && ratio < 1.5, `report / notebook size ratio ${ratio.toFixed(2)}`);

    // --out elsewhere names the run folder by its name next to the notebook.
    const out = path.join(tmp.path, 'share', 'report.html');
    assert.equal(await exportHtmlFile(file, out), out);
    assert.equal(readFileSync(out, 'utf8'), html);
  });

  test('a missing notebook: the error names it and nothing is written', async () => {
    const file = path.join(tmp.path, 'missing.alref');
    await assert.rejects(exportHtmlFile(file), (err: Error) => err.message.includes(file) && /Cannot read notebook/.test(err.message));
    assert.equal(existsSync(path.join(tmp.path, 'missing.html')), false);
  });

  test('an unparsable notebook: the error names it, it keeps its bytes, no report is written, and --out onto it is refused', async () => {
    const file = path.join(tmp.path, 'broken.alref');
    writeFileSync(file, '{"cells": [ not json');
    await assert.rejects(exportHtmlFile(file), (err: Error) => err.message.includes(file));
    assert.equal(existsSync(path.join(tmp.path, 'broken.html')), false);
    await assert.rejects(exportHtmlFile(file, file), (err: Error) => err.message.includes(file) && /is the notebook itself/.test(err.message));
    assert.equal(readFileSync(file, 'utf8'), '{"cells": [ not json');
  });

  test('an output path that cannot be written (a folder, a path below a file): the error names it', async () => {
    const file = path.join(tmp.path, 'nb.alref');
    writeFileSync(file, '');
    const folder = path.join(tmp.path, 'a-folder');
    mkdirSync(folder);
    await assert.rejects(exportHtmlFile(file, folder), (err: Error) => err.message.includes(folder));
    const belowFile = path.join(file, 'report.html');
    await assert.rejects(exportHtmlFile(file, belowFile), (err: Error) => err.message.includes(file));
    assert.equal(readFileSync(file, 'utf8'), '');
  });

  test('the command sets exit code 1 and prints the error naming the file', async () => {
    const messages: string[] = [];
    process.stderr.write = ((m: string) => (messages.push(String(m)), true)) as typeof process.stderr.write;
    const file = path.join(tmp.path, 'nope.alref');
    const saved = process.exitCode;
    try {
      await buildProgram().exitOverride().parseAsync(['node', 'alref', 'notebook', 'export', '--html', file]);
      assert.equal(process.exitCode, 1);
    } finally {
      process.exitCode = saved;
    }
    assert.ok(messages.some((m) => m.startsWith('alref: ') && m.includes(file)), messages.join(''));
  });
});
