/**
 * Audio-tagger entries of the model manifest (AudioSet, 527 classes). Kept in their own file so the
 * audio subsystem (issue #5) can add its taggers without touching the vision entries; the model store
 * lists them with the others (see `BUILTIN_MODELS` in manifest.ts).
 */
import type { ModelEntry } from './manifest';

export const AUDIO_TAGGER_MODELS: ModelEntry[] = [];
