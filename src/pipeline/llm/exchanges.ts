import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { PipelineError } from '../errors';
import { hashJson, sha256 } from '../run/hash';
import { writeFileAtomic } from '../run/runFolder';

/**
 * Record/replay store: every exchange with the LLM as `<runDir>/exchanges/<hash>.json`, keyed by a
 * hash of what the request MEANS, so a notebook recorded on one machine replays on another whose
 * ffmpeg build (or JPEG encoder) decodes the same video into other bytes:
 *
 * - the prompt text of every message, the model, temperature, reply-length limit and image detail;
 * - for every image, the descriptor the stage that built it supplies ({@link ImageDescriptor}: the
 *   decoded-frames key, which hashes the source file's content and the decode options, the frame
 *   indices, the grid layout, the boxes drawn and their colours) and its size in pixels. An image
 *   without a descriptor is keyed by the sha256 of its exact bytes.
 *
 * The exact image bytes that were sent go with the exchange, content-addressed, as
 * `<runDir>/exchanges/images/<sha256>.jpg` ({@link exchangeImageFiles} finds them), so a replay or a
 * report can show what the model saw. The request is stored without secrets and without the endpoint
 * (a notebook never names one).
 *
 * Version 1 files (keyed by the sha256 of the image bytes, no images stored) are still read: a replay
 * that misses under the new key tries the old one ({@link legacyRequestHash}).
 */

/** Version of the exchange files written now. */
export const EXCHANGE_VERSION = 2;

/**
 * What an image shows, as the stage that built it describes it: plain JSON that names the source
 * content and every parameter that changes the picture (never a path, a time or decoder output).
 */
export type ImageDescriptor = { kind: string } & Record<string, unknown>;

/** An image in a keyed request: its descriptor, or (without one) the hash of its bytes. */
export type KeyedImage =
  | { describe: ImageDescriptor; mime: string; detail: string; width: number; height: number }
  | { sha256: string; mime: string; detail: string; width: number; height: number };

/** A request in the form that is hashed and stored (version 2). */
export interface KeyedRequest {
  model: string;
  messages: Array<{ role: 'user' | 'assistant'; text: string; images?: KeyedImage[] }>;
  temperature: number | null;
  maxTokens: number | null;
}

/** A request as version 1 hashed and stored it: every image by the sha256 of its bytes. */
export interface NormalizedRequest {
  model: string;
  messages: Array<{
    role: 'user' | 'assistant';
    text: string;
    images?: Array<{ sha256: string; mime: string; detail: string; width: number; height: number }>;
  }>;
  temperature: number | null;
  maxTokens: number | null;
}

/** One image that was sent: where it sits in the request and its file beside the exchange. */
export interface SentImage {
  /** 0-based message and image position in the request. */
  message: number;
  index: number;
  sha256: string;
  mime: string;
  width: number;
  height: number;
  /** Relative to the exchanges folder: `images/<sha256>.jpg`. */
  file: string;
}

interface ExchangeCommon {
  hash: string;
  reply: {
    text: string;
    /** Model id the server reported (may differ from the requested one). */
    model: string;
    finishReason: string | null;
  };
  usage: { promptTokens: number; completionTokens: number };
  latencyMs: number;
  recordedAt: string;
}

/** One stored exchange (version 2: keyed on meaning, images stored beside it). */
export interface Exchange extends ExchangeCommon {
  version: 2;
  request: KeyedRequest;
  images: SentImage[];
}

/** A version 1 exchange (keyed on image bytes, no images stored). */
export interface LegacyExchange extends ExchangeCommon {
  version: 1;
  request: NormalizedRequest;
}

/** Any exchange file a reader accepts. */
export type StoredExchange = Exchange | LegacyExchange;

/** The content address of a request (version 2: keyed request; version 1: normalized request). */
export function requestHash(request: KeyedRequest | NormalizedRequest): string {
  return hashJson(request);
}

/** Folder of recorded exchanges inside a run folder. */
function exchangesDir(runDir: string): string {
  return path.join(runDir, 'exchanges');
}

export function exchangePath(runDir: string, hash: string): string {
  return path.join(exchangesDir(runDir), `${hash}.json`);
}

/** How an exchange file is named in messages: relative to the notebook's folder (`<nb>.alref.runs/exchanges/<hash>.json`). */
export function exchangeLabel(runDir: string, hash: string): string {
  return path.join(path.basename(runDir), 'exchanges', `${hash}.json`);
}

/**
 * Reads a recorded exchange (version 1 or 2), or undefined when none is stored for this hash. A file
 * that is not an exchange for this request (truncated JSON, wrong shape, missing fields, a newer
 * version) is an `invalid-input` PipelineError naming the file, what is wrong and how to re-record it.
 */
export async function readExchange(runDir: string, hash: string): Promise<StoredExchange | undefined> {
  const file = exchangePath(runDir, hash);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    // ENOTDIR: something on the way (exchanges/ itself) is a file, so nothing is recorded there either.
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      return undefined;
    }
    throw corrupt(runDir, hash, `it cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, err);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    const what = text.trim() === '' ? 'it is empty' : `it is not valid JSON (${(err as Error).message.slice(0, 120)}), perhaps cut short by an interrupted copy`;
    throw corrupt(runDir, hash, what, err);
  }
  const problem = exchangeProblem(value, hash);
  if (problem) {
    throw corrupt(runDir, hash, problem);
  }
  return value as StoredExchange;
}

function corrupt(runDir: string, hash: string, what: string, cause?: unknown): PipelineError {
  const label = exchangeLabel(runDir, hash);
  return new PipelineError(
    `The recorded exchange ${label} is damaged: ${what}. Re-record it: switch the notebook to record mode (with an API key) and run the cell again, ` +
      `or delete ${label} and run in record mode; or restore the run folder that came with the notebook.`,
    { stage: 'llm', kind: 'invalid-input', file: exchangePath(runDir, hash), cause },
  );
}

/** What is wrong with a parsed exchange file, in words, or undefined when it is a valid version 1 or 2 exchange for `hash`. */
function exchangeProblem(value: unknown, hash: string): string | undefined {
  const isObj = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);
  const describe = (v: unknown): string => (v === undefined ? 'missing' : v === null ? 'null' : Array.isArray(v) ? 'a list' : typeof v === 'object' ? 'an object' : `${typeof v} ${JSON.stringify(v).slice(0, 40)}`);
  if (!isObj(value)) {
    return `it holds ${describe(value)}, not an exchange object`;
  }
  if (value.version !== 1 && value.version !== EXCHANGE_VERSION) {
    const newer = typeof value.version === 'number' && value.version > EXCHANGE_VERSION ? ', written by a newer AL-Ref Notebooks: update the extension or CLI' : '';
    return `field "version" must be 1 or ${EXCHANGE_VERSION} (got ${describe(value.version)}${newer})`;
  }
  if (value.hash !== hash) {
    return typeof value.hash === 'string' ? `it records another request (hash ${value.hash.slice(0, 12)}, expected ${hash.slice(0, 12)})` : `field "hash" is ${describe(value.hash)}`;
  }
  if (!isObj(value.request)) {
    return `field "request" is ${describe(value.request)}`;
  }
  if (!isObj(value.reply)) {
    return `field "reply" is ${describe(value.reply)}`;
  }
  if (typeof value.reply.text !== 'string') {
    return `field "reply.text" must be a string (got ${describe(value.reply.text)})`;
  }
  if (typeof value.reply.model !== 'string') {
    return `field "reply.model" must be a string (got ${describe(value.reply.model)})`;
  }
  if (value.reply.finishReason !== null && typeof value.reply.finishReason !== 'string') {
    return `field "reply.finishReason" must be a string or null (got ${describe(value.reply.finishReason)})`;
  }
  if (!isObj(value.usage)) {
    return `field "usage" is ${describe(value.usage)}`;
  }
  for (const k of ['promptTokens', 'completionTokens'] as const) {
    const n = value.usage[k];
    if (typeof n !== 'number' || !Number.isFinite(n) || n < 0) {
      return `field "usage.${k}" must be a number of tokens (got ${describe(n)})`;
    }
  }
  if (typeof value.latencyMs !== 'number' || !Number.isFinite(value.latencyMs) || value.latencyMs < 0) {
    return `field "latencyMs" must be a number (got ${describe(value.latencyMs)})`;
  }
  if (value.version === EXCHANGE_VERSION) {
    if (!Array.isArray(value.images)) {
      return `field "images" must be a list (got ${describe(value.images)})`;
    }
    for (const [i, img] of value.images.entries()) {
      if (!isObj(img) || typeof img.sha256 !== 'string' || !SHA256.test(img.sha256) || typeof img.file !== 'string' || img.file !== imageFileName(img.sha256, String(img.mime))) {
        return `field "images[${i}]" must name a sent image by its sha256 and file images/<sha256>.jpg (got ${describe(img)})`;
      }
    }
  }
  return undefined;
}

const SHA256 = /^[0-9a-f]{64}$/;

/** File of an image sent, relative to the exchanges folder: `images/<sha256>.<ext>`. */
export function imageFileName(sha: string, mime: string): string {
  return `images/${sha}.${mime === 'image/png' ? 'png' : 'jpg'}`;
}

/**
 * Stores the bytes of an image that was sent, content-addressed, atomically; an image already stored
 * (same name, same size) is left alone. Returns its {@link SentImage} record.
 */
export async function writeSentImage(runDir: string, at: { message: number; index: number }, image: { bytes: Uint8Array; mime: string; width: number; height: number }): Promise<SentImage> {
  const hash = sha256(image.bytes);
  const file = imageFileName(hash, image.mime);
  const abs = path.join(exchangesDir(runDir), file);
  const existing = await stat(abs).catch(() => undefined);
  if (existing?.size !== image.bytes.byteLength) {
    await writeFileAtomic(abs, image.bytes);
  }
  return { message: at.message, index: at.index, sha256: hash, mime: image.mime, width: image.width, height: image.height, file };
}

/** An image an exchange's request carried, resolved to its file in the run folder. */
export interface ExchangeImageFile extends Omit<SentImage, 'file'> {
  /** Absolute path of the stored bytes. */
  path: string;
  /** False when the file is not there (version 1 exchanges stored no images; or it was deleted). */
  exists: boolean;
}

/**
 * The files of the images an exchange sent, in request order, for viewers that show what the model
 * saw (replay, the sweep's side-by-side view, HTML export). Version 1 exchanges list their images by
 * hash; their files exist only where a later record stored the same bytes.
 */
export async function exchangeImageFiles(runDir: string, ex: StoredExchange): Promise<ExchangeImageFile[]> {
  const sent: SentImage[] =
    ex.version === EXCHANGE_VERSION
      ? ex.images
      : ex.request.messages.flatMap((m, message) =>
          (m.images ?? []).map((img, index) => ({ message, index, sha256: img.sha256, mime: img.mime, width: img.width, height: img.height, file: imageFileName(img.sha256, img.mime) })),
        );
  return Promise.all(
    sent.map(async (s) => {
      const abs = path.join(exchangesDir(runDir), s.file);
      const exists = (await stat(abs).catch(() => undefined))?.isFile() ?? false;
      return { message: s.message, index: s.index, sha256: s.sha256, mime: s.mime, width: s.width, height: s.height, path: abs, exists };
    }),
  );
}

/** Stores an exchange atomically (sorted keys, trailing newline, so re-records diff cleanly). */
export async function writeExchange(runDir: string, ex: Exchange): Promise<string> {
  const file = exchangePath(runDir, ex.hash);
  await writeFileAtomic(file, `${JSON.stringify(sortDeep(ex), null, 2)}\n`);
  return file;
}

function sortDeep(v: unknown): unknown {
  if (Array.isArray(v)) {
    return v.map(sortDeep);
  }
  if (v && typeof v === 'object') {
    return Object.fromEntries(Object.keys(v as object).sort().map((k) => [k, sortDeep((v as Record<string, unknown>)[k])]));
  }
  return v;
}
