import assert from 'node:assert/strict';
import { JSDOM } from 'jsdom';
import type { ReasoningTracePayload } from '../../../src/common/payloads';
import { checkPayload, createTraceView, updateTraceView } from '../../../src/renderers/reasoningTrace/render';
import { activate } from '../../../src/renderers/reasoningTrace/index';

function dom(): Document {
  return new JSDOM('<!doctype html><body></body>').window.document;
}

const base = (text: string, extra: Partial<ReasoningTracePayload> = {}): ReasoningTracePayload => ({ version: 1, streamId: 's1', title: 'Object 1 · clip 1', text, done: false, ...extra });

suite('reasoning-trace renderer', () => {
  test('grows in place: the same text node is extended, not rebuilt', () => {
    const doc = dom();
    const container = doc.createElement('div');
    doc.body.append(container);
    const view = createTraceView(container);
    updateTraceView(view, base('The car '));
    const node = view.before;
    updateTraceView(view, base('The car drives through '));
    updateTraceView(view, base('The car drives through the shadow.'));
    assert.equal(view.before, node);
    assert.equal(container.querySelector('pre')?.textContent, 'The car drives through the shadow.');
    assert.equal(view.root.dataset.state, 'streaming');
    assert.match(view.status.textContent ?? '', /streaming/);
  });

  test('LLM text is never parsed as HTML', () => {
    const doc = dom();
    const container = doc.createElement('div');
    const view = createTraceView(container);
    updateTraceView(view, base('<img src=x onerror="alert(1)"><b>bold</b> [2]', { done: true, answer: '[2]', valid: true }));
    assert.equal(container.querySelectorAll('img').length, 0);
    assert.equal(container.querySelectorAll('b').length, 0);
    assert.match(container.textContent ?? '', /<img src=x/);
  });

  test('highlights the LAST occurrence of the parsed answer and shows validity, note and usage', () => {
    const doc = dom();
    const container = doc.createElement('div');
    const view = createTraceView(container);
    const text = 'Maybe [3]? No: frame 4 is sharper. [4]';
    updateTraceView(view, base(text, { done: true, answer: '[4]', valid: false, note: 'frame id 4 is past the clip', usage: { promptTokens: 1200, completionTokens: 40, latencyMs: 2100, costUsd: 0.0034, model: 'gpt-4o' } }));
    const mark = container.querySelector('mark');
    assert.equal(mark?.textContent, '[4]');
    assert.equal(view.before.data, 'Maybe [3]? No: frame 4 is sharper. ');
    assert.equal(view.root.dataset.state, 'invalid');
    assert.match(view.footer.textContent ?? '', /past the clip/);
    assert.match(view.footer.textContent ?? '', /1200 tokens in · 40 out · 2\.1 s · \$0\.0034 · gpt-4o/);
    updateTraceView(view, base(text, { done: true, answer: '[7]', valid: true }));
    assert.equal(view.mark.hidden, true, 'an answer that is not in the text is not marked');
    assert.equal(view.mark.textContent, '');
    assert.equal(view.before.data, text);
  });

  test('payload checks: newer version or missing text give a message, not a throw', () => {
    assert.match(checkPayload({ version: 2, text: '', streamId: 'x' }) ?? '', /version 2/);
    assert.match(checkPayload({ version: 1 }) ?? '', /missing its text/);
    assert.equal(checkPayload(base('ok')), undefined);
  });

  test('activation: re-rendering the same output id keeps the view; a bad payload draws an inline error', () => {
    const doc = dom();
    const element = doc.createElement('div');
    doc.body.append(element);
    const renderer = activate({} as never) as { renderOutputItem(item: unknown, el: HTMLElement): void };
    const item = (payload: unknown) => ({ id: 'out-1', mime: 'application/vnd.alref.reasoning-trace+json', metadata: {}, json: () => payload, text: () => JSON.stringify(payload), data: () => new Uint8Array(), blob: () => new Blob([]) });
    renderer.renderOutputItem(item(base('one ')), element);
    const pre = element.shadowRoot?.querySelector('pre');
    renderer.renderOutputItem(item(base('one two')), element);
    assert.equal(element.shadowRoot?.querySelector('pre'), pre);
    assert.equal(pre?.textContent, 'one two');
    renderer.renderOutputItem({ ...item(null), json: () => { throw new Error('bad json'); } }, element);
    assert.match(element.shadowRoot?.textContent ?? '', /Cannot show this reasoning trace: bad json/);
    renderer.renderOutputItem(item(base('fresh')), element);
    assert.equal(element.shadowRoot?.querySelector('pre')?.textContent, 'fresh');
  });
});
