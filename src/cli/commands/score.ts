import path from 'node:path';
import { Option, type Command } from 'commander';
import { DATASET_KINDS, parseShard, readDataset, type DatasetKind } from '../../pipeline/eval/datasets';
import { SCORE_FILE_VERSION, formatSummary, mergeScoreFiles, type ScoreFile } from '../../pipeline/eval/report';
import { scoreDataset } from '../../pipeline/eval/score';
import { interruptSignal, progressBar, reportFailure, writeJson } from './eval';

interface ScoreOptions { dataset: DatasetKind; root: string; pred: string; split?: string; shard?: string; out: string; quiet?: boolean; records?: boolean }

/** `alref score`: scores existing predictions against a dataset's ground truth. */
export function registerScoreCommand(program: Command): void {
  program
    .command('score')
    .description('Score existing predictions against a dataset split: prints the summary table and writes a JSON report.')
    .addOption(new Option('--dataset <kind>', 'dataset kind').choices([...DATASET_KINDS]).makeOptionMandatory())
    .requiredOption('--root <dir>', 'dataset folder')
    .requiredOption('--pred <dir>', 'predictions folder (<video>/<expression id>/<frame>.png for RVOS, <video>/<frame>.png for AVS)')
    .option('--split <split>', 'split (default per dataset)')
    .option('--shard <i/n>', 'score only shard i of n (merge the shard files with `alref merge`)')
    .option('--out <file>', 'JSON report path', 'score.json')
    .option('--quiet', 'no progress bar')
    .action(async (opts: ScoreOptions) => {
      const interrupt = interruptSignal();
      try {
        const shard = parseShard(opts.shard);
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
        const out = path.resolve(opts.out);
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
