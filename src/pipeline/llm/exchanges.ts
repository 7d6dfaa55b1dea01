import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { PipelineError } from '../errors';
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
function exchangesDir(runDir: string): string {
  return path.join(runDir, 'exchanges');
}

export function exchangePath(runDir: string, hash: string): string {
  return path.join(exchangesDir(runDir), `${hash}.json`);
}

/** How an exchange file is named in messages: relative to the notebook's folder (`<nb>.alref.runs/exchanges/<hash>.json`). */
export function exchangeLabel(runDir: string, hash: string): string {
  return path.join(path.basename(runDir), 'exchanges', `${hash}.json`);
}

/**
 * Reads a recorded exchange, or undefined when none is stored for this hash. A file that is not a
 * version-1 exchange for this request (truncated JSON, wrong shape, missing fields) is an
 * `invalid-input` PipelineError naming the file, what is wrong and how to re-record it.
 */
export async function readExchange(runDir: string, hash: string): Promise<Exchange | undefined> {
  const file = exchangePath(runDir, hash);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      return undefined;
    }
    throw corrupt(runDir, hash, `it cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, err);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    const what = text.trim() === '' ? 'it is empty' : `it is not valid JSON (${(err as Error).message.slice(0, 120)}), perhaps cut short by an interrupted copy`;
    throw corrupt(runDir, hash, what, err);
  }
  const problem = exchangeProblem(value, hash);
  if (problem) {
    throw corrupt(runDir, hash, problem);
  }
  return value as Exchange;
}

function corrupt(runDir: string, hash: string, what: string, cause?: unknown): PipelineError {
  const label = exchangeLabel(runDir, hash);
  return new PipelineError(
    `The recorded exchange ${label} is damaged: ${what}. Re-record it: switch the notebook to record mode (with an API key) and run the cell again, ` +
      `or delete ${label} and run in record mode; or restore the run folder that came with the notebook.`,
    { stage: 'llm', kind: 'invalid-input', file: exchangePath(runDir, hash), cause },
  );
}

/** What is wrong with a parsed exchange file, in words, or undefined when it is a valid version-1 exchange for `hash`. */
function exchangeProblem(value: unknown, hash: string): string | undefined {
  const isObj = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);
  const describe = (v: unknown): string => (v === undefined ? 'missing' : v === null ? 'null' : Array.isArray(v) ? 'a list' : typeof v === 'object' ? 'an object' : `${typeof v} ${JSON.stringify(v).slice(0, 40)}`);
  if (!isObj(value)) {
    return `it holds ${describe(value)}, not an exchange object`;
  }
  if (value.version !== 1) {
    return `field "version" must be 1 (got ${describe(value.version)})`;
  }
  if (value.hash !== hash) {
    return typeof value.hash === 'string' ? `it records another request (hash ${value.hash.slice(0, 12)}, expected ${hash.slice(0, 12)})` : `field "hash" is ${describe(value.hash)}`;
  }
  if (!isObj(value.request)) {
    return `field "request" is ${describe(value.request)}`;
  }
  if (!isObj(value.reply)) {
    return `field "reply" is ${describe(value.reply)}`;
  }
  if (typeof value.reply.text !== 'string') {
    return `field "reply.text" must be a string (got ${describe(value.reply.text)})`;
  }
  if (typeof value.reply.model !== 'string') {
    return `field "reply.model" must be a string (got ${describe(value.reply.model)})`;
  }
  if (value.reply.finishReason !== null && typeof value.reply.finishReason !== 'string') {
    return `field "reply.finishReason" must be a string or null (got ${describe(value.reply.finishReason)})`;
  }
  if (!isObj(value.usage)) {
    return `field "usage" is ${describe(value.usage)}`;
  }
  for (const k of ['promptTokens', 'completionTokens'] as const) {
    const n = value.usage[k];
    if (typeof n !== 'number' || !Number.isFinite(n) || n < 0) {
      return `field "usage.${k}" must be a number of tokens (got ${describe(n)})`;
    }
  }
  if (typeof value.latencyMs !== 'number' || !Number.isFinite(value.latencyMs) || value.latencyMs < 0) {
    return `field "latencyMs" must be a number (got ${describe(value.latencyMs)})`;
  }
  return undefined;
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
