import { isUtf8 } from 'node:buffer';
import { formatJsonPath, jsonPathAt } from './json';
import type { JsonPath } from './json';

/** Where the first byte sequence that is not valid UTF-8 sits in a notebook file. */
export interface InvalidUtf8 {
  /** Byte offset of the first invalid sequence. */
  byteOffset: number;
  /** 1-based line and column (in characters) of that byte. */
  line: number;
  column: number;
  /** How many invalid sequences the file has (each becomes U+FFFD when decoded). */
  count: number;
  /** JSON path of the value that holds it (`cells[3].source[2]`), when the text is readable so far. */
  path: JsonPath;
  /** 1-based cell position, when the bad byte is inside a cell. */
  cell?: number;
}

export interface DecodedNotebook {
  /** The text, with every invalid UTF-8 sequence replaced by U+FFFD (what any editor shows). */
  text: string;
  invalidUtf8?: InvalidUtf8;
}

/**
 * Length of the valid UTF-8 sequence starting at `i`, or 0 when the bytes there are not valid
 * UTF-8 (overlong forms, surrogates, code points above U+10FFFF, truncated sequences).
 */
function sequenceLength(b: Uint8Array, i: number): number {
  const c = b[i];
  if (c < 0x80) {
    return 1;
  }
  const cont = (k: number, lo = 0x80, hi = 0xbf): boolean => i + k < b.length && b[i + k] >= lo && b[i + k] <= hi;
  if (c >= 0xc2 && c <= 0xdf) {
    return cont(1) ? 2 : 0;
  }
  if (c >= 0xe0 && c <= 0xef) {
    const lo = c === 0xe0 ? 0xa0 : 0x80;
    const hi = c === 0xed ? 0x9f : 0xbf;
    return cont(1, lo, hi) && cont(2) ? 3 : 0;
  }
  if (c >= 0xf0 && c <= 0xf4) {
    const lo = c === 0xf0 ? 0x90 : 0x80;
    const hi = c === 0xf4 ? 0x8f : 0xbf;
    return cont(1, lo, hi) && cont(2) && cont(3) ? 4 : 0;
  }
  return 0;
}

/** Byte offsets of every invalid UTF-8 sequence start (at most `limit` of them), and their total count. */
export function invalidUtf8Offsets(bytes: Uint8Array, limit = 1): { offsets: number[]; count: number } {
  const offsets: number[] = [];
  let count = 0;
  let i = 0;
  while (i < bytes.length) {
    // Fast path over ASCII.
    if (bytes[i] < 0x80) {
      i++;
      continue;
    }
    const n = sequenceLength(bytes, i);
    if (n === 0) {
      if (offsets.length < limit) {
        offsets.push(i);
      }
      count++;
      i++;
    } else {
      i += n;
    }
  }
  return { offsets, count };
}

const lenient = new TextDecoder('utf-8', { fatal: false });

/**
 * Decodes a notebook file's bytes as UTF-8 and reports, without hiding it, the first byte sequence
 * that is not valid UTF-8: where it is (line, column, JSON path, cell) and how many there are.
 * Decoding replaces such bytes with U+FFFD, so writing the notebook back would change them; the
 * callers warn (VS Code, `--out`) or refuse to write over the file (`alref notebook run` in place).
 */
export function decodeNotebookBytes(bytes: Uint8Array): DecodedNotebook {
  const text = lenient.decode(bytes);
  // Node's own check is fast; the slower scan below runs only for files that have a problem.
  if (isUtf8(bytes)) {
    return { text };
  }
  const { offsets, count } = invalidUtf8Offsets(bytes);
  if (count === 0) {
    return { text };
  }
  const byteOffset = offsets[0];
  // The bytes before the first invalid sequence are valid UTF-8, so their decoded length is the
  // character offset of the replacement character in `text`.
  const before = lenient.decode(bytes.subarray(0, byteOffset));
  const lineStart = before.lastIndexOf('\n') + 1;
  let line = 1;
  for (let k = 0; k < before.length; k++) {
    if (before.charCodeAt(k) === 10) {
      line++;
    }
  }
  const bom = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  const path = jsonPathAt(text.slice(bom), before.length - bom);
  const cell = path[0] === 'cells' && typeof path[1] === 'number' ? path[1] + 1 : undefined;
  return { text, invalidUtf8: { byteOffset, line, column: before.length - lineStart + 1, count, path, cell } };
}

/** "bytes that are not valid UTF-8 (2 places; the first in cell 3, at line 40, column 9, cells[2].source[1])" */
export function describeInvalidUtf8(info: InvalidUtf8): string {
  const where = `${info.cell !== undefined ? `in cell ${info.cell}, ` : ''}at line ${info.line}, column ${info.column} (byte ${info.byteOffset}, ${formatJsonPath(info.path)})`;
  return `has bytes that are not valid UTF-8 (${info.count === 1 ? 'one place' : `${info.count} places; the first`} ${where})`;
}
