/**
 * Deterministic JSON text for notebook files: object keys sorted at every level, one space of
 * indent per level (the layout Jupyter's own writer uses, so diffs against nbformat tools stay
 * small) and a trailing newline (git and most editors expect one; it also keeps byte-identical
 * round trips stable).
 */
export function stringifySorted(value: unknown, indent = 1): string {
  return `${JSON.stringify(sortKeysDeep(value), null, indent)}\n`;
}

/** A copy of `value` whose plain objects have their keys in sorted order; `undefined` fields dropped. */
export function sortKeysDeep(value: unknown): unknown {
  if (Array.isArray(value)) {
    return value.map((v) => (v === undefined ? null : sortKeysDeep(v)));
  }
  if (value !== null && typeof value === 'object') {
    const src = value as Record<string, unknown>;
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(src).sort()) {
      if (src[key] !== undefined) {
        out[key] = sortKeysDeep(src[key]);
      }
    }
    return out;
  }
  return value;
}

/**
 * Splits text into nbformat's "multiline string" form: lines that keep their `\n`, the last one
 * without it. `joinLines(splitLines(s)) === s` for every string.
 */
export function splitLines(text: string): string[] {
  if (text === '') {
    return [];
  }
  const parts = text.split('\n');
  const lines = parts.map((p, i) => (i < parts.length - 1 ? `${p}\n` : p));
  if (lines[lines.length - 1] === '') {
    lines.pop();
  }
  return lines;
}

/** Reads an nbformat multiline string (a string or an array of strings). */
export function joinLines(value: unknown): string {
  if (typeof value === 'string') {
    return value;
  }
  if (Array.isArray(value) && value.every((v) => typeof v === 'string')) {
    return value.join('');
  }
  throw new TypeError('expected a string or an array of strings');
}
