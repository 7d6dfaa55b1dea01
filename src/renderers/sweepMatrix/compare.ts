import type { SweepDetailPayload, SweepMatrixPayload } from '../../common/payloads';
import type { ArtifactClient } from '../lib/artifacts';
import { el } from '../lib/dom';
import { type ClipPair, type DetailClip, lineDiff, pairClips } from './diff';
import { formatValue } from '../../common/sweepFormat';
import { baselineIndex, checkSweepDetailPayload } from './model';

/**
 * The side-by-side comparison under the matrix: two variants' answers on one input, clip by clip.
 * Both detail artifacts load through `readArtifact`; the images the LLM saw load when their clip is
 * opened. LLM text is untrusted: `textContent` only.
 */

/** What the comparison needs from the matrix view. */
export interface CompareContext {
  payload: SweepMatrixPayload;
  client: ArtifactClient;
  /** Object URLs made for images, revoked by the matrix view's dispose. */
  urls: string[];
}

/** A shown comparison: which input and variants, and a promise settled once both sides are drawn. */
export interface CompareState {
  input: number;
  left: number;
  right: number;
  ready: Promise<void>;
}

const detailCache = new WeakMap<ArtifactClient, Map<string, Promise<SweepDetailPayload>>>();

function loadDetail(client: ArtifactClient, ref: string): Promise<SweepDetailPayload> {
  let cache = detailCache.get(client);
  if (!cache) {
    cache = new Map();
    detailCache.set(client, cache);
  }
  let p = cache.get(ref);
  if (!p) {
    p = client.read(ref).then(({ bytes }) => {
      const parsed = JSON.parse(new TextDecoder().decode(bytes)) as unknown;
      const problem = checkSweepDetailPayload(parsed);
      if (problem) {
        throw new Error(`${ref}: ${problem}`);
      }
      return parsed as SweepDetailPayload;
    });
    p.catch(() => cache.delete(ref));
    cache.set(ref, p);
  }
  return p;
}

/** The variant shown opposite the baseline by default when the baseline's own cell is clicked. */
function defaultPair(payload: SweepMatrixPayload, clicked: number): [number, number] {
  const base = baselineIndex(payload);
  if (clicked !== base) {
    return [base, clicked];
  }
  const other = payload.variants.findIndex((_, i) => i !== base);
  return [base, other < 0 ? base : other];
}

/** Draws the comparison of `input` into `panel` (emptied first), the clicked variant opposite the baseline. */
export function showComparison(panel: HTMLElement, ctx: CompareContext, input: number, clicked: number): CompareState {
  const [left, right] = defaultPair(ctx.payload, clicked);
  const state: CompareState = { input, left, right, ready: Promise.resolve() };
  drawComparison(panel, ctx, state);
  return state;
}

/** Draws `state`'s input and variants; the variant selectors redraw into the same state object. */
function drawComparison(panel: HTMLElement, ctx: CompareContext, state: CompareState): void {
  const { input, left, right } = state;
  const doc = panel.ownerDocument;
  const { payload } = ctx;
  const inp = payload.inputs[input];
  panel.textContent = '';
  panel.hidden = false;
  panel.dataset.input = inp.id;
  const head = el(doc, 'div', 'alref-sm-compare-head');
  const title = el(doc, 'h3', 'alref-sm-compare-title', `${inp.label}`);
  const expr = el(doc, 'div', 'alref-sm-compare-expr', inp.expression ? `“${inp.expression}” · ${inp.video}` : inp.video);
  const pick = (which: 'left' | 'right', selected: number): HTMLSelectElement => {
    const s = el(doc, 'select', `alref-sm-pick alref-sm-pick-${which}`);
    s.setAttribute('aria-label', which === 'left' ? 'Left variant' : 'Right variant');
    payload.variants.forEach((v, i) => {
      const o = el(doc, 'option', undefined, v.baseline ? `${v.label} (baseline)` : v.label);
      o.value = String(i);
      o.selected = i === selected;
      s.append(o);
    });
    return s;
  };
  const leftPick = pick('left', left);
  const rightPick = pick('right', right);
  const picks = el(doc, 'div', 'alref-sm-picks');
  picks.append(leftPick, el(doc, 'span', undefined, ' vs '), rightPick);
  const close = el(doc, 'button', 'alref-sm-close', 'Close');
  close.type = 'button';
  close.title = 'Close the comparison';
  close.addEventListener('click', () => {
    panel.hidden = true;
    panel.textContent = '';
  });
  head.append(title, expr, picks, close);
  const status = el(doc, 'div', 'alref-sm-compare-status', 'Loading both answers…');
  status.setAttribute('role', 'status');
  const body = el(doc, 'div', 'alref-sm-compare-body');
  panel.append(head, status, body);

  const redraw = (): void => {
    state.left = Number(leftPick.value);
    state.right = Number(rightPick.value);
    drawComparison(panel, ctx, state);
  };
  leftPick.addEventListener('change', redraw);
  rightPick.addEventListener('change', redraw);

  state.ready = (async () => {
    const sides = [left, right].map((v) => {
      const cell = payload.cells[v][input];
      const label = payload.variants[v].label;
      if (!cell.detail) {
        const why = cell.status === 'ok' ? 'no detail was stored' : `${cell.status}${cell.message ? `: ${cell.message}` : ''}`;
        return Promise.reject(new Error(`${label} has no answers for this input (${why}).`));
      }
      if (!ctx.client.available) {
        return Promise.reject(new Error(`The answers of ${label} are in the run folder (${cell.detail.ref}); they load through the AL-Ref extension, whose renderer messaging is off here.`));
      }
      return loadDetail(ctx.client, cell.detail.ref);
    });
    const results = await Promise.allSettled(sides);
    if (!panel.contains(status)) {
      return; // redrawn meanwhile
    }
    const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected').map((r) => (r.reason instanceof Error ? r.reason.message : String(r.reason)));
    if (failed.length > 0) {
      status.textContent = `Cannot compare: ${failed.join(' ')}`;
      status.classList.add('alref-sm-error-text');
      return;
    }
    const [l, r] = results.map((x) => (x as PromiseFulfilledResult<SweepDetailPayload>).value);
    const pairs = pairClips(l, r);
    drawPairs(body, ctx, pairs, [payload.variants[left].label, payload.variants[right].label]);
    const differ = pairs.filter((p) => !p.agree).length;
    const total = pairs.length;
    status.textContent = differ === 0 ? `${payload.variants[left].label} and ${payload.variants[right].label} agree on all ${total} clips.` : `${differ} of ${total} clips differ.`;
  })();
}

function drawPairs(body: HTMLElement, ctx: CompareContext, pairs: ClipPair[], labels: [string, string]): void {
  const doc = body.ownerDocument;
  const list = el(doc, 'ul', 'alref-sm-differs');
  for (const p of pairs) {
    const li = el(doc, 'li', p.agree ? 'alref-sm-agree' : 'alref-sm-differ', `Object ${p.objectId} · ${p.summary}`);
    list.append(li);
  }
  body.append(list);
  for (const p of pairs) {
    const details = el(doc, 'details', `alref-sm-clip ${p.agree ? 'alref-sm-clip-agree' : 'alref-sm-clip-differ'}`);
    details.dataset.clip = String(p.clip);
    details.dataset.object = String(p.objectId);
    const summary = el(doc, 'summary', undefined, `Object ${p.objectId} “${p.text}” · ${p.summary}`);
    details.append(summary);
    const sides = el(doc, 'div', 'alref-sm-sides');
    const loaders: Array<() => void> = [];
    sides.append(side(doc, ctx, labels[0], p.left, loaders), side(doc, ctx, labels[1], p.right, loaders));
    details.append(sides);
    const diffs = [
      ['Pivot frame trace', p.left?.pivotFrame.trace, p.right?.pivotFrame.trace],
      ['Pivot box trace', p.left?.pivotBox?.trace, p.right?.pivotBox?.trace],
    ] as const;
    for (const [what, a, b] of diffs) {
      if (a !== undefined && b !== undefined && a !== b) {
        details.append(traceDiff(doc, what, a, b, labels));
      }
    }
    // The images load when the clip is opened (differing clips start open).
    let loaded = false;
    const load = (): void => {
      if (!loaded && details.open) {
        loaded = true;
        loaders.forEach((f) => f());
      }
    };
    details.addEventListener('toggle', load);
    details.open = !p.agree;
    load();
    body.append(details);
  }
}

function side(doc: Document, ctx: CompareContext, label: string, clip: DetailClip | undefined, loaders: Array<() => void>): HTMLElement {
  const col = el(doc, 'section', 'alref-sm-side');
  col.append(el(doc, 'h4', undefined, label));
  if (!clip) {
    col.append(el(doc, 'p', 'alref-sm-muted', 'This variant did not run this clip.'));
    return col;
  }
  const f = clip.pivotFrame;
  const frameLine = `Pivot frame: ${f.valid ? (f.answer ?? 'answer') : 'invalid answer'}${f.frameIndex === null ? ', no frame chosen' : ` → frame ${f.frameIndex}`}`;
  col.append(el(doc, 'div', `alref-sm-choice${f.valid ? '' : ' alref-sm-error-text'}`, frameLine));
  if (f.note) {
    col.append(el(doc, 'div', 'alref-sm-muted', f.note));
  }
  if (f.image) {
    col.append(image(doc, ctx, f.image.ref, `The image sent for the pivot frame (${label})`, loaders));
  }
  col.append(trace(doc, f.trace, f.answer, 'alref-sm-trace-frame'));
  const b = clip.pivotBox;
  if (b) {
    const box = b.box ? `[${[b.box.x0, b.box.y0, b.box.x1, b.box.y1].map((v) => Math.round(v)).join(', ')}]` : 'no box';
    const boxLine = `Pivot box on frame ${b.frameIndex}: ${b.valid ? (b.answer ?? (b.chosen === null ? 'none' : `box ${b.chosen + 1}`)) : 'invalid answer'} → ${box}`;
    col.append(el(doc, 'div', `alref-sm-choice alref-sm-box${b.valid ? '' : ' alref-sm-error-text'}`, boxLine));
    if (b.note) {
      col.append(el(doc, 'div', 'alref-sm-muted', b.note));
    }
    if (b.image) {
      col.append(image(doc, ctx, b.image.ref, `The image sent for the pivot box (${label})`, loaders));
    }
    col.append(trace(doc, b.trace, b.answer, 'alref-sm-trace-box'));
  }
  const metrics = Object.entries(clip.metrics ?? {});
  if (metrics.length > 0) {
    const dl = el(doc, 'dl', 'alref-sm-clip-metrics');
    for (const [key, value] of metrics) {
      const m = ctx.payload.metrics.find((x) => x.key === key);
      dl.append(el(doc, 'dt', undefined, m?.label ?? key), el(doc, 'dd', undefined, m ? formatValue(value, m.unit) : String(value ?? '–')));
    }
    col.append(dl);
  }
  return col;
}

/** A trace with its bracketed answer (the last occurrence) highlighted. */
function trace(doc: Document, text: string, answer: string | undefined, cls: string): HTMLElement {
  const pre = el(doc, 'pre', `alref-sm-trace ${cls}`);
  const at = answer ? text.lastIndexOf(answer) : -1;
  if (answer && at >= 0) {
    pre.append(doc.createTextNode(text.slice(0, at)), el(doc, 'mark', 'alref-sm-answer', answer), doc.createTextNode(text.slice(at + answer.length)));
  } else {
    pre.textContent = text;
  }
  return pre;
}

/** An image from the run folder, fetched when `loaders` run; a click enlarges it to its own size. */
function image(doc: Document, ctx: CompareContext, ref: string, alt: string, loaders: Array<() => void>): HTMLElement {
  const fig = el(doc, 'figure', 'alref-sm-image');
  const img = el(doc, 'img');
  img.alt = alt;
  img.title = `${alt}: click to enlarge (${ref})`;
  img.tabIndex = 0;
  const caption = el(doc, 'figcaption', 'alref-sm-muted', 'not loaded yet');
  const toggle = (): void => {
    fig.classList.toggle('alref-sm-image-large');
  };
  img.addEventListener('click', toggle);
  img.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' || e.key === ' ') {
      e.preventDefault();
      toggle();
    }
  });
  loaders.push(() => {
    caption.textContent = 'loading…';
    ctx.client.read(ref).then(
      ({ bytes, mime }) => {
        const url = URL.createObjectURL(new Blob([new Uint8Array(bytes)], { type: mime }));
        ctx.urls.push(url);
        img.src = url;
        caption.textContent = alt;
      },
      (err: unknown) => {
        caption.textContent = `Cannot load ${ref}: ${err instanceof Error ? err.message : String(err)}`;
      },
    );
  });
  fig.append(img, caption);
  return fig;
}

/** A line diff of the two traces, `-` left only, `+` right only. */
function traceDiff(doc: Document, what: string, a: string, b: string, labels: [string, string]): HTMLElement {
  const box = el(doc, 'div', 'alref-sm-diff');
  box.append(el(doc, 'div', 'alref-sm-diff-title', `${what}: − ${labels[0]}, + ${labels[1]}`));
  const pre = el(doc, 'pre', 'alref-sm-diff-body');
  for (const line of lineDiff(a, b)) {
    const sign = line.kind === 'same' ? '  ' : line.kind === 'del' ? '− ' : '+ ';
    pre.append(el(doc, 'div', `alref-sm-diff-${line.kind}`, `${sign}${line.text}`));
  }
  box.append(pre);
  return box;
}
