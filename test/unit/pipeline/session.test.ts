import assert from 'node:assert/strict';
import { NotebookSession } from '../../../src/pipeline/session';
import type { StageKind, StageRequest, StageResult } from '../../../src/pipeline/types';
import { makeContext } from '../../tooling/stageContext';

function result(cellId: string, kind: StageKind, upstream: string[], data: unknown, inputHash = `h-${cellId}`): StageResult {
  return { kind, cellId, inputHash, upstream, data, finishedAt: 0 };
}

function req(cellId: string, kind: StageKind, params: Record<string, unknown> = {}): StageRequest {
  return { kind, cellId, params, uses: {} };
}

suite('session: results, latest by kind and staleness', () => {
  test('results are kept by cell id; latest(kind) is the most recently finished of that kind', () => {
    const s = new NotebookSession();
    s.put(result('v1', 'video', [], { n: 1 }));
    s.put(result('v2', 'video', [], { n: 2 }));
    s.put(result('r', 'reference', [], {}));
    assert.equal(s.get('v1')?.data && (s.get('v1')!.data as { n: number }).n, 1);
    assert.equal(s.latest('video')?.cellId, 'v2');
    s.put(result('v1', 'video', [], { n: 3 }));
    assert.equal(s.latest('video')?.cellId, 'v1');
    assert.equal(s.latest('propagate'), undefined);
    assert.deepEqual(s.cellIds(), ['v2', 'r', 'v1']);
    s.delete('v1');
    assert.equal(s.latest('video')?.cellId, 'v2');
  });

  test('re-running a cell with a different result marks its dependents stale, directly and transitively', () => {
    const s = new NotebookSession();
    s.put(result('vid', 'video', [], { frames: 10 }));
    s.put(result('ref', 'reference', [], { text: 'dog' }));
    s.put(result('pf', 'pivot-frame', ['vid', 'ref'], { pivots: [1] }));
    s.put(result('pb', 'pivot-box', ['pf', 'vid'], { box: 1 }));
    s.put(result('prop', 'propagate', ['pb'], { masks: 'm' }));
    for (const id of ['vid', 'ref', 'pf', 'pb', 'prop']) {
      assert.equal(s.staleness(id).stale, false, id);
    }
    assert.deepEqual(s.dependentsOf('vid').sort(), ['pb', 'pf', 'prop']);
    // Re-run with the same inputs and the same outcome: nothing goes stale.
    s.put(result('ref', 'reference', [], { text: 'dog' }));
    assert.equal(s.staleness('pf').stale, false);
    // Re-run with different parameters (input hash) changes everything downstream.
    s.put(result('vid', 'video', [], { frames: 10 }, 'h-vid-2'));
    const pf = s.staleness('pf');
    assert.equal(pf.stale, true);
    assert.deepEqual(pf.changedUpstream, ['vid']);
    assert.match(pf.reasons[0], /upstream "vid" was re-run with a different result/);
    const prop = s.staleness('prop');
    assert.equal(prop.stale, true);
    assert.deepEqual(prop.changedUpstream, ['vid']);
    assert.match(prop.reasons[0], /upstream "vid" \(via "pb"\)/);
    assert.equal(s.staleness('ref').stale, false);
    // Re-running pf refreshes pf, but pb (computed from the old pf) is now stale for pf too.
    s.put(result('pf', 'pivot-frame', ['vid', 'ref'], { pivots: [2] }));
    assert.equal(s.staleness('pf').stale, false);
    assert.deepEqual(s.staleness('pb').changedUpstream.sort(), ['pf', 'vid']);
  });

  test('same input hash but a different answer (an LLM re-run) also marks dependents stale', () => {
    const s = new NotebookSession();
    s.put(result('pf', 'pivot-frame', [], { pivots: [1] }, 'same'));
    s.put(result('pb', 'pivot-box', ['pf'], {}));
    s.put(result('pf', 'pivot-frame', [], { pivots: [4] }, 'same'));
    assert.equal(s.staleness('pb').stale, true);
  });

  test('a removed upstream result and an edited cell are reasons too', () => {
    const s = new NotebookSession();
    s.put(result('vid', 'video', [], {}), req('vid', 'video', { source: 'a.mp4' }));
    s.put(result('pf', 'pivot-frame', ['vid'], {}), req('pf', 'pivot-frame'));
    assert.equal(s.staleness('vid', req('vid', 'video', { source: 'a.mp4' })).stale, false);
    const edited = s.staleness('vid', req('vid', 'video', { source: 'b.mp4' }));
    assert.equal(edited.stale, true);
    assert.equal(edited.edited, true);
    s.delete('vid');
    const st = s.staleness('pf');
    assert.equal(st.stale, true);
    assert.match(st.reasons[0], /upstream "vid" has no result any more/);
    assert.equal(s.staleness('nothing').stale, false);
  });

  test('a cell sees the nearest result of a kind above it, among cells still in the notebook', () => {
    const s = new NotebookSession();
    s.put(result('v1', 'video', [], { n: 1 }));
    s.put(result('ref', 'reference', ['v1'], {}));
    s.put(result('v2', 'video', [], { n: 2 }));
    // notebook order: v1, ref, pf, v2 (v2 ran last, below pf)
    const order = ['v1', 'ref', 'pf', 'v2'];
    assert.equal(s.latest('video')?.cellId, 'v2');
    assert.equal(s.viewAt(order, 2).latest('video')?.cellId, 'v1');
    assert.equal(s.viewAt(order, 4).latest('video')?.cellId, 'v2');
    assert.equal(s.viewAt(order, 0).latest('video'), undefined, 'nothing is above the first cell');
    // v1 deleted from the notebook: its result is not seen, even by id, and nothing above pf is a video
    const without = ['ref', 'pf', 'v2'];
    assert.equal(s.viewAt(without, 1).latest('video'), undefined);
    assert.equal(s.viewAt(without, 1).get('v1'), undefined);
    assert.equal(s.viewAt(without, 1).get('v2')?.cellId, 'v2', 'get finds a live cell anywhere (uses may name it)');
    assert.equal(s.viewAt(without, 1).latest('reference')?.cellId, 'ref');
  });

  test('a referring text comes from the nearest reference or lbru cell above, not the one run last', async () => {
    const { resolveReference } = await import('../../../src/pipeline/stages/shared');
    const s = new NotebookSession();
    s.put(result('ref', 'reference', [], { targets: [] }));
    s.put(result('au', 'lbru', [], { targets: [] }));
    s.put(result('ref2', 'reference', [], { targets: [] }));
    // notebook order: au, ref, pf, ref2 (ref2 ran last but sits below pf; ref is nearer than au)
    const order = ['au', 'ref', 'pf', 'ref2'];
    const request = { kind: 'pivot-frame', cellId: 'pf', params: {}, uses: {} } as unknown as import('../../../src/pipeline/types').StageRequest;
    const at = (ids: string[], position: number) => resolveReference(request, makeContext({ runDir: '/nonexistent', session: s.viewAt(ids, position) })).cellId;
    assert.equal(at(order, 2), 'ref');
    assert.equal(at(['ref', 'au', 'pf'], 2), 'au', 'the lbru cell is nearer');
    assert.equal(s.latest(['reference', 'lbru'])?.cellId, 'ref2', 'outside a cell run: the one finished last');
  });

  test('a cell without a result is passed over for the next one above; retain drops deleted cells', () => {
    const s = new NotebookSession();
    s.put(result('v1', 'video', [], {}));
    s.put(result('pf', 'pivot-frame', ['v1'], {}));
    const order = ['v1', 'v-failed', 'pf'];
    assert.equal(s.viewAt(order, 2).latest('video')?.cellId, 'v1');
    assert.deepEqual(s.retain(['v-failed', 'pf']), ['v1']);
    assert.equal(s.get('v1'), undefined);
    assert.match(s.staleness('pf').reasons[0], /upstream "v1" has no result any more/);
    assert.deepEqual(s.retain(['pf']), []);
  });
});
