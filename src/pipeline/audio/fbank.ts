import { Fft } from './fft';

/**
 * Options of {@link kaldiFbank}. Defaults follow Kaldi's `compute-fbank-feats` (and
 * `torchaudio.compliance.kaldi.fbank`) except `numMelBins`, which defaults to the 128 bins BEATs uses.
 */
export interface FbankOptions {
  /** Samples per second of the input. Default 16000. */
  sampleRate?: number;
  /** Number of triangular mel filters. Default 128. */
  numMelBins?: number;
  /** Frame (window) length in milliseconds. Default 25. */
  frameLengthMs?: number;
  /** Frame shift in milliseconds. Default 10. */
  frameShiftMs?: number;
  /** Pre-emphasis coefficient; 0 disables it. Default 0.97. */
  preemphasis?: number;
  /** Subtract each frame's mean before pre-emphasis. Default true. */
  removeDcOffset?: boolean;
  /** Window function. Default `povey` (Hann with exponent 0.85). */
  window?: 'povey' | 'hann' | 'hamming' | 'rectangular';
  /** Lowest mel filter edge, Hz. Default 20. */
  lowFreq?: number;
  /** Highest mel filter edge, Hz; <= 0 means Nyquist + highFreq. Default 0. */
  highFreq?: number;
  /** Zero-pad each frame to the next power of two before the FFT. Default true. */
  roundToPowerOfTwo?: boolean;
  /** Power spectrum (true) or magnitude (false). Default true. */
  usePower?: boolean;
  /** Natural log of the filter energies, floored at float32 epsilon. Default true. */
  useLog?: boolean;
}

/** A feature matrix, row-major `[frames, bins]`. */
export interface FeatureMatrix {
  frames: number;
  bins: number;
  data: Float32Array;
}

/** float32 machine epsilon: Kaldi's (and torchaudio's) floor before the log. */
export const FLOAT32_EPSILON = 1.1920928955078125e-7;

/** BEATs fbank normalisation constants (mean, std) from the BEATs pre-processing. */
export const BEATS_FBANK_MEAN = 15.41663;
export const BEATS_FBANK_STD = 6.55582;

interface Resolved {
  sampleRate: number;
  numMelBins: number;
  windowSize: number;
  windowShift: number;
  paddedSize: number;
  preemphasis: number;
  removeDcOffset: boolean;
  usePower: boolean;
  useLog: boolean;
  window: Float64Array;
  /** Sparse mel filters: for filter m, weights over FFT bins [start[m], start[m] + weights[m].length). */
  filterStart: Int32Array;
  filterWeights: Float64Array[];
  fft: Fft;
}

const cache = new Map<string, Resolved>();

function melScale(hz: number): number {
  return 1127 * Math.log(1 + hz / 700);
}

function resolve(options: FbankOptions): Resolved {
  const sampleRate = options.sampleRate ?? 16000;
  const numMelBins = options.numMelBins ?? 128;
  const frameLengthMs = options.frameLengthMs ?? 25;
  const frameShiftMs = options.frameShiftMs ?? 10;
  const windowKind = options.window ?? 'povey';
  const lowFreq = options.lowFreq ?? 20;
  const highFreqOpt = options.highFreq ?? 0;
  const roundPow2 = options.roundToPowerOfTwo ?? true;
  const key = JSON.stringify([sampleRate, numMelBins, frameLengthMs, frameShiftMs, windowKind, lowFreq, highFreqOpt, roundPow2]);
  const hit = cache.get(key);
  const rest = {
    preemphasis: options.preemphasis ?? 0.97,
    removeDcOffset: options.removeDcOffset ?? true,
    usePower: options.usePower ?? true,
    useLog: options.useLog ?? true,
  };
  if (hit) {
    return { ...hit, ...rest };
  }
  if (!(sampleRate > 0) || !Number.isInteger(numMelBins) || numMelBins < 1) {
    throw new RangeError(`Invalid fbank options: sampleRate ${sampleRate}, numMelBins ${numMelBins}.`);
  }
  // Kaldi truncates: int(sample_rate * ms * 0.001).
  const windowSize = Math.trunc(sampleRate * frameLengthMs * 0.001);
  const windowShift = Math.trunc(sampleRate * frameShiftMs * 0.001);
  if (windowSize < 2 || windowShift < 1) {
    throw new RangeError(`Frame length ${frameLengthMs} ms / shift ${frameShiftMs} ms is too short at ${sampleRate} Hz.`);
  }
  const paddedSize = roundPow2 ? 2 ** Math.ceil(Math.log2(windowSize)) : windowSize;
  if ((paddedSize & (paddedSize - 1)) !== 0) {
    throw new RangeError(`This filterbank needs a power-of-two FFT; set roundToPowerOfTwo (window ${windowSize} samples).`);
  }

  const window = new Float64Array(windowSize);
  const a = (2 * Math.PI) / (windowSize - 1);
  for (let i = 0; i < windowSize; i++) {
    const hann = 0.5 - 0.5 * Math.cos(a * i);
    switch (windowKind) {
      case 'povey': window[i] = Math.pow(hann, 0.85); break;
      case 'hann': window[i] = hann; break;
      case 'hamming': window[i] = 0.54 - 0.46 * Math.cos(a * i); break;
      case 'rectangular': window[i] = 1; break;
    }
  }

  const nyquist = sampleRate / 2;
  const highFreq = highFreqOpt <= 0 ? nyquist + highFreqOpt : highFreqOpt;
  if (!(lowFreq >= 0 && lowFreq < highFreq && highFreq <= nyquist)) {
    throw new RangeError(`Invalid mel range: lowFreq ${lowFreq} Hz, highFreq ${highFreq} Hz (Nyquist ${nyquist} Hz).`);
  }
  const numFftBins = paddedSize / 2;
  const binWidth = sampleRate / paddedSize;
  const melLow = melScale(lowFreq);
  const melHigh = melScale(highFreq);
  const delta = (melHigh - melLow) / (numMelBins + 1);
  const filterStart = new Int32Array(numMelBins);
  const filterWeights: Float64Array[] = [];
  for (let m = 0; m < numMelBins; m++) {
    const left = melLow + m * delta;
    const center = melLow + (m + 1) * delta;
    const right = melLow + (m + 2) * delta;
    const w = new Float64Array(numFftBins);
    let first = -1;
    let last = -1;
    // The Nyquist bin (index numFftBins) always gets weight 0, as in Kaldi.
    for (let k = 0; k < numFftBins; k++) {
      const mel = melScale(binWidth * k);
      const up = (mel - left) / (center - left);
      const down = (right - mel) / (right - center);
      const v = Math.max(0, Math.min(up, down));
      if (v > 0) {
        if (first < 0) {
          first = k;
        }
        last = k;
      }
      w[k] = v;
    }
    if (first < 0) {
      filterStart[m] = 0;
      filterWeights.push(new Float64Array(0));
    } else {
      filterStart[m] = first;
      filterWeights.push(w.slice(first, last + 1));
    }
  }
  const resolved: Resolved = {
    sampleRate, numMelBins, windowSize, windowShift, paddedSize, window, filterStart, filterWeights,
    fft: new Fft(paddedSize), ...rest,
  };
  cache.set(key, resolved);
  return resolved;
}

/** Number of frames Kaldi produces for `numSamples` samples (snip_edges = true): 0 when shorter than a window. */
export function fbankFrameCount(numSamples: number, options: FbankOptions = {}): number {
  const sampleRate = options.sampleRate ?? 16000;
  const windowSize = Math.trunc(sampleRate * (options.frameLengthMs ?? 25) * 0.001);
  const windowShift = Math.trunc(sampleRate * (options.frameShiftMs ?? 10) * 0.001);
  return numSamples < windowSize ? 0 : 1 + Math.floor((numSamples - windowSize) / windowShift);
}

/**
 * Prepares one frame in place the way Kaldi does: DC removal, pre-emphasis (the first sample
 * is its own predecessor), window, zero padding up to the FFT size.
 */
function prepareFrame(wave: Float32Array, offset: number, r: Resolved, out: Float64Array): void {
  const n = r.windowSize;
  let mean = 0;
  if (r.removeDcOffset) {
    for (let i = 0; i < n; i++) {
      mean += wave[offset + i];
    }
    mean /= n;
  }
  const c = r.preemphasis;
  if (c !== 0) {
    for (let i = n - 1; i > 0; i--) {
      out[i] = (wave[offset + i] - mean) - c * (wave[offset + i - 1] - mean);
    }
    const first = wave[offset] - mean;
    out[0] = first - c * first;
  } else {
    for (let i = 0; i < n; i++) {
      out[i] = wave[offset + i] - mean;
    }
  }
  for (let i = 0; i < n; i++) {
    out[i] *= r.window[i];
  }
  out.fill(0, n);
}

function melFromSpectrum(power: Float64Array, r: Resolved, dst: Float32Array, dstOffset: number): void {
  for (let m = 0; m < r.numMelBins; m++) {
    const w = r.filterWeights[m];
    const s = r.filterStart[m];
    let e = 0;
    for (let k = 0; k < w.length; k++) {
      e += w[k] * power[s + k];
    }
    dst[dstOffset + m] = r.useLog ? Math.log(Math.max(e, FLOAT32_EPSILON)) : e;
  }
}

/**
 * Kaldi-compatible log-mel filterbank of a mono waveform (the behaviour of
 * `torchaudio.compliance.kaldi.fbank` with dither 0, snip_edges true, no energy term).
 * The input is used at the scale given: BEATs expects samples scaled to the int16 range
 * first ({@link scaleToInt16Range}).
 *
 * @param waveform mono samples at `options.sampleRate`
 * @returns `[frames, numMelBins]` natural-log energies; 0 frames when shorter than one window
 *
 * @example
 * const feats = kaldiFbank(scaleToInt16Range(pcm16k));          // [T, 128]
 * const input = normalizeBeatsFbank(feats);                      // BEATs input
 */
export function kaldiFbank(waveform: Float32Array, options: FbankOptions = {}): FeatureMatrix {
  const r = resolve(options);
  const frames = waveform.length < r.windowSize ? 0 : 1 + Math.floor((waveform.length - r.windowSize) / r.windowShift);
  const data = new Float32Array(frames * r.numMelBins);
  const size = r.paddedSize;
  const half = size / 2;
  const re = new Float64Array(size);
  const im = new Float64Array(size);
  const powA = new Float64Array(half + 1);
  const powB = new Float64Array(half + 1);
  const scale = r.usePower ? (x: number): number => x : (x: number): number => Math.sqrt(x);
  // Two real frames share one complex FFT: frame A in the real part, frame B in the imaginary part.
  for (let f = 0; f < frames; f += 2) {
    const hasB = f + 1 < frames;
    prepareFrame(waveform, f * r.windowShift, r, re);
    if (hasB) {
      prepareFrame(waveform, (f + 1) * r.windowShift, r, im);
    } else {
      im.fill(0);
    }
    r.fft.transform(re, im);
    for (let k = 0; k <= half; k++) {
      const j = (size - k) & (size - 1);
      const ar = 0.5 * (re[k] + re[j]);
      const ai = 0.5 * (im[k] - im[j]);
      const br = 0.5 * (im[k] + im[j]);
      const bi = 0.5 * (re[j] - re[k]);
      powA[k] = scale(ar * ar + ai * ai);
      powB[k] = scale(br * br + bi * bi);
    }
    melFromSpectrum(powA, r, data, f * r.numMelBins);
    if (hasB) {
      melFromSpectrum(powB, r, data, (f + 1) * r.numMelBins);
    }
  }
  return { frames, bins: r.numMelBins, data };
}

/** Scales float samples in [-1, 1] to the int16 range (x * 2^15), as BEATs does before its fbank. */
export function scaleToInt16Range(samples: Float32Array): Float32Array {
  const out = new Float32Array(samples.length);
  for (let i = 0; i < samples.length; i++) {
    out[i] = samples[i] * 32768;
  }
  return out;
}

/**
 * BEATs input normalisation `(x - mean) / (2 * std)`, applied to a copy.
 * @param mean default {@link BEATS_FBANK_MEAN}
 * @param std default {@link BEATS_FBANK_STD}
 */
export function normalizeBeatsFbank(features: FeatureMatrix, mean = BEATS_FBANK_MEAN, std = BEATS_FBANK_STD): FeatureMatrix {
  const data = new Float32Array(features.data.length);
  const k = 1 / (2 * std);
  for (let i = 0; i < data.length; i++) {
    data[i] = (features.data[i] - mean) * k;
  }
  return { frames: features.frames, bins: features.bins, data };
}
