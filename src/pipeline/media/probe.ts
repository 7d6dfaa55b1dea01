import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import type { VideoInfo } from '../domain';
import { PipelineError, throwIfAborted } from '../errors';
import { ffprobe, FfmpegRunError, newCommand, runCommand, type FfmpegTools } from './ffmpeg';

/**
 * Probing a video source: a file ffmpeg can read, or a folder of frames.
 *
 * Frame folders: a folder holding `*.jpg`/`*.jpeg` or `*.png` files is one video, frames in natural
 * name order (`2.jpg` before `10.jpg`); a folder with no images but a `JPEGImages` subfolder (a
 * DAVIS or YouTube-VOS sequence folder next to its `Annotations`) uses that subfolder. Point at one
 * sequence (`.../JPEGImages/480p/car-shadow`, `.../train/JPEGImages/<video id>`), not a dataset root.
 */

export interface ProbeResult {
  /** Display size (rotation and sample aspect ratio applied), before any downscaling. */
  info: VideoInfo;
  codec: string | null;
  /** How `info.frameCount` was found. */
  frameCountFrom: 'container' | 'counted' | 'files';
  /** Frame folder: the frame files in order. */
  frameFiles?: string[];
  /** Coded size of the stream, before rotation and aspect correction. */
  codedWidth: number;
  codedHeight: number;
}

export interface ProbeOptions {
  signal?: AbortSignal;
  /** Frame rate to assume for a folder of frames (default 24). */
  frameFolderFps?: number;
  /** YAML field the source came from, for errors (default `source`). */
  field?: string;
}

const IMAGE_EXT = /\.(jpe?g|png)$/i;

function invalid(message: string, file: string, field: string): PipelineError {
  return new PipelineError(message, { stage: 'video', kind: 'invalid-input', field, file });
}

/** Natural order: digit runs compare by value, so `frame2` < `frame10`. */
export function naturalCompare(a: string, b: string): number {
  return a.localeCompare(b, 'en', { numeric: true, sensitivity: 'base' }) || (a < b ? -1 : a > b ? 1 : 0);
}

/** Finds the frame files of a frame folder (see module comment); throws naming the folder. */
export async function findFrameFiles(dir: string, field = 'source'): Promise<{ dir: string; files: string[] }> {
  const list = async (d: string): Promise<{ images: string[]; subdirs: string[] }> => {
    const entries = await readdir(d, { withFileTypes: true });
    return {
      images: entries.filter((e) => e.isFile() && IMAGE_EXT.test(e.name) && !e.name.startsWith('.')).map((e) => e.name),
      subdirs: entries.filter((e) => e.isDirectory()).map((e) => e.name),
    };
  };
  let where = dir;
  let { images, subdirs } = await list(dir);
  if (images.length === 0 && subdirs.includes('JPEGImages')) {
    where = path.join(dir, 'JPEGImages');
    ({ images, subdirs } = await list(where));
  }
  if (images.length === 0) {
    const hint = subdirs.length > 0 ? ` It holds folders (${subdirs.slice(0, 5).join(', ')}${subdirs.length > 5 ? ', ...' : ''}): point "source" at one sequence folder.` : '';
    throw invalid(
      `No frames in ${where}: a frame folder must hold *.jpg or *.png files, or a JPEGImages subfolder holding them (DAVIS / YouTube-VOS sequence layout).${hint}`,
      where,
      field,
    );
  }
  const kinds = new Set(images.map((n) => (/\.png$/i.test(n) ? 'png' : 'jpg')));
  if (kinds.size > 1) {
    throw invalid(`The frame folder ${where} mixes .jpg and .png files; keep one kind of frame image in it.`, where, field);
  }
  images.sort(naturalCompare);
  return { dir: where, files: images.map((n) => path.join(where, n)) };
}

/** The numbers in a frame folder's file names (see {@link frameNumbers}). */
export interface FrameNumbers {
  /** The number of each name (its last run of digits), in the order given. */
  numbers: number[];
  /** Steps between consecutive numbers and how often each occurs, most common first (ties: smaller step first). */
  steps: Array<{ step: number; count: number }>;
  /**
   * Source-video frames between two files: the most common step (`00000, 00005, ...` -> 5), so a few
   * missing frames do not change it; 1 when that step is not positive.
   */
  stride: number;
}

/**
 * Reads the frame numbers of a frame folder's files: the last run of digits of each name
 * (`00005.jpg`, `frame_00005.jpg` and `img5_v2.png` ... -> 5, 5, 2). Undefined when a name has no
 * number or there are fewer than two files. The one parser behind {@link folderStride} (sampling)
 * and {@link numberingGaps} (the warning), so both read a folder the same way.
 *
 * @example
 * frameNumbers(['frame_00000.jpg', 'frame_00005.jpg', 'frame_00010.jpg'])?.stride // 5
 * frameNumbers(['00000.jpg', '00005.jpg', '00010.jpg', '00012.jpg', '00017.jpg'])?.stride // 5
 */
export function frameNumbers(files: readonly string[]): FrameNumbers | undefined {
  const numbers: number[] = [];
  for (const f of files) {
    const m = /(\d+)\D*$/.exec(path.basename(f));
    if (!m) {
      return undefined;
    }
    numbers.push(Number(m[1]));
  }
  if (numbers.length < 2) {
    return undefined;
  }
  const counts = new Map<number, number>();
  for (let i = 1; i < numbers.length; i++) {
    const d = numbers[i] - numbers[i - 1];
    counts.set(d, (counts.get(d) ?? 0) + 1);
  }
  const steps = [...counts].map(([step, count]) => ({ step, count })).sort((a, b) => b.count - a.count || a.step - b.step);
  return { numbers, steps, stride: Math.max(1, steps[0].step) };
}

/**
 * The stride of a frame folder: source-video frames between two files, the most common step of
 * their numbers ({@link frameNumbers}); 1 when the names carry no numbers or there is one file.
 *
 * @example
 * folderStride(['00000.jpg', '00005.jpg', '00015.jpg', '00020.jpg']) // 5
 * folderStride(['a.jpg', 'b.jpg']) // 1
 */
export function folderStride(files: readonly string[]): number {
  return frameNumbers(files)?.stride ?? 1;
}

/** Where the numbering of a frame folder's files is uneven (the folder is still used, in name order). */
export interface NumberingGaps {
  /** Steps between consecutive numbers and how often each occurs, most common first. */
  steps: Array<{ step: number; count: number }>;
  /** The first few places where the step differs from the stride (the most common one): `[previous name, name]`. */
  examples: Array<[string, string]>;
  /** Number of such places. */
  count: number;
}

/**
 * Checks the numbers in frame file names ({@link frameNumbers}): undefined when they go up by one
 * fixed step (`00000, 00001, ...` or YouTube-VOS's `00000, 00005, ...`), when a name has no number or
 * there are fewer than three files; otherwise where the step differs from the folder's stride.
 */
export function numberingGaps(files: readonly string[]): NumberingGaps | undefined {
  const fn = files.length >= 3 ? frameNumbers(files) : undefined;
  if (!fn || fn.steps.length === 1) {
    return undefined;
  }
  const { numbers, steps } = fn;
  const usual = steps[0].step;
  const examples: Array<[string, string]> = [];
  let count = 0;
  for (let i = 1; i < numbers.length; i++) {
    if (numbers[i] - numbers[i - 1] !== usual) {
      count++;
      if (examples.length < 3) {
        examples.push([path.basename(files[i - 1]), path.basename(files[i])]);
      }
    }
  }
  return { steps, examples, count };
}

function parseRate(rate: string | number | undefined): number {
  if (rate === undefined) {
    return 0;
  }
  const m = /^(\d+(?:\.\d+)?)(?:\/(\d+(?:\.\d+)?))?$/.exec(String(rate).trim());
  if (!m) {
    return 0;
  }
  const den = m[2] === undefined ? 1 : Number(m[2]);
  return den > 0 ? Number(m[1]) / den : 0;
}

function num(v: unknown): number | undefined {
  const n = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN;
  return Number.isFinite(n) ? n : undefined;
}

/** Clockwise display rotation in degrees (0/90/180/270) from ffprobe's stream data. */
function rotationOf(stream: Record<string, unknown>): number {
  // The display matrix side data (`side_data_list` in ffprobe's JSON; flattened into the stream in
  // its default output): `rotation` is counter-clockwise.
  const sideData = Array.isArray(stream.side_data_list) ? (stream.side_data_list as Array<Record<string, unknown>>) : [];
  const matrix = num(stream.rotation) ?? sideData.map((d) => num(d.rotation)).find((r) => r !== undefined);
  if (matrix !== undefined) {
    return ((Math.round(-matrix / 90) * 90) % 360 + 360) % 360;
  }
  const tags = (stream.tags ?? {}) as Record<string, unknown>;
  const tag = num(tags.rotate);
  if (tag !== undefined) {
    return ((Math.round(tag / 90) * 90) % 360 + 360) % 360;
  }
  return 0;
}

/** Whether the nominal rate and the average rate differ by more than 1 %. */
function isVariableFrameRate(rFrameRate: number, avgFrameRate: number): boolean {
  if (rFrameRate <= 0 || avgFrameRate <= 0) {
    return false;
  }
  return Math.abs(rFrameRate - avgFrameRate) / Math.max(rFrameRate, avgFrameRate) > 0.01;
}

/** Counts the video packets by demuxing once (stream copy to the null muxer); cancellable. */
async function countFrames(file: string, tools: FfmpegTools, signal?: AbortSignal): Promise<number> {
  const cmd = newCommand(file).outputOptions(['-map', '0:v:0', '-c', 'copy', '-f', 'null']).output('-');
  const stderr = await runCommand(cmd, tools, { signal });
  const all = [...stderr.matchAll(/frame=\s*(\d+)/g)];
  return all.length > 0 ? Number(all[all.length - 1][1]) : 0;
}

/**
 * Probes a video file or a frame folder. Bad input gets an `invalid-input` PipelineError naming the
 * file: missing, unreadable by ffmpeg, no video stream, or zero frames.
 */
export async function probeSource(source: string, tools: FfmpegTools | (() => FfmpegTools), options: ProbeOptions = {}): Promise<ProbeResult> {
  const field = options.field ?? 'source';
  const abs = path.resolve(source);
  let st;
  try {
    st = await stat(abs);
  } catch {
    throw invalid(`Video not found: ${abs}. Check the "${field}" path (relative paths are resolved against the notebook's folder).`, abs, field);
  }
  throwIfAborted(options.signal, 'video');
  if (st.isDirectory()) {
    return probeFrameFolder(abs, options.frameFolderFps ?? 24, field);
  }
  const t = typeof tools === 'function' ? tools() : tools;
  if (st.size === 0) {
    throw invalid(`Not a video ffmpeg can read: ${abs} (the file is empty).`, abs, field);
  }
  let data;
  try {
    data = await ffprobe(abs, t, { signal: options.signal });
  } catch (err) {
    if (err instanceof PipelineError) {
      throw err;
    }
    const detail = String((err as Error).message)
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !/^ffprobe (exited|was killed)/.test(l))
      .pop();
    throw invalid(`Not a video ffmpeg can read: ${abs}${detail ? ` (${detail})` : ''}.`, abs, field);
  }
  const streams = data.streams;
  const video = streams.find(
    (s) => s.codec_type === 'video' && Number(((s.disposition ?? {}) as Record<string, unknown>).attached_pic ?? 0) !== 1,
  );
  if (!video) {
    throw invalid(`No video stream in ${abs}: it has zero frames (${streams.map((s) => s.codec_type).join(', ') || 'no streams'}).`, abs, field);
  }
  const codedWidth = num(video.width) ?? 0;
  const codedHeight = num(video.height) ?? 0;
  if (codedWidth <= 0 || codedHeight <= 0) {
    throw invalid(`The video stream of ${abs} has no frame size; ffmpeg cannot decode it.`, abs, field);
  }
  const sarMatch = /^(\d+):(\d+)$/.exec(String(video.sample_aspect_ratio ?? ''));
  const sar = sarMatch && Number(sarMatch[1]) > 0 && Number(sarMatch[2]) > 0 ? Number(sarMatch[1]) / Number(sarMatch[2]) : 1;
  const squareWidth = Math.abs(sar - 1) > 1e-3 ? Math.max(1, Math.round(codedWidth * sar)) : codedWidth;
  const rotation = rotationOf(video);
  const swap = rotation === 90 || rotation === 270;
  const rFps = parseRate(video.r_frame_rate as string);
  const avgFps = parseRate(video.avg_frame_rate as string);
  const fps = avgFps > 0 ? avgFps : rFps;

  let frameCount = num(video.nb_frames);
  let frameCountFrom: ProbeResult['frameCountFrom'] = 'container';
  if (frameCount === undefined || frameCount <= 0) {
    try {
      frameCount = await countFrames(abs, t, options.signal);
    } catch (err) {
      if (err instanceof FfmpegRunError) {
        throw invalid(`Not a video ffmpeg can read: ${abs} (counting its frames failed).`, abs, field);
      }
      throw err;
    }
    frameCountFrom = 'counted';
  }
  if (frameCount <= 0) {
    throw invalid(`The video ${abs} has zero frames.`, abs, field);
  }
  const format = data.format;
  const durationSec = num(video.duration) ?? num(format.duration) ?? (fps > 0 ? frameCount / fps : 0);
  const audioStream = streams.find((s) => s.codec_type === 'audio');
  const audio = audioStream
    ? { sampleRate: num(audioStream.sample_rate) ?? 0, channels: num(audioStream.channels) ?? 0, codec: String(audioStream.codec_name ?? 'unknown') }
    : null;
  return {
    info: {
      source: abs,
      sourceKind: 'file',
      width: swap ? codedHeight : squareWidth,
      height: swap ? squareWidth : codedHeight,
      fps: fps > 0 ? fps : frameCount / Math.max(durationSec, 1e-9),
      frameCount,
      durationSec,
      rotation,
      variableFrameRate: isVariableFrameRate(rFps, avgFps),
      audio,
    },
    codec: typeof video.codec_name === 'string' ? video.codec_name : null,
    frameCountFrom,
    codedWidth,
    codedHeight,
  };
}

async function probeFrameFolder(dir: string, fps: number, field: string): Promise<ProbeResult> {
  const { dir: framesDir, files } = await findFrameFiles(dir, field);
  let meta;
  try {
    meta = await sharp(files[0]).metadata();
  } catch (err) {
    throw invalid(`Cannot read the frame image ${files[0]}: ${(err as Error).message}`, files[0], field);
  }
  if (!meta.width || !meta.height) {
    throw invalid(`The frame image ${files[0]} has no size.`, files[0], field);
  }
  return {
    info: {
      source: framesDir,
      sourceKind: 'frames',
      width: meta.width,
      height: meta.height,
      fps,
      frameCount: files.length,
      durationSec: files.length / fps,
      rotation: 0,
      variableFrameRate: false,
      audio: null,
    },
    codec: meta.format ?? null,
    frameCountFrom: 'files',
    frameFiles: files,
    codedWidth: meta.width,
    codedHeight: meta.height,
  };
}
