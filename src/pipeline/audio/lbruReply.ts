import type { ParseResult } from '../llm/parsers';

/** One `'category': frameId` entry of an LBRU answer, as written. */
export interface LbruReplyEntry {
  category: string;
  /** 1-based frame id in the grid, as written. */
  frameId: number;
}

/** A parsed LBRU answer. */
export interface LbruAnswer {
  entries: LbruReplyEntry[];
  /** Categories named more than once; the first frame id is kept. */
  duplicates: string[];
  /** How the entries were found: in brackets (the convention) or, failing that, as bare lines. */
  form: 'brackets' | 'lines';
}

// A group: [...] or {...} without nesting.
const GROUP = /[[{]([^[\]{}]*)[\]}]/g;
// An entry: a quoted name (any characters but the quote) or a bare name, then ':' or '=', then an
// optional "frame"/"#" and the id, which may itself be quoted.
const ENTRY = /(?:(["'“‘`])([^"'“”‘’`\n]{1,80}?)["'”’`]|([A-Za-z][A-Za-z0-9 _/&().-]{0,79}?))\s*[:=]\s*(?:frame\s*(?:id)?\s*)?#?\s*["']?(\d{1,6})(?!\d|\.\d)/gi;
// Text allowed between two groups that belong to one answer: separators only.
const BETWEEN = /^[\s,;.:&+]*(?:and)?[\s,;.:&+]*$/i;

function entriesIn(text: string): LbruReplyEntry[] {
  const out: LbruReplyEntry[] = [];
  for (const m of text.matchAll(ENTRY)) {
    const raw = (m[2] ?? m[3] ?? '').replace(/\s+/g, ' ').trim();
    const category = raw.replace(/\([^)]*\)/g, ' ').replace(/^(?:and|or)\s+/i, '').replace(/\s+/g, ' ').trim();
    if (category && /[A-Za-z]/.test(category)) {
      out.push({ category, frameId: Number.parseInt(m[4], 10) });
    }
  }
  return out;
}

/**
 * Parses an LBRU reply: entries of the form `'category': frameId`, quotes optional (single, double,
 * curly or none), any spacing and case, `=` accepted for `:`, `frame 3` or `#3` accepted for `3`.
 *
 * The answer is the last bracketed group (`[...]` or `{...}`) that holds entries, together with the
 * groups right before it that are separated from it by nothing but commas, "and" or white space
 * (`['dog': 2], ['man': 4]`). A reply without any such group falls back to trailing lines that are
 * nothing but `category: id`. Never throws.
 *
 * @example
 * parseLbruReply("Step 3 ... ['Dog': 2, 'man': 4]").value.entries // [{dog,2},{man,4}]
 */
export function parseLbruReply(reply: string): ParseResult<LbruAnswer> {
  if (typeof reply !== 'string' || reply.trim() === '') {
    return { ok: false, reason: 'empty', message: 'The reply is empty.' };
  }
  const groups = [...reply.matchAll(GROUP)].map((m) => ({
    start: m.index ?? 0,
    end: (m.index ?? 0) + m[0].length,
    entries: entriesIn(m[1]),
  }));
  let last = -1;
  for (let g = groups.length - 1; g >= 0; g--) {
    if (groups[g].entries.length > 0) {
      last = g;
      break;
    }
  }
  if (last >= 0) {
    let first = last;
    while (first > 0 && groups[first - 1].entries.length > 0 && BETWEEN.test(reply.slice(groups[first - 1].end, groups[first].start))) {
      first--;
    }
    const all = groups.slice(first, last + 1).flatMap((g) => g.entries);
    return { ok: true, value: dedupe(all, 'brackets'), span: [groups[first].start, groups[last].end] };
  }
  // Fallback: trailing lines that hold only entries (e.g. "dog: 2" on the last line).
  const lines = reply.split('\n');
  let offset = reply.length;
  let end = -1;
  let start = -1;
  const found: LbruReplyEntry[][] = [];
  for (let i = lines.length - 1; i >= 0; i--) {
    const line = lines[i];
    offset -= line.length + (i < lines.length - 1 ? 1 : 0);
    const t = line.trim().replace(/^[-*•]\s*/, '');
    if (t === '') {
      continue;
    }
    const entries = entriesIn(t);
    const rest = t.replace(ENTRY, '').replace(/[\s,;.]/g, '');
    if (entries.length > 0 && rest === '') {
      found.unshift(entries);
      start = offset;
      if (end < 0) {
        end = offset + line.length;
      }
    } else {
      break;
    }
  }
  if (found.length > 0) {
    return { ok: true, value: dedupe(found.flat(), 'lines'), span: [start, end] };
  }
  if (groups.length === 0) {
    return { ok: false, reason: 'no-brackets', message: "The reply has no bracketed list of sounding objects such as ['dog': 2]." };
  }
  return { ok: false, reason: 'no-entries', message: "No bracketed group in the reply holds entries of the form 'category': frameId." };
}

function dedupe(entries: LbruReplyEntry[], form: LbruAnswer['form']): LbruAnswer {
  const seen = new Set<string>();
  const out: LbruReplyEntry[] = [];
  const duplicates: string[] = [];
  for (const e of entries) {
    const key = e.category.toLowerCase();
    if (seen.has(key)) {
      duplicates.push(e.category);
    } else {
      seen.add(key);
      out.push(e);
    }
  }
  return { entries: out, duplicates, form };
}
