import assert from 'node:assert/strict';
import { MIME } from '../../../../src/common/mime';
import { CellOutputBuilder, type OutputChange } from '../../../../src/pipeline/cells/outputBuilder';

const JPEG = new Uint8Array([0xff, 0xd8, 0xff]);

suite('cells: a summary table supersedes per-clip outputs', () => {
  test('the traces, images and clip headers it names are removed when it arrives; the rest stays in order', () => {
    const changes: OutputChange[] = [];
    const b = new CellOutputBuilder((c) => changes.push(c));
    b.apply({ type: 'markdown', text: 'prompt shown in full' });
    b.apply({ type: 'markdown', id: 'clip:1:0', text: '#### Object 1 · clip 1' });
    b.apply({ type: 'trace', streamId: 's0', title: 'clip 1', delta: 'thinking [2]', final: { answer: '[2]', valid: true } });
    b.apply({ type: 'image', id: 's0:image', mime: 'image/jpeg', data: JPEG, caption: 'clip 1', renderer: { mime: MIME.frameGrid, payload: { version: 1 } } });
    b.apply({ type: 'trace', streamId: 's1', title: 'clip 2', delta: 'kept' });
    b.apply({ type: 'table', title: 'Pivot frames', columns: ['clip'], rows: [[1]] });
    assert.equal(b.outputs().length, 6);
    b.apply({ type: 'table', columns: ['clip'], rows: [[1]], renderer: { mime: MIME.pivotView, payload: { version: 1 } }, supersedes: { traces: ['s0'], images: ['s0:image'], markdown: ['clip:1:0'] } });
    const out = b.outputs();
    assert.deepEqual(out.map((o) => o.items[0].mime), ['text/markdown', MIME.reasoningTrace, 'text/markdown', MIME.pivotView]);
    assert.match(new TextDecoder().decode(out[1].items[0].data), /kept/);
    assert.equal(changes.filter((c) => c.type === 'remove').length, 3);
    b.finish('ok');
    assert.equal(b.outputs().length, 4, 'a finished run does not bring a superseded trace back');
  });
});
