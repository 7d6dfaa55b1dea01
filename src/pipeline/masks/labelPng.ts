/**
 * The label PNG codec: mask PNG reading and writing for export and evaluation, with the DAVIS and
 * AVSBench-semantic palettes. Every mask is turned into a row-major LABEL map
 * (`Uint8Array`, one value per pixel), because the official evaluators read masks that way:
 *
 * - palette (indexed) PNGs give their palette INDICES (DAVIS object ids, 255 = void), never colours;
 * - 8-bit grey PNGs give their grey values (0/255 binary masks, or object ids written as grey);
 *   a grey+alpha PNG ignores the alpha channel;
 * - 16-bit PNGs (grey, grey+alpha, RGB(A)) keep their stored values when all are at most 255 (label
 *   ids 0, 1, 2 ..., as PIL and numpy read them in the official evaluators); otherwise they are 8-bit
 *   values widened to 16 bits: divided by 257 when every value is a multiple of 257 (0/65535 masks,
 *   PIL's and OpenCV's scaling), or by 256 when every value is a multiple of 256 (a left shift). Any
 *   other 16-bit content is an error naming the file (label maps here hold ids 0..255);
 * - RGB(A) PNGs that are grey in disguise (R = G = B) give the grey value; coloured RGB PNGs are
 *   mapped through the DAVIS palette (unknown non-black colours become 1, black 0).
 *
 * How a label map becomes a binary mask depends on the protocol (see `metrics/maskMetrics.ts`): DAVIS compares
 * object ids, every other protocol treats any non-zero value as foreground.
 */
import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { inflateSync } from 'node:zlib';
import { decode, encode } from 'fast-png';
import { PipelineError } from '../errors';

/** A decoded mask: `data[y * width + x]` is the label of pixel (x, y). */
export interface LabelImage {
  width: number;
  height: number;
  data: Uint8Array;
  /** True when the file was an indexed (palette) PNG. */
  indexed: boolean;
}

/**
 * The DAVIS 2017 / PASCAL VOC palette: index i -> bit-interleaved colour (index 1 = (128, 0, 0),
 * 2 = (0, 128, 0), 3 = (128, 128, 0), ...).
 */
export function davisPalette(n = 256): Array<[number, number, number]> {
  const out: Array<[number, number, number]> = [];
  for (let i = 0; i < n; i++) {
    let r = 0;
    let g = 0;
    let b = 0;
    let c = i;
    for (let j = 0; j < 8; j++) {
      r |= ((c >> 0) & 1) << (7 - j);
      g |= ((c >> 1) & 1) << (7 - j);
      b |= ((c >> 2) & 1) << (7 - j);
      c >>= 3;
    }
    out.push([r, g, b]);
  }
  return out;
}

/** AVSBench-semantic classes, background (index 0) included: the size of its palette and of its label ids. */
export const AVSS_CLASSES = 71;

/**
 * The AVSBench-semantic colour palette (`_getpallete`, 71 entries): the same bit construction as the
 * DAVIS palette, so class k has the DAVIS colour of index k.
 */
export function avssPalette(classes = AVSS_CLASSES): number[][] {
  return davisPalette(classes);
}

const DAVIS_COLOUR_TO_INDEX = new Map<number, number>(davisPalette().map((c, i) => [(c[0] << 16) | (c[1] << 8) | c[2], i]));

/** The fields of a decoded PNG this module uses (fast-png's shape). */
interface DecodedLike {
  width: number;
  height: number;
  depth: number;
  channels: number;
  data: ArrayLike<number> & { length: number; subarray?: unknown };
  palette?: number[][];
}

/**
 * Decoder for the common case of evaluation masks: 8-bit, non-interlaced PNGs (grey, RGB, palette,
 * grey+alpha, RGBA). zlib runs natively here, which is several times faster than a JS inflate on
 * 854x480 masks. Returns null for anything else (16-bit, packed bits, interlaced), which the general
 * decoder handles.
 */
function decodeFast8Bit(bytes: Uint8Array): DecodedLike | null {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buf.length < 33 || buf.readUInt32BE(0) !== 0x89504e47 || buf.readUInt32BE(4) !== 0x0d0a1a0a) {
    return null;
  }
  let pos = 8;
  let width = 0;
  let height = 0;
  let colourType = -1;
  let palette: number[][] | undefined;
  const idat: Buffer[] = [];
  while (pos + 8 <= buf.length) {
    const len = buf.readUInt32BE(pos);
    const type = buf.toString('latin1', pos + 4, pos + 8);
    const body = buf.subarray(pos + 8, pos + 8 + len);
    if (type === 'IHDR') {
      width = body.readUInt32BE(0);
      height = body.readUInt32BE(4);
      const depth = body[8];
      colourType = body[9];
      if (depth !== 8 || body[12] !== 0 || ![0, 2, 3, 4, 6].includes(colourType)) {
        return null;
      }
    } else if (type === 'PLTE') {
      palette = [];
      for (let i = 0; i + 2 < body.length; i += 3) {
        palette.push([body[i], body[i + 1], body[i + 2]]);
      }
    } else if (type === 'IDAT') {
      idat.push(body);
    } else if (type === 'IEND') {
      break;
    }
    pos += 12 + len;
  }
  const channels = ({ 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 } as Record<number, number>)[colourType];
  if (!channels || width === 0 || height === 0) {
    return null;
  }
  const raw = inflateSync(Buffer.concat(idat));
  const bpp = channels;
  const stride = width * bpp;
  if (raw.length < (stride + 1) * height) {
    return null;
  }
  const out = new Uint8Array(stride * height);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)];
    const src = y * (stride + 1) + 1;
    const dst = y * stride;
    const up = dst - stride;
    if (filter === 0) {
      out.set(raw.subarray(src, src + stride), dst);
    } else if (filter === 1) {
      for (let x = 0; x < stride; x++) {
        out[dst + x] = (raw[src + x] + (x >= bpp ? out[dst + x - bpp] : 0)) & 0xff;
      }
    } else if (filter === 2) {
      if (y === 0) {
        out.set(raw.subarray(src, src + stride), dst);
      } else {
        for (let x = 0; x < stride; x++) {
          out[dst + x] = (raw[src + x] + out[up + x]) & 0xff;
        }
      }
    } else if (filter === 3) {
      for (let x = 0; x < stride; x++) {
        const a = x >= bpp ? out[dst + x - bpp] : 0;
        const b = y > 0 ? out[up + x] : 0;
        out[dst + x] = (raw[src + x] + ((a + b) >> 1)) & 0xff;
      }
    } else if (filter === 4) {
      for (let x = 0; x < stride; x++) {
        const a = x >= bpp ? out[dst + x - bpp] : 0;
        const b = y > 0 ? out[up + x] : 0;
        const c = y > 0 && x >= bpp ? out[up + x - bpp] : 0;
        const p = a + b - c;
        const pa = p > a ? p - a : a - p;
        const pb = p > b ? p - b : b - p;
        const pc = p > c ? p - c : c - p;
        out[dst + x] = (raw[src + x] + (pa <= pb && pa <= pc ? a : pb <= pc ? b : c)) & 0xff;
      }
    } else {
      return null;
    }
  }
  return { width, height, depth: 8, channels, data: out, palette: colourType === 3 ? palette ?? [] : undefined };
}

/** Options of {@link decodeLabelPng}. */
export interface DecodeLabelOptions {
  /**
   * Colour-coded labels (AVSS `labels_rgb`): every pixel's colour is looked up in this palette and
   * becomes its index; colours not in it become 0. Applies to RGB and indexed PNGs alike.
   */
  colourPalette?: number[][];
}

/** Decodes PNG bytes into a label map (see the module comment for the rules). `file` names errors. */
export function decodeLabelPng(bytes: Uint8Array, file = '<memory>', options: DecodeLabelOptions = {}): LabelImage {
  let png: DecodedLike;
  try {
    png = decodeFast8Bit(bytes) ?? decode(bytes);
  } catch (err) {
    throw new PipelineError(`${file} is not a readable PNG (${(err as Error).message}).`, {
      stage: 'evaluate', kind: 'invalid-input', file, cause: err,
    });
  }
  if (png.depth === 16) {
    png = { ...png, depth: 8, data: sixteenToEight(png.data, png.channels, file) };
  }
  const { width, height, channels } = png;
  const n = width * height;
  const src = png.data;
  const out = new Uint8Array(n);
  if (options.colourPalette) {
    return { width, height, data: decodeColours(png, options.colourPalette), indexed: Boolean(png.palette) };
  }
  if (png.palette) {
    // fast-png keeps the indices as they are for palette images (1, 2, 4 or 8 bits unpacked to bytes)
    if (src.length === n) {
      out.set(src as Uint8Array);
    } else {
      unpackBits(src as Uint8Array, out, width, height, png.depth);
    }
    return { width, height, data: out, indexed: true };
  }
  if (png.depth < 8) {
    // 1/2/4-bit grey: scale to 0..255 like PIL's "L" conversion
    const tmp = new Uint8Array(n);
    if (src.length === n) {
      tmp.set(src as Uint8Array);
    } else {
      unpackBits(src as Uint8Array, tmp, width, height, png.depth);
    }
    const scale = 255 / ((1 << png.depth) - 1);
    for (let i = 0; i < n; i++) {
      out[i] = Math.round(tmp[i] * scale);
    }
    return { width, height, data: out, indexed: false };
  }
  if (channels === 1 || channels === 2) {
    for (let i = 0, k = 0; i < n; i++, k += channels) {
      out[i] = src[k];
    }
    return { width, height, data: out, indexed: false };
  }
  for (let i = 0, k = 0; i < n; i++, k += channels) {
    const r = src[k];
    const g = src[k + 1];
    const b = src[k + 2];
    if (r === g && g === b) {
      out[i] = r;
    } else {
      out[i] = DAVIS_COLOUR_TO_INDEX.get((r << 16) | (g << 8) | b) ?? 1;
    }
  }
  return { width, height, data: out, indexed: false };
}

/** 16-bit samples to 8-bit label values (the rules are in the module comment). */
function sixteenToEight(data: ArrayLike<number>, channels: number, file: string): Uint8Array {
  const out = new Uint8Array(data.length);
  // the alpha channel (grey+alpha, RGBA) is not a label and is left out of the decision
  const alpha = channels === 2 || channels === 4 ? channels - 1 : -1;
  // first sample that is not a multiple of 257 / of 256 (index into data; -1: none)
  let not257 = -1;
  let not256 = -1;
  let max = 0;
  for (let i = 0; i < data.length; i++) {
    if (i % channels === alpha) {
      continue;
    }
    const v = data[i];
    if (not257 < 0 && v % 257 !== 0) {
      not257 = i;
    }
    if (not256 < 0 && v % 256 !== 0) {
      not256 = i;
    }
    max = v > max ? v : max;
  }
  const divisor = max <= 255 ? 1 : not257 < 0 ? 257 : not256 < 0 ? 256 : 0;
  if (divisor === 0) {
    // name the first sample that fits neither widening (max itself may be a valid 0/65535 value)
    let odd = -1;
    for (let i = 0; i < data.length && odd < 0; i++) {
      if (i % channels !== alpha && data[i] % 257 !== 0 && data[i] % 256 !== 0) {
        odd = i;
      }
    }
    const at = (i: number): string => `value ${data[i]} (pixel ${Math.floor(i / channels)})`;
    const what = odd >= 0
      ? `with ${at(odd)}, a multiple of neither 257 nor 256`
      : `mixing multiples of 257 and of 256: ${at(Math.min(not256, not257))} and ${at(Math.max(not256, not257))}`;
    throw new PipelineError(
      `${file} is a 16-bit PNG ${what}, and values up to ${max}: it is neither a label map (ids 0..255) nor an 8-bit mask widened to 16 bits (every value a multiple of 257, like 0/65535, or of 256). Save the labels as 8-bit or indexed PNGs.`,
      { stage: 'evaluate', kind: 'invalid-input', file },
    );
  }
  for (let i = 0; i < data.length; i++) {
    out[i] = i % channels === alpha ? data[i] >> 8 : data[i] / divisor;
  }
  return out;
}

function decodeColours(png: DecodedLike, palette: number[][]): Uint8Array {
  const lookup = new Map<number, number>(palette.map((c, i) => [(c[0] << 16) | (c[1] << 8) | c[2], i]));
  const { width, height, channels } = png;
  const n = width * height;
  const out = new Uint8Array(n);
  if (png.palette) {
    const idx = new Uint8Array(n);
    if (png.data.length === n) {
      idx.set(png.data as Uint8Array);
    } else {
      unpackBits(png.data as Uint8Array, idx, width, height, png.depth);
    }
    const byIndex = png.palette.map((c) => lookup.get((c[0] << 16) | (c[1] << 8) | c[2]) ?? 0);
    for (let i = 0; i < n; i++) {
      out[i] = byIndex[idx[i]] ?? 0;
    }
    return out;
  }
  for (let i = 0, k = 0; i < n; i++, k += channels) {
    const r = png.data[k];
    const g = channels >= 3 ? png.data[k + 1] : r;
    const b = channels >= 3 ? png.data[k + 2] : r;
    out[i] = lookup.get((r << 16) | (g << 8) | b) ?? 0;
  }
  return out;
}

function unpackBits(src: Uint8Array, out: Uint8Array, width: number, height: number, depth: number): void {
  const perByte = 8 / depth;
  const rowBytes = Math.ceil(width / perByte);
  const mask = (1 << depth) - 1;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const byte = src[y * rowBytes + Math.floor(x / perByte)];
      const shiftBits = 8 - depth * ((x % perByte) + 1);
      out[y * width + x] = (byte >> shiftBits) & mask;
    }
  }
}

/** Reads a PNG file into a label map; a missing or broken file is an `invalid-input` error naming it. */
export async function readLabelPng(file: string, options: DecodeLabelOptions = {}): Promise<LabelImage> {
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (err) {
    throw new PipelineError(`Cannot read mask ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}.`, {
      stage: 'evaluate', kind: 'invalid-input', file, cause: err,
    });
  }
  return decodeLabelPng(bytes, file, options);
}

/** Encodes a label map as an indexed PNG with the DAVIS palette (what DAVIS tools and Ref-DAVIS17 expect). */
export function encodeIndexedPng(labels: Uint8Array, width: number, height: number, palette: number[][] = davisPalette()): Uint8Array {
  return encode({ width, height, data: labels, depth: 8, channels: 1, palette });
}

/** Encodes a binary mask (non-zero = object) as an 8-bit grey PNG with values 0/255. */
export function encodeBinaryPng(mask: Uint8Array, width: number, height: number): Uint8Array {
  const out = new Uint8Array(width * height);
  for (let i = 0; i < out.length; i++) {
    out[i] = mask[i] ? 255 : 0;
  }
  return encode({ width, height, data: out, depth: 8, channels: 1 });
}

/** Encodes an RGB image (3 bytes per pixel). */
export function encodeRgbPng(rgb: Uint8Array, width: number, height: number): Uint8Array {
  return encode({ width, height, data: rgb, depth: 8, channels: 3 });
}

/** Nearest-neighbour resize of a label map, sampling like PIL's NEAREST: source = floor((dst + 0.5) * src / dst). */
export function resizeNearest(src: Uint8Array, width: number, height: number, outWidth: number, outHeight: number): Uint8Array {
  if (width === outWidth && height === outHeight) {
    return src;
  }
  const out = new Uint8Array(outWidth * outHeight);
  const xs = new Int32Array(outWidth);
  for (let x = 0; x < outWidth; x++) {
    xs[x] = Math.min(width - 1, Math.floor(((x + 0.5) * width) / outWidth));
  }
  for (let y = 0; y < outHeight; y++) {
    const sy = Math.min(height - 1, Math.floor(((y + 0.5) * height) / outHeight));
    const row = sy * width;
    const o = y * outWidth;
    for (let x = 0; x < outWidth; x++) {
      out[o + x] = src[row + xs[x]];
    }
  }
  return out;
}

/** Binary mask (0/1) of the pixels whose label is non-zero. */
export function nonZero(labels: Uint8Array): Uint8Array {
  const out = new Uint8Array(labels.length);
  for (let i = 0; i < labels.length; i++) {
    out[i] = labels[i] !== 0 ? 1 : 0;
  }
  return out;
}

/** Binary mask (0/1) of the pixels whose label equals `id`. */
export function labelEquals(labels: Uint8Array, id: number): Uint8Array {
  const out = new Uint8Array(labels.length);
  for (let i = 0; i < labels.length; i++) {
    out[i] = labels[i] === id ? 1 : 0;
  }
  return out;
}

/**
 * The PNG masks of a ground-truth folder by frame index: matched by number when every file stem is
 * an integer (`00017.png` is frame 17), else by position in name order. Files in frame order.
 */
export async function labelPngFolder(dir: string): Promise<Map<number, string>> {
  const names = (await readdir(dir)).filter((n) => n.toLowerCase().endsWith('.png')).sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
  const numeric = names.every((n) => /^\d+$/.test(n.slice(0, -4)));
  return new Map(names.map((n, k) => [numeric ? Number(n.slice(0, -4)) : k, path.join(dir, n)]));
}
