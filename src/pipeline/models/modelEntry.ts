/**
 * The shape of a model-manifest entry: files, signatures and the task a model fills. Apart from
 * manifest.ts so that the entry lists (manifest.ts, audioManifest.ts) can share it without importing
 * each other; manifest.ts re-exports these types.
 */

/** Tasks a model can fill; a model is only accepted in a slot of its own task. */
export type ModelTask = 'sam2-video' | 'grounding-dino' | 'audio-tagger';

/** Element types as onnxruntime reports them (`InferenceSession.inputMetadata[i].type`). */
export type TensorType = 'float32' | 'float16' | 'int64' | 'int32' | 'bool' | 'uint8' | 'int8';

/** One expected input or output: name, accepted element types, rank. */
export interface TensorSpec {
  name: string;
  /** Accepted types; more than one where exports differ (fp16 builds, bool vs float flags). */
  types: TensorType[];
  rank: number;
}

export interface GraphSignature {
  inputs: TensorSpec[];
  outputs: TensorSpec[];
}

export interface ModelFile {
  /** Key the code uses (`vision_encoder`, `model`, `tokenizer`). */
  key: string;
  /** Path inside the model folder, also the path in the publisher's repository. */
  path: string;
  url: string;
  /** Bytes, when known (exact or the publisher's rounded figure: see `sizeExact`). */
  size: number | null;
  sizeExact?: boolean;
  /** sha256 hex when the publisher states it; null = not published, the download is not verified. */
  sha256: string | null;
  /** Graph files only. */
  signature?: GraphSignature;
}

export interface ModelEntry {
  id: string;
  task: ModelTask;
  title: string;
  licence: string;
  /** Publisher page for humans. */
  homepage: string;
  files: ModelFile[];
  notes?: string;
}
