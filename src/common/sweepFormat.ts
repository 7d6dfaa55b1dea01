import type { SweepMetricPayload } from './payloads';

/*
 * How sweep metrics read, wherever a sweep matrix is shown: the matrix viewer, its markdown
 * fallback and the HTML report.
 */

export type Unit = SweepMetricPayload['unit'];

const trimZeros = (s: string): string => (s.includes('.') ? s.replace(/\.?0+$/, '') : s);

/** A metric value for display: ratios as percent, tokens grouped, dollars, milliseconds or seconds. */
export function formatValue(value: number | null | undefined, unit: Unit): string {
  if (value === null || value === undefined || !Number.isFinite(value)) {
    return '–';
  }
  switch (unit) {
    case 'ratio':
      return `${trimZeros((value * 100).toFixed(1))}%`;
    case 'count':
      return trimZeros(value.toFixed(2));
    case 'tokens':
      return Math.round(value).toLocaleString('en-US');
    case 'usd':
      return `$${value.toFixed(Math.abs(value) >= 1 ? 2 : 4)}`;
    case 'ms':
      return Math.abs(value) >= 1000 ? `${trimZeros((value / 1000).toFixed(2))} s` : `${Math.round(value)} ms`;
    default:
      return String(value);
  }
}

/** A delta against the baseline, signed: ratios in percentage points (`+3.2 pp`). */
export function formatDelta(delta: number | null | undefined, unit: Unit): string {
  if (delta === null || delta === undefined || !Number.isFinite(delta)) {
    return '–';
  }
  if (delta === 0) {
    return '±0';
  }
  const sign = delta > 0 ? '+' : '−';
  const abs = Math.abs(delta);
  const body = unit === 'ratio' ? `${trimZeros((abs * 100).toFixed(1))} pp` : formatValue(abs, unit);
  return `${sign}${body}`;
}

/** How a delta reads given the metric's direction: `better` (green), `worse` (red), `same` or `none`. */
export type DeltaTone = 'better' | 'worse' | 'same' | 'none';

export function deltaTone(delta: number | null | undefined, better: SweepMetricPayload['better']): DeltaTone {
  if (delta === null || delta === undefined || !Number.isFinite(delta)) {
    return 'none';
  }
  if (Math.abs(delta) < 1e-12) {
    return 'same';
  }
  return (delta > 0) === (better === 'higher') ? 'better' : 'worse';
}
