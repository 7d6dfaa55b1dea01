/**
 * Tagger fixture graphs for the audio tests, built with the project's ONNX test tooling:
 * - a BEATs-style graph: fbank [W,T,128] (BEATs-normalised) -> logits [W,527]: the mean over time of
 *   each mel bin, times a weight matrix, plus a bias. "Dog" (74) and "Bark" (75) follow the 300-1500 Hz
 *   bins, Silence (500) falls with overall level, so a bark scores Dog and Bark high and silence scores
 *   Silence high;
 * - the waveform tagger of test/tooling/onnxFixtures.ts, with gains set so loud windows score Dog/Bark.
 */
import { readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { OnnxGraphBuilder, buildAudioTaggerFixture } from './onnxFixtures';

export const DOG = 74;
export const BARK = 75;
export const SPEECH = 0;
export const SILENCE = 500;

/** Mel bin index (128 bins, 20-8000 Hz) nearest to `hz`. */
function melBin(hz: number): number {
  const mel = (f: number) => 1127 * Math.log(1 + f / 700);
  return Math.round(((mel(hz) - mel(20)) / (mel(8000) - mel(20))) * 129) - 1;
}

export function buildBeatsFixture(classes = 527): Uint8Array {
  const bins = 128;
  const w = new Float32Array(bins * classes);
  const bias = new Float32Array(classes).fill(-6);
  const lo = melBin(300);
  const hi = melBin(1500);
  // The BEATs-normalised log-mel of digital silence is (log(eps) - mean) / (2 std), about -2.39.
  for (let b = 0; b < bins; b++) {
    const inBand = b >= lo && b <= hi;
    w[b * classes + DOG] = inBand ? 6 / (hi - lo + 1) : 0;
    w[b * classes + BARK] = inBand ? 5 / (hi - lo + 1) : 0;
    w[b * classes + SILENCE] = -8 / bins;
    w[b * classes + SPEECH] = b > hi ? 2 / (bins - hi) : 0;
  }
  // A loud bark's band mean is around 0. Dog: 6 * bandMean + 1 (silence: about -13).
  bias[DOG] = 1;
  bias[BARK] = 0.5;
  // Silence: -8 * overall mean - 12 (silence: ~ +7; a loud clip: about -8).
  bias[SILENCE] = -12;
  bias[SPEECH] = -1;
  const g = new OnnxGraphBuilder('beats_fixture');
  const x = g.input('fbank', 'float32', ['batch', 'frames', bins]);
  const mean = g.op('ReduceMean', [x], { axes: [1], keepdims: 0 });
  const logits = g.op('Add', [g.op('MatMul', [mean, g.const(w, [bins, classes])]), g.const(bias, [classes])]);
  g.output('logits', logits, 'float32', ['batch', classes]);
  return g.build();
}

/** Waveform tagger (EfficientAT layout, samples [W,N] -> probabilities [W,527]) where loud windows score Dog and Bark. */
export function buildWaveformFixture(): Uint8Array {
  const C = 527;
  const gain = Array.from({ length: C }, (_, c) => (c === DOG ? 60 : c === BARK ? 50 : c === SILENCE ? -60 : c === SPEECH ? 10 : 0));
  const bias = Array.from({ length: C }, (_, c) => (c === DOG ? -3 : c === BARK ? -3 : c === SILENCE ? 3 : c === SPEECH ? -3 : -5));
  return buildAudioTaggerFixture({ gain, bias });
}

/** AudioSet MIDs in class_labels_indices.csv order (the shipped table). */
export function csvMids(): string[] {
  const csv = readFileSync(path.resolve(__dirname, '../../assets/audioset/class_labels_indices.csv'), 'utf8');
  return csv.split(/\r?\n/).slice(1).filter((l) => l.trim()).map((l) => l.split(',')[1]);
}

/**
 * Writes BEATs fixture graphs as `<modelsDir>/<id>/model.onnx`, each with the label_dict sidecar a
 * BEATs export carries (`model.label_dict.json`, output index -> MID; here the CSV order).
 */
export async function writeBeatsFixtures(modelsDir: string, ids: string[] = ['beats-iter3-as2m-cpt2', 'beats-iter3-as20k-cpt2']): Promise<void> {
  const dict = Object.fromEntries(csvMids().map((mid, i) => [String(i), mid]));
  for (const id of ids) {
    await mkdir(path.join(modelsDir, id), { recursive: true });
    await writeFile(path.join(modelsDir, id, 'model.onnx'), buildBeatsFixture());
    await writeFile(path.join(modelsDir, id, 'model.label_dict.json'), JSON.stringify(dict));
  }
}
