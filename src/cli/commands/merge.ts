import path from 'node:path';
import type { Command } from 'commander';
import { readDataset } from '../../pipeline/benchmarks/datasets';
import { findScoreFiles, formatSummary, mergeScoreFiles, readScoreFile } from '../../pipeline/benchmarks/report';
import { writeDavisSets, writeSubmissionZip } from '../../pipeline/benchmarks/writers';
import { reportFailure, writeJson } from './eval';

interface MergeOptions { out: string; zip?: string; davisSets?: string; pred?: string[] }

/** `alref merge`: combines shard score files (and shard predictions) into the final report. */
export function registerMergeCommand(program: Command): void {
  program
    .command('merge')
    .description('Combine shard outputs of `alref eval --shard` / `alref score --shard` and compute the final metrics.')
    .argument('<inputs...>', 'shard output folders (holding shard-<i>-of-<n>.json) or score files')
    .option('--out <file>', 'merged JSON report', 'report.json')
    .option('--zip <file>', 'also write the Ref-YouTube-VOS / MeViS submission zip from the shards\' predictions')
    .option('--davis-sets <dir>', 'Ref-DAVIS17: also write the official anno_<set>/<video>/<frame>.png indexed PNGs')
    .action(async (inputs: string[], opts: MergeOptions) => {
      try {
        const files = await findScoreFiles(inputs);
        const data = await Promise.all(files.map(async (file) => ({ file, data: await readScoreFile(file) })));
        const report = mergeScoreFiles(data);
        const out = path.resolve(opts.out);
        await writeJson(out, report);
        if (report.scored) {
          process.stdout.write(`${formatSummary(report.summary, report.split)}\n`);
        } else {
          process.stdout.write(`${report.dataset} / ${report.split}: no local ground truth (scored by the benchmark server)${report.run ? `; ${report.run.done} of ${report.run.total} items have predictions` : ''}.\n`);
        }
        if (report.missingShards.length > 0) {
          process.stderr.write(`warning: shard(s) ${report.missingShards.join(', ')} of ${Math.max(...report.shards.map((s) => s.count))} are missing; the numbers cover only the shards given.\n`);
          process.exitCode = 2;
        }
        process.stderr.write(`Report: ${out} (${report.records.length} unit(s) from ${report.shards.length} file(s))\n`);
        if (opts.zip || opts.davisSets) {
          const first = data[0].data;
          const ds = await readDataset(first.dataset, first.root, first.split);
          const predDirs = [...new Set(data.map((d) => d.data.predictions))];
          if (opts.zip) {
            const z = await writeSubmissionZip(ds, predDirs, path.resolve(opts.zip));
            process.stdout.write(`Submission zip with ${z.files} masks: ${path.resolve(opts.zip)}\n`);
            z.warnings.slice(0, 5).forEach((w) => process.stderr.write(`warning: ${w}\n`));
          }
          if (opts.davisSets) {
            let total = 0;
            for (const p of predDirs) {
              total += (await writeDavisSets(ds, p, path.resolve(opts.davisSets))).files;
            }
            process.stdout.write(`DAVIS annotator-set PNGs: ${total} in ${path.resolve(opts.davisSets)}\n`);
          }
        }
      } catch (err) {
        reportFailure(err);
      }
    });
}
