import type { ReasoningTracePayload } from '../../common/payloads';

/**
 * DOM builder of the reasoning-trace renderer. LLM text is untrusted: it only ever goes into
 * `textContent`. Rendering the same output again (a grown trace) updates the existing nodes in place:
 * new text is appended to the text node, the scroll position follows the end when it was there.
 */

/** The nodes of one rendered trace, kept between renders of the same output id. */
export interface TraceView {
  root: HTMLElement;
  title: HTMLElement;
  status: HTMLElement;
  body: HTMLElement;
  before: Text;
  mark: HTMLElement;
  after: Text;
  footer: HTMLElement;
  /** Text currently shown (before + mark + after). */
  text: string;
}

/** Checks a payload read from an output item; returns an error message, or undefined when usable. */
export function checkPayload(v: unknown): string | undefined {
  if (!v || typeof v !== 'object') {
    return 'The reasoning-trace output has no JSON payload.';
  }
  const p = v as Partial<ReasoningTracePayload>;
  if (p.version !== 1) {
    return `This reasoning trace has payload version ${String(p.version)}; this extension reads version 1. Update the extension.`;
  }
  if (typeof p.text !== 'string' || typeof p.streamId !== 'string') {
    return 'The reasoning-trace payload is missing its text.';
  }
  return undefined;
}

function el<K extends keyof HTMLElementTagNameMap>(doc: Document, tag: K, cls: string): HTMLElementTagNameMap[K] {
  const e = doc.createElement(tag);
  e.className = cls;
  return e;
}

/** Builds the view inside `container` (emptied first). */
export function createTraceView(container: HTMLElement): TraceView {
  const doc = container.ownerDocument;
  container.textContent = '';
  const root = el(doc, 'div', 'alref-trace');
  const header = el(doc, 'div', 'alref-trace-header');
  const title = el(doc, 'span', 'alref-trace-title');
  const status = el(doc, 'span', 'alref-trace-status');
  header.append(title, status);
  const body = el(doc, 'pre', 'alref-trace-body');
  const before = doc.createTextNode('');
  const mark = el(doc, 'mark', 'alref-trace-answer');
  const after = doc.createTextNode('');
  body.append(before, mark, after);
  const footer = el(doc, 'div', 'alref-trace-footer');
  root.append(header, body, footer);
  container.append(root);
  return { root, title, status, body, before, mark, after, footer, text: '' };
}

/** Where the answer sits in the text: its last occurrence, or undefined. */
function answerSpan(text: string, answer: string | undefined): [number, number] | undefined {
  if (!answer) {
    return undefined;
  }
  const at = text.lastIndexOf(answer);
  return at < 0 ? undefined : [at, at + answer.length];
}

function formatUsage(u: NonNullable<ReasoningTracePayload['usage']>): string {
  const parts = [`${u.promptTokens} tokens in`, `${u.completionTokens} out`, `${(u.latencyMs / 1000).toFixed(1)} s`];
  if (u.costUsd !== undefined) {
    parts.push(`$${u.costUsd.toFixed(4)}`);
  }
  if (u.model) {
    parts.push(u.model);
  }
  return parts.join(' · ');
}

/** Updates a view to show `payload`, touching only what changed. */
export function updateTraceView(view: TraceView, payload: ReasoningTracePayload, llmMode?: string): void {
  const body = view.body;
  const atEnd = body.scrollHeight - body.scrollTop - body.clientHeight < 8;
  view.title.textContent = `${payload.title ?? 'LLM reply'}${llmMode ? ` · LLM ${llmMode}` : ''}`;
  const span = payload.done ? answerSpan(payload.text, payload.answer) : undefined;
  if (span) {
    view.before.data = payload.text.slice(0, span[0]);
    view.mark.textContent = payload.text.slice(span[0], span[1]);
    view.after.data = payload.text.slice(span[1]);
    view.mark.hidden = false;
  } else if (payload.text.startsWith(view.text) && view.mark.textContent === '' && view.after.data === '') {
    // Streaming: append only the new part.
    view.before.appendData(payload.text.slice(view.text.length));
  } else {
    view.before.data = payload.text;
    view.mark.textContent = '';
    view.after.data = '';
  }
  view.mark.hidden = !span;
  view.text = payload.text;

  const state = !payload.done ? 'streaming' : payload.valid ? 'valid' : 'invalid';
  view.root.dataset.state = state;
  view.status.textContent = !payload.done
    ? 'streaming…'
    : `${payload.valid ? 'answer' : 'invalid'}${payload.answer ? ` ${payload.answer}` : ''}`;
  view.status.className = `alref-trace-status alref-trace-${state}`;

  const lines: string[] = [];
  if (payload.note) {
    lines.push(payload.note);
  }
  if (payload.usage) {
    lines.push(formatUsage(payload.usage));
  }
  view.footer.textContent = lines.join(' — ');
  view.footer.hidden = lines.length === 0;
  if (atEnd && !payload.done) {
    body.scrollTop = body.scrollHeight;
  }
}

/** Draws an inline error box instead of throwing to VS Code. */
export function renderError(container: HTMLElement, message: string): void {
  const doc = container.ownerDocument;
  container.textContent = '';
  const box = el(doc, 'div', 'alref-trace-error');
  box.textContent = message;
  container.append(box);
}
