import { readFile } from 'node:fs/promises';
import { MIME } from '../../common/mime';
import type { FrameGridPayload } from '../../common/payloads';
import type { ClipPivot, GridImage, PivotFrameData, PromptRecord, ReferenceTarget, VideoData } from '../domain';
import { highlightTile } from '../draw/boxes';
import { PipelineError, throwIfAborted } from '../errors';
import type { StageEvent } from '../events';
import { gridDescriptor } from '../llm/imageKeys';
import { parseLastBracketedInteger } from '../llm/parsers';
import type { LlmService } from '../llm/service';
import { asClipTrace } from '../llm/streaming';
import { type PromptTemplate, type RenderedPrompt, loadTemplate, renderTemplate } from '../llm/templates';
import { hashJson } from '../run/hash';
import type { LlmSettings } from '../settings';
import type { StageContext, StageOutcome, StageRequest } from '../types';
import { type ClipCall, type ClipCallResult, ClipUsage, runClipCalls } from './clipCalls';
import { TraceLog, offerOverrides, pivotFrameView, previousOf } from './pivotView';
import { overrideFor, overridesKey, parseFrameOverrides, withFrameOverrides } from './pivotOverrides';
import type { PivotFrameParams } from './schemas/params.generated';
import { cellLlmSettings, frameIdList, requireLlm, requireUpstream, resolveReference, templateParam, validateFrameId } from './shared';

const STAGE = 'pivot-frame';

/**
 * The `pivot-frame` stage: for every target and clip, chooses the frame where the referent is
 * clearest. With `strategy: llm` the clip's grid JPEG and the `pivot-frame.cot` prompt go to the LLM;
 * the reply streams into the cell as a trace, its last bracketed integer is the answer, and an answer
 * outside the clip marks the clip invalid. Clips run concurrently (`concurrency`). Targets that
 * already carry a pivot frame (from LBRU) are taken as they are.
 *
 * @example
 * // stage: pivot-frame
 * // strategy: llm        # or first | middle | last (no LLM call)
 */
export async function* runPivotFrame(request: StageRequest<PivotFrameParams>, ctx: StageContext): AsyncGenerator<StageEvent, StageOutcome<PivotFrameData>, void> {
  const params = request.params ?? {};
  const strategy = params.strategy ?? 'llm';
  const videoResult = requireUpstream<VideoData>(request, ctx, 'video');
  const refResult = resolveReference(request, ctx);
  const video = videoResult.data;
  const reference = refResult.data;
  if (reference.targets.length === 0) {
    throw new PipelineError('The reference has no targets to find (LBRU found no sounding object?).', { stage: STAGE, kind: 'invalid-input', field: `uses.${refResult.kind}` });
  }
  if (video.clips.length === 0) {
    throw new PipelineError('The video has no clips to choose from (too short for the sampling settings).', { stage: STAGE, kind: 'invalid-input', field: 'uses.video' });
  }
  const upstream = [videoResult.cellId, refResult.cellId];
  const settings = cellLlmSettings(ctx, params);
  const model = params.model ?? settings.models.pivotFrame;

  const overrides = parseFrameOverrides(params.overrides, video, reference.targets.map((t) => t.objectId));
  const needsLlm = strategy === 'llm' && reference.targets.some((t) => t.pivotFrameIndex === undefined && video.clips.some((c) => !overrideFor(overrides, t.objectId, c.clipIndex)));
  let template: PromptTemplate | undefined;
  let reaskTemplate: PromptTemplate | undefined;
  if (needsLlm) {
    const name = templateParam(params.template, 'pivot-frame.cot', STAGE, ctx.promptOverrides);
    template = await loadTemplate(name, { resourcesDir: ctx.resourcesDir, overrides: ctx.promptOverrides, stage: STAGE });
    reaskTemplate = await loadTemplate('reask.integer', { resourcesDir: ctx.resourcesDir, overrides: ctx.promptOverrides, stage: STAGE });
  }
  const promptRecord: PromptRecord | undefined = template ? { name: template.name, source: template.source, templateHash: template.hash } : undefined;

  const objects: PivotFrameData['objects'] = [];
  const usage = new ClipUsage();
  const traces = new TraceLog();
  const total = reference.targets.length * video.clips.length;
  for (const target of reference.targets) {
    throwIfAborted(ctx.signal, STAGE);
    let clips: ClipPivot[];
    if (target.pivotFrameIndex !== undefined) {
      clips = [pivotFromReference(target, video)];
    } else if (strategy !== 'llm') {
      clips = fixedPivots(video, strategy);
    } else if (video.clips.every((c) => overrideFor(overrides, target.objectId, c.clipIndex))) {
      clips = [];
    } else {
      const llm = requireLlm(ctx, STAGE);
      const calls = clipCalls(target, video, { llm, model, settings, template: template!, reaskTemplate: reaskTemplate!, ctx, request })
        .filter((c) => !overrideFor(overrides, target.objectId, c.clipIndex));
      clips = yield* traces.watch(offerOverrides(runClipCalls(target.objectId, calls, params.concurrency ?? settings.concurrency, usage), request.cellId, target.objectId));
    }
    clips = withFrameOverrides(clips, overrides, target.objectId, video);
    objects.push({ objectId: target.objectId, text: target.text, clips });
    yield { type: 'progress', done: objects.length * video.clips.length, total, label: `object ${target.objectId}` };
  }

  yield* pivotTable(objects, video);
  yield* usage.table();

  const data: PivotFrameData = { objects, ...(promptRecord ? { prompt: promptRecord, usage: usage.totals } : {}) };
  yield pivotFrameView(data, video, { cellId: request.cellId, runDir: ctx.runDir, traces, previous: previousOf(ctx, request.cellId, STAGE), compact: params.view !== 'full' });
  const inputHash = hashJson({
    stage: STAGE,
    strategy,
    model: needsLlm ? model : undefined,
    template: promptRecord?.templateHash,
    reask: reaskTemplate?.hash,
    temperature: needsLlm ? settings.temperature : undefined,
    maxTokens: needsLlm ? settings.maxTokens : undefined,
    imageDetail: needsLlm ? settings.imageDetail : undefined,
    overrides: overridesKey(overrides),
  });
  return { data, inputHash, upstream };
}

/** A target whose reference (LBRU) already names its pivot frame: that frame, in the clip holding it. */
function pivotFromReference(target: ReferenceTarget, video: VideoData): ClipPivot {
  const frameIndex = target.pivotFrameIndex as number;
  const clip = video.clips.find((c) => c.frameIndices.includes(frameIndex)) ?? video.clips[0];
  return { clipIndex: clip.clipIndex, frameIndex, valid: true, note: 'from the reference (LBRU)' };
}

/** The fixed-frame ablations: the first, middle or last sampled frame of every clip. */
function fixedPivots(video: VideoData, strategy: 'first' | 'middle' | 'last'): ClipPivot[] {
  return video.clips.map((c) => {
    const n = c.frameIndices.length;
    const k = strategy === 'first' ? 0 : strategy === 'last' ? n - 1 : Math.floor(n / 2);
    return { clipIndex: c.clipIndex, frameIndex: c.frameIndices[k], valid: true, note: `fixed: ${strategy}` };
  });
}

/** Warnings for objects without a valid pivot, and the table of pivot frames. */
function* pivotTable(objects: PivotFrameData['objects'], video: VideoData): Generator<StageEvent, void, void> {
  for (const o of objects) {
    if (!o.clips.some((c) => c.valid)) {
      yield { type: 'warning', message: `Object ${o.objectId}: no clip has a valid pivot frame; the pivot-box stage will fall back to the top detector box on frame 0.` };
    }
  }
  yield {
    type: 'table',
    title: 'Pivot frames',
    columns: ['object', 'clip', 'frames', 'pivot frame', 'valid', 'note'],
    rows: objects.flatMap((o) =>
      o.clips.map((c) => {
        const clip = video.clips.find((k) => k.clipIndex === c.clipIndex);
        const span = clip ? `${clip.frameIndices[0]}-${clip.frameIndices[clip.frameIndices.length - 1]}` : '';
        return [o.objectId, c.clipIndex + 1, span, c.frameIndex, c.valid ? 'yes' : 'NO', c.note ?? ''];
      }),
    ),
  };
}

/** What every clip call of the stage shares. */
interface ClipAsk {
  llm: LlmService;
  model: string;
  settings: LlmSettings;
  template: PromptTemplate;
  reaskTemplate: PromptTemplate;
  ctx: StageContext;
  request: StageRequest;
}

/**
 * One LLM call per clip for a target, every clip's prompt rendered first so that a template problem
 * fails before any call is made.
 */
function clipCalls(target: ReferenceTarget, video: VideoData, ask: ClipAsk): Array<ClipCall<ClipPivot>> {
  return video.clips.map((clip) => {
    const grid = video.grids.find((g) => g.clipIndex === clip.clipIndex);
    if (!grid) {
      throw new PipelineError(`The video result has no grid image for clip ${clip.clipIndex}; re-run the video cell.`, { stage: STAGE, kind: 'invalid-input', field: 'uses.video' });
    }
    const prompt = renderTemplate(ask.template, { expression: target.text, frameCount: grid.tiles.length, frameIds: frameIdList(grid) }, STAGE);
    const job = { clip, grid, prompt };
    return {
      clipIndex: clip.clipIndex,
      prompt,
      title: clipStream(ask.request.cellId, target.objectId, clip).title,
      run: () => clipTask(job, target.objectId, video, ask),
    };
  });
}

/** Stream id and title of a clip's trace. */
function clipStream(cellId: string, objectId: number, clip: VideoData['clips'][number]): { streamId: string; title: string } {
  return {
    streamId: `${cellId}:pivot-frame:o${objectId}:c${clip.clipIndex}`,
    title: `Object ${objectId} · clip ${clip.clipIndex + 1} (frames ${clip.frameIndices[0]}–${clip.frameIndices[clip.frameIndices.length - 1]})`,
  };
}

async function* clipTask(
  job: { clip: VideoData['clips'][number]; grid: GridImage; prompt: RenderedPrompt },
  objectId: number,
  video: VideoData,
  { llm, model, settings, reaskTemplate, ctx, request }: ClipAsk,
): AsyncGenerator<StageEvent, ClipCallResult<ClipPivot>, void> {
  const { clip, grid, prompt } = job;
  const label = `object ${objectId}, clip ${clip.clipIndex + 1}`;
  const { streamId, title } = clipStream(request.cellId, objectId, clip);
  const gridBytes = new Uint8Array(await readFile(grid.path).catch((err) => {
    throw new PipelineError(`Grid image ${grid.path} is missing; re-run the video cell.`, { stage: STAGE, kind: 'invalid-input', file: grid.path, cause: err });
  }));
  const reask = renderTemplate(reaskTemplate, { problem: 'no single frame id in square brackets at the end' }, STAGE).text;
  const asked = yield* asClipTrace(
    llm.ask({ model, messages: [{ role: 'user', text: prompt.text, images: [{ bytes: gridBytes, describe: gridDescriptor(video, grid) }] }] }, parseLastBracketedInteger, reask, {
      signal: ctx.signal, settings, stage: STAGE, cellId: request.cellId, label,
    }),
    streamId,
    title,
  );
  if ('failed' in asked) {
    return { value: { clipIndex: clip.clipIndex, frameIndex: null, valid: false, note: asked.failed, promptHash: prompt.hash }, calls: 0 };
  }
  const result = asked.result;
  const exchanges = result.replies.map((r) => r.exchangeHash);
  const base = { clipIndex: clip.clipIndex, promptHash: prompt.hash, exchanges };
  const usage = result.usage;
  const calls = result.replies.length;
  if (!result.parsed.ok) {
    const note = `no valid answer: ${result.parsed.message}`;
    yield { type: 'trace', streamId, title, delta: '', final: { valid: false, note, usage } };
    return { value: { ...base, frameIndex: null, valid: false, note }, usage, calls };
  }
  const id = result.parsed.value;
  const checked = validateFrameId(id, grid, video.info.frameCount);
  if ('invalid' in checked) {
    const note = `invalid answer [${id}]: ${checked.invalid}`;
    yield { type: 'trace', streamId, title, delta: '', final: { answer: `[${id}]`, valid: false, note, usage } };
    return { value: { ...base, frameIndex: null, valid: false, note }, usage, calls };
  }
  const tile = grid.tiles[id - 1];
  const note = `frame id ${id} = video frame ${checked.frameIndex}${result.reasked ? ' (after a re-ask)' : ''}`;
  yield { type: 'trace', streamId, title, delta: '', final: { answer: `[${id}]`, valid: true, note, usage } };
  const caption = `Object ${objectId}, clip ${clip.clipIndex + 1}: pivot frame ${checked.frameIndex} (id ${id})`;
  const payload: FrameGridPayload = {
    version: 1,
    kind: 'clip',
    clipIndex: clip.clipIndex,
    width: grid.width,
    height: grid.height,
    tiles: grid.tiles.map((t) => ({ frameIndex: t.frameIndex, frameId: t.frameId, timeSec: t.timeSec, x: t.x, y: t.y, width: t.width, height: t.height })),
    caption,
    highlight: [checked.frameIndex],
  };
  yield {
    type: 'image',
    id: `${streamId}:image`,
    mime: 'image/jpeg',
    data: await highlightTile(gridBytes, tile),
    caption,
    renderer: { mime: MIME.frameGrid, payload },
  };
  return { value: { ...base, frameIndex: checked.frameIndex, valid: true, note }, usage, calls };
}
