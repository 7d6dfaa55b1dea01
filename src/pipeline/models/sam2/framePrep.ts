/**
 * SAM 2 frame pre-processing (decode, Pillow-exact resize, normalisation) in this thread or ahead of
 * time in a worker thread. The tracker asks the worker for the next frames while the current frame's
 * graphs run, so that on a machine with a core to spare the JPEG decode and the resize leave the
 * critical path (onnxruntime runs each graph on the calling thread; nothing else can happen there
 * meanwhile). The worker gives the same bits as the in-thread path: it runs the same code.
 */
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import sharp from 'sharp';
import { PipelineError, type PipelineErrorKind } from '../../errors';
import { pilResizeNormalise, pilResizeNormaliseView, type Normalisation } from '../../imaging/pilResizeSimd';

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
 * The planar float32 encoder input of one frame, in this thread. `into: 'view'` returns a view of the
 * resize module's memory (no copy; valid until the next frame is resized on this thread); otherwise
 * the values are written into the given array, or a new one.
 */
export async function prepareFrame(req: FramePrepRequest, into?: Float32Array | 'view'): Promise<Float32Array> {
  const { rgb, w, h } = await decodeFrame(req.source);
  return into === 'view' ? pilResizeNormaliseView(rgb, w, h, req.width, req.height, req.norm) : pilResizeNormalise(rgb, w, h, req.width, req.height, req.norm, into);
}

/** A failure as it crosses the thread boundary (a PipelineError keeps its fields). */
export interface SerializedError {
  message: string;
  stage?: string;
  kind?: PipelineErrorKind;
  file?: string;
}

/** Messages between {@link FramePrepWorker} and its thread. */
export type FramePrepMessage = { id: number; pixels: Float32Array } | { id: number; error: SerializedError };

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
 * How many frames to prepare ahead in a worker by default: two when a core is left over for it (the
 * graphs run on a GPU, onnxruntime is held to fewer threads than the machine has cores, or the machine
 * has more than two cores), else none: on two cores that onnxruntime's threads already use, the
 * worker slows the graphs down more than it saves (measured: bench/models.ts).
 *
 * @example
 * defaultPrefetch({ provider: 'cpu', threads: 0 }); // 0 on a 2-core machine, 2 on an 8-core one
 */
export function defaultPrefetch(run: { provider: 'cpu' | 'cuda'; threads: number } = { provider: 'cpu', threads: 0 }, cores = availableCores()): number {
  if (workerScript() === undefined) {
    return 0;
  }
  const spare = run.provider === 'cuda' || (run.threads > 0 && run.threads < cores) || cores > 2;
  return spare ? 2 : 0;
}

function availableCores(): number {
  return typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
}

/**
 * One worker thread that prepares frames on request; results come back as transferred buffers (no
 * copy). It keeps the process alive only while requests are in flight (a tracker that is never
 * disposed does not hold the process open). A worker that cannot start, or dies, fails the
 * pending requests with the reason and refuses new ones (the caller then prepares in its own thread).
 */
export class FramePrepWorker {
  private readonly worker: Worker;
  private readonly pending = new Map<number, { resolve: (px: Float32Array) => void; reject: (err: Error) => void }>();
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
      if ('pixels' in m) {
        p.resolve(m.pixels);
      } else {
        p.reject(new PipelineError(m.error.message, { stage: m.error.stage ?? 'propagate', kind: m.error.kind ?? 'backend', file: m.error.file }));
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

  /** The frame's encoder input, prepared in the worker. */
  prepare(req: FramePrepRequest): Promise<Float32Array> {
    if (this.failure) {
      return Promise.reject(this.failure);
    }
    const id = this.nextId++;
    return new Promise<Float32Array>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.ref();
      this.worker.postMessage({ id, req });
    });
  }

  /** Stops the thread; pending requests fail. */
  async dispose(): Promise<void> {
    this.failure ??= new PipelineError('The frame pre-processing thread was stopped.', { stage: 'propagate', kind: 'cancelled' });
    await this.worker.terminate();
  }
}
