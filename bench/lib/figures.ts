// The figures a benchmark hands to bench/run.mjs for its summary table. Each call appends one JSON
// line to the file named by ALREF_BENCH_FIGURES (set by run.mjs); run on its own, a benchmark only
// prints, and these calls do nothing.
import { appendFileSync } from 'node:fs';

/** One row of the summary: the measured value as shown, whether the goal is met, or why it was skipped. */
export interface BenchFigure {
  /** Row id of bench/run.mjs's table (e.g. `jf-toolkit`). */
  id: string;
  /** The figure as printed in the table (e.g. `12.3x faster`). */
  value?: string;
  met?: boolean;
  /** What stands in the way, or how it was measured. */
  note?: string;
  /** Set when the reference or the input was absent: the reason. */
  skipped?: string;
}

export function reportFigure(figure: BenchFigure): void {
  const file = process.env.ALREF_BENCH_FIGURES;
  if (file) {
    appendFileSync(file, `${JSON.stringify(figure)}\n`);
  }
}

/** `npm run bench -- --quick` (or `--quick` on a single benchmark): smaller inputs, the same figures. */
export const QUICK = process.env.ALREF_BENCH_QUICK === '1' || process.argv.includes('--quick');
