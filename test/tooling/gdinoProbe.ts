/**
 * A GroundingDINO stand-in for processing-parity checks: the Hugging Face export's signature
 * (pixel_values, pixel_mask, input_ids, token_type_ids, attention_mask -> logits [1,Q,256],
 * pred_boxes [1,Q,4]) with outputs that move continuously with every pre-processing detail, so that
 * two pipelines feeding it differently get different scores and boxes:
 *
 * - per-channel means m_r, m_g, m_b of the valid (pixel_mask 1) normalised pixels, and the bounding box
 *   of the pixels brighter than 0 after normalisation (query 0's box, relative to the valid area);
 * - logits[q,t] = A[q] + B[q] * m_{q mod 3} + C[q] * sin(0.37 * id_t + q) for the real tokens, and
 *   -inf for the text positions past the caption, as the real export;
 * - queries 1.. get boxes from sigmoids of the channel means.
 */
import { OnnxGraphBuilder } from './onnxBuilder';

export const PROBE_QUERIES = 12;
export const PROBE_TEXT = 256;

export function buildGroundingDinoProbe(): Uint8Array {
  const Q = PROBE_QUERIES;
  const T = PROBE_TEXT;
  const b = new OnnxGraphBuilder('grounding_dino_probe');
  const px = b.input('pixel_values', 'float32', [1, 3, 'height', 'width']);
  const pmask = b.input('pixel_mask', 'int64', [1, 'height', 'width']);
  const ids = b.input('input_ids', 'int64', [1, 'sequence_length']);
  const tt = b.input('token_type_ids', 'int64', [1, 'sequence_length']);
  const am = b.input('attention_mask', 'int64', [1, 'sequence_length']);

  const maskF = b.op('Cast', [pmask], { to: 1 }); // [1,H,W]
  const valid = b.op('ReduceSum', [maskF], { keepdims: 0 });
  const masked = b.op('Mul', [px, b.op('Unsqueeze', [maskF, b.i64([1])])]); // [1,3,H,W]
  const means = b.op('Div', [b.op('ReduceSum', [masked, b.i64([2, 3])], { keepdims: 0 }), valid]); // [1,3]

  // Query 0: box of the bright pixels (grey mean > 0), relative to the valid area.
  const gray = b.op('ReduceMean', [px], { axes: [1], keepdims: 0 });
  const bright = b.op('Cast', [b.op('And', [b.op('Greater', [gray, b.scalar(0)]), b.op('Cast', [pmask], { to: 9 })])], { to: 1 });
  const rows = b.op('ReduceMax', [bright], { axes: [2], keepdims: 0 });
  const cols = b.op('ReduceMax', [bright], { axes: [1], keepdims: 0 });
  const shape = b.op('Shape', [px]);
  const Hn = b.op('Cast', [b.op('Gather', [shape, b.scalar(2, 'int64')])], { to: 1 });
  const Wn = b.op('Cast', [b.op('Gather', [shape, b.scalar(3, 'int64')])], { to: 1 });
  const H = b.op('ReduceSum', [b.op('ReduceMax', [maskF], { axes: [2], keepdims: 0 })], { keepdims: 0 });
  const W = b.op('ReduceSum', [b.op('ReduceMax', [maskF], { axes: [1], keepdims: 0 })], { keepdims: 0 });
  const extent = (any: string, n: string) => {
    const r = b.op('Range', [b.scalar(0), n, b.scalar(1)]);
    const has = b.op('Greater', [any, b.scalar(0.5)]);
    const lo = b.op('ReduceMin', [b.op('Where', [has, r, b.scalar(1e9)])], { keepdims: 0 });
    const hi = b.op('ReduceMax', [b.op('Where', [has, b.op('Add', [r, b.scalar(1)]), b.scalar(-1e9)])], { keepdims: 0 });
    const ok = b.op('Greater', [hi, lo]);
    return [b.op('Where', [ok, lo, b.scalar(0)]), b.op('Where', [ok, hi, b.scalar(0)])];
  };
  const [ya, yb] = extent(rows, Hn);
  const [xa, xb] = extent(cols, Wn);
  const cx = b.op('Div', [b.op('Add', [xa, xb]), b.op('Mul', [W, b.scalar(2)])]);
  const cy = b.op('Div', [b.op('Add', [ya, yb]), b.op('Mul', [H, b.scalar(2)])]);
  const bw = b.op('Div', [b.op('Sub', [xb, xa]), W]);
  const bh = b.op('Div', [b.op('Sub', [yb, ya]), H]);
  const box0 = b.op('Reshape', [b.op('Concat', [cx, cy, bw, bh].map((v) => b.op('Reshape', [v, b.i64([1])])), { axis: 0 }), b.i64([1, 1, 4])]);

  // Queries 1..Q-1: boxes from sigmoids of a fixed mix of the channel means.
  const mix = b.const(
    Array.from({ length: 3 * (Q - 1) * 4 }, (_, i) => Math.sin(1.3 * i + 0.5) * 1.7),
    [3, (Q - 1) * 4],
  );
  const raw = b.op('Sigmoid', [b.op('Add', [b.op('MatMul', [means, mix]), b.const(Array.from({ length: (Q - 1) * 4 }, (_, i) => Math.cos(0.7 * i)), [1, (Q - 1) * 4])])]);
  // centre in [0.1, 0.9], size in [0.05, 0.45]
  const lo = b.const(Array.from({ length: (Q - 1) * 4 }, (_, i) => (i % 4 < 2 ? 0.1 : 0.05)), [1, (Q - 1) * 4]);
  const span = b.const(Array.from({ length: (Q - 1) * 4 }, (_, i) => (i % 4 < 2 ? 0.8 : 0.4)), [1, (Q - 1) * 4]);
  const rest = b.op('Reshape', [b.op('Add', [lo, b.op('Mul', [raw, span])]), b.i64([1, Q - 1, 4])]);
  b.output('pred_boxes', b.op('Concat', [box0, rest], { axis: 1 }), 'float32', [1, Q, 4]);

  // Logits.
  const A = Array.from({ length: Q }, (_, q) => [1.2, -0.4, -1.1][q % 3] - 0.15 * q);
  const B = Array.from({ length: Q }, (_, q) => 0.8 + 0.1 * q);
  const C = Array.from({ length: Q }, (_, q) => 1.5 - 0.05 * q);
  const chan = b.op('Gather', [means, b.const(Array.from({ length: Q }, (_, q) => q % 3), [Q], 'int64')], { axis: 1 }); // [1,Q]
  const idF = b.op('Cast', [ids], { to: 1 }); // [1,T']
  const phase = b.op('Add', [b.op('Mul', [b.op('Unsqueeze', [idF, b.i64([1])]), b.scalar(0.37)]), b.const(Array.from({ length: Q }, (_, q) => q), [1, Q, 1])]); // [1,Q,T']
  const tokenTerm = b.op('Mul', [b.const(C, [1, Q, 1]), b.op('Sin', [phase])]);
  const imageTerm = b.op('Unsqueeze', [b.op('Add', [b.const(A, [1, Q]), b.op('Mul', [b.const(B, [1, Q]), chan])]), b.i64([2])]); // [1,Q,1]
  const ttZero = b.op('Mul', [b.op('Cast', [b.op('Unsqueeze', [tt, b.i64([1])])], { to: 1 }), b.scalar(0)]);
  const amOn = b.op('Unsqueeze', [b.op('Equal', [am, b.scalar(1, 'int64')]), b.i64([1])]);
  const real = b.op('Add', [b.op('Where', [amOn, b.op('Add', [imageTerm, tokenTerm]), b.scalar(-Infinity)]), ttZero]);
  const seqLen = b.op('Gather', [b.op('Shape', [ids]), b.scalar(1, 'int64')]);
  const pads = b.op('Concat', [b.i64([0, 0, 0, 0, 0]), b.op('Reshape', [b.op('Sub', [b.scalar(T, 'int64'), seqLen]), b.i64([1])])], { axis: 0 });
  b.output('logits', b.op('Pad', [real, pads, b.scalar(-Infinity)]), 'float32', [1, Q, T]);
  return b.build();
}
