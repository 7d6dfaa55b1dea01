/**
 * Keeping the API key out of everything the LLM path writes: error messages, warnings, logs, trace
 * outputs and recorded exchanges. A server may echo the request's Authorization header (in an error
 * body, or in the reply text itself); every server-provided text goes through these helpers first.
 */

/** What a removed secret is replaced with. */
export const REDACTED = '[redacted]';

/**
 * Removes the configured key and anything that looks like a credential from server-provided text:
 * the exact key, `Bearer <token>` and OpenAI-style `sk-...` keys.
 */
export function redactSecrets(text: string, secret?: string): string {
  let out = text;
  if (secret && secret.length >= 4) {
    out = out.split(secret).join(REDACTED);
  }
  return out.replace(/\b(Bearer)\s+(?!\[redacted\])[^\s"',;]+/gi, `$1 ${REDACTED}`).replace(/\bsk-[A-Za-z0-9_-]{6,}/g, `sk-${REDACTED}`);
}

/** The first `max` characters of a text for a message, with the length of what was left out. */
export function clipText(text: string, max = 80): string {
  return text.length <= max ? text : `${text.slice(0, max)}... (${text.length} chars)`;
}

/**
 * Redacts the configured key from streamed text whose chunks may split the key: holds back the
 * shortest tail that could still be the start of the key, and releases it with the next chunk (or
 * {@link flush}). Linear in the text: each chunk is scanned once, plus at most `key.length` held
 * characters.
 */
export class StreamRedactor {
  private _held = '';

  constructor(private readonly _secret: string | undefined) {}

  /** Text that is safe to emit now. */
  push(chunk: string): string {
    const s = this._secret;
    if (!s || s.length < 4) {
      return chunk;
    }
    const all = (this._held + chunk).split(s).join(REDACTED);
    // The longest suffix of `all` that is a proper prefix of the secret stays held.
    let cut = all.length;
    for (let i = Math.max(0, all.length - (s.length - 1)); i < all.length; i++) {
      if (all.charCodeAt(i) === s.charCodeAt(0) && s.startsWith(all.slice(i))) {
        cut = i;
        break;
      }
    }
    this._held = all.slice(cut);
    return all.slice(0, cut);
  }

  /** The held tail, at the end of the stream (it cannot be the key: the key never came whole). */
  flush(): string {
    const h = this._held;
    this._held = '';
    return h;
  }
}
