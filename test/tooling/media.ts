/**
 * Generators of tiny test media with the bundled ffmpeg (`@ffmpeg-installer/ffmpeg`): clips of any
 * size, rotated clips, variable-frame-rate clips, clips with and without audio, frame folders, and
 * files that only pretend to be videos. Everything is written under a temporary folder the caller
 * removes with {@link TempDir.remove}.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

// eslint-disable-next-line @typescript-eslint/no-require-imports
export const FFMPEG: string = require('@ffmpeg-installer/ffmpeg').path;
// eslint-disable-next-line @typescript-eslint/no-require-imports
export const FFPROBE: string = require('@ffprobe-installer/ffprobe').path;

/** The repository's bundled sample media (`media/samples`, licences beside the files). */
export const SAMPLES = path.resolve(__dirname, '../../media/samples');

export interface TempDir {
  path: string;
  remove(): void;
}

/** A fresh temporary folder; `name` may contain spaces and non-ASCII characters on purpose. */
export function tempDir(name = 'alref-media-'): TempDir {
  const p = mkdtempSync(path.join(os.tmpdir(), name));
  return { path: p, remove: () => rmSync(p, { recursive: true, force: true }) };
}

function run(bin: string, args: string[]): string {
  const r = spawnSync(bin, args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (r.status !== 0) {
    throw new Error(`${path.basename(bin)} ${args.join(' ')} failed (${r.status}): ${(r.stderr ?? '').slice(-2000)}`);
  }
  return r.stdout;
}

export interface ClipOptions {
  width?: number;
  height?: number;
  frames?: number;
  fps?: number;
  /** Add a sine-wave audio track (16 kHz mono AAC). */
  audio?: boolean;
  /** Display rotation, degrees clockwise (the clip is stored unrotated with a display matrix). */
  rotate?: 0 | 90 | 180 | 270;
  /**
   * Variable frame rate: the first 10 frames 0.1 s apart, the rest 0.02 s apart (nominal 50 fps).
   */
  vfr?: boolean;
}

/** Writes an H.264 MP4 of the `testsrc` pattern (its frame counter is visible). Returns `file`. */
export function makeClip(file: string, options: ClipOptions = {}): string {
  const { width = 64, height = 48, frames = 12, fps = 10, audio = false, rotate = 0, vfr = false } = options;
  mkdirSync(path.dirname(file), { recursive: true });
  const rate = vfr ? 50 : fps;
  const args = ['-hide_banner', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i', `testsrc=size=${width}x${height}:rate=${rate}`];
  if (audio) {
    args.push('-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=16000');
  }
  args.push('-frames:v', String(frames));
  if (vfr) {
    args.push('-vf', "setpts='if(lt(N,10),N*5,50+(N-10))'", '-vsync', 'vfr');
  }
  const odd = width % 2 === 1 || height % 2 === 1;
  args.push('-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', odd ? 'yuv444p' : 'yuv420p');
  if (audio) {
    args.push('-c:a', 'aac', '-ac', '1', '-t', String(frames / rate), '-shortest');
  }
  if (rotate === 0) {
    run(FFMPEG, [...args, file]);
    return file;
  }
  const plain = `${file}.plain.mp4`;
  run(FFMPEG, [...args, plain]);
  // Muxers disagree on the sign of the legacy `rotate` tag: write it, read the display matrix back
  // with ffprobe, and use the other sign when it came out the wrong way.
  for (const tag of [(360 - rotate) % 360, rotate]) {
    run(FFMPEG, ['-hide_banner', '-loglevel', 'error', '-y', '-i', plain, '-c', 'copy', '-metadata:s:v:0', `rotate=${tag}`, file]);
    if (displayRotationCw(file) === rotate) {
      rmSync(plain, { force: true });
      return file;
    }
  }
  throw new Error(`could not write a clip rotated ${rotate} degrees`);
}

/** Clockwise rotation of the first video stream's display matrix (0 when there is none). */
export function displayRotationCw(file: string): number {
  const out = run(FFPROBE, ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'stream_side_data=rotation', '-of', 'csv=p=0', file]).trim();
  const ccw = Number(out.split(/\s+/)[0] || 0);
  return ((-ccw % 360) + 360) % 360;
}

/** A text file with a video's name. */
export function makeTextAsVideo(file: string): string {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, 'This is not a video.\nJust some text renamed to .mp4\n'.repeat(20));
  return file;
}

/** An audio-only MP4 (no video stream at all: zero frames). */
export function makeAudioOnly(file: string, seconds = 1): string {
  mkdirSync(path.dirname(file), { recursive: true });
  run(FFMPEG, ['-hide_banner', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i', `sine=frequency=440:sample_rate=16000:duration=${seconds}`, '-c:a', 'aac', file]);
  return file;
}

/** An MP4 written with zero video frames (the muxer leaves no usable stream). */
export function makeZeroFrameVideo(file: string): string {
  mkdirSync(path.dirname(file), { recursive: true });
  run(FFMPEG, ['-hide_banner', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc=size=64x48:rate=10', '-frames:v', '0', '-c:v', 'libx264', file]);
  return file;
}

/** A folder of `count` frames named `00000.<ext>`.. (testsrc pattern). Returns `dir`. */
export function makeFrameFolder(dir: string, count: number, options: { width?: number; height?: number; ext?: 'jpg' | 'png'; start?: number; step?: number } = {}): string {
  const { width = 64, height = 48, ext = 'jpg', start = 0, step = 1 } = options;
  mkdirSync(dir, { recursive: true });
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'alref-frames-'));
  try {
    run(FFMPEG, ['-hide_banner', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i', `testsrc=size=${width}x${height}:rate=10`, '-frames:v', String(count), '-start_number', '0', path.join(tmp, `%05d.${ext}`)]);
    for (let i = 0; i < count; i++) {
      const from = path.join(tmp, `${String(i).padStart(5, '0')}.${ext}`);
      const to = path.join(dir, `${String(start + i * step).padStart(5, '0')}.${ext}`);
      renameSync(from, to);
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  return dir;
}

/** Mean absolute difference of two equally sized raw RGB buffers (0..255). */
export function meanAbsDiff(a: Uint8Array, b: Uint8Array): number {
  if (a.length !== b.length) {
    throw new Error(`buffers differ in size: ${a.length} vs ${b.length}`);
  }
  let d = 0;
  for (let i = 0; i < a.length; i++) {
    d += Math.abs(a[i] - b[i]);
  }
  return d / a.length;
}
