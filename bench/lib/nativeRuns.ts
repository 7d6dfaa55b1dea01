// The time this thread spends inside onnxruntime's native `run`: synchronous, so nothing else happens
// on the thread meanwhile, and the exact model time beside which the host's own time is measured.
// The runtime's graph-run observer times each `session.run` promise instead, which also counts the
// wait behind other runs queued at the same moment (the tracker encodes the next frame while this
// frame's graphs run), so summing it would count the same milliseconds twice.
import { performance, PerformanceObserver } from 'node:perf_hooks';
import { binding, type Binding } from 'onnxruntime-node/dist/binding';

/** Start and end (performance.now()) of every native run on this thread since {@link timeNativeRuns}. */
export interface NativeRuns {
  intervals: Array<[number, number]>;
  /** Milliseconds of native runs that started in [t0, t1). */
  msWithin(t0: number, t1: number): number;
}

let installed: NativeRuns | undefined;

/**
 * Times every native run from now on (sessions created before this call are not timed: call it before
 * the first session). Idempotent.
 */
export function timeNativeRuns(): NativeRuns {
  if (installed) {
    return installed;
  }
  const runs: NativeRuns = {
    intervals: [],
    msWithin(t0, t1) {
      return this.intervals.filter(([a]) => a >= t0 && a < t1).reduce((n, [a, b]) => n + (b - a), 0);
    },
  };
  const b = binding as unknown as { InferenceSession: Binding.InferenceSessionConstructor };
  const Native = b.InferenceSession;
  // the native class's methods are read-only; a subclass that the backend constructs instead
  b.InferenceSession = class extends (Native as unknown as new () => Binding.InferenceSession) {
    run(...args: Parameters<Binding.InferenceSession['run']>): ReturnType<Binding.InferenceSession['run']> {
      const t0 = performance.now();
      try {
        return super.run(...args);
      } finally {
        runs.intervals.push([t0, performance.now()]);
      }
    }
  } as unknown as Binding.InferenceSessionConstructor;
  installed = runs;
  return runs;
}

/** What {@link withGcPauses} saw: the wall interval, and the GC pauses in it, all and those outside native runs. */
export interface GcWindow {
  t0: number;
  t1: number;
  /** Milliseconds of native runs in the interval. */
  graphMs: number;
  gcMs: number;
  /** GC pauses that started outside every native run (on the host's own time). */
  gcBeyondRunsMs: number;
  /**
   * Milliseconds the event loop sat idle (nothing to run: waiting for a worker thread's message or
   * a decode on libuv's pool); neither GC nor JavaScript.
   */
  idleMs: number;
}

/**
 * Runs `fn` while recording this thread's garbage-collection pauses, and tells those inside native
 * runs (where onnxruntime-node allocates each output as a new buffer) from those on the host's time;
 * and the event loop's idle time meanwhile.
 */
export async function withGcPauses(runs: NativeRuns, fn: () => Promise<void>): Promise<GcWindow> {
  const pauses: Array<[number, number]> = [];
  const gc = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      pauses.push([e.startTime, e.duration]);
    }
  });
  gc.observe({ entryTypes: ['gc'] });
  const elu0 = performance.eventLoopUtilization();
  const t0 = performance.now();
  let idleMs = 0;
  try {
    await fn();
  } finally {
    idleMs = performance.eventLoopUtilization(elu0).idle;
    for (const e of gc.takeRecords()) {
      pauses.push([e.startTime, e.duration]);
    }
    gc.disconnect();
  }
  const t1 = performance.now();
  const inWindow = runs.intervals.filter(([a]) => a >= t0 && a < t1);
  const gcMs = pauses.reduce((n, [, d]) => n + d, 0);
  const inRuns = pauses.filter(([at]) => inWindow.some(([a, b]) => at >= a && at < b)).reduce((n, [, d]) => n + d, 0);
  return { t0, t1, graphMs: runs.msWithin(t0, t1), gcMs, gcBeyondRunsMs: gcMs - inRuns, idleMs };
}
