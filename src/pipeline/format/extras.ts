import { setOwn } from './json';

/**
 * nbformat fields this format does not own travel through the model (and VS Code, which only
 * keeps `metadata` on cells, outputs and notebooks) under one metadata key, so every write gives
 * them back unchanged:
 * - `fields`: keys next to `metadata` in the file that the format does not read (unknown keys, a
 *   newer nbformat's fields, the `execution_count` of an `execute_result` output);
 * - `metadata`: keys of the file's `metadata` whose names the model uses for something else
 *   (`id` and `attachments` on cells, and `alrefFields` itself);
 * - `outputType`: `execute_result` for such outputs (the model stores them like `display_data`).
 *
 * Markdown and raw cell `attachments` are not in here: they are `metadata.attachments` in the
 * model, where VS Code's own markdown renderer looks for them.
 */
export const EXTRA_FIELDS_KEY = 'alrefFields';

export interface ExtraFields {
  fields?: Record<string, unknown>;
  metadata?: Record<string, unknown>;
  outputType?: 'execute_result';
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/**
 * Reads the extras of a raw nbformat object: every key of `raw` not in `owned`, and every key of
 * `rawMetadata` in `reserved` (removed from `rawMetadata`, which must be the caller's own copy).
 */
export function takeExtras(raw: Record<string, unknown>, owned: readonly string[], rawMetadata: Record<string, unknown>, reserved: readonly string[]): ExtraFields | undefined {
  const extras: ExtraFields = {};
  for (const key of Object.keys(raw)) {
    if (!owned.includes(key)) {
      setOwn((extras.fields ??= {}), key, raw[key]);
    }
  }
  for (const key of reserved) {
    if (Object.prototype.hasOwnProperty.call(rawMetadata, key)) {
      setOwn((extras.metadata ??= {}), key, rawMetadata[key]);
      delete rawMetadata[key];
    }
  }
  return extras.fields || extras.metadata ? extras : undefined;
}

/** Adds extras to a model metadata object (keeps it unchanged when there are none). */
export function putExtras(metadata: Record<string, unknown>, extras: ExtraFields | undefined): void {
  if (extras) {
    setOwn(metadata, EXTRA_FIELDS_KEY, extras);
  }
}

/**
 * Takes the extras out of a model metadata object (a copy the caller owns). A value under the key
 * that does not have the extras' shape is left in the metadata and written as an ordinary key.
 */
export function popExtras(metadata: Record<string, unknown>): ExtraFields | undefined {
  const v = metadata[EXTRA_FIELDS_KEY];
  if (!Object.prototype.hasOwnProperty.call(metadata, EXTRA_FIELDS_KEY) || !isRecord(v)) {
    return undefined;
  }
  const okShape =
    Object.keys(v).every((k) => k === 'fields' || k === 'metadata' || k === 'outputType') &&
    (v.fields === undefined || isRecord(v.fields)) &&
    (v.metadata === undefined || isRecord(v.metadata)) &&
    (v.outputType === undefined || v.outputType === 'execute_result');
  if (!okShape) {
    return undefined;
  }
  delete metadata[EXTRA_FIELDS_KEY];
  return v as ExtraFields;
}

/** Writes extras back into a raw nbformat object: unknown fields (never over an owned one) and shadowed metadata keys. */
export function restoreExtras(raw: Record<string, unknown>, owned: readonly string[], rawMetadata: Record<string, unknown> | undefined, extras: ExtraFields | undefined): void {
  if (!extras) {
    return;
  }
  for (const [key, value] of Object.entries(extras.fields ?? {})) {
    if (!owned.includes(key)) {
      setOwn(raw, key, value);
    }
  }
  if (rawMetadata) {
    for (const [key, value] of Object.entries(extras.metadata ?? {})) {
      setOwn(rawMetadata, key, value);
    }
  }
}
