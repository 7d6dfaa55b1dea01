import assert from 'node:assert/strict';
import { JSDOM, VirtualConsole } from 'jsdom';
import type { RendererContext } from 'vscode-notebook-renderer';
import type { MaskOverlayPayload } from '../../../src/common/payloads';
import { isReadArtifactRequest } from '../../../src/common/messages';
import { activate } from '../../../src/renderers/maskOverlay/index';
import { checkMaskOverlayPayload, frameRef, paintRle, renderMaskOverlay, rleCounts, type FrameClock, type MessagingLike } from '../../../src/renderers/maskOverlay/render';
import { clockFrame, playbackFps } from '../../../src/renderers/maskOverlay/playback';
import { MASK_OVERLAY_CSS } from '../../../src/renderers/maskOverlay/style';
import { encodeRle, countsToString } from '../../../src/pipeline/masks/rle';

const W = 8;
const H = 6;
const N = 40;
const JPEG = new Uint8Array([0xff, 0xd8, 0xff, 0xe0, 0, 16, 1, 2, 3]);

/** Object 1: a 2x2 square at x = frame % 6; object 2: nothing except on frame 5 (whole frame). */
function masksFor(objectId: number) {
  return Array.from({ length: N }, (_, f) => {
    const m = new Uint8Array(W * H);
    if (objectId === 1) {
      const x = f % 6;
      for (const [dx, dy] of [[0, 0], [1, 0], [0, 1], [1, 1]]) {
        m[(2 + dy) * W + x + dx] = 1;
      }
    } else if (f === 5) {
      m.fill(1);
    }
    return encodeRle(m, W, H);
  });
}

const payload: MaskOverlayPayload = {
  version: 1,
  width: W,
  height: H,
  frameCount: N,
  fps: 30,
  frames: { dir: 'frames/abc', pad: 5, ext: '.jpg' },
  objects: [
    { objectId: 1, text: 'the dog <b>', colour: 'rgb(230, 25, 75)', pivotFrames: [10, 30], masks: { ref: 'artifacts/aa/one.json' } },
    { objectId: 2, text: 'the ball', colour: '#3cb44b', pivotFrames: [30], masks: { ref: 'artifacts/bb/two.json' } },
  ],
  caption: 'Masks over 40 frames',
};

/** A host answering readArtifact from a map, asynchronously, recording the requested refs; refs matching `hold` are never answered. */
function fakeHost(files: Record<string, Uint8Array>, hold: (ref: string) => boolean = () => false): MessagingLike & { requested: string[] } {
  const listeners: Array<(e: unknown) => void> = [];
  const requested: string[] = [];
  return {
    requested,
    postMessage(message: unknown) {
      assert.ok(isReadArtifactRequest(message));
      requested.push(message.ref);
      if (hold(message.ref)) {
        return;
      }
      const bytes = files[message.ref];
      setTimeout(() => {
        const reply = bytes
          ? { type: 'artifact', requestId: message.requestId, ref: message.ref, ok: true, base64: Buffer.from(bytes).toString('base64'), mime: message.ref.endsWith('.json') ? 'application/json' : 'image/jpeg' }
          : { type: 'artifact', requestId: message.requestId, ref: message.ref, ok: false, error: `no such artifact ${message.ref}` };
        listeners.forEach((l) => l(reply));
      }, 1);
    },
    onDidReceiveMessage(l: (e: unknown) => void) {
      listeners.push(l);
      return { dispose: () => listeners.splice(listeners.indexOf(l), 1) };
    },
  };
}

function files(): Record<string, Uint8Array> {
  const out: Record<string, Uint8Array> = {
    'artifacts/aa/one.json': new TextEncoder().encode(JSON.stringify(masksFor(1))),
    'artifacts/bb/two.json': new TextEncoder().encode(JSON.stringify(masksFor(2))),
  };
  for (let i = 0; i < N; i++) {
    out[frameRef(payload, i)] = JPEG;
  }
  return out;
}

function dom() {
  const vc = new VirtualConsole();
  const w = new JSDOM('<!doctype html><body></body>', { virtualConsole: vc }).window;
  return { doc: w.document, win: w as unknown as Window & typeof globalThis };
}

const settle = (ms = 30) => new Promise((r) => setTimeout(r, ms));

/** A clock whose time and animation frames the test advances. */
function fakeClock(): FrameClock & { advance(ms: number): void } {
  let t = 0;
  let n = 0;
  const queued = new Map<number, () => void>();
  return {
    now: () => t,
    requestFrame(cb) {
      queued.set(++n, cb);
      return n;
    },
    cancelFrame(id) {
      queued.delete(id);
    },
    /** One animation frame, `ms` after the previous one. */
    advance(ms) {
      t += ms;
      const due = [...queued.values()];
      queued.clear();
      due.forEach((cb) => cb());
    },
  };
}

/** Plays `frames` animation frames of `ms` each, letting the fake host answer between them. */
async function animate(clock: ReturnType<typeof fakeClock>, frames: number, ms: number): Promise<void> {
  for (let k = 0; k < frames; k++) {
    clock.advance(ms);
    await settle(3);
  }
}

suite('mask-overlay renderer (JSDOM)', () => {
  test('payload checks and the frame reference template', () => {
    assert.equal(checkMaskOverlayPayload(payload), null);
    assert.match(checkMaskOverlayPayload({ ...payload, version: 2 }) ?? '', /newer version/);
    assert.match(checkMaskOverlayPayload({ version: 1 }) ?? '', /size or frame count/);
    assert.equal(frameRef(payload, 7), 'frames/abc/00007.jpg');
  });

  test('RLE painting matches the pycocotools layout (column-major runs)', () => {
    const m = new Uint8Array(W * H);
    m[1 * W + 3] = 1;
    m[4 * W + 7] = 1;
    const rle = encodeRle(m, W, H);
    assert.deepEqual(rleCounts(rle.counts as string), rleCounts(countsToString(rleCounts(rle.counts as string))));
    const rgba = new Uint8ClampedArray(W * H * 4);
    assert.equal(paintRle(rle, rgba, [1, 2, 3]), 2);
    assert.deepEqual([...rgba.subarray((1 * W + 3) * 4, (1 * W + 3) * 4 + 4)], [1, 2, 3, 255]);
    assert.deepEqual([...rgba.subarray((4 * W + 7) * 4, (4 * W + 7) * 4 + 4)], [1, 2, 3, 255]);
    assert.equal(rgba[(0 * W + 0) * 4 + 3], 0);
  });

  test('loads lazily: the first pivot frame, a few ahead, and the masks once; pivots marked on the timeline', async () => {
    const { doc } = dom();
    const host = doc.createElement('div');
    doc.body.append(host);
    const ctx = fakeHost(files());
    const view = renderMaskOverlay(host, payload, ctx);
    await settle();
    assert.equal(view.frameIndex, 10);
    assert.equal(view.slider.value, '10');
    const frameReqs = ctx.requested.filter((r) => r.endsWith('.jpg'));
    // the frame shown and the 15 after it, decoded ahead
    assert.deepEqual(frameReqs.sort(), Array.from({ length: 16 }, (_, k) => frameRef(payload, 10 + k)));
    assert.equal(ctx.requested.filter((r) => r.endsWith('.json')).length, 2);
    assert.equal((view.root.querySelector('canvas.alref-mo-frame') as HTMLCanvasElement).dataset.drawn, '10');
    assert.equal((view.root.querySelector('canvas.alref-mo-masks') as HTMLCanvasElement).dataset.painted, '4');
    // one mark per object and pivot frame, in the object's colour; object 2's mark on frame 30 stacks above object 1's
    assert.deepEqual(view.marks.map((m) => [m.style.left, m.dataset.object, m.style.background, m.style.getPropertyValue('--alref-mo-stack')]), [
      [`${(100 * 10) / 39}%`, '1', 'rgb(230, 25, 75)', '0'],
      [`${(100 * 30) / 39}%`, '1', 'rgb(230, 25, 75)', '0'],
      [`${(100 * 30) / 39}%`, '2', 'rgb(60, 180, 75)', '1'],
    ]);
    assert.match(view.marks[2].title, /pivot frame 30 of object 2: the ball/);
    // object text is untrusted: shown as text
    assert.ok(view.root.textContent?.includes('1: the dog <b>'));
    assert.equal(view.root.querySelector('b'), null);
    view.dispose();
  });

  test('arrow keys, shift+arrow, End, the slider and pivot marks scrub; opacity changes the mask layer', async () => {
    const { doc, win } = dom();
    const host = doc.createElement('div');
    doc.body.append(host);
    const view = renderMaskOverlay(host, payload, fakeHost(files()));
    await settle();
    const key = (k: string, shiftKey = false) => view.root.dispatchEvent(new win.KeyboardEvent('keydown', { key: k, shiftKey, bubbles: true }));
    key('ArrowRight');
    assert.equal(view.frameIndex, 11);
    key('ArrowLeft');
    key('ArrowLeft');
    assert.equal(view.frameIndex, 9);
    key('ArrowRight', true);
    assert.equal(view.frameIndex, 19);
    key('End');
    assert.equal(view.frameIndex, 39);
    key('ArrowRight');
    assert.equal(view.frameIndex, 39);
    view.slider.value = '5';
    view.slider.dispatchEvent(new win.Event('input'));
    await settle();
    assert.equal(view.frameIndex, 5);
    // frame 5: object 1 (4 px) + object 2 (the whole frame)
    assert.equal((view.root.querySelector('canvas.alref-mo-masks') as HTMLCanvasElement).dataset.painted, String(4 + W * H));
    view.marks[1].dispatchEvent(new win.Event('click'));
    assert.equal(view.frameIndex, 30);
    view.opacity.value = '0.8';
    view.opacity.dispatchEvent(new win.Event('input'));
    assert.equal((view.root.querySelector('canvas.alref-mo-masks') as HTMLCanvasElement).style.opacity, '0.8');
    view.dispose();
  });

  test('play follows the clock at the payload fps (30): 25 animation frames of 20 ms advance 15 frames; space pauses', async () => {
    const { doc, win } = dom();
    const host = doc.createElement('div');
    doc.body.append(host);
    const clock = fakeClock();
    const view = renderMaskOverlay(host, payload, fakeHost(files()), clock);
    await settle();
    assert.equal(view.root.dataset.fps, '30');
    view.playButton.dispatchEvent(new win.Event('click'));
    assert.equal(view.playing, true);
    assert.equal(view.playButton.getAttribute('aria-label'), 'Pause');
    await animate(clock, 25, 20);
    assert.equal(view.frameIndex, 25);
    assert.deepEqual(view.playback, { fps: 30, steps: 15, drawn: 15, dropped: 0 });
    assert.equal((view.root.querySelector('canvas.alref-mo-frame') as HTMLCanvasElement).dataset.drawn, '25');
    view.root.dispatchEvent(new win.KeyboardEvent('keydown', { key: ' ', bubbles: true }));
    assert.equal(view.playing, false);
    await animate(clock, 10, 20);
    assert.equal(view.frameIndex, 25);
    view.dispose();
  });

  test('a frame not decoded when due is dropped: playback keeps the clock instead of waiting, and loops', async () => {
    const { doc } = dom();
    const host = doc.createElement('div');
    doc.body.append(host);
    const clock = fakeClock();
    // frames 13-19 never arrive
    const stuck = new Set(Array.from({ length: 7 }, (_, k) => frameRef(payload, 13 + k)));
    const view = renderMaskOverlay(host, payload, fakeHost(files(), (r) => stuck.has(r)), clock);
    await settle();
    view.play();
    await animate(clock, 25, 20);
    // due at 500 ms: frame 25; drawn 11, 12 and 20-25; 13-19 skipped
    assert.equal(view.frameIndex, 25);
    assert.deepEqual(view.playback, { fps: 30, steps: 15, drawn: 8, dropped: 7 });
    // at 1100 ms frame 10 + 33 is due: past frame 39 the clock wraps to frame 3
    await animate(clock, 30, 20);
    assert.equal(view.frameIndex, 3);
    assert.equal(view.playing, true);
    view.dispose();
  });

  test('playback rate: the video fps (up to 120), 10 when the payload has none; clock frames loop', () => {
    assert.equal(playbackFps(30), 30);
    assert.equal(playbackFps(59.94), 59.94);
    assert.equal(playbackFps(240), 120);
    assert.equal(playbackFps(undefined), 10);
    assert.equal(playbackFps(0), 10);
    assert.equal(clockFrame(10, 1000, 30, 40), 0);
    assert.equal(clockFrame(10, 33, 30, 40), 10);
    assert.equal(clockFrame(10, 34, 30, 40), 11);
  });

  test('the frame label has one width whether or not it says "(pivot)", so the slider never resizes', async () => {
    const { doc, win } = dom();
    const host = doc.createElement('div');
    doc.body.append(host);
    const view = renderMaskOverlay(host, payload, fakeHost(files()));
    await settle();
    const label = view.root.querySelector('.alref-mo-label') as HTMLElement;
    assert.equal(label.textContent, 'frame 10 / 39 (pivot)');
    const width = label.style.width;
    assert.equal(width, `${'frame 39 / 39 (pivot)'.length + 1}ch`);
    await view.show(9);
    assert.equal(label.textContent, 'frame 9 / 39');
    assert.equal(label.style.width, width);
    // the label and the opacity control do not grow or shrink; the timeline takes the rest
    const style = doc.createElement('style');
    style.textContent = MASK_OVERLAY_CSS;
    doc.head.append(style);
    assert.equal(win.getComputedStyle(label).flexGrow || '0', '0');
    assert.equal(win.getComputedStyle(label).flexShrink, '0');
    view.dispose();
  });

  test('the opacity slider has a visible label and an accessible name', () => {
    const { doc } = dom();
    const host = doc.createElement('div');
    doc.body.append(host);
    const view = renderMaskOverlay(host, payload, {});
    assert.equal(view.opacity.getAttribute('aria-label'), 'Mask opacity');
    const label = view.opacity.closest('label');
    assert.ok(label, 'inside a <label>');
    assert.equal(label.textContent?.trim(), 'Opacity');
    view.dispose();
  });

  test('the legend hides and shows each object: state on the button, its masks not painted, its marks dimmed', async () => {
    const { doc, win } = dom();
    const host = doc.createElement('div');
    doc.body.append(host);
    const view = renderMaskOverlay(host, payload, fakeHost(files()));
    await settle();
    await view.show(5);
    const masks = view.root.querySelector('canvas.alref-mo-masks') as HTMLCanvasElement;
    assert.equal(masks.dataset.painted, String(4 + W * H));
    assert.deepEqual(view.legend.map((b) => [b.tagName, b.getAttribute('aria-pressed')]), [['BUTTON', 'true'], ['BUTTON', 'true']]);
    assert.equal(view.legend[1].title, 'Hide object 2 (the ball)');
    view.legend[1].dispatchEvent(new win.MouseEvent('click', { bubbles: true }));
    assert.equal(view.legend[1].getAttribute('aria-pressed'), 'false');
    assert.ok(view.legend[1].classList.contains('alref-mo-hidden'));
    assert.equal(view.legend[1].title, 'Show object 2 (the ball)');
    assert.equal(masks.dataset.painted, '4', 'object 2 is not painted');
    assert.ok(view.marks[2].classList.contains('alref-mo-hidden'));
    assert.ok(!view.marks[1].classList.contains('alref-mo-hidden'));
    // scrubbing keeps it hidden
    await view.show(6);
    await view.show(5);
    assert.equal(masks.dataset.painted, '4');
    // Space on a legend button is the button's own (it does not start playback)
    view.legend[1].dispatchEvent(new win.KeyboardEvent('keydown', { key: ' ', bubbles: true }));
    assert.equal(view.playing, false);
    view.legend[0].dispatchEvent(new win.MouseEvent('click', { bubbles: true }));
    assert.equal(masks.dataset.painted, '0');
    view.setObjectVisible(2, true);
    view.setObjectVisible(1, true);
    assert.equal(masks.dataset.painted, String(4 + W * H));
    view.dispose();
  });

  test('a host error and missing messaging are shown in the overlay, not thrown', async () => {
    const { doc } = dom();
    const host = doc.createElement('div');
    doc.body.append(host);
    const f = files();
    delete f['frames/abc/00010.jpg'];
    const view = renderMaskOverlay(host, payload, fakeHost(f));
    await settle();
    assert.match(view.root.querySelector('.alref-mo-status')?.textContent ?? '', /Cannot load frame 10: no such artifact frames\/abc\/00010\.jpg/);
    view.dispose();
    const host2 = doc.createElement('div');
    doc.body.append(host2);
    const v2 = renderMaskOverlay(host2, payload, {});
    await settle();
    assert.match(v2.root.querySelector('.alref-mo-status')?.textContent ?? '', /load through the AL-Ref extension/);
    v2.dispose();
  });

  test('activate: renders from the JSON item into a shadow root; a bad payload becomes an inline error', async () => {
    const { doc } = dom();
    const ctx = { ...fakeHost(files()), setState: () => undefined, getState: () => undefined, getRenderer: async () => undefined, workspace: { isTrusted: true } } as unknown as RendererContext<unknown>;
    const api = activate(ctx) as unknown as { renderOutputItem(item: unknown, el: HTMLElement, signal: AbortSignal): void; disposeOutputItem(id?: string): void };
    const el = doc.createElement('div');
    doc.body.append(el);
    api.renderOutputItem({ id: 'o1', mime: 'application/vnd.alref.mask-overlay+json', metadata: {}, json: () => payload, data: () => new Uint8Array(), text: () => '', blob: () => new Blob([]) }, el, new AbortController().signal);
    assert.ok(el.shadowRoot?.querySelector('.alref-mask-overlay'));
    api.renderOutputItem({ id: 'o1', mime: 'application/vnd.alref.mask-overlay+json', metadata: {}, json: () => ({ version: 9 }), data: () => new Uint8Array(), text: () => '', blob: () => new Blob([]) }, el, new AbortController().signal);
    assert.match(el.shadowRoot?.querySelector('.alref-mo-error')?.textContent ?? '', /newer version/);
    api.disposeOutputItem(undefined);
    await settle();
  });
});
