/**
 * Pillow's default bicubic resize of 8-bit RGB in WebAssembly SIMD (the kernels are in pilResize.wat;
 * the coefficients are pilResize.ts's), bit for bit the JavaScript reference
 * (test/tooling/pilResizeReference.ts), in two forms: fused with the float32 `((v / 255) - mean) / std`
 * into a planar tensor (the SAM 2 frame pre-processing), and as interleaved RGB bytes (frame-grid
 * tiles). One module instance per thread, compiled on first use; its memory grows to the largest
 * image seen and is reused. A result that must outlive other resizes on the thread (read across an
 * await) is leased ({@link pilResizeNormaliseLeased}): its instance is left alone until released, and
 * calls meanwhile use another one.
 */
import { WasmKernels, WasmLayout } from '../wasm';
import { axisCoefficients, type AxisCoefficients } from './pilResize';
import { WASM_BASE64 } from './pilResize.wasm';

interface Kernels {
  horizontal: (src: number, width: number, rowOffset: number, rows: number, first: number, count: number, weights: number, taps: number, outW: number, mid: number) => void;
  vertical: (mid: number, outW: number, rowOffset: number, rows: number, first: number, count: number, weights: number, taps: number, outH: number, out: number, norm: number) => void;
  horizontal_rgb: (src: number, width: number, rowOffset: number, rows: number, first: number, count: number, weights: number, taps: number, outW: number, mid: number) => void;
  vertical_u8: (mid: number, rowBytes: number, rowOffset: number, first: number, count: number, weights: number, taps: number, outH: number, out: number, outStride: number) => void;
}

/** This thread's module instances; `leased` ones hold a result someone still reads. */
const instances: Array<{ kernels: WasmKernels<Kernels>; leased: boolean }> = [];

/** The first instance not leased (a new one when every one is). */
function freeInstance(): { kernels: WasmKernels<Kernels>; leased: boolean } {
  let inst = instances.find((i) => !i.leased);
  if (!inst) {
    inst = { kernels: new WasmKernels<Kernels>(WASM_BASE64), leased: false };
    instances.push(inst);
  }
  return inst;
}

/** Float32 mean and standard deviation per channel (R, G, B). */
export interface Normalisation {
  mean: readonly [number, number, number];
  std: readonly [number, number, number];
}

/** Copies one axis' coefficients into the module's memory; their offsets. */
function placeCoefficients(heap: Uint8Array, at: AxisAt, c: AxisCoefficients): void {
  heap.set(new Uint8Array(c.first.buffer, c.first.byteOffset, c.first.byteLength), at.first);
  heap.set(new Uint8Array(c.count.buffer, c.count.byteOffset, c.count.byteLength), at.count);
  heap.set(new Uint8Array(c.weights.buffer, c.weights.byteOffset, c.weights.byteLength), at.weights);
}

/**
 * Resizes interleaved 8-bit RGB (`width*height*3` bytes) to `outWidth x outHeight` as Pillow's
 * `Image.resize((outWidth, outHeight))` does, then writes `((v / 255) - mean[c]) / std[c]` in float32
 * as the planar tensor `[3, outHeight, outWidth]` into `out` (allocated when not given). Bit for bit
 * the values of the JavaScript reference `pilResizeRgbPlanar` with tables built by those float32 steps.
 *
 * @example
 * const chw = pilResizeNormalise(frame, 1280, 720, 1024, 1024, { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] }, reused);
 */
export function pilResizeNormalise(src: Uint8Array, width: number, height: number, outWidth: number, outHeight: number, norm: Normalisation, out?: Float32Array): Float32Array {
  const plane = outWidth * outHeight;
  if (out && out.length < 3 * plane) {
    throw new RangeError(`pilResizeNormalise: output of ${out.length} values for 3x${outHeight}x${outWidth}`);
  }
  const view = pilResizeNormaliseView(src, width, height, outWidth, outHeight, norm);
  const dst = out ?? new Float32Array(3 * plane);
  dst.set(view);
  return dst;
}

/**
 * {@link pilResizeNormalise} without the copy out: the result is a view of the module's memory, valid
 * until the next call on this thread (the next frame overwrites it, and a larger frame may move it).
 * For a buffer that is read once right away, such as the vision encoder's input.
 *
 * @example
 * const pixels = pilResizeNormaliseView(rgb, w, h, 1024, 1024, IMAGENET);
 * await session.run({ pixel_values: new ort.Tensor('float32', pixels, [1, 3, 1024, 1024]) });
 */
export function pilResizeNormaliseView(src: Uint8Array, width: number, height: number, outWidth: number, outHeight: number, norm: Normalisation): Float32Array {
  return normaliseInto(freeInstance().kernels, src, width, height, outWidth, outHeight, norm);
}

/**
 * {@link pilResizeNormaliseView} whose module memory is reserved for the result until `release()`:
 * nothing else on this thread resizes into it meanwhile (other calls take another instance), so the
 * view may be read across an await, such as an onnxruntime run that reads its input later. Release
 * it once read; an unreleased lease keeps its instance (about 20 MB at 1024 px) out of use.
 *
 * @example
 * const { pixels, release } = pilResizeNormaliseLeased(rgb, w, h, 1024, 1024, IMAGENET);
 * try { await session.run({ pixel_values: new ort.Tensor('float32', pixels, [1, 3, 1024, 1024]) }); } finally { release(); }
 */
export function pilResizeNormaliseLeased(src: Uint8Array, width: number, height: number, outWidth: number, outHeight: number, norm: Normalisation): { pixels: Float32Array; release(): void } {
  const inst = freeInstance();
  const pixels = normaliseInto(inst.kernels, src, width, height, outWidth, outHeight, norm);
  inst.leased = true;
  let released = false;
  return {
    pixels,
    release: () => {
      if (!released) {
        released = true;
        inst.leased = false;
      }
    },
  };
}

function normaliseInto(kernels: WasmKernels<Kernels>, src: Uint8Array, width: number, height: number, outWidth: number, outHeight: number, norm: Normalisation): Float32Array {
  const plane = outWidth * outHeight;
  const r = placeResize(kernels, 'pilResizeNormalise', src, width, height, outWidth, outHeight, { mid: (rows) => 3 * rows * outWidth, out: 4 * 3 * plane, extra: 24 });
  new Float32Array(r.buffer, r.extraAt, 6).set([...norm.mean, ...norm.std]);
  kernels.exports.horizontal(r.srcAt, width, r.rowOffset, r.rows, r.hAt.first, r.hAt.count, r.hAt.weights, r.hTaps, outWidth, r.midAt);
  kernels.exports.vertical(r.midAt, outWidth, r.rowOffset, r.rows, r.vAt.first, r.vAt.count, r.vAt.weights, r.vTaps, outHeight, r.outAt, r.extraAt);
  return new Float32Array(r.buffer, r.outAt, 3 * plane);
}

/**
 * Pillow's default `Image.resize((outWidth, outHeight))` of interleaved 8-bit RGB, bit for bit, as
 * interleaved RGB bytes (`outWidth*outHeight*3`). The result is a view of the module's memory, valid
 * until the next call on this thread: copy it out (or read it) before anything else resizes.
 *
 * @example
 * const tile = pilResizeRgbView(rgb, 854, 480, 406, 228); // 406*228*3 bytes
 */
export function pilResizeRgbView(src: Uint8Array, width: number, height: number, outWidth: number, outHeight: number): Uint8Array {
  const rowBytes = 3 * outWidth;
  const kernels = freeInstance().kernels;
  const r = placeResize(kernels, 'pilResizeRgb', src, width, height, outWidth, outHeight, { mid: (rows) => rows * rowBytes, out: outHeight * rowBytes });
  kernels.exports.horizontal_rgb(r.srcAt, width, r.rowOffset, r.rows, r.hAt.first, r.hAt.count, r.hAt.weights, r.hTaps, outWidth, r.midAt);
  kernels.exports.vertical_u8(r.midAt, rowBytes, r.rowOffset, r.vAt.first, r.vAt.count, r.vAt.weights, r.vTaps, outHeight, r.outAt, rowBytes);
  return new Uint8Array(r.buffer, r.outAt, outHeight * rowBytes);
}

/** Offsets of one axis' coefficients in the module's memory. */
interface AxisAt {
  first: number;
  count: number;
  weights: number;
}

/**
 * The set-up both resizes share: checks the sizes (errors named by `what`), lays out the module's
 * memory (both axes' coefficients, the source, the horizontal pass's rows, the output, `extra`
 * bytes), grows it, and copies the coefficients and the source in. Only the source rows the vertical
 * pass reads (`rowOffset` .. `rowOffset + rows`) are resized horizontally. The padding behind each
 * block (WasmLayout) covers the kernels' reads and stores past a row's end: the horizontal passes
 * load 4 or 8 bytes at a row's last pixel, and horizontal_rgb's last 4-byte store ends one byte past
 * its rows.
 */
function placeResize(
  kernels: WasmKernels<Kernels>,
  what: string,
  src: Uint8Array,
  width: number,
  height: number,
  outWidth: number,
  outHeight: number,
  bytes: { mid: (rows: number) => number; out: number; extra?: number },
): { buffer: ArrayBuffer; hAt: AxisAt; vAt: AxisAt; hTaps: number; vTaps: number; rowOffset: number; rows: number; srcAt: number; midAt: number; outAt: number; extraAt: number } {
  if (src.length < width * height * 3) {
    throw new RangeError(`${what}: ${src.length} bytes for a ${width}x${height} RGB image`);
  }
  if (!(width > 0 && height > 0 && outWidth > 0 && outHeight > 0)) {
    throw new RangeError(`${what}: cannot resize ${width}x${height} to ${outWidth}x${outHeight}`);
  }
  const hc = axisCoefficients(width, outWidth);
  const vc = axisCoefficients(height, outHeight);
  const rowOffset = vc.first[0];
  const rows = vc.first[outHeight - 1] + vc.count[outHeight - 1] - rowOffset;

  const lay = new WasmLayout();
  const axis = (c: AxisCoefficients, n: number): AxisAt => ({ first: lay.take(4 * n), count: lay.take(4 * n), weights: lay.take(4 * n * c.taps) });
  const hAt = axis(hc, outWidth);
  const vAt = axis(vc, outHeight);
  const extraAt = lay.take(bytes.extra ?? 0);
  const srcAt = lay.take(width * height * 3);
  const midAt = lay.take(bytes.mid(rows));
  const outAt = lay.take(bytes.out);

  const buffer = kernels.memory(lay.size);
  const heap = new Uint8Array(buffer);
  placeCoefficients(heap, hAt, hc);
  placeCoefficients(heap, vAt, vc);
  heap.set(src.subarray(0, width * height * 3), srcAt);
  return { buffer, hAt, vAt, hTaps: hc.taps, vTaps: vc.taps, rowOffset, rows, srcAt, midAt, outAt, extraAt };
}
