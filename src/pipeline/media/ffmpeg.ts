import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { accessSync, chmodSync, constants, statSync } from 'node:fs';
import path from 'node:path';
import ffmpeg from 'fluent-ffmpeg';
import { PipelineError } from '../errors';
import type { PipelineSettings } from '../settings';
import { trackChild } from './children';

/**
 * Finding ffmpeg/ffprobe and running them through fluent-ffmpeg with cancellation.
 *
 * Resolution order for ffmpeg: the setting `alref.ffmpegPath` (an error if set but unusable),
 * then `ffmpeg` on PATH, then the binary shipped by `@ffmpeg-installer/ffmpeg`.
 * For ffprobe: `alref.ffprobePath`, then an `ffprobe` next to a configured ffmpeg, then PATH, then
 * `@ffprobe-installer/ffprobe`. Bundled binaries are made executable when the package manager
 * dropped the mode bits.
 */

export interface FfmpegTools {
  ffmpeg: string;
  ffprobe: string;
  /** Where each came from, for the experiment record and error messages. */
  ffmpegFrom: 'setting' | 'path' | 'bundled';
  ffprobeFrom: 'setting' | 'next-to-ffmpeg' | 'path' | 'bundled';
}

export interface ResolveOptions {
  /** Environment whose PATH is searched (default `process.env`). */
  env?: NodeJS.ProcessEnv;
  /** Locates the bundled binaries; default requires the installer packages. */
  bundled?: { ffmpeg: () => string | undefined; ffprobe: () => string | undefined };
}

const EXE = process.platform === 'win32' ? '.exe' : '';

function bundledFfmpeg(): string | undefined {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return (require('@ffmpeg-installer/ffmpeg') as { path: string }).path;
  } catch {
    return undefined;
  }
}

function bundledFfprobe(): string | undefined {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return (require('@ffprobe-installer/ffprobe') as { path: string }).path;
  } catch {
    return undefined;
  }
}

function isExecutableFile(file: string): boolean {
  try {
    if (!statSync(file).isFile()) {
      return false;
    }
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function onPath(name: string, env: NodeJS.ProcessEnv): string | undefined {
  const dirs = (env.PATH ?? env.Path ?? '').split(path.delimiter).filter(Boolean);
  for (const dir of dirs) {
    const candidate = path.join(dir, name + EXE);
    if (isExecutableFile(candidate)) {
      return candidate;
    }
  }
  return undefined;
}

/** Makes a bundled binary executable if its mode bits were lost; returns whether it is usable. */
function ensureExecutable(file: string): boolean {
  if (isExecutableFile(file)) {
    return true;
  }
  try {
    statSync(file);
    chmodSync(file, 0o755);
  } catch {
    return false;
  }
  return isExecutableFile(file);
}

const versionCache = new Map<string, string>();

/** First line of `<binary> -version`, or throws when the binary does not run. Cached per path. */
export function toolVersion(binary: string): string {
  const cached = versionCache.get(binary);
  if (cached !== undefined) {
    return cached;
  }
  const r = spawnSync(binary, ['-version'], { encoding: 'utf8', timeout: 15_000, windowsHide: true });
  if (r.error || r.status !== 0) {
    throw new Error(r.error ? r.error.message : `exited with code ${r.status}: ${(r.stderr ?? '').trim().split('\n')[0]}`);
  }
  const line = (r.stdout ?? '').split('\n')[0].trim();
  versionCache.set(binary, line);
  return line;
}

function settingError(setting: string, value: string, problem: string): PipelineError {
  return new PipelineError(
    `The setting ${setting} is "${value}", but ${problem}. Point it at an ffmpeg/ffprobe executable, or clear it to use the one on PATH or the bundled one.`,
    { stage: 'video', kind: 'backend', field: setting },
  );
}

function checkConfigured(setting: string, value: string): string {
  const abs = path.resolve(value);
  if (!isExecutableFile(abs)) {
    throw settingError(setting, value, 'that file does not exist or is not executable');
  }
  try {
    toolVersion(abs);
  } catch (err) {
    throw settingError(setting, value, `running it failed (${(err as Error).message})`);
  }
  return abs;
}

/**
 * Finds usable ffmpeg and ffprobe binaries; throws a `backend` PipelineError naming
 * `alref.ffmpegPath` (or `alref.ffprobePath`) when none works.
 */
export function resolveFfmpeg(settings: Pick<PipelineSettings, 'ffmpegPath' | 'ffprobePath'>, options: ResolveOptions = {}): FfmpegTools {
  const env = options.env ?? process.env;
  const bundled = options.bundled ?? { ffmpeg: bundledFfmpeg, ffprobe: bundledFfprobe };

  let ffmpegBin: string | undefined;
  let ffmpegFrom: FfmpegTools['ffmpegFrom'] = 'setting';
  if (settings.ffmpegPath.trim()) {
    ffmpegBin = checkConfigured('alref.ffmpegPath', settings.ffmpegPath.trim());
  } else {
    ffmpegBin = onPath('ffmpeg', env);
    ffmpegFrom = 'path';
    if (!ffmpegBin) {
      const b = bundled.ffmpeg();
      if (b && ensureExecutable(b)) {
        ffmpegBin = b;
        ffmpegFrom = 'bundled';
      }
    }
  }
  if (!ffmpegBin) {
    throw new PipelineError(
      'No ffmpeg found: it is not on PATH and the bundled @ffmpeg-installer/ffmpeg binary is missing for this platform. Install ffmpeg, or set alref.ffmpegPath to an ffmpeg executable.',
      { stage: 'video', kind: 'backend', field: 'alref.ffmpegPath' },
    );
  }

  let ffprobeBin: string | undefined;
  let ffprobeFrom: FfmpegTools['ffprobeFrom'] = 'setting';
  if (settings.ffprobePath.trim()) {
    ffprobeBin = checkConfigured('alref.ffprobePath', settings.ffprobePath.trim());
  } else {
    if (ffmpegFrom === 'setting') {
      const sibling = path.join(path.dirname(ffmpegBin), 'ffprobe' + EXE);
      if (isExecutableFile(sibling)) {
        ffprobeBin = sibling;
        ffprobeFrom = 'next-to-ffmpeg';
      }
    }
    if (!ffprobeBin) {
      ffprobeBin = onPath('ffprobe', env);
      ffprobeFrom = 'path';
    }
    if (!ffprobeBin) {
      const b = bundled.ffprobe();
      if (b && ensureExecutable(b)) {
        ffprobeBin = b;
        ffprobeFrom = 'bundled';
      }
    }
  }
  if (!ffprobeBin) {
    throw new PipelineError(
      'No ffprobe found: it is not next to alref.ffmpegPath, not on PATH, and the bundled @ffprobe-installer/ffprobe binary is missing. Install ffmpeg (which includes ffprobe), or set alref.ffprobePath (and alref.ffmpegPath).',
      { stage: 'video', kind: 'backend', field: 'alref.ffprobePath' },
    );
  }
  return { ffmpeg: ffmpegBin, ffprobe: ffprobeBin, ffmpegFrom, ffprobeFrom };
}

/**
 * Whether this ffmpeg takes `-fps_mode` (5.1 and later) rather than the older `-vsync`.
 * Git snapshot builds ("N-xxxxx") are treated as old unless their date says otherwise; `-vsync`
 * still works in all released versions.
 */
export function supportsFpsMode(binary: string): boolean {
  const m = /ffmpeg version n?(\d+)\.(\d+)/i.exec(toolVersion(binary));
  if (!m) {
    return false;
  }
  const major = Number(m[1]);
  const minor = Number(m[2]);
  return major > 5 || (major === 5 && minor >= 1);
}

/**
 * A number of seconds as ffmpeg reads it: fixed notation with at most 6 decimals, trailing zeros
 * dropped (`1e-7` -> `0`, `2.5` -> `2.5`). `String(1e-7)` is `1e-7`, which ffmpeg refuses.
 */
export function ffmpegSeconds(sec: number): string {
  const fixed = Math.max(0, sec).toFixed(6);
  return fixed.includes('.') ? fixed.replace(/\.?0+$/, '') || '0' : fixed;
}

/** Milliseconds between SIGTERM and SIGKILL when a run is cancelled. */
const KILL_GRACE_MS = 300;

export interface RunOptions {
  signal?: AbortSignal;
  /** Called with every stderr line (showinfo output, progress). */
  onStderr?: (line: string) => void;
  /** Called once the process is spawned (tests check that a cancelled process is gone). */
  onSpawn?: (pid: number) => void;
  /** Stage name for errors. */
  stage?: string;
}

/** Thrown when ffmpeg fails; `stderrTail` holds its last lines. */
export class FfmpegRunError extends Error {
  constructor(message: string, readonly stderrTail: string) {
    super(message);
    this.name = 'FfmpegRunError';
  }
}

/**
 * Runs a prepared fluent-ffmpeg command to completion. On abort the process gets SIGTERM, then
 * SIGKILL after {@link KILL_GRACE_MS}; the promise settles (with a `cancelled` PipelineError) only
 * after the process has exited (fluent-ffmpeg reports the end after the `exit` event and the close
 * of its output pipes). The process is tracked ({@link trackChild}) so it dies with this process.
 * Returns the stderr tail.
 */
export function runCommand(command: ffmpeg.FfmpegCommand, tools: FfmpegTools, options: RunOptions = {}): Promise<string> {
  const stage = options.stage ?? 'video';
  const { signal } = options;
  if (signal?.aborted) {
    return Promise.reject(new PipelineError('Cancelled.', { stage, kind: 'cancelled' }));
  }
  return new Promise<string>((resolve, reject) => {
    let killTimer: NodeJS.Timeout | undefined;
    const onAbort = (): void => {
      command.kill('SIGTERM');
      killTimer = setTimeout(() => command.kill('SIGKILL'), KILL_GRACE_MS);
    };
    const cleanup = (): void => {
      signal?.removeEventListener('abort', onAbort);
      if (killTimer) {
        clearTimeout(killTimer);
      }
    };
    command.on('start', () => {
      const proc = (command as unknown as { ffmpegProc?: ChildProcess }).ffmpegProc;
      if (proc?.pid !== undefined) {
        const untrack = trackChild(proc.pid, (sig) => proc.kill(sig));
        proc.once('exit', untrack);
        options.onSpawn?.(proc.pid);
      }
      if (signal?.aborted) {
        onAbort();
      }
    });
    if (options.onStderr) {
      command.on('stderr', options.onStderr);
    }
    command.on('error', (err: Error, _stdout: string | null, stderr: string | null) => {
      cleanup();
      if (signal?.aborted) {
        reject(new PipelineError('Cancelled.', { stage, kind: 'cancelled' }));
      } else {
        reject(new FfmpegRunError(err.message, stderr ?? ''));
      }
    });
    command.on('end', (_stdout: string | null, stderr: string | null) => {
      cleanup();
      if (signal?.aborted) {
        reject(new PipelineError('Cancelled.', { stage, kind: 'cancelled' }));
      } else {
        resolve(stderr ?? '');
      }
    });
    signal?.addEventListener('abort', onAbort, { once: true });
    // fluent-ffmpeg keeps binary paths in a module-wide cache; set them right before each run.
    command.setFfmpegPath(tools.ffmpeg);
    command.setFfprobePath(tools.ffprobe);
    command.run();
  });
}

/** A fluent-ffmpeg command for `input` (an absolute path). */
export function newCommand(input: string): ffmpeg.FfmpegCommand {
  return ffmpeg(input, { stdoutLines: 200 });
}

/** What ffprobe reports (`-print_format json -show_streams -show_format`). */
export interface ProbeData {
  streams: Array<Record<string, unknown>>;
  format: Record<string, unknown>;
}

export interface BufferRunOptions {
  signal?: AbortSignal;
  /** Called once the process is spawned (tests check that a cancelled process is gone). */
  onSpawn?: (pid: number) => void;
  /** Stage name for errors (default `video`). */
  stage?: string;
  /** Setting that names the binary, for the error when it cannot be started (default `alref.ffmpegPath`). */
  setting?: string;
}

/**
 * Runs `binary` (ffmpeg or ffprobe) and collects its stdout. The process is tracked
 * ({@link trackChild}) so it dies with this process. On abort it gets SIGTERM, then SIGKILL after
 * {@link KILL_GRACE_MS}; the promise settles only after the process has exited (`close`), so a
 * cancelled run leaves no process: a `cancelled` PipelineError. A non-zero exit rejects with an
 * {@link FfmpegRunError} holding the stderr tail; a binary that cannot be started, with a `backend`
 * PipelineError naming the setting.
 */
export function runToBuffer(binary: string, args: string[], options: BufferRunOptions = {}): Promise<Buffer> {
  const { signal } = options;
  const stage = options.stage ?? 'video';
  return new Promise<Buffer>((resolve, reject) => {
    if (signal?.aborted) {
      reject(new PipelineError('Cancelled.', { stage, kind: 'cancelled' }));
      return;
    }
    const proc = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'], windowsHide: true });
    if (proc.pid !== undefined) {
      const untrack = trackChild(proc.pid, (sig) => proc.kill(sig));
      proc.once('exit', untrack);
      options.onSpawn?.(proc.pid);
    }
    const out: Buffer[] = [];
    let err = '';
    let killTimer: NodeJS.Timeout | undefined;
    const onAbort = (): void => {
      proc.kill('SIGTERM');
      killTimer = setTimeout(() => proc.kill('SIGKILL'), KILL_GRACE_MS);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    proc.stdout.on('data', (b: Buffer) => out.push(b));
    proc.stderr.on('data', (b: Buffer) => {
      err = (err + b.toString('utf8')).slice(-4000);
    });
    proc.on('error', (e) => {
      signal?.removeEventListener('abort', onAbort);
      const setting = options.setting ?? 'alref.ffmpegPath';
      reject(new PipelineError(`${path.basename(binary)} could not be started (${e.message}). Check ${setting}.`, { stage, kind: 'backend', field: setting, cause: e }));
    });
    proc.on('close', (code, sig) => {
      signal?.removeEventListener('abort', onAbort);
      if (killTimer) {
        clearTimeout(killTimer);
      }
      if (signal?.aborted) {
        reject(new PipelineError('Cancelled.', { stage, kind: 'cancelled' }));
      } else if (code !== 0) {
        const how = code === null ? `was killed with signal ${sig}` : `exited with code ${code}`;
        reject(new FfmpegRunError(`${path.basename(binary)} ${how}\n${err}`, err));
      } else {
        resolve(Buffer.concat(out));
      }
    });
  });
}

/**
 * Runs ffprobe on `file` (JSON output) through {@link runToBuffer}: cancelling kills it, so an
 * ffprobe stuck on an input that never ends (a FIFO, a stalled network mount) is not waited for.
 * A file ffprobe cannot read rejects with an {@link FfmpegRunError} whose last line is ffprobe's message.
 */
export async function ffprobe(file: string, tools: FfmpegTools, options: Omit<BufferRunOptions, 'setting'> = {}): Promise<ProbeData> {
  const out = await runToBuffer(tools.ffprobe, ['-v', 'error', '-print_format', 'json', '-show_streams', '-show_format', file], { ...options, setting: 'alref.ffprobePath' });
  let data: Partial<ProbeData>;
  try {
    data = JSON.parse(out.toString('utf8')) as Partial<ProbeData>;
  } catch {
    throw new FfmpegRunError('ffprobe printed no JSON', '');
  }
  return { streams: data.streams ?? [], format: data.format ?? {} };
}
