import { Presets, SingleBar } from 'cli-progress';
import type { ModelStore } from '../pipeline/models/store';

/** Megabytes for progress lines (`?` when unknown). */
export const mb = (n: number | null): string => (n === null ? '?' : `${(n / 1e6).toFixed(n < 1e7 ? 2 : 0)} MB`);

/**
 * Downloads a model into the store's cache with progress on stderr: a bar per file on a terminal,
 * else a line every 2 seconds and one when a file is complete. Returns the model's folder; throws
 * what {@link ModelStore.pull} throws (offline, HTTP errors, a checksum mismatch, cancellation).
 */
export async function pullWithProgress(store: ModelStore, id: string, signal?: AbortSignal): Promise<string> {
  store.entry(id);
  const bar = process.stderr.isTTY ? new SingleBar({ format: `${id} {file} [{bar}] {percentage}% {value}/{total} MB`, hideCursor: true, clearOnComplete: false }, Presets.shades_classic) : null;
  let started = '';
  let lastLine = 0;
  try {
    return await store.pull(id, {
      signal,
      onProgress: (p) => {
        const total = p.total ?? p.received;
        if (bar) {
          if (started !== p.key) {
            if (started) {
              bar.stop();
            }
            bar.start(Math.max(1, Math.round(total / 1e6)), 0, { file: p.key });
            started = p.key;
          }
          bar.update(Math.round(p.received / 1e6), { file: p.key });
        } else if (Date.now() - lastLine > 2000 || p.received === total) {
          process.stderr.write(`${id} ${p.key}: ${mb(p.received)} of ${mb(p.total)}${p.resumedFrom > 0 ? ` (resumed at ${mb(p.resumedFrom)})` : ''}\n`);
          lastLine = Date.now();
        }
      },
    });
  } finally {
    bar?.stop();
  }
}
