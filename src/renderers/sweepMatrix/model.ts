import type { SweepDetailPayload, SweepMatrixPayload, SweepMetricPayload } from '../../common/payloads';

/**
 * The pure part of the sweep-matrix renderer: payload checks and the sort orders of inputs and variants. No DOM here.
 */

const isObj = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/** Why a sweep-matrix payload cannot be drawn, or undefined when it can. */
export function checkSweepMatrixPayload(v: unknown): string | undefined {
  if (!isObj(v)) {
    return 'This sweep output has no JSON payload.';
  }
  if (v.version !== 1) {
    return `This sweep matrix has payload version ${String(v.version)}; this extension reads version 1. Update the extension (the table below the output, or the notebook opened elsewhere, shows the markdown fallback).`;
  }
  const { metrics, variants, inputs, cells, summary, deltas } = v as Partial<Record<keyof SweepMatrixPayload, unknown>>;
  if (!Array.isArray(metrics) || metrics.length === 0 || !metrics.every((m) => isObj(m) && typeof m.key === 'string' && typeof m.label === 'string')) {
    return 'The sweep matrix payload has no metric list (metrics: [{ key, label, better, unit }]).';
  }
  if (!Array.isArray(variants) || variants.length === 0 || !variants.every((x) => isObj(x) && typeof x.id === 'string' && typeof x.label === 'string')) {
    return 'The sweep matrix payload has no variants.';
  }
  if (!Array.isArray(inputs) || !inputs.every((x) => isObj(x) && typeof x.id === 'string' && typeof x.label === 'string')) {
    return 'The sweep matrix payload has no input list.';
  }
  if (!Array.isArray(cells) || cells.length !== variants.length || !cells.every((row) => Array.isArray(row) && row.length === inputs.length && row.every((c) => isObj(c) && typeof c.status === 'string' && isObj(c.metrics)))) {
    return `The sweep matrix payload's cells are not ${variants.length} variants x ${inputs.length} inputs.`;
  }
  if (!Array.isArray(summary) || summary.length !== variants.length || !Array.isArray(deltas) || deltas.length !== variants.length) {
    return 'The sweep matrix payload has no summary or deltas per variant.';
  }
  return undefined;
}

/** Why a detail artifact cannot be compared, or undefined when it can. */
export function checkSweepDetailPayload(v: unknown): string | undefined {
  if (!isObj(v)) {
    return 'the detail file holds no JSON object';
  }
  if (v.version !== 1) {
    return `the detail file has version ${String(v.version)}; this extension reads version 1`;
  }
  const objects = (v as Partial<SweepDetailPayload>).objects;
  if (!Array.isArray(objects) || !objects.every((o) => isObj(o) && Array.isArray(o.clips))) {
    return 'the detail file has no objects with clips';
  }
  return undefined;
}

/** Sort direction: `best` puts the best values first (by the metric's direction), `worst` the reverse. */
export type SortDirection = 'best' | 'worst';

/**
 * Indices of `values` ordered best-first (or worst-first); undefined values (null) always last, ties
 * in their original order.
 */
export function sortIndices(values: ReadonlyArray<number | null | undefined>, better: SweepMetricPayload['better'], direction: SortDirection): number[] {
  const sign = (better === 'higher' ? -1 : 1) * (direction === 'best' ? 1 : -1);
  const defined = (x: number | null | undefined): x is number => x !== null && x !== undefined && Number.isFinite(x);
  return values
    .map((v, i) => ({ v, i }))
    .sort((a, b) => {
      const da = defined(a.v);
      const db = defined(b.v);
      if (da !== db) {
        return da ? -1 : 1;
      }
      return da && db && a.v !== b.v ? sign * ((a.v as number) - (b.v as number)) : a.i - b.i;
    })
    .map((x) => x.i);
}

/** The next sort state when a header is clicked again: best first, worst first, then the payload order. */
export function nextDirection(current: SortDirection | undefined): SortDirection | undefined {
  return current === undefined ? 'best' : current === 'best' ? 'worst' : undefined;
}

/** Index of the baseline variant (the one flagged, else the first). */
export function baselineIndex(p: Pick<SweepMatrixPayload, 'variants'>): number {
  const i = p.variants.findIndex((v) => v.baseline);
  return i < 0 ? 0 : i;
}

/**
 * Variant columns ordered by their summary of `metric`: the baseline stays first (every delta is
 * against it), the others follow best-first or worst-first; no direction = payload order.
 */
export function variantOrder(p: Pick<SweepMatrixPayload, 'variants' | 'summary'>, metric: SweepMetricPayload, direction: SortDirection | undefined): number[] {
  const base = baselineIndex(p);
  const others = p.variants.map((_, i) => i).filter((i) => i !== base);
  if (!direction) {
    return [base, ...others];
  }
  const order = sortIndices(others.map((i) => p.summary[i]?.[metric.key]), metric.better, direction);
  return [base, ...order.map((k) => others[k])];
}

/** Input rows ordered by one variant's value of `metric`; no direction = payload order. */
export function inputOrder(p: Pick<SweepMatrixPayload, 'inputs' | 'cells'>, variant: number, metric: SweepMetricPayload, direction: SortDirection | undefined): number[] {
  if (!direction) {
    return p.inputs.map((_, i) => i);
  }
  return sortIndices(p.inputs.map((_, i) => {
    const c = p.cells[variant]?.[i];
    return c && c.status === 'ok' ? c.metrics[metric.key] : null;
  }), metric.better, direction);
}
