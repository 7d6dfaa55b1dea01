/**
 * SAM 2 feature layouts (pure, no onnxruntime): the encoder's channel-major features as the
 * memory-attention tokens, and a bit-exact comparison. Used by the tracker and by its worker threads.
 */

/**
 * Channel-major features `[C, hw]` to tokens `[hw, C]` (the `[1,C,h,w] -> [h*w,1,C]` layout of
 * memory_attention), moved as 32-bit patterns so every value, NaN payloads included, is kept. Writes
 * into `out` when given (at least `c * hw` long; a buffer reused across frames), else into a new array.
 *
 * The transpose goes 8 channels at a time: 8 sequential read streams, 8 adjacent words written per
 * token. A one-channel-at-a-time loop writes one word per 4*C-byte stride and so touches every cache
 * line of the output C times; these 8-channel panels move 1M values about 4x faster than it (node 20,
 * feats2 [1,256,64,64]), and measured faster than square tiles (16x16, 32x32) too.
 *
 * @example
 * const tokens = featuresToTokens(feats2, 256, 64 * 64); // 4096 x 256
 */
export function featuresToTokens(features: Float32Array, c: number, hw: number, out?: Float32Array): Float32Array {
  if (out && out.length < c * hw) {
    throw new RangeError(`featuresToTokens: out holds ${out.length} values, ${c * hw} needed`);
  }
  const src = new Uint32Array(features.buffer, features.byteOffset, c * hw);
  const dst = out ? new Uint32Array(out.buffer, out.byteOffset, c * hw) : new Uint32Array(hw * c);
  const h2 = 2 * hw;
  const h3 = 3 * hw;
  const h4 = 4 * hw;
  const h5 = 5 * hw;
  const h6 = 6 * hw;
  const h7 = 7 * hw;
  let ch = 0;
  for (; ch + 8 <= c; ch += 8) {
    for (let p = 0, i = ch * hw, o = ch; p < hw; p++, i++, o += c) {
      dst[o] = src[i];
      dst[o + 1] = src[i + hw];
      dst[o + 2] = src[i + h2];
      dst[o + 3] = src[i + h3];
      dst[o + 4] = src[i + h4];
      dst[o + 5] = src[i + h5];
      dst[o + 6] = src[i + h6];
      dst[o + 7] = src[i + h7];
    }
  }
  // the last C mod 8 channels one at a time
  for (; ch < c; ch++) {
    for (let p = 0, i = ch * hw, o = ch; p < hw; p++, i++, o += c) {
      dst[o] = src[i];
    }
  }
  return out ?? new Float32Array(dst.buffer);
}

/** Whether two arrays hold the same 32-bit patterns (a byte comparison: memcmp). */
export function sameBits(a: Uint32Array, b: Uint32Array): boolean {
  return a.length === b.length && Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}
