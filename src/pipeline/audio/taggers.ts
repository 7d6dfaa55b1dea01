import type { InferenceSession } from 'onnxruntime-node';
import { PipelineError, throwIfAborted } from '../errors';
import type { TaggerFrontend } from '../models/audioManifest';
import { loadOrt, runGraph } from '../models/runtime';
import { kaldiFbank, normalizeBeatsFbank, scaleToInt16Range } from './fbank';

/**
 * An AudioSet tagger: mono samples at {@link AudioTagger.sampleRate} in, one score vector per window
 * out (probabilities in [0, 1], one per class).
 */
export interface AudioTagger {
  /** Model id (manifest id or file name). */
  readonly id: string;
  readonly frontend: TaggerFrontend;
  readonly sampleRate: number;
  /** Number of classes the graph returns (known after the first run, else from the graph). */
  readonly classes: number | undefined;
  /**
   * Scores of each window. All windows must have the same length; callers pad (see
   * {@link prepareWindows}).
   */
  tagWindows(windows: Float32Array[], signal?: AbortSignal): Promise<Float32Array[]>;
}

/** Windows tagged per onnxruntime call. */
const BATCH = 16;

/** Shortest window fed to a tagger, seconds; shorter clips are looped up to it. */
const MIN_TAGGER_SECONDS = 1;

interface GraphIo {
  input: string;
  output: string;
  /** Fixed sizes of the input's non-batch dims, when the graph declares them. */
  fixedDims: Array<number | null>;
}

function describeIo(session: InferenceSession, id: string, rank: number): GraphIo {
  const meta = (session as unknown as { inputMetadata?: Array<{ name: string; isTensor?: boolean; shape?: ReadonlyArray<number | string> }> }).inputMetadata;
  const inputs = session.inputNames;
  if (inputs.length !== 1 || session.outputNames.length < 1) {
    throw new PipelineError(
      `Audio tagger "${id}" has ${inputs.length} inputs and ${session.outputNames.length} outputs; a tagger graph takes one input (${rank === 2 ? 'samples [W,N]' : 'fbank [W,T,128]'}) and returns scores [W,527].`,
      { stage: 'lbru', kind: 'backend', field: id },
    );
  }
  const shape = meta?.find((m) => m.name === inputs[0])?.shape;
  if (shape && shape.length > 0 && shape.length !== rank) {
    throw new PipelineError(
      `Audio tagger "${id}": input "${inputs[0]}" has rank ${shape.length} [${shape.join(',')}], expected ${rank === 2 ? 'samples [W,N] (rank 2)' : 'fbank [W,T,128] (rank 3)'}. Check the tagger's input kind.`,
      { stage: 'lbru', kind: 'backend', field: id },
    );
  }
  const fixedDims = shape && shape.length === rank ? shape.slice(1).map((d) => (typeof d === 'number' && d > 0 ? d : null)) : Array(rank - 1).fill(null);
  return { input: inputs[0], output: session.outputNames[0], fixedDims };
}

function toProbabilities(values: Float32Array, mode: TaggerFrontend['output']): Float32Array {
  let logits = mode === 'logits';
  if (mode === 'auto') {
    for (const v of values) {
      if (v < 0 || v > 1) {
        logits = true;
        break;
      }
    }
  }
  if (!logits) {
    return values;
  }
  return values.map((v) => 1 / (1 + Math.exp(-v)));
}

/** Loops `samples` (or pads with zeros when empty) to exactly `length`, or cuts it. */
export function fitLength(samples: Float32Array, length: number): Float32Array {
  if (samples.length === length) {
    return samples;
  }
  const out = new Float32Array(length);
  if (samples.length === 0) {
    return out;
  }
  if (samples.length > length) {
    out.set(samples.subarray(0, length));
    return out;
  }
  for (let i = 0; i < length; i += samples.length) {
    out.set(samples.subarray(0, Math.min(samples.length, length - i)), i);
  }
  return out;
}

abstract class OnnxTagger implements AudioTagger {
  protected readonly _io: GraphIo;
  private _classes: number | undefined;

  constructor(readonly id: string, protected readonly _session: InferenceSession, readonly frontend: TaggerFrontend, rank: number) {
    this._io = describeIo(_session, id, rank);
  }

  get sampleRate(): number {
    return this.frontend.sampleRate;
  }

  get classes(): number | undefined {
    return this._classes;
  }

  protected abstract _tensor(batch: Float32Array[]): Promise<{ data: Float32Array; dims: number[] }>;

  async tagWindows(windows: Float32Array[], signal?: AbortSignal): Promise<Float32Array[]> {
    if (windows.length === 0) {
      return [];
    }
    const n = windows[0].length;
    if (windows.some((w) => w.length !== n)) {
      throw new PipelineError('Audio tagger windows must all have the same length.', { stage: 'lbru', kind: 'backend' });
    }
    const ort = await loadOrt();
    const out: Float32Array[] = [];
    for (let b = 0; b < windows.length; b += BATCH) {
      throwIfAborted(signal, 'lbru');
      const batch = windows.slice(b, b + BATCH);
      const { data, dims } = await this._tensor(batch);
      // samples [W,N] or fbank [W,T,128] float32 -> scores [W,C]
      const result = await runGraph(this._session, { modelId: this.id, graph: 'model' }, { [this._io.input]: new ort.Tensor('float32', data, dims) }, 'lbru');
      const t = result[this._io.output] as { data: unknown; dims: readonly number[] };
      const rows = batch.length;
      const flat = t.data instanceof Float32Array ? t.data : Float32Array.from(t.data as ArrayLike<number>);
      if (t.dims.length !== 2 || t.dims[0] !== rows) {
        throw new PipelineError(
          `Audio tagger "${this.id}" returned "${this._io.output}" of shape [${t.dims.join(',')}] for ${rows} windows; expected [${rows}, classes].`,
          { stage: 'lbru', kind: 'backend', field: this.id },
        );
      }
      const c = t.dims[1];
      this._classes = c;
      const probs = toProbabilities(flat, this.frontend.output);
      for (let r = 0; r < rows; r++) {
        out.push(probs.slice(r * c, (r + 1) * c));
      }
    }
    return out;
  }
}

/** A tagger whose graph takes the waveform: samples [W,N] -> scores [W,C] (EfficientAT, PANNs). */
export class WaveformTagger extends OnnxTagger {
  constructor(id: string, session: InferenceSession, frontend: TaggerFrontend) {
    super(id, session, frontend, 2);
  }

  protected async _tensor(batch: Float32Array[]): Promise<{ data: Float32Array; dims: number[] }> {
    const fixed = this._io.fixedDims[0];
    const n = fixed ?? batch[0].length;
    const data = new Float32Array(batch.length * n);
    batch.forEach((w, i) => data.set(fitLength(w, n), i * n));
    return { data, dims: [batch.length, n] };
  }
}

/**
 * BEATs exported to ONNX: the host computes the Kaldi fbank (x 2^15, 128 bins, 16 kHz, 25/10 ms,
 * povey) and the BEATs normalisation; the graph maps fbank [W,T,128] -> scores [W,C].
 */
export class FbankTagger extends OnnxTagger {
  constructor(id: string, session: InferenceSession, frontend: TaggerFrontend) {
    super(id, session, frontend, 3);
  }

  protected async _tensor(batch: Float32Array[]): Promise<{ data: Float32Array; dims: number[] }> {
    const bins = this._io.fixedDims[1] ?? 128;
    const feats = batch.map((w) => normalizeBeatsFbank(kaldiFbank(scaleToInt16Range(w), { sampleRate: this.sampleRate, numMelBins: bins })));
    const fixedT = this._io.fixedDims[0];
    const t = fixedT ?? feats[0].frames;
    if (t === 0) {
      throw new PipelineError(`Audio tagger "${this.id}": the clip is shorter than one 25 ms fbank frame.`, { stage: 'lbru', kind: 'invalid-input' });
    }
    const data = new Float32Array(batch.length * t * bins);
    feats.forEach((f, i) => {
      // A fixed-length graph gets the fbank cut or zero-padded (after normalisation) to its length.
      data.set(f.data.subarray(0, Math.min(f.frames, t) * bins), i * t * bins);
    });
    return { data, dims: [batch.length, t, bins] };
  }
}

/**
 * Builds the tagger for a session. Without a known front-end (a user model), the graph's input rank
 * decides: rank 2 is a waveform tagger at `fallbackSampleRate`, rank 3 a BEATs-style fbank tagger at 16 kHz.
 */
export function createTagger(id: string, session: InferenceSession, frontend?: TaggerFrontend, fallbackSampleRate = 32000): AudioTagger {
  let fe = frontend;
  if (!fe) {
    const meta = (session as unknown as { inputMetadata?: Array<{ name: string; shape?: ReadonlyArray<number | string> }> }).inputMetadata;
    const rank = meta?.[0]?.shape?.length ?? 2;
    fe = rank === 3 ? { input: 'fbank', sampleRate: 16000, output: 'auto' } : { input: 'waveform', sampleRate: fallbackSampleRate, output: 'auto' };
  }
  return fe.input === 'fbank' ? new FbankTagger(id, session, fe) : new WaveformTagger(id, session, fe);
}

/**
 * Cuts `samples` into windows of `windowSec` (the last one looped to full length) for per-window
 * tagging; a clip shorter than a window gives one looped window.
 */
export function prepareWindows(samples: Float32Array, sampleRate: number, windowSec: number): Float32Array[] {
  const n = Math.max(1, Math.round(windowSec * sampleRate));
  const count = Math.max(1, Math.ceil(samples.length / n - 1e-9));
  const out: Float32Array[] = [];
  for (let w = 0; w < count; w++) {
    out.push(fitLength(samples.subarray(w * n, Math.min(samples.length, (w + 1) * n)), n));
  }
  return out;
}

/**
 * Clip-level scores: the whole clip in one window (looped up to {@link MIN_TAGGER_SECONDS} when
 * shorter), as the reference code tags the whole clip at once.
 */
export async function tagClip(tagger: AudioTagger, samples: Float32Array, signal?: AbortSignal): Promise<{ scores: Float32Array; looped: boolean }> {
  const min = Math.round(MIN_TAGGER_SECONDS * tagger.sampleRate);
  const looped = samples.length < min;
  const [scores] = await tagger.tagWindows([looped ? fitLength(samples, min) : samples], signal);
  return { scores, looped };
}
