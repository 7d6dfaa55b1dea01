/**
 * GroundingDINO on onnxruntime (Hugging Face export contract: pixel_values, pixel_mask, input_ids,
 * token_type_ids, attention_mask -> logits [1,Q,256], pred_boxes [1,Q,4] normalized cx,cy,w,h).
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { Tokenizer } from '@huggingface/tokenizers';
import { PipelineError } from '../errors';
import type { Box, Candidate } from '../domain';
import { loadOrt, runGraph } from './runtime';
import type { ModelService } from './service';

/** ImageNet statistics used by both GroundingDINO and SAM 2 pre-processing. */
export const IMAGENET_MEAN = [0.485, 0.456, 0.406] as const;
export const IMAGENET_STD = [0.229, 0.224, 0.225] as const;

/** BERT special ids the post-processing skips. */
const BERT_SPECIAL = { pad: 0, cls: 101, sep: 102, period: 1012, question: 1029 } as const;

/**
 * Caption normalisation of the reference code: lowercase, trimmed, ending with ".".
 * Several phrases are joined by ". ".
 * @example normalizeCaption(['Dog', 'the red ball']) // "dog. the red ball."
 */
export function normalizeCaption(text: string | string[]): string {
  const parts = (Array.isArray(text) ? text : [text]).map((t) => t.toLowerCase().trim().replace(/\s+/g, ' ').replace(/[.\s]+$/, '')).filter(Boolean);
  if (parts.length === 0) {
    throw new PipelineError('The GroundingDINO caption is empty; give the expression to look for.', { stage: 'pivot-box', kind: 'invalid-input', field: 'caption' });
  }
  return `${parts.join('. ')}.`;
}

/** The tokenizer.json structure of bert-base-uncased for a vocabulary given as `vocab.txt` lines. */
function bertTokenizerJson(vocab: string[]): Record<string, unknown> {
  const map: Record<string, number> = {};
  vocab.forEach((tok, id) => {
    if (tok !== '' && !(tok in map)) {
      map[tok] = id;
    }
  });
  const special = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'].filter((t) => t in map);
  return {
    version: '1.0',
    added_tokens: special.map((content) => ({ id: map[content], content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true })),
    normalizer: { type: 'BertNormalizer', clean_text: true, handle_chinese_chars: true, strip_accents: null, lowercase: true },
    pre_tokenizer: { type: 'BertPreTokenizer' },
    post_processor: {
      type: 'TemplateProcessing',
      single: [{ SpecialToken: { id: '[CLS]', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '[SEP]', type_id: 0 } }],
      pair: [{ SpecialToken: { id: '[CLS]', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '[SEP]', type_id: 0 } }, { Sequence: { id: 'B', type_id: 1 } }, { SpecialToken: { id: '[SEP]', type_id: 1 } }],
      special_tokens: {
        '[CLS]': { id: '[CLS]', ids: [map['[CLS]']], tokens: ['[CLS]'] },
        '[SEP]': { id: '[SEP]', ids: [map['[SEP]']], tokens: ['[SEP]'] },
      },
    },
    decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
    model: { type: 'WordPiece', unk_token: '[UNK]', continuing_subword_prefix: '##', max_input_chars_per_word: 100, vocab: map },
  };
}

/** Loads a BERT tokenizer from `tokenizer.json` or `vocab.txt` (whichever the model ships). */
export async function loadBertTokenizer(file: string): Promise<Tokenizer> {
  const text = await readFile(file, 'utf8');
  const json = path.basename(file).endsWith('.json') ? JSON.parse(text) : bertTokenizerJson(text.split(/\r?\n/));
  return new Tokenizer(json, { do_lower_case: true, model_max_length: 256, cls_token: '[CLS]', sep_token: '[SEP]', pad_token: '[PAD]', unk_token: '[UNK]' });
}

/** Model input geometry and the mapping back to the original image. */
export interface DetectorInput {
  pixelValues: Float32Array;
  pixelMask: BigInt64Array;
  /** Tensor size. */
  inputWidth: number;
  inputHeight: number;
  /** The resized image inside the tensor (the rest is padding). */
  contentWidth: number;
  contentHeight: number;
  /** Original image size: boxes are scaled to it. */
  imageWidth: number;
  imageHeight: number;
}

/**
 * The reference code's resize rule (GroundingDINO's `RandomResize([800], max_size=1333)`, the same as
 * the Python Hugging Face processor): the shorter side becomes `shortest` unless that would make the
 * longer side exceed `longest`, in which case the shorter side becomes round(longest * short / long);
 * the longer side is then the shorter one times the aspect ratio, truncated.
 * @example detectorResize(854, 480) // { width: 1332, height: 749 }
 */
export function detectorResize(width: number, height: number, shortest = 800, longest = 1333): { width: number; height: number } {
  const short = Math.min(width, height);
  const long = Math.max(width, height);
  let size = shortest;
  if ((long / short) * size > longest) {
    size = Math.round((longest * short) / long);
  }
  if (short === size) {
    return { width, height };
  }
  return width < height
    ? { width: size, height: Math.max(1, Math.trunc((size * height) / width)) }
    : { width: Math.max(1, Math.trunc((size * width) / height)), height: size };
}

/**
 * The detector's normalisation per channel and byte: `(v / 255 - mean) / std` in double precision,
 * stored as float32 (what writing that expression into the Float32Array gives).
 */
const DETECTOR_NORMALISE: Float32Array[] = [0, 1, 2].map((c) => Float32Array.from({ length: 256 }, (_, v) => (v / 255 - IMAGENET_MEAN[c]) / IMAGENET_STD[c]));

/**
 * Reads and pre-processes an image: resized per {@link detectorResize} (or fitted into a fixed input
 * size with bottom/right padding, pixel_mask 0 there), /255, ImageNet normalisation, planar RGB.
 */
export async function preprocessForDetector(imagePath: string, fixedSize?: { width: number; height: number }): Promise<DetectorInput> {
  let meta;
  try {
    meta = await sharp(imagePath).metadata();
  } catch (err) {
    throw new PipelineError(`Cannot read image ${imagePath}: ${(err as Error).message}`, { stage: 'pivot-box', kind: 'invalid-input', file: imagePath, cause: err });
  }
  const imageWidth = meta.autoOrient?.width ?? meta.width ?? 0;
  const imageHeight = meta.autoOrient?.height ?? meta.height ?? 0;
  let content = detectorResize(imageWidth, imageHeight);
  const input = fixedSize ?? content;
  if (fixedSize) {
    const scale = Math.min(fixedSize.width / imageWidth, fixedSize.height / imageHeight);
    content = { width: Math.max(1, Math.min(fixedSize.width, Math.round(imageWidth * scale))), height: Math.max(1, Math.min(fixedSize.height, Math.round(imageHeight * scale))) };
  }
  // Bilinear resampling as an affine map (the Hugging Face processor's sharp path for `resample: 2`).
  const decoded = await sharp(imagePath).rotate().removeAlpha().raw().toBuffer({ resolveWithObject: true });
  let { data, info } = decoded;
  if (info.width !== content.width || info.height !== content.height) {
    ({ data, info } = await sharp(data, { raw: { width: info.width, height: info.height, channels: info.channels } })
      .affine([content.width / info.width, 0, 0, content.height / info.height], { interpolator: 'bilinear' })
      .raw()
      .toBuffer({ resolveWithObject: true }));
  }
  if (info.width !== content.width || info.height !== content.height || info.channels !== 3) {
    throw new PipelineError(`Resizing ${imagePath} for the detector gave ${info.width}x${info.height}x${info.channels}, expected ${content.width}x${content.height}x3.`, { stage: 'pivot-box', kind: 'backend', file: imagePath });
  }
  const plane = input.width * input.height;
  const pixelValues = new Float32Array(3 * plane);
  const pixelMask = new BigInt64Array(plane);
  const [l0, l1, l2] = DETECTOR_NORMALISE;
  for (let y = 0; y < content.height; y++) {
    const row = y * input.width;
    for (let x = 0, src = y * content.width * 3, dst = row; x < content.width; x++, src += 3, dst++) {
      pixelValues[dst] = l0[data[src]];
      pixelValues[plane + dst] = l1[data[src + 1]];
      pixelValues[2 * plane + dst] = l2[data[src + 2]];
    }
    pixelMask.fill(1n, row, row + content.width);
  }
  return { pixelValues, pixelMask, inputWidth: input.width, inputHeight: input.height, contentWidth: content.width, contentHeight: content.height, imageWidth, imageHeight };
}

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

export interface PostprocessOptions {
  boxThreshold: number;
  textThreshold: number;
  topK: number;
  imageWidth: number;
  imageHeight: number;
  /** Token ids of the caption as fed to the model (with [CLS]/[SEP]). */
  inputIds: number[];
  decode(ids: number[]): string;
}

/** Clips a box to the frame; null when nothing of it is left. */
export function clipBox(box: Box, width: number, height: number): Box | null {
  const b = { x0: Math.max(0, Math.min(width, box.x0)), y0: Math.max(0, Math.min(height, box.y0)), x1: Math.max(0, Math.min(width, box.x1)), y1: Math.max(0, Math.min(height, box.y1)) };
  return b.x1 - b.x0 < 1 || b.y1 - b.y0 < 1 ? null : b;
}

/**
 * Turns raw outputs into candidates: a query is kept when its best token probability exceeds the box
 * threshold; its phrase is the caption tokens above the text threshold ([CLS], [SEP], "." and padding
 * skipped), decoded; boxes go from normalized cx,cy,w,h to pixel corners of the original image, clipped
 * to it; the best `topK` by score.
 */
export function postprocessDetections(logits: Float32Array, boxes: Float32Array, queries: number, textLen: number, o: PostprocessOptions): Candidate[] {
  const n = Math.min(textLen, o.inputIds.length);
  const out: Candidate[] = [];
  for (let q = 0; q < queries; q++) {
    let best = 0;
    const probs: number[] = [];
    for (let t = 0; t < n; t++) {
      const p = sigmoid(logits[q * textLen + t]);
      probs.push(p);
      if (p > best) {
        best = p;
      }
    }
    if (!(best > o.boxThreshold)) {
      continue;
    }
    const phraseIds: number[] = [];
    for (let t = 1; t < n; t++) {
      const id = o.inputIds[t];
      if (probs[t] > o.textThreshold && id !== BERT_SPECIAL.cls && id !== BERT_SPECIAL.sep && id !== BERT_SPECIAL.pad && id !== BERT_SPECIAL.period) {
        phraseIds.push(id);
      }
    }
    const [cx, cy, w, h] = [boxes[q * 4], boxes[q * 4 + 1], boxes[q * 4 + 2], boxes[q * 4 + 3]];
    const box = clipBox(
      { x0: (cx - w / 2) * o.imageWidth, y0: (cy - h / 2) * o.imageHeight, x1: (cx + w / 2) * o.imageWidth, y1: (cy + h / 2) * o.imageHeight },
      o.imageWidth,
      o.imageHeight,
    );
    if (!box) {
      continue;
    }
    out.push({ box, score: best, phrase: phraseIds.length > 0 ? o.decode(phraseIds).trim() : '', source: 'grounding-dino' });
  }
  out.sort((a, b) => b.score - a.score);
  return out.slice(0, Math.max(0, o.topK));
}

export interface DetectOptions {
  imagePath: string;
  /** A phrase or several (joined with ". "). Normalised with {@link normalizeCaption}. */
  caption: string | string[];
  boxThreshold: number;
  textThreshold: number;
  topK: number;
  signal?: AbortSignal;
}

const tokenizers = new Map<string, Promise<Tokenizer>>();

/**
 * Runs GroundingDINO on one image. Input sizes (fixed or dynamic) are read from the graph.
 *
 * @example
 * const boxes = await detectWithGroundingDino(models, 'grounding-dino-tiny', { imagePath, caption: 'the dog', boxThreshold: 0.15, textThreshold: 0.2, topK: 3 });
 */
export async function detectWithGroundingDino(models: ModelService, modelId: string, o: DetectOptions): Promise<Candidate[]> {
  const store = await models.store();
  const entry = store.entry(modelId, 'grounding-dino');
  const tokFile = entry.files.find((f) => f.key === 'tokenizer' || f.key === 'vocab');
  if (!tokFile) {
    throw new PipelineError(`Model "${modelId}" lists no tokenizer.json or vocab.txt file (key "tokenizer" or "vocab").`, { stage: 'models', kind: 'invalid-input', field: modelId });
  }
  const tokPath = await store.filePath(modelId, tokFile.key);
  let tokP = tokenizers.get(tokPath);
  if (!tokP) {
    tokP = loadBertTokenizer(tokPath);
    tokenizers.set(tokPath, tokP);
    tokP.catch(() => tokenizers.delete(tokPath));
  }
  const tokenizer = await tokP;
  const lease = await models.session(modelId, 'model', 'grounding-dino');
  try {
    const session = lease.session;
    const meta = (name: string) => {
      const m = session.inputMetadata.find((x) => x.name === name);
      return m && m.isTensor ? m.shape : [];
    };
    const pvShape = meta('pixel_values');
    const fixed = typeof pvShape[2] === 'number' && typeof pvShape[3] === 'number' && (pvShape[2] as number) > 0 ? { height: pvShape[2] as number, width: pvShape[3] as number } : undefined;
    const idsShape = meta('input_ids');
    const fixedT = typeof idsShape[1] === 'number' && (idsShape[1] as number) > 0 ? (idsShape[1] as number) : undefined;

    const caption = normalizeCaption(o.caption);
    const enc = tokenizer.encode(caption);
    let ids = enc.ids.map(Number);
    const maxT = fixedT ?? 256;
    if (ids.length > maxT) {
      ids = [...ids.slice(0, maxT - 1), BERT_SPECIAL.sep];
    }
    const T = fixedT ?? ids.length;
    const idT = new BigInt64Array(T);
    const amT = new BigInt64Array(T);
    ids.forEach((id, i) => {
      idT[i] = BigInt(id);
      amT[i] = 1n;
    });
    const img = await preprocessForDetector(o.imagePath, fixed);
    const ort = await loadOrt();
    const pvType = session.inputMetadata.find((x) => x.name === 'pixel_values');
    const half = Boolean(pvType && pvType.isTensor && pvType.type === 'float16');
    if (o.signal?.aborted) {
      throw new PipelineError('Cancelled.', { stage: 'pivot-box', kind: 'cancelled' });
    }
    // pixel_values [1,3,H,W] float32|float16, pixel_mask [1,H,W] int64, input_ids / token_type_ids /
    // attention_mask [1,T] int64 -> logits [1,Q,T] and pred_boxes [1,Q,4] (cx, cy, w, h in 0..1)
    const result = await runGraph(session, { modelId, graph: 'model' }, {
      pixel_values: half
        ? new ort.Tensor('float16', toFloat16Bits(img.pixelValues), [1, 3, img.inputHeight, img.inputWidth])
        : new ort.Tensor('float32', img.pixelValues, [1, 3, img.inputHeight, img.inputWidth]),
      pixel_mask: new ort.Tensor('int64', img.pixelMask, [1, img.inputHeight, img.inputWidth]),
      input_ids: new ort.Tensor('int64', idT, [1, T]),
      token_type_ids: new ort.Tensor('int64', new BigInt64Array(T), [1, T]),
      attention_mask: new ort.Tensor('int64', amT, [1, T]),
    }, 'models');
    const logits = result.logits;
    const boxes = result.pred_boxes;
    if (logits.dims.length !== 3 || boxes.dims.length !== 3 || boxes.dims[2] !== 4 || logits.dims[1] !== boxes.dims[1]) {
      throw new PipelineError(`Model "${modelId}" returned logits [${logits.dims.join(',')}] and pred_boxes [${boxes.dims.join(',')}]; expected [1,Q,T] and [1,Q,4].`, { stage: 'models', kind: 'backend', field: modelId });
    }
    return postprocessDetections(tensorToFloat32(logits), tensorToFloat32(boxes), boxes.dims[1], logits.dims[2], {
      boxThreshold: o.boxThreshold,
      textThreshold: o.textThreshold,
      topK: o.topK,
      imageWidth: img.imageWidth,
      imageHeight: img.imageHeight,
      inputIds: ids,
      decode: (x) => tokenizer.decode(x, { skip_special_tokens: true }),
    });
  } finally {
    lease.release();
  }
}

/** Tensor data as float32 (float16 outputs of fp16 exports are widened). */
function tensorToFloat32(t: { type: string; data: unknown }): Float32Array {
  if (t.data instanceof Float32Array) {
    return t.data;
  }
  if (t.type === 'float16') {
    const d = t.data as Uint16Array;
    const out = new Float32Array(d.length);
    for (let i = 0; i < d.length; i++) {
      out[i] = float16ToNumber(d[i]);
    }
    return out;
  }
  return Float32Array.from(t.data as ArrayLike<number>);
}

/** IEEE 754 half (as its 16 bits) to a number. */
export function float16ToNumber(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) {
    return sign * 2 ** -14 * (frac / 1024);
  }
  if (exp === 31) {
    return frac ? NaN : sign * Infinity;
  }
  return sign * 2 ** (exp - 15) * (1 + frac / 1024);
}

/** float32 values to IEEE 754 half bits (round to nearest even), for fp16 graph inputs. */
export function toFloat16Bits(values: Float32Array): Uint16Array {
  const f32 = new Float32Array(1);
  const u32 = new Uint32Array(f32.buffer);
  const out = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) {
    f32[0] = values[i];
    const x = u32[0];
    const sign = (x >>> 16) & 0x8000;
    const exp = (x >>> 23) & 0xff;
    let mant = x & 0x7fffff;
    if (exp === 0xff) {
      out[i] = sign | 0x7c00 | (mant ? 0x200 : 0);
      continue;
    }
    const e = exp - 127 + 15;
    if (e >= 0x1f) {
      out[i] = sign | 0x7c00;
      continue;
    }
    if (e <= 0) {
      if (e < -10) {
        out[i] = sign;
        continue;
      }
      mant |= 0x800000;
      const shift = 14 - e;
      let half = mant >> shift;
      const rem = mant & ((1 << shift) - 1);
      const mid = 1 << (shift - 1);
      if (rem > mid || (rem === mid && half & 1)) {
        half++;
      }
      out[i] = sign | half;
      continue;
    }
    let half = (e << 10) | (mant >> 13);
    const rem = mant & 0x1fff;
    if (rem > 0x1000 || (rem === 0x1000 && half & 1)) {
      half++;
    }
    out[i] = sign | half;
  }
  return out;
}
