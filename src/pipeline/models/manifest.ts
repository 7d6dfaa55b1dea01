/**
 * Known model downloads: where each file comes from, how big it is, its sha256 when the publisher
 * states one, its licence, and the input/output signature the loader insists on. Users add entries with
 * a JSON file (setting `alref.models.manifestFile`, CLI `--manifest`) of the same shape, or point
 * `alref.models.localDir` at a folder holding `<id>/<file path>`.
 */
import { readFile } from 'node:fs/promises';
import { PipelineError } from '../errors';
import { AUDIO_TAGGER_MODELS } from './audioManifest';
import type { GraphSignature, ModelEntry, ModelFile, ModelTask, TensorSpec, TensorType } from './modelEntry';

export type { GraphSignature, ModelEntry, ModelFile, ModelTask, TensorSpec, TensorType } from './modelEntry';

const f32: TensorType[] = ['float32'];
const f32or16: TensorType[] = ['float32', 'float16'];
const i64: TensorType[] = ['int64'];
const spec = (name: string, types: TensorType[], rank: number): TensorSpec => ({ name, types, rank });

/** Signatures of the SAM 2 video graphs (square-zero-labs layout, docs/MODELS.md "SAM 2 video: five graphs"). */
export const SAM2_SIGNATURES: Record<string, GraphSignature> = {
  vision_encoder: {
    inputs: [spec('pixel_values', f32, 4)],
    outputs: [spec('feats0', f32, 4), spec('feats1', f32, 4), spec('feats2', f32, 4), spec('feats2_no_mem', f32, 4), spec('vision_pos_embed', f32, 4)],
  },
  mask_decoder: {
    inputs: [spec('feats0', f32, 4), spec('feats1', f32, 4), spec('feats2_cond', f32, 4), spec('input_points', f32, 4), spec('input_labels', ['int32'], 3)],
    outputs: [spec('low_res_mask', f32, 4), spec('high_res_mask', f32, 4), spec('iou', f32, 2), spec('object_score_logits', f32, 3), spec('object_pointer', f32, 3)],
  },
  memory_encoder: {
    inputs: [spec('feats2', f32, 4), spec('high_res_mask', f32, 4), spec('object_score_logits', f32, 2), spec('binarize', ['float32', 'bool', 'int64', 'int32'], 0)],
    outputs: [spec('memory_tokens', f32, 3), spec('memory_pos', f32, 3)],
  },
  memory_attention: {
    inputs: [spec('current_vision_features', f32, 3), spec('current_vision_position_embeddings', f32, 3), spec('memory', f32, 3), spec('memory_pos', f32, 3)],
    outputs: [spec('conditioned_feats', f32, 4)],
  },
  pointer_tpos: {
    inputs: [spec('normalized_diffs', f32, 1)],
    outputs: [spec('pointer_pos', f32, 2)],
  },
};

/** Signature of the Hugging Face GroundingDINO export (onnx-community and builds with its contract). */
export const GROUNDING_DINO_SIGNATURE: GraphSignature = {
  inputs: [spec('pixel_values', f32or16, 4), spec('pixel_mask', i64, 3), spec('input_ids', i64, 2), spec('token_type_ids', i64, 2), spec('attention_mask', i64, 2)],
  outputs: [spec('logits', f32or16, 3), spec('pred_boxes', f32or16, 3)],
};

const hf = (repo: string, file: string) => `https://huggingface.co/${repo}/resolve/main/${file}`;

const SAM2_REPO = 'square-zero-labs/sam2.1-tiny-video-onnx';

/**
 * Built-in entries. Sizes are the publishers' rounded figures unless `sizeExact`; a null sha256 means
 * the publisher does not state one (the download is then checked only for size and a loadable graph).
 */
export const BUILTIN_MODELS: ModelEntry[] = [
  ...AUDIO_TAGGER_MODELS,
  {
    id: 'sam2.1-hiera-tiny-video',
    task: 'sam2-video',
    title: 'SAM 2.1 Hiera-Tiny video tracker (five ONNX graphs, square-zero-labs export)',
    licence: 'Apache-2.0',
    homepage: `https://huggingface.co/${SAM2_REPO}`,
    files: [
      ...(['vision_encoder', 'mask_decoder', 'memory_encoder', 'memory_attention', 'pointer_tpos'] as const).map(
        (key): ModelFile => ({ key, path: `onnx/${key}.onnx`, url: hf(SAM2_REPO, `onnx/${key}.onnx`), size: null, sha256: null, signature: SAM2_SIGNATURES[key] }),
      ),
      { key: 'constants', path: 'constants.json', url: hf(SAM2_REPO, 'constants.json'), size: null, sha256: null },
    ],
    notes: 'Fixed memory length 28736 = 7*4096 + 16*4 in this export; the host pads the memory bank.',
  },
  {
    id: 'grounding-dino-tiny',
    task: 'grounding-dino',
    title: 'GroundingDINO Swin-T (fixed text-mask re-export; scores multi-phrase captions correctly)',
    licence: 'Apache-2.0',
    homepage: 'https://huggingface.co/mtbui2010/grounding-dino-tiny-fixedmask-ONNX',
    files: [
      {
        key: 'model',
        path: 'model-fixedmask.onnx',
        url: hf('mtbui2010/grounding-dino-tiny-fixedmask-ONNX', 'model-fixedmask.onnx'),
        size: 694_800_000,
        sha256: 'ae9a0026953c6d5ce5a97b421af84c065d7f07173971cb105edb0071868fc180',
        signature: GROUNDING_DINO_SIGNATURE,
      },
      { key: 'vocab', path: 'vocab.txt', url: hf('mtbui2010/grounding-dino-tiny-fixedmask-ONNX', 'vocab.txt'), size: 231_508, sizeExact: true, sha256: null },
    ],
  },
  {
    id: 'grounding-dino-tiny-hf',
    task: 'grounding-dino',
    title: 'GroundingDINO Swin-T (onnx-community export, fp32; mis-scores multi-phrase captions)',
    licence: 'Apache-2.0',
    homepage: 'https://huggingface.co/onnx-community/grounding-dino-tiny-ONNX',
    files: [
      { key: 'model', path: 'onnx/model.onnx', url: hf('onnx-community/grounding-dino-tiny-ONNX', 'onnx/model.onnx'), size: 719_000_000, sha256: null, signature: GROUNDING_DINO_SIGNATURE },
      { key: 'tokenizer', path: 'tokenizer.json', url: hf('onnx-community/grounding-dino-tiny-ONNX', 'tokenizer.json'), size: 711_000, sha256: null },
    ],
  },
  {
    id: 'grounding-dino-tiny-hf-fp16',
    task: 'grounding-dino',
    title: 'GroundingDINO Swin-T (onnx-community export, fp16)',
    licence: 'Apache-2.0',
    homepage: 'https://huggingface.co/onnx-community/grounding-dino-tiny-ONNX',
    files: [
      { key: 'model', path: 'onnx/model_fp16.onnx', url: hf('onnx-community/grounding-dino-tiny-ONNX', 'onnx/model_fp16.onnx'), size: 360_000_000, sha256: null, signature: GROUNDING_DINO_SIGNATURE },
      { key: 'tokenizer', path: 'tokenizer.json', url: hf('onnx-community/grounding-dino-tiny-ONNX', 'tokenizer.json'), size: 711_000, sha256: null },
    ],
  },
  {
    id: 'grounding-dino-base',
    task: 'grounding-dino',
    title: 'GroundingDINO Swin-B (the paper\'s swinb_cogcoor; static 800x800, T = 256)',
    licence: 'Apache-2.0',
    homepage: 'https://huggingface.co/ZumaInnovations/zuma-ground-base-onnx',
    files: [
      { key: 'model', path: 'onnx/model.onnx', url: hf('ZumaInnovations/zuma-ground-base-onnx', 'onnx/model.onnx'), size: 923_000_000, sha256: null, signature: GROUNDING_DINO_SIGNATURE },
      { key: 'vocab', path: 'vocab.txt', url: hf('ZumaInnovations/zuma-ground-base-onnx', 'vocab.txt'), size: null, sha256: null },
    ],
  },
];

/** Default model per task. */
export const DEFAULT_MODEL_IDS: Record<ModelTask, string> = {
  'sam2-video': 'sam2.1-hiera-tiny-video',
  'grounding-dino': 'grounding-dino-tiny',
  'audio-tagger': 'efficientat-mn10-as',
};

const TASKS: ModelTask[] = ['sam2-video', 'grounding-dino', 'audio-tagger'];

/** Checks one user entry; errors name the file and the field. */
function validateEntry(raw: unknown, where: string): ModelEntry {
  const fail = (field: string, msg: string): never => {
    throw new PipelineError(`${where}: ${field} ${msg}`, { stage: 'models', kind: 'invalid-input', field, file: where });
  };
  if (!raw || typeof raw !== 'object') {
    fail('entry', 'must be an object');
  }
  const e = raw as Record<string, unknown>;
  if (typeof e.id !== 'string' || !/^[\w.-]+$/.test(e.id)) {
    fail('id', 'must be a string of letters, digits, ".", "_" or "-"');
  }
  if (!TASKS.includes(e.task as ModelTask)) {
    fail(`${String(e.id)}.task`, `must be one of ${TASKS.join(', ')}`);
  }
  if (!Array.isArray(e.files) || e.files.length === 0) {
    fail(`${String(e.id)}.files`, 'must be a non-empty array');
  }
  const files = (e.files as unknown[]).map((x, i): ModelFile => {
    const fl = x as Record<string, unknown>;
    const at = `${String(e.id)}.files[${i}]`;
    if (typeof fl.key !== 'string' || typeof fl.path !== 'string') {
      fail(at, 'needs "key" and "path" strings');
    }
    if ((fl.path as string).split(/[\\/]/).includes('..')) {
      fail(`${at}.path`, 'must stay inside the model folder');
    }
    if (fl.sha256 !== undefined && fl.sha256 !== null && !(typeof fl.sha256 === 'string' && /^[0-9a-f]{64}$/i.test(fl.sha256))) {
      fail(`${at}.sha256`, 'must be 64 hex digits or null');
    }
    return {
      key: fl.key as string,
      path: fl.path as string,
      url: typeof fl.url === 'string' ? fl.url : '',
      size: typeof fl.size === 'number' ? fl.size : null,
      sizeExact: fl.sizeExact === true,
      sha256: typeof fl.sha256 === 'string' ? fl.sha256.toLowerCase() : null,
      signature: (fl.signature as GraphSignature | undefined) ?? undefined,
    };
  });
  return {
    id: e.id as string,
    task: e.task as ModelTask,
    title: typeof e.title === 'string' ? e.title : (e.id as string),
    licence: typeof e.licence === 'string' ? e.licence : 'unknown',
    homepage: typeof e.homepage === 'string' ? e.homepage : '',
    files,
    notes: typeof e.notes === 'string' ? e.notes : undefined,
  };
}

/**
 * Reads a user manifest: `{ "models": [ModelEntry...] }` or a bare array. A user entry whose file keys
 * match a built-in signature of its task inherits that signature when it gives none.
 */
export async function loadUserManifest(file: string): Promise<ModelEntry[]> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new PipelineError(`Cannot read the model manifest ${file}: ${(err as Error).message}. Fix the path in alref.models.manifestFile.`, {
      stage: 'models', kind: 'invalid-input', field: 'models.manifestFile', file, cause: err,
    });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new PipelineError(`The model manifest ${file} is not valid JSON: ${(err as Error).message}`, { stage: 'models', kind: 'invalid-input', file, cause: err });
  }
  const list = Array.isArray(json) ? json : (json as { models?: unknown }).models;
  if (!Array.isArray(list)) {
    throw new PipelineError(`The model manifest ${file} must hold an array or { "models": [...] }.`, { stage: 'models', kind: 'invalid-input', file });
  }
  return list.map((x) => withDefaultSignatures(validateEntry(x, file)));
}

/** Fills in the signatures a task's files must have when an entry does not state them. */
function withDefaultSignatures(entry: ModelEntry): ModelEntry {
  return {
    ...entry,
    files: entry.files.map((fl) => {
      if (fl.signature || !fl.path.endsWith('.onnx')) {
        return fl;
      }
      if (entry.task === 'sam2-video' && SAM2_SIGNATURES[fl.key]) {
        return { ...fl, signature: SAM2_SIGNATURES[fl.key] };
      }
      if (entry.task === 'grounding-dino' && fl.key === 'model') {
        return { ...fl, signature: GROUNDING_DINO_SIGNATURE };
      }
      return fl;
    }),
  };
}

/** Built-in entries plus user entries (a user entry replaces a built-in one with the same id). */
export function mergeManifests(builtin: ModelEntry[], user: ModelEntry[]): ModelEntry[] {
  const byId = new Map(builtin.map((e) => [e.id, e]));
  for (const e of user) {
    byId.set(e.id, e);
  }
  return [...byId.values()];
}
