/**
 * Per-object mask logits and their multi-object composition (Ref-DAVIS17).
 *
 * The reference code composes the objects of a DAVIS video (one expression each) into one label map
 * per frame by ARGMAX of their logits with a background channel of -1 (docs/PIPELINE.md "Corrections: rules of the reference code that are easy to miss"): a
 * pixel belongs to the object with the highest logit when that logit is above -1, else to the
 * background; ties go to the earlier channel (the background first, then objects in id order), as
 * `argmax` returns the first maximum.
 *
 * Storage (`keepLogits` of the propagate stage): the logits of a frame are the SAM 2 low-resolution
 * logits upsampled bilinearly to the video size (the same resize whose `> 0` is the binary mask).
 * Only pixels above a floor (the background logit, -1) can win the argmax, so a file keeps just those:
 * `{ version: 1, width, height, floor, frames: [{ rle, values } | null] }`, where `rle` (COCO RLE)
 * marks the pixels kept and `values` is base64 of their float32 logits (little-endian) in row-major
 * pixel order; `null` is a frame without the object (every logit at or below the floor).
 */
import { readFile } from 'node:fs/promises';
import type { RleMask } from '../domain';
import { PipelineError } from '../errors';
import { decodeRle, encodeRle } from './rle';

/** Background logit of the Ref-DAVIS17 composition (reference code). */
export const DAVIS_BACKGROUND_LOGIT = -1;

/** A sparse frame of logits (see module comment). */
export interface SparseLogits {
  rle: RleMask;
  values: string;
}

/** The stored logits of one object. */
export interface LogitsFile {
  version: 1;
  width: number;
  height: number;
  floor: number;
  frames: Array<SparseLogits | null>;
}

/** Keeps the pixels of `logits` above `floor`; null when there is none. */
export function toSparse(logits: Float32Array, width: number, height: number, floor = DAVIS_BACKGROUND_LOGIT): SparseLogits | null {
  const keep = new Uint8Array(width * height);
  let n = 0;
  for (let i = 0; i < logits.length; i++) {
    if (logits[i] > floor) {
      keep[i] = 1;
      n++;
    }
  }
  if (n === 0) {
    return null;
  }
  const values = new Float32Array(n);
  for (let i = 0, k = 0; i < logits.length; i++) {
    if (keep[i]) {
      values[k++] = logits[i];
    }
  }
  return { rle: encodeRle(keep, width, height), values: Buffer.from(values.buffer, values.byteOffset, values.byteLength).toString('base64') };
}

/** Dense logits of a sparse frame: kept pixels carry their value, the others -Infinity. */
export function fromSparse(frame: SparseLogits | null, width: number, height: number): Float32Array {
  const out = new Float32Array(width * height).fill(-Infinity);
  if (!frame) {
    return out;
  }
  const keep = decodeRle(frame.rle);
  const bytes = Buffer.from(frame.values, 'base64');
  const values = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
  for (let i = 0, k = 0; i < keep.length; i++) {
    if (keep[i]) {
      out[i] = values[k++];
    }
  }
  return out;
}

/**
 * One label map by argmax of the objects' logits with a background channel of `background`
 * (reference code: -1). `objects` in channel order; a pixel gets the `label` of the first object
 * with the strictly highest logit above the background, else 0. Logits of length 0 or null mean
 * "absent on this frame".
 *
 * @example
 * composeByLogits([{ label: 1, logits: Float32Array.of(-0.5, 2) }, { label: 2, logits: Float32Array.of(3, 2) }], 2)
 * // Uint8Array [2, 1]  (pixel 1: a tie goes to the earlier object)
 */
export function composeByLogits(objects: Array<{ label: number; logits: Float32Array | null }>, pixels: number, background = DAVIS_BACKGROUND_LOGIT): Uint8Array {
  const out = new Uint8Array(pixels);
  const best = new Float32Array(pixels).fill(background);
  for (const o of objects) {
    if (!o.logits) {
      continue;
    }
    for (let i = 0; i < pixels; i++) {
      const v = o.logits[i];
      if (v > best[i]) {
        best[i] = v;
        out[i] = o.label;
      }
    }
  }
  return out;
}

/** Reads a logits file and checks it. */
export async function readLogitsFile(file: string): Promise<LogitsFile> {
  let json: LogitsFile;
  try {
    json = JSON.parse(await readFile(file, 'utf8')) as LogitsFile;
  } catch (err) {
    throw new PipelineError(`Cannot read the logits file ${file}: ${(err as Error).message}`, { stage: 'evaluate', kind: 'invalid-input', file, cause: err });
  }
  if (json?.version !== 1 || !Array.isArray(json.frames) || !(json.width > 0) || !(json.height > 0) || typeof json.floor !== 'number') {
    throw new PipelineError(`${file} is not a logits file (version 1 with width, height, floor and frames).`, { stage: 'evaluate', kind: 'invalid-input', file });
  }
  return json;
}
