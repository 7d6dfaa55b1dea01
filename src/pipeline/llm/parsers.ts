/**
 * Answer parsers for GPT replies. Each returns a {@link ParseResult}: either a value with the span of
 * the reply it came from (so a trace can highlight it), or a typed failure with a reason a person can
 * read. Parsers never throw on any input string.
 */

/** Why a reply could not be turned into an answer. */
export type ParseFailureReason = 'no-brackets' | 'not-an-integer' | 'empty' | 'no-entries';

export type ParseResult<T> =
  | { ok: true; value: T; /** Offsets of the answer in the reply: [start, end). */ span: [number, number] }
  | { ok: false; reason: ParseFailureReason; message: string };

const BRACKETS = /\[([^[\]]*)\]/g;

/**
 * RVOS convention (pivot frame and pivot box): the LAST `[...]` of the reply, parsed as an integer
 * (an optional sign and digits, surrounding spaces allowed). `[3]` gives 3, `[-1]` gives -1;
 * `[frame 3]`, `[3, 4]` or a reply without brackets is a failure.
 *
 * @example
 * parseLastBracketedInteger('... so the answer is [4]') // { ok: true, value: 4, span: [..] }
 */
export function parseLastBracketedInteger(reply: string): ParseResult<number> {
  if (typeof reply !== 'string' || reply.trim() === '') {
    return { ok: false, reason: 'empty', message: 'The reply is empty.' };
  }
  let last: RegExpExecArray | undefined;
  for (const m of reply.matchAll(BRACKETS)) {
    last = m as RegExpExecArray;
  }
  if (!last) {
    return { ok: false, reason: 'no-brackets', message: 'The reply has no answer in square brackets.' };
  }
  const inner = last[1].trim();
  if (!/^[+-]?\d{1,9}$/.test(inner)) {
    return { ok: false, reason: 'not-an-integer', message: `The last bracketed answer "[${clip(last[1])}]" is not a single integer.` };
  }
  const start = last.index ?? 0;
  return { ok: true, value: Number.parseInt(inner, 10), span: [start, start + last[0].length] };
}

/**
 * AVS pivot-box convention: the first integer inside the FIRST `[...]` of the reply (`[2]`, `[box 2]`
 * both give 2). No brackets, or brackets without an integer, is a failure; the caller decides on a
 * default.
 */
export function parseFirstBracketedInteger(reply: string): ParseResult<number> {
  if (typeof reply !== 'string' || reply.trim() === '') {
    return { ok: false, reason: 'empty', message: 'The reply is empty.' };
  }
  const first = /\[([^[\]]*)\]/.exec(reply);
  if (!first) {
    return { ok: false, reason: 'no-brackets', message: 'The reply has no answer in square brackets.' };
  }
  const num = /[+-]?\d{1,9}/.exec(first[1]);
  if (!num) {
    return { ok: false, reason: 'not-an-integer', message: `The first bracketed answer "[${clip(first[1])}]" holds no integer.` };
  }
  const start = first.index;
  return { ok: true, value: Number.parseInt(num[0], 10), span: [start, start + first[0].length] };
}

/** One sounding-object entry of an LBRU answer. */
export interface LbruEntry {
  category: string;
  /** 1-based frame id in the grid. */
  frameId: number;
}

/**
 * AVS LBRU convention: entries of the form `'category': frameId` (single or double quotes, or none),
 * one or many, inside the LAST bracketed group that holds any entry. Duplicate categories keep the
 * first frame id.
 *
 * @example
 * parseLbruEntries("... [ 'dog': 2, 'man': 4 ]") // value: [{category:'dog',frameId:2},{category:'man',frameId:4}]
 */
export function parseLbruEntries(reply: string): ParseResult<LbruEntry[]> {
  if (typeof reply !== 'string' || reply.trim() === '') {
    return { ok: false, reason: 'empty', message: 'The reply is empty.' };
  }
  const groups = [...reply.matchAll(/[[{]([^[\]{}]*)[\]}]/g)];
  if (groups.length === 0) {
    return { ok: false, reason: 'no-brackets', message: 'The reply has no bracketed list of sounding objects.' };
  }
  for (let g = groups.length - 1; g >= 0; g--) {
    const inner = groups[g][1];
    const entries: LbruEntry[] = [];
    const seen = new Set<string>();
    for (const m of lbruEntryMatches(inner)) {
      const category = m.category.trim().replace(/^[,\s]+/, '');
      const key = category.toLowerCase();
      if (category && !seen.has(key)) {
        seen.add(key);
        entries.push({ category, frameId: m.frameId });
      }
    }
    if (entries.length > 0) {
      const start = groups[g].index ?? 0;
      return { ok: true, value: entries, span: [start, start + groups[g][0].length] };
    }
  }
  return { ok: false, reason: 'no-entries', message: "No bracketed group holds entries of the form 'category': frameId." };
}

/** Longer "categories" are not category names (and would cost the vocabulary match dearly): skipped. */
export const MAX_CATEGORY_CHARS = 100;

/** Characters a category name may hold (after its first letter). */
const CATEGORY_CHAR = /[A-Za-z0-9 ,()'/-]/;
const LETTER = /[A-Za-z]/;
const CLOSING_QUOTE = /["'”’]/;
const DIGITS_AFTER_COLON = /\s*(\d{1,6})/y;

/**
 * The `category: frameId` entries of one bracketed group, in order: what the regular expression
 * `["'“‘]?([A-Za-z][A-Za-z0-9 ,()'/-]*?)["'”’]?\s*:\s*(\d{1,6})` matches with the `g` flag, found in
 * linear time (the expression backtracks quadratically on a long group without a colon). A category
 * cannot hold a colon, so each candidate lies between the previous entry (or a failed colon) and the
 * next colon: it starts at the first letter after the last character that no category may hold.
 * Entries whose category is longer than {@link MAX_CATEGORY_CHARS} are skipped.
 */
function* lbruEntryMatches(inner: string): Generator<{ category: string; frameId: number }> {
  let from = 0;
  for (let colon = inner.indexOf(':', from); colon >= 0; colon = inner.indexOf(':', from)) {
    DIGITS_AFTER_COLON.lastIndex = colon + 1;
    const digits = DIGITS_AFTER_COLON.exec(inner);
    if (!digits) {
      from = colon + 1;
      continue;
    }
    // Between the category and the colon: an optional closing quote, then spaces.
    let end = colon;
    while (end > from && /\s/.test(inner[end - 1])) {
      end--;
    }
    if (end > from && CLOSING_QUOTE.test(inner[end - 1])) {
      end--;
    }
    let start = end;
    while (start > from && CATEGORY_CHAR.test(inner[start - 1])) {
      start--;
    }
    while (start < end && !LETTER.test(inner[start])) {
      start++;
    }
    if (start < end) {
      if (end - start <= MAX_CATEGORY_CHARS) {
        yield { category: inner.slice(start, end), frameId: Number.parseInt(digits[1], 10) };
      }
      from = DIGITS_AFTER_COLON.lastIndex;
    } else {
      from = colon + 1;
    }
  }
}

function clip(s: string): string {
  return s.length > 40 ? `${s.slice(0, 37)}...` : s;
}
