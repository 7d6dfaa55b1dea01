/**
 * The SAM 2 video host loop over the five-graph export (vision_encoder, mask_decoder, memory_encoder,
 * memory_attention, pointer_tpos + constants.json). Every size comes from the graphs and the tensors
 * they return; nothing about 1024 / 64 / 256 is assumed.
 */
import { readFile } from 'node:fs/promises';
import type { InferenceSession, Tensor } from 'onnxruntime-node';
import type { Box, RleMask } from '../../domain';
import { PipelineError, throwIfAborted } from '../../errors';
import { IMAGENET_MEAN, IMAGENET_STD } from '../groundingDino';
import { loadOrt, runGraph, type SessionLease } from '../runtime';
import type { ModelService } from '../service';
import { fillHoles, finishMask, maskOutputs, resizeBilinear, type FrameMask } from './maskOps';
import { slideStart, selectMemory, type BankWindow } from './memory';
import { FeatureStore, frameSchedule, type FrameVisit } from './schedule';
import { defaultPrefetch, defaultPrepThreads, FramePrepPool, prepareFrame, prepareFrameLeased } from './framePrep';
import { featuresToTokens, sameBits } from './tokens';
import type { Normalisation } from '../../imaging/pilResizeSimd';

const GRAPHS = ['vision_encoder', 'mask_decoder', 'memory_encoder', 'memory_attention', 'pointer_tpos'] as const;
type GraphKey = (typeof GRAPHS)[number];

/** A conditioning prompt: a box (video pixels) on one frame. */
export interface Sam2Prompt {
  frameIndex: number;
  box: Box;
}

/** One frame's result for one object. */
export interface Sam2FrameResult {
  frameIndex: number;
  /** Row-major 0/1 at video resolution. */
  mask: Uint8Array;
  /** `mask` as COCO RLE (made beside it, in a worker thread when the run has them). */
  rle: RleMask;
  /** The decoder's object score logit (> 0: object present). */
  objectScore: number;
  conditioning: boolean;
  /**
   * The low-resolution mask logits after hole filling (what the official predictor stores). When
   * `objectScore > 0`, `mask` is their bilinear upsampling to the video size, `> 0`; otherwise `mask` is
   * empty (every pixel background) whatever they hold. The propagate stage composes several objects by
   * argmax of these logits (Ref-DAVIS17); the golden tests compare them with the official predictor's.
   */
  lowRes: { logits: Float32Array; width: number; height: number };
}

export interface Sam2TrackOptions {
  numFrames: number;
  /** Video size: prompts are in these pixels, masks come back at it. */
  width: number;
  height: number;
  /** Path (or bytes) of a decoded frame. */
  frameSource(frameIndex: number): string | Promise<string | Uint8Array>;
  /** Conditioning frames of the object (several allowed: one per clip). */
  prompts: Sam2Prompt[];
  /**
   * First frame of the forward pass; the backward pass then runs from it down to frame 0. A start
   * frame without a prompt is tracked in both passes and so yielded twice, as the official predictor
   * does: a consumer keeps the later result (it replaces the earlier one). Default: the earliest
   * prompted frame (the official `propagate_in_video` default).
   */
  startFrame?: number;
  signal?: AbortSignal;
  /** Hole filling on low-resolution masks (SAM 2 `fill_hole_area`, 8). */
  fillHoleArea?: number;
  /**
   * Frames decoded and resized ahead in worker threads while the current frame's graphs run (same
   * values as in-thread; 0 = none). Default {@link defaultPrefetch}: one more than the worker threads
   * where cores are left for them (graphs on CUDA, onnxruntime held to fewer threads than cores, or
   * more than two cores), else 0 (there a worker slows onnxruntime's own threads down).
   */
  prefetch?: number;
  /**
   * Worker threads that prepare those frames (at most `prefetch`). Default {@link defaultPrepThreads}
   * (at least one when `prefetch` is set): one thread prepares a 720p frame in 16-20 ms, too slow
   * for graphs on a GPU.
   */
  prepThreads?: number;
}

/** One object of a {@link Sam2VideoTracker.trackObjects} run. */
export interface Sam2ObjectPrompts {
  /** Its conditioning frames (several allowed: one per clip). */
  prompts: Sam2Prompt[];
  /** As {@link Sam2TrackOptions.startFrame}, for this object. */
  startFrame?: number;
}

/** A run over several objects: the video as in {@link Sam2TrackOptions}, one entry per object. */
export interface Sam2VideoOptions extends Omit<Sam2TrackOptions, 'prompts' | 'startFrame'> {
  objects: Sam2ObjectPrompts[];
  /** Most frames whose encoder features are kept for a later step (default {@link DEFAULT_HELD_FEATURES}). */
  maxHeldFeatures?: number;
}

/** One frame's result for one object of a multi-object run (`object`: its index in `objects`). */
export interface Sam2ObjectResult {
  object: number;
  result: Sam2FrameResult;
}

/** Geometry read from the graphs and constants.json. */
export interface Sam2Geometry {
  imageSize: { width: number; height: number };
  /** Rows x memDim temporal position table. */
  tposTable: Float32Array[];
  numMaskmem: number;
  /** Fixed memory length of memory_attention, or null when dynamic. */
  memoryLength: number | null;
  binarizeType: string;
  /** Most object pointers in attention (`max_obj_ptrs_in_encoder`, constants.json; 16). */
  maxObjPtrs: number;
  /** Conditioning pointers' distances signed by the direction of travel (SAM 2.1; constants.json `signed_pointer_distances`). */
  signedPointerDistances: boolean;
  /** Object pointers get a temporal position from pointer_tpos (SAM 2.1; constants.json `pointer_time_encoding`; SAM 2.0: zeros). */
  pointerTimeEncoding: boolean;
}

/** A boolean flag of constants.json: absent means the SAM 2.1 behaviour (`fallback`). */
function flag(constants: unknown, key: string, fallback: boolean, file: string): boolean {
  const v = (constants as Record<string, unknown>)[key];
  if (v === undefined || v === null) {
    return fallback;
  }
  if (typeof v !== 'boolean') {
    throw new PipelineError(`${file}: "${key}" must be true or false (got ${JSON.stringify(v)}).`, { stage: 'models', kind: 'invalid-input', file, field: key });
  }
  return v;
}

/** Official frame normalisation as float32 steps: ((v / 255) - mean) / std, mean and std as float32. */
const NORMALISE: Normalisation = {
  mean: [Math.fround(IMAGENET_MEAN[0]), Math.fround(IMAGENET_MEAN[1]), Math.fround(IMAGENET_MEAN[2])],
  std: [Math.fround(IMAGENET_STD[0]), Math.fround(IMAGENET_STD[1]), Math.fround(IMAGENET_STD[2])],
};

interface FrameMemory {
  tokens: Float32Array;
  /** Usually the tracker's shared memory position (see {@link Sam2VideoTracker} `_memPos`), not a copy per frame. */
  pos: Float32Array;
}

/**
 * One block of the memory positions: which position (memory position + temporal row) it holds; no
 * `pos` and {@link ZERO_ROW}: zeros, {@link UNKNOWN_ROW}: anything else (e.g. pointer rows).
 */
interface PosBlock {
  pos?: Float32Array;
  tposRow: number;
}
const ZERO_ROW = -1;
const UNKNOWN_ROW = -2;

/**
 * Reused memory_attention inputs and what they hold. `pos` is laid out as the feed: spatial blocks of
 * `hw` rows (the frame memories), then the object-pointer rows. `mem` has room for
 * {@link SLIDE_BLOCKS} more blocks: a step's feed is the view that starts at its run of blocks
 * ({@link slideStart}), so that recent memories stay where they are while the run slides along. Only
 * what differs from the previous call is written.
 */
interface MemoryBank {
  mem: Float32Array;
  pos: Float32Array;
  /** Rows per memory block. */
  hw: number;
  /** Rows before the pointer tokens: every block of a fixed-length graph, the memories' of a dynamic one. */
  spatialRows: number;
  /** Per block of `mem`: the memory tokens it holds (null: zeros; undefined: anything else, e.g. pointer rows). */
  tokenBlocks: Array<Float32Array | null | undefined>;
  /** Per block of `pos`. */
  posBlocks: PosBlock[];
  /** The pointer vector whose tokens each pointer's rows hold (undefined: zeros). */
  pointers: Array<Float32Array | undefined>;
  /** Where in `mem` the pointer rows the last call wrote start (-1: nowhere known), and how many there are. */
  pointerRow: number;
  pointerRows: number;
  /** Pointer rows (from the first) whose position the last call wrote. */
  pointerPosRows: number;
}

/** Blocks of room the memory tokens have to slide along before they start again at block 0 (a full rewrite). */
const SLIDE_BLOCKS = 8;

/** `dst[at + r*dim + j] = pos[r*dim + j] + tpos[j]` in float32, for `rows` rows. */
function addRows(dst: Float32Array, at: number, pos: Float32Array, tpos: Float32Array, rows: number, dim: number): void {
  for (let r = 0, o = at, i = 0; r < rows; r++) {
    for (let j = 0; j < dim; j++, o++, i++) {
      dst[o] = pos[i] + tpos[j];
    }
  }
}

/** Per-object state: memories of frames still needed and all (small) object pointers. */
interface ObjectState {
  cond: Set<number>;
  tracked: Set<number>;
  memory: Map<number, FrameMemory>;
  pointers: Map<number, Float32Array>;
  /** What a fixed-length memory graph left out for this object (see {@link Sam2VideoTracker.capped}). */
  capped?: CappedCounts;
  /**
   * Where the object's memories stood in the bank's token buffer on its last step ({@link slideStart}).
   * Per object; the layout itself is the official order whatever the start, so an object's results do
   * not depend on the other objects of a run (they share the bank's buffers).
   */
  window?: BankWindow;
}

/** One object of a run: its prompts, start frame, state and stored prompted-frame results. */
interface ObjectRun {
  prompts: Map<number, Box>;
  start: number;
  /** Frames start .. start+numMaskmem-1, whose memories the backward pass still reads. */
  keepNearStart: Set<number>;
  condResults: Map<number, Sam2FrameResult>;
  state: ObjectState;
}

/** A frame's feats2 and position embedding as memory_attention tokens `[h*w,1,C]`. */
interface FrameTokens {
  features: Tensor;
  pos: Tensor;
  hw: number;
  /** The buffer under `features`, from the tracker's pool: back to it once the frame's features are let go. */
  buffer: Float32Array;
}

/** A frame's vision_encoder outputs, and its feats2 / position embedding as tokens once an object tracks it. */
interface FrameFeatures {
  frame: number;
  out: Record<string, Tensor>;
  tokens?: FrameTokens;
  /**
   * Set while a worker thread lays feats2 out as tokens (a frame encoded ahead): feats2 is away
   * (detached here) until it settles, so every step awaits it first ({@link Sam2VideoTracker._settle}).
   */
  settling?: Promise<void>;
}

/**
 * Frames whose encoder features a multi-object run keeps for a later sweep (for the tiny model at
 * 1024 px about 25 MB each, 34 MB once tracked with the token copies): prompted frames other objects track later, and frames between the objects'
 * start frames. Beyond it a frame is encoded again.
 */
export const DEFAULT_HELD_FEATURES = 16;

/** Token buffers kept for reuse (4 MB each for the tiny model): one serves a single-object run. */
const MAX_POOLED_TOKEN_BUFFERS = 2;

type Ort = typeof import('onnxruntime-node');

function dims(meta: InferenceSession.ValueMetadata | undefined): ReadonlyArray<number | string> {
  return meta && meta.isTensor ? meta.shape : [];
}

/** Finds the temporal position table in constants.json (a rows x dim numeric array), by name first. */
export function findTemporalTable(json: unknown, memDim?: number): number[][] | null {
  const found: Array<{ key: string; value: number[][] }> = [];
  const visit = (v: unknown, key: string) => {
    if (Array.isArray(v)) {
      if (v.length > 0 && v.every((r) => Array.isArray(r) && r.length > 0 && r.every((x) => typeof x === 'number'))) {
        const rows = v as number[][];
        if (rows.every((r) => r.length === rows[0].length)) {
          found.push({ key, value: rows });
          return;
        }
      }
      // a table nested one level deeper ([7][1][1][64] style)
      if (v.length > 0 && v.every((r) => Array.isArray(r))) {
        const flatRows = (v as unknown[]).map((r) => (r as unknown[]).flat(4)).filter((r) => r.every((x) => typeof x === 'number')) as number[][];
        if (flatRows.length === v.length && flatRows.every((r) => r.length === flatRows[0].length && r.length > 1)) {
          found.push({ key, value: flatRows });
          return;
        }
      }
      if (memDim && v.length > memDim && v.length % memDim === 0 && v.every((x) => typeof x === 'number')) {
        const rows: number[][] = [];
        for (let r = 0; r < v.length / memDim; r++) {
          rows.push((v as number[]).slice(r * memDim, (r + 1) * memDim));
        }
        found.push({ key, value: rows });
      }
      return;
    }
    if (v && typeof v === 'object') {
      for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
        visit(x, k);
      }
    }
  };
  visit(json, '');
  const named = found.find((f) => /tpos|temporal/i.test(f.key));
  return (named ?? found[0])?.value ?? null;
}

function maxPtrs(constants: unknown, file: string): number {
  const v = (constants as Record<string, unknown>).max_obj_ptrs_in_encoder;
  if (v === undefined || v === null) {
    return 16;
  }
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) {
    throw new PipelineError(`${file}: "max_obj_ptrs_in_encoder" must be a positive integer (got ${JSON.stringify(v)}).`, { stage: 'models', kind: 'invalid-input', file, field: 'max_obj_ptrs_in_encoder' });
  }
  return v;
}

/**
 * An output's values to keep past the run: the array itself when it spans its whole buffer (each
 * onnxruntime-node output is a buffer of its own), else a copy (a view into something larger would
 * keep all of it alive).
 */
function owned(a: Float32Array): Float32Array {
  return a.byteOffset === 0 && a.byteLength === a.buffer.byteLength ? a : a.slice();
}

function toF32(t: Tensor): Float32Array {
  if (t.type !== 'float32') {
    throw new PipelineError(`SAM 2 graph returned a ${t.type} tensor where float32 was expected.`, { stage: 'propagate', kind: 'backend' });
  }
  return t.data as Float32Array;
}

/**
 * Runs SAM 2 video tracking for one object: the conditioning frames first (decoder on
 * `feats2_no_mem` with the box as points labelled 2/3, then the memory encoder with binarize = 1),
 * then forward from `startFrame` (default: the earliest prompt) to the end and backward from it to 0 with memory
 * attention over the frames and pointers {@link selectMemory} picks. Yields one result per frame in
 * processing order. Memories of frames that can no longer be selected are dropped as it goes.
 */
export class Sam2VideoTracker {
  private constructor(
    private readonly _ort: Ort,
    private readonly _leases: Record<GraphKey, SessionLease>,
    readonly geometry: Sam2Geometry,
    readonly modelId: string,
    /** onnxruntime's intra-op threads for these sessions (0: its default), for {@link defaultPrefetch}. */
    private readonly _threads = 0,
  ) {}

  /** Where the graphs run (the vision encoder's session). */
  private get _provider(): 'cpu' | 'cuda' {
    return this._leases.vision_encoder.provider;
  }

  /** Loads (or reuses) the five sessions and reads the geometry. Call {@link dispose} when done. */
  static async open(models: ModelService, modelId: string): Promise<Sam2VideoTracker> {
    const ort = await loadOrt();
    const leases: Partial<Record<GraphKey, SessionLease>> = {};
    try {
      for (const key of GRAPHS) {
        leases[key] = await models.session(modelId, key, 'sam2-video');
      }
      const constantsPath = await models.filePath(modelId, 'constants', 'sam2-video');
      let constants: unknown;
      try {
        constants = JSON.parse(await readFile(constantsPath, 'utf8'));
      } catch (err) {
        throw new PipelineError(`Cannot read ${constantsPath}: ${(err as Error).message}. Run \`alref models pull ${modelId}\` again.`, { stage: 'models', kind: 'backend', file: constantsPath, cause: err });
      }
      const l = leases as Record<GraphKey, SessionLease>;
      const px = dims(l.vision_encoder.session.inputMetadata.find((m) => m.name === 'pixel_values'));
      const memOut = dims(l.memory_encoder.session.outputMetadata.find((m) => m.name === 'memory_tokens'));
      const memDim = typeof memOut[2] === 'number' ? memOut[2] : undefined;
      const table = findTemporalTable(constants, memDim);
      if (!table) {
        throw new PipelineError(`${constantsPath} holds no temporal position table (a rows x ${memDim ?? 'dim'} array).`, { stage: 'models', kind: 'backend', file: constantsPath });
      }
      let h = typeof px[2] === 'number' ? px[2] : NaN;
      let w = typeof px[3] === 'number' ? px[3] : NaN;
      if (!(h > 0 && w > 0)) {
        const size = (constants as { image_size?: number }).image_size;
        if (typeof size !== 'number') {
          throw new PipelineError(`vision_encoder of "${modelId}" has a symbolic input size and constants.json gives no image_size.`, { stage: 'models', kind: 'backend' });
        }
        h = w = size;
      }
      const mem = dims(l.memory_attention.session.inputMetadata.find((m) => m.name === 'memory'));
      const bin = l.memory_encoder.session.inputMetadata.find((m) => m.name === 'binarize');
      const geometry: Sam2Geometry = {
        imageSize: { width: w, height: h },
        tposTable: table.map((r) => Float32Array.from(r)),
        numMaskmem: table.length,
        memoryLength: typeof mem[0] === 'number' && mem[0] > 0 ? mem[0] : null,
        binarizeType: bin && bin.isTensor ? bin.type : 'float32',
        maxObjPtrs: maxPtrs(constants, constantsPath),
        signedPointerDistances: flag(constants, 'signed_pointer_distances', true, constantsPath),
        pointerTimeEncoding: flag(constants, 'pointer_time_encoding', true, constantsPath),
      };
      return new Sam2VideoTracker(ort, l, geometry, modelId, models.runtime.options.threads);
    } catch (err) {
      for (const lease of Object.values(leases)) {
        lease?.release();
      }
      throw err;
    }
  }

  dispose(): void {
    for (const lease of Object.values(this._leases)) {
      lease.release();
    }
    void this._pool?.dispose();
    this._pool = undefined;
    this._prep = undefined;
  }

  /**
   * The official frame loader's pre-processing: decode to 8-bit RGB, resize to the encoder size (aspect
   * NOT kept) with Pillow's default bicubic resize, then /255 and ImageNet mean/std in float32, planar
   * RGB ({@link prepareFrame}: both in one WebAssembly SIMD pass, the bits of the Pillow-exact
   * reference in test/tooling/pilResizeReference.ts). Writes into `out` when given (a buffer reused across frames), else
   * into a new array.
   */
  async preprocess(source: string | Uint8Array, out?: Float32Array): Promise<Float32Array> {
    const { width, height } = this.geometry.imageSize;
    return prepareFrame({ source, width, height, norm: NORMALISE }, out);
  }

  /** Every graph call goes through {@link runGraph} (checks the feeds, names the graph in errors). */
  private _run(key: GraphKey, feeds: Record<string, Tensor>, fetches?: readonly string[]): Promise<Record<string, Tensor>> {
    return runGraph(this._leases[key].session, { modelId: this.modelId, graph: key }, feeds, 'propagate', fetches);
  }

  /**
   * The vision_encoder outputs a visit of `frame` reads: feats2_no_mem only where an object is prompted
   * (it feeds the decoder there and nowhere else), so that the other frames do not have onnxruntime
   * copy it out (4 MB a frame for the tiny model, a new buffer each time).
   */
  private _encoderFetches(frame: number): readonly string[] | undefined {
    if (this._promptFrames.has(frame)) {
      return undefined;
    }
    const names = this._leases.vision_encoder.session.outputNames;
    return names.includes('feats2_no_mem') ? names.filter((n) => n !== 'feats2_no_mem') : undefined;
  }

  private _binarize(on: boolean): Tensor {
    const T = this._ort.Tensor;
    switch (this.geometry.binarizeType) {
      case 'bool':
        return new T('bool', Uint8Array.from([on ? 1 : 0]), []);
      case 'int64':
        return new T('int64', BigInt64Array.from([on ? 1n : 0n]), []);
      case 'int32':
        return new T('int32', Int32Array.from([on ? 1 : 0]), []);
      default:
        return new T('float32', Float32Array.from([on ? 1 : 0]), []);
    }
  }

  /** [1,C,h,w] -> [h*w,1,C] (tokens in row-major spatial order). */
  private _toTokens(t: Tensor): Tensor {
    const [, c, h, w] = t.dims;
    return new this._ort.Tensor('float32', featuresToTokens(toF32(t), c, h * w), [h * w, 1, c]);
  }

  /**
   * The position embedding as tokens. The encoder's position embedding depends on the image size
   * only, so it is usually the same every frame: when its bits equal those of the frame whose tokens
   * were made last, those tokens are reused (a compare, no transpose); otherwise they are made afresh.
   * The frame's own buffer is not kept, so it is freed young (4 MB a frame for the tiny model; kept,
   * each would outlive a scavenge and wait for a full collection).
   */
  private _posTokens(t: Tensor): Tensor {
    const f = toF32(t);
    const bits = new Uint32Array(f.buffer, f.byteOffset, f.length);
    const dims = t.dims.join('x');
    const last = this._lastPos;
    if (last && last.dims === dims && (last.bits === bits || sameBits(last.bits, bits))) {
      return last.tensor;
    }
    const tensor = this._toTokens(t);
    this._lastPos = { bits, dims, tensor };
    return tensor;
  }

  /**
   * Builds the memory bank for a frame in the official order: the selected memories (conditioning
   * ones first, then the recent ones farthest first; position + temporal row), then object pointers
   * split into tokens of the memory width (position from pointer_tpos, repeated per token); padded with
   * zeros to a fixed-length graph's size (spatial blocks first, then pointer rows). The tensors share
   * buffers the tracker rewrites in place on the next call (no [M,1,memDim] allocation per frame), and
   * only where they change. The memory tensor is a view of the token buffer that starts one block
   * further along each tracked frame ({@link slideStart}), so a recent memory's tokens stay on the block
   * they were written to until it leaves, and each position block keeps its temporal row (positions
   * are written again only when that changes, copied from the per-row sums of the shared memory
   * position); an empty block is zeroed once, and a pointer's rows are written when the pointer
   * changes or the view moved.
   */
  async assembleMemory(state: ObjectState, frameIndex: number, reverse: boolean, numFrames: number, hw: number): Promise<{ memory: Tensor; memoryPos: Tensor }> {
    const g = this.geometry;
    const memDim = g.tposTable[0].length;
    const ptrDim = state.pointers.values().next().value?.length ?? memDim;
    const tokensPerPtr = Math.max(1, Math.round(ptrDim / memDim));
    const fixed = g.memoryLength;
    const pointerSlots = fixed !== null ? Math.floor((fixed - g.numMaskmem * hw) / tokensPerPtr) : undefined;
    const sel = selectMemory({
      frameIndex,
      reverse,
      numFrames,
      condFrames: [...state.cond],
      tracked: state.tracked,
      numMaskmem: g.numMaskmem,
      maxObjPtrs: g.maxObjPtrs,
      memoryCapacity: fixed !== null ? g.numMaskmem : undefined,
      pointerCapacity: pointerSlots,
      signedPointerDistances: g.signedPointerDistances,
    });
    if (state.capped && (sel.dropped.memories > 0 || sel.dropped.pointers > 0)) {
      state.capped.frames++;
      state.capped.memories += sel.dropped.memories;
      state.capped.pointers += sel.dropped.pointers;
    }
    const memories = sel.memories.filter((m) => state.memory.has(m.frameIndex));
    const pointers = sel.pointers.filter((p) => state.pointers.has(p.frameIndex));
    const spatialRows = fixed !== null ? g.numMaskmem * hw : memories.length * hw;
    const ptrRows = fixed !== null ? fixed - spatialRows : pointers.length * tokensPerPtr;
    const total = spatialRows + ptrRows;
    // a dynamic graph's length changes while memories and pointers accumulate: room for every conditioning
    // frame plus the recent memories and pointers, so that the bank is not made again on every such frame
    const room = fixed !== null ? total : Math.max(total, (state.cond.size + g.numMaskmem - 1) * hw + (state.cond.size + g.maxObjPtrs - 1) * tokensPerPtr);
    const bank = this._memoryBank(total, room, hw, memDim, spatialRows);
    const { mem, pos, tokenBlocks, posBlocks } = bank;
    const blockSize = hw * memDim;
    const nBlocks = spatialRows / hw;
    // the run of blocks: the official order from `start` on (from block 0 when not sliding)
    const frames = memories.map((m) => m.frameIndex);
    const maxStart = Math.floor((mem.length / memDim - total) / hw);
    const start = this._slideMemory ? slideStart(state.window, frames, maxStart) : 0;
    state.window = { start, frames };
    const writeTokens = (block: number, tokens: Float32Array | null): void => {
      if (tokenBlocks[block] === tokens) {
        return;
      }
      if (tokens) {
        mem.set(tokens, block * blockSize);
      } else {
        mem.fill(0, block * blockSize, (block + 1) * blockSize);
      }
      tokenBlocks[block] = tokens;
      // pointer rows written there are gone
      if (bank.pointerRow >= 0 && block * hw < bank.pointerRow + bank.pointerRows && (block + 1) * hw > bank.pointerRow) {
        bank.pointerRow = -1;
      }
    };
    for (const [k, m] of memories.entries()) {
      const fm = state.memory.get(m.frameIndex) as FrameMemory;
      fm.pos = this._sharedMemoryPos(fm.pos, false);
      writeTokens(start + k, fm.tokens);
      const pb = posBlocks[k];
      if (pb.pos !== fm.pos || pb.tposRow !== m.tposRow) {
        this._writeMemoryPos(pos, k * blockSize, fm.pos, m.tposRow, hw);
        pb.pos = fm.pos;
        pb.tposRow = m.tposRow;
      }
    }
    // blocks past the memories: a fixed-length graph's padding, zeros; past a dynamic graph's length
    // (its pointer rows may lie there now), merely unknown
    for (let k = memories.length; k < nBlocks; k++) {
      writeTokens(start + k, null);
      if (posBlocks[k].pos || posBlocks[k].tposRow !== ZERO_ROW) {
        pos.fill(0, k * blockSize, (k + 1) * blockSize);
      }
      posBlocks[k] = { tposRow: ZERO_ROW };
    }
    for (let k = nBlocks; k < posBlocks.length; k++) {
      posBlocks[k] = { tposRow: UNKNOWN_ROW };
    }
    // SAM 2.1: each pointer's temporal position from pointer_tpos; SAM 2.0: none (zeros)
    let ptrPos: { data: Float32Array; dim: number } | undefined;
    if (pointers.length > 0 && g.pointerTimeEncoding) {
      // pointer_tpos: normalized_diffs [P] float32 -> pointer_pos [P,memDim]
      const tp = await this._run('pointer_tpos', {
        normalized_diffs: new this._ort.Tensor('float32', Float32Array.from(pointers.map((p) => p.normalized)), [pointers.length]),
      });
      ptrPos = { data: toF32(tp.pointer_pos), dim: tp.pointer_pos.dims[1] };
    }
    // pointer tokens: always the last rows, after every spatial block (the graph leaves them out of RoPE).
    // Where the run slid, the rows there may hold anything: all written (pointers, zeros after them)
    const ptrAt = start * hw + spatialRows;
    if (bank.pointerRow !== ptrAt || bank.pointerRows !== ptrRows) {
      bank.pointers = [];
      mem.fill(0, ptrAt * memDim, (ptrAt + ptrRows) * memDim);
      for (let b = Math.floor(ptrAt / hw); b * hw < ptrAt + ptrRows; b++) {
        tokenBlocks[b] = undefined;
      }
      bank.pointerRow = ptrAt;
      bank.pointerRows = ptrRows;
    }
    let row = spatialRows;
    pointers.forEach((p, k) => {
      const vec = state.pointers.get(p.frameIndex) as Float32Array;
      const changed = bank.pointers[k] !== vec;
      bank.pointers[k] = vec;
      for (let t = 0; t < tokensPerPtr; t++) {
        if (changed) {
          mem.set(vec.subarray(t * memDim, (t + 1) * memDim), (start * hw + row + t) * memDim);
        }
        if (ptrPos) {
          pos.set(ptrPos.data.subarray(k * ptrPos.dim, k * ptrPos.dim + Math.min(ptrPos.dim, memDim)), (row + t) * memDim);
        }
      }
      row += tokensPerPtr;
    });
    // rows of pointers no longer there, and positions no longer sent: zeros
    for (let k = pointers.length; k < bank.pointers.length; k++) {
      if (bank.pointers[k]) {
        mem.fill(0, (ptrAt + k * tokensPerPtr) * memDim, (ptrAt + (k + 1) * tokensPerPtr) * memDim);
      }
    }
    bank.pointers.length = pointers.length;
    const posRows = ptrPos ? pointers.length * tokensPerPtr : 0;
    if (bank.pointerPosRows > posRows) {
      pos.fill(0, (spatialRows + posRows) * memDim, (spatialRows + bank.pointerPosRows) * memDim);
    }
    bank.pointerPosRows = posRows;
    const memory = mem.subarray(start * blockSize, start * blockSize + total * memDim);
    const memoryPos = pos.length === total * memDim ? pos : pos.subarray(0, total * memDim);
    return { memory: new this._ort.Tensor('float32', memory, [total, 1, memDim]), memoryPos: new this._ort.Tensor('float32', memoryPos, [total, 1, memDim]) };
  }

  /**
   * The memory and position buffers of {@link assembleMemory}: positions for `room` rows, tokens for
   * {@link SLIDE_BLOCKS} blocks more, allocated once (again only when `rows` no longer fit) and
   * rewritten in place from frame to frame, with what each block and pointer row holds. When the
   * pointer rows start elsewhere (a dynamic graph's memory count changed), their positions are
   * written afresh.
   */
  private _memoryBank(rows: number, room: number, hw: number, memDim: number, spatialRows: number): MemoryBank {
    let b = this._bank;
    if (!b || b.hw !== hw || b.pos.length < rows * memDim) {
      const blocks = Math.ceil(room / hw);
      // new buffers are zeros
      b = {
        mem: new Float32Array((room + SLIDE_BLOCKS * hw) * memDim),
        pos: new Float32Array(room * memDim),
        hw,
        spatialRows,
        tokenBlocks: new Array<Float32Array | null | undefined>(blocks + SLIDE_BLOCKS).fill(null),
        posBlocks: Array.from({ length: blocks }, () => ({ tposRow: ZERO_ROW })),
        pointers: [],
        pointerRow: -1,
        pointerRows: 0,
        pointerPosRows: 0,
      };
      this._bank = b;
    }
    if (b.spatialRows !== spatialRows) {
      b.spatialRows = spatialRows;
      b.pointerPosRows = rows - spatialRows;
    }
    return b;
  }

  /**
   * The shared memory position when `p` holds its bits, else `p` (a copy of it when `copy`); the
   * first one seen becomes the shared one. SAM 2's memory position is a sine encoding of the feature
   * size alone (PositionEmbeddingSine), the same for every frame memory: one array then serves them
   * all (1 MB per memory for the tiny model) and its sums with the temporal rows are made once. An
   * export whose position depends on the content still works, memory by memory (a byte compare that
   * stops at the first difference).
   */
  private _sharedMemoryPos(p: Float32Array, copy: boolean): Float32Array {
    const shared = this._memPos;
    if (shared && (shared.pos === p || sameBits(new Uint32Array(shared.pos.buffer, shared.pos.byteOffset, shared.pos.length), new Uint32Array(p.buffer, p.byteOffset, p.length)))) {
      return shared.pos;
    }
    const own = copy ? Float32Array.from(p) : p;
    if (!shared || shared.pos.length !== own.length) {
      this._memPos = { pos: own, rows: [] };
    }
    return own;
  }

  /** A block's position: memory position + temporal row `tposRow`, copied from the shared position's sums when it is that one. */
  private _writeMemoryPos(dst: Float32Array, at: number, memPos: Float32Array, tposRow: number, hw: number): void {
    const tpos = this.geometry.tposTable[tposRow];
    const shared = this._memPos;
    if (shared?.pos === memPos) {
      // the same float32 sums as addRows into the bank, made once per row
      let sum = shared.rows[tposRow];
      if (!sum) {
        sum = new Float32Array(hw * tpos.length);
        addRows(sum, 0, memPos, tpos, hw, tpos.length);
        shared.rows[tposRow] = sum;
      }
      dst.set(sum, at);
      return;
    }
    addRows(dst, at, memPos, tpos, hw, tpos.length);
  }

  /**
   * Tracks one object over the video (a {@link trackObjects} run with one object). Frames are read one
   * at a time through `frameSource`; the signal is checked between frames.
   *
   * @example
   * const tracker = await Sam2VideoTracker.open(models, 'sam2.1-hiera-tiny-video');
   * for await (const r of tracker.track({ numFrames, width, height, frameSource: (i) => framePath(dir, i), prompts: [{ frameIndex: 12, box }] })) save(r);
   * tracker.dispose();
   */
  async *track(o: Sam2TrackOptions): AsyncGenerator<Sam2FrameResult, void, void> {
    const { prompts, startFrame, ...video } = o;
    for await (const r of this.trackObjects({ ...video, objects: [{ prompts, startFrame }] })) {
      yield r.result;
    }
  }

  /**
   * Tracks every object of a video together, frames outside and objects inside (the shape of the
   * official SAM2VideoPredictor): each frame is read and run through the vision encoder once, then
   * each object that needs it takes its step with its own memory bank. Each object's own results,
   * and their order, are those of tracking it alone (its prompted frames first, forward from its start
   * frame, then backward; see {@link Sam2TrackOptions.startFrame}): objects share nothing but the
   * frame features.
   *
   * The frames are visited in three sweeps ({@link frameSchedule}): the prompted frames of all objects,
   * forward from the earliest start, backward from the latest. A frame needed again in a later sweep
   * (prompted for one object, tracked by another; or between two objects' start frames) keeps its
   * features until then, at most `maxHeldFeatures` frames at a time (beyond that it is encoded again).
   * Abort is checked before every step.
   */
  async *trackObjects(o: Sam2VideoOptions): AsyncGenerator<Sam2ObjectResult, void, void> {
    const runs = o.objects.map((obj) => this._objectRun(obj, o.numFrames));
    this._runs = runs;
    this._promptFrames = new Set(runs.flatMap((r) => [...r.prompts.keys()]));
    this._held = 0;
    const schedule = frameSchedule(runs.map((r) => ({ promptFrames: [...r.prompts.keys()], start: r.start })), o.numFrames);
    const features = new FeatureStore<FrameFeatures>(schedule, o.maxHeldFeatures ?? DEFAULT_HELD_FEATURES);
    this._features = features;
    const runtime = { provider: this._provider, threads: this._threads };
    const ahead = o.prefetch ?? defaultPrefetch(runtime);
    // this run's worker threads: none without prefetch, whatever an earlier run started
    this._prep = undefined;
    if (ahead > 0) {
      const threads = Math.min(ahead, Math.max(1, o.prepThreads ?? defaultPrepThreads(runtime)));
      if (!this._pool?.alive || this._pool.size !== threads) {
        void this._pool?.dispose();
        this._pool = FramePrepPool.start(threads);
      }
      this._prep = this._pool;
    }
    const pending = new Map<number, Promise<Float32Array>>();
    // the next visit's frame, encoded ahead while this visit's graphs run (with worker threads only)
    let early: { visit: number; frame: number; features: Promise<FrameFeatures> } | undefined;
    for (const [v, visit] of schedule.entries()) {
      throwIfAborted(o.signal, 'propagate');
      const frame = visit.frame;
      if (ahead > 0) {
        // this frame and the next ones are prepared in the workers while this one's graphs run
        this._prefetch(o, schedule, v, features, pending, ahead, early?.frame);
      }
      let enc: FrameFeatures | undefined;
      for (const step of visit.steps) {
        throwIfAborted(o.signal, 'propagate');
        const run = runs[step.object];
        if (step.kind === 'replay') {
          yield { object: step.object, result: run.condResults.get(frame) as Sam2FrameResult };
          continue;
        }
        if (!enc) {
          const mine = early?.visit === v ? early.features : undefined;
          enc = await features.get(v, () => mine ?? this._frameFeatures(o, frame, pending.get(frame), false));
          early = mine ? undefined : early;
          pending.delete(frame);
          await this._settle(enc, o);
          early ??= this._encodeAhead(o, schedule, v, features, pending);
        }
        if (step.kind === 'prompt') {
          run.condResults.set(frame, await this._promptStep(run, frame, enc, o));
          continue;
        }
        const result = await this._trackStep(run, frame, step.reverse, enc, o);
        this._held = runs.reduce((n, r) => n + r.state.memory.size, 0);
        yield { object: step.object, result };
      }
      features.done(v);
      // prepared for a visit whose features turned out to be held: not needed
      pending.delete(frame);
      if (enc && !features.has(frame)) {
        // no later visit reads this frame's features: its token buffer serves the next frame
        this._releaseTokens(enc);
      }
    }
  }

  /** Checks one object's prompts and start frame; its empty state. */
  private _objectRun(obj: Sam2ObjectPrompts, numFrames: number): ObjectRun {
    if (obj.prompts.length === 0) {
      throw new PipelineError('SAM 2 needs at least one prompt box.', { stage: 'propagate', kind: 'invalid-input', field: 'prompts' });
    }
    const prompts = new Map<number, Box>();
    for (const p of obj.prompts) {
      if (!Number.isInteger(p.frameIndex) || p.frameIndex < 0 || p.frameIndex >= numFrames) {
        throw new PipelineError(`Prompt frame ${p.frameIndex} is outside the video (frames 0..${numFrames - 1}).`, { stage: 'propagate', kind: 'invalid-input', field: 'prompts' });
      }
      prompts.set(p.frameIndex, p.box);
    }
    // official default: start at the earliest prompted frame
    const start = obj.startFrame ?? Math.min(...prompts.keys());
    if (!Number.isInteger(start) || start < 0 || start >= numFrames) {
      throw new PipelineError(`Start frame ${start} is outside the video (frames 0..${numFrames - 1}).`, { stage: 'propagate', kind: 'invalid-input', field: 'startFrame' });
    }
    const keepNearStart = new Set<number>();
    for (let k = 0; k < this.geometry.numMaskmem; k++) {
      keepNearStart.add(start + k);
    }
    return {
      prompts,
      start,
      keepNearStart,
      condResults: new Map(),
      state: { cond: new Set(prompts.keys()), tracked: new Set(), memory: new Map(), pointers: new Map(), capped: { frames: 0, memories: 0, pointers: 0 } },
    };
  }

  /**
   * The frame's encoder features. `ahead`: with worker threads, its feats2 is laid out as tokens in
   * one of them ({@link FrameFeatures.settling}) while this thread runs other graphs.
   */
  private async _frameFeatures(o: Sam2VideoOptions, frame: number, prepared: Promise<Float32Array> | undefined, ahead: boolean): Promise<FrameFeatures> {
    const enc: FrameFeatures = { frame, out: await this._encode(o, frame, prepared) };
    const prep = this._prep;
    if (ahead && prep?.alive) {
      const f2 = enc.out.feats2;
      const [, c, h, w] = f2.dims;
      const buffer = this._tokenBuffer(c * h * w);
      enc.settling = prep.transpose({ features: toF32(f2), c, hw: h * w, out: buffer }).then(({ tokens, features }) => {
        enc.out.feats2 = new this._ort.Tensor('float32', features, f2.dims);
        enc.tokens = { features: new this._ort.Tensor('float32', tokens, [h * w, 1, c]), pos: this._posTokens(enc.out.vision_pos_embed), hw: h * w, buffer: tokens };
      });
      // awaited by the visit (_settle); until then a failure is held, not reported as unhandled
      enc.settling.catch(() => undefined);
    }
    return enc;
  }

  /**
   * Encodes the next visit that needs its frame's features (not held, not the frame of visit `v`)
   * now, so that its feats2 is laid out in a worker thread while visit `v`'s graphs run: the tokens
   * are then ready when that visit comes, instead of taking this thread ~2 ms (the tiny model's 4 MB)
   * between graphs. Only with live worker threads. A failure is kept in the promise: it surfaces when
   * that visit comes, as it would have then.
   */
  private _encodeAhead(o: Sam2VideoOptions, schedule: readonly FrameVisit[], v: number, features: FeatureStore<FrameFeatures>, pending: Map<number, Promise<Float32Array>>): { visit: number; frame: number; features: Promise<FrameFeatures> } | undefined {
    const prep = this._prep;
    if (!prep?.alive) {
      return undefined;
    }
    const u = schedule.findIndex((visit, k) => k > v && visit.steps.some((s) => s.kind !== 'replay'));
    const frame = u < 0 ? -1 : schedule[u].frame;
    if (u < 0 || frame === schedule[v].frame || features.has(frame)) {
      return undefined;
    }
    const S = this.geometry.imageSize;
    const prepared =
      pending.get(frame) ??
      Promise.resolve()
        .then(() => o.frameSource(frame))
        .then((source) => prep.prepare({ source, width: S.width, height: S.height, norm: NORMALISE }));
    prepared.catch(() => undefined);
    pending.delete(frame);
    const p = this._frameFeatures(o, frame, prepared, true);
    p.catch(() => undefined);
    return { visit: u, frame, features: p };
  }

  /** A worker's result; when the worker threads stopped meanwhile, `here()` in this thread instead. */
  private async _orHere<T>(fromWorker: Promise<T>, here: () => T | Promise<T>): Promise<T> {
    try {
      return await fromWorker;
    } catch (err) {
      if (this._prep?.alive !== false) {
        throw err;
      }
      return here();
    }
  }

  /**
   * Waits for the frame's tokens from the worker thread. A worker that died took feats2 with it: the
   * frame is then encoded again in this thread (same values).
   */
  private async _settle(enc: FrameFeatures, o: Sam2VideoOptions): Promise<void> {
    const settling = enc.settling;
    if (!settling) {
      return;
    }
    try {
      await this._orHere(settling, async () => {
        enc.out = await this._encode(o, enc.frame);
        enc.tokens = undefined;
      });
    } finally {
      enc.settling = undefined;
    }
  }

  /**
   * vision_encoder: pixel_values [1,3,H,W] float32 (H x W = geometry.imageSize) -> feats0 [1,C0,H/4,W/4],
   * feats1 [1,C1,H/8,W/8], feats2 and feats2_no_mem [1,C2,h,w], vision_pos_embed [1,C2,h,w]
   * (h x w = H/16 x W/16; the tiny model: 32, 64, 256 channels at 256, 128, 64 px).
   */
  private async _encode(o: Sam2VideoOptions, frame: number, prepared?: Promise<Float32Array>): Promise<Record<string, Tensor>> {
    const S = this.geometry.imageSize;
    let pixels: Float32Array | undefined;
    if (prepared) {
      try {
        pixels = await prepared;
      } catch (err) {
        // a frame that cannot be read fails the run; a worker that died leaves the work to this thread
        if (this._prep?.alive !== false) {
          throw err;
        }
      }
    }
    if (pixels) {
      const out = await this._run('vision_encoder', { pixel_values: new this._ort.Tensor('float32', pixels, [1, 3, S.height, S.width]) }, this._encoderFetches(frame));
      // the graph has read it: back to the workers for a later frame (no new 12 MB array per frame)
      this._prep?.recycle(pixels);
      return out;
    }
    // else prepared here, no copy: the values stay in the resize module's memory, reserved until the
    // graph has read them (the run resolves), whatever else resizes on this thread meanwhile (a frame
    // encoded ahead whose worker stopped, a frame grid of another cell)
    const { pixels: here, release } = await prepareFrameLeased({ source: await o.frameSource(frame), width: S.width, height: S.height, norm: NORMALISE });
    try {
      return await this._run('vision_encoder', { pixel_values: new this._ort.Tensor('float32', here, [1, 3, S.height, S.width]) }, this._encoderFetches(frame));
    } finally {
      release();
    }
  }

  /**
   * Frames prepared ahead in the worker thread ({@link Sam2VideoOptions.prefetch}): from visit `from`
   * on, the next frames that will be encoded (features not held, a step that is not a replay), at most
   * `ahead` in flight. A failure is kept in its promise and surfaces when that frame is encoded.
   */
  private _prefetch(o: Sam2VideoOptions, schedule: readonly FrameVisit[], from: number, features: FeatureStore<FrameFeatures>, pending: Map<number, Promise<Float32Array>>, ahead: number, encoded?: number): void {
    const prep = this._prep;
    if (!prep?.alive) {
      return;
    }
    const S = this.geometry.imageSize;
    for (let u = from; u < schedule.length && pending.size < ahead; u++) {
      const f = schedule[u].frame;
      if (pending.has(f) || f === encoded || features.has(f) || schedule[u].steps.every((s) => s.kind === 'replay')) {
        continue;
      }
      // a frame source that throws fails that frame's promise, not the frame being visited
      const p = Promise.resolve()
        .then(() => o.frameSource(f))
        .then((source) => prep.prepare({ source, width: S.width, height: S.height, norm: NORMALISE }));
      p.catch(() => undefined);
      pending.set(f, p);
    }
  }

  /**
   * A prompted frame: mask_decoder on feats2_no_mem (no memory) with the box as two points labelled
   * 2 and 3, then the memory encoder with binarize on.
   */
  private async _promptStep(run: ObjectRun, i: number, enc: FrameFeatures, o: Sam2VideoOptions): Promise<Sam2FrameResult> {
    const T = this._ort.Tensor;
    const S = this.geometry.imageSize;
    const box = run.prompts.get(i) as Box;
    const sx = S.width / o.width;
    const sy = S.height / o.height;
    // mask_decoder: feats0 [1,C0,4h,4w], feats1 [1,C1,2h,2w], feats2_cond [1,C2,h,w], input_points
    // [1,1,P,2] float32 (model pixels), input_labels [1,1,P] int32 -> low_res_mask [1,1,4h,4w],
    // high_res_mask [1,1,H,W], iou [1,1], object_score_logits [1,1,1], object_pointer [1,1,C2]
    const dec = await this._run('mask_decoder', {
      feats0: enc.out.feats0,
      feats1: enc.out.feats1,
      feats2_cond: enc.out.feats2_no_mem,
      input_points: new T('float32', Float32Array.from([box.x0 * sx, box.y0 * sy, box.x1 * sx, box.y1 * sy]), [1, 1, 2, 2]),
      input_labels: new T('int32', Int32Array.from([2, 3]), [1, 1, 2]),
    });
    return this._finish(run.state, i, enc, dec, true, o);
  }

  /**
   * A tracked frame: memory attention over the memories and pointers {@link selectMemory} picks, the
   * decoder without a prompt, the memory encoder; then the memories no later frame can select are dropped.
   */
  private async _trackStep(run: ObjectRun, i: number, reverse: boolean, enc: FrameFeatures, o: Sam2VideoOptions): Promise<Sam2FrameResult> {
    const T = this._ort.Tensor;
    const state = run.state;
    const tokens = this._tokens(enc);
    const { memory, memoryPos } = await this.assembleMemory(state, i, reverse, o.numFrames, tokens.hw);
    // memory_attention: current_vision_features and current_vision_position_embeddings [h*w,1,C2],
    // memory and memory_pos [M,1,memDim] (M = memories x h*w + pointer tokens; fixed or dynamic)
    // -> conditioned_feats [1,C2,h,w]
    const ma = await this._run('memory_attention', {
      current_vision_features: tokens.features,
      current_vision_position_embeddings: tokens.pos,
      memory,
      memory_pos: memoryPos,
    });
    // mask_decoder as on a prompted frame, on the conditioned features; no prompt on this frame: one
    // padding point [1,1,1,2] with label -1 [1,1,1]
    const dec = await this._run('mask_decoder', {
      feats0: enc.out.feats0,
      feats1: enc.out.feats1,
      feats2_cond: ma.conditioned_feats,
      input_points: new T('float32', new Float32Array(2), [1, 1, 1, 2]),
      input_labels: new T('int32', Int32Array.from([-1]), [1, 1, 1]),
    });
    const result = await this._finish(state, i, enc, dec, false, o);
    state.tracked.add(i);
    // bounded memory: after frame i the next frame needs at most numMaskmem-1 frames behind it in
    // the direction of travel; the backward pass still needs the first frames after the start
    const reach = this.geometry.numMaskmem - 1;
    const drop = reverse ? i + reach : i - reach;
    if (!state.cond.has(drop) && (reverse || !run.keepNearStart.has(drop))) {
      state.memory.delete(drop);
    }
    if (reverse && i === run.start - 1) {
      for (const k of run.keepNearStart) {
        if (!state.cond.has(k) && k >= i + reach) {
          state.memory.delete(k);
        }
      }
    }
    return result;
  }

  /**
   * Stores the frame's memory and object pointer; the mask at video size and its RLE. With worker
   * threads, a tracked frame's hole filling, upsampling and RLE run in one of them while the memory
   * encoder runs here (a copy of the logits travels, so that a worker that stops leaves the work to
   * this thread); a prompted frame's memory needs the filled logits first, so it stays here.
   */
  private async _finish(state: ObjectState, i: number, enc: FrameFeatures, dec: Record<string, Tensor>, conditioning: boolean, o: Sam2VideoOptions): Promise<Sam2FrameResult> {
    const T = this._ort.Tensor;
    const score = toF32(dec.object_score_logits)[0];
    const osl = new T('float32', Float32Array.from([score]), [1, 1]);
    const low = dec.low_res_mask;
    const [lh, lw] = [low.dims[2], low.dims[3]];
    const fillArea = o.fillHoleArea ?? 8;
    // the predictor stores (and shows) the low-res logits after hole filling, here in place: the
    // decoder's output buffer is this run's own and is read nowhere else
    const logits = toF32(low);
    const prep = this._prep;
    let post: Promise<FrameMask> | undefined;
    if (!conditioning && prep?.alive) {
      post = prep.finishMask({ logits: logits.slice(), width: lw, height: lh, fillHoleArea: fillArea, present: score > 0, videoWidth: o.width, videoHeight: o.height });
      post.catch(() => undefined);
    } else {
      fillHoles(logits, lw, lh, fillArea);
    }
    let memMask = dec.high_res_mask;
    if (conditioning) {
      // a prompted frame's memory is encoded (propagate_in_video_preflight) from its stored low-res
      // logits, hole-filled, upsampled bilinearly to the model size, binarized for box prompts
      const [hh, hw2] = [dec.high_res_mask.dims[2], dec.high_res_mask.dims[3]];
      memMask = new T('float32', resizeBilinear(logits, lw, lh, hw2, hh), [1, 1, hh, hw2]);
    }
    // memory_encoder: feats2 [1,C2,h,w], high_res_mask [1,1,H,W], object_score_logits [1,1], binarize
    // [] (float32, bool, int32 or int64 as the export declares) -> memory_tokens and memory_pos [h*w,1,memDim]
    const me = await this._run('memory_encoder', { feats2: enc.out.feats2, high_res_mask: memMask, object_score_logits: osl, binarize: this._binarize(conditioning) });
    // the position is kept once for all memories when it is the same every frame (SAM 2: size only)
    state.memory.set(i, { tokens: owned(toF32(me.memory_tokens)), pos: this._sharedMemoryPos(toF32(me.memory_pos), true) });
    state.pointers.set(i, owned(toF32(dec.object_pointer)));
    const done = post ? await this._orHere(post, () => finishMask(logits, lw, lh, fillArea, score > 0, o.width, o.height)) : { logits, ...maskOutputs(logits, lw, lh, score > 0, o.width, o.height) };
    return {
      frameIndex: i,
      mask: done.mask,
      rle: done.rle,
      objectScore: score,
      conditioning,
      lowRes: { logits: done.logits, width: lw, height: lh },
    };
  }

  /**
   * The frame's feats2 and position embedding as tokens, made once per frame for every object. The
   * feats2 tokens go into a pooled buffer: a frame's tokens live as long as the feature store holds
   * the frame (several frames at a time in a multi-object run), and {@link _releaseTokens} hands the
   * buffer back when it lets the frame go, so a single-object run transposes into the same 4 MB every
   * frame instead of allocating (and zeroing) a new one.
   */
  private _tokens(enc: FrameFeatures): FrameTokens {
    if (!enc.tokens) {
      const f2 = enc.out.feats2;
      const [, c, h, w] = f2.dims;
      const buffer = featuresToTokens(toF32(f2), c, h * w, this._tokenBuffer(c * h * w));
      enc.tokens = {
        features: new this._ort.Tensor('float32', buffer, [h * w, 1, c]),
        pos: this._posTokens(enc.out.vision_pos_embed),
        hw: h * w,
        buffer,
      };
    }
    return enc.tokens;
  }

  /** A token buffer of `size` values from the pool, or a new one. */
  private _tokenBuffer(size: number): Float32Array {
    let buffer = this._tokenPool.pop();
    while (buffer && buffer.length !== size) {
      buffer = this._tokenPool.pop();
    }
    return buffer ?? new Float32Array(size);
  }

  /** The frame's token buffer back to the pool (its graph runs are over; nothing reads it again). */
  private _releaseTokens(enc: FrameFeatures): void {
    if (enc.tokens) {
      if (this._tokenPool.length < MAX_POOLED_TOKEN_BUFFERS) {
        this._tokenPool.push(enc.tokens.buffer);
      }
      enc.tokens = undefined;
    }
  }

  private _held = 0;
  /** The worker threads, started by the first run that prefetches and kept for later runs. */
  private _pool?: FramePrepPool;
  /** The current run's worker threads ({@link _pool} when it prefetches, else none). */
  private _prep?: FramePrepPool;
  /** Token buffers of frames let go, for the next frames' feats2 tokens ({@link _tokens}). */
  private _tokenPool: Float32Array[] = [];
  private _bank?: MemoryBank;
  /** The memory position shared by the frame memories, and its sums with each temporal row ({@link _sharedMemoryPos}). */
  private _memPos?: { pos: Float32Array; rows: Array<Float32Array | undefined> };
  /**
   * Memory blocks slide along the bank ({@link slideStart}); false: from block 0 every frame (the same
   * feeds; a block is written whenever its memory changes), for the tests that compare the two.
   */
  private _slideMemory = true;
  private _lastPos?: { bits: Uint32Array; dims: string; tensor: Tensor };
  private _runs: ObjectRun[] = [];
  /** The frames any object of the current run is prompted on ({@link _encoderFetches}). */
  private _promptFrames = new Set<number>();
  private _features?: FeatureStore<FrameFeatures>;

  /**
   * How often the last run had to leave memories / pointers out because the memory_attention graph
   * has a fixed length (the official predictor would have attended to them), over all its objects.
   * Zero with a dynamic export.
   */
  get capped(): CappedCounts {
    const sum = { frames: 0, memories: 0, pointers: 0 };
    for (const r of this._runs) {
      sum.frames += r.state.capped?.frames ?? 0;
      sum.memories += r.state.capped?.memories ?? 0;
      sum.pointers += r.state.capped?.pointers ?? 0;
    }
    return sum;
  }

  /** {@link capped} for one object (its index in the last run's `objects`). */
  cappedOf(object: number): CappedCounts {
    const c = this._runs[object]?.state.capped;
    return c ? { ...c } : { frames: 0, memories: 0, pointers: 0 };
  }

  /** Frame memories held, all objects together, after the last tracked frame (bounded-memory checks). */
  get heldMemories(): number {
    return this._held;
  }

  /** Most frames whose encoder features the last run held at once, the frame being processed included. */
  get peakHeldFeatures(): number {
    return this._features?.peak ?? 0;
  }
}

/** Memories and pointers a fixed-length memory graph left out (see {@link Sam2VideoTracker.capped}). */
export interface CappedCounts {
  frames: number;
  memories: number;
  pointers: number;
}

/**
 * The note for a track whose memory was capped ({@link Sam2VideoTracker.capped}), with the tracker's
 * real numbers; undefined when nothing was left out. Shared by the propagate stage and
 * `alref propagate`. `objectId` names the object when a run tracks several.
 *
 * @example
 * const note = cappedNote(tracker, tracker.cappedOf(k), 2); // object 2, the k-th of the run
 */
export function cappedNote(tracker: Pick<Sam2VideoTracker, 'geometry' | 'modelId'>, c: CappedCounts, objectId?: number): string | undefined {
  if (c.frames === 0) {
    return undefined;
  }
  const g = tracker.geometry;
  const recent = g.numMaskmem - 1;
  return (
    `SAM 2 "${tracker.modelId}" has a fixed memory length${g.memoryLength !== null ? ` (${g.memoryLength} memory tokens, ${g.numMaskmem} frame memories)` : ''}: ` +
    `${objectId !== undefined ? `for object ${objectId}, ` : ''}on ${c.frames} frame(s) ${c.memories} memories and ${c.pointers} object pointers the official predictor uses were left out ` +
    `(kept: up to ${recent} recent ${recent === 1 ? 'memory' : 'memories'} and the prompted frames closest in time). ` +
    'Use an export with a dynamic memory length (tools/sam2-export --memory dynamic) to keep them all.'
  );
}
