import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { mkdir, writeFile } from 'node:fs/promises';
import { Option, type Command } from 'commander';
import { PipelineError } from '../../pipeline/errors';
import { DATASET_EXAMPLES, DATASET_KINDS, datasetLayout, parseShardCount, readDataset, resolveShard, type DatasetKind } from '../../pipeline/benchmarks/datasets';
import { DAVIS2017_LAYOUT, DAVIS2017_PRED_LAYOUT, davisGlobalCsv, davisPerSequenceCsv, formatDavisTables, scoreDavis2017 } from '../../pipeline/benchmarks/davis2017';
import type { DavisTask } from '../../pipeline/metrics/davisSequence';
import { SCORE_FILE_VERSION, formatSummary, mergeScoreFiles, type ScoreFile } from '../../pipeline/benchmarks/report';
import { PREDICTION_EXAMPLES, PREDICTION_LAYOUTS, scoreDataset } from '../../pipeline/benchmarks/score';
import { interruptSignal } from '../signals';
import { datasetOption, progressBar, reportFailure, writeJson } from './eval';

/** `--dataset` of `alref score`: every eval kind plus plain DAVIS 2017 (score only). */
type ScoreKind = DatasetKind | 'davis2017';

interface ScoreOptions {
  dataset: ScoreKind; root: string; pred: string; split?: string; shard?: string; shardCount?: string; out?: string; quiet?: boolean;
  task?: DavisTask; csvDir?: string;
}

/** The `--help` text listing every dataset layout and prediction layout with a one-line example tree. */
export function scoreLayoutsHelp(): string {
  const lines = ['', 'Layouts (--root: the dataset folder; --pred: the predictions), each with a one-line example tree:'];
  for (const k of DATASET_KINDS) {
    lines.push(`  ${k}`, `    root: ${datasetLayout(k)}`, `          e.g. ${DATASET_EXAMPLES[k]}`);
    lines.push(`    pred: ${PREDICTION_LAYOUTS[k].join('; or ')}`, `          e.g. ${PREDICTION_EXAMPLES[k]}`);
  }
  lines.push('  davis2017 (--task semi-supervised|unsupervised; score only)', `    root: ${DAVIS2017_LAYOUT}`,
    '          e.g. DAVIS/{ImageSets/2017/val.txt, Annotations/480p/bike-packing/00000.png, JPEGImages/480p/bike-packing/00000.jpg}',
    `    pred: ${DAVIS2017_PRED_LAYOUT}`, '          e.g. results/bike-packing/00000.png',
    '    writes global_results-<split>.csv and per-sequence_results-<split>.csv into --csv-dir (default: the --pred folder, as the toolkit does)');
  return `${lines.join('\n')}\n`;
}

/** `alref score`: scores existing predictions against a dataset's ground truth. */
export function registerScoreCommand(program: Command): void {
  program
    .command('score')
    .description('Score existing predictions against a dataset split: prints the summary table and writes a JSON report.')
    .addOption(datasetOption(['davis2017']))
    .requiredOption('--root <dir>', 'dataset folder')
    .requiredOption('--pred <dir>', 'predictions folder (layouts below)')
    .option('--split <split>', 'split (default per dataset; davis2017: val)')
    .addOption(new Option('--task <task>', 'davis2017 only: the DAVIS task (default semi-supervised)').choices(['semi-supervised', 'unsupervised']))
    .option('--csv-dir <dir>', 'davis2017 only: folder for the toolkit\'s CSV files (default: the --pred folder)')
    .option('--shard <i/n|auto>', 'score only shard i of n, or the scheduler task\'s shard with "auto" (merge the shard files with `alref merge`)')
    .option('--shard-count <n>', 'with --shard auto: the number of shards (Kubernetes; default $ALREF_SHARD_COUNT)')
    .option('--out <file|dir>', 'JSON report path; a folder gets shard-<i>-of-<n>.json (sharded) or score.json (default: score.json, or shard-<i>-of-<n>.json when sharded, so shards never overwrite each other)')
    .option('--quiet', 'no progress bar')
    .addHelpText('after', scoreLayoutsHelp())
    .action(async (opts: ScoreOptions) => {
      const interrupt = interruptSignal();
      try {
        if (opts.dataset === 'davis2017') {
          await scoreDavis2017Command(opts, interrupt.signal);
          return;
        }
        if (opts.task || opts.csvDir) {
          throw new PipelineError(`--task and --csv-dir only apply to --dataset davis2017 (the ${opts.dataset} protocol is fixed).`, { stage: 'evaluate', kind: 'invalid-input', field: 'task' });
        }
        const { source: _source, ...shard } = resolveShard(opts.shard, process.env, parseShardCount(opts.shardCount));
        const ds = await readDataset(opts.dataset, opts.root, opts.split);
        const bar = opts.quiet ? undefined : progressBar(`score ${ds.kind}/${ds.split}`);
        let started = false;
        const scored = await scoreDataset(ds, path.resolve(opts.pred), {
          shard, signal: interrupt.signal,
          onProgress: (done, total, unit) => {
            if (!started) {
              bar?.start(total, 0, { unit: '' });
              started = true;
            }
            bar?.update(done, { unit });
          },
        }).finally(() => bar?.stop());
        const file: ScoreFile = {
          version: SCORE_FILE_VERSION, dataset: ds.kind, root: ds.root, split: ds.split, shard, predictions: path.resolve(opts.pred),
          records: scored.records, warnings: scored.warnings, createdAt: new Date().toISOString(),
        };
        const out = scoreOutPath(opts.out, shard);
        if (shard.count > 1) {
          await writeJson(out, file);
          process.stderr.write(`Shard ${shard.index}/${shard.count}: ${scored.records.length} unit(s) scored into ${out}; combine with \`alref merge\`.\n`);
        } else {
          const report = mergeScoreFiles([{ file: out, data: file }]);
          await writeJson(out, { ...report, shard, root: ds.root, predictions: file.predictions, run: undefined });
          process.stdout.write(`${formatSummary(report.summary, ds.split)}\n`);
          process.stderr.write(`Report: ${out}\n`);
        }
        if (scored.warnings.length > 0) {
          process.stderr.write(`${scored.warnings.length} warning(s), first: ${scored.warnings[0]}\n`);
        }
      } catch (err) {
        reportFailure(err);
      } finally {
        interrupt.dispose();
      }
    });
}

/**
 * Where `alref score` writes: `--out` as given; inside it when it is a folder; by default `score.json`,
 * or `shard-<i>-of-<n>.json` for a shard, so the tasks of an array sharing a folder never overwrite
 * each other's file (and `alref merge <folder>` finds them all).
 */
function scoreOutPath(out: string | undefined, shard: { index: number; count: number }): string {
  const name = shard.count > 1 ? `shard-${shard.index}-of-${shard.count}.json` : 'score.json';
  if (out === undefined) {
    return path.resolve(name);
  }
  const isDir = out.endsWith('/') || out.endsWith(path.sep) || (existsSync(out) && statSync(out).isDirectory());
  return isDir ? path.resolve(out, name) : path.resolve(out);
}

/** `alref score --dataset davis2017`: the official DAVIS 2017 tables and CSV files. */
async function scoreDavis2017Command(opts: ScoreOptions, signal: AbortSignal): Promise<void> {
  if (opts.shard !== undefined || opts.shardCount !== undefined) {
    throw new PipelineError('--shard does not apply to --dataset davis2017 (its 30 validation sequences score in one run).', { stage: 'evaluate', kind: 'invalid-input', field: 'shard' });
  }
  const task = opts.task ?? 'semi-supervised';
  const bar = opts.quiet ? undefined : progressBar(`score davis2017/${task}`);
  let started = false;
  const r = await scoreDavis2017({
    root: opts.root, predDir: opts.pred, task, split: opts.split, signal,
    onProgress: (done, total, seq) => {
      if (!started) {
        bar?.start(total, 0, { unit: '' });
        started = true;
      }
      bar?.update(done, { unit: seq });
    },
  }).finally(() => bar?.stop());
  const csvDir = path.resolve(opts.csvDir ?? opts.pred);
  await mkdir(csvDir, { recursive: true });
  const globalCsv = path.join(csvDir, `global_results-${r.split}.csv`);
  const perSeqCsv = path.join(csvDir, `per-sequence_results-${r.split}.csv`);
  await writeFile(globalCsv, davisGlobalCsv(r.summary));
  await writeFile(perSeqCsv, davisPerSequenceCsv(r.sequences));
  const out = scoreOutPath(opts.out, { index: 0, count: 1 });
  await writeJson(out, {
    version: SCORE_FILE_VERSION, dataset: 'davis2017', task, root: r.root, split: r.split, predictions: r.predictions,
    summary: r.summary,
    objects: r.sequences.flatMap((s) => s.objects.map((o) => ({ name: o.name, sequence: s.sequence, gtObjectId: o.gtObjectId, predObjectId: o.predObjectId, j: o.j, f: o.f, perFrameJ: o.perFrameJ, perFrameF: o.perFrameF }))),
    warnings: r.warnings, createdAt: new Date().toISOString(),
  });
  process.stdout.write(`${formatDavisTables(r)}\n`);
  process.stderr.write(`Global results saved in ${globalCsv}\nPer-sequence results saved in ${perSeqCsv}\nReport: ${out}\n`);
  if (r.warnings.length > 0) {
    process.stderr.write(`${r.warnings.length} warning(s), first: ${r.warnings[0]}\n`);
  }
}
