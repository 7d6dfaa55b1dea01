import * as assert from 'assert';
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import ffmpegInstaller from '@ffmpeg-installer/ffmpeg';
import { MIME, NOTEBOOK_TYPE } from '../../src/common/mime';
import { runDirFor } from '../../src/pipeline/run/runFolder';
import {
  closeAll, ended, errorOf, executeCell, freshExample, insertStageCell, mimes, openNotebook,
  repoRoot, setCellText, stageCell, textOf, waitFor,
} from './helpers';
import { ffmpegDescendants, isGone } from '../tooling/processes';

/** The demo's video cell text with its `source:` replaced by `file`. */
function withSource(videoYaml: string, file: string): string {
  const line = /^(\s*source\s*:).*$/m;
  assert.match(videoYaml, line, 'the demo video cell has no `source:` line');
  return videoYaml.replace(line, (_m, key: string) => `${key} ${JSON.stringify(file)}`);
}

/**
 * A clip long enough that decoding it takes many seconds: 10 s of 720p test pattern encoded once,
 * then looped by stream copy (cheap) to `seconds`.
 */
function makeLongClip(dir: string, seconds: number): string {
  const ffmpeg = ffmpegInstaller.path;
  const short = path.join(dir, 'short.mp4');
  const long = path.join(dir, 'long clip.mp4');
  execFileSync(ffmpeg, ['-v', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc2=size=1280x720:rate=30', '-t', '10', '-c:v', 'mpeg4', '-q:v', '6', short]);
  execFileSync(ffmpeg, ['-v', 'error', '-y', '-stream_loop', String(Math.ceil(seconds / 10) - 1), '-i', short, '-c', 'copy', long]);
  return long;
}

suite('Notebook: kernel, outputs, errors, cancel, save', function () {
  this.timeout(240_000);
  suiteTeardown(closeAll);

  test('running the demo video cell gives frame grids (each with an image fallback) and a markdown summary', async () => {
    const { doc } = await openNotebook(freshExample('video'));
    const cell = await executeCell(doc, stageCell(doc, 'video'), 180_000);
    const err = errorOf(cell);
    assert.strictEqual(err, undefined, `video cell failed: ${err?.message}`);
    assert.strictEqual(cell.executionSummary?.success, true);
    const seen = mimes(cell);
    assert.ok(seen.includes(MIME.frameGrid), `no ${MIME.frameGrid} output; got ${seen.join(', ')}`);
    assert.ok(seen.includes('text/markdown'), `no markdown summary; got ${seen.join(', ')}`);
    // Every frame-grid output carries a plain image next to it, so the notebook reads without the renderer.
    const grids = cell.outputs.filter((o) => o.items.some((i) => i.mime === MIME.frameGrid));
    assert.ok(grids.length >= 1);
    for (const out of grids) {
      const image = out.items.find((i) => i.mime === 'image/png' || i.mime === 'image/jpeg');
      assert.ok(image, `a frame-grid output has no image/png or image/jpeg fallback item (items: ${out.items.map((i) => i.mime).join(', ')})`);
      const magic = image.mime === 'image/png' ? [0x89, 0x50, 0x4e, 0x47] : [0xff, 0xd8, 0xff];
      assert.deepStrictEqual([...image.data.subarray(0, magic.length)], magic, `${image.mime} item does not hold ${image.mime} bytes`);
    }
  });

  test('invalid YAML gives an error output naming the cell; outputs stay until the cell is re-run', async () => {
    const { doc } = await openNotebook(freshExample('yaml'));
    const video = stageCell(doc, 'video');
    const good = video.document.getText();
    const cell = await executeCell(doc, video, 180_000);
    assert.strictEqual(cell.executionSummary?.success, true, `video cell failed: ${errorOf(cell)?.message}`);
    const before = mimes(cell);

    await setCellText(cell, `${good.trimEnd()}\nbroken: [unclosed\n`);
    assert.deepStrictEqual(mimes(doc.cellAt(cell.index)), before, 'editing the cell dropped its outputs before it was run');

    const failed = await executeCell(doc, doc.cellAt(cell.index));
    assert.strictEqual(failed.executionSummary?.success, false);
    const err = errorOf(failed);
    assert.ok(err, `no error output; got ${mimes(failed).join(', ')}`);
    assert.match(err.message, new RegExp(`cell ${failed.index + 1}\\b|${failed.metadata?.id ?? 'no-id'}`, 'i'), `error does not name the cell: ${err.message}`);
    // The previous answers stay, but only under a note saying they are the previous run's.
    const noteAt = failed.outputs.findIndex((o) => o.metadata?.alrefNotice === 'previous-run');
    assert.ok(noteAt > 0, `no "previous run's outputs" note after the error: ${mimes(failed).join(', ')}`);
    assert.ok(!failed.outputs.slice(0, noteAt).some((o) => o.items.some((i) => i.mime === MIME.frameGrid)), 'a frame grid shown as if from the failed run');
    assert.deepStrictEqual(failed.outputs.slice(noteAt + 1).flatMap((o) => o.items.map((i) => i.mime)), before, 'the previous outputs are not kept under the note');
  });

  test('a field of the wrong type or an unknown stage kind is reported with the field name', async () => {
    const { doc } = await openNotebook(freshExample('fields'));
    const video = stageCell(doc, 'video');

    const unknown = await insertStageCell(doc, video.index + 1, 'stage: segment-everything\n');
    const r1 = await executeCell(doc, unknown);
    assert.strictEqual(r1.executionSummary?.success, false);
    assert.match(errorOf(r1)?.message ?? textOf(r1), /\bstage\b/, 'error does not name the `stage` field');
    assert.match(errorOf(r1)?.message ?? textOf(r1), /segment-everything/, 'error does not quote the bad value');

    const wrong = await insertStageCell(doc, video.index + 1, `${video.document.getText().trimEnd()}\nframesPerClip: many\n`);
    const r2 = await executeCell(doc, wrong);
    assert.strictEqual(r2.executionSummary?.success, false);
    assert.match(errorOf(r2)?.message ?? textOf(r2), /framesPerClip/, 'error does not name the field');
  });

  test('a stage whose upstream result is missing (evaluate before propagate) fails with a clear error, not fake outputs', async () => {
    const { doc } = await openNotebook(freshExample('na'));
    const cell = await insertStageCell(doc, doc.cellCount, 'stage: evaluate\ngroundTruth: gt\n');
    const r = await executeCell(doc, cell);
    assert.strictEqual(r.executionSummary?.success, false);
    const message = errorOf(r)?.message ?? textOf(r);
    // No propagate cell ran: the error names the `uses.<kind>` field it needs.
    assert.match(message, /uses\.propagate/, `unclear error: ${message}`);
    assert.ok(!r.outputs.some((o) => o.items.some((i) => i.mime.startsWith('image/') || i.mime.startsWith('application/vnd.alref'))), 'fake outputs next to the error');
  });

  test('Run All runs the cells in order; after the video cell is deleted, a pivot-frame cell that names no upstream fails naming the missing "video"', async () => {
    const dir = path.dirname(freshExample('deleted'));
    const clip = path.resolve(repoRoot(), 'media', 'samples', '01_dog.mp4');
    const sources = [
      `stage: video\nid: vid\nsource: ${JSON.stringify(clip)}\npreset: ref-davis17\nmaxFrames: 10\nfilmstripFrames: 0\n`,
      'stage: reference\nid: ref\nexpression: the dog\n',
      'stage: pivot-frame\nid: pf\nstrategy: middle\n',
    ];
    const file = path.join(dir, 'deleted.alref');
    fs.writeFileSync(file, JSON.stringify({
      cells: sources.map((src, i) => ({ cell_type: 'code', execution_count: null, id: `c${i + 1}`, metadata: { vscode: { languageId: 'alref' } }, outputs: [], source: src.split(/(?<=\n)/) })),
      metadata: { alref: { formatVersion: 1 } },
      nbformat: 4,
      nbformat_minor: 5,
    }));
    const { doc } = await openNotebook(file);
    const since = Date.now();
    const allEnded = waitFor(doc, () => [0, 1, 2].every((i) => ended(doc.cellAt(i), since)), 180_000, 'the three cells to finish');
    await vscode.commands.executeCommand('notebook.cell.execute', { ranges: [{ start: 0, end: 3 }], document: doc.uri });
    await allEnded;
    for (let i = 0; i < 3; i++) {
      assert.strictEqual(doc.cellAt(i).executionSummary?.success, true, `cell ${i + 1} failed: ${errorOf(doc.cellAt(i))?.message}`);
    }
    const order = [0, 1, 2].map((i) => doc.cellAt(i).executionSummary?.executionOrder ?? 0);
    assert.ok(order[0] < order[1] && order[1] < order[2], `cells ran out of order: ${order.join(', ')}`);

    const edit = new vscode.WorkspaceEdit();
    edit.set(doc.uri, [vscode.NotebookEdit.deleteCells(new vscode.NotebookRange(0, 1))]);
    assert.ok(await vscode.workspace.applyEdit(edit), 'the video cell was not deleted');
    assert.strictEqual(doc.cellCount, 2);
    const pf = await executeCell(doc, doc.cellAt(1));
    assert.strictEqual(pf.executionSummary?.success, false, 'pivot-frame ran on the deleted video cell');
    const message = errorOf(pf)?.message ?? textOf(pf);
    assert.match(message, /^Cell 2 \(id "pf"\), field "uses\.video": This "pivot-frame" cell needs a "video" result: run a video cell above it first\./, `unclear error: ${message}`);
  });

  test('cancelling a long video run mid-decode ends it quietly and leaves no temporary frame folder', async () => {
    const file = freshExample('cancel');
    const clip = makeLongClip(path.dirname(file), 180);
    const { doc } = await openNotebook(file);
    const video = stageCell(doc, 'video');
    await setCellText(video, withSource(video.document.getText(), clip));
    const cell = doc.cellAt(video.index);
    const range = { start: cell.index, end: cell.index + 1 };
    const framesDir = path.join(runDirFor(file), 'frames');
    const decoding = (): boolean =>
      fs.existsSync(framesDir) && fs.readdirSync(framesDir).some((d) => d.includes('.tmp-') && fs.readdirSync(path.join(framesDir, d)).some((f) => f.endsWith('.jpg')));

    const startedAt = Date.now();
    void vscode.commands.executeCommand('notebook.cell.execute', { ranges: [range], document: doc.uri });
    // Cancel once the decode is visibly under way (its first frame file exists), whatever the machine's speed.
    await waitFor(doc, () => decoding() || ended(doc.cellAt(range.start), startedAt), 120_000, 'the decode to start');
    assert.ok(!ended(doc.cellAt(range.start), startedAt), 'the long clip finished before a frame was seen; make it longer to test cancel');
    // The extension runs in this extension host process: its ffmpeg is a child of this process.
    const decoders = ffmpegDescendants(process.pid);
    assert.ok(decoders.length >= 1, 'no ffmpeg runs while the decode writes frames');

    const cancelAt = Date.now();
    await vscode.commands.executeCommand('notebook.cell.cancelExecution', { ranges: [range], document: doc.uri });
    await waitFor(doc, () => ended(doc.cellAt(range.start), startedAt), 120_000, 'the cancelled cell to end');
    console.log(`[alref-test] cancel took ${Date.now() - cancelAt} ms to end the run`);
    const after = doc.cellAt(range.start);
    assert.notStrictEqual(after.executionSummary?.success, true, 'a cancelled run reported success');
    assert.strictEqual(errorOf(after), undefined, `cancel produced an error output: ${errorOf(after)?.message}`);
    const left = fs.existsSync(framesDir) ? fs.readdirSync(framesDir).filter((d) => d.includes('.tmp')) : [];
    assert.deepStrictEqual(left, [], 'temporary frame folders left after the cancelled run');
    for (const pid of decoders) {
      assert.ok(isGone(pid), `ffmpeg ${pid} still runs after the cancelled cell ended`);
    }
  });

  test('save and reopen keeps the outputs (nbformat 4 on disk)', async () => {
    const file = freshExample('save');
    const { doc } = await openNotebook(file);
    const cell = await executeCell(doc, stageCell(doc, 'video'), 180_000);
    assert.strictEqual(cell.executionSummary?.success, true, `video cell failed: ${errorOf(cell)?.message}`);
    const outputs = cell.outputs.map((o) => o.items.map((i) => ({ mime: i.mime, bytes: Buffer.from(i.data).toString('base64') })));
    assert.ok(await doc.save(), 'save failed');

    const raw = JSON.parse(fs.readFileSync(file, 'utf8')) as { nbformat: number; cells: { outputs?: unknown[] }[] };
    assert.strictEqual(raw.nbformat, 4);
    assert.ok((raw.cells[cell.index].outputs ?? []).length > 0, 'outputs were not written to the file');

    // A copy is deserialized from disk (the original may still be held by the host).
    const copy = path.join(path.dirname(file), 'reopened.alref');
    fs.copyFileSync(file, copy);
    const reopened = await vscode.workspace.openNotebookDocument(vscode.Uri.file(copy));
    assert.strictEqual(reopened.notebookType, NOTEBOOK_TYPE);
    assert.strictEqual(reopened.cellCount, doc.cellCount);
    const again = reopened.cellAt(cell.index).outputs.map((o) => o.items.map((i) => ({ mime: i.mime, bytes: Buffer.from(i.data).toString('base64') })));
    assert.deepStrictEqual(again, outputs);
  });
});
