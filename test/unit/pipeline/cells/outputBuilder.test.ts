import assert from 'node:assert/strict';
import { CellOutputBuilder, markdownTable } from '../../../../src/pipeline/cells/outputBuilder';
import { planOutputSync, sameOutputItems, sameOutputMetadata } from '../../../../src/pipeline/cells/outputSync';
import type { OutputModel } from '../../../../src/pipeline/format';
import type { OutputChange } from '../../../../src/pipeline/cells/outputBuilder';
import { MIME, OUTPUT_METADATA_KEY } from '../../../../src/common/mime';
import { ERROR_MIME, STDERR_MIME, parseNotebook, serializeNotebook } from '../../../../src/pipeline/format';

const dec = new TextDecoder();

suite('cells: stage events -> outputs', () => {
  test('one trace output per stream, grown as deltas arrive, with a JSON payload and a markdown fallback', () => {
    const changes: OutputChange[] = [];
    const b = new CellOutputBuilder((c) => changes.push(c));
    b.apply({ type: 'trace', streamId: 'clip-0', title: 'Clip 1', delta: 'The dog ' });
    b.apply({ type: 'trace', streamId: 'clip-1', title: 'Clip 2', delta: 'A cat' });
    b.apply({ type: 'trace', streamId: 'clip-0', delta: 'runs. [3]', final: { answer: '[3]', valid: true } });
    const outs = b.outputs();
    assert.equal(outs.length, 2);
    assert.deepEqual(changes.map((c) => `${c.type}:${c.slot}`), ['add:trace:clip-0', 'add:trace:clip-1', 'update:trace:clip-0']);
    assert.deepEqual(outs[0].items.map((i) => i.mime), [MIME.reasoningTrace, 'text/markdown']);
    const payload = JSON.parse(dec.decode(outs[0].items[0].data));
    assert.deepEqual(payload, { version: 1, streamId: 'clip-0', title: 'Clip 1', text: 'The dog runs. [3]', done: true, answer: '[3]', valid: true });
    assert.match(dec.decode(outs[0].items[1].data), /^\*\*Clip 1\*\*\n\nThe dog runs\. \[3\]\n\n\*\*Answer:\*\* \[3\] \(valid\)/);
    assert.equal(JSON.parse(dec.decode(outs[1].items[0].data)).done, false);
  });

  test('images: binary renderer item + image fallback with the payload in metadata; same id replaces in place', () => {
    const b = new CellOutputBuilder();
    const png = new Uint8Array([137, 80, 78, 71, 1]);
    b.apply({ type: 'image', id: 'grid-0', mime: 'image/png', data: png, caption: 'Clip 1', renderer: { mime: MIME.frameGrid, payload: { version: 1, tiles: [] } } });
    b.apply({ type: 'image', mime: 'image/jpeg', data: new Uint8Array([255, 216]), caption: 'plain' });
    b.apply({ type: 'image', id: 'grid-0', mime: 'image/png', data: new Uint8Array([9]), renderer: { mime: MIME.frameGrid, payload: { version: 1, tiles: [1] } } });
    b.apply({ type: 'image', mime: 'image/png', data: png, renderer: { mime: MIME.maskOverlay, payload: { version: 1, frames: 3 } } });
    const outs = b.outputs();
    assert.equal(outs.length, 4);
    assert.deepEqual(outs[0].items.map((i) => i.mime), [MIME.frameGrid, 'image/png']);
    assert.deepEqual([...outs[0].items[0].data], [9]);
    assert.deepEqual(outs[0].metadata, { [OUTPUT_METADATA_KEY]: { version: 1, tiles: [1] } });
    assert.equal(dec.decode(outs[1].items[0].data), '*plain*', 'a caption without a renderer gets its own markdown line');
    assert.deepEqual(outs[2].items.map((i) => i.mime), ['image/jpeg']);
    assert.deepEqual(outs[3].items.map((i) => i.mime), [MIME.maskOverlay, 'image/png']);
    assert.deepEqual(JSON.parse(dec.decode(outs[3].items[0].data)), { version: 1, frames: 3 });
    // Stored once in the file, restored on load.
    const nb = { metadata: {}, cells: [{ kind: 'code' as const, language: 'alref', source: '', metadata: { id: 'a' }, outputs: outs }] };
    const text = serializeNotebook(nb);
    assert.equal(JSON.parse(text).cells[0].outputs[0].data[MIME.frameGrid], '');
    assert.deepEqual(parseNotebook(text).cells[0].outputs, outs);
  });

  test('tables, markdown, warnings and progress', () => {
    const b = new CellOutputBuilder();
    b.apply({ type: 'progress', done: 1, total: 4, label: 'decode' });
    b.apply({ type: 'table', title: 'Scores', columns: ['metric', 'value'], rows: [['J', 0.5], ['F|x', null]], renderer: { mime: MIME.metrics, payload: { j: 0.5 } } });
    b.apply({ type: 'warning', message: 'odd size' });
    b.apply({ type: 'progress', done: 2, total: 4, label: 'decode' });
    b.apply({ type: 'markdown', text: '**done**' });
    b.apply({ type: 'warning', message: 'vfr' });
    let outs = b.outputs();
    assert.equal(dec.decode(outs[0].items[0].data), 'decode: 2/4 (50%)', 'progress updates in place');
    const before = b.outputs();
    b.finish('ok');
    outs = b.outputs();
    assert.equal(outs.length, 4, 'the progress line stays (as a status line) so no output is re-created');
    assert.equal(dec.decode(outs[0].items[0].data), 'Done decode: 2/4 (50%)');
    assert.ok(outs.slice(1).every((o, i) => o === before[i + 1]), 'other outputs are untouched');
    assert.deepEqual(outs[1].items.map((i) => i.mime), [MIME.metrics, 'text/markdown']);
    assert.equal(dec.decode(outs[1].items[1].data), '**Scores**\n\n| metric | value |\n| --- | --- |\n| J | 0.5 |\n| F\\|x |  |\n');
    assert.equal(outs[2].items[0].mime, STDERR_MIME);
    assert.equal(dec.decode(outs[2].items[0].data), 'Warning: odd size\nWarning: vfr\n');
    assert.equal(dec.decode(outs[3].items[0].data), '**done**');
    b.error('PipelineError', 'Cell 1 (id "x"): bad');
    assert.equal(b.outputs()[4].items[0].mime, ERROR_MIME);
    const c = new CellOutputBuilder();
    c.apply({ type: 'progress', done: 3, total: 9, label: 'frames' });
    c.finish('cancelled');
    assert.equal(dec.decode(c.outputs()[0].items[0].data), 'Cancelled at frames: 3/9 (33%)');
    const d = new CellOutputBuilder();
    d.finish('failed');
    assert.equal(d.outputs().length, 0, 'no progress, no status line');
    assert.equal(markdownTable(['a'], []), '| a |\n| --- |\n');
  });
});

suite('cells: planning output updates for a running execution', () => {
  const a: OutputModel = { items: [] };
  const b: OutputModel = { items: [] };
  const c: OutputModel = { items: [], metadata: { alref: 1 } };

  test('first write replaces all; growth appends; changed items update in place; removal or metadata change replaces', () => {
    assert.deepEqual(planOutputSync(undefined, []), [{ type: 'replaceAll' }]);
    assert.deepEqual(planOutputSync(undefined, [a]), [{ type: 'replaceAll' }]);
    assert.deepEqual(planOutputSync([a], [a, b]), [{ type: 'append', from: 1 }]);
    const a2: OutputModel = { items: [{ mime: 'text/plain', data: new Uint8Array([1]) }] };
    assert.deepEqual(planOutputSync([a, b], [a2, b, c]), [{ type: 'replaceItems', index: 0 }, { type: 'append', from: 2 }]);
    assert.deepEqual(planOutputSync([a, b], [a]), [{ type: 'replaceAll' }]);
    assert.deepEqual(planOutputSync([a, b], [a, c]), [{ type: 'replaceAll' }]);
    assert.deepEqual(planOutputSync([a, b], [a, b]), []);
  });

  test('metadata is compared as JSON whatever its key order; items by MIME type and bytes (views included)', () => {
    assert.ok(sameOutputMetadata({ x: 1, y: { p: 1, q: 2 } }, { y: { q: 2, p: 1 }, x: 1 }));
    assert.ok(sameOutputMetadata(undefined, {}));
    assert.ok(!sameOutputMetadata({ x: 1 }, { x: 2 }));
    const m1: OutputModel = { items: [], metadata: { p: 1, q: 2 } };
    const m2: OutputModel = { items: [{ mime: 'text/plain', data: new Uint8Array([1]) }], metadata: { q: 2, p: 1 } };
    assert.deepEqual(planOutputSync([m1], [m2]), [{ type: 'replaceItems', index: 0 }], 'reordered keys are not a metadata change');
    const whole = new Uint8Array([9, 1, 2, 3, 9]);
    assert.ok(sameOutputItems([{ mime: 'a', data: whole.subarray(1, 4) }], [{ mime: 'a', data: new Uint8Array([1, 2, 3]) }]));
    assert.ok(!sameOutputItems([{ mime: 'a', data: whole.subarray(1, 4) }], [{ mime: 'a', data: new Uint8Array([1, 2]) }]));
  });

  test('a streamed trace replayed through the builder updates in place and never replaces earlier outputs', () => {
    let written: OutputModel[] | undefined;
    const kinds: string[] = [];
    const b2 = new CellOutputBuilder((_c, outs) => {
      for (const op of planOutputSync(written, outs)) {
        kinds.push(op.type);
      }
      written = [...outs];
    });
    b2.apply({ type: 'image', mime: 'image/png', data: new Uint8Array([1]) });
    for (let i = 0; i < 5; i++) {
      b2.apply({ type: 'trace', streamId: 's', delta: `chunk ${i} ` });
    }
    assert.deepEqual(kinds, ['replaceAll', 'append', 'replaceItems', 'replaceItems', 'replaceItems', 'replaceItems']);
  });
});
