import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rename, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import { PipelineError, throwIfAborted } from '../errors';

/** Progress of one file download, in bytes. `total` is null when the server does not say. */
export interface DownloadProgress {
  file: string;
  received: number;
  total: number | null;
  /** Bytes that were already on disk from an earlier, interrupted attempt. */
  resumedFrom: number;
}

export interface DownloadOptions {
  /** Expected sha256 hex; null/undefined skips the check. */
  sha256?: string | null;
  /** Expected exact size in bytes, when known. */
  size?: number | null;
  onProgress?(p: DownloadProgress): void;
  signal?: AbortSignal;
  /** Automatic resume attempts after the connection drops (default 3). */
  retries?: number;
  /** Wait between attempts, ms (default 500). */
  retryDelayMs?: number;
}

/** sha256 hex of a file, streamed. */
export async function sha256File(file: string, signal?: AbortSignal): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20 })) {
    throwIfAborted(signal, 'models');
    hash.update(chunk as Buffer);
  }
  return hash.digest('hex');
}

function isKnown(n: number | null | undefined): n is number {
  return typeof n === 'number';
}

async function sizeOf(file: string): Promise<number> {
  try {
    return (await stat(file)).size;
  } catch {
    return 0;
  }
}

/**
 * Downloads `url` to `dest`: bytes go to `dest.part`, an interrupted download resumes from the part
 * file with an HTTP Range request (here or on the next call), the sha256 is checked, and only then is
 * the file moved to `dest` in one rename, so `dest` is either absent or complete.
 */
export async function downloadFile(url: string, dest: string, options: DownloadOptions = {}): Promise<void> {
  const part = `${dest}.part`;
  await mkdir(path.dirname(dest), { recursive: true });
  const retries = options.retries ?? 3;
  let lastError: unknown;
  for (let attempt = 0; attempt <= retries; attempt++) {
    throwIfAborted(options.signal, 'models');
    try {
      await fetchInto(url, part, options);
      lastError = undefined;
      break;
    } catch (err) {
      if (err instanceof PipelineError && (err.kind === 'cancelled' || err.kind === 'invalid-input')) {
        throw err;
      }
      if (options.signal?.aborted) {
        throw new PipelineError('Download cancelled; run the command again to resume it.', { stage: 'models', kind: 'cancelled', file: dest, cause: err });
      }
      lastError = err;
      if (attempt < retries) {
        await new Promise((r) => setTimeout(r, options.retryDelayMs ?? 500));
      }
    }
  }
  if (lastError !== undefined) {
    const have = await sizeOf(part);
    throw new PipelineError(
      `Downloading ${url} failed after ${retries + 1} attempts (${have} bytes kept in ${part}): ${(lastError as Error).message}. Run the command again to resume.`,
      { stage: 'models', kind: 'backend', file: dest, cause: lastError },
    );
  }
  const got = await sizeOf(part);
  if (isKnown(options.size) && got !== options.size) {
    await unlink(part).catch(() => undefined);
    throw new PipelineError(`Downloaded ${url} has ${got} bytes, expected ${options.size}; the partial file was removed. Run the command again.`, {
      stage: 'models', kind: 'backend', file: dest,
    });
  }
  if (options.sha256) {
    const actual = await sha256File(part, options.signal);
    if (actual !== options.sha256.toLowerCase()) {
      await unlink(part).catch(() => undefined);
      throw new PipelineError(
        `Checksum mismatch for ${path.basename(dest)} from ${url}: sha256 ${actual}, expected ${options.sha256}. The file was removed; run the command again, and if it persists the publisher changed the file (update the manifest entry).`,
        { stage: 'models', kind: 'backend', file: dest },
      );
    }
  }
  await rename(part, dest);
}

async function fetchInto(url: string, part: string, options: DownloadOptions): Promise<void> {
  let have = await sizeOf(part);
  if (isKnown(options.size) && have > options.size) {
    await unlink(part);
    have = 0;
  }
  if (isKnown(options.size) && have === options.size) {
    return;
  }
  const headers: Record<string, string> = { 'user-agent': 'alref-notebooks' };
  if (have > 0) {
    headers.range = `bytes=${have}-`;
  }
  const res = await fetch(url, { headers, signal: options.signal, redirect: 'follow' });
  if (res.status === 416 && have > 0) {
    // the part file already holds everything the server has
    await res.body?.cancel();
    return;
  }
  if (res.status === 404 || res.status === 401 || res.status === 403) {
    await res.body?.cancel();
    throw new PipelineError(`${url} answered HTTP ${res.status}; check the URL in the model manifest (or log in / accept the licence on the publisher's page).`, {
      stage: 'models', kind: 'invalid-input', file: part,
    });
  }
  if (!res.ok || !res.body) {
    await res.body?.cancel();
    throw new Error(`HTTP ${res.status} ${res.statusText}`);
  }
  let append = res.status === 206 && have > 0;
  if (res.status === 206) {
    const range = res.headers.get('content-range');
    const start = range ? Number(/bytes (\d+)-/.exec(range)?.[1]) : NaN;
    if (start !== have) {
      append = false;
    }
  }
  const startAt = append ? have : 0;
  const length = Number(res.headers.get('content-length'));
  const total = Number.isFinite(length) && res.headers.get('content-length') !== null ? startAt + length : options.size ?? null;
  const out = createWriteStream(part, { flags: append ? 'a' : 'w' });
  let received = startAt;
  const report = () => options.onProgress?.({ file: part.slice(0, -5), received, total, resumedFrom: startAt });
  report();
  try {
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      if (!out.write(chunk)) {
        await new Promise<void>((r) => out.once('drain', () => r()));
      }
      received += chunk.byteLength;
      report();
    }
  } finally {
    await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
  }
  if (total !== null && received < total) {
    throw new Error(`connection closed after ${received} of ${total} bytes`);
  }
}
