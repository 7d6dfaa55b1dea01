import path from 'node:path';
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import type { Command } from 'commander';
import { PipelineError } from '../../pipeline/errors';
import { encodeBinaryPng } from '../../pipeline/masks/labelPng';
import { pipelineCells, runPipeline, unionMasks } from '../../batch/runner';
import { writeFolderAtomic } from '../../pipeline/benchmarks/writers';
import { decodeRle } from '../../pipeline/masks/rle';
import type { RleMask } from '../../pipeline/domain';
import { readFile } from 'node:fs/promises';
import { interruptSignal } from '../signals';
import { cliRunnerHost, parseStageOverride, reportFailure, writeJson } from './eval';
import type { StageOverrides } from '../../batch/runner';
import { Option } from 'commander';

interface RunOptions { expression?: string; audio?: boolean | string; out: string; preset?: string; quiet?: boolean; stage?: StageOverrides; set?: string[]; mode?: 'live' | 'record' | 'replay' }

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/** `alref run`: the pipeline on one video, writing masks and a report. */
export function registerRunCommand(program: Command): void {
  program
    .command('run')
    .description('Run the pipeline on one video (file or folder of frames) with a language expression or with its audio; writes masks and a report.')
    .argument('<video>', 'video file or folder of frames')
    .option('--expression <text>', 'the referring expression (RVOS)')
    .option('--audio [file]', 'use the audio branch (AVS); optionally a separate audio file')
    .option('--preset <preset>', 'video-stage dataset preset (ref-youtube-vos, ref-davis17, mevis, avsbench-s4, ...)')
    .option('--out <dir>', 'output folder (masks/, objects/, report.json, run/)', 'alref-run')
    .option('--stage <stage.field=value>', 'extra stage-cell field, repeatable (e.g. pivot-frame.strategy=middle)', parseStageOverride)
    .addOption(new Option('--mode <mode>', 'LLM mode: live, record (store exchanges), replay (only stored ones)').choices(['live', 'record', 'replay']))
    .option('--set <key=value>', 'override a setting by its field path (repeatable)', collect, [])
    .option('--quiet', 'no stage progress lines')
    .action(async (video: string, opts: RunOptions) => {
      const interrupt = interruptSignal();
      try {
        if (Boolean(opts.expression) === Boolean(opts.audio)) {
          throw new PipelineError('Give exactly one of --expression "<text>" or --audio.', { stage: 'reference', kind: 'invalid-input', field: 'expression' });
        }
        const source = path.resolve(video);
        if (!existsSync(source)) {
          throw new PipelineError(`${source} does not exist.`, { stage: 'video', kind: 'invalid-input', field: 'source', file: source });
        }
        const out = path.resolve(opts.out);
        await mkdir(out, { recursive: true });
        const input = {
          source, expression: opts.expression, mode: (opts.audio ? 'avs' : 'rvos') as 'avs' | 'rvos', preset: opts.preset,
          audioPath: typeof opts.audio === 'string' ? path.resolve(opts.audio) : undefined, overrides: opts.stage,
        };
        const t0 = Date.now();
        let lastStage = '';
        const result = await runPipeline(input, cliRunnerHost(opts), path.join(out, 'run'), interrupt.signal, (e, stage) => {
          if (opts.quiet) {
            return;
          }
          if (stage !== lastStage) {
            process.stderr.write(`[${stage}]\n`);
            lastStage = stage;
          }
          if (e.type === 'progress') {
            process.stderr.write(`  ${e.label ?? stage} ${e.done}/${e.total}\r`);
          } else if (e.type === 'warning') {
            process.stderr.write(`  warning: ${e.message}\n`);
          }
        });
        const { masks } = result;
        const union = await unionMasks(masks);
        const name = (t: number): string => `${String(t).padStart(5, '0')}.png`;
        await writeFolderAtomic(path.join(out, 'masks'), union.map((m, t) => ({ name: name(t), bytes: encodeBinaryPng(m, masks.width, masks.height) })));
        for (const obj of masks.objects) {
          const list = JSON.parse(await readFile(obj.masksFile, 'utf8')) as Array<RleMask | null>;
          await writeFolderAtomic(path.join(out, 'objects', String(obj.objectId)), list.map((rle, t) => ({
            name: name(t), bytes: encodeBinaryPng(rle ? decodeRle(rle) : new Uint8Array(masks.width * masks.height), masks.width, masks.height),
          })));
        }
        await writeJson(path.join(out, 'report.json'), {
          video: source, expression: opts.expression ?? null, audio: Boolean(opts.audio),
          width: masks.width, height: masks.height, frames: masks.frameCount,
          objects: masks.objects.map((o) => ({ objectId: o.objectId, text: o.text, pivotFrames: o.pivotFrames })),
          cells: pipelineCells(input).map((c) => c.source),
          timings: result.timings, seconds: (Date.now() - t0) / 1000, warnings: result.warnings, experiment: result.record,
          createdAt: new Date().toISOString(),
        });
        process.stdout.write(`${masks.frameCount} mask(s) in ${path.join(out, 'masks')}; report ${path.join(out, 'report.json')}\n`);
      } catch (err) {
        reportFailure(err);
      } finally {
        interrupt.dispose();
      }
    });
}
