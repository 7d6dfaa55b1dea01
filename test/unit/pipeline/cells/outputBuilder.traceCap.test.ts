/**
 * Streamed traces in the cell outputs: linear work in the reply's length (counted, not timed), a
 * stored size capped at TRACE_MAX_CHARS with a visible note, and no surrogate pair ever split.
 */
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { MIME } from '../../../../src/common/mime';
import type { ReasoningTracePayload } from '../../../../src/common/payloads';
import { CellOutputBuilder } from '../../../../src/pipeline/cells/outputBuilder';
import { TRACE_MAX_CHARS, TraceText } from '../../../../src/pipeline/llm/traceText';

/** Streams `chars` characters in `delta`-sized chunks through a builder; counts updates and bytes built. */
function stream(chars: number, delta: number): { updates: number; bytes: number; payload: ReasoningTracePayload } {
  let updates = 0;
  let bytes = 0;
  const b = new CellOutputBuilder((change, outputs) => {
    if (change.slot === 'trace:s') {
      updates++;
      bytes += outputs[change.index].items.reduce((n, i) => n + i.data.length, 0);
    }
  });
  const piece = 'abcdefghij'.repeat(Math.ceil(delta / 10)).slice(0, delta);
  b.apply({ type: 'trace', streamId: 's', title: 'T', delta: '' });
  for (let sent = 0; sent < chars; sent += delta) {
    b.apply({ type: 'trace', streamId: 's', delta: piece });
  }
  b.apply({ type: 'trace', streamId: 's', delta: ' [1]', final: { answer: '[1]', valid: true } });
  const item = b.outputs()[0].items.find((i) => i.mime === MIME.reasoningTrace)!;
  return { updates, bytes, payload: JSON.parse(Buffer.from(item.data).toString('utf8')) as ReasoningTracePayload };
}

suite('streamed trace outputs: linear cost, capped size', () => {
  test('1 MB and 4 MB replies: updates grow logarithmically, bytes built at most linearly (4x the reply, 4x the work at most)', () => {
    const small = stream(1 << 20, 100);
    const large = stream(4 << 20, 100);
    // ~10,000 and ~42,000 deltas; rebuilding on each would be that many updates of growing size.
    assert.ok(small.updates < 450, `1 MB: ${small.updates} updates`);
    assert.ok(large.updates - small.updates < 60, `4 MB: ${large.updates} updates vs ${small.updates}`);
    assert.ok(large.bytes <= 4 * small.bytes, `4 MB built ${large.bytes} bytes, 1 MB ${small.bytes}`);
    assert.ok(large.bytes < 8 * (4 << 20), `4 MB built ${large.bytes} bytes`);
    for (const r of [small, large]) {
      assert.ok(r.payload.text.length <= TRACE_MAX_CHARS + 200);
      assert.equal(r.payload.done, true);
      assert.ok(r.payload.text.endsWith(' [1]'));
    }
  });

  test('a short reply updates on every delta and is stored whole', () => {
    const r = stream(200, 20);
    assert.ok(r.updates >= 10, `${r.updates} updates`);
    assert.equal(r.payload.text, `${'abcdefghij'.repeat(2).repeat(10)} [1]`);
  });

  test('the outputs read mid-stream hold every delta so far (pending text is built on read)', () => {
    const b = new CellOutputBuilder();
    let all = '';
    for (let i = 0; i < 500; i++) {
      const d = `${i},`;
      all += d;
      b.apply({ type: 'trace', streamId: 's', delta: d });
    }
    const item = b.outputs()[0].items.find((i) => i.mime === MIME.reasoningTrace)!;
    assert.equal((JSON.parse(Buffer.from(item.data).toString('utf8')) as ReasoningTracePayload).text, all);
  });

  test('TraceText: whole up to the cap; beyond it head + note with the exact count + tail; never a split surrogate pair', () => {
    fc.assert(
      fc.property(fc.array(fc.string({ unit: 'grapheme', maxLength: 30 }), { maxLength: 60 }), fc.integer({ min: 8, max: 120 }), (deltas, max) => {
        const t = new TraceText(max);
        deltas.forEach((d) => t.append(d));
        const full = deltas.join('');
        const stored = t.text();
        assert.equal(t.total, full.length);
        if (full.length <= max) {
          assert.equal(stored, full);
          return;
        }
        const m = /\n\n… trace truncated: (\d+) chars not stored \(the reply had (\d+); the stage read all of it\) …\n\n/.exec(stored);
        assert.ok(m, stored);
        const head = stored.slice(0, m.index);
        const tail = stored.slice(m.index + m[0].length);
        assert.ok(full.startsWith(head) && full.endsWith(tail));
        assert.equal(Number(m[1]), full.length - head.length - tail.length);
        assert.equal(Number(m[2]), full.length);
        assert.ok(head.length + tail.length <= max);
        assert.ok(head.length + tail.length >= max - 2, 'at most a surrogate on each side is given up');
        assert.ok(!/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(head + tail), 'no lone surrogate');
      }),
      { numRuns: 300 },
    );
  });
});
