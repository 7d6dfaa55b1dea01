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
 * Bytes taken by the UTF-8 sequence at `i` (a non-ASCII lead byte): its length when it is valid,
 * or minus the length of its maximal valid prefix (at least one byte) when it is not (overlong
 * forms, surrogates, code points above U+10FFFF, truncated sequences). That prefix is what a WHATWG
 * decoder turns into ONE U+FFFD, so `F0 9F 98` followed by `"` is one invalid sequence, not three.
 */
function sequenceAt(b: Uint8Array, i: number): number {
  const c = b[i];
  let need: number;
  let lo = 0x80;
  let hi = 0xbf;
  if (c >= 0xc2 && c <= 0xdf) {
    need = 1;
  } else if (c >= 0xe0 && c <= 0xef) {
    need = 2;
    lo = c === 0xe0 ? 0xa0 : 0x80;
    hi = c === 0xed ? 0x9f : 0xbf;
  } else if (c >= 0xf0 && c <= 0xf4) {
    need = 3;
    lo = c === 0xf0 ? 0x90 : 0x80;
    hi = c === 0xf4 ? 0x8f : 0xbf;
  } else {
    return -1;
  }
  for (let k = 1; k <= need; k++) {
    if (i + k >= b.length || b[i + k] < lo || b[i + k] > hi) {
      return -k;
    }
    lo = 0x80;
    hi = 0xbf;
  }
  return need + 1;
}

/**
 * Byte offset of the first invalid UTF-8 sequence and how many there are (each one U+FFFD when
 * decoded), or undefined when the bytes are valid UTF-8.
 */
export function invalidUtf8(bytes: Uint8Array): { first: number; count: number } | undefined {
  let first = -1;
  let count = 0;
  let i = 0;
  while (i < bytes.length) {
    // Fast path over ASCII.
    if (bytes[i] < 0x80) {
      i++;
      continue;
    }
    const n = sequenceAt(bytes, i);
    if (n < 0) {
      if (count++ === 0) {
        first = i;
      }
    }
    i += Math.abs(n);
  }
  return count > 0 ? { first, count } : undefined;
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
  const bad = invalidUtf8(bytes);
  if (!bad) {
    return { text };
  }
  const { first: byteOffset, count } = bad;
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
