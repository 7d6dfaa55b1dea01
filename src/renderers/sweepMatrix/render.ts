import type { OpenArtifactRequest } from '../../common/messages';
import type { SweepMatrixPayload, SweepMetricPayload } from '../../common/payloads';
import { el } from '../lib/dom';
import { ArtifactClient, type ArtifactMessaging as MessagingLike } from '../lib/artifacts';
import { type CompareState, showComparison } from './compare';
import { deltaTone, formatDelta, formatValue } from '../../common/sweepFormat';
import { type SortDirection, baselineIndex, inputOrder, nextDirection, variantOrder } from './model';

export type { SweepMatrixPayload };
export { checkSweepMatrixPayload } from './model';

/**
 * DOM builder of the sweep-matrix renderer. Rows are the inputs, columns the variants (baseline
 * first), so that a variant reads down its column and sits beside the baseline it is compared with;
 * sweeps have a handful of variants and often many inputs, which grow the table downwards, as a
 * notebook scrolls. Two footer rows give each variant's mean of the chosen metric and its delta
 * against the baseline. Clicking a variant's header sorts the inputs by its values; clicking "Mean"
 * sorts the variant columns by their summary (the baseline stays first). Every cell is a button: it
 * opens the side-by-side comparison (./compare.ts) below the table. Untrusted text: `textContent`.
 */

/** A drawn matrix: its parts for tests and the UI check, and `dispose` (listeners, object URLs). */
export interface SweepMatrixView {
  root: HTMLElement;
  metricSelect: HTMLSelectElement;
  /** The cell button of variant `v` on input `i` (payload indices). */
  cell(v: number, i: number): HTMLButtonElement | null;
  /** The comparison shown now, if any. */
  compare(): CompareState | undefined;
  dispose(): void;
}

const CANDIDATE_SOURCES: Record<NonNullable<SweepMatrixPayload['inputs'][number]['candidates']>, string> = {
  typed: 'typed in the cell',
  'grounding-dino': 'GroundingDINO',
  none: 'none (pivot-box step skipped; see the notes)',
};

type Sort = { kind: 'inputs'; variant: number; direction: SortDirection } | { kind: 'variants'; direction: SortDirection } | undefined;

/** Renders into `container` (emptied first). */
export function renderSweepMatrix(container: HTMLElement, payload: SweepMatrixPayload, messaging: MessagingLike = {}): SweepMatrixView {
  const doc = container.ownerDocument;
  container.textContent = '';
  const client = new ArtifactClient(messaging, 'sm');
  const urls: string[] = [];
  const base = baselineIndex(payload);
  let metric: SweepMetricPayload = payload.metrics[0];
  let sort: Sort;
  let current: CompareState | undefined;

  const root = el(doc, 'div', 'alref-sweep');
  const bar = el(doc, 'div', 'alref-sm-bar');
  const title = el(doc, 'span', 'alref-sm-title', payload.caption ?? `Sweep: ${payload.variants.length} variants x ${payload.inputs.length} inputs`);
  const metricLabel = el(doc, 'label', 'alref-sm-metric');
  metricLabel.append(el(doc, 'span', undefined, 'Metric '));
  const metricSelect = el(doc, 'select', 'alref-sm-metric-select');
  metricSelect.setAttribute('aria-label', 'Metric shown in the cells');
  payload.metrics.forEach((m, k) => {
    const o = el(doc, 'option', undefined, `${m.label} (${m.better} is better)`);
    o.value = String(k);
    metricSelect.append(o);
  });
  metricLabel.append(metricSelect);
  bar.append(title, metricLabel, exportButtons(doc, payload, messaging));
  const table = el(doc, 'table', 'alref-sm-table');
  const panel = el(doc, 'div', 'alref-sm-compare');
  panel.hidden = true;
  // The stage's notes (candidate sources, why J&F is empty) are a markdown output of their own.
  root.append(bar, table, panel);
  container.append(root);

  const open = (v: number, i: number): void => {
    current = showComparison(panel, { payload, client, urls }, i, v);
    for (const b of table.querySelectorAll<HTMLButtonElement>('.alref-sm-cell')) {
      b.setAttribute('aria-pressed', String(Number(b.dataset.input) === i && Number(b.dataset.variant) === v));
    }
  };

  const draw = (focus?: string): void => {
    const cols = variantOrder(payload, metric, sort?.kind === 'variants' ? sort.direction : undefined);
    const rows = sort?.kind === 'inputs' ? inputOrder(payload, sort.variant, metric, sort.direction) : inputOrder(payload, 0, metric, undefined);
    table.textContent = '';
    const thead = el(doc, 'thead');
    const hr = el(doc, 'tr');
    hr.append(el(doc, 'th', 'alref-sm-corner', 'Input'));
    for (const v of cols) {
      const variant = payload.variants[v];
      const th = el(doc, 'th', variant.baseline || v === base ? 'alref-sm-vhead alref-sm-baseline' : 'alref-sm-vhead');
      th.scope = 'col';
      const dir = sort?.kind === 'inputs' && sort.variant === v ? sort.direction : undefined;
      th.setAttribute('aria-sort', dir === undefined ? 'none' : (dir === 'best') === (metric.better === 'higher') ? 'descending' : 'ascending');
      const b = el(doc, 'button', 'alref-sm-sort', variant.label);
      b.type = 'button';
      b.dataset.sortVariant = String(v);
      const settings = Object.entries(variant.settings ?? {}).map(([k, x]) => `${k}: ${String(x)}`).join('\n');
      b.title = `Sort the inputs by ${variant.label}'s ${metric.label}${dir ? ` (now ${dir} first)` : ''}${settings ? `\n\n${settings}` : ''}`;
      b.addEventListener('click', () => {
        const d = nextDirection(dir);
        sort = d ? { kind: 'inputs', variant: v, direction: d } : undefined;
        draw(`[data-sort-variant="${v}"]`);
      });
      th.append(b);
      if (v === base) {
        th.append(el(doc, 'span', 'alref-sm-tag', 'baseline'));
      }
      hr.append(th);
    }
    thead.append(hr);

    const tbody = el(doc, 'tbody');
    rows.forEach((i, r) => {
      const input = payload.inputs[i];
      const tr = el(doc, 'tr');
      const th = el(doc, 'th', 'alref-sm-ihead', input.label);
      th.scope = 'row';
      th.title = `${input.video}${input.expression ? `\n“${input.expression}”` : ''}${input.hasGroundTruth ? '' : '\n(no ground truth: pivot metrics undefined)'}${input.candidates ? `\ncandidate boxes: ${CANDIDATE_SOURCES[input.candidates]}` : ''}`;
      tr.append(th);
      cols.forEach((v, c) => {
        const td = el(doc, 'td');
        td.append(cellButton(doc, payload, metric, v, i, base, r, c, open));
        tr.append(td);
      });
      tbody.append(tr);
    });

    const tfoot = el(doc, 'tfoot');
    const mean = el(doc, 'tr', 'alref-sm-summary');
    const meanHead = el(doc, 'th');
    meanHead.scope = 'row';
    const vdir = sort?.kind === 'variants' ? sort.direction : undefined;
    const mb = el(doc, 'button', 'alref-sm-sort alref-sm-sort-summary', 'Mean');
    mb.type = 'button';
    mb.title = `Sort the variants by their mean ${metric.label}${vdir ? ` (now ${vdir} first)` : ''}; the baseline stays first`;
    mb.addEventListener('click', () => {
      const d = nextDirection(vdir);
      sort = d ? { kind: 'variants', direction: d } : undefined;
      draw('.alref-sm-sort-summary');
    });
    meanHead.append(mb);
    mean.append(meanHead);
    const delta = el(doc, 'tr', 'alref-sm-deltas');
    const deltaHead = el(doc, 'th', undefined, 'Δ vs baseline');
    deltaHead.scope = 'row';
    delta.append(deltaHead);
    for (const v of cols) {
      const s = payload.summary[v] ?? {};
      const td = el(doc, 'td', 'alref-sm-mean', formatValue(s[metric.key], metric.unit));
      td.dataset.variant = String(v);
      td.title = payload.metrics.map((m) => `${m.label}: ${formatValue(s[m.key], m.unit)}${v === base ? '' : ` (${formatDelta(payload.deltas[v]?.[m.key], m.unit)})`}`).join('\n');
      mean.append(td);
      const d = payload.deltas[v]?.[metric.key];
      const tone = v === base ? 'none' : deltaTone(d, metric.better);
      const dd = el(doc, 'td', `alref-sm-delta alref-sm-${tone}`, v === base ? 'baseline' : formatDelta(d, metric.unit));
      dd.dataset.variant = String(v);
      dd.dataset.tone = tone;
      delta.append(dd);
    }
    tfoot.append(mean, delta);
    table.append(thead, tbody, tfoot);
    if (current && !panel.hidden) {
      const pressed = table.querySelector<HTMLButtonElement>(`.alref-sm-cell[data-variant="${current.right}"][data-input="${current.input}"]`);
      pressed?.setAttribute('aria-pressed', 'true');
    }
    if (focus) {
      table.querySelector<HTMLElement>(focus)?.focus();
    }
  };

  // Closing the comparison un-presses its cell.
  panel.addEventListener('click', (e) => {
    if ((e.target as HTMLElement | null)?.classList.contains('alref-sm-close')) {
      table.querySelectorAll('.alref-sm-cell[aria-pressed="true"]').forEach((b) => b.setAttribute('aria-pressed', 'false'));
    }
  });
  metricSelect.addEventListener('change', () => {
    metric = payload.metrics[Number(metricSelect.value)] ?? payload.metrics[0];
    draw();
  });
  // Arrow keys move between cells (the cells are buttons: Tab reaches them, Enter/Space open them).
  table.addEventListener('keydown', (e) => {
    const t = e.target as HTMLElement | null;
    if (!t?.classList.contains('alref-sm-cell')) {
      return;
    }
    const move: Record<string, [number, number]> = { ArrowUp: [-1, 0], ArrowDown: [1, 0], ArrowLeft: [0, -1], ArrowRight: [0, 1] };
    const step = move[e.key];
    if (!step) {
      return;
    }
    const next = table.querySelector<HTMLElement>(`.alref-sm-cell[data-row="${Number(t.dataset.row) + step[0]}"][data-col="${Number(t.dataset.col) + step[1]}"]`);
    if (next) {
      e.preventDefault();
      next.focus();
    }
  });
  draw();

  return {
    root,
    metricSelect,
    cell: (v, i) => table.querySelector<HTMLButtonElement>(`.alref-sm-cell[data-variant="${v}"][data-input="${i}"]`),
    compare: () => (panel.hidden ? undefined : current),
    dispose: () => {
      client.dispose();
      urls.splice(0).forEach((u) => URL.revokeObjectURL(u));
    },
  };
}

/** One cell: the value of the metric (or the status), coloured against the baseline's value on the same input. */
function cellButton(doc: Document, p: SweepMatrixPayload, metric: SweepMetricPayload, v: number, i: number, base: number, row: number, col: number, open: (v: number, i: number) => void): HTMLButtonElement {
  const cell = p.cells[v][i];
  const b = el(doc, 'button', `alref-sm-cell alref-sm-${cell.status}`);
  b.type = 'button';
  Object.assign(b.dataset, { variant: String(v), input: String(i), row: String(row), col: String(col), status: cell.status });
  const tips = [`${p.variants[v].label} on ${p.inputs[i].label}`];
  if (cell.status === 'ok') {
    const value = cell.metrics[metric.key];
    b.append(el(doc, 'span', 'alref-sm-value', formatValue(value, metric.unit)));
    const bc = p.cells[base][i];
    const bv = bc.status === 'ok' ? bc.metrics[metric.key] : null;
    if (v !== base && value !== null && value !== undefined && bv !== null && bv !== undefined) {
      const tone = deltaTone(value - bv, metric.better);
      b.classList.add(`alref-sm-${tone}`);
      b.dataset.tone = tone;
      tips.push(`${formatDelta(value - bv, metric.unit)} against the baseline`);
    }
    tips.push(...p.metrics.filter((m) => m.key !== metric.key && cell.metrics[m.key] !== undefined).map((m) => `${m.label}: ${formatValue(cell.metrics[m.key], m.unit)}`));
  } else {
    b.append(el(doc, 'span', 'alref-sm-value', cell.status));
    tips.push(`${cell.status}${cell.message ? `: ${cell.message}` : ''}`);
  }
  if (cell.cached) {
    const mark = el(doc, 'span', 'alref-sm-cached', '⟲');
    mark.setAttribute('aria-label', 'cached');
    b.append(mark);
    tips.push('every request answered from the record/replay store');
  }
  tips.push(cell.detail ? 'Click to compare with the baseline' : 'No answers stored for a comparison');
  b.title = tips.join('\n');
  b.setAttribute('aria-pressed', 'false');
  b.addEventListener('click', () => open(v, i));
  return b;
}

/** The CSV and JSON exports: buttons that ask the host to open the file (disabled without messaging). */
function exportButtons(doc: Document, p: SweepMatrixPayload, messaging: MessagingLike): HTMLElement {
  const box = el(doc, 'span', 'alref-sm-exports');
  const canOpen = typeof messaging.postMessage === 'function';
  for (const [label, ref] of [['CSV', p.exports?.csv?.ref], ['JSON', p.exports?.json?.ref]] as const) {
    if (!ref) {
      continue;
    }
    const b = el(doc, 'button', `alref-sm-export alref-sm-export-${label.toLowerCase()}`, `Open ${label}`);
    b.type = 'button';
    b.disabled = !canOpen;
    b.title = canOpen ? `Open ${ref} from the run folder in an editor` : `${ref} in the run folder`;
    b.addEventListener('click', () => {
      const msg: OpenArtifactRequest = { type: 'openArtifact', ref };
      messaging.postMessage?.(msg);
    });
    box.append(b);
  }
  return box;
}

/** Draws an inline error box instead of throwing to VS Code. */
export function renderSweepError(container: HTMLElement, message: string): void {
  container.textContent = '';
  container.append(el(container.ownerDocument, 'div', 'alref-sm-error', message));
}
