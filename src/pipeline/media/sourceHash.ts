import { createHash } from 'node:crypto';
import { open, stat } from 'node:fs/promises';
import { PipelineError } from '../errors';

/**
 * Content hash of a video source, used for the frame cache key and the stage's input hash.
 *
 * Files (and frame folders) up to {@link FULL_HASH_LIMIT} bytes are hashed in full (sha256 of the
 * bytes, a few hundred MB/s: under a second for typical clips). Larger sources are hashed by sample:
 * size, modification time and 16 evenly spaced 1 MiB chunks, which is fast and catches any edit
 * short of one that keeps size, mtime and the sampled chunks; the hash name says which was used.
 * Results are memoised per (path, size, mtime) for the process lifetime.
 */
const FULL_HASH_LIMIT = 512 * 1024 * 1024;
const CHUNK = 1024 * 1024;
const SAMPLES = 16;

const memo = new Map<string, string>();

async function hashFileInto(h: ReturnType<typeof createHash>, file: string, size: number, full: boolean, signal?: AbortSignal): Promise<void> {
  const fh = await open(file, 'r');
  try {
    const buf = Buffer.allocUnsafe(CHUNK);
    if (full) {
      for (let pos = 0; pos < size; pos += CHUNK) {
        if (signal?.aborted) {
          throw new PipelineError('Cancelled.', { stage: 'video', kind: 'cancelled' });
        }
        const { bytesRead } = await fh.read(buf, 0, Math.min(CHUNK, size - pos), pos);
        h.update(buf.subarray(0, bytesRead));
      }
    } else {
      for (let k = 0; k < SAMPLES; k++) {
        const pos = Math.floor(((size - CHUNK) * k) / (SAMPLES - 1));
        const { bytesRead } = await fh.read(buf, 0, CHUNK, Math.max(0, pos));
        h.update(buf.subarray(0, bytesRead));
      }
    }
  } finally {
    await fh.close();
  }
}

/** `sha256:<hex>` (full) or `sampled:<hex>` of one file. */
export async function hashSourceFile(file: string, signal?: AbortSignal): Promise<string> {
  const s = await stat(file);
  const key = `${file}\0${s.size}\0${s.mtimeMs}`;
  const cached = memo.get(key);
  if (cached) {
    return cached;
  }
  const full = s.size <= FULL_HASH_LIMIT;
  const h = createHash('sha256');
  if (!full) {
    h.update(`${s.size}:${s.mtimeMs}:`);
  }
  await hashFileInto(h, file, s.size, full, signal);
  const out = `${full ? 'sha256' : 'sampled'}:${h.digest('hex')}`;
  memo.set(key, out);
  return out;
}

/** Hash of an ordered list of frame files: names and (full or sampled) contents. */
export async function hashFrameFiles(files: string[], signal?: AbortSignal): Promise<string> {
  const sizes = await Promise.all(files.map(async (f) => (await stat(f)).size));
  const total = sizes.reduce((a, b) => a + b, 0);
  const full = total <= FULL_HASH_LIMIT;
  const h = createHash('sha256');
  for (let i = 0; i < files.length; i++) {
    const base = files[i].split(/[\\/]/).pop() ?? '';
    h.update(`${base}\0${sizes[i]}\0`);
    if (full) {
      await hashFileInto(h, files[i], sizes[i], true, signal);
    } else {
      const s = await stat(files[i]);
      h.update(`${s.mtimeMs}\0`);
    }
  }
  return `${full ? 'sha256' : 'sampled'}:${h.digest('hex')}`;
}
