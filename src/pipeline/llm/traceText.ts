/*
 * The stored text of a streamed LLM reply, bounded: the notebook keeps at most TRACE_MAX_CHARS of
 * each trace (in a trace output, or in a pivot view's row), whatever the reply's length.
 */

/**
 * Most characters of one trace kept in the outputs (the notebook file). A longer reply keeps its
 * first three quarters and its last quarter, with a note saying how much was left out; the stage
 * still parses the whole reply, and a recorded exchange keeps it whole.
 */
export const TRACE_MAX_CHARS = 64 * 1024;

/** The stored text of one trace: a head, and a tail that follows the end of the stream. */
export class TraceText {
  private _head = '';
  private _headClosed = false;
  private _tail: string[] = [];
  private _tailLen = 0;
  private _total = 0;

  constructor(private readonly _max = TRACE_MAX_CHARS) {}

  /** Characters received so far. */
  get total(): number {
    return this._total;
  }

  append(delta: string): void {
    if (delta === '') {
      return;
    }
    this._total += delta.length;
    let rest = delta;
    if (!this._headClosed) {
      const headMax = Math.floor((this._max * 3) / 4);
      let take = Math.min(rest.length, headMax - this._head.length);
      if (take > 0 && take < rest.length && isHighSurrogate(rest.charCodeAt(take - 1))) {
        take--;
      }
      this._head += rest.slice(0, take);
      rest = rest.slice(take);
      this._headClosed = rest.length > 0;
    }
    if (rest === '') {
      return;
    }
    this._tail.push(rest);
    this._tailLen += rest.length;
    if (this._tailLen > 2 * this._tailMax() + 1024) {
      this._tail = [this._keptTail()];
      this._tailLen = this._tail[0].length;
    }
  }

  private _tailMax(): number {
    return this._max - this._head.length;
  }

  private _keptTail(): string {
    const joined = this._tail.join('');
    const tailMax = this._tailMax();
    if (joined.length <= tailMax) {
      return joined;
    }
    let from = joined.length - tailMax;
    if (isLowSurrogate(joined.charCodeAt(from))) {
      from++;
    }
    return joined.slice(from);
  }

  /** The text as stored: whole when it fits, else head, a note, and tail. */
  text(): string {
    const tail = this._keptTail();
    const dropped = this._total - this._head.length - tail.length;
    if (dropped <= 0) {
      return this._head + tail;
    }
    return `${this._head}\n\n… trace truncated: ${dropped} chars not stored (the reply had ${this._total}; the stage read all of it) …\n\n${tail}`;
  }
}

function isHighSurrogate(c: number): boolean {
  return c >= 0xd800 && c <= 0xdbff;
}

function isLowSurrogate(c: number): boolean {
  return c >= 0xdc00 && c <= 0xdfff;
}
