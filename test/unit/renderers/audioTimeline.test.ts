import assert from 'node:assert/strict';
import { JSDOM } from 'jsdom';
import type { AudioTimelinePayload } from '../../../src/common/payloads';
import { activate } from '../../../src/renderers/audioTimeline/index';
import { activeRanges, checkTimelinePayload, readoutAt, renderTimeline, timeAtX } from '../../../src/renderers/audioTimeline/render';

const payload: AudioTimelinePayload = {
  version: 1,
  width: 960,
  height: 200,
  plot: { x: 44, width: 904 },
  durationSec: 6,
  windowSec: 1,
  rows: [
    { kind: 'waveform', y: 22, height: 72, label: 'waveform' },
    { kind: 'segments', y: 100, height: 18, label: 'sound events' },
    { kind: 'category', y: 124, height: 20, label: 'dog', colour: '#00c000' },
    { kind: 'category', y: 148, height: 20, label: '<b>man</b>', colour: 'red;x' },
  ],
  segments: [{ startSec: 0, endSec: 1, silent: true }, { startSec: 1, endSec: 3, silent: false }, { startSec: 3, endSec: 6, silent: false }],
  categories: [
    { category: 'dog', colour: '#00c000', labels: ['Dog', 'Bark'], score: [0, 0.9, 0.8, 0.1, 0.1, 0], active: [false, true, true, false, false, false] },
    { category: '<b>man</b>', colour: 'red;x', labels: [], score: [0, 0, 0, 0.7, 0.6, 0.5], active: [false, false, false, true, true, true] },
  ],
  frames: [{ frameId: 1, frameIndex: 0, timeSec: 0 }],
  caption: 'Audio timeline: 3 sound events',
};

suite('audio timeline renderer', () => {
  test('legend names each category row with its sounding ranges; names are text, colours sanitised', () => {
    const doc = new JSDOM('<!doctype html><body></body>').window.document;
    const container = doc.createElement('div');
    const view = renderTimeline(container, new Uint8Array([0x89, 0x50, 0x4e, 0x47]), payload);
    assert.equal(view.rows.length, 2);
    assert.equal(view.rows[0].textContent, '1 dog · sounding 1–3 s');
    assert.equal(view.rows[0].title, 'AudioSet labels: Dog, Bark');
    assert.equal(view.rows[1].textContent, '2 <b>man</b> · sounding 3–6 s');
    assert.equal(container.querySelectorAll('b').length, 0);
    const swatch = view.rows[1].querySelector('span') as HTMLElement;
    assert.equal(swatch.style.background, 'rgb(136, 136, 136)');
    assert.ok(container.querySelector('img')?.getAttribute('src')?.startsWith('blob:'));
    assert.match(container.querySelector('figcaption')?.textContent ?? '', /3 sound events/);
    view.dispose();
  });

  test('hover read-out: time, sound event and each category at the cursor', () => {
    const doc = new JSDOM('<!doctype html><body></body>').window.document;
    const container = doc.createElement('div');
    const view = renderTimeline(container, new Uint8Array([0x89, 0x50]), payload);
    const x = payload.plot.x + (1.5 / 6) * payload.plot.width;
    view.showAt(x);
    assert.equal(view.readout.textContent, '1.50 s · sound event 2 (1.0–3.0 s) · dog: sounding (0.90) · <b>man</b>: silent (0.00)');
    const cursor = container.querySelector('.alref-timeline-cursor') as HTMLElement;
    assert.equal(cursor.hidden, false);
    view.showAt(5);
    assert.equal(cursor.hidden, true, 'outside the time axis');
    view.dispose();
  });

  test('pure helpers', () => {
    assert.equal(timeAtX(payload, 44), 0);
    assert.equal(timeAtX(payload, 10), null);
    assert.match(readoutAt(payload, 0.2), /sound event 1 \(0\.0–1\.0 s, silent\)/);
    assert.equal(activeRanges([true, false, true, true], 1, 3.5), '0–1 s, 2–3.5 s');
    assert.equal(activeRanges([false], 1, 1), 'never');
    assert.equal(checkTimelinePayload(payload), undefined);
    assert.match(checkTimelinePayload({ ...payload, version: 2 }) ?? '', /version 2/);
    assert.match(checkTimelinePayload(null) ?? '', /no payload/);
  });

  test('activation: image bytes from the item, payload from output metadata; a bad payload draws an inline error', () => {
    const doc = new JSDOM('<!doctype html><body></body>').window.document;
    const element = doc.createElement('div');
    doc.body.append(element);
    const renderer = activate({} as never) as { renderOutputItem(item: unknown, el: HTMLElement): void; disposeOutputItem(id?: string): void };
    const item = (metadata: unknown) => ({ id: 't1', mime: 'application/vnd.alref.audio-timeline', metadata, data: () => new Uint8Array([0x89, 0x50]), json: () => null, text: () => '', blob: () => new Blob([]) });
    renderer.renderOutputItem(item({ alref: payload }), element);
    assert.equal(element.shadowRoot?.querySelectorAll('.alref-timeline-row').length, 2);
    assert.ok(element.shadowRoot?.querySelector('style')?.textContent?.includes('.alref-timeline'));
    renderer.renderOutputItem(item({ alref: { version: 1 } }), element);
    assert.match(element.shadowRoot?.textContent ?? '', /no size/);
    renderer.disposeOutputItem(undefined);
  });
});
