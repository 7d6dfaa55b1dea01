import assert from 'node:assert/strict';
import { JSDOM } from 'jsdom';
import { isRendererToHostMessage } from '../../../../src/common/messages';
import { activate } from '../../../../src/renderers/sweepMatrix/index';
import { renderSweepMatrix } from '../../../../src/renderers/sweepMatrix/render';
import { detailRef, sweepFixture } from '../../../tooling/sweepFixture';

/** Renderer messaging answering readArtifact from the fixture's files, as the host would. */
function fakeHost(files: Record<string, Uint8Array>) {
  const listeners: Array<(e: unknown) => void> = [];
  const posted: Array<{ type: string; ref: string }> = [];
  return {
    posted,
    postMessage(message: unknown) {
      assert.ok(isRendererToHostMessage(message) && message.type !== 'applyOverride');
      posted.push({ type: message.type, ref: message.ref });
      if (message.type !== 'readArtifact') {
        return;
      }
      const bytes = files[message.ref];
      const { requestId, ref } = message;
      setTimeout(() => {
        const reply = bytes
          ? { type: 'artifact', requestId, ref, ok: true, base64: Buffer.from(bytes).toString('base64'), mime: ref.endsWith('.json') ? 'application/json' : 'image/jpeg' }
          : { type: 'artifact', requestId, ref, ok: false, error: `no such artifact ${ref}` };
        listeners.forEach((l) => l(reply));
      }, 1);
    },
    onDidReceiveMessage(l: (e: unknown) => void) {
      listeners.push(l);
      return { dispose: () => listeners.splice(listeners.indexOf(l), 1) };
    },
  };
}

function setup(withImages = true) {
  const { payload, details } = sweepFixture(withImages);
  const files: Record<string, Uint8Array> = {};
  for (const [ref, d] of Object.entries(details)) {
    files[ref] = new TextEncoder().encode(JSON.stringify(d));
    for (const c of d.objects[0].clips) {
      for (const img of [c.pivotFrame.image, c.pivotBox?.image]) {
        if (img) {
          files[img.ref] = new Uint8Array([0xff, 0xd8, 0xff, 0xe0]);
        }
      }
    }
  }
  const dom = new JSDOM('<!doctype html><body></body>');
  const container = dom.window.document.createElement('div');
  dom.window.document.body.append(container);
  const host = fakeHost(files);
  return { payload, dom, container, host, view: renderSweepMatrix(container, payload, host) };
}

const texts = (els: Iterable<Element>): string[] => [...els].map((e) => (e.textContent ?? '').trim());

suite('sweep matrix renderer (DOM)', () => {
  test('draws inputs x variants with the baseline first, statuses, cached markers, mean and coloured deltas', () => {
    const { container, view } = setup();
    assert.deepEqual(texts(container.querySelectorAll('thead th')), ['Input', 'cot-v1baseline', 'cot-v2', 'middle']);
    assert.deepEqual(texts(container.querySelectorAll('tbody th')), ['car-shadow #0', 'blocks #0']);
    assert.equal(container.querySelectorAll('button.alref-sm-cell').length, 6);
    // Frame area ratio (the first metric): 95% vs 90%; the blocks input has no ground truth.
    assert.deepEqual(texts(container.querySelectorAll('tbody tr:first-child .alref-sm-value')), ['95%', '90%', '90%']);
    assert.deepEqual(texts(container.querySelectorAll('tbody tr:nth-child(2) .alref-sm-value')), ['–', '–', 'error']);
    const error = view.cell(2, 1)!;
    assert.equal(error.dataset.status, 'error');
    assert.match(error.title, /error: No frames decoded: <b>03_blocks\.mp4<\/b> is unreadable/);
    assert.equal(container.querySelectorAll('b').length, 0, 'messages are text, not HTML');
    assert.equal(view.cell(0, 0)!.querySelector('.alref-sm-cached')?.getAttribute('aria-label'), 'cached');
    assert.equal(view.cell(2, 0)!.querySelector('.alref-sm-cached'), null);
    assert.equal(view.cell(1, 0)!.dataset.tone, 'worse');
    assert.deepEqual(texts(container.querySelectorAll('.alref-sm-mean')), ['95%', '90%', '90%']);
    assert.deepEqual([...container.querySelectorAll<HTMLElement>('.alref-sm-delta')].map((d) => [d.textContent, d.dataset.tone]), [['baseline', 'none'], ['−5 pp', 'worse'], ['−5 pp', 'worse']]);
    view.dispose();
  });

  test('the metric selector changes what the cells show; fewer tokens colour green', () => {
    const { container, view, dom } = setup();
    view.metricSelect.value = String([...view.metricSelect.options].findIndex((o) => o.textContent?.startsWith('Prompt tokens')));
    view.metricSelect.dispatchEvent(new dom.window.Event('change'));
    assert.deepEqual(texts(container.querySelectorAll('tbody tr:first-child .alref-sm-value')), ['1,800', '2,150', '2,500']);
    assert.deepEqual([...container.querySelectorAll<HTMLElement>('.alref-sm-delta')].map((d) => d.textContent), ['baseline', '+350', '+690']);
    view.metricSelect.value = String([...view.metricSelect.options].findIndex((o) => o.textContent?.startsWith('Latency')));
    view.metricSelect.dispatchEvent(new dom.window.Event('change'));
    assert.deepEqual([...container.querySelectorAll<HTMLElement>('.alref-sm-delta')].map((d) => [d.textContent, d.dataset.tone]), [['baseline', 'none'], ['−300 ms', 'better'], ['−2.4 s', 'better']]);
    view.dispose();
  });

  test('clicking headers sorts: inputs by a variant, variants by their mean (baseline first); focus stays on the header', () => {
    const { container, view, dom } = setup();
    view.metricSelect.value = String([...view.metricSelect.options].findIndex((o) => o.textContent?.startsWith('Prompt tokens')));
    view.metricSelect.dispatchEvent(new dom.window.Event('change'));
    const head = () => container.querySelector<HTMLButtonElement>('[data-sort-variant="0"]')!;
    head().click(); // best first: fewer tokens
    assert.deepEqual(texts(container.querySelectorAll('tbody th')), ['car-shadow #0', 'blocks #0']);
    assert.equal(head().closest('th')!.getAttribute('aria-sort'), 'ascending');
    head().click(); // worst first
    assert.deepEqual(texts(container.querySelectorAll('tbody th')), ['blocks #0', 'car-shadow #0']);
    assert.equal(container.ownerDocument.activeElement, head());
    head().click(); // payload order again
    assert.deepEqual(texts(container.querySelectorAll('tbody th')), ['car-shadow #0', 'blocks #0']);
    const mean = () => container.querySelector<HTMLButtonElement>('.alref-sm-sort-summary')!;
    mean().click();
    mean().click(); // worst first: most tokens
    assert.deepEqual(texts(container.querySelectorAll('thead th')), ['Input', 'cot-v1baseline', 'middle', 'cot-v2']);
    // Arrow keys move between cells in the displayed order.
    const first = container.querySelector<HTMLButtonElement>('.alref-sm-cell[data-row="0"][data-col="0"]')!;
    first.focus();
    first.dispatchEvent(new dom.window.KeyboardEvent('keydown', { key: 'ArrowRight', bubbles: true }));
    assert.equal((container.ownerDocument.activeElement as HTMLElement).dataset.variant, '2');
    view.dispose();
  });

  test('clicking a cell opens the baseline and that variant side by side: traces, answers, what differs, lazy images', async () => {
    const { container, view, host } = setup();
    view.cell(1, 0)!.click();
    const state = view.compare()!;
    assert.deepEqual([state.left, state.right, state.input], [0, 1, 0]);
    await state.ready;
    assert.deepEqual(host.posted.slice(0, 2), [
      { type: 'readArtifact', ref: detailRef('cot-v1', 'car-shadow#0') },
      { type: 'readArtifact', ref: detailRef('cot-v2', 'car-shadow#0') },
    ]);
    const panel = container.querySelector<HTMLElement>('.alref-sm-compare')!;
    assert.equal(panel.hidden, false);
    assert.equal(view.cell(1, 0)!.getAttribute('aria-pressed'), 'true');
    assert.match(panel.querySelector('.alref-sm-compare-status')!.textContent!, /1 of 2 clips differ/);
    assert.deepEqual(texts(panel.querySelectorAll('.alref-sm-differs li')), ['Object 1 · clip 1: [3] -> [2], box on another frame (12 -> 8)', 'Object 1 · clip 2: same answer [2], [1]']);
    const clips = [...panel.querySelectorAll<HTMLDetailsElement>('details.alref-sm-clip')];
    assert.deepEqual(clips.map((c) => c.open), [true, false], 'clips that agree are collapsed');
    assert.deepEqual(texts(clips[0].querySelectorAll('.alref-sm-side h4')), ['cot-v1', 'cot-v2']);
    assert.deepEqual(texts(clips[0].querySelectorAll('.alref-sm-trace-frame mark')), ['[3]', '[2]']);
    assert.match(clips[0].querySelectorAll('.alref-sm-trace-frame')[0].textContent!, /whole car and its shadow\.\nThe best view is frame 3/);
    assert.deepEqual(texts(clips[0].querySelectorAll('.alref-sm-diff-del')).slice(-1), ['− [3]']);
    assert.deepEqual(texts(clips[0].querySelectorAll('.alref-sm-diff-add')).slice(-1), ['+ [2]']);
    assert.match(clips[0].querySelector('.alref-sm-box')!.textContent!, /Pivot box on frame 12: \[1\] → \[100, 60, 220, 140\]/);
    assert.match(clips[0].querySelector('.alref-sm-clip-metrics')!.textContent!, /Box IoU80%/);
    // Images: only the open clip's four were asked for; opening the other clip loads its own.
    await new Promise((r) => setTimeout(r, 10));
    const images = () => host.posted.filter((m) => m.ref.startsWith('sweep/images/')).map((m) => m.ref);
    assert.equal(images().length, 4);
    assert.ok(images().every((r) => r.includes('-c1-')));
    assert.ok(clips[0].querySelector('img')!.src.startsWith('blob:'));
    clips[1].open = true;
    clips[1].dispatchEvent(new (container.ownerDocument.defaultView!.Event)('toggle'));
    assert.equal(images().length, 8);
    // Enlarge on click.
    const img = clips[0].querySelector('img')!;
    img.click();
    assert.ok(img.closest('figure')!.classList.contains('alref-sm-image-large'));
    view.dispose();
  });

  test('the variant selectors pick the two sides; a side without answers says why', async () => {
    const { container, view, dom } = setup(false);
    view.cell(0, 1)!.click(); // the baseline's own cell: compared with the next variant
    assert.deepEqual([view.compare()!.left, view.compare()!.right], [0, 1]);
    await view.compare()!.ready;
    const status = () => container.querySelector('.alref-sm-compare-status')!.textContent!;
    assert.match(status(), /1 of 2 clips differ/);
    const pick = async (side: 'left' | 'right', v: number) => {
      const select = container.querySelector<HTMLSelectElement>(`.alref-sm-pick-${side}`)!;
      select.value = String(v);
      select.dispatchEvent(new dom.window.Event('change'));
      await view.compare()!.ready;
    };
    await pick('right', 2);
    assert.match(status(), /Cannot compare: middle has no answers for this input \(error: No frames decoded/);
    await pick('left', 1);
    await pick('right', 1);
    assert.deepEqual([view.compare()!.left, view.compare()!.right], [1, 1]);
    assert.match(status(), /cot-v2 and cot-v2 agree on all 2 clips/);
    container.querySelector<HTMLButtonElement>('.alref-sm-close')!.click();
    assert.equal(view.compare(), undefined);
    assert.equal(container.querySelectorAll('.alref-sm-cell[aria-pressed="true"]').length, 0);
    view.dispose();
  });

  test('export buttons ask the host to open the file; without messaging they are disabled and name it', () => {
    const { container, host, view, payload } = setup();
    container.querySelector<HTMLButtonElement>('.alref-sm-export-csv')!.click();
    assert.deepEqual(host.posted, [{ type: 'openArtifact', ref: 'sweep/matrix.csv' }]);
    view.dispose();
    const plain = renderSweepMatrix(container, payload);
    const json = container.querySelector<HTMLButtonElement>('.alref-sm-export-json')!;
    assert.equal(json.disabled, true);
    assert.match(json.title, /sweep\/matrix\.json in the run folder/);
    plain.cell(1, 0)!.click();
    return plain.compare()!.ready.then(() => {
      assert.match(container.querySelector('.alref-sm-compare-status')!.textContent!, /load through the AL-Ref extension/);
      plain.dispose();
    });
  });

  test('an input names its candidate source in its tooltip', () => {
    const { payload } = sweepFixture(false);
    payload.inputs[1].candidates = 'none';
    const dom = new JSDOM('<!doctype html><body></body>');
    const container = dom.window.document.createElement('div');
    renderSweepMatrix(container, payload, {});
    assert.match((container.querySelectorAll<HTMLElement>('tbody th')[1]).title, /candidate boxes: none \(pivot-box step skipped/);
  });

  test('activation: a newer payload version or a malformed payload draws a clear message', () => {
    const doc = new JSDOM('<!doctype html><body></body>').window.document;
    const element = doc.createElement('div');
    doc.body.append(element);
    const renderer = activate({} as never) as { renderOutputItem(item: unknown, el: HTMLElement): void; disposeOutputItem(id?: string): void };
    const item = (json: unknown) => ({ id: 's1', mime: 'application/vnd.alref.sweep-matrix+json', metadata: {}, data: () => new Uint8Array(), json: () => json, text: () => '', blob: () => new Blob([]) });
    const { payload } = sweepFixture();
    renderer.renderOutputItem(item(payload), element);
    assert.equal(element.shadowRoot?.querySelectorAll('.alref-sm-cell').length, 6);
    renderer.renderOutputItem(item({ ...payload, version: 2 }), element);
    assert.match(element.shadowRoot?.querySelector('.alref-sm-error')?.textContent ?? '', /payload version 2; this extension reads version 1/);
    renderer.renderOutputItem(item({ version: 1, metrics: [{ key: 'x', label: 'x' }], variants: [{ id: 'a', label: 'a' }], inputs: [], cells: 'no' }), element);
    assert.match(element.shadowRoot?.querySelector('.alref-sm-error')?.textContent ?? '', /cells are not 1 variants x 0 inputs/);
    renderer.disposeOutputItem(undefined);
  });
});
