import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { hashJson } from '../run/hash';
import { writeFileAtomic } from '../run/runFolder';

/**
 * Record/replay store: every exchange with the LLM, keyed by a hash of its request, as
 * `<runDir>/exchanges/<hash>.json`. The request is stored without secrets and without the endpoint
 * (a notebook never names one); images are identified by the sha256 of the exact bytes sent.
 */

/** A request in the form that is hashed and stored. */
export interface NormalizedRequest {
  model: string;
  messages: Array<{
    role: 'user' | 'assistant';
    text: string;
    images?: Array<{ sha256: string; mime: string; detail: string; width: number; height: number }>;
  }>;
  temperature: number | null;
  maxTokens: number | null;
}

/** One stored exchange. */
export interface Exchange {
  version: 1;
  hash: string;
  request: NormalizedRequest;
  reply: {
    text: string;
    /** Model id the server reported (may differ from the requested one). */
    model: string;
    finishReason: string | null;
  };
  usage: { promptTokens: number; completionTokens: number };
  latencyMs: number;
  recordedAt: string;
}

/** The content address of a request. */
export function requestHash(request: NormalizedRequest): string {
  return hashJson(request);
}

/** Folder of recorded exchanges inside a run folder. */
export function exchangesDir(runDir: string): string {
  return path.join(runDir, 'exchanges');
}

export function exchangePath(runDir: string, hash: string): string {
  return path.join(exchangesDir(runDir), `${hash}.json`);
}

/** Reads a recorded exchange, or undefined when none is stored for this hash. */
export async function readExchange(runDir: string, hash: string): Promise<Exchange | undefined> {
  let text: string;
  try {
    text = await readFile(exchangePath(runDir, hash), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      return undefined;
    }
    throw err;
  }
  const ex = JSON.parse(text) as Exchange;
  if (ex.version !== 1 || ex.hash !== hash || typeof ex.reply?.text !== 'string') {
    throw new Error(`Recorded exchange ${exchangePath(runDir, hash)} is not a version-1 exchange for this request.`);
  }
  return ex;
}

/** Stores an exchange atomically (sorted keys, trailing newline, so re-records diff cleanly). */
export async function writeExchange(runDir: string, ex: Exchange): Promise<string> {
  const file = exchangePath(runDir, ex.hash);
  await writeFileAtomic(file, `${JSON.stringify(sortDeep(ex), null, 2)}\n`);
  return file;
}

function sortDeep(v: unknown): unknown {
  if (Array.isArray(v)) {
    return v.map(sortDeep);
  }
  if (v && typeof v === 'object') {
    return Object.fromEntries(Object.keys(v as object).sort().map((k) => [k, sortDeep((v as Record<string, unknown>)[k])]));
  }
  return v;
}
