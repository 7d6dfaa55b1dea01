import { copyFile, mkdir, open, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { framePath } from '../domain';
import { PipelineError, throwIfAborted } from '../errors';
import type { ProgressEvent } from '../events';
import { hashJson } from '../run/hash';
import { writeFileAtomic } from '../run/runFolder';
import { ffmpegSeconds, FfmpegRunError, newCommand, runCommand, supportsFpsMode, type FfmpegTools } from './ffmpeg';
import type { ProbeResult } from './probe';
import { pump } from './pump';

/**
 * Decoding every frame of a video into a cached folder of JPEGs (`00000.jpg`, ... see
 * {@link framePath}) at display size, streaming: ffmpeg writes frames to disk one by one and nothing
 * holds the whole video in memory.
 *
 * The cache folder is `<runDir>/frames/<key>/`, where the key hashes the source's content hash and
 * every option that changes the pixels; a finished folder holds `frames.json`
 * ({@link FrameManifest}) and is reused as is. Work happens in a temporary sibling folder that is
 * renamed into place at the end, so a cancelled or failed decode leaves nothing half-written.
 *
 * Variable frame rate: one output frame per decoded frame (`-vsync passthrough` / `-fps_mode
 * passthrough`), never duplicated or dropped to a constant rate; each frame's time comes from its
 * presentation timestamp (ffmpeg's `showinfo`), relative to the start of the file.
 */

/** Version of the decode recipe; bump when the output pixels change for the same options. */
const RECIPE = 1;
/** ffmpeg's MJPEG quantiser (2 best .. 31 worst); 3 is close to JPEG quality 90. */
const FFMPEG_JPEG_Q = 3;
/** JPEG quality when frames are re-encoded with sharp (frame folders with PNG or resized frames). */
const SHARP_JPEG_QUALITY = 92;

const MANIFEST_NAME = 'frames.json';

/** What a finished frame folder holds; written last. */
export interface FrameManifest {
  version: 1;
  sourceHash: string;
  frameCount: number;
  width: number;
  height: number;
  /** Presentation time of each frame in seconds from the start of the file. */
  times: number[];
  /** Frame folders: the source file name of each frame (for submissions named like the dataset). */
  names: string[] | null;
  /** `ffmpeg` (file) or `copy` (frame folder). */
  decoder: 'ffmpeg' | 'copy';
}

/** Size frames are decoded at: display size, downscaled so the long side is at most `maxSide`. */
export function decodeSize(width: number, height: number, maxSide: number): { width: number; height: number; scaled: boolean } {
  const long = Math.max(width, height);
  if (long <= maxSide) {
    return { width, height, scaled: false };
  }
  const s = maxSide / long;
  return { width: Math.max(1, Math.round(width * s)), height: Math.max(1, Math.round(height * s)), scaled: true };
}

export interface DecodeOptions {
  runDir: string;
  sourceHash: string;
  /** Long-side bound in pixels (see {@link decodeSize}). */
  maxSide: number;
  signal?: AbortSignal;
  /** Called with the ffmpeg process id once it runs. */
  onSpawn?: (pid: number) => void;
  /** Decode from this time in seconds (frame folders: frame `ceil(startSec*fps)`). */
  startSec?: number;
  /** Stop before this time in seconds. */
  endSec?: number;
  /** Decode at most this many frames. */
  maxFrames?: number;
  /** How a file is named in error messages (the video stage: relative to the notebook). Default: as is. */
  shownPath?: (file: string) => string;
}

export interface DecodeResult {
  framesDir: string;
  manifest: FrameManifest;
  /** True when an earlier run's frames were reused. */
  reused: boolean;
}

/** Reads and checks the manifest of a frame folder; undefined when there is none or it is incomplete. */
async function readFrameManifest(framesDir: string): Promise<FrameManifest | undefined> {
  let m: FrameManifest;
  try {
    m = JSON.parse(await readFile(path.join(framesDir, MANIFEST_NAME), 'utf8')) as FrameManifest;
  } catch {
    return undefined;
  }
  if (m.version !== 1 || !Number.isInteger(m.frameCount) || m.frameCount < 1 || m.times?.length !== m.frameCount) {
    return undefined;
  }
  try {
    await stat(framePath(framesDir, m.frameCount - 1));
  } catch {
    return undefined;
  }
  return m;
}

/** The cache folder for a source and options. */
function frameCacheDir(runDir: string, key: string): string {
  return path.join(runDir, 'frames', key);
}

/** Escapes `%` for ffmpeg's image2 file pattern. */
function image2Pattern(dir: string): string {
  return path.join(dir.replace(/%/g, '%%'), '%05d.jpg');
}

/** ffmpeg's periodic stats line: `frame=  123 fps=...`. */
const STATS = /^frame=\s*(\d+)/;
const SHOWINFO = /n:\s*(\d+)\s+pts:\s*(-?\d+)\s+pts_time:\s*(-?[\d.eE+-]+)/;

/**
 * Decodes (or reuses) all frames of a probed source. Yields progress (`done`/`total` frames);
 * returns the frame folder and its manifest. Cancel via `signal`: ffmpeg is killed and a
 * `cancelled` PipelineError thrown once it has exited.
 */
export async function* decodeFrames(probe: ProbeResult, tools: FfmpegTools | (() => FfmpegTools), options: DecodeOptions): AsyncGenerator<ProgressEvent, DecodeResult, void> {
  const { info } = probe;
  const target = decodeSize(info.width, info.height, options.maxSide);
  const key = hashJson({
    recipe: RECIPE,
    source: options.sourceHash,
    width: target.width,
    height: target.height,
    fps: info.sourceKind === 'frames' ? info.fps : undefined,
    startSec: options.startSec || undefined,
    endSec: options.endSec,
    maxFrames: options.maxFrames,
  }).slice(0, 24);
  const finalDir = frameCacheDir(options.runDir, key);
  const existing = await readFrameManifest(finalDir);
  if (existing) {
    yield { type: 'progress', done: existing.frameCount, total: existing.frameCount, label: 'frames (cached)' };
    return { framesDir: finalDir, manifest: existing, reused: true };
  }
  throwIfAborted(options.signal, 'video');
  await mkdir(path.dirname(finalDir), { recursive: true });
  await removeStaleTemp(path.dirname(finalDir), key);
  const tmp = `${finalDir}.tmp-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  await mkdir(tmp, { recursive: true });
  let kept = false;
  try {
    const manifest =
      info.sourceKind === 'frames'
        ? yield* copyFrames(probe, target, tmp, options)
        : yield* ffmpegFrames(probe, typeof tools === 'function' ? tools() : tools, target, tmp, options);
    await writeFileAtomic(path.join(tmp, MANIFEST_NAME), JSON.stringify(manifest));
    try {
      await rename(tmp, finalDir);
    } catch (err) {
      // Another run finished the same folder first: use it.
      const other = await readFrameManifest(finalDir);
      if (!other) {
        throw err;
      }
      return { framesDir: finalDir, manifest: other, reused: true };
    }
    kept = true;
    return { framesDir: finalDir, manifest, reused: false };
  } finally {
    // Failed, cancelled, abandoned by the consumer, or lost a race: nothing half-written stays.
    if (!kept) {
      await rm(tmp, { recursive: true, force: true });
    }
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Removes temporary folders of this key left by a process that died mid-decode. */
async function removeStaleTemp(parent: string, key: string): Promise<void> {
  const prefix = `${key}.tmp-`;
  for (const name of await readdir(parent)) {
    if (name.startsWith(prefix)) {
      const pid = Number(name.slice(prefix.length).split('-')[0]);
      if (Number.isInteger(pid) && pid !== process.pid && !processAlive(pid)) {
        await rm(path.join(parent, name), { recursive: true, force: true });
      }
    }
  }
}

/** Expected number of frames after trimming, for progress totals. */
function expectedFrames(info: ProbeResult['info'], options: DecodeOptions): number {
  let n = info.frameCount;
  if (options.startSec || options.endSec !== undefined) {
    const end = Math.min(options.endSec ?? Infinity, info.durationSec || Infinity);
    const span = end - (options.startSec ?? 0);
    if (Number.isFinite(span) && info.fps > 0) {
      n = Math.max(1, Math.ceil(span * info.fps));
    }
  }
  return Math.min(n, options.maxFrames ?? Infinity);
}

async function* ffmpegFrames(
  probe: ProbeResult,
  tools: FfmpegTools,
  target: { width: number; height: number },
  dir: string,
  options: DecodeOptions,
): AsyncGenerator<ProgressEvent, FrameManifest, void> {
  const { info } = probe;
  const total = expectedFrames(info, options);
  const start = options.startSec ?? 0;
  const filters: string[] = [];
  // What ffmpeg outputs without a scale filter: the coded size, transposed by autorotation.
  const swap = info.rotation % 180 !== 0;
  const naturalWidth = swap ? probe.codedHeight : probe.codedWidth;
  const naturalHeight = swap ? probe.codedWidth : probe.codedHeight;
  if (target.width !== naturalWidth || target.height !== naturalHeight) {
    filters.push(`scale=${target.width}:${target.height}:flags=bicubic`, 'setsar=1');
  }
  // Per-frame timestamps cost a `showinfo` filter (it also checksums every frame): only variable
  // frame rate needs them; constant-rate frames are `start + i / fps`.
  const withTimestamps = info.variableFrameRate;
  if (withTimestamps) {
    filters.push('showinfo');
  }
  const times: number[] = [];
  let last: ProgressEvent | undefined;
  const passthrough = supportsFpsMode(tools.ffmpeg) ? ['-fps_mode', 'passthrough'] : ['-vsync', 'passthrough'];
  const trim: string[] = [];
  if (options.endSec !== undefined) {
    trim.push('-t', ffmpegSeconds(options.endSec - start));
  }
  if (options.maxFrames !== undefined) {
    trim.push('-frames:v', String(options.maxFrames));
  }
  const shown = options.shownPath ?? ((f: string) => f);
  const trimField = options.endSec !== undefined ? 'endSec' : start > 0 ? 'startSec' : undefined;
  const trimText = trimField
    ? ` between ${start > 0 ? `startSec ${start} s` : 'the start'} and ${options.endSec !== undefined ? `endSec ${options.endSec} s` : 'the end'}`
    : '';
  const cmd = newCommand(info.source)
    .inputOptions(['-nostdin', ...(start > 0 ? ['-ss', ffmpegSeconds(start)] : [])])
    .outputOptions(['-map', '0:v:0', '-an', '-sn', '-dn', ...passthrough, ...trim, '-q:v', String(FFMPEG_JPEG_Q), '-start_number', '0', '-f', 'image2'])
    .output(image2Pattern(dir));
  if (filters.length > 0) {
    cmd.videoFilters(filters.join(','));
  }
  try {
    yield* pump<ProgressEvent, string>((emit, abandoned) =>
      runCommand(cmd, tools, {
        signal: options.signal ? AbortSignal.any([options.signal, abandoned]) : abandoned,
        onSpawn: options.onSpawn,
        onStderr: (line) => {
          const m = withTimestamps ? SHOWINFO.exec(line) : null;
          if (m) {
            const n = Number(m[1]);
            times[n] = Number(m[3]);
            emit((last = { type: 'progress', done: n + 1, total: Math.max(total, n + 1), label: 'decoding frames' }));
            return;
          }
          const stats = withTimestamps ? null : STATS.exec(line);
          if (stats) {
            const done = Number(stats[1]);
            emit((last = { type: 'progress', done, total: Math.max(total, done), label: 'decoding frames' }));
          }
        },
      }),
    );
  } catch (err) {
    if (err instanceof FfmpegRunError) {
      const tail = err.stderrTail.split('\n').map((l) => l.trim()).filter((l) => l && !SHOWINFO.test(l)).slice(-3).join(' | ');
      // With a trim, the trim is the likelier cause: name its field, and say what was asked.
      throw new PipelineError(`ffmpeg could not decode ${shown(info.source)}${trimText}: ${tail || err.message}${trimField ? ` Check "startSec"/"endSec" (and the file).` : ''}`, {
        stage: 'video', kind: 'invalid-input', field: trimField ?? 'source', file: info.source, cause: err,
      });
    }
    throw err;
  }
  const written = (await readdir(dir)).filter((n) => /^\d+\.jpg$/.test(n)).length;
  if (written === 0) {
    throw new PipelineError(
      trimField
        ? `No frames of ${shown(info.source)} fall${trimText}; widen the range (the video is ${info.durationSec.toFixed(2)} s long).`
        : `The video ${shown(info.source)} decoded to zero frames.`,
      { stage: 'video', kind: 'invalid-input', field: trimField ?? 'source', file: info.source },
    );
  }
  const fps = info.fps > 0 ? info.fps : 25;
  const out: number[] = [];
  for (let i = 0; i < written; i++) {
    const t = times[i];
    out.push(start + (t !== undefined && Number.isFinite(t) ? t : i / fps));
  }
  if (last?.done !== written || last.total !== written) {
    yield { type: 'progress', done: written, total: written, label: 'decoding frames' };
  }
  return { version: 1, sourceHash: options.sourceHash, frameCount: written, width: target.width, height: target.height, times: out, names: null, decoder: 'ffmpeg' };
}

/** Whether a JPEG file ends with the end-of-image marker (FF D9), allowing a little trailing padding. */
async function endsWithJpegEoi(file: string): Promise<boolean> {
  const fh = await open(file, 'r');
  try {
    const { size } = await fh.stat();
    const n = Math.min(size, 64);
    const buf = Buffer.alloc(n);
    await fh.read(buf, 0, n, size - n);
    for (let i = n - 2; i >= 0; i--) {
      if (buf[i] === 0xff && buf[i + 1] === 0xd9) {
        return true;
      }
    }
    return false;
  } finally {
    await fh.close();
  }
}

async function* copyFrames(
  probe: ProbeResult,
  target: { width: number; height: number; scaled: boolean },
  dir: string,
  options: DecodeOptions,
): AsyncGenerator<ProgressEvent, FrameManifest, void> {
  const { info } = probe;
  const first = Math.ceil((options.startSec ?? 0) * info.fps - 1e-9);
  const end = options.endSec !== undefined ? Math.ceil(options.endSec * info.fps - 1e-9) : Infinity;
  const files = (probe.frameFiles ?? []).slice(first, Math.min(end, first + (options.maxFrames ?? Infinity)));
  if (files.length === 0) {
    throw new PipelineError(`No frames of ${info.source} fall between startSec and endSec at ${info.fps} fps.`, {
      stage: 'video', kind: 'invalid-input', field: 'startSec', file: info.source,
    });
  }
  const shownPath = options.shownPath ?? ((f: string) => f);
  const unreadable = (file: string, detail: string): PipelineError =>
    new PipelineError(`Cannot read the frame image ${shownPath(file)} (decoded frame ${files.indexOf(file)}): ${detail}. Replace or remove that file.`, {
      stage: 'video', kind: 'invalid-input', field: 'source', file,
    });
  return yield* pump<ProgressEvent, FrameManifest>(async (emit, abandoned) => {
    for (let i = 0; i < files.length; i++) {
      throwIfAborted(options.signal, 'video');
      throwIfAborted(abandoned, 'video');
      const file = files[i];
      let meta;
      try {
        meta = await sharp(file).metadata();
      } catch (err) {
        throw unreadable(file, (err as Error).message);
      }
      if (meta.width !== info.width || meta.height !== info.height) {
        throw new PipelineError(
          `Frame ${shownPath(file)} is ${meta.width}x${meta.height}, but the first frame of the folder is ${info.width}x${info.height}; all frames of a video must have one size.`,
          { stage: 'video', kind: 'invalid-input', field: 'source', file },
        );
      }
      const out = framePath(dir, i);
      if (meta.format === 'jpeg' && !target.scaled) {
        // Copied as is: a JPEG cut short (no end-of-image marker) is decoded once to confirm, so it
        // fails here naming the file rather than later in a grid.
        if (!(await endsWithJpegEoi(file))) {
          try {
            await sharp(file, { failOn: 'truncated' }).raw().toBuffer();
          } catch (err) {
            throw unreadable(file, `the JPEG data is cut short or damaged (${(err as Error).message})`);
          }
        }
        await copyFile(file, out);
      } else {
        try {
          await sharp(file, { failOn: 'truncated' }).resize(target.width, target.height, { fit: 'fill' }).jpeg({ quality: SHARP_JPEG_QUALITY }).toFile(out);
        } catch (err) {
          throw unreadable(file, `the image data is cut short or damaged (${(err as Error).message})`);
        }
      }
      emit({ type: 'progress', done: i + 1, total: files.length, label: 'copying frames' });
    }
    return {
      version: 1,
      sourceHash: options.sourceHash,
      frameCount: files.length,
      width: target.width,
      height: target.height,
      times: files.map((_, i) => (first + i) / info.fps),
      names: files.map((f) => path.basename(f)),
      decoder: 'copy',
    };
  });
}
