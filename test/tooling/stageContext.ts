/**
 * The one way tests build a StageContext: the real NotebookSession (src/pipeline/session.ts) holding
 * results put with {@link stageResult}, no-op logging, and the repository as the resources folder.
 */
import path from 'node:path';
import type { StageEvent } from '../../src/pipeline/events';
import { NotebookSession } from '../../src/pipeline/session';
import type { Services } from '../../src/pipeline/services';
import { type PipelineSettings, defaultSettings } from '../../src/pipeline/settings';
import { runStage } from '../../src/pipeline/stages/index';
import type { Logger, SessionLike, StageContext, StageKind, StageRequest, StageResult } from '../../src/pipeline/types';

/** The repository root: `prompts/`, `media/` and `assets/` live here. */
export const RESOURCES = path.resolve(__dirname, '../..');

let clock = 0;

/** A finished result to put into a {@link NotebookSession}, as if its cell had just run. */
export function stageResult<D>(kind: StageKind, cellId: string, data: D, from: { inputHash?: string; upstream?: string[] } = {}): StageResult<D> {
  return { kind, cellId, inputHash: from.inputHash ?? `${cellId}-hash`, upstream: from.upstream ?? [], data, finishedAt: ++clock };
}

const quiet: Logger = { info: () => undefined, warn: () => undefined, error: () => undefined };

/**
 * A StageContext for running a stage in a test. The session is a fresh NotebookSession unless one is
 * given; `baseDir` (where relative cell paths resolve) defaults to `runDir`.
 */
export function makeContext(opts: {
  runDir: string;
  baseDir?: string;
  session?: SessionLike;
  services?: Services;
  settings?: PipelineSettings;
  promptOverrides?: Record<string, string>;
  signal?: AbortSignal;
  log?: Logger;
  resourcesDir?: string;
}): StageContext {
  return {
    signal: opts.signal ?? new AbortController().signal,
    session: opts.session ?? new NotebookSession(),
    runDir: opts.runDir,
    baseDir: opts.baseDir ?? opts.runDir,
    resourcesDir: opts.resourcesDir ?? RESOURCES,
    settings: opts.settings ?? defaultSettings(),
    services: opts.services ?? {},
    log: opts.log ?? quiet,
    promptOverrides: opts.promptOverrides ?? {},
  };
}

/** Runs a stage through the real runner (`runStage`) to the end, collecting its events. */
export async function collect(request: StageRequest, ctx: StageContext): Promise<{ events: StageEvent[]; result: StageResult }> {
  const events: StageEvent[] = [];
  const it = runStage(request, ctx);
  for (;;) {
    const r = await it.next();
    if (r.done) {
      return { events, result: r.value };
    }
    events.push(r.value);
  }
}

/** Concatenated trace text per stream id. */
export function traces(events: StageEvent[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const e of events) {
    if (e.type === 'trace') {
      out.set(e.streamId, (out.get(e.streamId) ?? '') + e.delta);
    }
  }
  return out;
}
