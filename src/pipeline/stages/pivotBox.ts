import { readFile } from 'node:fs/promises';
import type { Box, BoxPivot, Candidate, ClipPlan, GridImage, PivotBoxData, PivotFrameData, PromptRecord, ReferenceData, VideoData } from '../domain';
import { framePath } from '../domain';
import { type BoxLayout, boxColour, composePivotImage, paintBoxes } from '../draw/boxes';
import { PipelineError, throwIfAborted } from '../errors';
import type { StageEvent, UsageSummary } from '../events';
import { pivotBoxDescriptor } from '../llm/imageKeys';
import { type ParseResult, parseFirstBracketedInteger, parseLastBracketedInteger } from '../llm/parsers';
import { asClipTrace } from '../llm/streaming';
import { type PromptTemplate, type RenderedPrompt, loadTemplate, renderTemplate } from '../llm/templates';
import { hashJson } from '../run/hash';
import type { LlmSettings } from '../settings';
import type { StageContext, StageOutcome, StageRequest, StageResult } from '../types';
import { MIME } from '../../common/mime';
import type { BoxesPayload } from '../../common/payloads';
import { detectCandidates } from '../models/candidates';
import { detectionThresholds, fallbackThresholds } from '../models/detectionDefaults';
import { type ClipCall, type ClipCallResult, ClipUsage, runClipCalls } from './clipCalls';
import { TraceLog, pivotBoxView, previousOf } from './pivotView';
import { type BoxOverride, boxOverridePivot, checkBoxOverrideClips, overrideFor, overridesKey, parseBoxOverrides } from './pivotOverrides';
import type { PivotBoxParams as PivotBoxCellParams } from './schemas/params.generated';
import { cellLlmSettings, frameIdList, requireLlm, requireUpstream, resolveReference, templateParam } from './shared';

/** Parameters of a `pivot-box` request: the cell's fields (schemas/pivot-box.schema.json) and `answer`. */
export type PivotBoxParams = PivotBoxCellParams & {
  /**
   * Which bracket of the reply holds the answer: `last` (RVOS default: the prompts ask for reasoning,
   * then the answer) or `first` (AVS default: the AVS prompt asks for the answer only). Not a cell
   * field: set by code that builds the request.
   */
  answer?: 'first' | 'last';
};

const STAGE = 'pivot-box';

/**
 * A typed candidate. The cell's `clip` is numbered from 1, as users see clips ("clip 1 of 12");
 * `clipIndex` is the 0-based index of that clip (`ClipPlan.clipIndex`), absent for a box offered in
 * every clip.
 */
export type TypedCandidate = Candidate & { clipIndex?: number };

/** Parses and checks typed candidates against the frame size. Pure. */
export function parseTypedCandidates(raw: unknown, width: number, height: number): TypedCandidate[] {
  if (!Array.isArray(raw)) {
    throw new PipelineError('candidates must be a list of [x0, y0, x1, y1] boxes in pixels.', { stage: STAGE, kind: 'invalid-input', field: 'candidates' });
  }
  return raw.map((item, i) => {
    const field = `candidates[${i}]`;
    const obj = Array.isArray(item) ? { box: item } : (item as { box?: unknown; phrase?: unknown; clip?: unknown });
    const b = obj?.box;
    if (!Array.isArray(b) || b.length !== 4 || !b.every((v) => typeof v === 'number' && Number.isFinite(v))) {
      throw new PipelineError(`${field} must be [x0, y0, x1, y1] (four numbers, pixels).`, { stage: STAGE, kind: 'invalid-input', field });
    }
    const [x0, y0, x1, y1] = b as number[];
    if (!(x1 > x0 && y1 > y0)) {
      throw new PipelineError(`${field} = [${b.join(', ')}] is empty: x1 must be > x0 and y1 > y0.`, { stage: STAGE, kind: 'invalid-input', field });
    }
    if (x0 >= width || y0 >= height || x1 <= 0 || y1 <= 0) {
      throw new PipelineError(`${field} = [${b.join(', ')}] lies outside the ${width}x${height} frame.`, { stage: STAGE, kind: 'invalid-input', field });
    }
    const box: Box = { x0: Math.max(0, x0), y0: Math.max(0, y0), x1: Math.min(width, x1), y1: Math.min(height, y1) };
    const phrase = typeof obj.phrase === 'string' ? obj.phrase : undefined;
    const clip = typeof obj.clip === 'number' ? obj.clip : undefined;
    if (clip !== undefined && !(Number.isInteger(clip) && clip >= 1)) {
      throw new PipelineError(`${field}.clip = ${clip}: clips are numbered from 1 (clip 1 is the first clip, as in the captions).`, { stage: STAGE, kind: 'invalid-input', field: `${field}.clip` });
    }
    return { box, score: 1, source: 'typed' as const, ...(phrase ? { phrase } : {}), ...(clip !== undefined ? { clipIndex: clip - 1 } : {}) };
  });
}

/**
 * The RVOS box list: one line per box with its number, colour and label. Detector scores are listed
 * only with `showScores` (the reference code's prompt shows the boxes, not their scores).
 */
export function rvosBoxList(candidates: Candidate[], options: { showScores?: boolean } = {}): string {
  return candidates
    .map((c, i) => {
      const label = c.phrase ? `, detector label "${c.phrase}"` : '';
      const score = options.showScores && c.source === 'grounding-dino' ? `, score ${c.score.toFixed(2)}` : '';
      return `- box ${i + 1}: ${boxColour(i + 1).name}${label}${score}`;
    })
    .join('\n');
}

/** The AVS box list: number, colour, normalised centre and size. */
export function avsBoxList(candidates: Candidate[], width: number, height: number): string {
  const f = (v: number): string => v.toFixed(3);
  return candidates
    .map((c, i) => {
      const cx = (c.box.x0 + c.box.x1) / 2 / width;
      const cy = (c.box.y0 + c.box.y1) / 2 / height;
      const w = (c.box.x1 - c.box.x0) / width;
      const h = (c.box.y1 - c.box.y0) / height;
      return `- box ${i + 1} (${boxColour(i + 1).name}): centre (${f(cx)}, ${f(cy)}), size (${f(w)} x ${f(h)})`;
    })
    .join('\n');
}

/** Validates a box answer k (1-based) against n candidates. -1 means "none matches". */
export function validateBoxAnswer(k: number, n: number): { chosen: number } | { none: true } | { invalid: string } {
  if (k === -1) {
    return { none: true };
  }
  if (!Number.isInteger(k) || k < 1 || k > n) {
    return { invalid: `box ${k} is not one of the ${n} candidates (1-${n}, or -1 for none)` };
  }
  return { chosen: k - 1 };
}

/**
 * The boxes renderer's payload. `at`: where the frame sits in the image (the image sent puts it at
 * the top, centred); `sent` marks the image sent with the prompt (shown collapsed).
 */
function boxesPayload(candidates: Candidate[], layouts: BoxLayout[], width: number, height: number, frameIndex: number, chosen: number | null, caption: string, at = { left: 0, sent: false }): BoxesPayload {
  const shift = (b: Box): Box => ({ x0: b.x0 + at.left, y0: b.y0, x1: b.x1 + at.left, y1: b.y1 });
  return {
    version: 1,
    width,
    height,
    frameIndex,
    chosen,
    caption,
    ...(at.sent ? { view: 'sent' as const } : {}),
    boxes: candidates.map((c, i) => ({
      number: i + 1,
      colour: layouts[i]?.colour ?? boxColour(i + 1).hex,
      colourName: layouts[i]?.colourName ?? boxColour(i + 1).name,
      box: shift(c.box),
      score: c.score,
      source: c.source,
      ...(c.phrase ? { phrase: c.phrase } : {}),
    })),
  };
}

interface PivotJob {
  clip: ClipPlan;
  frameIndex: number;
  grid?: GridImage;
}

/** What the whole cell shares: upstream results, thresholds, templates and the candidate source. */
interface BoxCell {
  request: StageRequest;
  ctx: StageContext;
  video: VideoData;
  pivotResult: StageResult<PivotFrameData>;
  refResult: StageResult<ReferenceData>;
  videoCellId: string;
  avs: boolean;
  strategy: 'llm' | 'top-score';
  typed?: TypedCandidate[];
  maxBoxes: number;
  boxThreshold: number;
  textThreshold: number;
  settings: LlmSettings;
  model: string;
  answer: 'first' | 'last';
  showScores: boolean;
  template?: PromptTemplate;
  reaskTemplate?: PromptTemplate;
  /** Hand-chosen boxes of the cell (`overrides:`). */
  overrides: BoxOverride[];
}

/**
 * The `pivot-box` stage: on every valid pivot frame, chooses the box of the referent among candidate
 * boxes (typed in the cell in pixel xyxy, or from the GroundingDINO detector). The boxes are painted
 * in the reference colours with numbered badges, shown with the clip's frames for context, and the
 * chain-of-thought prompt asks the LLM for `[k]` or `[-1]`; the answer is validated and the frame is
 * shown with the chosen box emphasised. AVS videos use the AVS prompt and skip the LLM with fewer than
 * two candidates. `strategy: top-score` takes the best detector box (ablation). When an object has no
 * valid pivot at all, the top box on frame 0 (detector with very low thresholds, or the first typed
 * box) is the fallback.
 *
 * @example
 * // stage: pivot-box
 * // candidates: [[120, 80, 420, 300], [400, 90, 700, 320]]
 */
export async function* runPivotBox(request: StageRequest<PivotBoxParams>, ctx: StageContext): AsyncGenerator<StageEvent, StageOutcome<PivotBoxData>, void> {
  const params = request.params ?? {};
  const cell = await boxCell(request, ctx);
  const objects: PivotBoxData['objects'] = [];
  const usage = new ClipUsage();
  const traces = new TraceLog();
  for (const po of cell.pivotResult.data.objects) {
    throwIfAborted(ctx.signal, STAGE);
    const target = cell.refResult.data.targets.find((t) => t.objectId === po.objectId);
    const text = target?.text ?? po.text;
    const category = target?.category ?? text;
    const jobs = pivotJobs(po, cell.video);
    checkBoxOverrideClips(cell.overrides, po.objectId, jobs.map((j) => j.clip.clipIndex), cell.pivotResult.data.objects.length === 1);
    const pivots = jobs.length > 0 ? yield* traces.watch(runClipCalls(po.objectId, await boxCalls(cell, jobs, po.objectId, text, category), params.concurrency ?? cell.settings.concurrency, usage)) : [];
    if (!pivots.some((p) => p.valid)) {
      yield* noValidPivot(cell, po.objectId, text, jobs.length > 0, pivots);
    }
    objects.push({ objectId: po.objectId, text, pivots });
  }
  yield boxTable(objects);
  yield* usage.table();
  const promptRecord: PromptRecord | undefined = cell.template ? { name: cell.template.name, source: cell.template.source, templateHash: cell.template.hash } : undefined;
  const data: PivotBoxData = { objects, ...(promptRecord ? { prompt: promptRecord, usage: usage.totals } : {}) };
  yield pivotBoxView(data, cell.video, { cellId: request.cellId, runDir: ctx.runDir, traces, previous: previousOf(ctx, request.cellId, STAGE), compact: params.view !== 'full' });
  return { data, inputHash: boxInputHash(cell, params), upstream: [cell.videoCellId, cell.pivotResult.cellId, cell.refResult.cellId] };
}

/** Reads the upstream results and the cell's settings, and loads the templates. */
async function boxCell(request: StageRequest<PivotBoxParams>, ctx: StageContext): Promise<BoxCell> {
  const params = request.params ?? {};
  const videoResult = requireUpstream<VideoData>(request, ctx, 'video');
  const pivotResult = requireUpstream<PivotFrameData>(request, ctx, 'pivot-frame');
  const refResult = resolveReference(request, ctx);
  const video = videoResult.data;
  const avs = video.mode === 'avs';
  const strategy = params.strategy ?? 'llm';
  const typed = params.candidates !== undefined ? parseTypedCandidates(params.candidates, video.info.width, video.info.height) : undefined;
  const preset = detectionThresholds(avs ? 'avs' : 'rvos', params.thresholds ?? 'paper');
  const settings = cellLlmSettings(ctx, params);
  let template: PromptTemplate | undefined;
  let reaskTemplate: PromptTemplate | undefined;
  if (strategy === 'llm') {
    const name = templateParam(params.template, avs ? 'pivot-box.avs' : 'pivot-box.cot', STAGE, ctx.promptOverrides);
    template = await loadTemplate(name, { resourcesDir: ctx.resourcesDir, overrides: ctx.promptOverrides, stage: STAGE });
    reaskTemplate = await loadTemplate('reask.integer', { resourcesDir: ctx.resourcesDir, overrides: ctx.promptOverrides, stage: STAGE });
  }
  return {
    request, ctx, video, pivotResult, refResult, avs, strategy, typed, template, reaskTemplate, settings,
    overrides: parseBoxOverrides(params.overrides, video, pivotResult.data.objects.map((o) => o.objectId)),
    videoCellId: videoResult.cellId,
    maxBoxes: params.maxBoxes ?? 3,
    boxThreshold: params.boxThreshold ?? preset.boxThreshold,
    textThreshold: params.textThreshold ?? preset.textThreshold,
    model: params.model ?? settings.models.pivotBox,
    answer: params.answer ?? (avs ? 'first' : 'last'),
    showScores: params.showScores === true,
  };
}
/** The valid pivot frames of one object, with their clips and grids. */
function pivotJobs(po: PivotFrameData['objects'][number], video: VideoData): PivotJob[] {
  return po.clips
    .filter((c) => c.valid && c.frameIndex !== null)
    .map((c) => ({
      clip: video.clips.find((k) => k.clipIndex === c.clipIndex) ?? { clipIndex: c.clipIndex, frameIndices: [c.frameIndex as number] },
      frameIndex: c.frameIndex as number,
      grid: video.grids.find((g) => g.clipIndex === c.clipIndex),
    }));
}

/** GroundingDINO candidates on one frame (the detector model of the cell, else the configured one). */
function detect(cell: BoxCell, frameIndex: number, caption: string, opts: { boxThreshold: number; textThreshold: number; topK: number }): Promise<Candidate[]> {
  const detector = (cell.request.params as PivotBoxParams).detector;
  return detectCandidates(cell.ctx, { imagePath: framePath(cell.video.framesDir, frameIndex), caption, ...opts, ...(detector ? { modelId: detector } : {}) });
}

/** The candidates of one pivot frame: the typed boxes for its clip, else the detector's best `maxBoxes`. */
async function candidatesFor(cell: BoxCell, clipIndex: number, frameIndex: number, caption: string): Promise<Candidate[]> {
  const { typed, maxBoxes } = cell;
  if (typed) {
    return typed.filter((c) => c.clipIndex === undefined || c.clipIndex === clipIndex).map(({ clipIndex: _clip, ...c }) => c).slice(0, Math.max(maxBoxes, typed.length));
  }
  const found = await detect(cell, frameIndex, caption, { boxThreshold: cell.boxThreshold, textThreshold: cell.textThreshold, topK: maxBoxes });
  return [...found].sort((a, b) => b.score - a.score).slice(0, maxBoxes);
}

/**
 * The clip calls of one object: candidates and prompts first, in clip order (the detector runs one
 * frame at a time), so the prompts shown and the order of the streamed traces do not depend on timing.
 */
async function boxCalls(cell: BoxCell, jobs: PivotJob[], objectId: number, text: string, category: string): Promise<Array<ClipCall<BoxPivot>>> {
  const calls: Array<ClipCall<BoxPivot>> = [];
  for (const job of jobs) {
    throwIfAborted(cell.ctx.signal, STAGE);
    const input: BoxTaskInput = { ...cell, job, candidates: await candidatesFor(cell, job.clip.clipIndex, job.frameIndex, text), objectId, text, category };
    const override = overrideFor(cell.overrides, objectId, job.clip.clipIndex);
    if (override) {
      calls.push(overriddenBoxCall(input, override));
      continue;
    }
    if (asksLlm(input)) {
      input.prompt = renderBoxPrompt(input);
    }
    calls.push({
      clipIndex: job.clip.clipIndex,
      prompt: input.prompt,
      title: boxTitle(input),
      run: () => boxTask(input),
    });
  }
  return calls;
}

/**
 * An object without a valid pivot box. AVS (docs/PIPELINE.md "Corrections: rules of the reference code that are easy to miss"): no frame-0
 * fallback; no candidate means no prompt and empty masks. RVOS (docs/PIPELINE.md "Clips (RVOS)"): the top box on frame 0,
 * no LLM, added to `pivots`.
 */
async function* noValidPivot(cell: BoxCell, objectId: number, text: string, hadJobs: boolean, pivots: BoxPivot[]): AsyncGenerator<StageEvent, void, void> {
  const { video, typed } = cell;
  if (cell.avs) {
    const why = hadJobs ? 'no candidate box on its pivot frame' : 'no valid pivot frame';
    yield { type: 'warning', message: `Object ${objectId}: ${why}; AVS has no frame-0 fallback, so this object gets no prompt and empty masks.` };
    return;
  }
  const why = hadJobs ? 'no clip gave a valid box' : 'no clip has a valid pivot frame';
  const frameIndex = 0;
  const candidates = typed
    ? typed.map(({ clipIndex: _clip, ...c }) => c)
    : await detect(cell, frameIndex, text, fallbackThresholds(video.preset ?? null, (cell.request.params as PivotBoxParams).thresholds ?? 'paper'));
  const top = candidates.length > 0 ? [...candidates].sort((a, b) => b.score - a.score)[0] : undefined;
  if (!top) {
    yield { type: 'warning', message: `Object ${objectId}: ${why}, and the fallback on frame 0 found no box either; this object gets no mask.` };
    return;
  }
  const note = `fallback (${why}): top ${top.source === 'typed' ? 'typed' : 'detector'} box on frame 0`;
  yield { type: 'warning', message: `Object ${objectId}: ${note}.` };
  pivots.push({ clipIndex: video.clips[0]?.clipIndex ?? 0, frameIndex, candidates: [top], chosen: 0, valid: true, note, fallback: true });
  yield* showChoice(await readFile(framePath(video.framesDir, frameIndex)), [top], 0, frameIndex, `Object ${objectId}: ${note}`, `${cell.request.cellId}:pivot-box:o${objectId}:fallback`);
}

/** The table of chosen boxes. */
function boxTable(objects: PivotBoxData['objects']): StageEvent {
  return {
    type: 'table',
    title: 'Pivot boxes',
    columns: ['object', 'clip', 'frame', 'candidates', 'chosen', 'box (x0, y0, x1, y1)', 'valid', 'note'],
    rows: objects.flatMap((o) =>
      o.pivots.map((p) => {
        const b = p.chosen !== null ? p.candidates[p.chosen]?.box : undefined;
        return [o.objectId, p.clipIndex + 1, p.frameIndex, p.candidates.length, p.chosen === null ? null : p.chosen + 1, b ? `${Math.round(b.x0)}, ${Math.round(b.y0)}, ${Math.round(b.x1)}, ${Math.round(b.y1)}` : '', p.valid ? 'yes' : 'NO', p.note ?? ''];
      }),
    ),
  };
}

/** Hash of the cell's own inputs. */
function boxInputHash(cell: BoxCell, params: PivotBoxParams): string {
  const { strategy, typed, avs, video, settings } = cell;
  const llm = strategy === 'llm';
  return hashJson({
    stage: STAGE,
    strategy,
    typed: typed?.map((c) => c.box),
    detector: typed ? undefined : { id: params.detector, boxThreshold: cell.boxThreshold, textThreshold: cell.textThreshold, maxBoxes: cell.maxBoxes },
    model: llm ? cell.model : undefined,
    template: cell.template?.hash,
    reask: cell.reaskTemplate?.hash,
    showScores: cell.showScores ? true : undefined,
    answer: llm ? cell.answer : undefined,
    fallback: avs || typed ? undefined : fallbackThresholds(video.preset ?? null, params.thresholds ?? 'paper'),
    temperature: llm ? settings.temperature : undefined,
    maxTokens: llm ? settings.maxTokens : undefined,
    imageDetail: llm ? settings.imageDetail : undefined,
    overrides: overridesKey(cell.overrides),
  });
}

/** Shows the pivot frame with the chosen box emphasised and the others faded (boxes renderer + JPEG fallback). */
async function* showChoice(frame: Uint8Array, candidates: Candidate[], chosen: number | null, frameIndex: number, caption: string, id: string): AsyncGenerator<StageEvent, void, void> {
  const painted = await paintBoxes(frame, candidates.map((c) => c.box), { chosen });
  yield {
    type: 'image',
    id,
    mime: 'image/jpeg',
    data: painted.bytes,
    caption,
    renderer: { mime: MIME.boxes, payload: boxesPayload(candidates, painted.layouts, painted.width, painted.height, frameIndex, chosen, caption) },
  };
}

/** One clip's work: the cell's shared inputs plus the pivot frame, its candidates and the object. */
interface BoxTaskInput extends BoxCell {
  job: PivotJob;
  candidates: Candidate[];
  objectId: number;
  text: string;
  category: string;
  /** The rendered prompt, for tasks that ask the LLM. */
  prompt?: RenderedPrompt;
}

function asksLlm(input: BoxTaskInput): boolean {
  return input.strategy === 'llm' && input.candidates.length > 0 && !(input.avs && input.candidates.length < 2);
}

function boxStreamId(input: BoxTaskInput): string {
  return `${input.request.cellId}:pivot-box:o${input.objectId}:c${input.job.clip.clipIndex}`;
}

function boxTitle(input: BoxTaskInput): string {
  return `Object ${input.objectId} · clip ${input.job.clip.clipIndex + 1} · frame ${input.job.frameIndex}`;
}

function renderBoxPrompt(input: BoxTaskInput): RenderedPrompt {
  const { grid, frameIndex } = input.job;
  const { candidates, video } = input;
  const pivotFrameId = grid?.tiles.find((t) => t.frameIndex === frameIndex)?.frameId ?? 1;
  return renderTemplate(
    input.template!,
    {
      expression: input.text,
      category: input.category,
      frameCount: grid?.tiles.length ?? 1,
      frameIds: grid ? frameIdList(grid) : String(pivotFrameId),
      pivotFrameId,
      boxCount: candidates.length,
      boxIds: candidates.map((_, i) => i + 1).join(', '),
      boxList: input.avs ? avsBoxList(candidates, video.info.width, video.info.height) : rvosBoxList(candidates, { showScores: input.showScores }),
    },
    STAGE,
  );
}

async function* boxTask(input: BoxTaskInput): AsyncGenerator<StageEvent, ClipCallResult<BoxPivot>, void> {
  const { job, candidates, objectId, video, request, ctx } = input;
  const { clip, frameIndex, grid } = job;
  const label = `object ${objectId}, clip ${clip.clipIndex + 1}`;
  const streamId = boxStreamId(input);
  const imageId = `${streamId}:image`;
  const title = boxTitle(input);
  const base = { clipIndex: clip.clipIndex, frameIndex, candidates };
  const file = framePath(video.framesDir, frameIndex);
  const frame = new Uint8Array(await readFile(file).catch((err) => {
    throw new PipelineError(`Frame ${frameIndex} (${file}) is missing; re-run the video cell.`, { stage: STAGE, kind: 'invalid-input', file, cause: err });
  }));
  const captionOf = (what: string): string => `Object ${objectId}, clip ${clip.clipIndex + 1}, frame ${frameIndex}: ${what}`;

  if (candidates.length === 0) {
    const note = input.avs ? 'no candidate boxes: no prompt (AVS)' : 'no candidate boxes';
    yield { type: 'warning', message: `${label}: ${note}; this clip is invalid.` };
    return { value: { ...base, chosen: null, valid: false, note }, calls: 0 };
  }
  if (!asksLlm(input)) {
    let best = 0;
    candidates.forEach((c, i) => {
      if (c.score > candidates[best].score) {
        best = i;
      }
    });
    const note = input.strategy === 'top-score' ? 'top detector score (no LLM)' : 'single candidate (no LLM)';
    yield* showChoice(frame, candidates, best, frameIndex, captionOf(`box ${best + 1}, ${note}`), imageId);
    return { value: { ...base, chosen: best, valid: true, note }, calls: 0 };
  }

  const pivotFrameId = grid?.tiles.find((t) => t.frameIndex === frameIndex)?.frameId ?? 1;
  const painted = await paintBoxes(frame, candidates.map((c) => c.box));
  const gridBytes = grid ? new Uint8Array(await readFile(grid.path)) : undefined;
  const composed = await composePivotImage(painted.bytes, pivotFrameId, gridBytes);
  const prompt = input.prompt ?? renderBoxPrompt(input);
  const sentCaption = captionOf(`the image sent with the prompt (${candidates.length} candidates)`);
  yield {
    type: 'image',
    id: `${streamId}:sent`,
    mime: 'image/jpeg',
    data: composed.bytes,
    caption: sentCaption,
    renderer: { mime: MIME.boxes, payload: boxesPayload(candidates, painted.layouts, composed.width, composed.height, frameIndex, null, sentCaption, { left: composed.frameLeft, sent: true }) },
  };
  const reask = renderTemplate(input.reaskTemplate!, { problem: input.answer === 'first' ? 'no box number in square brackets' : 'no single box number in square brackets at the end' }, STAGE).text;
  const parse = (t: string): ParseResult<number> => (input.answer === 'first' ? parseFirstBracketedInteger(t) : parseLastBracketedInteger(t));
  // AVS rule of the reference code (docs/PIPELINE.md "Corrections: rules of the reference code that are easy to miss"): a failed call, an unreadable answer,
  // [-1] or a number out of range all mean box 1, the top-scoring candidate, on the LBRU frame.
  const avsDefault = async function* (why: string, answerText: string | undefined, extra: Partial<BoxPivot>, usage?: UsageSummary, calls = 0, traced = false): AsyncGenerator<StageEvent, ClipCallResult<BoxPivot>, void> {
    const note = `${why}; box 1 by the AVS default`;
    if (!traced) {
      yield { type: 'trace', streamId, title, delta: '', final: { ...(answerText ? { answer: answerText } : {}), valid: true, note, ...(usage ? { usage } : {}) } };
    }
    yield* showChoice(frame, candidates, 0, frameIndex, captionOf(`box 1 (${note})`), imageId);
    return { value: { ...base, ...extra, chosen: 0, valid: true, note }, ...(usage ? { usage } : {}), calls };
  };
  const asked = yield* asClipTrace(
    requireLlm(ctx, STAGE).ask({ model: input.model, messages: [{ role: 'user', text: prompt.text, images: [{ bytes: composed.bytes, describe: pivotBoxDescriptor(video, frameIndex, pivotFrameId, painted.layouts, grid) }] }] }, parse, reask, {
      signal: ctx.signal, settings: input.settings, stage: STAGE, cellId: request.cellId, label,
    }),
    streamId,
    title,
  );
  if ('failed' in asked) {
    if (input.avs) {
      return yield* avsDefault(asked.failed, undefined, { promptHash: prompt.hash }, undefined, 0, true);
    }
    return { value: { ...base, chosen: null, valid: false, note: asked.failed, promptHash: prompt.hash }, calls: 0 };
  }
  const result = asked.result;
  const usage = result.usage;
  const calls = result.replies.length;
  const withHashes = { ...base, promptHash: prompt.hash, exchanges: result.replies.map((r) => r.exchangeHash) };
  if (!result.parsed.ok) {
    if (input.avs) {
      return yield* avsDefault(`no valid answer (${result.parsed.message})`, undefined, withHashes, usage, calls);
    }
    const note = `no valid answer: ${result.parsed.message}`;
    yield { type: 'trace', streamId, title, delta: '', final: { valid: false, note, usage } };
    yield* showChoice(frame, candidates, null, frameIndex, captionOf(`INVALID: ${note}`), imageId);
    return { value: { ...withHashes, chosen: null, valid: false, note }, usage, calls };
  }
  const k = result.parsed.value;
  const checked = validateBoxAnswer(k, candidates.length);
  if (input.avs && !('chosen' in checked)) {
    return yield* avsDefault('none' in checked ? 'the LLM answered [-1]' : `invalid answer [${k}]: ${checked.invalid}`, `[${k}]`, withHashes, usage, calls);
  }
  if ('none' in checked) {
    const note = 'the LLM answered [-1]: no candidate matches';
    yield { type: 'trace', streamId, title, delta: '', final: { answer: '[-1]', valid: false, note, usage } };
    yield* showChoice(frame, candidates, null, frameIndex, captionOf(`INVALID: ${note}`), imageId);
    return { value: { ...withHashes, chosen: null, valid: false, note }, usage, calls };
  }
  if ('invalid' in checked) {
    const note = `invalid answer [${k}]: ${checked.invalid}`;
    yield { type: 'trace', streamId, title, delta: '', final: { answer: `[${k}]`, valid: false, note, usage } };
    yield* showChoice(frame, candidates, null, frameIndex, captionOf(`INVALID: ${note}`), imageId);
    return { value: { ...withHashes, chosen: null, valid: false, note }, usage, calls };
  }
  const note = `box ${k} (${boxColour(k).name})${result.reasked ? ' after a re-ask' : ''}`;
  yield { type: 'trace', streamId, title, delta: '', final: { answer: `[${k}]`, valid: true, note, usage } };
  yield* showChoice(frame, candidates, checked.chosen, frameIndex, captionOf(`chose ${note}`), imageId);
  return { value: { ...withHashes, chosen: checked.chosen, valid: true, note }, usage, calls };
}

/** The call of a clip whose box the cell's `overrides:` chose: no LLM call, the chosen box shown. */
function overriddenBoxCall(input: BoxTaskInput, override: BoxOverride): ClipCall<BoxPivot> {
  const { job, objectId } = input;
  return {
    clipIndex: job.clip.clipIndex,
    title: boxTitle(input),
    run: async function* (): AsyncGenerator<StageEvent, ClipCallResult<BoxPivot>, void> {
      const pivot = boxOverridePivot(override, job.clip.clipIndex, job.frameIndex, input.candidates);
      const file = framePath(input.video.framesDir, job.frameIndex);
      const frame = new Uint8Array(await readFile(file).catch((err) => {
        throw new PipelineError(`Frame ${job.frameIndex} (${file}) is missing; re-run the video cell.`, { stage: STAGE, kind: 'invalid-input', file, cause: err });
      }));
      const caption = `Object ${objectId}, clip ${job.clip.clipIndex + 1}, frame ${job.frameIndex}: box ${(pivot.chosen ?? 0) + 1}, ${pivot.note ?? 'overridden'}`;
      yield* showChoice(frame, pivot.candidates, pivot.chosen, job.frameIndex, caption, `${boxStreamId(input)}:image`);
      return { value: pivot, calls: 0 };
    },
  };
}
