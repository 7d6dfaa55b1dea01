/**
 * SAM 2 frame pre-processing (decode, Pillow-exact resize, normalisation) in this thread or ahead of
 * time in worker threads. The tracker asks the workers for the next frames while the current frame's
 * graphs run, so that on a machine with cores to spare the JPEG decode and the resize leave the
 * critical path (onnxruntime runs each graph on the calling thread; nothing else can happen there
 * meanwhile). A worker gives the same bits as the in-thread path: it runs the same code.
 */
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import sharp from 'sharp';
import { PipelineError, type PipelineErrorKind } from '../../errors';
import { pilResizeNormalise, pilResizeNormaliseLeased, type Normalisation } from '../../imaging/pilResizeSimd';
import type { FrameMask } from './maskOps';

/** What one frame's pre-processing needs: the frame, the encoder's input size and the normalisation. */
export interface FramePrepRequest {
  source: string | Uint8Array;
  width: number;
  height: number;
  norm: Normalisation;
}

/** Decodes a frame (a file or encoded bytes, EXIF orientation applied) to 8-bit interleaved RGB. */
export async function decodeFrame(source: string | Uint8Array): Promise<{ rgb: Uint8Array; w: number; h: number }> {
  try {
    const { data, info } = await sharp(source).rotate().removeAlpha().toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
    // removeAlpha + sRGB: always 3 channels (grey and grey+alpha frames included)
    if (info.channels !== 3) {
      throw new Error(`decoded to ${info.channels} channels, expected 3`);
    }
    return { rgb: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), w: info.width, h: info.height };
  } catch (err) {
    throw new PipelineError(`Cannot read frame ${typeof source === 'string' ? source : '(bytes)'}: ${(err as Error).message}`, { stage: 'propagate', kind: 'invalid-input', file: typeof source === 'string' ? source : undefined, cause: err });
  }
}

/**
 * The planar float32 encoder input of one frame, in this thread, written into the given array or a
 * new one.
 */
export async function prepareFrame(req: FramePrepRequest, into?: Float32Array): Promise<Float32Array> {
  const { rgb, w, h } = await decodeFrame(req.source);
  return pilResizeNormalise(rgb, w, h, req.width, req.height, req.norm, into);
}

/**
 * {@link prepareFrame} without the copy: the values stay in the resize module's memory, reserved for
 * them until `release()` (other resizes on this thread meanwhile use another instance), so that the
 * encoder can read them when its run starts. Release once the run has resolved.
 */
export async function prepareFrameLeased(req: FramePrepRequest): Promise<{ pixels: Float32Array; release(): void }> {
  const { rgb, w, h } = await decodeFrame(req.source);
  return pilResizeNormaliseLeased(rgb, w, h, req.width, req.height, req.norm);
}

/** Handed-back buffers a worker thread keeps for reuse ({@link FramePrepWorker.recycle}). */
export const MAX_RECYCLED_FRAMES = 4;

/** A failure as it crosses the thread boundary (a PipelineError keeps its fields). */
export interface SerializedError {
  message: string;
  stage?: string;
  kind?: PipelineErrorKind;
  file?: string;
}

/**
 * A feature map to lay out as memory-attention tokens in a worker ({@link FramePrepWorker.transpose}):
 * `features` `[C, hw]` and `out` (at least `C * hw` values) travel there and back as transferred buffers.
 */
export interface TransposeRequest {
  features: Float32Array;
  c: number;
  hw: number;
  out: Float32Array;
}

/** The tokens and the features they were made from, both back from the worker. */
export interface TransposeResult {
  tokens: Float32Array;
  features: Float32Array;
}

/** A tracked frame's low-resolution logits to finish in a worker ({@link FramePrepWorker.finishMask}; `logits` is transferred). */
export interface MaskRequest {
  logits: Float32Array;
  width: number;
  height: number;
  fillHoleArea: number;
  /** Object score > 0: the mask is the upsampled logits; else empty. */
  present: boolean;
  videoWidth: number;
  videoHeight: number;
}

/** Requests to a {@link FramePrepWorker}'s thread. */
export type FramePrepRequestMessage = { id: number; req: FramePrepRequest } | { id: number; transpose: TransposeRequest } | { id: number; finish: MaskRequest } | { recycle: Float32Array };

/** Replies from the thread. */
export type FramePrepMessage = { id: number; pixels: Float32Array } | ({ id: number } & TransposeResult) | ({ id: number } & FrameMask) | { id: number; error: SerializedError };

/** The bundled worker script beside this module's bundle, or the TypeScript source under tsx (tests, benches). */
function workerScript(): string | undefined {
  for (const name of ['framePrepWorker.js', 'framePrep.worker.ts']) {
    const file = path.join(__dirname, name);
    if (existsSync(file) && (name.endsWith('.js') || process.execArgv.some((a) => a.includes('tsx')))) {
      return file;
    }
  }
  return undefined;
}

/**
 * Worker threads for frame pre-processing by default: the cores left over beside onnxruntime and the
 * calling thread, at most {@link MAX_PREP_THREADS}. On CUDA every core but the calling thread's; with
 * onnxruntime held to fewer threads than cores, the rest; with onnxruntime on its default threads
 * (one per core) one worker on a machine of more than two cores, none on two (there the worker slows
 * the graphs down more than it saves: measured, bench/models.ts).
 *
 * One thread prepares a 1280x720 frame for the 1024 px encoder in 16-20 ms here, which caps the
 * loop near 50-60 frames a second however fast the graphs run; a GPU runs SAM 2 tiny's graphs in
 * about 10 ms a frame, so there several threads are needed to keep up (measured: bench/models.ts,
 * frame preparation throughput).
 *
 * @example
 * defaultPrepThreads({ provider: 'cuda', threads: 0 }, 8); // 3
 * defaultPrepThreads({ provider: 'cpu', threads: 0 }, 2); // 0
 */
export function defaultPrepThreads(run: { provider: 'cpu' | 'cuda'; threads: number } = { provider: 'cpu', threads: 0 }, cores = availableCores()): number {
  if (workerScript() === undefined) {
    return 0;
  }
  const spare = run.provider === 'cuda' ? cores - 1 : run.threads > 0 && run.threads < cores ? cores - run.threads : cores > 2 ? 1 : 0;
  return Math.max(0, Math.min(MAX_PREP_THREADS, spare));
}

/** Most worker threads {@link defaultPrepThreads} starts (each holds its own resize memory, about 20 MB at 1024 px). */
export const MAX_PREP_THREADS = 3;

/**
 * How many frames to prepare ahead by default: one more than the worker threads
 * ({@link defaultPrepThreads}) so that none of them waits for work, or none without workers.
 *
 * @example
 * defaultPrefetch({ provider: 'cpu', threads: 0 }); // 0 on a 2-core machine, 2 on an 8-core one
 * defaultPrefetch({ provider: 'cuda', threads: 0 }, 8); // 4 (three threads)
 */
export function defaultPrefetch(run: { provider: 'cpu' | 'cuda'; threads: number } = { provider: 'cpu', threads: 0 }, cores = availableCores()): number {
  const threads = defaultPrepThreads(run, cores);
  return threads > 0 ? threads + 1 : 0;
}

function availableCores(): number {
  return typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
}

/**
 * One worker thread that, on request, prepares frames, lays encoder features out as tokens and
 * finishes tracked frames' masks; the buffers travel as transferred ones (no copy). It keeps the
 * process alive only while requests are in flight (a tracker that is never disposed does not hold
 * the process open). A worker that cannot start, or dies, fails the
 * pending requests with the reason and refuses new ones (the caller then prepares in its own thread).
 */
export class FramePrepWorker {
  private readonly worker: Worker;
  private readonly pending = new Map<number, { resolve: (m: FramePrepMessage) => void; reject: (err: Error) => void }>();
  private nextId = 1;
  private failure?: Error;

  private constructor(file: string) {
    // the TypeScript source (tests, benches under tsx): the worker registers tsx's require hook first
    const boot = `const f = ${JSON.stringify(file)}; require('node:module').createRequire(f)('tsx/cjs'); require(f);`;
    this.worker = file.endsWith('.ts') ? new Worker(boot, { eval: true }) : new Worker(file);
    this.worker.on('message', (m: FramePrepMessage) => {
      const p = this.pending.get(m.id);
      if (!p) {
        return;
      }
      this.pending.delete(m.id);
      this._idleUnref();
      if ('error' in m) {
        p.reject(new PipelineError(m.error.message, { stage: m.error.stage ?? 'propagate', kind: m.error.kind ?? 'backend', file: m.error.file }));
      } else {
        p.resolve(m);
      }
    });
    const fail = (err: Error): void => {
      // the first reason stands (a stop by dispose stays a cancellation when the exit follows)
      this.failure ??= err;
      for (const p of this.pending.values()) {
        p.reject(this.failure);
      }
      this.pending.clear();
      this._idleUnref();
    };
    this.worker.on('error', (err) => fail(new PipelineError(`The frame pre-processing thread failed: ${err.message}`, { stage: 'propagate', kind: 'backend', cause: err })));
    this.worker.on('exit', (code) => fail(new PipelineError(`The frame pre-processing thread exited (code ${code}).`, { stage: 'propagate', kind: 'backend' })));
    // after the listeners: one added after unref() refs the worker again (nodejs/node#53036)
    this.worker.unref();
  }

  /** Idle, the thread never keeps the process alive; with requests in flight it does (their results are awaited). */
  private _idleUnref(): void {
    if (this.pending.size === 0) {
      this.worker.unref();
    }
  }

  /** A worker (from `script` when given), or undefined when its script is not there (a source run without tsx). */
  static start(script?: string): FramePrepWorker | undefined {
    const file = script ?? workerScript();
    return file ? new FramePrepWorker(file) : undefined;
  }

  /** Whether the worker can take requests. */
  get alive(): boolean {
    return this.failure === undefined;
  }

  /** Requests sent and not answered yet. */
  get inFlight(): number {
    return this.pending.size;
  }

  /** The frame's encoder input, prepared in the worker. */
  async prepare(req: FramePrepRequest): Promise<Float32Array> {
    const m = await this._request((id) => ({ id, req }), []);
    return (m as { pixels: Float32Array }).pixels;
  }

  /**
   * {@link featuresToTokens} in the worker: `features` and `out` are transferred there (detached here
   * until the result comes back) and returned, `out` holding the tokens. The same bits as in this thread.
   */
  async transpose(req: TransposeRequest): Promise<TransposeResult> {
    const m = (await this._request((id) => ({ id, transpose: req }), [req.features.buffer as ArrayBuffer, req.out.buffer as ArrayBuffer])) as TransposeResult;
    return { tokens: m.tokens, features: m.features };
  }

  /**
   * `finishMask` (maskOps.ts) in the worker: hole filling, the mask at video size and its RLE; `logits`
   * travels there (detached here) and comes back filled. The same bits as in this thread.
   */
  async finishMask(req: MaskRequest): Promise<FrameMask> {
    const m = (await this._request((id) => ({ id, finish: req }), [req.logits.buffer as ArrayBuffer])) as FrameMask;
    return { logits: m.logits, mask: m.mask, rle: m.rle };
  }

  private _request(message: (id: number) => FramePrepRequestMessage, transfer: ArrayBuffer[]): Promise<FramePrepMessage> {
    if (this.failure) {
      return Promise.reject(this.failure);
    }
    const id = this.nextId++;
    return new Promise<FramePrepMessage>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.ref();
      this.worker.postMessage(message(id), transfer);
    });
  }

  /**
   * Hands a prepared frame's buffer back for a later frame of the same size (transferred: `pixels` is
   * detached here afterwards, so only once nothing reads it any more). Ignored once the worker failed.
   */
  recycle(pixels: Float32Array): void {
    if (!this.failure && pixels.byteLength > 0) {
      this.worker.postMessage({ recycle: pixels }, [pixels.buffer as ArrayBuffer]);
    }
  }

  /** Stops the thread; pending requests fail. */
  async dispose(): Promise<void> {
    this.failure ??= new PipelineError('The frame pre-processing thread was stopped.', { stage: 'propagate', kind: 'cancelled' });
    await this.worker.terminate();
  }
}

/**
 * Several {@link FramePrepWorker}s: each request goes to the thread with the fewest in flight, so
 * frames are prepared in parallel (their results are the same bits whichever thread made them). The
 * pool fails as a whole: once one thread fails, `alive` is false and the caller prepares in its own
 * thread; requests already sent to the others still resolve.
 */
export class FramePrepPool {
  private next = 0;

  private constructor(private readonly workers: FramePrepWorker[]) {}

  /** `threads` workers (at least one; from `script` when given), or undefined when the script is not there. */
  static start(threads: number, script?: string): FramePrepPool | undefined {
    const workers: FramePrepWorker[] = [];
    for (let k = 0; k < Math.max(1, threads); k++) {
      const w = FramePrepWorker.start(script);
      if (!w) {
        return undefined;
      }
      workers.push(w);
    }
    return new FramePrepPool(workers);
  }

  /** Worker threads in the pool. */
  get size(): number {
    return this.workers.length;
  }

  /** Whether every thread can take requests. */
  get alive(): boolean {
    return this.workers.every((w) => w.alive);
  }

  /** Requests in flight on each thread, in order. */
  threadLoad(): number[] {
    return this.workers.map((w) => w.inFlight);
  }

  /** The frame's encoder input, prepared by the least busy thread. */
  prepare(req: FramePrepRequest): Promise<Float32Array> {
    return this._leastBusy().prepare(req);
  }

  /** {@link FramePrepWorker.transpose} on the least busy thread. */
  transpose(req: TransposeRequest): Promise<TransposeResult> {
    return this._leastBusy().transpose(req);
  }

  /** {@link FramePrepWorker.finishMask} on the least busy thread. */
  finishMask(req: MaskRequest): Promise<FrameMask> {
    return this._leastBusy().finishMask(req);
  }

  private _leastBusy(): FramePrepWorker {
    return this.workers.reduce((best, x) => (x.inFlight < best.inFlight ? x : best));
  }

  /** {@link FramePrepWorker.recycle}, to the threads in turn. */
  recycle(pixels: Float32Array): void {
    this.workers[this.next++ % this.workers.length].recycle(pixels);
  }

  /** Stops every thread; pending requests fail. */
  async dispose(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.dispose()));
  }
}
