import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import {
  EXTRA_FIELDS_KEY,
  MAX_JSON_DEPTH,
  decodeNotebookBytes,
  describeInvalidUtf8,
  exportIpynb,
  jsonPathAt,
  parseNotebook,
  serializeNotebook,
  stringifySorted,
} from '../../../../src/pipeline/format';
import { JsonTooDeepError, sortKeysDeep } from '../../../../src/pipeline/format/json';
import { stableStringify } from '../../../../src/pipeline/run/hash';
import type { NotebookModel } from '../../../../src/pipeline/format';
import { PipelineError } from '../../../../src/pipeline/errors';

const FIXTURE = path.resolve(__dirname, '../../../fixtures/notebooks/jupyter-extras.alref');
const PNG = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==';

type Json = Record<string, any>;

function nbText(cells: unknown[], extra: Json = {}): string {
  return JSON.stringify({ nbformat: 4, nbformat_minor: 5, metadata: { alref: { formatVersion: 1 } }, cells, ...extra });
}

function rewrite(text: string): Json {
  return JSON.parse(serializeNotebook(parseNotebook(text))) as Json;
}

function nested(depth: number): string {
  // `depth` objects inside each other: {"a":{"a":...{"a":1}...}}
  return `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;
}

suite('format: nbformat fields the format does not own are kept', () => {
  test('a Jupyter notebook with attachments, unknown fields and metadata is rewritten byte for byte', () => {
    const text = readFileSync(FIXTURE, 'utf8');
    const model = parseNotebook(text, { file: FIXTURE });
    assert.equal(serializeNotebook(model), text);
    // The raw JSON really has what this test is about (so the identity above is not vacuous).
    const raw = JSON.parse(text) as Json;
    assert.equal(raw.cells[0].attachments['dog.png']['image/png'], PNG);
    assert.equal(raw.cells[0]['x-cell-extra'], 42);
    assert.deepEqual(raw['x-unknown-top'], { kept: true });
    assert.equal(raw.cells[2].outputs[1].output_type, 'execute_result');
    // Attachments are `metadata.attachments` in the model: where VS Code's markdown renderer looks.
    assert.deepEqual(model.cells[0].metadata.attachments, { 'dog.png': { 'image/png': PNG } });
  });

  test('markdown cell attachments survive every write: a model edit, a re-serialization and the .ipynb export', () => {
    const text = nbText([
      { cell_type: 'markdown', id: 'm', metadata: {}, source: '![x](attachment:a.png)', attachments: { 'a.png': { 'image/png': PNG } } },
      { cell_type: 'code', id: 'c', metadata: { vscode: { languageId: 'alref' } }, source: 'stage: reference\nexpression: x\n', outputs: [], execution_count: null },
    ]);
    const model = parseNotebook(text);
    model.cells[1].source = 'stage: reference\nexpression: y\n';
    const written = JSON.parse(serializeNotebook(model)) as Json;
    assert.deepEqual(written.cells[0].attachments, { 'a.png': { 'image/png': PNG } });
    assert.equal(written.cells[0].metadata.attachments, undefined, 'top level in the file, not in its metadata');
    const ipynb = JSON.parse(exportIpynb(model)) as Json;
    assert.deepEqual(ipynb.cells[0].attachments, { 'a.png': { 'image/png': PNG } });
  });

  test('unknown keys of the notebook, of cells and of outputs, and execute_result outputs, are written back', () => {
    const out = rewrite(
      nbText(
        [
          { cell_type: 'markdown', id: 'm', metadata: { custom: { deep: [1, { two: 2 }] } }, source: 'x', 'x-new': { a: 1 } },
          { cell_type: 'raw', id: 'r', metadata: {}, source: 'y', attachments: { 'n.txt': { 'text/plain': 'n' } } },
          {
            cell_type: 'code',
            id: 'c',
            metadata: { vscode: { languageId: 'python', other: true }, alref: { mine: 1 } },
            source: 'z',
            execution_count: 7,
            'x-code': false,
            outputs: [
              { output_type: 'stream', name: 'stderr', text: 'e', extra: 1 },
              { output_type: 'error', ename: 'E', evalue: 'v', traceback: [], extra: 2 },
              { output_type: 'execute_result', execution_count: 7, data: { 'text/plain': 'r' }, metadata: {}, extra: 3 },
              { output_type: 'display_data', data: { 'text/plain': 'd' }, metadata: { keep: 'me' }, extra: 4 },
            ],
          },
        ],
        { 'x-top': [1, 2, 3] },
      ),
    );
    assert.deepEqual(out['x-top'], [1, 2, 3]);
    assert.deepEqual(out.cells[0]['x-new'], { a: 1 });
    assert.deepEqual(out.cells[0].metadata.custom, { deep: [1, { two: 2 }] });
    assert.deepEqual(out.cells[1].attachments, { 'n.txt': { 'text/plain': 'n' } });
    assert.equal(out.cells[2]['x-code'], false);
    assert.deepEqual(out.cells[2].metadata.vscode, { languageId: 'python', other: true });
    assert.deepEqual(out.cells[2].metadata.alref, { mine: 1 });
    const [stream, error, result, display] = out.cells[2].outputs as Json[];
    assert.deepEqual(stream, { output_type: 'stream', name: 'stderr', text: ['e'], extra: 1 });
    assert.deepEqual(error, { output_type: 'error', ename: 'E', evalue: 'v', traceback: [], extra: 2 });
    assert.deepEqual(result, { output_type: 'execute_result', execution_count: 7, data: { 'text/plain': ['r'] }, metadata: {}, extra: 3 });
    assert.deepEqual(display, { output_type: 'display_data', data: { 'text/plain': ['d'] }, metadata: { keep: 'me' }, extra: 4 });
    for (const o of out.cells[2].outputs as Json[]) {
      assert.equal(EXTRA_FIELDS_KEY in (o.metadata ?? {}), false, 'the model key never reaches the file');
    }
  });

  test('metadata keys named like the model\'s own (id, attachments, alrefFields) are kept where they were', () => {
    const out = rewrite(
      nbText(
        [{ cell_type: 'markdown', id: 'm', metadata: { id: 'other', attachments: { old: 1 }, alrefFields: 'odd' }, source: 'x', attachments: { 'a.png': { 'image/png': PNG } } }],
        { metadata: { alref: { formatVersion: 1 }, alrefFields: { fields: { x: 1 } } } },
      ),
    );
    assert.equal(out.cells[0].id, 'm');
    assert.deepEqual(out.cells[0].metadata, { id: 'other', attachments: { old: 1 }, alrefFields: 'odd' });
    assert.deepEqual(out.cells[0].attachments, { 'a.png': { 'image/png': PNG } });
    assert.deepEqual(out.metadata.alrefFields, { fields: { x: 1 } });
    assert.equal(out.x, undefined);
  });

  test('a "__proto__" key in metadata is kept as a key, and never becomes a prototype', () => {
    const text =
      '{"nbformat":4,"nbformat_minor":5,"metadata":{"__proto__":{"polluted":"notebook"}},"cells":[' +
      '{"cell_type":"markdown","id":"m","metadata":{"__proto__":{"polluted":"cell"},"ok":1},"source":"x"},' +
      '{"cell_type":"code","id":"c","metadata":{},"source":"","outputs":[{"output_type":"display_data","data":{"text/plain":"t"},"metadata":{"__proto__":{"polluted":"output"}}}]}]}';
    const model = parseNotebook(text);
    assert.equal(Object.getPrototypeOf(model.metadata), Object.prototype);
    assert.equal(Object.getPrototypeOf(model.cells[0].metadata), Object.prototype);
    const written = serializeNotebook(model);
    assert.equal(({} as Json).polluted, undefined, 'Object.prototype untouched');
    for (const where of ['notebook', 'cell', 'output']) {
      assert.match(written, new RegExp(`"__proto__": \\{\\s*"polluted": "${where}"`), where);
    }
    assert.equal(serializeNotebook(parseNotebook(written)), written);
  });
});

suite('format: nesting depth', () => {
  test(`more than ${MAX_JSON_DEPTH} levels in cell metadata is refused when read, naming the file, the cell and the place`, () => {
    const deep = `{"nbformat":4,"nbformat_minor":5,"metadata":{},"cells":[{"cell_type":"markdown","id":"m","metadata":{"d":${nested(2500)}},"source":"x"}]}`;
    assert.throws(
      () => parseNotebook(deep, { file: '/n/deep.alref' }),
      (err: unknown) => {
        assert.ok(err instanceof PipelineError);
        assert.match(err.message, /^\/n\/deep\.alref: cell 1: objects and arrays nest more than 200 levels deep at cells\[0\]\.metadata\.d\.a\.a\.a/);
        assert.match(err.message, /The file was not changed\.$/);
        return true;
      },
    );
    // 20,000 levels of arrays: still a named error, not a stack overflow.
    assert.throws(() => parseNotebook(`{"nbformat":4,"metadata":{"x":${'['.repeat(20000)}${']'.repeat(20000)}},"cells":[]}`, { file: 'f' }), /f: objects and arrays nest more than 200 levels deep at metadata\.x\[0\]/);
  });

  test('exactly the limit reads and writes; a model deeper than the limit is refused when written, naming the place', () => {
    // root object (1) + cells (2) + cell (3) + metadata (4) + d = nested(k) -> 4 + k levels.
    const ok = `{"nbformat":4,"nbformat_minor":5,"metadata":{},"cells":[{"cell_type":"markdown","id":"m","metadata":{"d":${nested(MAX_JSON_DEPTH - 4)}},"source":"x"}]}`;
    const model = parseNotebook(ok);
    const text = serializeNotebook(model);
    assert.equal(serializeNotebook(parseNotebook(text)), text);
    assert.throws(() => parseNotebook(ok.replace('{"a":1}', '{"a":{"a":1}}')), /nest more than 200 levels/);
    const deepModel: NotebookModel = { metadata: {}, cells: [{ kind: 'markdown', language: 'markdown', source: '', metadata: { id: 'm', d: JSON.parse(nested(3000)) }, outputs: [] }] };
    assert.throws(
      () => serializeNotebook(deepModel),
      (err: unknown) => err instanceof PipelineError && /cannot be written: .* in cell 1 at cells\[0\]\.metadata\.d\.a/.test(err.message),
    );
    // The .ipynb export refuses it the same way.
    assert.throws(() => exportIpynb(deepModel), (err: unknown) => err instanceof PipelineError && /cannot be written: .* in cell 1 at cells\[0\]\.metadata\.d\.a/.test(err.message));
  });

  test('the key sort is the write-side depth check: it names the first place too deep, and never overflows the stack', () => {
    assert.equal(stringifySorted(JSON.parse(nested(MAX_JSON_DEPTH - 1))), `${JSON.stringify(JSON.parse(nested(MAX_JSON_DEPTH - 1)), null, 1)}\n`);
    assert.throws(
      () => sortKeysDeep({ b: [0, JSON.parse(nested(3))] }, 4),
      (err: unknown) => err instanceof JsonTooDeepError && JSON.stringify(err.path) === '["b",1,"a","a"]' && err.maxDepth === 4,
    );
    assert.deepEqual(sortKeysDeep({ b: [0, JSON.parse(nested(2))], a: undefined }, 4), { b: [0, { a: { a: 1 } }] });
    let deep: unknown = 1;
    for (let i = 0; i < 100_000; i++) {
      deep = [deep];
    }
    assert.throws(() => stringifySorted({ x: deep }), (err: unknown) => err instanceof JsonTooDeepError && err.path.length === MAX_JSON_DEPTH);
  });

  test('content hashes sort keys with the same walk: same order, bytes untouched, the same depth refusal', () => {
    const value = { b: [{ z: 1, y: undefined }, undefined], a: { d: 2, c: 1 }, bytes: new Uint8Array([3, 1, 2, 4, 5, 6, 7, 8, 9, 10, 11]) };
    assert.equal(stableStringify(value), '{"a":{"c":1,"d":2},"b":[{"z":1},null],"bytes":{"0":3,"1":1,"2":2,"3":4,"4":5,"5":6,"6":7,"7":8,"8":9,"9":10,"10":11}}');
    assert.equal(stableStringify({ y: 1, x: [2] }), JSON.stringify(JSON.parse(stringifySorted({ y: 1, x: [2] }))));
    assert.throws(() => stableStringify(JSON.parse(nested(MAX_JSON_DEPTH + 1))), (err: unknown) => err instanceof JsonTooDeepError);
  });
});

suite('format: bytes that are not valid UTF-8', () => {
  test('are reported with the cell, line, column and JSON path, and decode to U+FFFD', () => {
    const text = nbText([
      { cell_type: 'markdown', id: 'a', metadata: {}, source: ['ok\n', 'fine'] },
      { cell_type: 'markdown', id: 'b', metadata: {}, source: ['caf\u00e9\n', 'BAD here'] },
    ]).replace(/,/g, ',\n');
    const bytes = Buffer.from(text, 'utf8');
    const at = bytes.indexOf(Buffer.from('BAD'));
    const bad = Buffer.concat([bytes.subarray(0, at), Buffer.from([0xc3, 0x28]), bytes.subarray(at)]);
    const { text: decoded, invalidUtf8 } = decodeNotebookBytes(bad);
    assert.ok(invalidUtf8);
    assert.equal(invalidUtf8.cell, 2);
    assert.deepEqual(invalidUtf8.path, ['cells', 1, 'source', 1]);
    assert.equal(invalidUtf8.byteOffset, at);
    assert.equal(invalidUtf8.count, 1);
    assert.equal(invalidUtf8.line, text.slice(0, text.indexOf('BAD')).split('\n').length);
    assert.match(describeInvalidUtf8(invalidUtf8), /not valid UTF-8 \(one place in cell 2, at line \d+, column \d+ \(byte \d+, cells\[1\]\.source\[1\]\)\)/);
    assert.equal(parseNotebook(decoded).cells[1].source, 'caf\u00e9\n\uFFFD(BAD here');
    // Valid text, a legitimately encoded U+FFFD included, is not reported.
    assert.equal(decodeNotebookBytes(Buffer.from(nbText([{ cell_type: 'markdown', id: 'a', metadata: {}, source: '\uFFFD \u{1F600}' }]))).invalidUtf8, undefined);
    // Overlong forms, surrogates and truncated sequences are invalid too.
    for (const seq of [[0xc0, 0xaf], [0xed, 0xa0, 0x80], [0xf0, 0x9f, 0x98], [0xff], [0xf5, 0x80, 0x80, 0x80]]) {
      assert.ok(decodeNotebookBytes(new Uint8Array([0x22, ...seq, 0x22])).invalidUtf8, seq.join(','));
    }
  });

  test('the count of invalid places is the number of U+FFFD the decoder writes (a truncated sequence is one)', () => {
    const cases: Array<[number[], number]> = [
      [[0xf0, 0x9f, 0x98], 1],
      [[0xe2, 0x82], 1],
      [[0xe2, 0x82, 0xf0, 0x9f, 0x98], 2],
      [[0xc3, 0x28], 1],
      [[0xc0, 0xaf], 2],
      [[0xed, 0xa0, 0x80], 3],
      [[0xf5, 0x80, 0x80, 0x80], 4],
      [[0xf0, 0x9f, 0x98, 0x80, 0x80], 1],
    ];
    for (const [seq, expected] of cases) {
      const bytes = new Uint8Array([0x22, ...seq, 0x22]);
      const info = decodeNotebookBytes(bytes).invalidUtf8;
      const replaced = [...new TextDecoder().decode(bytes)].filter((ch) => ch === '\uFFFD').length;
      assert.equal(replaced, expected, `decoder on ${seq.join(',')}`);
      assert.equal(info?.count, expected, seq.join(','));
      assert.equal(info?.byteOffset, seq[0] === 0xf0 && seq[3] === 0x80 ? 5 : 1, 'a whole sequence before the stray byte is valid');
    }
    // At the very end of the file too.
    assert.equal(decodeNotebookBytes(new Uint8Array([0x22, 0xf0, 0x9f, 0x98])).invalidUtf8?.count, 1);
  });

  test('jsonPathAt names keys, array elements and nested values', () => {
    const t = '{"a": [1, {"b": "xy"}], "c": {"d": [[0, 1], "z"]}}';
    assert.deepEqual(jsonPathAt(t, t.indexOf('xy')), ['a', 1, 'b']);
    assert.deepEqual(jsonPathAt(t, t.indexOf('"z"') + 1), ['c', 'd', 1]);
    assert.deepEqual(jsonPathAt(t, t.indexOf('1]')), ['c', 'd', 0, 1]);
    assert.deepEqual(jsonPathAt(t, t.indexOf('"c"') + 1), ['c']);
  });
});
