/**
 * Turns callback-style progress from long work (an ffmpeg process, a copy loop) into an async
 * generator. Progress values are coalesced: only the latest is yielded, at most every
 * `minIntervalMs`, and the last one is always yielded before the work's result is returned.
 *
 * The work gets an AbortSignal that fires when the consumer stops iterating early (`return()` on
 * the generator), so abandoned work (an ffmpeg process) is stopped; the generator waits for it.
 */
export async function* pump<P, R>(
  work: (emit: (progress: P) => void, abandoned: AbortSignal) => Promise<R>,
  minIntervalMs = 250,
): AsyncGenerator<P, R, void> {
  let latest: P | undefined;
  let pending = false;
  let settled = false;
  let wake: (() => void) | undefined;
  const emit = (p: P): void => {
    latest = p;
    pending = true;
    wake?.();
  };
  const abandon = new AbortController();
  const done = work(emit, abandon.signal);
  const mark = (): void => {
    settled = true;
    wake?.();
  };
  done.then(mark, mark);
  let lastYield = 0;
  try {
    while (!settled) {
      await new Promise<void>((resolve) => {
        wake = resolve;
        if (settled || (pending && Date.now() - lastYield >= minIntervalMs)) {
          resolve();
        } else if (pending) {
          const t = setTimeout(resolve, minIntervalMs - (Date.now() - lastYield));
          t.unref?.();
        }
      });
      wake = undefined;
      if (pending && !settled && Date.now() - lastYield >= minIntervalMs) {
        pending = false;
        lastYield = Date.now();
        yield latest as P;
      }
    }
  } finally {
    if (!settled) {
      abandon.abort();
      await done.catch(() => undefined);
    }
  }
  const result = await done;
  if (pending) {
    yield latest as P;
  }
  return result;
}
