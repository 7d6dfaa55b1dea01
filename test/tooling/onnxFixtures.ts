/**
 * Tiny ONNX stand-ins for the real model files, with EXACTLY the input/output names, dtypes and ranks
 * of the real graphs (docs/MODELS.md) but small spatial sizes, and outputs that depend on the inputs in a
 * way a test can check:
 *
 * - SAM 2 video (five graphs): the encoder passes image brightness through as features; the decoder
 *   returns the prompted box region on a prompted frame (only when given `feats2_no_mem`), otherwise the
 *   bright pixels inside the (dilated) union of the masks held in memory; the memory encoder stores the
 *   mask; so propagation follows a moving bright square only if the host loop feeds memory correctly.
 * - GroundingDINO (HF export): query 0's box is the bounding box of the bright pixels, query 1 the whole
 *   image, query 2 the left half; scores come from the token ids (specials and padding score low,
 *   the first caption word scores highest on query 0).
 * - An AudioSet tagger (waveform [W,N] -> [W,C]): probabilities from the RMS energy of each window.
 *
 * Generation takes milliseconds, so tests write fixtures into a temp folder with
 * {@link writeModelFixtures} rather than committing binaries.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { OnnxGraphBuilder } from './onnxBuilder';

export { OnnxGraphBuilder, f } from './onnxBuilder';

/** Geometry of the SAM 2 fixture (the real export: image 1024, C2 256, memory dim 64, pointer 256). */
export interface Sam2FixtureOptions {
  imageSize?: number;
  c0?: number;
  c1?: number;
  c2?: number;
  memDim?: number;
  numMaskmem?: number;
  maxPointers?: number;
  /** Fixed memory length (the square-zero-labs layout) or a symbolic one. */
  fixedMemory?: boolean;
}

export interface Sam2Fixture {
  files: Record<'vision_encoder.onnx' | 'mask_decoder.onnx' | 'memory_encoder.onnx' | 'memory_attention.onnx' | 'pointer_tpos.onnx', Uint8Array>;
  constants: { memory_temporal_pos_enc: number[][]; image_size: number; mean: number[]; std: number[] };
  geometry: Required<Sam2FixtureOptions> & { featSize: number; memoryLength: number };
}

/** Marker added to `feats2_no_mem`, so the decoder can tell which feature map the host passed. */
export const NO_MEM_MARKER = 1000;

export function buildSam2Fixture(options: Sam2FixtureOptions = {}): Sam2Fixture {
  const S = options.imageSize ?? 256;
  const c0 = options.c0 ?? 8;
  const c1 = options.c1 ?? 8;
  const c2 = options.c2 ?? 16;
  const memDim = options.memDim ?? 4;
  const numMaskmem = options.numMaskmem ?? 7;
  const maxPointers = options.maxPointers ?? 16;
  const fixedMemory = options.fixedMemory ?? true;
  const h = S / 16;
  const hw = h * h;
  const tokensPerPtr = c2 / memDim;
  const memoryLength = numMaskmem * hw + maxPointers * tokensPerPtr;

  // vision_encoder
  const ve = new OnnxGraphBuilder('vision_encoder');
  const px = ve.input('pixel_values', 'float32', [1, 3, S, S]);
  const gray = ve.op('ReduceMean', [px], { axes: [1], keepdims: 1 });
  const pool = (k: number) => ve.op('AveragePool', [gray], { kernel_shape: [k, k], strides: [k, k] });
  const feats0 = ve.op('Expand', [pool(4), ve.i64([1, c0, S / 4, S / 4])]);
  const feats1 = ve.op('Expand', [pool(8), ve.i64([1, c1, S / 8, S / 8])]);
  const feats2 = ve.op('Expand', [pool(16), ve.i64([1, c2, h, h])]);
  ve.output('feats0', feats0, 'float32', [1, c0, S / 4, S / 4]);
  ve.output('feats1', feats1, 'float32', [1, c1, S / 8, S / 8]);
  ve.output('feats2', feats2, 'float32', [1, c2, h, h]);
  ve.output('feats2_no_mem', ve.op('Add', [feats2, ve.scalar(NO_MEM_MARKER)]), 'float32', [1, c2, h, h]);
  ve.output('vision_pos_embed', ve.op('Mul', [feats2, ve.scalar(0)]), 'float32', [1, c2, h, h]);

  // mask_decoder
  const md = new OnnxGraphBuilder('mask_decoder');
  const f0 = md.input('feats0', 'float32', [1, c0, S / 4, S / 4]);
  const f1 = md.input('feats1', 'float32', [1, c1, S / 8, S / 8]);
  const fc = md.input('feats2_cond', 'float32', [1, c2, h, h]);
  const pts = md.input('input_points', 'float32', [1, 1, 'num_points', 2]);
  const labels = md.input('input_labels', 'int32', [1, 1, 'num_points']);
  const L = S / 4;
  const gx: number[] = [];
  const gy: number[] = [];
  for (let y = 0; y < L; y++) {
    for (let x = 0; x < L; x++) {
      gx.push((x + 0.5) * 4);
      gy.push((y + 0.5) * 4);
    }
  }
  const X = md.const(gx, [1, 1, L, L]);
  const Y = md.const(gy, [1, 1, L, L]);
  const padded = md.op('Pad', [pts, md.i64([0, 0, 0, 0, 0, 0, 2, 0])]);
  const coord = (p: number, c: number) =>
    md.op('Slice', [padded, md.i64([p, c]), md.i64([p + 1, c + 1]), md.i64([2, 3])]);
  const x0 = coord(0, 0);
  const y0 = coord(0, 1);
  const x1 = coord(1, 0);
  const y1 = coord(1, 1);
  const inside = md.op('And', [
    md.op('And', [md.op('GreaterOrEqual', [X, x0]), md.op('Less', [X, x1])]),
    md.op('And', [md.op('GreaterOrEqual', [Y, y0]), md.op('Less', [Y, y1])]),
  ]);
  const hasBox = md.op('Greater', [
    md.op('ReduceMax', [md.op('Cast', [md.op('Equal', [labels, md.scalar(2, 'int32')])], { to: 1 })], { keepdims: 1 }),
    md.scalar(0.5),
  ]);
  const fromNoMem = md.op('Greater', [md.op('ReduceMean', [fc], { keepdims: 1 }), md.scalar(NO_MEM_MARKER / 2)]);
  const boxMask = md.op('And', [inside, fromNoMem]);
  const gate = md.op('Cast', [md.op('Greater', [md.op('Slice', [fc, md.i64([0]), md.i64([1]), md.i64([1])]), md.scalar(0.5)])], { to: 1 });
  const gateUp = md.op('Greater', [md.op('Resize', [gate, '', md.const([1, 1, 4, 4], [4])], { mode: 'nearest' }), md.scalar(0.5)]);
  const bright = md.op('Greater', [md.op('Slice', [f0, md.i64([0]), md.i64([1]), md.i64([1])]), md.scalar(0)]);
  const tracked = md.op('And', [gateUp, bright]);
  const maskBool = md.op('Or', [md.op('And', [hasBox, boxMask]), md.op('And', [md.op('Not', [hasBox]), tracked])]);
  const lowRes = md.op('Where', [maskBool, md.scalar(10), md.scalar(-10)]);
  const highRes = md.op('Resize', [lowRes, '', md.const([1, 1, 4, 4], [4])], { mode: 'nearest' });
  const area = md.op('ReduceSum', [md.op('Cast', [maskBool], { to: 1 })], { keepdims: 1 });
  const frac = md.op('Add', [
    md.op('Div', [area, md.scalar(L * L)]),
    md.op('Mul', [md.op('ReduceMean', [f1], { keepdims: 1 }), md.scalar(0)]),
  ]);
  const score = md.op('Where', [md.op('Greater', [area, md.scalar(0)]), md.scalar(10), md.scalar(-10)]);
  md.output('low_res_mask', lowRes, 'float32', [1, 1, L, L]);
  md.output('high_res_mask', highRes, 'float32', [1, 1, S, S]);
  md.output('iou', md.op('Reshape', [frac, md.i64([1, 1])]), 'float32', [1, 1]);
  md.output('object_score_logits', md.op('Reshape', [score, md.i64([1, 1, 1])]), 'float32', [1, 1, 1]);
  md.output('object_pointer', md.op('Expand', [md.op('Reshape', [frac, md.i64([1, 1, 1])]), md.i64([1, 1, c2])]), 'float32', [1, 1, c2]);

  // memory_encoder
  const me = new OnnxGraphBuilder('memory_encoder');
  const mf2 = me.input('feats2', 'float32', [1, c2, h, h]);
  const hr = me.input('high_res_mask', 'float32', [1, 1, S, S]);
  const osl = me.input('object_score_logits', 'float32', [1, 1]);
  const binarize = me.input('binarize', 'float32', []);
  const hard = me.op('Cast', [me.op('Greater', [hr, me.scalar(0)])], { to: 1 });
  const soft = me.op('Sigmoid', [hr]);
  const m = me.op('Where', [me.op('Greater', [binarize, me.scalar(0.5)]), hard, soft]);
  const present = me.op('Reshape', [me.op('Cast', [me.op('Greater', [osl, me.scalar(0)])], { to: 1 }), me.i64([1, 1, 1, 1])]);
  const pooled = me.op('Mul', [me.op('MaxPool', [m], { kernel_shape: [16, 16], strides: [16, 16] }), present]);
  const withF = me.op('Add', [pooled, me.op('Mul', [me.op('ReduceMean', [mf2], { keepdims: 1 }), me.scalar(0)])]);
  const tokens = me.op('Pad', [me.op('Reshape', [withF, me.i64([hw, 1, 1])]), me.i64([0, 0, 0, 0, 0, memDim - 1])]);
  me.output('memory_tokens', tokens, 'float32', [hw, 1, memDim]);
  me.output('memory_pos', me.op('Mul', [tokens, me.scalar(0)]), 'float32', [hw, 1, memDim]);

  // memory_attention
  const ma = new OnnxGraphBuilder('memory_attention');
  const cvf = ma.input('current_vision_features', 'float32', [hw, 1, c2]);
  const cvp = ma.input('current_vision_position_embeddings', 'float32', [hw, 1, c2]);
  const mem = ma.input('memory', 'float32', [fixedMemory ? memoryLength : 'memory_length', 1, memDim]);
  const memPos = ma.input('memory_pos', 'float32', [fixedMemory ? memoryLength : 'memory_length', 1, memDim]);
  const spatial = ma.op('Slice', [mem, ma.i64([0, 0]), ma.i64([numMaskmem * hw, 1]), ma.i64([0, 2])]);
  const slots = ma.op('Reshape', [spatial, ma.i64([-1, 1, h, h])]);
  const union = ma.op('ReduceMax', [slots], { axes: [0], keepdims: 1 });
  const dil = ma.op('MaxPool', [union], { kernel_shape: [3, 3], strides: [1, 1], pads: [1, 1, 1, 1] });
  const mgate = ma.op('Cast', [ma.op('Greater', [dil, ma.scalar(0.5)])], { to: 1 });
  const cur = ma.op('Reshape', [ma.op('Transpose', [cvf], { perm: [1, 2, 0] }), ma.i64([1, c2, h, h])]);
  const unused = ma.op('Add', [ma.op('ReduceMean', [cvp], { keepdims: 0 }), ma.op('ReduceMean', [memPos], { keepdims: 0 })]);
  const cond = ma.op('Add', [ma.op('Mul', [cur, ma.scalar(0)]), ma.op('Add', [mgate, ma.op('Mul', [unused, ma.scalar(0)])])]);
  ma.output('conditioned_feats', cond, 'float32', [1, c2, h, h]);

  // pointer_tpos: pointer_pos[p, j] = normalized_diffs[p] for every j (checkable by the host tests)
  const pt = new OnnxGraphBuilder('pointer_tpos');
  const diffs = pt.input('normalized_diffs', 'float32', ['num_pointers']);
  const col = pt.op('Unsqueeze', [diffs, pt.i64([1])]);
  pt.output('pointer_pos', pt.op('Mul', [col, pt.const(new Array(memDim).fill(1), [1, memDim])]), 'float32', ['num_pointers', memDim]);

  const table: number[][] = [];
  for (let r = 0; r < numMaskmem; r++) {
    table.push(Array.from({ length: memDim }, (_, j) => (r + 1) * 0.01 + j * 0.001));
  }
  return {
    files: {
      'vision_encoder.onnx': ve.build(),
      'mask_decoder.onnx': md.build(),
      'memory_encoder.onnx': me.build(),
      'memory_attention.onnx': ma.build(),
      'pointer_tpos.onnx': pt.build(),
    },
    constants: { memory_temporal_pos_enc: table, image_size: S, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] },
    geometry: { imageSize: S, c0, c1, c2, memDim, numMaskmem, maxPointers, fixedMemory, featSize: h, memoryLength },
  };
}

/** Query layout of the GroundingDINO fixture: base logit per query and the bonus on caption position 1. */
export const GDINO_QUERY_LOGITS = [0, -1, -1.5];
export const GDINO_FIRST_WORD_BONUS = 2;

export interface GroundingDinoFixtureOptions {
  /** Number of queries (900 in the real export). */
  queries?: number;
  /** Text positions in the logits (256 in the real export). */
  maxText?: number;
  /** Fixed input size (the Swin-B build is 800x800), or symbolic height/width. */
  fixedSize?: [number, number];
  /** Fixed text length of the inputs (the Swin-B build takes [1,256]). */
  fixedText?: number;
  /** float16 pixel_values, logits and pred_boxes (an fp16 export). */
  half?: boolean;
}

/**
 * GroundingDINO HF export stand-in. Boxes: query 0 = bounding box of pixels brighter than mid-grey,
 * 1 = the whole image, 2 = the left half, others = a small box at the centre. Logits: for tokens other
 * than [CLS]/[SEP]/"." with attention 1, `GDINO_QUERY_LOGITS[q]` (+ bonus at position 1 on query 0);
 * everything else -5 for real tokens and -inf past T.
 */
export function buildGroundingDinoFixture(options: GroundingDinoFixtureOptions = {}): Uint8Array {
  const Q = options.queries ?? 16;
  const T = options.maxText ?? 256;
  const b = new OnnxGraphBuilder('grounding_dino');
  const hDim: number | string = options.fixedSize ? options.fixedSize[0] : 'height';
  const wDim: number | string = options.fixedSize ? options.fixedSize[1] : 'width';
  const pxIn = b.input('pixel_values', options.half ? 'float16' : 'float32', [1, 3, hDim, wDim]);
  const px = options.half ? b.op('Cast', [pxIn], { to: 1 }) : pxIn;
  const pmask = b.input('pixel_mask', 'int64', [1, hDim, wDim]);
  const tDim: number | string = options.fixedText ?? 'sequence_length';
  const ids = b.input('input_ids', 'int64', [1, tDim]);
  const tt = b.input('token_type_ids', 'int64', [1, tDim]);
  const am = b.input('attention_mask', 'int64', [1, tDim]);

  // boxes
  const gray = b.op('ReduceMean', [px], { axes: [1], keepdims: 0 }); // [1,H,W]
  const valid = b.op('Cast', [pmask], { to: 9 });
  const bright = b.op('And', [b.op('Greater', [gray, b.scalar(0)]), valid]);
  const brightF = b.op('Cast', [bright], { to: 1 });
  const rows = b.op('ReduceMax', [brightF], { axes: [2], keepdims: 0 }); // [1,H]
  const cols = b.op('ReduceMax', [brightF], { axes: [1], keepdims: 0 }); // [1,W]
  const shape = b.op('Shape', [px]);
  const Hfull = b.op('Cast', [b.op('Gather', [shape, b.scalar(2, 'int64')])], { to: 1 });
  const Wfull = b.op('Cast', [b.op('Gather', [shape, b.scalar(3, 'int64')])], { to: 1 });
  // boxes are relative to the valid (unpadded) image, as in DETR-style models
  const maskF = b.op('Cast', [pmask], { to: 1 });
  const H = b.op('ReduceSum', [b.op('ReduceMax', [maskF], { axes: [2], keepdims: 0 })], { keepdims: 0 });
  const W = b.op('ReduceSum', [b.op('ReduceMax', [maskF], { axes: [1], keepdims: 0 })], { keepdims: 0 });
  const ramp = (n: string) => b.op('Range', [b.scalar(0), n, b.scalar(1)]);
  const extent = (any: string, n: string) => {
    const r = ramp(n);
    const has = b.op('Greater', [any, b.scalar(0.5)]);
    const lo = b.op('ReduceMin', [b.op('Where', [has, r, b.scalar(1e9)])], { keepdims: 0 });
    const hi = b.op('ReduceMax', [b.op('Where', [has, b.op('Add', [r, b.scalar(1)]), b.scalar(-1e9)])], { keepdims: 0 });
    // no bright pixel: an empty box at 0
    const ok = b.op('Greater', [hi, lo]);
    return [b.op('Where', [ok, lo, b.scalar(0)]), b.op('Where', [ok, hi, b.scalar(0)])];
  };
  const [ya, yb] = extent(rows, Hfull);
  const [xa, xb] = extent(cols, Wfull);
  const cx = b.op('Div', [b.op('Add', [xa, xb]), b.op('Mul', [W, b.scalar(2)])]);
  const cy = b.op('Div', [b.op('Add', [ya, yb]), b.op('Mul', [H, b.scalar(2)])]);
  const bw = b.op('Div', [b.op('Sub', [xb, xa]), W]);
  const bh = b.op('Div', [b.op('Sub', [yb, ya]), H]);
  const box0 = b.op('Reshape', [b.op('Concat', [cx, cy, bw, bh].map((v) => b.op('Reshape', [v, b.i64([1])])), { axis: 0 }), b.i64([1, 1, 4])]);
  const others: number[] = [0.5, 0.5, 1, 1, 0.25, 0.5, 0.5, 1];
  for (let q = 3; q < Q; q++) {
    others.push(0.5, 0.5, 0.1, 0.1);
  }
  const boxes = b.op('Concat', [box0, b.const(others, [1, Q - 1, 4])], { axis: 1 });
  b.output('pred_boxes', options.half ? b.op('Cast', [boxes], { to: 10 }) : boxes, options.half ? 'float16' : 'float32', [1, Q, 4]);

  // logits
  const special = b.op('Or', [
    b.op('Or', [b.op('Equal', [ids, b.scalar(101, 'int64')]), b.op('Equal', [ids, b.scalar(102, 'int64')])]),
    b.op('Equal', [ids, b.scalar(1012, 'int64')]),
  ]);
  const relevant = b.op('And', [b.op('Not', [special]), b.op('Equal', [am, b.scalar(1, 'int64')])]); // [1,T']
  const seqLen = b.op('Gather', [b.op('Shape', [ids]), b.scalar(1, 'int64')]);
  const pos = b.op('Range', [b.scalar(0, 'int64'), seqLen, b.scalar(1, 'int64')]);
  const first = b.op('Cast', [b.op('Equal', [pos, b.scalar(1, 'int64')])], { to: 1 }); // [T']
  const base = GDINO_QUERY_LOGITS.concat(new Array(Math.max(0, Q - GDINO_QUERY_LOGITS.length)).fill(-4)).slice(0, Q);
  const bonus = [GDINO_FIRST_WORD_BONUS].concat(new Array(Q - 1).fill(0));
  const qLogit = b.op('Add', [b.const(base, [1, Q, 1]), b.op('Mul', [b.const(bonus, [1, Q, 1]), first])]); // [1,Q,T']
  const relQ = b.op('Unsqueeze', [relevant, b.i64([1])]); // [1,1,T']
  const ttZero = b.op('Mul', [b.op('Cast', [b.op('Unsqueeze', [tt, b.i64([1])])], { to: 1 }), b.scalar(0)]);
  const realLogits = b.op('Add', [b.op('Where', [relQ, qLogit, b.scalar(-5)]), ttZero]);
  const padLen = b.op('Sub', [b.scalar(T, 'int64'), seqLen]);
  const pads = b.op('Concat', [b.i64([0, 0, 0, 0, 0]), b.op('Reshape', [padLen, b.i64([1])])], { axis: 0 });
  const logits = b.op('Pad', [realLogits, pads, b.scalar(-Infinity)]);
  b.output('logits', options.half ? b.op('Cast', [logits], { to: 10 }) : logits, options.half ? 'float16' : 'float32', [1, Q, T]);
  return b.build();
}

/**
 * AudioSet tagger stand-in (EfficientAT layout): `samples` [W,N] -> `probabilities` [W,C] with
 * p[w,c] = sigmoid(gain[c] * rms(samples[w]) + bias[c]). Defaults: every class 0.5 except class 0
 * (rises with energy) and `silenceClass` (falls with energy).
 */
export function buildAudioTaggerFixture(options: { classes?: number; inputName?: string; outputName?: string; silenceClass?: number; gain?: number[]; bias?: number[] } = {}): Uint8Array {
  const C = options.classes ?? 527;
  const silence = options.silenceClass ?? 500;
  const gain = options.gain ?? Array.from({ length: C }, (_, c) => (c === 0 ? 40 : c === silence ? -40 : 0));
  const bias = options.bias ?? Array.from({ length: C }, (_, c) => (c === 0 ? -4 : c === silence ? 4 : 0));
  const b = new OnnxGraphBuilder('audio_tagger');
  const x = b.input(options.inputName ?? 'samples', 'float32', ['windows', 'samples_per_window']);
  const rms = b.op('Sqrt', [b.op('ReduceMean', [b.op('Mul', [x, x])], { axes: [1], keepdims: 1 })]); // [W,1]
  const out = b.op('Sigmoid', [b.op('Add', [b.op('Mul', [rms, b.const(gain, [1, C])]), b.const(bias, [1, C])])]);
  b.output(options.outputName ?? 'probabilities', out, 'float32', ['windows', C]);
  return b.build();
}

/**
 * A BERT-uncased-style `tokenizer.json` with a small WordPiece vocabulary: the real special ids
 * ([PAD] 0, [UNK] 100, [CLS] 101, [SEP] 102, [MASK] 103, "." 1012, "?" 1029), filler `[unusedN]` tokens
 * and the given words from id 2000 on (plus `##s`).
 */
export function buildBertTokenizerJson(words: string[] = DEFAULT_WORDS): Record<string, unknown> {
  const vocab: Record<string, number> = {};
  const fixed: Record<number, string> = { 0: '[PAD]', 100: '[UNK]', 101: '[CLS]', 102: '[SEP]', 103: '[MASK]', 1012: '.', 1029: '?', 1010: ',' };
  const uniq = Array.from(new Set(words.map((w) => w.toLowerCase()).concat(['##s'])));
  for (let id = 0; id < 2000; id++) {
    vocab[fixed[id] ?? `[unused${id}]`] = id;
  }
  uniq.forEach((w, i) => {
    vocab[w] = 2000 + i;
  });
  const added = [0, 100, 101, 102, 103].map((id) => ({ id, content: fixed[id], single_word: false, lstrip: false, rstrip: false, normalized: false, special: true }));
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: added,
    normalizer: { type: 'BertNormalizer', clean_text: true, handle_chinese_chars: true, strip_accents: null, lowercase: true },
    pre_tokenizer: { type: 'BertPreTokenizer' },
    post_processor: {
      type: 'TemplateProcessing',
      single: [{ SpecialToken: { id: '[CLS]', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '[SEP]', type_id: 0 } }],
      pair: [
        { SpecialToken: { id: '[CLS]', type_id: 0 } },
        { Sequence: { id: 'A', type_id: 0 } },
        { SpecialToken: { id: '[SEP]', type_id: 0 } },
        { Sequence: { id: 'B', type_id: 1 } },
        { SpecialToken: { id: '[SEP]', type_id: 1 } },
      ],
      special_tokens: {
        '[CLS]': { id: '[CLS]', ids: [101], tokens: ['[CLS]'] },
        '[SEP]': { id: '[SEP]', ids: [102], tokens: ['[SEP]'] },
      },
    },
    decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
    model: { type: 'WordPiece', unk_token: '[UNK]', continuing_subword_prefix: '##', max_input_chars_per_word: 100, vocab },
    };
}

export const DEFAULT_WORDS = ['a', 'the', 'white', 'black', 'square', 'dog', 'cat', 'car', 'person', 'on', 'left', 'right', 'running', 'making', 'sound', 'that', 'is', 'red', 'ball'];

/** Manifest ids of the fixture models as laid out under a `models.localDir` folder. */
export const FIXTURE_IDS = {
  sam2: 'sam2.1-hiera-tiny-video',
  /** the fixed-mask export: `model-fixedmask.onnx` + `vocab.txt` */
  groundingDino: 'grounding-dino-tiny',
  /** the onnx-community export: `onnx/model.onnx` + `tokenizer.json` */
  groundingDinoHf: 'grounding-dino-tiny-hf',
  /** the onnx-community fp16 export: float16 in and out */
  groundingDinoHfFp16: 'grounding-dino-tiny-hf-fp16',
  /** Swin-B, static 800x800 and T = 256 in the real file (smaller here) */
  groundingDinoBase: 'grounding-dino-base',
  /** the default audio tagger (EfficientAT layout): `model.onnx`, samples [W,N] -> probabilities [W,527] */
  audioTagger: 'efficientat-mn10-as',
} as const;

/** Audio tagger fixture of {@link writeModelFixtures}: loud windows score Dog (74) and Bark (75), quiet ones Silence (500). */
export function buildDogTaggerFixture(): Uint8Array {
  const C = 527;
  const gain = Array.from({ length: C }, (_, c) => (c === 74 ? 60 : c === 75 ? 50 : c === 500 ? -60 : 0));
  const bias = Array.from({ length: C }, (_, c) => (c === 74 || c === 75 ? -3 : c === 500 ? 3 : -5));
  return buildAudioTaggerFixture({ gain, bias });
}

/** `vocab.txt` lines (one token per line, line number = id) for the fixture vocabulary. */
export function vocabTxt(tokenizerJson: Record<string, unknown>): string {
  const vocab = (tokenizerJson.model as { vocab: Record<string, number> }).vocab;
  const lines: string[] = [];
  for (const [tok, id] of Object.entries(vocab)) {
    lines[id] = tok;
  }
  return `${lines.join('\n')}\n`;
}

/**
 * Writes every fixture into `<dir>/<manifest id>/<manifest file path>` (the `models.localDir` layout)
 * and returns the folder. Pass `only` to write a subset.
 */
export async function writeModelFixtures(
  dir: string,
  options: { sam2?: Sam2FixtureOptions; groundingDino?: GroundingDinoFixtureOptions; baseSize?: [number, number]; only?: Array<keyof typeof FIXTURE_IDS> } = {},
): Promise<string> {
  const want = (k: keyof typeof FIXTURE_IDS) => !options.only || options.only.includes(k);
  const put = async (id: string, rel: string, data: Uint8Array | string) => {
    const file = path.join(dir, id, rel);
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, data);
  };
  if (want('sam2')) {
    const sam = buildSam2Fixture(options.sam2);
    for (const [name, bytes] of Object.entries(sam.files)) {
      await put(FIXTURE_IDS.sam2, `onnx/${name}`, bytes);
    }
    await put(FIXTURE_IDS.sam2, 'constants.json', JSON.stringify(sam.constants));
  }
  const tok = buildBertTokenizerJson();
  if (want('groundingDino')) {
    await put(FIXTURE_IDS.groundingDino, 'model-fixedmask.onnx', buildGroundingDinoFixture(options.groundingDino));
    await put(FIXTURE_IDS.groundingDino, 'vocab.txt', vocabTxt(tok));
  }
  if (want('groundingDinoHf')) {
    await put(FIXTURE_IDS.groundingDinoHf, 'onnx/model.onnx', buildGroundingDinoFixture(options.groundingDino));
    await put(FIXTURE_IDS.groundingDinoHf, 'tokenizer.json', JSON.stringify(tok));
  }
  if (want('audioTagger')) {
    await put(FIXTURE_IDS.audioTagger, 'model.onnx', buildDogTaggerFixture());
  }
  if (want('groundingDinoHfFp16')) {
    await put(FIXTURE_IDS.groundingDinoHfFp16, 'onnx/model_fp16.onnx', buildGroundingDinoFixture({ ...options.groundingDino, half: true }));
    await put(FIXTURE_IDS.groundingDinoHfFp16, 'tokenizer.json', JSON.stringify(tok));
  }
  if (want('groundingDinoBase')) {
    const size = options.baseSize ?? [320, 320];
    await put(FIXTURE_IDS.groundingDinoBase, 'onnx/model.onnx', buildGroundingDinoFixture({ ...options.groundingDino, fixedSize: size, fixedText: 256 }));
    await put(FIXTURE_IDS.groundingDinoBase, 'vocab.txt', vocabTxt(tok));
  }
  return dir;
}
