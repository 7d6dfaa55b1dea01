import assert from 'node:assert/strict';
import { JSDOM } from 'jsdom';
import type { BoxesPayload } from '../../../src/common/payloads';
import { checkBoxesPayload, renderBoxes, sniffImageMime } from '../../../src/renderers/boxes/render';
import { activate } from '../../../src/renderers/boxes/index';

const payload: BoxesPayload = {
  version: 1,
  width: 854,
  height: 480,
  frameIndex: 10,
  chosen: 1,
  caption: 'Object 1, clip 1, frame 10: chose box 2',
  boxes: [
    { number: 1, colour: '#00c000', colourName: 'green', box: { x0: 300, y0: 150, x1: 700, y1: 420 }, score: 0.41, phrase: 'car', source: 'grounding-dino' },
    { number: 2, colour: '#ff00ff', colourName: 'magenta', box: { x0: 100, y0: 60, x1: 260, y1: 200 }, score: 1, phrase: '<script>x</script>', source: 'typed' },
  ],
};

suite('boxes renderer', () => {
  test('draws one overlay rect per box in payload coordinates, legend with the chosen box marked', () => {
    const doc = new JSDOM('<!doctype html><body></body>').window.document;
    const container = doc.createElement('div');
    const jpeg = new Uint8Array([0xff, 0xd8, 0xff, 0xe0, 0, 0]);
    const view = renderBoxes(container, jpeg, payload);
    assert.equal(view.rects.length, 2);
    assert.equal(container.querySelector('svg')?.getAttribute('viewBox'), '0 0 854 480');
    assert.deepEqual(['x', 'y', 'width', 'height'].map((a) => view.rects[1].getAttribute(a)), ['100', '60', '160', '140']);
    assert.ok(view.rects[1].classList.contains('alref-box-chosen'));
    assert.ok(!view.rects[0].classList.contains('alref-box-chosen'));
    assert.match(view.rows[1].textContent ?? '', /2 magenta .* ← chosen/);
    assert.match(view.rows[0].textContent ?? '', /score 0\.41/);
    assert.equal(container.querySelectorAll('script').length, 0, 'labels are text, not HTML');
    assert.ok(container.querySelector('img')?.getAttribute('src')?.startsWith('blob:'));
    view.rows[0].dispatchEvent(new doc.defaultView!.MouseEvent('mouseenter'));
    assert.ok(view.rects[0].classList.contains('alref-box-hover'));
    view.dispose();
  });

  test('payload checks and image type sniffing', () => {
    assert.equal(checkBoxesPayload(payload), undefined);
    assert.match(checkBoxesPayload({ ...payload, version: 3 }) ?? '', /version 3/);
    assert.match(checkBoxesPayload(undefined) ?? '', /no payload/);
    assert.equal(sniffImageMime(new Uint8Array([0x89, 0x50, 0x4e, 0x47])), 'image/png');
    assert.equal(sniffImageMime(new Uint8Array([0xff, 0xd8])), 'image/jpeg');
  });

  test('activation: image bytes from the item, payload from output metadata; missing payload draws an inline error', () => {
    const doc = new JSDOM('<!doctype html><body></body>').window.document;
    const element = doc.createElement('div');
    doc.body.append(element);
    const renderer = activate({} as never) as { renderOutputItem(item: unknown, el: HTMLElement): void; disposeOutputItem(id?: string): void };
    const item = (metadata: unknown) => ({ id: 'b1', mime: 'application/vnd.alref.boxes', metadata, data: () => new Uint8Array([0xff, 0xd8]), json: () => null, text: () => '', blob: () => new Blob([]) });
    renderer.renderOutputItem(item({ alref: payload }), element);
    assert.equal(element.shadowRoot?.querySelectorAll('rect').length, 2);
    renderer.renderOutputItem(item({}), element);
    assert.match(element.shadowRoot?.textContent ?? '', /no payload/);
    renderer.disposeOutputItem(undefined);
  });

  test('the image sent is drawn closed under its caption (details/summary)', () => {
    const doc = new JSDOM('<!doctype html><body></body>').window.document;
    const container = doc.createElement('div');
    const view = renderBoxes(container, new Uint8Array([0xff, 0xd8]), { ...payload, chosen: null, view: 'sent', caption: 'Object 1, clip 1, frame 10: the image sent' });
    const details = container.querySelector('details');
    assert.ok(details, 'a details element');
    assert.equal(details.open, false, 'closed by default');
    assert.equal(details.querySelector('summary')?.textContent, 'Object 1, clip 1, frame 10: the image sent');
    assert.ok(details.contains(view.img));
    assert.doesNotMatch(container.textContent ?? '', /no box chosen/);
    view.dispose();
    const choice = renderBoxes(container, new Uint8Array([0xff, 0xd8]), payload);
    assert.equal(container.querySelector('details'), null, 'the choice is shown open');
    choice.dispose();
  });

  test('a click opens the full-size original from the run folder through readArtifact; a second click goes back', async () => {
    const doc = new JSDOM('<!doctype html><body></body>').window.document;
    const container = doc.createElement('div');
    const sent: unknown[] = [];
    let listener: ((e: unknown) => void) | undefined;
    const messaging = {
      postMessage: (m: unknown) => {
        sent.push(m);
        const { requestId, ref } = m as { requestId: string; ref: string };
        setTimeout(() => listener?.({ type: 'artifact', requestId, ref, ok: true, base64: Buffer.from([0xff, 0xd8, 0xff]).toString('base64'), mime: 'image/jpeg' }), 1);
      },
      onDidReceiveMessage: (l: (e: unknown) => void) => {
        listener = l;
        return { dispose: () => (listener = undefined) };
      },
    };
    const full = { ref: 'artifacts/ab/abc.jpg', sha256: 'abc', mime: 'image/jpeg', width: 1280, height: 720 };
    const view = renderBoxes(container, new Uint8Array([0xff, 0xd8]), payload, { full, messaging });
    const displaySrc = view.img.src;
    assert.match(view.img.title, /full-size image \(1280 x 720\)/);
    await view.toggleFull();
    assert.deepEqual(sent.map((m) => [(m as { type: string }).type, (m as { ref: string }).ref]), [['readArtifact', 'artifacts/ab/abc.jpg']]);
    assert.notEqual(view.img.src, displaySrc);
    assert.ok(view.root.classList.contains('alref-boxes-full'));
    await view.toggleFull();
    assert.equal(view.img.src, displaySrc);
    await view.toggleFull();
    assert.equal(sent.length, 1, 'fetched once');
    view.dispose();
    assert.equal(listener, undefined, 'the message listener is disposed');
    // Without messaging the tooltip names the file.
    const plain = renderBoxes(container, new Uint8Array([0xff, 0xd8]), payload, { full });
    assert.match(plain.img.title, /artifacts\/ab\/abc\.jpg in the run folder/);
    plain.dispose();
  });
});
