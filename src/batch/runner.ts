/**
 * Runs the pipeline headless over one video or a whole dataset, through the SAME cell runner the
 * notebook uses (`runNotebook` -> `runCell` -> `runStage`): each item becomes a small in-memory notebook of stage cells
 * (video -> reference -> pivot-frame -> pivot-box -> propagate for RVOS; video -> lbru -> pivot-frame
 * (LBRU's frames) -> pivot-box -> propagate for AVS), and the propagate result's masks are written as PNGs.
 *
 * Dataset runs are resumable and shardable:
 * - an item is finished when `<out>/items/<id>.json` says `done`; finished items are skipped on the
 *   next run (failed ones are retried);
 * - every file is written atomically (temporary name, then rename), predictions of an item are moved
 *   into place as a whole folder, so an interrupted run never leaves half an item;
 * - `shard i/n` keeps the videos `k` with `k mod n = i` in name order, so an array job on a cluster
 *   (Slurm `--array`, Kubernetes indexed jobs) runs each video exactly once.
 */
import { existsSync } from 'node:fs';
import { copyFile, mkdir, readFile, readdir, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { STAGE_LANGUAGE } from '../common/mime';
import { ExperimentRecorder, runNotebook, type CellHostContext, type CellLike } from '../pipeline/cells';
import { framePath, type MaskData, type PivotBoxData, type ReferenceData, type VideoData } from '../pipeline/domain';
import { PipelineError, isCancellation, throwIfAborted } from '../pipeline/errors';
import type { StageEvent } from '../pipeline/events';
import type { ExperimentRecord } from '../pipeline/format/model';
import { decodeRle } from '../pipeline/masks/rle';
import { writeFileAtomic } from '../pipeline/run/runFolder';
import { NotebookSession } from '../pipeline/session';
import { STAGE_SCHEMAS } from '../pipeline/stages/registry';
import type { RleMask } from '../pipeline/domain';
import { datasetVideos, shardVideos, type Dataset, type DatasetItem } from '../pipeline/benchmarks/datasets';
import { type ClassMatch, nearestClass } from '../pipeline/audio/vocabulary';
import { avssPalette, encodeBinaryPng, encodeIndexedPng, encodeRgbPng } from '../pipeline/masks/labelPng';
import { writeFolderAtomic } from '../pipeline/benchmarks/writers';
import { DAVIS_BACKGROUND_LOGIT, composeByLogits, fromSparse, readLogitsFile } from '../pipeline/masks/logits';
import { Sam2TrackCache, trackKey, trackToStore, type TrackedObject, type TrackedVideo } from '../pipeline/models/sam2/tracks';
import { Sam2VideoTracker } from '../pipeline/models/sam2/video';
import type { ModelService } from '../pipeline/models/service';
import { hashJson } from '../pipeline/run/hash';
import { promptsFromPivots, trackedVideo, type PropagateParams } from '../pipeline/stages/propagate';

/** Extra YAML fields per stage for every item (ablations: `{ 'pivot-frame': { strategy: 'middle' } }`). */
export type StageOverrides = Partial<Record<'video' | 'reference' | 'lbru' | 'pivot-frame' | 'pivot-box' | 'propagate', Record<string, unknown>>>;

/** What the pipeline runs on for one item. */
export interface PipelineInput {
  /** Video file or folder of frames. */
  source: string;
  /** RVOS: the expression. Omit for AVS. */
  expression?: string;
  /** AVS: a separate audio file (AVSBench keeps audio next to the frames). */
  audioPath?: string;
  mode: 'rvos' | 'avs';
  preset?: string;
  overrides?: StageOverrides;
}

function yamlCell(kind: string, fields: Record<string, unknown>): CellLike {
  // JSON strings are valid YAML scalars, so every value is written as JSON
  const lines = [`stage: ${kind}`, `id: ${kind}`, ...Object.entries(fields).filter(([, v]) => v !== undefined).map(([k, v]) => `${k}: ${JSON.stringify(v)}`)];
  return { id: kind, language: STAGE_LANGUAGE, source: `${lines.join('\n')}\n` };
}

function schemaHas(kind: keyof typeof STAGE_SCHEMAS, field: string): boolean {
  const props = (STAGE_SCHEMAS[kind] as { properties?: Record<string, unknown> }).properties ?? {};
  return field in props;
}

/** The stage cells of one item, in order. Exported so the report can show exactly what ran. */
export function pipelineCells(input: PipelineInput): CellLike[] {
  const o = input.overrides ?? {};
  const cells: CellLike[] = [yamlCell('video', { source: input.source, preset: input.preset, mode: input.mode, ...o.video })];
  if (input.mode === 'rvos') {
    if (!input.expression) {
      throw new PipelineError('An RVOS run needs an expression.', { stage: 'reference', kind: 'invalid-input', field: 'expression' });
    }
    cells.push(yamlCell('reference', { expression: input.expression, ...o.reference }));
    cells.push(yamlCell('pivot-frame', { ...o['pivot-frame'] }));
  } else {
    const audio = input.audioPath && schemaHas('lbru', 'audio') ? { audio: input.audioPath } : {};
    cells.push(yamlCell('lbru', { ...audio, ...o.lbru }));
    // takes each category's frame from LBRU (no LLM call)
    cells.push(yamlCell('pivot-frame', { ...o['pivot-frame'] }));
  }
  cells.push(yamlCell('pivot-box', { ...o['pivot-box'] }));
  cells.push(yamlCell('propagate', { ...o.propagate }));
  return cells;
}

/** Outcome of {@link runPipeline}. */
export interface PipelineOutcome {
  masks: MaskData;
  session: NotebookSession;
  record: ExperimentRecord;
  /** Warnings the stages reported. */
  warnings: string[];
  /** Seconds per stage. */
  timings: Record<string, number>;
}

/** Host pieces a run needs besides the per-item run folder. */
export interface RunnerHost {
  /** The stage context for a run folder (settings, services, logger, resources). */
  hostFor(runDir: string): CellHostContext;
  version: string;
}

/**
 * An item's notebook run between its two parts (see {@link startPipeline}): the session holds the
 * results of the cells before propagate; `failure` is how that part ended when it did not reach propagate.
 */
export interface PipelineRun {
  cells: CellLike[];
  session: NotebookSession;
  host: CellHostContext;
  failure?: unknown;
  /** Warnings and seconds per stage so far. */
  warnings: string[];
  timings: Record<string, number>;
  run(positions: number[]): Promise<void>;
  record?: ExperimentRecord;
}

/**
 * Runs the cells of one item before propagate (video .. pivot-box) and keeps the run open, so a host can
 * track the objects of several items of one video together ({@link Sam2TrackCache} in the services of
 * `run.host`) before {@link finishPipeline} runs propagate. Never throws: a failure is kept for
 * {@link finishPipeline} to report.
 */
export async function startPipeline(input: PipelineInput, host: RunnerHost, runDir: string, signal: AbortSignal, onEvent?: (e: StageEvent, stage: string) => void): Promise<PipelineRun> {
  const cells = pipelineCells(input);
  const session = new NotebookSession();
  const hostCtx = host.hostFor(runDir);
  const recorder = new ExperimentRecorder();
  const state: PipelineRun = {
    cells, session, host: hostCtx, warnings: [], timings: {},
    async run(positions) {
      const run = await runNotebook({
        cells, positions, session, host: hostCtx, signal, recorder,
        beforeCell: (cell) => {
          const t0 = Date.now();
          return {
            onEvent: (e) => {
              if (e.type === 'warning') {
                state.warnings.push(`${cell.id}: ${e.message}`);
              }
              onEvent?.(e, cell.id);
            },
            done: () => {
              state.timings[cell.id] = (Date.now() - t0) / 1000;
            },
          };
        },
        // the record is built once the last cell has run
        record: () => (positions.includes(cells.length - 1) ? { version: host.version, settings: hostCtx.settings, usedModelFiles: [], warn: () => undefined } : undefined),
      });
      state.record = run.record as ExperimentRecord | undefined;
      const last = run.ran.at(-1);
      if (run.status === 'cancelled') {
        throw new PipelineError('Cancelled.', { stage: last?.outcome.status === 'cancelled' ? last.outcome.cellId : 'evaluate', kind: 'cancelled' });
      }
      if (run.status !== 'ok' && last) {
        const { outcome } = last;
        const err = outcome.error;
        if (err instanceof PipelineError) {
          throw new PipelineError(outcome.message ?? err.message, { stage: err.stage, kind: err.kind, field: err.field, file: err.file, cause: err });
        }
        throw new PipelineError(outcome.message ?? 'The stage failed.', { stage: outcome.cellId, kind: 'backend', cause: err });
      }
    },
  };
  try {
    await state.run(cells.slice(0, -1).map((_, i) => i));
  } catch (err) {
    state.failure = err;
  }
  return state;
}

/** Runs the propagate cell of a {@link startPipeline} run and returns the outcome (throws the first part's failure). */
export async function finishPipeline(state: PipelineRun): Promise<PipelineOutcome> {
  if (state.failure !== undefined) {
    throw state.failure;
  }
  await state.run([state.cells.length - 1]);
  const result = state.session.latest('propagate');
  if (!result) {
    throw new PipelineError('The propagate stage finished without a result.', { stage: 'propagate', kind: 'backend' });
  }
  return { masks: result.data as MaskData, session: state.session, record: state.record as ExperimentRecord, warnings: state.warnings, timings: state.timings };
}

/**
 * Runs the cells of one item and returns the propagate result. A failing cell throws a PipelineError
 * that names the stage.
 *
 * @example
 * const out = await runPipeline({ source: 'clip.mp4', expression: 'the dog', mode: 'rvos' }, host, runDir, signal);
 * out.masks.objects[0].masksFile;
 */
export async function runPipeline(input: PipelineInput, host: RunnerHost, runDir: string, signal: AbortSignal, onEvent?: (e: StageEvent, stage: string) => void): Promise<PipelineOutcome> {
  return finishPipeline(await startPipeline(input, host, runDir, signal, onEvent));
}

/** Per-frame union of all objects' masks of a propagate result (row-major 0/1), frame by frame. */
export function unionMasks(masks: MaskData): Promise<Uint8Array[]> {
  return semanticMasks(masks, () => 1);
}

/**
 * Per-frame class labels of a propagate result for AVSS: each object painted with its class index, in
 * object order; where masks overlap the LATER object wins, as in the reference code.
 */
export async function semanticMasks(masks: MaskData, classOf: (objectId: number) => number): Promise<Uint8Array[]> {
  const n = masks.width * masks.height;
  const frames: Uint8Array[] = Array.from({ length: masks.frameCount }, () => new Uint8Array(n));
  for (const obj of masks.objects) {
    const cls = classOf(obj.objectId);
    const list = JSON.parse(await readFile(obj.masksFile, 'utf8')) as Array<RleMask | null>;
    list.forEach((rle, t) => {
      if (!rle || t >= frames.length) {
        return;
      }
      const m = decodeRle(rle);
      const f = frames[t];
      for (let i = 0; i < n; i++) {
        if (m[i]) {
          f[i] = cls;
        }
      }
    });
  }
  return frames;
}

/** File-system-safe name of an item id (`video/3` -> `video__3`). */
export function itemFileName(id: string): string {
  return id.replace(/[^A-Za-z0-9._-]/g, (c) => (c === '/' ? '__' : `%${c.charCodeAt(0).toString(16).padStart(2, '0')}`));
}

/** What `<out>/items/<id>.json` holds. */
export interface ItemStatus {
  id: string;
  status: 'done' | 'failed';
  video: string;
  expressionId?: string;
  seconds: number;
  frames?: number;
  warnings: string[];
  error?: { kind: string; stage: string; message: string };
  record?: ExperimentRecord;
  timings?: Record<string, number>;
}

/** Options of {@link runDataset}. */
export interface DatasetRunOptions {
  dataset: Dataset;
  outDir: string;
  shard?: { index: number; count: number };
  host: RunnerHost;
  signal: AbortSignal;
  overrides?: StageOverrides;
  /** Called once with the items of this shard, how many are already finished. */
  onStart?(total: number, alreadyDone: number): void;
  onItemDone?(status: ItemStatus, doneCount: number, total: number): void;
  onEvent?(event: StageEvent, stage: string, item: DatasetItem): void;
  /**
   * Ref-DAVIS17: how the expressions (objects) of a video and annotator set become one label map per
   * frame. `logits` (default, reference code): argmax of the objects' logits with background -1,
   * written to `predictions/anno_<set>/<video>/`; `binary`: no composition here, so scoring composes
   * the binary masks (lowest object id first).
   */
  davisComposition?: 'logits' | 'binary';
  /**
   * Track the expressions of one video together (default true): each runs its cells up to pivot-box,
   * then ONE SAM 2 run over all their objects encodes every frame once, and each expression's
   * propagate stage takes its objects' tracks from it (bit for bit those of tracking them alone).
   * `false` runs SAM 2 once per expression.
   */
  groupByVideo?: boolean;
}

/** Summary of a dataset run. */
export interface DatasetRunSummary {
  total: number;
  done: number;
  skipped: number;
  failed: number;
  /** The first failure, for the exit message. */
  firstError?: ItemStatus['error'] & { id: string };
  predictionsDir: string;
}

/** Prediction folder of an item (see score.ts for the layout). */
export function predictionDir(predRoot: string, ds: Dataset, item: DatasetItem): string {
  return ds.kind.startsWith('avs') ? path.join(predRoot, item.video) : path.join(predRoot, item.video, item.expressionId ?? '0');
}

/** The AVSS class names {@link avssClassOf} chooses from: label2idx.json less the background (build it once per run). */
export function avssClassNames(classes: Map<string, number>): string[] {
  return [...classes.entries()].filter(([name, idx]) => idx !== 0 && name !== 'background').map(([name]) => name);
}

/**
 * The AVSS class index of a category: its nearest class of label2idx.json (background excluded; see
 * {@link nearestClass}), so a category never falls silently to class 0. An object with no category
 * (empty or blank) is background, class 0 (`how: 'none'`): there is nothing to match.
 */
export function avssClassOf(category: string, classes: Map<string, number>, names: string[] = avssClassNames(classes)): ClassMatch & { index: number } {
  if (category.trim() === '') {
    const background = [...classes.entries()].find(([, idx]) => idx === 0)?.[0] ?? 'background';
    return { category, className: background, how: 'none', score: 0, index: 0 };
  }
  const m = nearestClass(category, names);
  return { ...m, index: classes.get(m.className) as number };
}

async function loadAvssClasses(ds: Dataset): Promise<Map<string, number>> {
  const file = path.join(ds.root, 'label2idx.json');
  if (!existsSync(file)) {
    throw new PipelineError(`AVSS predictions need the class list ${file} (category name -> class index), as the AVSBench-semantic release ships it.`, {
      stage: 'evaluate', kind: 'invalid-input', field: 'root', file,
    });
  }
  const raw = JSON.parse(await readFile(file, 'utf8')) as Record<string, number>;
  return new Map(Object.entries(raw).map(([k, v]) => [k.toLowerCase(), Number(v)]));
}

/**
 * Runs the pipeline over (a shard of) a dataset, writing predictions under `<out>/predictions` and a
 * status file per item under `<out>/items`. Stops at once when a stage is not available (every item
 * would fail the same way) or on cancellation; other failures are recorded and the run goes on.
 */
export async function runDataset(options: DatasetRunOptions): Promise<DatasetRunSummary> {
  const { dataset: ds, outDir, host, signal } = options;
  const keep = options.shard ? shardVideos(datasetVideos(ds), options.shard) : undefined;
  const items = ds.items.filter((i) => !keep || keep.has(i.video)).sort((a, b) => (a.video === b.video ? 0 : a.video < b.video ? -1 : 1));
  const predRoot = path.join(outDir, 'predictions');
  const itemsDir = path.join(outDir, 'items');
  await mkdir(itemsDir, { recursive: true });
  const statusFile = (item: DatasetItem): string => path.join(itemsDir, `${itemFileName(item.id)}.json`);
  const isDone = async (item: DatasetItem): Promise<boolean> => {
    const f = statusFile(item);
    if (!existsSync(f) || !existsSync(predictionDir(predRoot, ds, item))) {
      return false;
    }
    try {
      return (JSON.parse(await readFile(f, 'utf8')) as ItemStatus).status === 'done';
    } catch {
      return false;
    }
  };
  const todo: DatasetItem[] = [];
  for (const item of items) {
    if (!(await isDone(item))) {
      todo.push(item);
    }
  }
  const skipped = items.length - todo.length;
  options.onStart?.(items.length, skipped);
  const summary: DatasetRunSummary = { total: items.length, done: skipped, skipped, failed: 0, predictionsDir: predRoot };
  const classes = ds.kind === 'avss' ? await loadAvssClasses(ds) : undefined;
  const classNames = classes ? avssClassNames(classes) : [];
  const composeDavis = ds.kind === 'ref-davis17' && (options.davisComposition ?? 'logits') === 'logits';
  const overrides: StageOverrides | undefined = composeDavis ? { ...options.overrides, propagate: { keepLogits: true, ...options.overrides?.propagate } } : options.overrides;
  let sameFailures = 0;
  let lastFailure = '';
  // Ref-DAVIS units (annotator set, video) with an item done in this run: composed again at the end
  const changedUnits = new Set<string>();
  // a dataset video keeps its own run folder (decoded frames, recorded LLM exchanges)
  const runDir = (item: DatasetItem): string => path.join(outDir, 'runs', itemFileName(item.video));
  const start = (item: DatasetItem): Promise<PipelineRun> => startPipeline(
    { source: path.dirname(item.frames[0].path), expression: item.expression, audioPath: item.audioPath, mode: ds.kind.startsWith('avs') ? 'avs' : 'rvos', preset: ds.kind, overrides },
    host, runDir(item), signal, (e, stage) => options.onEvent?.(e, stage, item),
  );
  // items whose cells before propagate have run (with the seconds they took), see startVideo
  let started = new Map<DatasetItem, { run: PipelineRun; seconds: number }>();
  for (const [index, item] of todo.entries()) {
    throwIfAborted(signal, 'evaluate');
    if (!started.has(item)) {
      started = await startVideo(todo, index, start, options.groupByVideo !== false, overrides, signal, (e) => options.onEvent?.(e, 'propagate', item));
    }
    const pre = started.get(item) as { run: PipelineRun; seconds: number };
    started.delete(item);
    const t0 = Date.now() - pre.seconds * 1000;
    let status: ItemStatus;
    try {
      const out = await finishPipeline(pre.run);
      const { masks } = out;
      const warnings = [...out.warnings];
      if (masks.frameCount !== item.frames.length) {
        warnings.push(`The pipeline produced ${masks.frameCount} frames, the dataset lists ${item.frames.length}; frames are matched by position.`);
      }
      let files: Array<{ name: string; bytes: Uint8Array }>;
      if (classes) {
        const targets = (out.session.latest('lbru')?.data as ReferenceData | undefined)?.targets ?? [];
        const palette = avssPalette();
        const classOf = (objectId: number): number => {
          const cat = targets.find((t) => t.objectId === objectId)?.category ?? '';
          const c = avssClassOf(cat, classes, classNames);
          if (c.how === 'closest' || c.how === 'synonym' || c.how === 'nearest') {
            warnings.push(`object ${objectId}: category "${cat}" is not an AVSS class; painted as its nearest class "${c.className}" (${c.how}).`);
          }
          return c.index;
        };
        const frames = await semanticMasks(masks, classOf);
        files = item.frames.map((f, t) => {
          const labels = frames[t] ?? new Uint8Array(masks.width * masks.height);
          const rgb = new Uint8Array(labels.length * 3);
          labels.forEach((c, i) => {
            const col = palette[c] ?? [0, 0, 0];
            rgb[i * 3] = col[0];
            rgb[i * 3 + 1] = col[1];
            rgb[i * 3 + 2] = col[2];
          });
          return { name: `${f.name}.png`, bytes: encodeRgbPng(rgb, masks.width, masks.height) };
        });
      } else {
        const frames = await unionMasks(masks);
        files = item.frames.map((f, t) => ({ name: `${f.name}.png`, bytes: encodeBinaryPng(frames[t] ?? new Uint8Array(masks.width * masks.height), masks.width, masks.height) }));
      }
      await writeFolderAtomic(predictionDir(predRoot, ds, item), files);
      const logitsFile = masks.objects[0]?.logitsFile;
      if (composeDavis && logitsFile) {
        await copyFileAtomic(logitsFile, davisLogitsPath(outDir, item));
        changedUnits.add(davisUnitKey(item));
      }
      status = { id: item.id, status: 'done', video: item.video, expressionId: item.expressionId, seconds: (Date.now() - t0) / 1000, frames: files.length, warnings, record: out.record, timings: out.timings };
      summary.done++;
    } catch (err) {
      if (isCancellation(err)) {
        throw err;
      }
      if (err instanceof PipelineError && isSetupError(err)) {
        throw new PipelineError(`${item.id}: ${err.message} This would fail every item, so the run stops here; nothing was written for this item.`, {
          stage: err.stage, kind: err.kind, field: err.field, file: err.file, cause: err,
        });
      }
      const e = err instanceof PipelineError ? err : new PipelineError(err instanceof Error ? err.message : String(err), { stage: 'evaluate', kind: 'backend', cause: err });
      status = { id: item.id, status: 'failed', video: item.video, expressionId: item.expressionId, seconds: (Date.now() - t0) / 1000, warnings: [], error: { kind: e.kind, stage: e.stage, message: e.message } };
      summary.failed++;
      summary.firstError ??= { id: item.id, ...status.error! };
      sameFailures = summary.done === summary.skipped && lastFailure === `${e.stage}/${e.kind}/${e.field ?? ''}` ? sameFailures + 1 : 1;
      lastFailure = `${e.stage}/${e.kind}/${e.field ?? ''}`;
    }
    await writeFileAtomic(statusFile(item), `${JSON.stringify(status, null, 2)}\n`);
    options.onItemDone?.(status, summary.done + summary.failed, items.length);
    if (sameFailures >= STOP_AFTER_SAME_FAILURES) {
      throw new PipelineError(
        `The first ${sameFailures} items all failed in the same way, so the run stops (fix the cause and run the same command again to resume). Last: ${status.error?.message}`,
        { stage: status.error?.stage ?? 'evaluate', kind: 'backend' },
      );
    }
  }
  if (composeDavis) {
    await composeDavisPredictions(ds, items, outDir, changedUnits);
  }
  return summary;
}

/**
 * Runs the cells before propagate of `todo[index]` and, when grouping, of the items after it of the
 * same video; then, when two or more of them reached propagate, tracks all their objects in one SAM 2
 * run ({@link trackTogether}) and hands each its tracks through its services. Stops starting items at
 * a cancellation or a setup error (the item reports it in its turn). Returns each started item with
 * its seconds so far (the shared run's time split evenly among the items that take part).
 */
async function startVideo(
  todo: readonly DatasetItem[], index: number, start: (item: DatasetItem) => Promise<PipelineRun>, group: boolean, overrides: StageOverrides | undefined,
  signal: AbortSignal, onEvent: (e: StageEvent) => void,
): Promise<Map<DatasetItem, { run: PipelineRun; seconds: number }>> {
  const out = new Map<DatasetItem, { run: PipelineRun; seconds: number }>();
  for (let k = index; k < todo.length && (k === index || (group && todo[k].video === todo[index].video)); k++) {
    const t0 = Date.now();
    const run = await start(todo[k]);
    out.set(todo[k], { run, seconds: (Date.now() - t0) / 1000 });
    const f = run.failure;
    if (isCancellation(f) || (f instanceof PipelineError && isSetupError(f))) {
      break;
    }
  }
  const ready = [...out.values()].filter((s) => s.run.failure === undefined);
  if (ready.length >= 2) {
    const t0 = Date.now();
    const cache = await trackTogether(ready.map((s) => s.run), (overrides?.propagate ?? {}) as PropagateParams, signal, onEvent);
    const share = (Date.now() - t0) / 1000 / ready.length;
    for (const s of ready) {
      s.run.host.services.sam2Tracks = cache;
      s.seconds += share;
    }
  }
  return out;
}

/**
 * One frame-outer SAM 2 run over the objects of several items of one video (their pivot boxes, as
 * their propagate stages will read them; see {@link trackedVideo}): every frame is encoded once for
 * all of them. Objects with equal prompts are tracked once. Any failure but a cancellation leaves the
 * cache without those tracks, so each propagate stage runs SAM 2 itself and reports the error as it
 * would have.
 */
async function trackTogether(runs: readonly PipelineRun[], params: PropagateParams, signal: AbortSignal, onEvent: (e: StageEvent) => void): Promise<Sam2TrackCache> {
  const cache = new Sam2TrackCache();
  if ((params.strategy ?? 'pivots') !== 'pivots') {
    return cache;
  }
  // the objects to track, per video spec (normally one), each once
  const specs = new Map<string, { video: TrackedVideo; objects: Map<string, TrackedObject>; runs: Set<PipelineRun>; models: ModelService }>();
  for (const run of runs) {
    const video = run.session.latest('video')?.data as VideoData | undefined;
    const boxes = run.session.latest('pivot-box')?.data as PivotBoxData | undefined;
    const models = run.host.services.models;
    if (!video || !boxes || !models || !(video.info.frameCount > 0)) {
      continue;
    }
    const spec = trackedVideo(video, params.model ?? models.modelFor('sam2-video'), params);
    const specKey = hashJson(spec);
    const entry = specs.get(specKey) ?? { video: spec, objects: new Map(), runs: new Set(), models };
    specs.set(specKey, entry);
    for (const obj of boxes.objects) {
      const { prompts, start } = promptsFromPivots(obj.pivots, spec.frameCount, spec.width, spec.height);
      if (start !== null) {
        entry.objects.set(trackKey(spec, { prompts, start }), { prompts, start });
        entry.runs.add(run);
      }
    }
  }
  for (const { video, objects, runs: users, models } of specs.values()) {
    if (users.size < 2) {
      continue;
    }
    const keys = [...objects.keys()];
    try {
      const tracker = await Sam2VideoTracker.open(models, video.modelId);
      try {
        cache.addNotes(models.takeNotes());
        const run = trackToStore(tracker, video, [...objects.values()], (i) => framePath(video.framesDir, i), signal);
        let step = await run.next();
        let n = 0;
        while (!step.done) {
          onEvent({ type: 'progress', done: ++n, total: video.frameCount * keys.length, label: `SAM 2 for ${users.size} expressions of this video: frame ${step.value.frameIndex}` });
          step = await run.next();
        }
        step.value.forEach((track, k) => cache.set(keys[k], track));
      } finally {
        tracker.dispose();
      }
    } catch (err) {
      if (isCancellation(err)) {
        throw err;
      }
    }
  }
  return cache;
}

/** Copies a file through a temporary sibling renamed over the target, so the target is never half-written. */
async function copyFileAtomic(from: string, to: string): Promise<void> {
  await mkdir(path.dirname(to), { recursive: true });
  const tmp = path.join(path.dirname(to), `.${path.basename(to)}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`);
  try {
    await copyFile(from, tmp);
    await rename(tmp, to);
  } catch (err) {
    await rm(tmp, { force: true }).catch(() => undefined);
    throw err;
  }
}

/** The Ref-DAVIS17 unit of an item: its annotator set and video (`anno_<set>/<video>`). */
function davisUnitKey(item: DatasetItem): string {
  return `anno_${item.annotatorSet ?? 0}/${item.video}`;
}

/** Where `alref eval` keeps an item's logits for the Ref-DAVIS17 composition. */
export function davisLogitsPath(outDir: string, item: DatasetItem): string {
  return path.join(outDir, 'logits', `anno_${item.annotatorSet ?? 0}`, itemFileName(item.video), `${itemFileName(item.expressionId ?? '0')}.json`);
}

/**
 * Ref-DAVIS17 (reference code): for every video and annotator set whose expressions all have logits,
 * one label map per frame by argmax of the objects' logits with background -1 (object id = the
 * expression's obj_id, ties to the lower id), written as palette PNGs to
 * `predictions/anno_<set>/<video>/<frame>.png`, the folder scoring reads first. With `changed` (the
 * units with an item done in this run), only those units and the ones whose folder is missing are
 * composed, so a resumed run does not redo every unit. Returns the folders written.
 */
export async function composeDavisPredictions(ds: Dataset, items: DatasetItem[], outDir: string, changed?: ReadonlySet<string>): Promise<string[]> {
  // one item per unit of this run's list (it names the video and set) ...
  const units = new Map<string, DatasetItem>();
  for (const item of items) {
    const key = davisUnitKey(item);
    if (!units.has(key)) {
      units.set(key, item);
    }
  }
  // ... and every expression of the unit, not only this shard's list
  const allOf = new Map<string, DatasetItem[]>();
  for (const item of ds.items) {
    const key = davisUnitKey(item);
    if (units.has(key)) {
      allOf.set(key, [...(allOf.get(key) ?? []), item]);
    }
  }
  const written: string[] = [];
  for (const key of units.keys()) {
    const dir = path.join(outDir, 'predictions', key);
    if (changed && !changed.has(key) && existsSync(dir)) {
      continue;
    }
    const all = allOf.get(key) ?? [];
    if (!all.every((i) => existsSync(davisLogitsPath(outDir, i)))) {
      continue;
    }
    const sorted = [...all].sort((a, b) => (a.objectIds?.[0] ?? 1) - (b.objectIds?.[0] ?? 1));
    const files = await Promise.all(sorted.map((i) => readLogitsFile(davisLogitsPath(outDir, i))));
    const { width, height } = files[0];
    if (files.some((f) => f.width !== width || f.height !== height || f.floor > DAVIS_BACKGROUND_LOGIT)) {
      throw new PipelineError(`The logits of ${key} differ in size or keep too few pixels (floor above ${DAVIS_BACKGROUND_LOGIT}); re-run its items.`, { stage: 'evaluate', kind: 'invalid-input', field: 'dataset.item' });
    }
    const frames = sorted[0].frames;
    const pngs = frames.map((f, t) => {
      const labels = composeByLogits(sorted.map((item, k) => ({ label: item.objectIds?.[0] ?? 1, logits: fromSparse(files[k].frames[t] ?? null, width, height) })), width * height, DAVIS_BACKGROUND_LOGIT);
      return { name: `${f.name}.png`, bytes: encodeIndexedPng(labels, width, height) };
    });
    await writeFolderAtomic(dir, pngs);
    written.push(dir);
  }
  return written;
}

/** A run stops when this many items in a row fail the same way before any succeeds. */
const STOP_AFTER_SAME_FAILURES = 5;

/** Errors of the setup rather than of an item: a missing model, a missing API key. */
function isSetupError(err: PipelineError): boolean {
  return err.kind === 'missing-model' || err.field === 'apiKey';
}

/** Reads the item status files of an output folder. */
export async function readItemStatuses(outDir: string): Promise<ItemStatus[]> {
  const dir = path.join(outDir, 'items');
  if (!existsSync(dir)) {
    return [];
  }
  const out: ItemStatus[] = [];
  for (const n of (await readdir(dir)).filter((f) => f.endsWith('.json')).sort()) {
    try {
      out.push(JSON.parse(await readFile(path.join(dir, n), 'utf8')) as ItemStatus);
    } catch {
      // a file being written by another process; the next merge reads it
    }
  }
  return out;
}
