import assert from 'node:assert/strict';
import {
  ERROR_MIME,
  FORMAT_VERSION,
  STDOUT_MIME,
  STORAGE_KEY,
  exportIpynb,
  parseNotebook,
  serializeNotebook,
} from '../../../../src/pipeline/format';
import type { NotebookModel } from '../../../../src/pipeline/format';
import { PipelineError } from '../../../../src/pipeline/errors';
import { MIME, OUTPUT_METADATA_KEY } from '../../../../src/common/mime';

const enc = new TextEncoder();
const dec = new TextDecoder();
const OTHER_BYTES = new Uint8Array([0xff, 0xd8, 0xff, 0xe0, 9, 8, 7]);

function sampleModel(): NotebookModel {
  const png = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0, 1, 2, 3, 255, 254]);
  return {
    metadata: { alref: { formatVersion: FORMAT_VERSION, record: { extensionVersion: '0.1.0', settings: { b: 1, a: 2 }, models: {}, prompts: { 'pivot-frame': 'ab' }, cells: {} } }, zeta: 1, alpha: { y: 1, x: 2 } },
    cells: [
      { kind: 'markdown', language: 'markdown', source: '# Title\n\nSome *text*.\n', metadata: { id: 'intro' }, outputs: [] },
      {
        kind: 'code',
        language: 'alref',
        source: 'stage: video\nsource: clip.mp4\n',
        metadata: { id: 'vid', tags: ['x'] },
        outputs: [
          { items: [{ mime: MIME.frameGrid, data: png }, { mime: 'image/png', data: png }], metadata: { [OUTPUT_METADATA_KEY]: { version: 1, tiles: [{ frameId: 1 }] } } },
          { items: [{ mime: 'text/markdown', data: enc.encode('| a | b |\n|---|---|\n| 1 | 2 |') }] },
          { items: [{ mime: MIME.metrics, data: enc.encode('{"j":0.5,"f":0.25}') }, { mime: 'text/markdown', data: enc.encode('J 0.5') }] },
          { items: [{ mime: STDOUT_MIME, data: enc.encode('line 1\nline 2\n') }] },
        ],
        executionSummary: { executionOrder: 3, success: true, timing: { startTime: 1000, endTime: 2500 } },
      },
      {
        kind: 'code',
        language: 'alref-prompt',
        source: 'template: pivot-frame\nPick {{frameCount}} frames.',
        metadata: { id: 'p1' },
        outputs: [{ items: [{ mime: ERROR_MIME, data: enc.encode(JSON.stringify({ name: 'PipelineError', message: 'Cell 3 (id "p1"): bad' })) }] }],
        executionSummary: { executionOrder: 4, success: false },
      },
    ],
  };
}

suite('format: .alref notebook file', () => {
  test('serialization is nbformat 4.5 with sorted keys, 1-space indent and a trailing newline', () => {
    const text = serializeNotebook(sampleModel());
    assert.ok(text.endsWith('}\n'));
    const raw = JSON.parse(text);
    assert.equal(raw.nbformat, 4);
    assert.equal(raw.nbformat_minor, 5);
    assert.equal(raw.metadata.alref.formatVersion, FORMAT_VERSION);
    assert.deepEqual(Object.keys(raw), ['cells', 'metadata', 'nbformat', 'nbformat_minor']);
    assert.deepEqual(Object.keys(raw.metadata), ['alpha', 'alref', 'zeta']);
    assert.ok(text.startsWith('{\n "cells": [\n  {\n'));
    assert.equal(raw.cells[1].id, 'vid');
    assert.equal(raw.cells[1].metadata.vscode.languageId, 'alref');
    assert.equal(raw.cells[2].metadata.vscode.languageId, 'alref-prompt');
    assert.equal(raw.cells[1].execution_count, 3);
    assert.deepEqual(raw.cells[1].source, ['stage: video\n', 'source: clip.mp4\n']);
    assert.equal(raw.cells[0].outputs, undefined, 'markdown cells have no outputs field');
  });

  test('round trip: model -> text -> model keeps everything, and text -> model -> text is byte-identical', () => {
    const model = sampleModel();
    const text = serializeNotebook(model);
    const back = parseNotebook(text);
    assert.deepEqual(back.cells.map((c) => [c.kind, c.language, c.source, c.metadata.id]), model.cells.map((c) => [c.kind, c.language, c.source, c.metadata.id]));
    assert.deepEqual(back.cells[1].metadata, { id: 'vid', tags: ['x'] });
    assert.deepEqual(back.cells[1].executionSummary, model.cells[1].executionSummary);
    assert.deepEqual(back.cells[2].executionSummary, { executionOrder: 4, success: false });
    const outs = back.cells[1].outputs;
    assert.equal(outs.length, 4);
    assert.deepEqual(outs[0].items.map((i) => i.mime), [MIME.frameGrid, 'image/png']);
    assert.deepEqual([...outs[0].items[0].data], [...model.cells[1].outputs[0].items[0].data]);
    assert.deepEqual([...outs[0].items[1].data], [...model.cells[1].outputs[0].items[1].data]);
    assert.deepEqual(outs[0].metadata, { [OUTPUT_METADATA_KEY]: { version: 1, tiles: [{ frameId: 1 }] } });
    assert.equal(dec.decode(outs[1].items[0].data), '| a | b |\n|---|---|\n| 1 | 2 |');
    assert.deepEqual(JSON.parse(dec.decode(outs[2].items[0].data)), { j: 0.5, f: 0.25 });
    assert.equal(outs[3].items[0].mime, STDOUT_MIME);
    assert.equal(dec.decode(outs[3].items[0].data), 'line 1\nline 2\n');
    assert.equal(back.cells[2].outputs[0].items[0].mime, ERROR_MIME);
    assert.equal(JSON.parse(dec.decode(back.cells[2].outputs[0].items[0].data)).message, 'Cell 3 (id "p1"): bad');
    assert.equal(serializeNotebook(back), text);
    assert.equal(serializeNotebook(parseNotebook(serializeNotebook(back))), text);
  });

  test('serialization is deterministic: key order of metadata and payloads does not matter', () => {
    const a = sampleModel();
    const b = sampleModel();
    b.metadata = { alpha: { x: 2, y: 1 }, zeta: 1, alref: b.metadata.alref };
    assert.equal(serializeNotebook(a), serializeNotebook(b));
    assert.equal(serializeNotebook(a), serializeNotebook(a));
  });

  test('a custom binary renderer item equal to the image fallback is stored once and restored on load', () => {
    const bytes = new Uint8Array(4096).map((_, i) => (i * 7) % 256);
    const model: NotebookModel = {
      metadata: {},
      cells: [{ kind: 'code', language: 'alref', source: 'stage: video', metadata: { id: 'a' }, outputs: [{ items: [{ mime: MIME.frameGrid, data: bytes }, { mime: 'image/jpeg', data: bytes }] }] }],
    };
    const text = serializeNotebook(model);
    const out = JSON.parse(text).cells[0].outputs[0];
    assert.equal(out.data[MIME.frameGrid], '');
    assert.equal(out.data['image/jpeg'], Buffer.from(bytes).toString('base64'));
    assert.deepEqual(out.metadata[STORAGE_KEY].sameBytes, { [MIME.frameGrid]: 'image/jpeg' });
    const back = parseNotebook(text);
    const items = back.cells[0].outputs[0].items;
    assert.deepEqual(items.map((i) => i.mime), [MIME.frameGrid, 'image/jpeg']);
    assert.deepEqual([...items[0].data], [...bytes]);
    assert.equal(back.cells[0].outputs[0].metadata, undefined, 'the storage note does not reach VS Code');
    assert.equal(serializeNotebook(back), text);
    // Different bytes are both stored in full.
    const other = structuredClone(model);
    other.cells[0].outputs[0].items[0].data = OTHER_BYTES;
    const out2 = JSON.parse(serializeNotebook(other)).cells[0].outputs[0];
    assert.equal(out2.data[MIME.frameGrid], Buffer.from(OTHER_BYTES).toString('base64'));
    assert.deepEqual(out2.metadata, {});
  });

  test('item order other than the sorted one is kept', () => {
    const model: NotebookModel = {
      metadata: {},
      cells: [{ kind: 'code', language: 'alref', source: '', metadata: { id: 'a' }, outputs: [{ items: [{ mime: 'text/plain', data: enc.encode('t') }, { mime: 'image/png', data: new Uint8Array([1]) }] }] }],
    };
    const back = parseNotebook(serializeNotebook(model));
    assert.deepEqual(back.cells[0].outputs[0].items.map((i) => i.mime), ['text/plain', 'image/png']);
  });

  test('an empty or whitespace-only file is an empty notebook', () => {
    for (const text of ['', '   \n\t\n']) {
      const nb = parseNotebook(text);
      assert.deepEqual(nb.cells, []);
      assert.equal(nb.metadata.alref?.formatVersion, FORMAT_VERSION);
    }
  });

  test('malformed, truncated, non-nbformat-4 and newer-version files throw an error naming the file and problem', () => {
    const good = serializeNotebook(sampleModel());
    const cases: Array<[string, RegExp]> = [
      ['{"cells": [', /not valid JSON.*truncated or corrupted/],
      [good.slice(0, Math.floor(good.length / 2)), /not valid JSON/],
      ['[1, 2]', /top level is not a JSON object/],
      ['{"nbformat": 3, "cells": []}', /not an nbformat 4 notebook \(nbformat is 3\)/],
      ['{"cells": []}', /not an nbformat 4 notebook/],
      [JSON.stringify({ nbformat: 4, nbformat_minor: 5, metadata: { alref: { formatVersion: FORMAT_VERSION + 1 } }, cells: [] }), /newer AL-Ref Notebooks \(format version 2/],
      [JSON.stringify({ nbformat: 4, nbformat_minor: 5, metadata: {} }), /no "cells" array/],
      [JSON.stringify({ nbformat: 4, nbformat_minor: 5, metadata: {}, cells: [{ cell_type: 'widget', source: '' }] }), /cell 1 is invalid: unknown cell_type "widget"/],
      [JSON.stringify({ nbformat: 4, nbformat_minor: 5, metadata: {}, cells: [{ cell_type: 'code', source: '', outputs: [{ output_type: 'display_data', data: { 'image/png': '@@@' } }] }] }), /cell 1 is invalid: output 1: the image\/png item is not valid base64/],
    ];
    for (const [text, re] of cases) {
      assert.throws(
        () => parseNotebook(text, { file: '/tmp/x y/bad.alref' }),
        (err: unknown) => {
          assert.ok(err instanceof PipelineError, `PipelineError for ${text.slice(0, 40)}`);
          assert.match(err.message, /^\/tmp\/x y\/bad\.alref: /);
          assert.match(err.message, re);
          assert.equal(err.stage, 'format');
          assert.equal(err.kind, 'invalid-input');
          assert.equal(err.file, '/tmp/x y/bad.alref');
          return true;
        },
      );
    }
  });

  test('cells without ids (nbformat 4.4) get deterministic free ids; Jupyter stream/error/execute_result outputs load', () => {
    const text = JSON.stringify({
      nbformat: 4,
      nbformat_minor: 4,
      metadata: { kernelspec: { name: 'python3' } },
      cells: [
        { cell_type: 'code', source: ['stage: video\n', 'source: a.mp4'], metadata: {}, execution_count: 1, outputs: [
          { output_type: 'stream', name: 'stderr', text: ['warn\n'] },
          { output_type: 'execute_result', execution_count: 1, data: { 'text/plain': ['42'] }, metadata: {} },
          { output_type: 'error', ename: 'ValueError', evalue: 'bad', traceback: ['a', 'b'] },
        ] },
        { cell_type: 'markdown', id: 'cell-1', source: 'x', metadata: {} },
        { cell_type: 'raw', source: 'raw text', metadata: {} },
      ],
    });
    const nb = parseNotebook(text);
    assert.deepEqual(nb.cells.map((c) => c.metadata.id), ['cell-2', 'cell-1', 'cell-3']);
    assert.equal(nb.cells[0].language, 'alref');
    assert.equal(nb.cells[0].source, 'stage: video\nsource: a.mp4');
    assert.equal(nb.cells[2].language, 'raw');
    assert.equal(dec.decode(nb.cells[0].outputs[0].items[0].data), 'warn\n');
    assert.equal(dec.decode(nb.cells[0].outputs[1].items[0].data), '42');
    assert.deepEqual(JSON.parse(dec.decode(nb.cells[0].outputs[2].items[0].data)), { name: 'ValueError', message: 'bad', stack: 'a\nb' });
    assert.deepEqual(nb.metadata.kernelspec, { name: 'python3' });
    const again = JSON.parse(serializeNotebook(nb));
    assert.equal(again.nbformat_minor, 5);
    assert.equal(again.cells[2].cell_type, 'raw');
    assert.deepEqual(parseNotebook(serializeNotebook(nb)), nb);
  });

  test('ipynb export keeps languages and outputs and writes duplicated items in full', () => {
    const bytes = new Uint8Array([1, 2, 3, 4]);
    const model = sampleModel();
    model.cells[1].outputs[0].items = [{ mime: MIME.frameGrid, data: bytes }, { mime: 'image/png', data: bytes }];
    const nb = JSON.parse(exportIpynb(model));
    assert.equal(nb.nbformat, 4);
    assert.equal(nb.metadata.language_info.name, 'yaml');
    assert.equal(nb.cells[1].cell_type, 'code');
    assert.equal(nb.cells[1].metadata.vscode.languageId, 'alref');
    assert.equal(nb.cells[2].metadata.vscode.languageId, 'alref-prompt');
    const out = nb.cells[1].outputs[0];
    assert.equal(out.data[MIME.frameGrid], Buffer.from(bytes).toString('base64'));
    assert.equal(out.data['image/png'], Buffer.from(bytes).toString('base64'));
    assert.equal(out.metadata[STORAGE_KEY], undefined);
    assert.equal(nb.cells[2].outputs[0].output_type, 'error');
  });
});
