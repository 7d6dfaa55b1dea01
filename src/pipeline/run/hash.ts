import { createHash } from 'node:crypto';
import { sortKeysDeep } from '../format/json';

/**
 * JSON with object keys sorted at every level, so equal values always give equal text. The keys are
 * sorted by {@link sortKeysDeep} (src/pipeline/format/json.ts), which also refuses values nested
 * deeper than its limit with a `JsonTooDeepError`.
 */
export function stableStringify(value: unknown): string {
  return JSON.stringify(sortKeysDeep(value));
}

/** sha256 hex of bytes or text. */
export function sha256(data: Uint8Array | string): string {
  return createHash('sha256').update(data).digest('hex');
}

/** sha256 hex of a JSON value, key order ignored. */
export function hashJson(value: unknown): string {
  return sha256(stableStringify(value));
}
