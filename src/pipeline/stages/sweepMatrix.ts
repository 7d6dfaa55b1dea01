import type { SweepCellPayload, SweepMatrixPayload, SweepMetricPayload } from '../../common/payloads';
import { deltaByKey, meanByKey } from '../metrics/pivotMetrics';
import { formatDelta, formatValue } from '../../common/sweepFormat';

/*
 * The sweep matrix: which metric columns it has, the summary row and deltas per variant, and its
 * markdown (notebook fallback) and CSV forms. Pure.
 */

const METRICS: Record<string, SweepMetricPayload> = {
  frameAreaRatio: { key: 'frameAreaRatio', label: 'frame area ratio', better: 'higher', unit: 'ratio' },
  frameVisible: { key: 'frameVisible', label: 'frame visible', better: 'higher', unit: 'ratio' },
  boxIoU: { key: 'boxIoU', label: 'box IoU', better: 'higher', unit: 'ratio' },
  boxCentreOnObject: { key: 'boxCentreOnObject', label: 'box centre on object', better: 'higher', unit: 'ratio' },
  validRate: { key: 'validRate', label: 'valid', better: 'higher', unit: 'ratio' },
  reasks: { key: 'reasks', label: 're-asks', better: 'lower', unit: 'count' },
  promptTokens: { key: 'promptTokens', label: 'prompt tokens', better: 'lower', unit: 'tokens' },
  completionTokens: { key: 'completionTokens', label: 'completion tokens', better: 'lower', unit: 'tokens' },
  costUsd: { key: 'costUsd', label: 'cost (USD)', better: 'lower', unit: 'usd' },
  latencyMs: { key: 'latencyMs', label: 'latency (ms)', better: 'lower', unit: 'ms' },
  J: { key: 'J', label: 'J', better: 'higher', unit: 'ratio' },
  F: { key: 'F', label: 'F', better: 'higher', unit: 'ratio' },
  JF: { key: 'JF', label: 'J&F', better: 'higher', unit: 'ratio' },
};

/**
 * The metric columns, in display order: the pivot metrics first when some input has ground truth
 * (the box ones only when the pivot-box step ran), then validity and usage, then J, F, J&F when
 * some input has ground truth.
 */
export function sweepMetrics(opts: { groundTruth: boolean; boxes: boolean }): SweepMetricPayload[] {
  const keys = [
    ...(opts.groundTruth ? ['frameAreaRatio', 'frameVisible', ...(opts.boxes ? ['boxIoU', 'boxCentreOnObject'] : [])] : []),
    'validRate', 'reasks', 'promptTokens', 'completionTokens', 'costUsd', 'latencyMs',
    ...(opts.groundTruth ? ['J', 'F', 'JF'] : []),
  ];
  return keys.map((k) => METRICS[k]);
}

/** Summary (mean over inputs where defined) and deltas against the first variant. */
export function summarize(cells: SweepCellPayload[][], metrics: SweepMetricPayload[]): Pick<SweepMatrixPayload, 'summary' | 'deltas'> {
  const keys = metrics.map((m) => m.key);
  const summary = cells.map((row) => meanByKey(row.filter((c) => c.status === 'ok').map((c) => c.metrics), keys));
  const deltas = summary.map((s) => deltaByKey(s, summary[0], keys));
  return { summary, deltas };
}

/**
 * The matrix as a markdown table (the fallback for readers without the extension): one row per
 * variant x input, then per variant its mean row and its delta against the baseline.
 */
export function matrixTable(m: Pick<SweepMatrixPayload, 'metrics' | 'variants' | 'inputs' | 'cells' | 'summary' | 'deltas'>): { columns: string[]; rows: Array<Array<string | number | null>> } {
  const columns = ['variant', 'input', ...m.metrics.map((x) => x.label)];
  const rows: Array<Array<string | number | null>> = [];
  m.variants.forEach((v, vi) => {
    m.inputs.forEach((inp, ii) => {
      const c = m.cells[vi][ii];
      const values = c.status === 'ok' ? m.metrics.map((x) => formatValue(c.metrics[x.key], x.unit)) : m.metrics.map((_, k) => (k === 0 ? `${c.status}: ${c.message ?? ''}` : ''));
      rows.push([v.label, inp.label, ...values]);
    });
    rows.push([`**${v.label}**`, '**mean**', ...m.metrics.map((x) => formatValue(m.summary[vi][x.key], x.unit))]);
    if (vi > 0) {
      rows.push([`**${v.label}**`, `**Δ vs ${m.variants[0].label}**`, ...m.metrics.map((x) => formatDelta(m.deltas[vi][x.key], x.unit))]);
    }
  });
  return { columns, rows };
}

function csvField(v: string | number | null | undefined): string {
  if (v === null || v === undefined) {
    return '';
  }
  const s = String(v);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/**
 * The matrix as CSV: one line per variant x input (`row` = `cell`), then per variant its `mean`
 * and, after the baseline, its `delta`; raw numbers, empty where undefined.
 */
export function matrixCsv(m: Pick<SweepMatrixPayload, 'metrics' | 'variants' | 'inputs' | 'cells' | 'summary' | 'deltas'>): string {
  const lines = [['row', 'variant', 'input', 'expression', 'status', ...m.metrics.map((x) => x.key)].join(',')];
  m.variants.forEach((v, vi) => {
    m.inputs.forEach((inp, ii) => {
      const c = m.cells[vi][ii];
      lines.push(['cell', v.id, inp.id, inp.expression, c.status, ...m.metrics.map((x) => c.metrics[x.key])].map(csvField).join(','));
    });
    lines.push(['mean', v.id, '', '', '', ...m.metrics.map((x) => m.summary[vi][x.key])].map(csvField).join(','));
    if (vi > 0) {
      lines.push(['delta', v.id, '', '', '', ...m.metrics.map((x) => m.deltas[vi][x.key])].map(csvField).join(','));
    }
  });
  return `${lines.join('\n')}\n`;
}
