import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { runNotebookFile } from '../../../../src/cli/commands/notebook';
import { parseNotebook, serializeNotebook, STDERR_MIME, type NotebookModel } from '../../../../src/pipeline/format';
import { makeFrameFolder, SAMPLES, tempDir, type TempDir } from '../../../tooling/media';

const dec = new TextDecoder();

/** Media warnings reach both the executed notebook (a stderr output of the cell) and the CLI's stderr. */
suite('cli: media warnings (truncated video, gaps in a frame folder) on stderr and in the cell output', () => {
  let tmp: TempDir;
  let stderr: string;
  let write: typeof process.stderr.write;
  setup(() => {
    tmp = tempDir('alref-cli-warn-');
    stderr = '';
    write = process.stderr.write.bind(process.stderr);
    process.stderr.write = ((s: string | Uint8Array) => {
      stderr += String(s);
      return true;
    }) as typeof process.stderr.write;
  });
  teardown(() => {
    process.stderr.write = write;
    tmp.remove();
  });

  function notebookFile(sources: string[]): string {
    const model: NotebookModel = {
      metadata: { alref: { formatVersion: 1 } },
      cells: sources.map((source, i) => ({ kind: 'code', language: 'alref', source, metadata: { id: `c${i + 1}` }, outputs: [] })),
    };
    const file = path.join(tmp.path, 'nb.alref');
    writeFileSync(file, serializeNotebook(model));
    return file;
  }

  test('a truncated MP4 and a frame folder with gaps: "warning:" lines on stderr and warnings in the outputs', async () => {
    const bytes = readFileSync(path.join(SAMPLES, '01_dog.mp4'));
    writeFileSync(path.join(tmp.path, 'cut.mp4'), bytes.subarray(0, Math.floor(bytes.length / 4)));
    const seq = makeFrameFolder(path.join(tmp.path, 'seq'), 3, { width: 32, height: 24 });
    makeFrameFolder(seq, 3, { width: 32, height: 24, start: 7 });
    const file = notebookFile(['stage: video\nid: a\nsource: cut.mp4\nmaxSide: 320\n', 'stage: video\nid: b\nsource: seq\n']);
    const code = await runNotebookFile(file, {});
    assert.equal(code, 0, stderr);
    assert.match(stderr, /^\[cell 1\] warning: Only \d+ of the 289 frames that cut\.mp4 lists could be decoded/m);
    assert.match(stderr, /^\[cell 2\] warning: The frame folder seq has gaps in its numbering \(1 place, e\.g\. 00002\.jpg → 00007\.jpg\)/m);
    const nb = parseNotebook(readFileSync(file, 'utf8'));
    const warningsOf = (i: number): string => dec.decode(nb.cells[i].outputs.flatMap((o) => o.items).find((it) => it.mime === STDERR_MIME)?.data ?? new Uint8Array());
    assert.match(warningsOf(0), /Warning: Only \d+ of the 289 frames/);
    assert.match(warningsOf(1), /Warning: The frame folder seq has gaps/);
  });
});
