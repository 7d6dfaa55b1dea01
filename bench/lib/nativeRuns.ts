// The time this thread spends inside onnxruntime's native `run`: synchronous, so nothing else happens
// on the thread meanwhile, and the exact model time beside which the host's own time is measured.
// The runtime's graph-run observer times each `session.run` promise instead, which also counts the
// wait behind other runs queued at the same moment (the tracker encodes the next frame while this
// frame's graphs run), so summing it would count the same milliseconds twice.
import { performance } from 'node:perf_hooks';
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
