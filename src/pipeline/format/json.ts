/**
 * Deterministic JSON text for notebook files: object keys sorted at every level, one space of
 * indent per level (the layout Jupyter's own writer uses, so diffs against nbformat tools stay
 * small) and a trailing newline (git and most editors expect one; it also keeps byte-identical
 * round trips stable).
 */
export function stringifySorted(value: unknown, indent = 1): string {
  return `${JSON.stringify(sortKeysDeep(value), null, indent)}\n`;
}

/** Thrown by {@link sortKeysDeep} (and so {@link stringifySorted}) for objects and arrays nested deeper than allowed. */
export class JsonTooDeepError extends Error {
  override readonly name = 'JsonTooDeepError';
  /** `path`: where the first value too deep sits. */
  constructor(
    readonly path: JsonPath,
    readonly maxDepth: number,
  ) {
    super(`objects and arrays nest more than ${maxDepth} levels deep at ${formatJsonPath(path)}`);
  }
}

/**
 * Deepest nesting of objects and arrays a notebook file may have (the top-level object counts as 1).
 * Real notebooks stay far below it (AL-Ref's own outputs reach about 10); deeper input is refused
 * when the file is read, so nothing fails later, at save time, after a run.
 */
export const MAX_JSON_DEPTH = 200;

/**
 * Sets an own, enumerable property: unlike `obj[key] = value`, a key named `__proto__` stays a
 * plain key (it is neither dropped nor turned into the object's prototype).
 */
export function setOwn(obj: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
}

/**
 * A copy of `value` whose plain objects have their keys in sorted order; `undefined` fields dropped
 * (in arrays they become `null`, as `JSON.stringify` writes them). Used for notebook files and, through
 * `stableStringify` (src/pipeline/run/hash.ts), for content hashes.
 * Objects and arrays nested deeper than `maxDepth` (the root is depth 1) throw a
 * {@link JsonTooDeepError} naming the place, before the recursion could exhaust the call stack; the
 * depth check of a write is this walk, with no second one.
 */
export function sortKeysDeep(value: unknown, maxDepth = MAX_JSON_DEPTH): unknown {
  const path: JsonPath = [];
  const walk = (v: unknown, depth: number): unknown => {
    // Bytes (a Uint8Array) are left as they are: their index keys are no fields to sort.
    if (v === null || typeof v !== 'object' || v instanceof Uint8Array) {
      return v;
    }
    if (depth > maxDepth) {
      throw new JsonTooDeepError([...path], maxDepth);
    }
    if (Array.isArray(v)) {
      return v.map((x, i) => {
        if (x === undefined) {
          return null;
        }
        path.push(i);
        const out = walk(x, depth + 1);
        path.pop();
        return out;
      });
    }
    const src = v as Record<string, unknown>;
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(src).sort()) {
      if (src[key] !== undefined) {
        path.push(key);
        setOwn(out, key, walk(src[key], depth + 1));
        path.pop();
      }
    }
    return out;
  };
  return walk(value, 1);
}

/** A JSON path: object keys and array indexes from the root. */
export type JsonPath = Array<string | number>;

/** `cells[2].metadata.tags`, `metadata["odd key"]`: a path as a reader would write it. At most `max` steps are shown. */
export function formatJsonPath(path: JsonPath, max = 8): string {
  const shown = path.slice(0, max);
  const text = shown
    .map((p, i) => (typeof p === 'number' ? `[${p}]` : /^[A-Za-z_$][\w$-]*$/.test(p) ? (i === 0 ? p : `.${p}`) : `[${JSON.stringify(p.length > 40 ? `${p.slice(0, 40)}…` : p)}]`))
    .join('');
  return path.length > max ? `${text}… (${path.length} levels)` : text || '(top level)';
}

/**
 * The path of the first object or array nested deeper than `maxDepth` (the root is depth 1), or
 * `undefined`. Iterative, so it works on any depth without exhausting the call stack.
 */
export function findTooDeep(value: unknown, maxDepth = MAX_JSON_DEPTH): JsonPath | undefined {
  // Each entry links to its parent, so paths are built only for the one value reported.
  interface Entry {
    value: object;
    key: string | number;
    depth: number;
    parent?: Entry;
  }
  if (value === null || typeof value !== 'object') {
    return undefined;
  }
  const stack: Entry[] = [{ value, key: '', depth: 1 }];
  while (stack.length > 0) {
    const entry = stack.pop()!;
    if (entry.depth > maxDepth) {
      const path: JsonPath = [];
      for (let e: Entry | undefined = entry; e?.parent; e = e.parent) {
        path.push(e.key);
      }
      return path.reverse();
    }
    const v = entry.value;
    if (Array.isArray(v)) {
      for (let i = v.length - 1; i >= 0; i--) {
        const child: unknown = v[i];
        if (child !== null && typeof child === 'object') {
          stack.push({ value: child, key: i, depth: entry.depth + 1, parent: entry });
        }
      }
    } else {
      const keys = Object.keys(v);
      for (let i = keys.length - 1; i >= 0; i--) {
        const child = (v as Record<string, unknown>)[keys[i]];
        if (child !== null && typeof child === 'object') {
          stack.push({ value: child, key: keys[i], depth: entry.depth + 1, parent: entry });
        }
      }
    }
  }
  return undefined;
}

/**
 * The JSON path of the value that contains character `offset` of a JSON text (the innermost
 * object key or array element around it). Tolerant: on malformed text it returns the path up to
 * where the structure was still readable. Used to say in which cell a bad byte sits.
 */
export function jsonPathAt(text: string, offset: number): JsonPath {
  interface Frame {
    kind: 'object' | 'array';
    key?: string;
    index: number;
    expectKey: boolean;
  }
  const stack: Frame[] = [];
  const pathOf = (): JsonPath => {
    const out: JsonPath = [];
    for (const f of stack) {
      if (f.kind === 'array') {
        out.push(f.index);
      } else if (f.key !== undefined) {
        out.push(f.key);
      }
    }
    return out;
  };
  let i = 0;
  while (i < text.length && i <= offset) {
    const ch = text[i];
    const top = stack[stack.length - 1];
    if (ch === '"') {
      let j = i + 1;
      while (j < text.length && text[j] !== '"') {
        j += text[j] === '\\' ? 2 : 1;
      }
      if (top && top.kind === 'object' && top.expectKey) {
        let key: string;
        try {
          key = JSON.parse(text.slice(i, j + 1)) as string;
        } catch {
          key = text.slice(i + 1, j);
        }
        if (offset <= j) {
          // Inside a key: the path ends at that key.
          top.key = key;
          return pathOf();
        }
        top.key = key;
        top.expectKey = false;
      } else if (offset <= j) {
        return pathOf();
      }
      i = j + 1;
      continue;
    }
    if (ch === '{' || ch === '[') {
      stack.push({ kind: ch === '{' ? 'object' : 'array', index: 0, expectKey: ch === '{' });
    } else if (ch === '}' || ch === ']') {
      stack.pop();
    } else if (ch === ',' && top) {
      if (top.kind === 'array') {
        top.index++;
      } else {
        top.expectKey = true;
        top.key = undefined;
      }
    }
    i++;
  }
  return pathOf();
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
