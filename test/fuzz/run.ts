/**
 * `npm run fuzz`: long fuzzing runs of the notebook and stage-cell parsers (see `notebookFuzz.ts`).
 *
 *   npm run fuzz                                  # 100,000 mutants, seed 1, notebook run on every 500th
 *   npm run fuzz -- --count 1000000 --seed 7      # or FUZZ_COUNT / FUZZ_SEED in the environment
 *   npm run fuzz -- --seed 7 --only 4242          # reproduce one mutant
 *   npm run fuzz -- --cli-every 0 --max-huge 2000000 --max-depth 100000 --max-yaml-depth 5000
 *
 * Prints a summary; exits 1 when any mutant fails (uncaught exception, unnamed error, lost field,
 * a write that does not read back, or a write to the input file).
 */
import { parseArgs } from 'node:util';
import { runFuzz, summarize } from './notebookFuzz';

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      count: { type: 'string' },
      seed: { type: 'string' },
      only: { type: 'string' },
      'cli-every': { type: 'string' },
      'max-huge': { type: 'string' },
      'max-depth': { type: 'string' },
      'max-yaml-depth': { type: 'string' },
      'max-failures': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write('usage: npm run fuzz -- [--count N] [--seed S] [--only INDEX] [--cli-every K] [--max-huge CHARS] [--max-depth LEVELS] [--max-yaml-depth LEVELS] [--max-failures N]\n');
    return 0;
  }
  const num = (v: string | undefined, env: string | undefined, dflt: number): number => {
    const raw = v ?? env;
    if (raw === undefined || raw === '') {
      return dflt;
    }
    const n = Number(raw);
    if (!Number.isInteger(n) || n < 0) {
      throw new Error(`expected a whole number, got ${JSON.stringify(raw)}`);
    }
    return n;
  };
  const options = {
    count: num(values.count, process.env.FUZZ_COUNT, 100_000),
    seed: num(values.seed, process.env.FUZZ_SEED, 1),
    only: values.only === undefined ? undefined : num(values.only, undefined, 0),
    cliEvery: num(values['cli-every'], process.env.FUZZ_CLI_EVERY, 500),
    maxHuge: num(values['max-huge'], undefined, 200_000),
    maxDepth: num(values['max-depth'], undefined, 20_000),
    maxYamlDepth: num(values['max-yaml-depth'], undefined, 1000),
    maxFailures: num(values['max-failures'], undefined, 50),
  };
  process.stderr.write(`fuzz: seed ${options.seed}, ${options.only !== undefined ? `mutant ${options.only} only` : `${options.count} mutants`}\n`);
  const report = await runFuzz(options, (done, r) => {
    process.stderr.write(`  ${done}/${options.count}: ${r.parsed} parsed, ${r.refused} refused, ${r.failures.length} failures (${((Date.now() - start) / 1000).toFixed(0)} s)\n`);
  });
  process.stdout.write(`${summarize(report)}\n`);
  return report.failures.length > 0 ? 1 : 0;
}

const start = Date.now();
main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`fuzz: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 2;
  },
);
