import assert from 'node:assert/strict';
import { resolveObjectURL } from 'node:buffer';
import { JSDOM } from 'jsdom';
import type { RendererContext } from 'vscode-notebook-renderer';
import type { FrameGridPayload } from '../../../src/common/payloads';
import { activate } from '../../../src/renderers/frameGrid/index';
import { checkFrameGridPayload, renderFrameGrid, sniffImageMime, zoomSize } from '../../../src/renderers/frameGrid/render';
import { FRAME_GRID_CSS } from '../../../src/renderers/frameGrid/style';

const JPEG = new Uint8Array([0xff, 0xd8, 0xff, 0xe0, 0, 16, 1, 2, 3]);

const payload: FrameGridPayload = {
  version: 1,
  kind: 'clip',
  clipIndex: 1,
  width: 1000,
  height: 100,
  caption: 'Clip 2 of 3: frames 25–45 <b>bold</b>',
  tiles: [0, 1, 2, 3, 4].map((k) => ({ frameIndex: 25 + 5 * k, frameId: k + 1, timeSec: (25 + 5 * k) / 25, x: k * 200, y: 0, width: 196, height: 100 })),
  highlight: [35],
};

function dom(): { doc: Document; win: Window & typeof globalThis } {
  const w = new JSDOM('<!doctype html><body></body>').window;
  return { doc: w.document, win: w as unknown as Window & typeof globalThis };
}

/** A hand-made RendererContext (no messaging: the renderer works without the host). */
function rendererContext(): RendererContext<unknown> {
  let state: unknown;
  return {
    setState: (v) => {
      state = v;
    },
    getState: () => state,
    getRenderer: async () => undefined,
    workspace: { isTrusted: true },
  };
}

function outputItem(id: string, metadata: unknown, data = JPEG) {
  return { id, mime: 'application/vnd.alref.frame-grid', metadata, data: () => data, json: () => null, text: () => '', blob: () => new Blob([data]) };
}

type Api = { renderOutputItem(item: unknown, el: HTMLElement, signal: AbortSignal): void; disposeOutputItem(id?: string): void };

suite('frame-grid renderer', () => {
  test('one focusable tile button per payload tile, placed in percent of the grid', () => {
    const { doc } = dom();
    const host = doc.createElement('div');
    doc.body.append(host);
    const view = renderFrameGrid(host, JPEG, payload);
    assert.equal(view.tiles.length, 5);
    assert.equal(view.tiles[2].tagName, 'BUTTON');
    const pctOf = (v: string): number => {
      assert.match(v, /%$/);
      return parseFloat(v);
    };
    assert.equal(pctOf(view.tiles[2].style.left), 40);
    assert.equal(pctOf(view.tiles[2].style.width), 19.6);
    assert.equal(pctOf(view.tiles[2].style.height), 100);
    assert.equal(view.tiles[2].getAttribute('aria-label'), 'Frame id 3 · frame 35 · 1.40 s');
    assert.ok(view.tiles[2].classList.contains('alref-fg-highlight'));
    const img = host.querySelector('img')!;
    assert.ok(img.src.startsWith('blob:'));
    assert.equal(img.getAttribute('width'), '1000');
    // Caption is text, not HTML.
    assert.equal(host.querySelectorAll('b').length, 0);
    assert.match(host.querySelector('figcaption')!.textContent!, /<b>bold<\/b>/);
    view.dispose();
  });

  test('hover previews a tile enlarged with frame index and time; leaving hides it', () => {
    const { doc, win } = dom();
    const host = doc.createElement('div');
    doc.body.append(host);
    const view = renderFrameGrid(host, JPEG, payload);
    assert.equal(view.zoom.hidden, true);
    view.tiles[3].dispatchEvent(new win.MouseEvent('mouseenter'));
    assert.equal(view.zoom.hidden, false);
    assert.equal(view.zoom.querySelector('.alref-fg-zoom-label')!.textContent, 'Frame id 4 · frame 40 · 1.60 s');
    const z = view.zoom.querySelector<HTMLElement>('.alref-fg-zoom-img')!;
    // The enlarged view crops tile 4 out of the same image: 1000/196 wide, at x 600 of 1000-196.
    assert.match(z.style.backgroundImage, /blob:/);
    assert.equal(z.style.backgroundSize, '510.2041% 100.0000%');
    assert.equal(z.style.backgroundPosition, `${((100 * 600) / 804).toFixed(4)}% 0%`);
    assert.equal(z.style.width, `${Math.round(196 * (640 / 196))}px`);
    assert.equal(z.style.height, `${Math.round(100 * (640 / 196))}px`);
    // Tile 4 is in the right half: the enlarged view lies over the left half.
    assert.ok(view.zoom.classList.contains('alref-fg-zoom-left'));
    view.tiles[3].dispatchEvent(new win.MouseEvent('mouseleave'));
    assert.equal(view.zoom.hidden, true);
    view.tiles[0].dispatchEvent(new win.MouseEvent('mouseenter'));
    assert.ok(!view.zoom.classList.contains('alref-fg-zoom-left'));
    view.dispose();
  });

  test('the enlarged view is an overlay over the grid: it takes no room in the layout and lets the pointer through', () => {
    const { doc, win } = dom();
    const host = doc.createElement('div');
    doc.body.append(host);
    const view = renderFrameGrid(host, JPEG, payload);
    const stage = host.querySelector('.alref-fg-stage')!;
    // Inside the positioned stage, after the tiles; never a block of its own below the grid.
    assert.equal(view.zoom.parentElement, stage);
    assert.equal(host.querySelector('figure')!.lastElementChild!.tagName, 'FIGCAPTION');
    // The renderer's CSS in a DOM: absolutely positioned, pointer events off unless pinned.
    const style = doc.createElement('style');
    style.textContent = FRAME_GRID_CSS;
    doc.head.append(style);
    view.tiles[2].dispatchEvent(new win.MouseEvent('mouseenter'));
    const cs = win.getComputedStyle(view.zoom);
    assert.equal(cs.position, 'absolute');
    assert.equal(cs.pointerEvents, 'none', 'a hover preview must not take the pointer from the tiles under it');
    assert.equal(win.getComputedStyle(stage).position, 'relative');
    view.tiles[2].click();
    assert.equal(win.getComputedStyle(view.zoom).pointerEvents, 'auto', 'a pinned view can be closed with the pointer');
    view.dispose();
  });

  test('the enlarged tile shrinks to fit the grid as drawn, keeping its aspect; never below a readable height', () => {
    const tile = { width: 196, height: 100 };
    assert.deepEqual(zoomSize(tile, { width: 0, height: 0 }), { width: 640, height: 327 });
    // A grid drawn 500 x 400 px: at most 484 px wide.
    assert.deepEqual(zoomSize(tile, { width: 500, height: 400 }), { width: 484, height: 247 });
    // A short filmstrip (1000 x 100 px): 200 px high, overhanging the strip rather than unreadable.
    assert.deepEqual(zoomSize(tile, { width: 1000, height: 100 }), { width: 392, height: 200 });
    // Small tiles are enlarged at most 4 times.
    assert.deepEqual(zoomSize({ width: 40, height: 30 }, { width: 0, height: 0 }), { width: 160, height: 120 });
  });

  test('click pins the enlarged tile, a second click or Escape closes it; keyboard reaches every tile', () => {
    const { doc, win } = dom();
    const host = doc.createElement('div');
    doc.body.append(host);
    const view = renderFrameGrid(host, JPEG, payload);
    view.tiles[1].click();
    assert.equal(view.zoom.hidden, false);
    assert.equal(view.tiles[1].getAttribute('aria-expanded'), 'true');
    view.tiles[1].dispatchEvent(new win.MouseEvent('mouseleave'));
    assert.equal(view.zoom.hidden, false, 'pinned view stays when the pointer leaves');
    view.tiles[1].click();
    assert.equal(view.zoom.hidden, true);

    // Keyboard: focus shows, arrows move, Escape closes and keeps focus on the tile.
    view.tiles[0].focus();
    assert.equal(doc.activeElement, view.tiles[0]);
    assert.equal(view.zoom.hidden, false);
    view.tiles[0].dispatchEvent(new win.KeyboardEvent('keydown', { key: 'ArrowRight', bubbles: true }));
    assert.equal(doc.activeElement, view.tiles[1]);
    assert.match(view.zoom.textContent!, /Frame id 2/);
    view.tiles[1].click();
    view.tiles[1].dispatchEvent(new win.KeyboardEvent('keydown', { key: 'Escape', bubbles: true }));
    assert.equal(view.zoom.hidden, true);
    assert.equal(doc.activeElement, view.tiles[1]);
    view.tiles[0].dispatchEvent(new win.KeyboardEvent('keydown', { key: 'ArrowLeft', bubbles: true }));
    assert.equal(doc.activeElement, view.tiles[4], 'wraps around');
    view.dispose();
  });

  test('filmstrip labels have no frame ids', () => {
    const { doc } = dom();
    const host = doc.createElement('div');
    doc.body.append(host);
    const view = renderFrameGrid(host, JPEG, { ...payload, kind: 'filmstrip' });
    assert.equal(view.tiles[0].getAttribute('aria-label'), 'Frame 25 · 1.00 s');
    assert.equal(view.tiles[0].title, 'Frame 25 · 1.00 s');
    view.dispose();
  });

  test('payload checks and image sniffing', () => {
    assert.equal(checkFrameGridPayload(payload), undefined);
    assert.match(checkFrameGridPayload({ ...payload, version: 2 })!, /version 2/);
    assert.match(checkFrameGridPayload(undefined)!, /no payload/);
    assert.match(checkFrameGridPayload({ version: 1, width: 0, height: 1, tiles: [] })!, /size or tiles/);
    assert.equal(sniffImageMime(JPEG), 'image/jpeg');
    assert.equal(sniffImageMime(new Uint8Array([0x89, 0x50, 0x4e, 0x47])), 'image/png');
  });

  test('activation: bytes from the item, payload from metadata.alref; shadow root; errors drawn inline', () => {
    const { doc } = dom();
    const element = doc.createElement('div');
    doc.body.append(element);
    const api = activate(rendererContext()) as unknown as Api;
    const signal = new AbortController().signal;
    api.renderOutputItem(outputItem('o1', { alref: payload }), element, signal);
    assert.equal(element.shadowRoot!.querySelectorAll('.alref-fg-tile').length, 5);
    assert.ok(element.shadowRoot!.querySelector('style')!.textContent!.includes('--vscode-focusBorder'));

    api.renderOutputItem(outputItem('o1', {}), element, signal);
    const err = element.shadowRoot!.querySelector('.alref-fg-error');
    assert.ok(err, 'inline error');
    assert.match(err.textContent!, /no payload/);
    assert.equal(element.shadowRoot!.querySelectorAll('.alref-fg-tile').length, 0);

    // A throwing item is drawn as an error too, never thrown to VS Code.
    const bad = { ...outputItem('o2', { alref: payload }), data: () => { throw new Error('boom'); } };
    assert.doesNotThrow(() => api.renderOutputItem(bad, element, signal));
    assert.match(element.shadowRoot!.textContent!, /Cannot show this frame grid: boom/);
  });

  test('Blob URLs are revoked on re-render and on dispose', () => {
    const { doc } = dom();
    const element = doc.createElement('div');
    doc.body.append(element);
    const api = activate(rendererContext()) as unknown as Api;
    const signal = new AbortController().signal;
    api.renderOutputItem(outputItem('o1', { alref: payload }), element, signal);
    const first = element.shadowRoot!.querySelector('img')!.src;
    assert.ok(resolveObjectURL(first), 'live while shown');
    api.renderOutputItem(outputItem('o1', { alref: payload }), element, signal);
    const second = element.shadowRoot!.querySelector('img')!.src;
    assert.equal(resolveObjectURL(first), undefined, 'revoked after re-render');
    assert.ok(resolveObjectURL(second));
    api.disposeOutputItem('o1');
    assert.equal(resolveObjectURL(second), undefined, 'revoked on dispose');

    api.renderOutputItem(outputItem('a', { alref: payload }), element, signal);
    const a = element.shadowRoot!.querySelector('img')!.src;
    api.disposeOutputItem(undefined);
    assert.equal(resolveObjectURL(a), undefined, 'dispose all');
  });
  test('the enlarged tile\'s "Full size" button opens the full-size grid through readArtifact (tile enlarged from it too); again goes back', async () => {
    const { doc, win } = dom();
    const host = doc.createElement('div');
    doc.body.append(host);
    const sent: Array<{ type: string; ref: string }> = [];
    let listener: ((e: unknown) => void) | undefined;
    const messaging = {
      postMessage: (m: unknown) => {
        const { type, requestId, ref } = m as { type: string; requestId: string; ref: string };
        sent.push({ type, ref });
        setTimeout(() => listener?.({ type: 'artifact', requestId, ref, ok: true, base64: Buffer.from([0xff, 0xd8, 0xff]).toString('base64'), mime: 'image/jpeg' }), 1);
      },
      onDidReceiveMessage: (l: (e: unknown) => void) => {
        listener = l;
        return { dispose: () => (listener = undefined) };
      },
    };
    const full = { ref: 'artifacts/cd/grid.jpg', sha256: 'cd', mime: 'image/jpeg', width: 2000, height: 200 };
    const view = renderFrameGrid(host, JPEG, payload, { full, messaging });
    const img = host.querySelector('img')!;
    const displaySrc = img.src;
    view.tiles[3].dispatchEvent(new win.MouseEvent('click', { bubbles: true }));
    const button = host.querySelector<HTMLButtonElement>('.alref-fg-zoom-full')!;
    assert.equal(button.hidden, false);
    assert.equal(button.textContent, 'Full size');
    assert.match(button.title, /2000 x 200/);
    await view.toggleFull();
    assert.deepEqual(sent, [{ type: 'readArtifact', ref: 'artifacts/cd/grid.jpg' }]);
    assert.notEqual(img.src, displaySrc);
    assert.equal(img.getAttribute('width'), '2000');
    assert.ok(view.root.classList.contains('alref-fg-full'));
    assert.equal(button.textContent, 'Display size');
    const zoomImg = host.querySelector<HTMLElement>('.alref-fg-zoom-img')!;
    assert.ok(zoomImg.style.backgroundImage.includes(img.src), 'the enlarged tile is cut from the full-size grid');
    await view.toggleFull();
    assert.equal(img.src, displaySrc);
    assert.equal(img.getAttribute('width'), '1000');
    await view.toggleFull();
    assert.equal(sent.length, 1, 'read once');
    view.dispose();
    assert.equal(listener, undefined, 'the message listener is disposed');
    // Without messaging (outside VS Code) or without an original, there is no button to press.
    const plain = renderFrameGrid(host, JPEG, payload, { full });
    assert.equal(host.querySelector<HTMLButtonElement>('.alref-fg-zoom-full')!.hidden, true);
    plain.dispose();
  });
});

suite('frame-grid renderer: making a tile the pivot', () => {
  test('a pivot-frame grid offers "Make this the pivot" in the enlarged view; it posts applyOverride with the tile frame', () => {
    const { doc, win } = dom();
    const host = doc.createElement('div');
    doc.body.append(host);
    const sent: unknown[] = [];
    const messaging = { ...rendererContext(), postMessage: (m: unknown) => void sent.push(m) } as RendererContext<unknown>;
    const view = renderFrameGrid(host, JPEG, { ...payload, pivot: { cellId: 'pf', objectId: 2 } }, { messaging });
    view.tiles[3].dispatchEvent(new win.MouseEvent('click'));
    const button = host.querySelector<HTMLButtonElement>('.alref-fg-use-pivot');
    assert.ok(button, 'the enlarged view has the button');
    button.dispatchEvent(new win.MouseEvent('click'));
    assert.deepEqual(sent, [{ type: 'applyOverride', cellId: 'pf', object: 2, clip: 2, frameIndex: 40 }]);
    assert.match(view.zoom.textContent ?? '', /override sent to cell "pf"/);
    view.dispose();
  });

  test('without a pivot payload, or without messaging, there is no such button', () => {
    const { doc } = dom();
    const a = doc.createElement('div');
    renderFrameGrid(a, JPEG, payload, { messaging: { ...rendererContext(), postMessage: () => undefined } as RendererContext<unknown> }).dispose();
    assert.equal(a.querySelector('.alref-fg-use-pivot'), null);
    const b = doc.createElement('div');
    renderFrameGrid(b, JPEG, { ...payload, pivot: { cellId: 'pf', objectId: 1 } }).dispose();
    assert.equal(b.querySelector('.alref-fg-use-pivot'), null);
  });
});
