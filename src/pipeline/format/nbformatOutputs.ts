import type { OutputItemModel, OutputModel } from './model';
import { joinLines, setOwn, splitLines } from './json';
import { EXTRA_FIELDS_KEY, popExtras, putExtras, restoreExtras, takeExtras } from './extras';

/** VS Code's built-in output MIME types (the ipynb serializer maps them to nbformat stream/error). */
export const ERROR_MIME = 'application/vnd.code.notebook.error';
export const STDOUT_MIME = 'application/vnd.code.notebook.stdout';
export const STDERR_MIME = 'application/vnd.code.notebook.stderr';

/**
 * Key in a stored output's `metadata` with notes about how its items were written (item order,
 * items stored once). It is removed again on load, so it never reaches VS Code or a renderer.
 */
export const STORAGE_KEY = 'alrefStorage';

interface StorageNote {
  /** Item MIME types in model order, when that order is not the sorted one. */
  order?: string[];
  /** Custom binary item -> image/* item of the same output holding the same bytes. */
  sameBytes?: Record<string, string>;
  /** JSON MIME items whose bytes were not valid JSON, stored as text. */
  rawText?: string[];
}

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: false });

/** True for MIME types whose data is JSON (stored as a JSON value in the file). */
export function isJsonMime(mime: string): boolean {
  return mime === 'application/json' || mime.endsWith('+json');
}

/** True for MIME types whose data is text (stored as a string, nbformat multiline form). */
export function isTextMime(mime: string): boolean {
  return (
    mime.startsWith('text/') ||
    mime === 'image/svg+xml' ||
    mime === 'application/javascript' ||
    mime === 'application/xml' ||
    mime === ERROR_MIME ||
    mime === STDOUT_MIME ||
    mime === STDERR_MIME
  );
}

/** Everything that is neither text nor JSON is binary and stored as base64 (images, custom binary items). */
export function isBinaryMime(mime: string): boolean {
  return !isJsonMime(mime) && !isTextMime(mime);
}

/** Whether two byte arrays hold the same bytes. */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.byteLength === b.byteLength && Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(b);
}

/** Concatenates items with the same MIME type (nbformat keys data by MIME). Binary duplicates keep the first. */
function mergeDuplicates(items: OutputItemModel[]): OutputItemModel[] {
  const out: OutputItemModel[] = [];
  for (const item of items) {
    const prev = out.find((o) => o.mime === item.mime);
    if (!prev) {
      out.push({ mime: item.mime, data: item.data });
    } else if (!isBinaryMime(item.mime)) {
      const joined = new Uint8Array(prev.data.byteLength + item.data.byteLength);
      joined.set(prev.data, 0);
      joined.set(item.data, prev.data.byteLength);
      prev.data = joined;
    }
  }
  return out;
}

/**
 * Converts one model output into an nbformat 4 output object (plain JSON). With `dedupe` (the
 * `.alref` default) a custom binary item whose bytes equal an image item of the same output is
 * stored once; `.ipynb` export passes `false` so other tools see every item in full.
 */
export function outputToNbformat(output: OutputModel, dedupe = true): Record<string, unknown> {
  const items = mergeDuplicates(output.items);
  const own: Record<string, unknown> = { ...(output.metadata ?? {}) };
  const extras = popExtras(own);
  const hasMetadata = Object.keys(own).length > 0;
  if (items.length === 1 && !hasMetadata && extras?.outputType === undefined && extras?.metadata === undefined) {
    const [only] = items;
    if (only.mime === STDOUT_MIME || only.mime === STDERR_MIME) {
      const raw = { output_type: 'stream', name: only.mime === STDOUT_MIME ? 'stdout' : 'stderr', text: splitLines(decoder.decode(only.data)) };
      restoreExtras(raw, STREAM_FIELDS, undefined, extras);
      return raw;
    }
    if (only.mime === ERROR_MIME) {
      const err = parseErrorItem(only.data);
      if (err) {
        const raw = { output_type: 'error', ename: err.name, evalue: err.message, traceback: err.stack === undefined ? [] : err.stack.split('\n') };
        restoreExtras(raw, ERROR_FIELDS, undefined, extras);
        return raw;
      }
    }
  }
  const note: StorageNote = {};
  const data: Record<string, unknown> = {};
  for (const item of items) {
    if (isJsonMime(item.mime)) {
      const text = decoder.decode(item.data);
      try {
        setOwn(data, item.mime, JSON.parse(text));
      } catch {
        setOwn(data, item.mime, splitLines(text));
        (note.rawText ??= []).push(item.mime);
      }
    } else if (isTextMime(item.mime)) {
      setOwn(data, item.mime, splitLines(decoder.decode(item.data)));
    } else {
      const twin = !dedupe || item.mime.startsWith('image/')
        ? undefined
        : items.find((o) => o !== item && o.mime.startsWith('image/') && isBinaryMime(o.mime) && bytesEqual(o.data, item.data));
      if (twin) {
        // Stored once: a custom renderer item carrying the same image bytes as its fallback.
        setOwn(data, item.mime, '');
        (note.sameBytes ??= {})[item.mime] = twin.mime;
      } else {
        setOwn(data, item.mime, Buffer.from(item.data).toString('base64'));
      }
    }
  }
  const mimes = items.map((i) => i.mime);
  if (mimes.some((m, i) => i > 0 && mimes[i - 1] > m)) {
    note.order = mimes;
  }
  const metadata: Record<string, unknown> = own;
  if (Object.keys(note).length > 0) {
    metadata[STORAGE_KEY] = note;
  }
  if (extras?.outputType === 'execute_result') {
    const raw: Record<string, unknown> = { output_type: 'execute_result', data, metadata, execution_count: extras.fields?.execution_count ?? null };
    restoreExtras(raw, EXECUTE_RESULT_FIELDS, metadata, extras);
    return raw;
  }
  const raw: Record<string, unknown> = { output_type: 'display_data', data, metadata };
  restoreExtras(raw, DISPLAY_FIELDS, metadata, extras);
  return raw;
}

/** Output fields the format reads, per output type; any other is kept in `metadata.alrefFields`. */
const STREAM_FIELDS = ['output_type', 'name', 'text'];
const ERROR_FIELDS = ['output_type', 'ename', 'evalue', 'traceback'];
const DISPLAY_FIELDS = ['output_type', 'data', 'metadata'];
const EXECUTE_RESULT_FIELDS = [...DISPLAY_FIELDS, 'execution_count'];

interface ErrorJson {
  name: string;
  message: string;
  stack?: string;
}

function parseErrorItem(data: Uint8Array): ErrorJson | undefined {
  try {
    const v = JSON.parse(decoder.decode(data)) as unknown;
    if (v && typeof v === 'object') {
      const o = v as Record<string, unknown>;
      const keys = Object.keys(o);
      const known = keys.every((k) => k === 'name' || k === 'message' || k === 'stack');
      if (known && typeof o.name === 'string' && typeof o.message === 'string' && (o.stack === undefined || typeof o.stack === 'string')) {
        return { name: o.name, message: o.message, stack: o.stack as string | undefined };
      }
    }
  } catch {
    // not an error JSON: stored as a display_data item instead
  }
  return undefined;
}

/** The bytes VS Code's `NotebookCellOutputItem.error` writes for an error. */
export function errorItemBytes(err: ErrorJson): Uint8Array {
  return encoder.encode(JSON.stringify(err.stack === undefined ? { name: err.name, message: err.message } : { name: err.name, message: err.message, stack: err.stack }));
}

/** Converts an nbformat 4 output object back into a model output. Throws a TypeError describing a bad field. */
export function outputFromNbformat(raw: unknown): OutputModel {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new TypeError('an output is not an object');
  }
  const o = raw as Record<string, unknown>;
  switch (o.output_type) {
    case 'stream': {
      const mime = o.name === 'stderr' ? STDERR_MIME : STDOUT_MIME;
      return withExtras({ items: [{ mime, data: encoder.encode(joinLines(o.text ?? '')) }] }, o, STREAM_FIELDS);
    }
    case 'error': {
      const traceback = Array.isArray(o.traceback) ? o.traceback.map(String) : [];
      const err: ErrorJson = { name: String(o.ename ?? 'Error'), message: String(o.evalue ?? '') };
      if (traceback.length > 0) {
        err.stack = traceback.join('\n');
      }
      return withExtras({ items: [{ mime: ERROR_MIME, data: errorItemBytes(err) }] }, o, ERROR_FIELDS);
    }
    case 'display_data':
    case 'execute_result':
      return displayFromNbformat(o);
    default:
      throw new TypeError(`an output has unknown output_type ${JSON.stringify(o.output_type)}`);
  }
}

/** A stream or error output with the raw output's unknown fields kept in its metadata. */
function withExtras(output: OutputModel, raw: Record<string, unknown>, owned: readonly string[]): OutputModel {
  const extras = takeExtras(raw, owned, {}, []);
  if (extras) {
    const metadata: Record<string, unknown> = {};
    putExtras(metadata, extras);
    return { ...output, metadata };
  }
  return output;
}

function displayFromNbformat(o: Record<string, unknown>): OutputModel {
  const data = o.data;
  if (!data || typeof data !== 'object' || Array.isArray(data)) {
    throw new TypeError('a display_data output has no "data" object');
  }
  if (o.metadata !== undefined && (o.metadata === null || typeof o.metadata !== 'object' || Array.isArray(o.metadata))) {
    throw new TypeError(`a ${String(o.output_type)} output has a "metadata" that is not an object`);
  }
  const metadata: Record<string, unknown> = { ...((o.metadata as Record<string, unknown> | undefined) ?? {}) };
  const note = (metadata[STORAGE_KEY] ?? {}) as StorageNote;
  delete metadata[STORAGE_KEY];
  const extras = takeExtras(o, DISPLAY_FIELDS, metadata, [EXTRA_FIELDS_KEY]);
  if (o.output_type === 'execute_result') {
    putExtras(metadata, { ...(extras ?? {}), outputType: 'execute_result' });
  } else {
    putExtras(metadata, extras);
  }
  const values = data as Record<string, unknown>;
  const mimes = Array.isArray(note.order) && note.order.length === Object.keys(values).length ? note.order : Object.keys(values).sort();
  const items: OutputItemModel[] = [];
  for (const mime of mimes) {
    const value = values[mime];
    if (value === undefined) {
      throw new TypeError(`output item order names ${mime}, which is not in "data"`);
    }
    items.push({ mime, data: new Uint8Array(0) });
  }
  for (const item of items) {
    const value = values[item.mime];
    if (isJsonMime(item.mime) && !(note.rawText ?? []).includes(item.mime)) {
      item.data = encoder.encode(JSON.stringify(value));
    } else if (isJsonMime(item.mime) || isTextMime(item.mime)) {
      item.data = encoder.encode(joinLines(value));
    } else if (note.sameBytes?.[item.mime] !== undefined) {
      const twin = note.sameBytes[item.mime];
      if (typeof values[twin] !== 'string') {
        throw new TypeError(`${item.mime} refers to ${twin}, which is not in the same output`);
      }
      item.data = decodeBase64(values[twin], twin);
    } else {
      item.data = decodeBase64(value, item.mime);
    }
  }
  return Object.keys(metadata).length > 0 ? { items, metadata } : { items };
}

function decodeBase64(value: unknown, mime: string): Uint8Array {
  const text = joinLines(value).replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text)) {
    throw new TypeError(`the ${mime} item is not valid base64`);
  }
  return new Uint8Array(Buffer.from(text, 'base64'));
}
