import { stat } from 'node:fs/promises';
import path from 'node:path';
import { PipelineError, throwIfAborted } from '../errors';
import { type FfmpegTools, FfmpegRunError, ffmpegSeconds, ffprobe, runToBuffer } from '../media/ffmpeg';

/** Mono float PCM of a clip, at the rate a tagger needs. */
export interface AudioClip {
  /** Samples in [-1, 1] (float PCM; a decoder may slightly exceed it). */
  samples: Float32Array;
  sampleRate: number;
  durationSec: number;
  /** Absolute path of the file the audio came from. */
  source: string;
  /** Facts about the source's first audio stream. */
  sourceStream: { codec: string; sampleRate: number; channels: number; sampleFormat: string };
  /** Peak absolute sample and RMS level (linear). */
  peak: number;
  rms: number;
}

/** Options of {@link extractAudio}. */
export interface ExtractOptions {
  /** Output rate in Hz (16000 for BEATs, 32000 for EfficientAT). */
  sampleRate: number;
  /** Start offset in seconds. Default 0. */
  startSec?: number;
  /** Length in seconds. Default: to the end. */
  durationSec?: number;
  signal?: AbortSignal;
  /** Stage name for errors. Default `lbru`. */
  stage?: string;
  /** Cell field the source came from, for errors. Default `source`. */
  field?: string;
  /** Called with the ffmpeg process id once it runs (tests check that a cancelled process is gone). */
  onSpawn?: (pid: number) => void;
}

/** Level (linear peak) below which a clip counts as silent: about -80 dBFS. */
const SILENT_PEAK = 1e-4;

/** Whether a clip is silent (every sample below {@link SILENT_PEAK}). */
export function isSilent(clip: Pick<AudioClip, 'peak'>): boolean {
  return clip.peak < SILENT_PEAK;
}

function invalid(message: string, file: string, stage: string, field: string): PipelineError {
  return new PipelineError(message, { stage, kind: 'invalid-input', file, field });
}

/**
 * Decodes the first audio stream of `source` with ffmpeg into mono float32 PCM at
 * `options.sampleRate` (channels are down-mixed by ffmpeg; any sample format, 8-bit included, is
 * converted). A file without an audio stream, an unreadable file and an empty audio stream are
 * `invalid-input` errors naming the file; cancelling kills ffmpeg.
 *
 * @example
 * const tools = resolveFfmpeg(settings);
 * const clip = await extractAudio('/data/dog.mp4', tools, { sampleRate: 16000 });
 */
export async function extractAudio(source: string, tools: FfmpegTools, options: ExtractOptions): Promise<AudioClip> {
  const stage = options.stage ?? 'lbru';
  const field = options.field ?? 'source';
  const abs = path.resolve(source);
  const rate = options.sampleRate;
  if (!Number.isInteger(rate) || rate < 1000 || rate > 192000) {
    throw new PipelineError(`Audio sample rate ${rate} Hz is not supported; use a rate between 1000 and 192000 Hz.`, { stage, kind: 'invalid-input', field: 'sampleRate' });
  }
  try {
    const st = await stat(abs);
    if (!st.isFile()) {
      throw new Error('not a file');
    }
  } catch {
    throw invalid(`Audio source not found: ${abs}. Check the "${field}" path; a folder of frames has no audio, so give an audio or video file.`, abs, stage, field);
  }
  throwIfAborted(options.signal, stage);
  let streams: Array<Record<string, unknown>>;
  try {
    streams = (await ffprobe(abs, tools, { signal: options.signal, stage })).streams;
  } catch (err) {
    if (err instanceof PipelineError) {
      throw err;
    }
    throw invalid(`ffmpeg cannot read ${abs}: ${lastLine(String((err as Error).message))}.`, abs, stage, field);
  }
  const audio = streams.find((s) => s.codec_type === 'audio');
  if (!audio) {
    throw invalid(
      `${abs} has no audio track (streams: ${streams.map((s) => s.codec_type).join(', ') || 'none'}). An audio-referenced (AVS) cell needs a video with sound; use a clip with an audio track, or give one with the cell's "audio" field.`,
      abs, stage, field,
    );
  }
  const sourceStream = {
    codec: String(audio.codec_name ?? 'unknown'),
    sampleRate: Number(audio.sample_rate ?? 0),
    channels: Number(audio.channels ?? 0),
    sampleFormat: String(audio.sample_fmt ?? 'unknown'),
  };

  const args = ['-nostdin', '-hide_banner', '-v', 'error'];
  if (options.startSec !== undefined && options.startSec > 0) {
    args.push('-ss', ffmpegSeconds(options.startSec));
  }
  args.push('-i', abs);
  if (options.durationSec !== undefined) {
    args.push('-t', ffmpegSeconds(options.durationSec));
  }
  args.push('-map', '0:a:0', '-vn', '-sn', '-dn', '-ac', '1', '-ar', String(rate), '-c:a', 'pcm_f32le', '-f', 'f32le', 'pipe:1');
  let bytes: Buffer;
  try {
    bytes = await runToBuffer(tools.ffmpeg, args, { stage, signal: options.signal, onSpawn: options.onSpawn });
  } catch (err) {
    if (err instanceof FfmpegRunError) {
      const code = /exited with code (\d+)/.exec(err.message)?.[1];
      throw new PipelineError(`ffmpeg failed to decode the audio of ${abs}${code ? ` (exit code ${code})` : ''}: ${lastLine(err.stderrTail) || 'no message'}.`, {
        stage, kind: 'invalid-input', file: abs,
      });
    }
    throw err;
  }
  const n = Math.floor(bytes.length / 4);
  const samples = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    samples[i] = bytes.readFloatLE(i * 4);
  }
  if (n === 0) {
    throw invalid(`The audio track of ${abs} is empty: ffmpeg decoded no samples${options.startSec ? ` after ${options.startSec} s` : ''}.`, abs, stage, field);
  }
  let peak = 0;
  let sq = 0;
  for (let i = 0; i < n; i++) {
    const v = samples[i];
    const a = Math.abs(v);
    if (a > peak) {
      peak = a;
    }
    sq += v * v;
  }
  return { samples, sampleRate: rate, durationSec: n / rate, source: abs, sourceStream, peak, rms: Math.sqrt(sq / n) };
}

function lastLine(s: string): string {
  return s.split('\n').map((l) => l.trim()).filter(Boolean).pop() ?? s;
}
