import { MIME } from '../../common/mime';
import type { SweepCellPayload, SweepDetailPayload, SweepInputPayload, SweepMatrixPayload, SweepVariantPayload } from '../../common/payloads';
import { readDataset } from '../benchmarks/datasets';
import { itemGroundTruth } from '../benchmarks/score';
import type { BoxPivot, PivotBoxData, PivotFrameData, PromptRecord, ReferenceData, VideoData } from '../domain';
import { PipelineError, isCancellation, throwIfAborted } from '../errors';
import type { StageEvent, UsageSummary } from '../events';
import type { AskResult, LlmService } from '../llm/service';
import { labelPngFolder, readLabelPng } from '../masks/labelPng';
import { boxMetrics, frameMetrics, maskArea, meanDefined, scaleBox } from '../metrics/pivotMetrics';
import { hashJson } from '../run/hash';
import { putArtifact, runFolderRef } from '../run/runFolder';
import { NotebookSession } from '../session';
import type { Services } from '../services';
import type { StageContext, StageFn, StageOutcome, StageRequest, StageResult } from '../types';
import { parseTypedCandidates } from './pivotBox';
import type { SweepParams } from './schemas/params.generated';
import { requireUpstream, resolveReference, stageResult } from './shared';
import { matrixCsv, matrixTable, summarize, sweepMetrics } from './sweepMatrix';
import { type GroundTruthSource, type SweepVariant, type SweepVideoInput, baseLabel, resolveDatasetInputs, resolveInputs, resolveVariants } from './sweepPlan';
import { pullCommand } from '../models/store';

const STAGE = 'sweep';

/** Result of the `sweep` stage: the matrix as the renderer shows it. */
export interface SweepData {
  matrix: SweepMatrixPayload;
  /** The prompt templates the variants used (a prompt cell changed since makes the result stale). */
  prompts?: PromptRecord[];
}

/** Where an input's pivot-box candidates come from. */
type CandidateSource = 'typed' | 'grounding-dino' | 'none';

/** A decoded input video with its referent mask per frame (when it has ground truth). */
interface PreparedVideo {
  input: SweepVideoInput;
  session: NotebookSession;
  video: StageResult<VideoData>;
  /** One reference result per expression (column). */
  refs: Array<StageResult<ReferenceData>>;
  candidates: CandidateSource;
  /** The referent's mask on a frame, or null where the frame has no ground truth. */
  gt?: (frameIndex: number) => Promise<GtMask | null>;
}

interface GtMask {
  mask: Uint8Array;
  width: number;
  height: number;
}

/** What the LLM calls of one task (variant x input) cost, counted by its gate. */
interface CallStats {
  requests: number;
  reasks: number;
  replayed: number;
  usage: UsageSummary[];
}

/**
 * At most `limit` LLM requests (a call with its re-ask) in flight over the whole sweep. Waiting stops
 * with a cancellation when the signal aborts.
 */
class Gate {
  private _free: number;
  private readonly _waiting: Array<() => void> = [];

  constructor(limit: number) {
    this._free = Math.max(1, limit);
  }

  async acquire(signal: AbortSignal): Promise<() => void> {
    throwIfAborted(signal, STAGE);
    if (this._free > 0) {
      this._free--;
    } else {
      await new Promise<void>((resolve, reject) => {
        const onAbort = (): void => {
          const k = this._waiting.indexOf(go);
          if (k >= 0) {
            this._waiting.splice(k, 1);
          }
          reject(new PipelineError('Cancelled.', { stage: STAGE, kind: 'cancelled' }));
        };
        const go = (): void => {
          signal.removeEventListener('abort', onAbort);
          resolve();
        };
        this._waiting.push(go);
        signal.addEventListener('abort', onAbort, { once: true });
      });
    }
    let released = false;
    return () => {
      if (!released) {
        released = true;
        const next = this._waiting.shift();
        if (next) {
          next();
        } else {
          this._free++;
        }
      }
    };
  }
}

/** The LLM service as one task sees it: every call goes through the sweep's gate and is counted. */
function gatedLlm(llm: LlmService, gate: Gate, signal: AbortSignal, stats: CallStats): LlmService {
  return {
    kind: 'llm',
    async *complete(request, options) {
      const release = await gate.acquire(signal);
      try {
        const reply = yield* llm.complete(request, options);
        stats.requests++;
        stats.replayed += reply.replayed ? 1 : 0;
        stats.usage.push(reply.usage);
        return reply;
      } finally {
        release();
      }
    },
    async *ask<T>(request: Parameters<LlmService['ask']>[0], parse: (text: string) => import('../llm/parsers').ParseResult<T>, reask: string, options: Parameters<LlmService['ask']>[3]) {
      const release = await gate.acquire(signal);
      try {
        const result: AskResult<T> = yield* llm.ask(request, parse, reask, options);
        stats.requests += result.replies.length;
        stats.reasks += result.reasked ? 1 : 0;
        stats.replayed += result.replies.filter((r) => r.replayed).length;
        stats.usage.push(...result.replies.map((r) => r.usage));
        return result;
      } finally {
        release();
      }
    },
  };
}

/** Services for a nested stage: the host's, with the LLM gated and counted. */
function taskServices(base: Services, gate: Gate, signal: AbortSignal, stats: CallStats): Services {
  const services = Object.create(base) as Services;
  let llm: LlmService | undefined;
  Object.defineProperty(services, 'llm', {
    enumerable: true,
    get: () => {
      const inner = base.llm;
      return inner ? (llm ??= gatedLlm(inner, gate, signal, stats)) : undefined;
    },
  });
  return services;
}

/** Runs a stage function as a nested cell, passing its events to `sink`, and stores its result in `session`. */
async function runNested<P, D>(fn: StageFn<P, D>, request: StageRequest<P>, ctx: StageContext, session: NotebookSession, sink: (e: StageEvent) => void): Promise<StageResult<D>> {
  const it = fn(request, ctx);
  for (;;) {
    const r = await it.next();
    if (r.done) {
      const result = stageResult(request as StageRequest, r.value, session);
      session.put(result, request as StageRequest);
      return result;
    }
    sink(r.value);
  }
}

/** Reads the referent's ground-truth mask per frame from a folder (`00017.png` is frame 17, else name order) or a dataset item. */
async function groundTruthReader(src: GroundTruthSource): Promise<(frameIndex: number) => Promise<GtMask | null>> {
  const cache = new Map<number, Promise<GtMask | null>>();
  let load: (frameIndex: number) => Promise<GtMask | null>;
  if (src.kind === 'folder') {
    const byFrame = await labelPngFolder(src.dir);
    const ids = src.objectIds ? new Set(src.objectIds) : undefined;
    load = async (t) => {
      const file = byFrame.get(t);
      if (!file) {
        return null;
      }
      const img = await readLabelPng(file);
      const mask = new Uint8Array(img.data.length);
      for (let i = 0; i < mask.length; i++) {
        const v = img.data[i];
        mask[i] = img.indexed ? (v !== 0 && v !== 255 && (!ids || ids.has(v)) ? 1 : 0) : v !== 0 ? 1 : 0;
      }
      return { mask, width: img.width, height: img.height };
    };
  } else {
    const ds = await readDataset(src.datasetKind as Parameters<typeof readDataset>[0], src.root, src.split);
    const item = ds.items.find((i) => i.id === src.item);
    const frames = item ? await itemGroundTruth(ds, item) : [];
    load = async (t) => {
      const f = frames[t];
      return f ? { mask: f.labels.map((v) => (v === 1 ? 1 : 0)), width: f.width, height: f.height } : null;
    };
  }
  return (t) => {
    let p = cache.get(t);
    if (!p) {
      p = load(t);
      cache.set(t, p);
    }
    return p;
  };
}

/** Whether a model of the store is installed (false without a model service). */
async function installed(services: Services, task: 'grounding-dino' | 'sam2-video'): Promise<{ ok: boolean; id: string }> {
  const models = services.models;
  if (!models) {
    return { ok: false, id: task === 'sam2-video' ? 'sam2.1-hiera-tiny-video' : 'grounding-dino-tiny' };
  }
  const id = models.modelFor(task);
  try {
    return { ok: (await (await models.store()).locate(id)) !== null, id };
  } catch {
    return { ok: false, id };
  }
}

/** A short text for untrusted messages in the table. */
function errorText(err: unknown): string {
  const m = err instanceof Error ? err.message : String(err);
  return m.length > 300 ? `${m.slice(0, 299)}…` : m;
}

/** The trace text and final answer of each stream a nested stage produced. */
type Streams = Map<string, { text: string; answer?: string; note?: string }>;

function collectEvents(streams: Streams, images: Map<string, Uint8Array>, warnings: string[]): (e: StageEvent) => void {
  return (e) => {
    if (e.type === 'trace') {
      const s = streams.get(e.streamId) ?? { text: '' };
      s.text += e.delta;
      if (e.final) {
        s.answer = e.final.answer ?? s.answer;
        s.note = e.final.note ?? s.note;
      }
      streams.set(e.streamId, s);
    } else if (e.type === 'image' && e.id?.endsWith(':sent')) {
      images.set(e.id, e.data);
    } else if (e.type === 'warning') {
      warnings.push(e.message);
    }
  };
}

/** One column of the matrix: a video and one of its expressions. */
interface Column {
  video: PreparedVideo;
  expression: number;
  payload: SweepInputPayload;
}

/** What one task (variant x column) gives. */
interface TaskOutcome {
  cell: SweepCellPayload;
  hashes: string[];
  prompts: PromptRecord[];
}

/**
 * The `sweep` stage: runs reference, pivot-frame and pivot-box for every input x variant through
 * the stage functions themselves (nested cells in a session per input video, the video decoded once
 * per input and shared by the variants), every LLM request through one gate (`concurrency`) and the
 * record/replay store, then shows one matrix (variants x inputs, summary and deltas against the first
 * variant) with CSV/JSON exports and one detail artifact per cell for the side-by-side view.
 *
 * @example
 * // stage: sweep
 * // variants:
 * //   - { name: baseline }
 * //   - { name: cot-v2, template: pivot-frame.cot/v2 }
 */
export async function* runSweep(request: StageRequest<SweepParams>, ctx: StageContext): AsyncGenerator<StageEvent, StageOutcome<SweepData>, void> {
  const params = request.params ?? ({} as SweepParams);
  const variants = resolveVariants(params.variants, Object.keys(ctx.promptOverrides));
  if (params.inputs !== undefined && params.dataset !== undefined) {
    throw new PipelineError('Give either "inputs" or "dataset", not both.', { stage: STAGE, kind: 'invalid-input', field: 'dataset' });
  }
  const concurrency = params.concurrency ?? ctx.settings.llm.concurrency;
  const gate = new Gate(concurrency);
  const sources: SweepVideoInput[] | undefined = params.inputs ? resolveInputs(params.inputs, ctx.baseDir) : params.dataset ? await resolveDatasetInputs(params.dataset, ctx.baseDir) : undefined;
  const wantBoxes = params.pivotBox !== false;
  const detector = wantBoxes && sources?.some((s) => !s.candidates) ? await installed(ctx.services, 'grounding-dino') : { ok: false, id: 'grounding-dino-tiny' };
  const sam2 = params.propagate !== false && sources?.some((s) => s.groundTruth) ? await installed(ctx.services, 'sam2-video') : { ok: false, id: 'sam2.1-hiera-tiny-video' };

  // 1. the inputs: decode each video once, one reference per expression
  const upstream: string[] = [];
  const prepared: PreparedVideo[] = [];
  const videoCount = sources?.length ?? 1;
  const total = videoCount + variants.length * (sources ? sources.reduce((n, s) => n + s.expressions.length, 0) : 1);
  let done = 0;
  const noop = (): void => undefined;
  if (!sources) {
    const videoResult = requireUpstream<VideoData>(request, ctx, 'video');
    const refResult = resolveReference(request, ctx);
    upstream.push(videoResult.cellId, refResult.cellId);
    const session = new NotebookSession();
    session.put(videoResult);
    session.put(refResult);
    const input: SweepVideoInput = { id: baseLabel(videoResult.data.info.source), source: videoResult.data.info.source, expressions: refResult.data.targets.map((t) => t.text), field: 'uses.video' };
    prepared.push({ input, session, video: videoResult, refs: [refResult], candidates: 'none' });
    yield { type: 'progress', done: ++done, total, label: `input ${input.id}` };
  } else {
    const { runVideo } = await import('./video');
    const { runReference } = await import('./reference');
    for (const input of sources) {
      throwIfAborted(ctx.signal, STAGE);
      const session = new NotebookSession();
      const nestedCtx: StageContext = { ...ctx, session };
      const vid = await runNested(runVideo, {
        kind: 'video', cellId: `${request.cellId}/${input.id}/video`, params: { ...(params.video ?? {}), source: input.source, filmstripFrames: 0 }, uses: {},
      }, nestedCtx, session, noop).catch((err: unknown) => {
        throw isCancellation(err) ? err : new PipelineError(`${input.field}: ${errorText(err)}`, { stage: STAGE, kind: 'invalid-input', field: `${input.field}.source`, cause: err });
      });
      const refs: Array<StageResult<ReferenceData>> = [];
      for (const [k, expression] of input.expressions.entries()) {
        refs.push(await runNested(runReference, { kind: 'reference', cellId: `${request.cellId}/${input.id}#${k}/reference`, params: { expression }, uses: {} }, nestedCtx, session, noop));
      }
      if (input.candidates) {
        try {
          parseTypedCandidates(input.candidates, vid.data.info.width, vid.data.info.height);
        } catch (err) {
          const f = err instanceof PipelineError && err.field ? err.field : 'candidates';
          throw new PipelineError(`${input.field}.${errorText(err)}`, { stage: STAGE, kind: 'invalid-input', field: `${input.field}.${f}` });
        }
      }
      const candidates: CandidateSource = input.candidates ? 'typed' : detector.ok ? 'grounding-dino' : 'none';
      prepared.push({ input, session, video: vid, refs, candidates, ...(input.groundTruth ? { gt: await groundTruthReader(input.groundTruth) } : {}) });
      yield { type: 'progress', done: ++done, total, label: `input ${input.id}` };
    }
  }
  const columns: Column[] = prepared.flatMap((p) =>
    p.input.expressions.map((expression, k): Column => ({
      video: p,
      expression: sources ? k : 0,
      payload: {
        id: `${p.input.id}#${k}`,
        label: p.input.expressions.length > 1 && sources ? `${p.input.id} #${k + 1}` : p.input.id,
        video: p.input.id,
        expression: sources ? expression : p.input.expressions.join(' / '),
        hasGroundTruth: p.gt !== undefined,
        candidates: wantBoxes ? p.candidates : 'none',
      },
    })).slice(0, sources ? undefined : 1),
  );

  // 2. every variant x column, with at most `concurrency` tasks (and LLM requests) at once
  const tasks: Array<{ v: number; c: number }> = variants.flatMap((_, v) => columns.map((__, c) => ({ v, c })));
  const outcomes: TaskOutcome[][] = variants.map(() => []);
  const queue: StageEvent[] = [];
  let wake: (() => void) | undefined;
  let next = 0;
  let running = 0;
  let cancelled: unknown;
  const propagateGate = new Gate(1);
  const start = (): void => {
    while (running < Math.max(1, concurrency) && next < tasks.length && !cancelled) {
      const { v, c } = tasks[next++];
      running++;
      void runTask(variants[v], columns[c], { request, ctx, gate, propagateGate, wantBoxes, sam2: sam2.ok })
        .catch((err: unknown): TaskOutcome => {
          if (isCancellation(err) || ctx.signal.aborted) {
            cancelled ??= err;
          }
          return { cell: { status: 'error', message: errorText(err), metrics: {} }, hashes: [], prompts: [] };
        })
        .then((o) => {
          outcomes[v][c] = o;
          running--;
          queue.push({ type: 'progress', done: ++done, total, label: `${variants[v].label} × ${columns[c].payload.label}` });
          start();
          wake?.();
        });
    }
  };
  start();
  while (running > 0 || queue.length > 0) {
    if (queue.length === 0) {
      await new Promise<void>((resolve) => {
        wake = resolve;
      });
      wake = undefined;
    }
    while (queue.length > 0) {
      yield queue.shift() as StageEvent;
    }
  }
  if (cancelled || ctx.signal.aborted) {
    throw cancelled instanceof PipelineError ? cancelled : new PipelineError('Cancelled.', { stage: STAGE, kind: 'cancelled' });
  }

  // 3. the matrix
  const hasGt = columns.some((c) => c.payload.hasGroundTruth);
  const boxesRan = wantBoxes && columns.some((c) => c.payload.candidates !== 'none');
  const metrics = sweepMetrics({ groundTruth: hasGt, boxes: boxesRan });
  const cells = outcomes.map((row) => row.map((o) => ({ ...o.cell, metrics: Object.fromEntries(metrics.map((m) => [m.key, o.cell.metrics[m.key] ?? null])) })));
  const variantPayloads: SweepVariantPayload[] = variants.map((v, i) => ({ id: v.id, label: v.label, baseline: i === 0, settings: v.settings }));
  const inputs = columns.map((c) => c.payload);
  const { summary, deltas } = summarize(cells, metrics);
  const notes = sweepNotes(columns, wantBoxes, detector.id, hasGt, params.propagate !== false, sam2);
  const body = { version: 1 as const, metrics, variants: variantPayloads, inputs, cells, summary, deltas, ...(notes.length > 0 ? { notes } : {}) };
  const csv = await putArtifact(ctx.runDir, new TextEncoder().encode(matrixCsv(body)), '.csv');
  const json = await putArtifact(ctx.runDir, new TextEncoder().encode(`${JSON.stringify(body, null, 2)}\n`), '.json');
  const caption = `Sweep: ${variants.length} variant${variants.length === 1 ? '' : 's'} × ${inputs.length} input${inputs.length === 1 ? '' : 's'}; baseline ${variants[0].label}`;
  const matrix: SweepMatrixPayload = {
    ...body,
    exports: { csv: { ref: csv.ref, sha256: csv.sha256, mime: 'text/csv' }, json: { ref: json.ref, sha256: json.sha256, mime: 'application/json' } },
    caption,
  };
  if (notes.length > 0) {
    yield { type: 'markdown', text: notes.map((n) => `- ${n}`).join('\n') };
  }
  const table = matrixTable(matrix);
  yield { type: 'table', title: caption, columns: table.columns, rows: table.rows, renderer: { mime: MIME.sweepMatrix, payload: matrix } };
  yield { type: 'markdown', text: `Exports: \`${csv.ref}\` (CSV), \`${json.ref}\` (JSON) in the run folder.` };

  const prompts = [...new Map(outcomes.flat().flatMap((o) => o.prompts).map((p) => [`${p.name}\n${p.templateHash}`, p])).values()];
  return {
    data: { matrix, ...(prompts.length > 0 ? { prompts } : {}) },
    inputHash: hashJson({ stage: STAGE, params, columns: columns.map((c) => c.video.video.inputHash), nested: outcomes.map((row) => row.map((o) => o.hashes)) }),
    upstream,
  };
}

/** What the matrix cannot show by itself: the candidate source per input, and why J&F is missing. */
function sweepNotes(columns: Column[], wantBoxes: boolean, detectorId: string, hasGt: boolean, wantPropagate: boolean, sam2: { ok: boolean; id: string }): string[] {
  const notes: string[] = [];
  if (wantBoxes) {
    const by = (s: string): string[] => [...new Set(columns.filter((c) => c.payload.candidates === s).map((c) => c.payload.video))];
    if (by('typed').length > 0) {
      notes.push(`Pivot-box candidates typed in the cell: ${by('typed').join(', ')}.`);
    }
    if (by('grounding-dino').length > 0) {
      notes.push(`Pivot-box candidates from GroundingDINO (${detectorId}): ${by('grounding-dino').join(', ')}.`);
    }
    if (by('none').length > 0) {
      notes.push(`No pivot-box candidates for ${by('none').join(', ')}: the pivot-box step was skipped there (no detector installed and no \`candidates:\`; install one with \`${pullCommand(detectorId)}\`). Box metrics are empty.`);
    }
  }
  if (hasGt && wantPropagate && !sam2.ok) {
    notes.push(`J, F and J&F are empty: SAM 2 (${sam2.id}) is not installed. Install it with \`${pullCommand(sam2.id)}\` and run the cell again.`);
  } else if (hasGt && !wantPropagate) {
    notes.push('J, F and J&F are empty: `propagate: false`.');
  }
  return notes;
}

interface TaskEnv {
  request: StageRequest<SweepParams>;
  ctx: StageContext;
  gate: Gate;
  propagateGate: Gate;
  wantBoxes: boolean;
  sam2: boolean;
}

/** One variant on one column: pivot-frame, pivot-box (when it has candidates), propagate + evaluate (SAM 2 and ground truth), metrics, detail artifact. */
async function runTask(variant: SweepVariant, column: Column, env: TaskEnv): Promise<TaskOutcome> {
  const { request, ctx } = env;
  const { video: pv } = column;
  const stats: CallStats = { requests: 0, reasks: 0, replayed: 0, usage: [] };
  const settings = variant.temperature !== undefined ? { ...ctx.settings, llm: { ...ctx.settings.llm, temperature: variant.temperature } } : ctx.settings;
  const tctx: StageContext = { ...ctx, session: pv.session, settings, services: taskServices(ctx.services, env.gate, ctx.signal, stats) };
  const streams: Streams = new Map();
  const images = new Map<string, Uint8Array>();
  const warnings: string[] = [];
  const sink = collectEvents(streams, images, warnings);
  const ref = pv.refs[column.expression];
  const base = `${request.cellId}/${variant.id}/${column.payload.id}`;
  const uses = { video: pv.video.cellId, reference: ref.cellId };
  const { runPivotFrame } = await import('./pivotFrame');
  const pf = await runNested(runPivotFrame, { kind: 'pivot-frame', cellId: `${base}/pivot-frame`, params: { ...variant.pivotFrame, concurrency: Math.max(1, ctx.settings.llm.concurrency) }, uses }, tctx, pv.session, sink);
  const hashes = [pf.inputHash];
  let pb: StageResult<PivotBoxData> | undefined;
  const boxes = env.wantBoxes && column.payload.candidates !== 'none';
  if (boxes) {
    const { runPivotBox } = await import('./pivotBox');
    pb = await runNested(runPivotBox, {
      kind: 'pivot-box', cellId: `${base}/pivot-box`, params: { ...variant.pivotBox, ...(pv.input.candidates ? { candidates: pv.input.candidates } : {}), concurrency: Math.max(1, ctx.settings.llm.concurrency) } as never, uses: { ...uses, 'pivot-frame': pf.cellId },
    }, tctx, pv.session, sink);
    hashes.push(pb.inputHash);
  }
  const detail = await buildDetail(variant, column, pf, pb, streams, images, ctx.runDir);
  if (warnings.length > 0) {
    detail.warnings = warnings;
  }
  const clipMetrics = detail.objects.flatMap((o) => o.clips.map((c) => c.metrics));
  const clips = detail.objects.flatMap((o) => o.clips);
  const validClips = clips.filter((c) => c.pivotFrame.valid && (!boxes || c.pivotBox?.valid === true)).length;
  const costs = stats.usage.map((u) => u.costUsd);
  const cost = costs.every((c): c is number => c !== undefined) ? costs.reduce((a, b) => a + b, 0) : null;
  const metrics: Record<string, number | null> = {
    frameAreaRatio: meanDefined(clipMetrics.map((m) => m.frameAreaRatio)),
    frameVisible: meanDefined(clipMetrics.map((m) => m.frameVisible)),
    boxIoU: meanDefined(clipMetrics.map((m) => m.boxIoU)),
    boxCentreOnObject: meanDefined(clipMetrics.map((m) => m.boxCentreOnObject)),
    validRate: clips.length > 0 ? validClips / clips.length : null,
    reasks: stats.reasks,
    promptTokens: stats.usage.reduce((n, u) => n + u.promptTokens, 0),
    completionTokens: stats.usage.reduce((n, u) => n + u.completionTokens, 0),
    costUsd: cost,
    latencyMs: stats.usage.reduce((n, u) => n + u.latencyMs, 0),
    J: null,
    F: null,
    JF: null,
  };
  if (pb && env.sam2 && pv.input.groundTruth) {
    const scores = await propagateAndEvaluate(base, pv, pb, tctx, env.propagateGate);
    Object.assign(metrics, scores);
  }
  const art = await putArtifact(ctx.runDir, new TextEncoder().encode(`${JSON.stringify(detail)}\n`), '.json');
  const cell: SweepCellPayload = {
    status: 'ok',
    metrics,
    detail: { ref: art.ref, sha256: art.sha256, mime: 'application/json' },
    ...(stats.requests > 0 ? { cached: stats.replayed === stats.requests } : {}),
  };
  const prompts = [pf.data.prompt, pb?.data.prompt].filter((p): p is PromptRecord => p !== undefined);
  return { cell, hashes, prompts };
}

/** SAM 2 from the pivot boxes, then J, F, J&F against the input's ground truth (one at a time over the sweep). */
async function propagateAndEvaluate(base: string, pv: PreparedVideo, pb: StageResult<PivotBoxData>, ctx: StageContext, gate: Gate): Promise<Record<string, number | null>> {
  const release = await gate.acquire(ctx.signal);
  try {
    const { runPropagate } = await import('./propagate');
    const { runEvaluate } = await import('./evaluate');
    const noop = (): void => undefined;
    const prop = await runNested(runPropagate, { kind: 'propagate', cellId: `${base}/propagate`, params: {}, uses: { video: pv.video.cellId, 'pivot-box': pb.cellId } }, ctx, pv.session, noop);
    const gt = pv.input.groundTruth!;
    const evalParams = gt.kind === 'folder' ? { groundTruth: gt.dir } : { dataset: { kind: gt.datasetKind, root: gt.root, item: gt.item, ...(gt.split ? { split: gt.split } : {}) } };
    const ev = await runNested(runEvaluate, { kind: 'evaluate', cellId: `${base}/evaluate`, params: evalParams as never, uses: { propagate: prop.cellId, video: pv.video.cellId } }, ctx, pv.session, noop);
    const s = (ev.data as { summary: Record<string, number> }).summary;
    return { J: s.J ?? null, F: s.F ?? null, JF: s['J&F'] ?? null };
  } finally {
    release();
  }
}

/** The side-by-side detail of one cell: clip by clip, the answers, traces, images and pivot metrics. */
async function buildDetail(
  variant: SweepVariant,
  column: Column,
  pf: StageResult<PivotFrameData>,
  pb: StageResult<PivotBoxData> | undefined,
  streams: Streams,
  images: Map<string, Uint8Array>,
  runDir: string,
): Promise<SweepDetailPayload> {
  const video = column.video.video.data;
  const gt = column.video.gt;
  const objects: SweepDetailPayload['objects'] = [];
  for (const o of pf.data.objects) {
    const clips: SweepDetailPayload['objects'][number]['clips'] = [];
    for (const c of o.clips) {
      const plan = video.clips.find((k) => k.clipIndex === c.clipIndex);
      const grid = video.grids.find((g) => g.clipIndex === c.clipIndex);
      const fs = streams.get(`${pf.cellId}:pivot-frame:o${o.objectId}:c${c.clipIndex}`);
      const gridRef = grid ? runFolderRef(runDir, grid.path) : undefined;
      const image = gridRef ? { ref: gridRef, mime: 'image/jpeg' } : undefined;
      const metrics: Record<string, number | null> = { frameAreaRatio: null, frameVisible: null, boxIoU: null, boxCentreOnObject: null };
      if (gt && plan && c.valid && c.frameIndex !== null) {
        const areas = new Map<number, number>();
        for (const t of plan.frameIndices) {
          const m = await gt(t);
          if (m) {
            areas.set(t, maskArea(m.mask));
          }
        }
        Object.assign(metrics, frameMetrics(areas, c.frameIndex));
      }
      const bp: BoxPivot | undefined = pb?.data.objects.find((x) => x.objectId === o.objectId)?.pivots.find((p) => p.clipIndex === c.clipIndex && !p.fallback);
      let pivotBox: SweepDetailPayload['objects'][number]['clips'][number]['pivotBox'];
      if (pb && bp) {
        const sid = `${pb.cellId}:pivot-box:o${o.objectId}:c${c.clipIndex}`;
        const bs = streams.get(sid);
        const sent = images.get(`${sid}:sent`);
        const box = bp.chosen !== null ? bp.candidates[bp.chosen]?.box ?? null : null;
        const img = sent ? await putArtifact(runDir, sent, '.jpg') : undefined;
        pivotBox = {
          frameIndex: bp.frameIndex,
          chosen: bp.chosen,
          box,
          valid: bp.valid,
          ...(bs?.answer ? { answer: bs.answer } : {}),
          trace: bs?.text ?? '',
          ...(img ? { image: { ref: img.ref, sha256: img.sha256, mime: 'image/jpeg' } } : {}),
          ...(bp.note ? { note: bp.note } : {}),
        };
        if (gt && box && bp.valid) {
          const m = await gt(bp.frameIndex);
          if (m) {
            Object.assign(metrics, boxMetrics(scaleBox(box, video.info, m), m.mask, m.width, m.height));
          }
        }
      }
      clips.push({
        clip: c.clipIndex + 1,
        pivotFrame: {
          frameIndex: c.frameIndex,
          valid: c.valid,
          ...(fs?.answer ? { answer: fs.answer } : {}),
          trace: fs?.text ?? '',
          ...(image ? { image } : {}),
          ...(c.note ? { note: c.note } : {}),
        },
        ...(pivotBox ? { pivotBox } : {}),
        metrics,
      });
    }
    objects.push({ objectId: o.objectId, text: o.text, clips });
  }
  return { version: 1, variantId: variant.id, inputId: column.payload.id, objects };
}
