import { existsSync, statSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Command } from 'commander';
import sharp from 'sharp';
import { PipelineError } from '../../pipeline/errors';
import { encodeBinaryPng } from '../../pipeline/masks/labelPng';
import { encodeRle } from '../../pipeline/masks/rle';
import { newCommand, resolveFfmpeg, runCommand } from '../../pipeline/media/ffmpeg';
import { findFrameFiles } from '../../pipeline/media/probe';
import { DEFAULT_MODEL_IDS } from '../../pipeline/models/manifest';
import { SessionRuntime } from '../../pipeline/models/runtime';
import { createModelService } from '../../pipeline/models/service';
import { Sam2VideoTracker, type Sam2FrameResult, type Sam2Prompt } from '../../pipeline/models/sam2/video';
import { defaultSettings } from '../../pipeline/settings';
import { userCacheDir } from '../env';
import { interruptSignal } from '../signals';
import { reportFailure, writeJson } from './eval';

const GRAPHS = ['vision_encoder', 'mask_decoder', 'memory_encoder', 'memory_attention', 'pointer_tpos'];

interface PropagateOptions {
  video: string;
  prompt?: string[];
  start?: string;
  model?: string;
  out: string;
  fillHoles: string;
  threads?: string;
  quiet?: boolean;
}

/** `<frame>:<x0>,<y0>,<x1>,<y1>` (box in source pixels, decimals allowed) -> a prompt. */
export function parsePromptArg(text: string): Sam2Prompt {
  const m = /^\s*(\d+)\s*:\s*([-+\d.eE]+)\s*,\s*([-+\d.eE]+)\s*,\s*([-+\d.eE]+)\s*,\s*([-+\d.eE]+)\s*$/.exec(text);
  const nums = m ? m.slice(2).map(Number) : [];
  if (!m || nums.some((v) => !Number.isFinite(v))) {
    throw new PipelineError(`--prompt "${text}" is not <frame>:<x0>,<y0>,<x1>,<y1> (e.g. 12:40,30.5,200,180).`, { stage: 'propagate', kind: 'invalid-input', field: '--prompt' });
  }
  const [x0, y0, x1, y1] = nums;
  if (!(x1 > x0 && y1 > y0)) {
    throw new PipelineError(`--prompt "${text}": the box needs x1 > x0 and y1 > y0.`, { stage: 'propagate', kind: 'invalid-input', field: '--prompt' });
  }
  return { frameIndex: Number(m[1]), box: { x0, y0, x1, y1 } };
}

/**
 * The frames of `--video`: the images of a folder (its JPEGImages subfolder in the DAVIS layout; *.jpg or
 * *.png, one kind; natural order, so 2.jpg comes before 10.jpg) or the frames ffmpeg decodes from a file.
 */
async function videoFrames(video: string, scratch: string, signal: AbortSignal): Promise<{ files: string[]; names: string[] }> {
  if (!existsSync(video)) {
    throw new PipelineError(`--video ${video} does not exist.`, { stage: 'propagate', kind: 'invalid-input', field: '--video', file: video });
  }
  let dir = video;
  if (!statSync(video).isDirectory()) {
    dir = path.join(scratch, 'frames');
    await mkdir(dir, { recursive: true });
    const tools = resolveFfmpeg(defaultSettings());
    const cmd = newCommand(path.resolve(video)).outputOptions(['-vsync', '0', '-start_number', '0']).output(path.join(dir, '%05d.png'));
    await runCommand(cmd, tools, { signal });
  }
  const { files } = await findFrameFiles(dir, '--video');
  return { files, names: files.map((f) => path.basename(f).replace(/\.[^.]+$/, '')) };
}

/** `--model`: a model id (cache / ALREF_MODELS_LOCAL_DIR) or a folder holding onnx/<graph>.onnx + constants.json. */
async function modelSource(model: string | undefined, scratch: string): Promise<{ id: string; localDir?: string; manifestFile?: string }> {
  const localEnv = process.env.ALREF_MODELS_LOCAL_DIR;
  if (!model || !existsSync(model) || !statSync(model).isDirectory()) {
    return { id: model ?? DEFAULT_MODEL_IDS['sam2-video'], localDir: localEnv ? path.resolve(localEnv) : undefined };
  }
  const folder = path.resolve(model);
  const id = path.basename(folder);
  if (!/^[\w.-]+$/.test(id)) {
    throw new PipelineError(`--model ${folder}: name the folder with letters, digits, ".", "_" or "-" only (it becomes the model id).`, { stage: 'propagate', kind: 'invalid-input', field: '--model', file: folder });
  }
  const missing = [...GRAPHS.map((g) => `onnx/${g}.onnx`), 'constants.json'].filter((f) => !existsSync(path.join(folder, f)));
  if (missing.length > 0) {
    throw new PipelineError(`--model ${folder} lacks ${missing.join(', ')} (a SAM 2 folder holds onnx/<graph>.onnx for the five graphs and constants.json; tools/sam2-export writes one).`, {
      stage: 'propagate', kind: 'invalid-input', field: '--model', file: folder,
    });
  }
  const manifestFile = path.join(scratch, 'manifest.json');
  await writeFile(manifestFile, JSON.stringify({ models: [{ id, task: 'sam2-video', title: `SAM 2 export in ${folder}`, files: [...GRAPHS.map((g) => ({ key: g, path: `onnx/${g}.onnx` })), { key: 'constants', path: 'constants.json' }] }] }));
  return { id, localDir: path.dirname(folder), manifestFile };
}

/** `alref propagate`: SAM 2 video tracking of one object from box prompts, masks written as PNG + masks.json. */
export function registerPropagateCommand(program: Command): void {
  program
    .command('propagate')
    .description('Track one object with SAM 2 from box prompts (as AL-Ref-SAM 2 calls the official video predictor): per-frame PNG masks (0/255, named like the frames, at the source size) and masks.json (COCO RLE).')
    .requiredOption('--video <file|dir>', 'a video file (decoded with ffmpeg) or a folder of frames (*.jpg or *.png, or its JPEGImages subfolder; natural order: 2.jpg before 10.jpg)')
    .requiredOption('--prompt <frame:x0,y0,x1,y1>', 'a box in source pixels on a frame (0-based index); repeat for several prompted frames', (v: string, acc: string[] | undefined) => [...(acc ?? []), v])
    .option('--start <frame>', 'first frame of the forward pass, then backward from it (default: the earliest prompted frame)')
    .option('--model <id|dir>', `SAM 2 model id (default ${DEFAULT_MODEL_IDS['sam2-video']}) or a folder with onnx/<graph>.onnx + constants.json`)
    .requiredOption('--out <dir>', 'output folder')
    .option('--fill-holes <px>', 'fill background holes up to this area in low-res masks (official fill_hole_area)', '8')
    .option('--threads <n>', 'onnxruntime threads')
    .option('--quiet', 'no progress on stderr')
    .action(async (opts: PropagateOptions) => {
      const interrupt = interruptSignal();
      const scratch = await mkdtemp(path.join(os.tmpdir(), 'alref-propagate-'));
      let runtime: SessionRuntime | undefined;
      try {
        const prompts = (opts.prompt ?? []).map(parsePromptArg);
        if (prompts.length === 0) {
          throw new PipelineError('Give at least one --prompt <frame>:<x0>,<y0>,<x1>,<y1>.', { stage: 'propagate', kind: 'invalid-input', field: '--prompt' });
        }
        const fill = Number(opts.fillHoles);
        if (!Number.isInteger(fill) || fill < 0) {
          throw new PipelineError(`--fill-holes ${opts.fillHoles} must be a whole number >= 0.`, { stage: 'propagate', kind: 'invalid-input', field: '--fill-holes' });
        }
        const start = opts.start !== undefined ? Number(opts.start) : undefined;
        if (start !== undefined && !Number.isInteger(start)) {
          throw new PipelineError(`--start ${opts.start} must be a frame index.`, { stage: 'propagate', kind: 'invalid-input', field: '--start' });
        }
        const { files, names } = await videoFrames(opts.video, scratch, interrupt.signal);
        const meta = await sharp(files[0]).rotate().metadata();
        const width = meta.autoOrient?.width ?? meta.width ?? 0;
        const height = meta.autoOrient?.height ?? meta.height ?? 0;
        const src = await modelSource(opts.model, scratch);
        runtime = new SessionRuntime({ executionProvider: 'cpu', threads: opts.threads ? Number(opts.threads) : 0 });
        const settings = { ...defaultSettings().models, localDir: src.localDir ?? '', manifestFile: src.manifestFile ?? '' };
        const models = createModelService(settings, { userCacheDir: userCacheDir() }, runtime);
        const tracker = await Sam2VideoTracker.open(models, src.id);
        const out = path.resolve(opts.out);
        await mkdir(out, { recursive: true });
        const rle: Record<string, ReturnType<typeof encodeRle>> = {};
        const write = async (r: Sam2FrameResult): Promise<void> => {
          await writeFile(path.join(out, `${names[r.frameIndex]}.png`), encodeBinaryPng(r.mask, width, height));
          rle[names[r.frameIndex]] = encodeRle(r.mask, width, height);
        };
        // an unprompted start frame comes twice (forward, then again first in the backward pass, as
        // the official predictor tracks it): its later result is the final one, written once at the end
        const startFrame = start ?? Math.min(...prompts.map((p) => p.frameIndex));
        let startResult: Sam2FrameResult | undefined;
        const seen = new Set<number>();
        try {
          for await (const r of tracker.track({ numFrames: files.length, width, height, frameSource: (i) => files[i], prompts, startFrame: start, fillHoleArea: fill, signal: interrupt.signal })) {
            if (r.frameIndex === startFrame) {
              startResult = r;
            } else {
              await write(r);
            }
            seen.add(r.frameIndex);
            if (!opts.quiet) {
              process.stderr.write(`\rframe ${r.frameIndex} (${seen.size}/${files.length}) score ${r.objectScore.toFixed(3)}   `);
            }
          }
          if (startResult) {
            await write(startResult);
          }
        } finally {
          tracker.dispose();
        }
        if (!opts.quiet) {
          process.stderr.write('\n');
        }
        const capped = tracker.capped;
        const notes = capped.frames > 0
          ? [`memory_attention of "${src.id}" has a fixed memory length: on ${capped.frames} frame(s) ${capped.memories} memories and ${capped.pointers} object pointers the official predictor uses were left out (kept: the recent ones and the closest prompted frames). Export with a dynamic memory length (tools/sam2-export --memory dynamic) to keep them all.`]
          : [];
        for (const n of notes) {
          process.stderr.write(`warning: ${n}\n`);
        }
        const ordered = Object.fromEntries(names.filter((n) => rle[n]).map((n) => [n, rle[n]]));
        await writeJson(path.join(out, 'masks.json'), { model: src.id, video: path.resolve(opts.video), width, height, prompts, startFrame, fillHoleArea: fill, notes, masks: ordered });
        process.stderr.write(`${Object.keys(ordered).length} masks written to ${out}\n`);
      } catch (err) {
        reportFailure(err);
      } finally {
        await runtime?.dispose();
        await rm(scratch, { recursive: true, force: true });
        interrupt.dispose();
      }
    });
}
