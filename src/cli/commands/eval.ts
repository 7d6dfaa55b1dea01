import path from 'node:path';
import { mkdir, readFile } from 'node:fs/promises';
import { InvalidArgumentError, Option, type Command } from 'commander';
import cliProgress from 'cli-progress';
import { PipelineError, isCancellation } from '../../pipeline/errors';
import { makeRunnerHost } from '../../batch/cliHost';
import { cliServiceEnv, packageRoot, packageVersion, stderrLogger } from '../env';
import { cliSettings } from './notebook';
import { DATASET_EXAMPLES, DATASET_KINDS, datasetLayout, datasetVideos, parseShardCount, readDataset, resolveDatasetKind, resolveShard, shardVideos, type DatasetKind } from '../../pipeline/benchmarks/datasets';
import { SCORE_FILE_VERSION, distinctRecords, formatSummary, mergeScoreFiles, type ScoreFile } from '../../pipeline/benchmarks/report';
import { readItemStatuses, runDataset, type StageOverrides } from '../../batch/runner';
import { scoreDataset } from '../../pipeline/benchmarks/score';
import { writeSubmissionZip } from '../../pipeline/benchmarks/writers';
import { writeFileAtomic } from '../../pipeline/run/runFolder';
import { interruptSignal } from '../signals';

/** Stop-signal handling shared by every command (SIGINT, SIGTERM, SIGHUP; see ../signals). */

/** Prints an error the way every alref command does and sets a failing exit code. */
export function reportFailure(err: unknown): void {
  if (isCancellation(err)) {
    process.stderr.write('Cancelled.\n');
    process.exitCode = 130;
    return;
  }
  const msg = err instanceof PipelineError
    ? `${err.message}${err.file && !err.message.includes(err.file) ? ` (${err.file})` : ''}`
    : err instanceof Error ? err.message : String(err);
  process.stderr.write(`error: ${msg}\n`);
  process.exitCode = process.exitCode && process.exitCode !== 0 ? process.exitCode : 1;
}

/** A progress bar with ETA on stderr (a plain line per update when stderr is not a terminal). */
export function progressBar(label: string): cliProgress.SingleBar {
  return new cliProgress.SingleBar({
    format: `${label} |{bar}| {value}/{total} | {percentage}% | elapsed {duration_formatted} | ETA {eta_formatted} | {unit}`,
    stream: process.stderr,
    hideCursor: true,
    noTTYOutput: true,
    notTTYSchedule: 10_000,
    etaBuffer: 20,
  }, cliProgress.Presets.shades_classic);
}

/** Writes pretty JSON atomically. */
export async function writeJson(file: string, data: unknown): Promise<void> {
  await writeFileAtomic(file, `${JSON.stringify(data, null, 2)}\n`);
}

/** `--stage stage.field=value` -> overrides (values parsed as JSON when they parse, else strings). */
export function parseStageOverride(value: string, previous: StageOverrides = {}): StageOverrides {
  const m = /^([a-z-]+)\.([A-Za-z0-9_]+)=(.*)$/.exec(value);
  if (!m) {
    throw new PipelineError(`--stage expects stage.field=value (e.g. pivot-frame.strategy=middle), got "${value}".`, { stage: 'evaluate', kind: 'invalid-input', field: 'stage' });
  }
  let v: unknown = m[3];
  try {
    v = JSON.parse(m[3]);
  } catch {
    // a plain string
  }
  const stage = m[1] as keyof StageOverrides;
  return { ...previous, [stage]: { ...(previous[stage] ?? {}), [m[2]]: v } };
}

interface EvalOptions { dataset: DatasetKind; root: string; split?: string; shard?: string; shardCount?: string; out: string; stage?: StageOverrides; set?: string[]; mode?: 'live' | 'record' | 'replay'; score: boolean; quiet?: boolean }

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/** The runner host of a CLI run: settings from `--set` / `--mode`, services per run folder. */
export function cliRunnerHost(opts: { set?: string[]; mode?: 'live' | 'record' | 'replay'; verbose?: boolean }): ReturnType<typeof makeRunnerHost> {
  const log = stderrLogger(Boolean(opts.verbose));
  return makeRunnerHost({
    version: packageVersion(), settings: cliSettings({ set: opts.set, mode: opts.mode }), log, resourcesDir: packageRoot(),
    serviceEnv: (runDir) => ({ ...cliServiceEnv(runDir, (m) => log.info(m)), log }),
  });
}

/** The `--help` text: every dataset layout with a one-line example tree, and where eval writes. */
export function evalLayoutsHelp(): string {
  const lines = ['', 'Dataset layouts (--root), each with a one-line example tree:'];
  for (const k of DATASET_KINDS) {
    lines.push(`  ${k}: ${datasetLayout(k)}`, `      e.g. ${DATASET_EXAMPLES[k]}`);
  }
  lines.push('', 'Output (--out, shared by all shards): predictions/<video>/<expression id>/<frame>.png (AVS: predictions/<video>/<frame>.png),',
    '  items/<id>.json (finished items are skipped on a re-run), runs/<video>/, shard-<i>-of-<n>.json; `alref merge <out>` combines the shards.');
  return `${lines.join('\n')}\n`;
}

/**
 * The mandatory `--dataset <kind>` option: a dataset kind, or one of `extra` (names only that command
 * knows). An earlier spelling of a kind is read as the kind, with a deprecation warning on stderr.
 */
export function datasetOption(extra: readonly string[] = []): Option {
  const names = [...DATASET_KINDS, ...extra];
  return new Option('--dataset <kind>', `dataset kind: ${names.join(', ')}`).makeOptionMandatory().argParser((value: string) => {
    if (extra.includes(value)) {
      return value;
    }
    const resolved = resolveDatasetKind(value);
    if (!resolved) {
      throw new InvalidArgumentError(`Allowed choices are ${names.join(', ')}.`);
    }
    if (resolved.notice) {
      process.stderr.write(`warning: ${resolved.notice}\n`);
    }
    return resolved.kind;
  });
}

/** `alref eval`: the pipeline over a dataset split (or one shard of it), resumable, then its scores. */
export function registerEvalCommand(program: Command): void {
  program
    .command('eval')
    .description('Run the pipeline over a dataset split with a progress bar; resumable; --shard i/n for array jobs; scores the shard when the split has ground truth.')
    .addOption(datasetOption())
    .requiredOption('--root <dir>', 'dataset folder')
    .option('--split <split>', 'split (valid, valid_u, test, train ...; default per dataset)')
    .option('--shard <i/n|auto>', 'run shard i of n (0-based): videos k with k mod n = i in name order; "auto" reads the Slurm array or Kubernetes Indexed Job task index')
    .option('--shard-count <n>', 'with --shard auto: the number of shards (Kubernetes; default $ALREF_SHARD_COUNT)')
    .option('--out <dir>', 'output folder (predictions/, items/, runs/, shard files)', 'alref-eval')
    .option('--stage <stage.field=value>', 'extra stage-cell field for every item, repeatable (e.g. pivot-frame.strategy=middle)', parseStageOverride)
    .addOption(new Option('--mode <mode>', 'LLM mode: live, record (store exchanges), replay (only stored ones)').choices(['live', 'record', 'replay']))
    .option('--set <key=value>', 'override a setting by its field path, e.g. llm.models.pivotFrame=gpt-4o (repeatable)', collect, [])
    .option('--no-score', 'only write predictions')
    .option('--quiet', 'no progress bar')
    .addHelpText('after', evalLayoutsHelp())
    .action(async (opts: EvalOptions) => {
      const interrupt = interruptSignal();
      try {
        await evalCommand(opts, interrupt.signal);
      } catch (err) {
        reportFailure(err);
      } finally {
        interrupt.dispose();
      }
    });
}

/** The shard count an earlier task of the run recorded in `<out>/sharding.json`, if any. */
async function readSharding(file: string): Promise<{ count: number; file: string } | undefined> {
  try {
    const count = Number((JSON.parse(await readFile(file, 'utf8')) as { count?: unknown }).count);
    return Number.isInteger(count) && count >= 1 ? { count, file } : undefined;
  } catch {
    return undefined;
  }
}

async function evalCommand(opts: EvalOptions, signal: AbortSignal): Promise<void> {
  const outDir = path.resolve(opts.out);
  // the shard count of a run is recorded in its output folder, so a task re-submitted alone
  // (`sbatch --array=5`) still knows it is shard 5 of n
  const shardingFile = path.join(outDir, 'sharding.json');
  const recorded = await readSharding(shardingFile);
  const { source, ...shard } = resolveShard(opts.shard, process.env, parseShardCount(opts.shardCount), recorded);
  if (source) {
    process.stderr.write(`Shard ${shard.index}/${shard.count} from ${source}.\n`);
  }
  const ds = await readDataset(opts.dataset, opts.root, opts.split);
  await mkdir(outDir, { recursive: true });
  if (shard.count > 1 && recorded?.count !== shard.count) {
    await writeJson(shardingFile, { count: shard.count });
  }
  const log = stderrLogger(false);
  const bar = opts.quiet ? undefined : progressBar(`eval ${ds.kind}/${ds.split} shard ${shard.index}/${shard.count}`);
  const run = await runDataset({
    dataset: ds, outDir, shard, signal, overrides: opts.stage, host: cliRunnerHost(opts),
    onStart: (total, done) => {
      bar?.start(total, done, { unit: done > 0 ? `${done} already finished` : '' });
    },
    onItemDone: (status, done) => {
      bar?.update(done, { unit: status.status === 'done' ? status.id : `${status.id} FAILED` });
      if (status.status === 'failed') {
        log.warn(`${status.id}: ${status.error?.message}`);
      }
    },
  }).finally(() => bar?.stop());
  process.stderr.write(`${run.done - run.skipped} item(s) run, ${run.skipped} already finished, ${run.failed} failed, of ${run.total}.\n`);
  // the output folder may be shared by every shard: only this shard's items describe this run
  const mine = shardVideos(datasetVideos(ds), shard);
  const statuses = (await readItemStatuses(outDir)).filter((s) => mine.has(s.video));
  const experiments = distinctRecords(statuses.filter((s) => s.record).map((s) => s.record!));
  const shardName = `shard-${shard.index}-of-${shard.count}.json`;
  const scoring = opts.score && ds.hasGroundTruth;
  const scored = scoring ? await scoreDataset(ds, run.predictionsDir, { shard, signal, allowNoPredictions: true }) : { records: [], warnings: [] };
  // the shard file is written for every run, so `alref merge` can combine shards (and write the
  // submission zip of a server-scored split from all shards' predictions)
  const file: ScoreFile = {
    version: SCORE_FILE_VERSION, dataset: ds.kind, root: ds.root, split: ds.split, shard, predictions: run.predictionsDir,
    records: scored.records, warnings: scored.warnings, scored: scoring,
    run: { total: run.total, done: run.done, failed: run.failed, skipped: run.skipped, experiments },
    createdAt: new Date().toISOString(),
  };
  await writeJson(path.join(outDir, shardName), file);
  if (shard.count > 1) {
    process.stderr.write(`Shard output: ${path.join(outDir, shardName)}; combine the shards with \`alref merge\`${scoring ? '' : ' --zip <file>'}.\n`);
  } else if (scoring) {
    const report = mergeScoreFiles([{ file: path.join(outDir, shardName), data: file }]);
    await writeJson(path.join(outDir, 'report.json'), report);
    process.stdout.write(`${formatSummary(report.summary, ds.split)}\n`);
    process.stderr.write(`Report: ${path.join(outDir, 'report.json')}\n`);
  } else if (ds.kind === 'ref-youtube-vos' || ds.kind === 'mevis') {
    const zip = path.join(outDir, 'submission.zip');
    const z = await writeSubmissionZip(ds, [run.predictionsDir], zip);
    z.warnings.slice(0, 5).forEach((w) => log.warn(w));
    process.stdout.write(`Submission zip with ${z.files} masks: ${zip}\n`);
  }
  if (run.failed > 0) {
    process.stderr.write(`First failure (${run.firstError?.id}): ${run.firstError?.message}\nRe-run the same command to retry the failed items.\n`);
    process.exitCode = 1;
  }
}
