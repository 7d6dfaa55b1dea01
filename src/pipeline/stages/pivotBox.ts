import { readFile } from 'node:fs/promises';
import type { Box, BoxPivot, Candidate, ClipPlan, GridImage, LlmUsageTotals, PivotBoxData, PivotFrameData, PromptRecord, VideoData } from '../domain';
import { framePath } from '../domain';
import { type BoxLayout, boxColour, composePivotImage, paintBoxes } from '../draw/boxes';
import { PipelineError, throwIfAborted } from '../errors';
import type { StageEvent, UsageSummary } from '../events';
import { type ParseResult, parseFirstBracketedInteger, parseLastBracketedInteger } from '../llm/parsers';
import { EMPTY_TOTALS, type UsageRow, addToTotals, asClipTrace, promptMarkdown, runConcurrent, usageTable } from '../llm/streaming';
import { type PromptTemplate, type RenderedPrompt, loadTemplate, renderTemplate } from '../llm/templates';
import { hashJson } from '../run/hash';
import type { LlmSettings } from '../settings';
import type { StageContext, StageOutcome, StageRequest } from '../types';
import { MIME } from '../../common/mime';
import type { BoxesPayload } from '../../common/payloads';
import { detectionThresholds, fallbackThresholds } from '../models/detectionDefaults';
import { requireUpstream } from './index';
import { cellLlmSettings, frameIdList, requireLlm, resolveReference, templateParam } from './pivotFrame';

/** A typed candidate: `[x0, y0, x1, y1]` in pixels, or `{ box, phrase, clip }`. */
export type TypedCandidate = number[] | { box: number[]; phrase?: string; clip?: number };

/** Parameters of a `pivot-box` cell (see schemas/pivot-box.schema.json). */
export type PivotBoxParams = {
  candidates?: TypedCandidate[];
  detector?: string;
  thresholds?: 'paper' | 'reference-code';
  boxThreshold?: number;
  textThreshold?: number;
  maxBoxes?: number;
  strategy?: 'llm' | 'top-score';
  template?: string;
  model?: string;
  imageDetail?: 'low' | 'high' | 'auto';
  concurrency?: number;
  /** RVOS: list each detector box's score in the prompt (default false, as the reference code). */
  showScores?: boolean;
  /**
   * Which bracket of the reply holds the answer: `last` (RVOS default: the prompts ask for reasoning,
   * then the answer) or `first` (AVS default: the AVS prompt asks for the answer only).
   */
  answer?: 'first' | 'last';
};

type DetectFn = typeof import('../models/candidates').detectCandidates;

const STAGE = 'pivot-box';


/** Loads the detector lazily (it pulls in onnxruntime); a clear error asks for typed candidates when it is missing. */
async function loadDetector(): Promise<DetectFn> {
  let mod: { detectCandidates?: DetectFn };
  try {
    mod = await import('../models/candidates');
  } catch (err) {
    throw new PipelineError('The GroundingDINO candidate detector is not available in this build. Type candidate boxes into the cell (`candidates: [[x0, y0, x1, y1], ...]` in pixels).', {
      stage: STAGE, kind: 'not-available', field: 'candidates', cause: err,
    });
  }
  if (typeof mod.detectCandidates !== 'function') {
    throw new PipelineError('The candidate detector module has no detectCandidates function. Type candidate boxes into the cell instead.', {
      stage: STAGE, kind: 'not-available', field: 'candidates',
    });
  }
  return mod.detectCandidates;
}

/** Parses and checks typed candidates against the frame size. Pure. */
export function parseTypedCandidates(raw: unknown, width: number, height: number): Array<Candidate & { clip?: number }> {
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
    return { box, score: 1, source: 'typed' as const, ...(phrase ? { phrase } : {}), ...(clip !== undefined ? { clip } : {}) };
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

function boxesPayload(candidates: Candidate[], layouts: BoxLayout[], width: number, height: number, frameIndex: number, chosen: number | null, caption: string): BoxesPayload {
  return {
    version: 1,
    width,
    height,
    frameIndex,
    chosen,
    caption,
    boxes: candidates.map((c, i) => ({
      number: i + 1,
      colour: layouts[i]?.colour ?? boxColour(i + 1).hex,
      colourName: layouts[i]?.colourName ?? boxColour(i + 1).name,
      box: c.box,
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
  const strategy = params.strategy ?? 'llm';
  if (!['llm', 'top-score'].includes(strategy)) {
    throw new PipelineError(`strategy "${String(strategy)}" is not one of llm, top-score.`, { stage: STAGE, kind: 'invalid-input', field: 'strategy' });
  }
  const videoResult = requireUpstream<VideoData>(request, ctx, 'video');
  const pivotResult = requireUpstream<PivotFrameData>(request, ctx, 'pivot-frame');
  const refResult = resolveReference(request, ctx);
  const video = videoResult.data;
  const { width, height } = video.info;
  const avs = video.mode === 'avs';
  const typed = params.candidates !== undefined ? parseTypedCandidates(params.candidates, width, height) : undefined;
  const maxBoxes = params.maxBoxes ?? 3;
  if (params.thresholds !== undefined && !['paper', 'reference-code'].includes(params.thresholds)) {
    throw new PipelineError(`thresholds "${params.thresholds}" is not one of paper, reference-code.`, { stage: STAGE, kind: 'invalid-input', field: 'thresholds' });
  }
  const preset = detectionThresholds(avs ? 'avs' : 'rvos', params.thresholds ?? 'paper');
  const boxThreshold = params.boxThreshold ?? preset.boxThreshold;
  const textThreshold = params.textThreshold ?? preset.textThreshold;
  const settings = cellLlmSettings(ctx, params);
  const model = params.model ?? settings.models.pivotBox;
  if (params.answer !== undefined && params.answer !== 'first' && params.answer !== 'last') {
    throw new PipelineError(`answer "${String(params.answer)}" is not one of first, last.`, { stage: STAGE, kind: 'invalid-input', field: 'answer' });
  }
  const answer = params.answer ?? (avs ? 'first' : 'last');

  let template: PromptTemplate | undefined;
  let reaskTemplate: PromptTemplate | undefined;
  if (strategy === 'llm') {
    const name = templateParam(params.template, avs ? 'pivot-box.avs' : 'pivot-box.cot', STAGE, (n) => n.startsWith('pivot-box.'));
    template = await loadTemplate(name, { resourcesDir: ctx.resourcesDir, overrides: ctx.promptOverrides, stage: STAGE });
    reaskTemplate = await loadTemplate('reask.integer', { resourcesDir: ctx.resourcesDir, overrides: ctx.promptOverrides, stage: STAGE });
  }
  const promptRecord: PromptRecord | undefined = template ? { name: template.name, source: template.source, templateHash: template.hash } : undefined;
  let detector: DetectFn | undefined;
  const detect = async (imagePath: string, caption: string, opts: { boxThreshold: number; textThreshold: number; topK: number }): Promise<Candidate[]> => {
    detector ??= await loadDetector();
    return detector(ctx, { imagePath, caption, ...opts, ...(params.detector ? { modelId: params.detector } : {}) });
  };

  const candidatesFor = async (clipIndex: number, frameIndex: number, caption: string): Promise<Candidate[]> => {
    if (typed) {
      return typed.filter((c) => c.clip === undefined || c.clip === clipIndex).map(({ clip: _clip, ...c }) => c).slice(0, Math.max(maxBoxes, typed.length));
    }
    const found = await detect(framePath(video.framesDir, frameIndex), caption, { boxThreshold, textThreshold, topK: maxBoxes });
    return [...found].sort((a, b) => b.score - a.score).slice(0, maxBoxes);
  };

  const objects: PivotBoxData['objects'] = [];
  let totals: LlmUsageTotals = { ...EMPTY_TOTALS };
  const usageRows: UsageRow[] = [];
  const shownPrompts = new Set<string>();

  for (const po of pivotResult.data.objects) {
    throwIfAborted(ctx.signal, STAGE);
    const target = refResult.data.targets.find((t) => t.objectId === po.objectId);
    const text = target?.text ?? po.text;
    const category = target?.category ?? text;
    const jobs: PivotJob[] = po.clips
      .filter((c) => c.valid && c.frameIndex !== null)
      .map((c) => ({
        clip: video.clips.find((k) => k.clipIndex === c.clipIndex) ?? { clipIndex: c.clipIndex, frameIndices: [c.frameIndex as number] },
        frameIndex: c.frameIndex as number,
        grid: video.grids.find((g) => g.clipIndex === c.clipIndex),
      }));

    let pivots: BoxPivot[] = [];
    if (jobs.length > 0) {
      // Candidates and prompts first, in clip order (the detector runs one frame at a time), so the
      // prompts shown and the order of the streamed traces do not depend on timing.
      const inputs: BoxTaskInput[] = [];
      for (const job of jobs) {
        throwIfAborted(ctx.signal, STAGE);
        const candidates = await candidatesFor(job.clip.clipIndex, job.frameIndex, text);
        const input: BoxTaskInput = { job, candidates, objectId: po.objectId, text, category, avs, strategy, template, reaskTemplate, model, settings, ctx, request, video, showScores: params.showScores === true, answer };
        if (asksLlm(input)) {
          input.prompt = renderBoxPrompt(input);
          if (!shownPrompts.has(input.prompt.hash)) {
            shownPrompts.add(input.prompt.hash);
            yield { type: 'markdown', text: promptMarkdown(input.prompt, `object ${po.objectId}, clip ${job.clip.clipIndex + 1}`) };
          }
        }
        inputs.push(input);
      }
      for (const input of inputs.filter((i) => i.prompt)) {
        yield { type: 'trace', streamId: boxStreamId(input), title: boxTitle(input), delta: '' };
      }
      const results = yield* runConcurrent(
        inputs.map((input) => () => boxTask(input)),
        Math.max(1, params.concurrency ?? settings.concurrency),
      );
      for (const r of results) {
        if (r.usage) {
          totals = addToTotals(totals, r.usage, r.calls);
          usageRows.push({ label: `object ${po.objectId}, clip ${r.pivot.clipIndex + 1}`, usage: r.usage, calls: r.calls });
        }
      }
      pivots = results.map((r) => r.pivot);
    }

    if (avs && !pivots.some((p) => p.valid)) {
      // PIPELINE.md Corrections: AVS has no frame-0 fallback; no candidate means no prompt and empty masks.
      const why = jobs.length === 0 ? 'no valid pivot frame' : 'no candidate box on its pivot frame';
      yield { type: 'warning', message: `Object ${po.objectId}: ${why}; AVS has no frame-0 fallback, so this object gets no prompt and empty masks.` };
    } else if (!pivots.some((p) => p.valid)) {
      // PIPELINE.md fallback (RVOS only): no valid pivot in any clip -> top box on frame 0, no LLM.
      const why = jobs.length === 0 ? 'no clip has a valid pivot frame' : 'no clip gave a valid box';
      const frameIndex = 0;
      const candidates = typed
        ? typed.map(({ clip: _clip, ...c }) => c)
        : await detect(framePath(video.framesDir, frameIndex), text, fallbackThresholds(video.preset ?? null, params.thresholds ?? 'paper'));
      const top = candidates.length > 0 ? [...candidates].sort((a, b) => b.score - a.score)[0] : undefined;
      if (top) {
        const note = `fallback (${why}): top ${top.source === 'typed' ? 'typed' : 'detector'} box on frame 0`;
        yield { type: 'warning', message: `Object ${po.objectId}: ${note}.` };
        pivots.push({ clipIndex: video.clips[0]?.clipIndex ?? 0, frameIndex, candidates: [top], chosen: 0, valid: true, note, fallback: true });
        yield* showChoice(await readFile(framePath(video.framesDir, frameIndex)), [top], 0, frameIndex, `Object ${po.objectId}: ${note}`, `${request.cellId}:pivot-box:o${po.objectId}:fallback`);
      } else {
        yield { type: 'warning', message: `Object ${po.objectId}: ${why}, and the fallback on frame 0 found no box either; this object gets no mask.` };
      }
    }
    objects.push({ objectId: po.objectId, text, pivots });
  }

  yield {
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
  if (totals.calls > 0) {
    yield usageTable(usageRows, totals);
  }
  const data: PivotBoxData = { objects, ...(promptRecord ? { prompt: promptRecord, usage: totals } : {}) };
  const inputHash = hashJson({
    stage: STAGE,
    strategy,
    typed: typed?.map((c) => c.box),
    detector: typed ? undefined : { id: params.detector, boxThreshold, textThreshold, maxBoxes },
    model: strategy === 'llm' ? model : undefined,
    template: promptRecord?.templateHash,
    reask: reaskTemplate?.hash,
    showScores: params.showScores === true ? true : undefined,
    answer: strategy === 'llm' ? answer : undefined,
    fallback: avs || typed ? undefined : fallbackThresholds(video.preset ?? null, params.thresholds ?? 'paper'),
    temperature: strategy === 'llm' ? settings.temperature : undefined,
    maxTokens: strategy === 'llm' ? settings.maxTokens : undefined,
    imageDetail: strategy === 'llm' ? settings.imageDetail : undefined,
  });
  return { data, inputHash, upstream: [videoResult.cellId, pivotResult.cellId, refResult.cellId] };
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

interface BoxTaskInput {
  job: PivotJob;
  candidates: Candidate[];
  objectId: number;
  text: string;
  category: string;
  avs: boolean;
  strategy: 'llm' | 'top-score';
  template?: PromptTemplate;
  reaskTemplate?: PromptTemplate;
  model: string;
  settings: LlmSettings;
  ctx: StageContext;
  request: StageRequest;
  video: VideoData;
  /** The rendered prompt, for tasks that ask the LLM. */
  prompt?: RenderedPrompt;
  showScores: boolean;
  /** Which bracket of the reply holds the answer. */
  answer: 'first' | 'last';
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

async function* boxTask(input: BoxTaskInput): AsyncGenerator<StageEvent, { pivot: BoxPivot; usage?: UsageSummary; calls: number }, void> {
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
    return { pivot: { ...base, chosen: null, valid: false, note }, calls: 0 };
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
    return { pivot: { ...base, chosen: best, valid: true, note }, calls: 0 };
  }

  const pivotFrameId = grid?.tiles.find((t) => t.frameIndex === frameIndex)?.frameId ?? 1;
  const painted = await paintBoxes(frame, candidates.map((c) => c.box));
  const gridBytes = grid ? new Uint8Array(await readFile(grid.path)) : undefined;
  const composed = await composePivotImage(painted.bytes, pivotFrameId, gridBytes);
  const prompt = input.prompt ?? renderBoxPrompt(input);
  yield {
    type: 'image',
    id: `${streamId}:sent`,
    mime: 'image/jpeg',
    data: composed.bytes,
    caption: captionOf(`the image sent with the prompt (${candidates.length} candidates)`),
  };
  const reask = renderTemplate(input.reaskTemplate!, { problem: input.answer === 'first' ? 'no box number in square brackets' : 'no single box number in square brackets at the end' }, STAGE).text;
  const parse = (t: string): ParseResult<number> => (input.answer === 'first' ? parseFirstBracketedInteger(t) : parseLastBracketedInteger(t));
  // AVS rule of the reference code (PIPELINE.md Corrections): a failed call, an unreadable answer,
  // [-1] or a number out of range all mean box 1, the top-scoring candidate, on the LBRU frame.
  const avsDefault = async function* (why: string, answerText: string | undefined, extra: Partial<BoxPivot>, usage?: UsageSummary, calls = 0, traced = false): AsyncGenerator<StageEvent, { pivot: BoxPivot; usage?: UsageSummary; calls: number }, void> {
    const note = `${why}; box 1 by the AVS default`;
    if (!traced) {
      yield { type: 'trace', streamId, title, delta: '', final: { ...(answerText ? { answer: answerText } : {}), valid: true, note, ...(usage ? { usage } : {}) } };
    }
    yield* showChoice(frame, candidates, 0, frameIndex, captionOf(`box 1 (${note})`), imageId);
    return { pivot: { ...base, ...extra, chosen: 0, valid: true, note }, ...(usage ? { usage } : {}), calls };
  };
  const asked = yield* asClipTrace(
    requireLlm(ctx, STAGE).ask({ model: input.model, messages: [{ role: 'user', text: prompt.text, images: [composed.bytes] }] }, parse, reask, {
      signal: ctx.signal, settings: input.settings, stage: STAGE, cellId: request.cellId, label,
    }),
    streamId,
    title,
  );
  if ('failed' in asked) {
    if (input.avs) {
      return yield* avsDefault(asked.failed, undefined, { promptHash: prompt.hash }, undefined, 0, true);
    }
    return { pivot: { ...base, chosen: null, valid: false, note: asked.failed, promptHash: prompt.hash }, calls: 0 };
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
    return { pivot: { ...withHashes, chosen: null, valid: false, note }, usage, calls };
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
    return { pivot: { ...withHashes, chosen: null, valid: false, note }, usage, calls };
  }
  if ('invalid' in checked) {
    const note = `invalid answer [${k}]: ${checked.invalid}`;
    yield { type: 'trace', streamId, title, delta: '', final: { answer: `[${k}]`, valid: false, note, usage } };
    yield* showChoice(frame, candidates, null, frameIndex, captionOf(`INVALID: ${note}`), imageId);
    return { pivot: { ...withHashes, chosen: null, valid: false, note }, usage, calls };
  }
  const note = `box ${k} (${boxColour(k).name})${result.reasked ? ' after a re-ask' : ''}`;
  yield { type: 'trace', streamId, title, delta: '', final: { answer: `[${k}]`, valid: true, note, usage } };
  yield* showChoice(frame, candidates, checked.chosen, frameIndex, captionOf(`chose ${note}`), imageId);
  return { pivot: { ...withHashes, chosen: checked.chosen, valid: true, note }, usage, calls };
}
