import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { buildProgram } from '../../../../src/cli/main';
import { cliSettings, exportNotebookFile, runNotebookFile } from '../../../../src/cli/commands/notebook';
import { ERROR_MIME, parseNotebook, serializeNotebook } from '../../../../src/pipeline/format';
import type { NotebookModel } from '../../../../src/pipeline/format';
import { MIME } from '../../../../src/common/mime';
import { makeClip, tempDir } from '../../../tooling/media';
import type { TempDir } from '../../../tooling/media';
import { FIXTURE_IDS, writeModelFixtures } from '../../../tooling/onnxFixtures';

const dec = new TextDecoder();

function notebook(cells: Array<[string, string, string]>): NotebookModel {
  return {
    metadata: { alref: { formatVersion: 1 } },
    cells: cells.map(([id, language, source]) => ({ kind: language === 'markdown' ? 'markdown' : 'code', language, source, metadata: { id }, outputs: [] })),
  };
}

suite('cli: alref notebook run', () => {
  let tmp: TempDir;
  let stderrWrite: typeof process.stderr.write;
  setup(() => {
    tmp = tempDir('alref-cli-');
    // Keep the test report readable: the command prints progress to stderr.
    stderrWrite = process.stderr.write.bind(process.stderr);
    process.stderr.write = (() => true) as typeof process.stderr.write;
  });
  teardown(() => {
    process.stderr.write = stderrWrite;
    tmp.remove();
  });

  test('--help lists the notebook command; notebook run --help names its options', () => {
    const program = buildProgram();
    assert.match(program.helpInformation(), /notebook\s+work with \.alref notebooks/);
    const run = program.commands.find((c) => c.name() === 'notebook')?.commands.find((c) => c.name() === 'run');
    assert.ok(run);
    const help = run.helpInformation();
    for (const opt of ['--out <file>', '--mode <mode>', '--set <key=value>']) {
      assert.ok(help.includes(opt), opt);
    }
  });

  test('runs a video cell on a real clip with the shared runner and writes outputs, summary and record', async () => {
    makeClip(path.join(tmp.path, 'clip one.mp4'), { frames: 30, fps: 10, width: 64, height: 48 });
    const file = path.join(tmp.path, 'nb.alref');
    writeFileSync(file, serializeNotebook(notebook([['intro', 'markdown', '# t'], ['cell-2', 'alref', 'stage: video\nid: vid\nsource: clip one.mp4\npreset: ref-davis17\n']])));
    const code = await runNotebookFile(file, {});
    assert.equal(code, 0);
    const text = readFileSync(file, 'utf8');
    const nb = parseNotebook(text, { file });
    const cell = nb.cells[1];
    assert.equal(cell.executionSummary?.success, true);
    assert.equal(cell.executionSummary?.executionOrder, 1);
    assert.ok(cell.outputs.length >= 1);
    const grid = cell.outputs.find((o) => o.items.some((i) => i.mime === MIME.frameGrid));
    assert.ok(grid, 'a frame-grid output');
    assert.ok(grid.items.some((i) => i.mime.startsWith('image/')), 'with an image fallback');
    assert.equal(cell.outputs.some((o) => o.items.some((i) => i.mime === ERROR_MIME)), false);
    assert.ok(nb.metadata.alref?.record?.cells.vid, 'the record has the cell input hash');
    assert.equal(serializeNotebook(nb), text, 'the written file re-serializes byte for byte');
    assert.ok(existsSync(path.join(tmp.path, 'nb.alref.runs')), 'run folder next to the notebook');
  });

  test('a failing cell: exit code 1, the error output names cell and field, later cells are not run, input kept with --out', async () => {
    const file = path.join(tmp.path, 'fail.alref');
    const original = serializeNotebook(notebook([['p', 'alref-prompt', 'template: pivot-frame.cot\nPick one.\n'], ['v', 'alref', 'stage: video\nsource: missing.mp4\n'], ['w', 'alref', 'stage: video\nsource: other.mp4\n']]));
    writeFileSync(file, original);
    const out = path.join(tmp.path, 'out', 'fail.out.alref');
    const code = await runNotebookFile(file, { out });
    assert.equal(code, 1);
    assert.equal(readFileSync(file, 'utf8'), original);
    const nb = parseNotebook(readFileSync(out, 'utf8'));
    assert.equal(nb.cells[0].executionSummary?.success, true);
    assert.equal(nb.cells[1].executionSummary?.success, false);
    const err = JSON.parse(dec.decode(nb.cells[1].outputs[0].items.find((i) => i.mime === ERROR_MIME)!.data));
    assert.match(err.message, /^Cell 2 \(id "v"\), field "source": /);
    assert.equal(nb.cells[2].executionSummary, undefined, 'cells after the failure do not run');
    assert.ok(nb.metadata.alref?.record?.prompts['pivot-frame.cot']);
  });

  test('the record is the kernel\'s: a failed prompt cell leaves no hash (its earlier one is dropped too)', async () => {
    const file = path.join(tmp.path, 'prompt.alref');
    const bad = 'template: pivot-frame.cot\nPick one of {{noSuchVariable}}.\n';
    const nb = notebook([['p', 'alref-prompt', bad], ['v', 'alref', 'stage: video\nsource: x.mp4\n']]);
    nb.metadata.alref = { formatVersion: 1, record: { extensionVersion: '0.1', settings: {}, models: {}, prompts: { 'pivot-frame.cot': 'old' }, cells: {} } };
    writeFileSync(file, serializeNotebook(nb));
    assert.equal(await runNotebookFile(file, {}), 1);
    const written = parseNotebook(readFileSync(file, 'utf8'));
    assert.equal(written.cells[0].executionSummary?.success, false);
    assert.deepEqual(written.metadata.alref?.record?.prompts, {}, 'neither the failed text nor the earlier hash');
    assert.equal(written.cells[1].executionSummary, undefined);
  });

  test('the record has the sha256 of the model files a stage used (fixture G-DINO + SAM 2 baseline)', async () => {
    makeClip(path.join(tmp.path, 'clip.mp4'), { frames: 12, fps: 4, width: 64, height: 48 });
    const modelsDir = await writeModelFixtures(path.join(tmp.path, 'models'), { only: ['sam2', 'groundingDino'] });
    const file = path.join(tmp.path, 'models.alref');
    writeFileSync(
      file,
      serializeNotebook(
        notebook([
          ['v', 'alref', 'stage: video\nid: video\nsource: clip.mp4\nfps: 4\nfilmstripFrames: 0\n'],
          ['r', 'alref', 'stage: reference\nid: reference\nexpression: the square\n'],
          ['p', 'alref', 'stage: propagate\nid: propagate\nstrategy: first-frame-top-box\n'],
        ]),
      ),
    );
    const code = await runNotebookFile(file, { set: [`models.localDir=${modelsDir}`, `models.cacheDir=${path.join(tmp.path, 'cache')}`] });
    const written = parseNotebook(readFileSync(file, 'utf8'));
    assert.equal(code, 0, JSON.stringify(written.cells.map((c) => c.outputs.flatMap((o) => o.items.filter((i) => i.mime === ERROR_MIME).map((i) => dec.decode(i.data))))));
    const models = written.metadata.alref?.record?.models ?? {};
    const hashed = Object.entries(models).filter(([k]) => k.startsWith(`${FIXTURE_IDS.groundingDino}/`) || k.startsWith(`${FIXTURE_IDS.sam2}/`));
    assert.ok(hashed.length >= 1 && hashed.every(([, h]) => /^[0-9a-f]{64}$/.test(h)), `record.models: ${JSON.stringify(models)}`);
  });

  test('a malformed or truncated notebook throws before anything is written; an interrupted run writes nothing', async () => {
    const file = path.join(tmp.path, 'bad.alref');
    writeFileSync(file, '{"nbformat": 4, "cells": [');
    await assert.rejects(runNotebookFile(file, {}), /bad\.alref: is not valid JSON/);
    assert.equal(readFileSync(file, 'utf8'), '{"nbformat": 4, "cells": [');
    const good = path.join(tmp.path, 'good.alref');
    const text = serializeNotebook(notebook([['v', 'alref', 'stage: video\nsource: x.mp4\n']]));
    writeFileSync(good, text);
    const ac = new AbortController();
    ac.abort();
    assert.equal(await runNotebookFile(good, {}, ac.signal), 130);
    assert.equal(readFileSync(good, 'utf8'), text);
  });

  test('--set and --mode build the settings; unknown keys and wrong types are refused', () => {
    const s = cliSettings({ set: ['llm.models.pivotFrame=gpt-test', 'llm.maxTokens=10'], mode: 'replay' });
    assert.equal(s.llm.models.pivotFrame, 'gpt-test');
    assert.equal(s.llm.maxTokens, 10);
    assert.equal(s.llm.mode, 'replay');
    assert.throws(() => cliSettings({ set: ['llm.nope=1'] }), /Unknown setting "llm\.nope"/);
    assert.throws(() => cliSettings({ set: ['llm.maxTokens=many'] }), /llm\.maxTokens.*expected number/);
  });
});

suite('cli: alref notebook export', () => {
  test('writes an nbformat 4 .ipynb next to the notebook; a bad notebook is an error', async () => {
    const tmp = tempDir('alref-export-');
    try {
      const file = path.join(tmp.path, 'n b.alref');
      writeFileSync(file, serializeNotebook(notebook([['v', 'alref', 'stage: video\nsource: a.mp4\n']])));
      const dest = await exportNotebookFile(file);
      assert.equal(dest, path.join(tmp.path, 'n b.ipynb'));
      const nb = JSON.parse(readFileSync(dest, 'utf8'));
      assert.equal(nb.nbformat, 4);
      assert.equal(nb.cells[0].metadata.vscode.languageId, 'alref');
      writeFileSync(file, 'not json');
      await assert.rejects(exportNotebookFile(file, path.join(tmp.path, 'x.ipynb')), /not valid JSON/);
      assert.equal(existsSync(path.join(tmp.path, 'x.ipynb')), false);
    } finally {
      tmp.remove();
    }
  });
});

suite('cli: the LLM mode of a run', () => {
  test('--mode wins over the notebook choice, which wins over the default (seen in the record)', async () => {
    const tmp = tempDir('alref-mode-');
    const quiet = process.stderr.write.bind(process.stderr);
    process.stderr.write = (() => true) as typeof process.stderr.write;
    try {
      const file = path.join(tmp.path, 'm.alref');
      const nb = notebook([['p', 'alref-prompt', 'template: pivot-frame.cot\nx\n']]);
      nb.metadata.alref = { formatVersion: 1, llmMode: 'replay' };
      writeFileSync(file, serializeNotebook(nb));
      assert.equal(await runNotebookFile(file, {}), 0);
      const mode = (f: string) => (parseNotebook(readFileSync(f, 'utf8')).metadata.alref?.record?.settings as { llm: { mode: string } }).llm.mode;
      assert.equal(mode(file), 'replay');
      assert.equal(await runNotebookFile(file, { mode: 'record' }), 0);
      assert.equal(mode(file), 'record');
    } finally {
      process.stderr.write = quiet;
      tmp.remove();
    }
  });
});
