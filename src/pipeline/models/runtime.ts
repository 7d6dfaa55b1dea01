import { stat } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import type { InferenceSession, Tensor } from 'onnxruntime-node';
import { PipelineError } from '../errors';
import type { GraphSignature } from './manifest';
import { assertSignature } from './signature';

export interface RuntimeOptions {
  executionProvider: 'cpu' | 'cuda';
  /** Intra-op threads; 0 = onnxruntime's default. */
  threads: number;
  /** A session nobody holds is released after this long (ms; default 5 minutes). */
  idleReleaseMs?: number;
  /** Called with notes the user should see (CUDA fallback). */
  onNote?(message: string): void;
}

/** A session held by a caller; call `release()` when done so it can be freed when idle. */
export interface SessionLease {
  session: InferenceSession;
  /** The provider the session actually runs on. */
  provider: 'cpu' | 'cuda';
  release(): void;
}

interface Entry {
  key: string;
  session: InferenceSession;
  provider: 'cpu' | 'cuda';
  users: number;
  timer?: ReturnType<typeof setTimeout>;
}

type Ort = typeof import('onnxruntime-node');
let ortModule: Promise<Ort> | undefined;
/** onnxruntime-node is loaded on first use so that activation and non-model stages stay light. */
export function loadOrt(): Promise<Ort> {
  ortModule ??= import('onnxruntime-node');
  return ortModule;
}

/**
 * A pool of onnxruntime sessions keyed by file (and its size and mtime, so a replaced file reloads).
 * Sessions are created lazily, shared by every caller, and released once unused for `idleReleaseMs`.
 * A CUDA request that fails falls back to CPU once per session with a note.
 */
export class SessionRuntime {
  private readonly _entries = new Map<string, Entry>();
  private readonly _pending = new Map<string, Promise<Entry>>();
  private readonly _notes: string[] = [];
  private _cudaFailed = false;

  constructor(private readonly _options: RuntimeOptions) {}

  get options(): RuntimeOptions {
    return this._options;
  }

  /** Notes produced since the last call (for stages to show as warnings). */
  takeNotes(): string[] {
    return this._notes.splice(0);
  }

  /** Number of live sessions (for tests and the status line). */
  get size(): number {
    return this._entries.size;
  }

  /**
   * Loads (or reuses) the session of a graph file and checks its signature.
   * @param modelId for messages
   */
  async acquire(file: string, modelId: string, signature?: GraphSignature): Promise<SessionLease> {
    let st;
    try {
      st = await stat(file);
    } catch (err) {
      throw new PipelineError(`Model file ${file} of "${modelId}" does not exist.`, { stage: 'models', kind: 'missing-model', file, field: modelId, cause: err });
    }
    const key = `${file}|${st.size}|${st.mtimeMs}`;
    let entry = this._entries.get(key);
    if (!entry) {
      let pending = this._pending.get(key);
      if (!pending) {
        pending = this._create(key, file, modelId);
        this._pending.set(key, pending);
      }
      try {
        entry = await pending;
      } finally {
        this._pending.delete(key);
      }
      this._entries.set(key, entry);
    }
    if (signature) {
      assertSignature(modelId, file, entry.session.inputMetadata, entry.session.outputMetadata, signature);
    }
    if (entry.timer) {
      clearTimeout(entry.timer);
      entry.timer = undefined;
    }
    entry.users++;
    const e = entry;
    let released = false;
    return {
      session: e.session,
      provider: e.provider,
      release: () => {
        if (released) {
          return;
        }
        released = true;
        e.users--;
        if (e.users === 0) {
          this._scheduleIdle(e);
        }
      },
    };
  }

  private _scheduleIdle(e: Entry): void {
    const ms = this._options.idleReleaseMs ?? 5 * 60_000;
    e.timer = setTimeout(() => {
      if (e.users === 0 && this._entries.get(e.key) === e) {
        this._entries.delete(e.key);
        void e.session.release().catch(() => undefined);
      }
    }, ms);
    e.timer.unref?.();
  }

  private async _create(key: string, file: string, modelId: string): Promise<Entry> {
    const ort = await loadOrt();
    const base: InferenceSession.SessionOptions = { graphOptimizationLevel: 'all' };
    if (this._options.threads > 0) {
      base.intraOpNumThreads = this._options.threads;
    }
    const wrap = (err: unknown): PipelineError => {
      const message = (err as Error).message?.split('\n')[0] ?? String(err);
      const unsupported = /could not find an implementation|opset|not supported|unsupported/i.test(message);
      return new PipelineError(
        unsupported
          ? `Model file ${file} of "${modelId}" uses an operator or opset this onnxruntime-node cannot run: ${message}. Use an export for onnxruntime ${'>='} 1.17 (opset <= 21), or update onnxruntime-node.`
          : `Cannot load model file ${file} of "${modelId}" (truncated or corrupt download, or not an ONNX graph): ${message}. ` +
            `Delete it and run \`alref models pull ${modelId}\` again, or check it with \`alref models verify ${modelId}\`.`,
        { stage: 'models', kind: 'backend', file, field: modelId, cause: err },
      );
    };
    if (this._options.executionProvider === 'cuda' && !this._cudaFailed) {
      try {
        const session = await ort.InferenceSession.create(file, { ...base, executionProviders: ['cuda'] });
        return { key, session, provider: 'cuda', users: 0 };
      } catch (err) {
        // onnxruntime-node throws (does not fall back) when the CUDA provider libraries are absent
        const message = (err as Error).message?.split('\n')[0] ?? String(err);
        if (/protobuf|parse|invalid model|load model|INVALID_PROTOBUF|NO_SUCHFILE/i.test(message) && !/cuda/i.test(message)) {
          throw wrap(err);
        }
        this._cudaFailed = true;
        const note = `CUDA execution provider is not available (${message}); running "${modelId}" on CPU. Install the CUDA build of onnxruntime-node or set alref.models.executionProvider to "cpu".`;
        this._notes.push(note);
        this._options.onNote?.(note);
      }
    }
    try {
      const session = await ort.InferenceSession.create(file, { ...base, executionProviders: ['cpu'] });
      return { key, session, provider: 'cpu', users: 0 };
    } catch (err) {
      throw wrap(err);
    }
  }

  /** Releases every session now (extension deactivation, CLI exit). */
  async dispose(): Promise<void> {
    const all = [...this._entries.values()];
    this._entries.clear();
    for (const e of all) {
      if (e.timer) {
        clearTimeout(e.timer);
      }
      await e.session.release().catch(() => undefined);
    }
  }
}

/** Which graph a run is: the model id and the graph's file key (`vision_encoder`, `model`), for messages and run counts. */
export interface GraphName {
  modelId: string;
  graph: string;
}

/** One finished graph run, as {@link observeGraphRuns} observers see it. */
export interface GraphRun extends GraphName {
  /** Wall time of `session.run`, milliseconds. */
  ms: number;
}

const runObservers = new Set<(run: GraphRun) => void>();

/**
 * Calls `fn` after every graph run in this process (tests count runs per graph; the benches sum times).
 * Returns the function that stops observing.
 */
export function observeGraphRuns(fn: (run: GraphRun) => void): () => void {
  runObservers.add(fn);
  return () => {
    runObservers.delete(fn);
  };
}

/** The part of an onnxruntime session {@link runGraph} uses (real sessions; tests may pass their own). */
export type RunnableSession = Pick<InferenceSession, 'inputNames' | 'run'> & { readonly inputMetadata?: InferenceSession['inputMetadata'] };

/**
 * The feeds' problems against what the session declares: inputs it needs that are absent, names it
 * does not take, element types and ranks that differ from its input metadata (an unknown or symbolic
 * shape, reported as [], is not checked). Empty when the feeds fit.
 */
export function feedMismatches(session: RunnableSession, feeds: Record<string, Pick<Tensor, 'type' | 'dims'>>): string[] {
  const problems: string[] = [];
  const meta = new Map((session.inputMetadata ?? []).map((m) => [m.name, m]));
  for (const name of session.inputNames) {
    if (!(name in feeds)) {
      problems.push(`input "${name}" is missing`);
    }
  }
  for (const [name, t] of Object.entries(feeds)) {
    if (!session.inputNames.includes(name)) {
      problems.push(`input "${name}" is not an input of the graph (it takes ${session.inputNames.map((n) => `"${n}"`).join(', ') || 'none'})`);
      continue;
    }
    const m = meta.get(name);
    if (!m || !m.isTensor) {
      continue;
    }
    if (t.type !== m.type) {
      problems.push(`input "${name}" is ${t.type}, the graph takes ${m.type}`);
    }
    if (m.shape.length > 0 && m.shape.length !== t.dims.length) {
      problems.push(`input "${name}" has rank ${t.dims.length} [${t.dims.join(',')}], the graph takes rank ${m.shape.length} [${m.shape.join(',')}]`);
    }
  }
  return problems;
}

/**
 * The one way the product runs an ONNX graph. Checks the feeds against the session's inputs first
 * ({@link feedMismatches}: a missing or mistyped input is named, with the graph, instead of
 * onnxruntime's bare message), runs it, reports the run to {@link observeGraphRuns} observers and
 * wraps a failure in a `backend` PipelineError that names the model and the graph. `fetches`: the
 * outputs to return, default all (onnxruntime-node copies every returned output into a new buffer,
 * so a caller that needs fewer names them).
 *
 * @example
 * // pixel_values [1,3,H,W] float32 -> feats0 [1,C0,H/4,W/4], ...
 * const out = await runGraph(lease.session, { modelId, graph: 'vision_encoder' }, { pixel_values }, 'propagate');
 */
export async function runGraph(session: RunnableSession, name: GraphName, feeds: Record<string, Tensor>, stage: string, fetches?: readonly string[]): Promise<Record<string, Tensor>> {
  const problems = feedMismatches(session, feeds);
  if (problems.length > 0) {
    throw new PipelineError(`Graph ${name.graph} of "${name.modelId}" cannot run: ${problems.join('; ')}.`, { stage, kind: 'backend', field: name.modelId });
  }
  const t0 = performance.now();
  let out: Record<string, Tensor>;
  try {
    out = (await (fetches ? session.run(feeds, [...fetches]) : session.run(feeds))) as Record<string, Tensor>;
  } catch (err) {
    const shapes = Object.entries(feeds).map(([k, t]) => `${k} ${t.type}[${t.dims.join(',')}]`).join(', ');
    throw new PipelineError(`Graph ${name.graph} of "${name.modelId}" failed on ${shapes}: ${(err as Error).message?.split('\n')[0] ?? String(err)}`, { stage, kind: 'backend', field: name.modelId, cause: err });
  }
  const run: GraphRun = { ...name, ms: performance.now() - t0 };
  for (const fn of runObservers) {
    fn(run);
  }
  return out;
}

const shared = new Map<string, SessionRuntime>();

/**
 * The process-wide runtime for these options, so sessions are reused across cells, notebooks and
 * CLI stages. The extension disposes them on deactivation with {@link disposeSharedRuntimes}.
 */
export function sharedRuntime(options: RuntimeOptions): SessionRuntime {
  const key = `${options.executionProvider}|${options.threads}|${options.idleReleaseMs ?? ''}`;
  let rt = shared.get(key);
  if (!rt) {
    rt = new SessionRuntime(options);
    shared.set(key, rt);
  } else if (options.onNote && !rt.options.onNote) {
    rt.options.onNote = options.onNote;
  }
  return rt;
}

export async function disposeSharedRuntimes(): Promise<void> {
  const all = [...shared.values()];
  shared.clear();
  for (const rt of all) {
    await rt.dispose();
  }
}
