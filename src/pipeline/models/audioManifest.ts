/**
 * Audio-tagger entries of the model manifest (AudioSet, 527 classes). Kept in their own file so the
 * audio taggers can be added without touching the vision entries; the model store
 * lists them with the others (see `BUILTIN_MODELS` in manifest.ts).
 *
 * Input/output names of these graphs differ between exports, so their entries carry no signature; the
 * audio tagger backend (audio/taggers.ts) checks ranks and sizes itself and names the problem.
 */
import type { ModelEntry } from './modelEntry';

/** How a tagger graph is fed and what it returns. */
export interface TaggerFrontend {
  /** `waveform`: samples [W,N] in the graph; `fbank`: Kaldi fbank [W,T,128] computed by the host (BEATs). */
  input: 'waveform' | 'fbank';
  /** Sample rate the graph expects, Hz. */
  sampleRate: number;
  /** `auto`: sigmoid applied when any score lies outside [0, 1]. */
  output: 'probabilities' | 'logits' | 'auto';
}

/** Front-ends of the built-in tagger entries, by model id. Unknown ids are inferred from the graph. */
export const AUDIO_TAGGER_FRONTENDS: Record<string, TaggerFrontend> = {
  'efficientat-mn10-as': { input: 'waveform', sampleRate: 32000, output: 'auto' },
  'beats-iter3-as2m-cpt1': { input: 'fbank', sampleRate: 16000, output: 'auto' },
  'beats-iter3-as2m-cpt2': { input: 'fbank', sampleRate: 16000, output: 'auto' },
  'beats-iter3-as20k-cpt2': { input: 'fbank', sampleRate: 16000, output: 'auto' },
};

const beats = (cpt: 1 | 2, pre: 'AS2M' | 'AS20K' = 'AS2M'): ModelEntry => ({
  id: `beats-iter3-${pre.toLowerCase()}-cpt${cpt}`,
  task: 'audio-tagger',
  title: `BEATs iter3+ ${pre} fine-tuned on AS2M, checkpoint ${cpt} (the paper's tagger; user export to ONNX)`,
  licence: 'MIT',
  homepage: 'https://github.com/microsoft/unilm/tree/master/beats',
  files: [{ key: 'model', path: 'model.onnx', url: '', size: null, sha256: null }],
  notes:
    `No public ONNX build. Export BEATs_iter3_plus_${pre}_finetuned_on_AS2M_cpt${cpt}.pt to ONNX with one input ` +
    '[batch, frames, 128] (the BEATs-normalised Kaldi fbank, which AL-Ref computes) and one output [batch, 527] ' +
    '(probabilities or logits), and put it at <models.localDir or cache>/' + `beats-iter3-${pre.toLowerCase()}-cpt${cpt}/model.onnx, ` +
    "with the checkpoint's label_dict (output index -> AudioSet MID) as model.label_dict.json next to it.",
});

export const AUDIO_TAGGER_MODELS: ModelEntry[] = [
  {
    id: 'efficientat-mn10-as',
    task: 'audio-tagger',
    title: 'EfficientAT mn10 AudioSet tagger (ONNX, waveform in at 32 kHz, 527 classes)',
    licence: 'MIT',
    homepage: 'https://huggingface.co/Chris-Kode/efficientat-mn10-as-onnx',
    files: [
      {
        key: 'model',
        path: 'model.onnx',
        url: 'https://huggingface.co/Chris-Kode/efficientat-mn10-as-onnx/resolve/main/model.onnx',
        size: 20_000_000,
        sha256: null,
      },
    ],
    notes: 'samples [W,N] float32 at 32 kHz -> scores [W,527]. About 20 MB.',
  },
  beats(1),
  beats(2),
  beats(2, 'AS20K'),
];
