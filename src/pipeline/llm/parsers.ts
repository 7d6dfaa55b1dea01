/**
 * Answer parsers for GPT replies. Each returns a {@link ParseResult}: either a value with the span of
 * the reply it came from (so a trace can highlight it), or a typed failure with a reason a person can
 * read. Parsers never throw on any input string. The LBRU answer parser (`'category': frameId`
 * entries) is src/pipeline/audio/lbruReply.ts.
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

function clip(s: string): string {
  return s.length > 40 ? `${s.slice(0, 37)}...` : s;
}
