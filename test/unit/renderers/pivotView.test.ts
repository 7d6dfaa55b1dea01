import assert from 'node:assert/strict';
import { JSDOM } from 'jsdom';
import type { RendererContext } from 'vscode-notebook-renderer';
import { isApplyOverrideRequest, isReadArtifactRequest } from '../../../src/common/messages';
import type { PivotViewPayload } from '../../../src/common/payloads';
import { checkPivotViewPayload, renderPivotView } from '../../../src/renderers/pivotView/render';

function dom(): { doc: Document; win: Window & typeof globalThis } {
  const w = new JSDOM('<!doctype html><body></body>').window;
  return { doc: w.document, win: w as unknown as Window & typeof globalThis };
}

/** A renderer context whose messages go to `sent`; `reply` delivers a host message. */
function messagingContext(): { ctx: RendererContext<unknown>; sent: unknown[]; reply(m: unknown): void } {
  const sent: unknown[] = [];
  let listener: ((e: unknown) => void) | undefined;
  const ctx = {
    setState: () => undefined,
    getState: () => undefined,
    getRenderer: async () => undefined,
    workspace: { isTrusted: true },
    postMessage: (m: unknown) => {
      sent.push(m);
    },
    onDidReceiveMessage: (l: (e: unknown) => void) => {
      listener = l;
      return { dispose: () => (listener = undefined) };
    },
  } as unknown as RendererContext<unknown>;
  return { ctx, sent, reply: (m) => listener?.(m) };
}

const tiles = [0, 5, 10].map((f, k) => ({ frameIndex: f, frameId: k + 1, timeSec: f / 24, x: k * 100, y: 0, width: 100, height: 60 }));
const framePayload: PivotViewPayload = {
  version: 1,
  stage: 'pivot-frame',
  cellId: 'pf',
  changes: ['clip 1: [2] -> [3]'],
  rows: [
    { objectId: 1, clip: 1, frames: [0, 5, 10], frameIndex: 10, valid: true, answer: '[3]', trace: 'Frame 3 <b>is</b> clearest. [3]', tokens: { prompt: 900, completion: 40 }, change: '[2] -> [3]', grid: { ref: 'artifacts/g1.jpg', mime: 'image/jpeg', width: 300, height: 60, tiles } },
    { objectId: 1, clip: 2, frames: [15, 20], frameIndex: 20, valid: true, overridden: true, note: 'overridden: frame 20 chosen by hand' },
  ],
};
const boxPayload: PivotViewPayload = {
  version: 1,
  stage: 'pivot-box',
  cellId: 'pb',
  rows: [{
    objectId: 2, clip: 3, frames: [30, 35], frameIndex: 35, valid: true, chosen: 1,
    frame: { ref: 'frames/00035.jpg', mime: 'image/jpeg', width: 800, height: 400 },
    candidates: [{ number: 1, box: { x0: 0, y0: 0, x1: 400, y1: 200 }, score: 0.9, source: 'grounding-dino', colour: '#00ff00' }, { number: 2, box: { x0: 400, y0: 200, x1: 800, y1: 400 }, score: 0.5, source: 'grounding-dino', colour: '#ff00ff' }],
  }],
};

suite('pivot-view renderer', () => {
  test('rejects payloads of another version or without rows', () => {
    assert.match(checkPivotViewPayload({ version: 2 }) ?? '', /version 2/);
    assert.match(checkPivotViewPayload({ version: 1, stage: 'pivot-frame', cellId: 'x' }) ?? '', /rows/);
    assert.equal(checkPivotViewPayload(framePayload), undefined);
  });

  test('one row per clip with the change list, facts, override mark and the trace as text; grids are asked from the run folder', () => {
    const { doc } = dom();
    const host = doc.createElement('div');
    const m = messagingContext();
    renderPivotView(host, framePayload, m.ctx);
    assert.equal(host.querySelectorAll('.alref-pv-row').length, 2);
    assert.match(host.querySelector('.alref-pv-changes')!.textContent!, /clip 1: \[2\] -> \[3\]/);
    const first = host.querySelector('.alref-pv-row')!.textContent!;
    assert.match(first, /Pivot: frame 10 \(id \[3\]\)/);
    assert.match(first, /900 \+ 40 tokens/);
    assert.match(first, /changed: \[2\] -> \[3\]/);
    assert.equal(host.querySelectorAll('.alref-pv-overridden').length, 1);
    assert.equal(host.querySelectorAll('b').length, 0, 'the trace is text');
    assert.match(host.querySelector('details pre')!.textContent!, /<b>is<\/b>/);
    assert.equal(m.sent.length, 1);
    assert.ok(isReadArtifactRequest(m.sent[0]));
    assert.equal((m.sent[0] as { ref: string }).ref, 'artifacts/g1.jpg');
  });

  test('clicking a tile posts applyOverride with that frame; the host reply is shown', () => {
    const { doc, win } = dom();
    const host = doc.createElement('div');
    const m = messagingContext();
    renderPivotView(host, framePayload, m.ctx);
    const tile = host.querySelectorAll<HTMLButtonElement>('.alref-pv-tile')[1];
    tile.dispatchEvent(new win.MouseEvent('click'));
    const msg = m.sent[1];
    assert.ok(isApplyOverrideRequest(msg), JSON.stringify(msg));
    assert.deepEqual(msg, { type: 'applyOverride', cellId: 'pf', object: 1, clip: 1, frameIndex: 5 });
    m.reply({ type: 'overrideApplied', cellId: 'pf', clip: 1, object: 1, ok: false, error: 'no such cell' });
    assert.match(host.querySelector('.alref-pv-status')!.textContent!, /no such cell/);
  });

  test('pivot-box: clicking a box chooses it; dragging on the frame draws a box in frame pixels', () => {
    const { doc, win } = dom();
    const host = doc.createElement('div');
    const m = messagingContext();
    renderPivotView(host, boxPayload, m.ctx);
    const boxes = host.querySelectorAll<HTMLButtonElement>('.alref-pv-box');
    assert.equal(boxes.length, 2);
    assert.ok(boxes[0].classList.contains('alref-pv-chosen'));
    boxes[1].dispatchEvent(new win.MouseEvent('click', { bubbles: true }));
    assert.deepEqual(m.sent[1], { type: 'applyOverride', cellId: 'pb', object: 2, clip: 3, candidate: 2 });
    // JSDOM lays nothing out: the media element measures 0 x 0, so client pixels are frame pixels.
    const media = host.querySelector<HTMLElement>('.alref-pv-media')!;
    media.dispatchEvent(new win.MouseEvent('mousedown', { clientX: 100, clientY: 50, button: 0, bubbles: true }));
    media.dispatchEvent(new win.MouseEvent('mousemove', { clientX: 300, clientY: 250, bubbles: true }));
    media.dispatchEvent(new win.MouseEvent('mouseup', { clientX: 300, clientY: 250, bubbles: true }));
    assert.deepEqual(m.sent[2], { type: 'applyOverride', cellId: 'pb', object: 2, clip: 3, box: [100, 50, 300, 250] });
    assert.ok(isApplyOverrideRequest(m.sent[2]));
  });

  test('without messaging the tiles are not clickable and the view says where to override', () => {
    const { doc } = dom();
    const host = doc.createElement('div');
    const ctx = { setState: () => undefined, getState: () => undefined, getRenderer: async () => undefined, workspace: { isTrusted: true } } as unknown as RendererContext<unknown>;
    renderPivotView(host, framePayload, ctx);
    assert.ok([...host.querySelectorAll<HTMLButtonElement>('.alref-pv-tile')].every((b) => b.disabled));
    assert.match(host.textContent!, /to override pivots by clicking/);
  });

  test('the applyOverride guard wants exactly one of frame, candidate or box, and a sane box', () => {
    const base = { type: 'applyOverride', cellId: 'pf', object: 1, clip: 2 };
    assert.ok(isApplyOverrideRequest({ ...base, frameIndex: 0 }));
    assert.ok(!isApplyOverrideRequest(base));
    assert.ok(!isApplyOverrideRequest({ ...base, frameIndex: 3, candidate: 1 }));
    assert.ok(!isApplyOverrideRequest({ ...base, clip: 0, frameIndex: 3 }));
    assert.ok(!isApplyOverrideRequest({ ...base, candidate: 0 }));
    assert.ok(!isApplyOverrideRequest({ ...base, box: [10, 10, 5, 20] }));
    assert.ok(!isApplyOverrideRequest({ ...base, box: [0, 0, 1] }));
    assert.ok(!isApplyOverrideRequest({ ...base, frameIndex: 1, notebookUri: 3 }));
  });
});
