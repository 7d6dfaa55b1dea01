import { readFile } from 'node:fs/promises';
import { MIME } from '../../common/mime';
import type { FrameGridPayload } from '../../common/payloads';
import type { ClipPivot, GridImage, LlmUsageTotals, PivotFrameData, PromptRecord, ReferenceData, VideoData } from '../domain';
import { highlightTile } from '../draw/boxes';
import { PipelineError, throwIfAborted } from '../errors';
import type { StageEvent, UsageSummary } from '../events';
import { parseLastBracketedInteger } from '../llm/parsers';
import type { LlmService } from '../llm/service';
import { clipText } from '../llm/redact';
import { EMPTY_TOTALS, type UsageRow, addToTotals, asClipTrace, promptMarkdown, runConcurrent, usageTable } from '../llm/streaming';
import { type RenderedPrompt, type TemplateName, isTemplateName, loadTemplate, renderTemplate } from '../llm/templates';
import { hashJson } from '../run/hash';
import type { LlmSettings } from '../settings';
import type { StageContext, StageOutcome, StageRequest, StageResult } from '../types';
import { requireUpstream } from './index';

/** Parameters of a `pivot-frame` cell (see schemas/pivot-frame.schema.json). */
export type PivotFrameParams = {
  /** `llm` (default) asks GPT per clip; `first` / `middle` / `last` are the fixed-frame ablations. */
  strategy?: 'llm' | 'first' | 'middle' | 'last';
  model?: string;
  template?: string;
  imageDetail?: 'low' | 'high' | 'auto';
  concurrency?: number;
};

const STAGE = 'pivot-frame';

/**
 * The reference this cell works on: `uses.reference` or `uses.lbru` when named, else the most recent
 * result of either kind.
 */
export function resolveReference(request: StageRequest, ctx: StageContext): StageResult<ReferenceData> {
  if (request.uses.reference !== undefined) {
    return requireUpstream<ReferenceData>(request, ctx, 'reference');
  }
  if (request.uses.lbru !== undefined) {
    return requireUpstream<ReferenceData>(request, ctx, 'lbru');
  }
  const candidates = [ctx.session.latest('reference'), ctx.session.latest('lbru')].filter((r): r is StageResult => r !== undefined);
  if (candidates.length === 0) {
    return requireUpstream<ReferenceData>(request, ctx, 'reference');
  }
  candidates.sort((a, b) => b.finishedAt - a.finishedAt);
  return candidates[0] as StageResult<ReferenceData>;
}

/** Settings for this cell: the run's LLM settings with the cell's overrides. */
export function cellLlmSettings(ctx: StageContext, params: { imageDetail?: LlmSettings['imageDetail'] }): LlmSettings {
  return { ...ctx.settings.llm, ...(params.imageDetail ? { imageDetail: params.imageDetail } : {}) };
}

/** The LLM service, or a clear error when the host did not provide one. */
export function requireLlm(ctx: StageContext, stage: string): LlmService {
  const llm = ctx.services.llm;
  if (!llm) {
    throw new PipelineError('No LLM service is configured in this host.', { stage, kind: 'not-available' });
  }
  return llm;
}

/** Checks a template name given in a cell. */
export function templateParam(name: string | undefined, fallback: TemplateName, stage: string, allowed: (n: TemplateName) => boolean): TemplateName {
  if (name === undefined) {
    return fallback;
  }
  if (!isTemplateName(name) || !allowed(name)) {
    throw new PipelineError(`template "${clipText(name)}" is not a ${stage} template.`, { stage, kind: 'invalid-input', field: 'template' });
  }
  return name;
}

/** Frame ids as the prompt lists them ("1, 2, 3, 4, 5"). */
export function frameIdList(grid: GridImage): string {
  return grid.tiles.map((t) => t.frameId).join(', ');
}

/**
 * Validates a frame id answered for a clip (1-based tile id). Returns the video frame index, or the
 * reason the answer is invalid.
 */
export function validateFrameId(id: number, grid: GridImage, frameCount: number): { frameIndex: number } | { invalid: string } {
  if (!Number.isInteger(id) || id < 1) {
    return { invalid: `frame id ${id} is not one of the clip's ids (1-${grid.tiles.length})` };
  }
  if (id > grid.tiles.length) {
    return { invalid: `frame id ${id} is past the last frame of the clip (${grid.tiles.length})` };
  }
  const tile = grid.tiles[id - 1];
  if (tile.frameIndex >= frameCount) {
    return { invalid: `frame id ${id} is past the end of the video` };
  }
  return { frameIndex: tile.frameIndex };
}

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
  if (!['llm', 'first', 'middle', 'last'].includes(strategy)) {
    throw new PipelineError(`strategy "${String(strategy)}" is not one of llm, first, middle, last.`, { stage: STAGE, kind: 'invalid-input', field: 'strategy' });
  }
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

  const needsLlm = strategy === 'llm' && reference.targets.some((t) => t.pivotFrameIndex === undefined);
  let template: Awaited<ReturnType<typeof loadTemplate>> | undefined;
  let reaskTemplate: Awaited<ReturnType<typeof loadTemplate>> | undefined;
  if (needsLlm) {
    const name = templateParam(params.template, 'pivot-frame.cot', STAGE, (n) => n.startsWith('pivot-frame.'));
    template = await loadTemplate(name, { resourcesDir: ctx.resourcesDir, overrides: ctx.promptOverrides, stage: STAGE });
    reaskTemplate = await loadTemplate('reask.integer', { resourcesDir: ctx.resourcesDir, overrides: ctx.promptOverrides, stage: STAGE });
  }
  const promptRecord: PromptRecord | undefined = template ? { name: template.name, source: template.source, templateHash: template.hash } : undefined;

  const objects: PivotFrameData['objects'] = [];
  let totals: LlmUsageTotals = { ...EMPTY_TOTALS };
  const usageRows: UsageRow[] = [];
  const shownPrompts = new Set<string>();
  const total = reference.targets.length * video.clips.length;
  let done = 0;

  for (const target of reference.targets) {
    throwIfAborted(ctx.signal, STAGE);
    if (target.pivotFrameIndex !== undefined) {
      const clip = video.clips.find((c) => c.frameIndices.includes(target.pivotFrameIndex as number)) ?? video.clips[0];
      objects.push({
        objectId: target.objectId,
        text: target.text,
        clips: [{ clipIndex: clip.clipIndex, frameIndex: target.pivotFrameIndex, valid: true, note: 'from the reference (LBRU)' }],
      });
      done += video.clips.length;
      yield { type: 'progress', done, total, label: `object ${target.objectId}` };
      continue;
    }
    if (strategy !== 'llm') {
      const clips: ClipPivot[] = video.clips.map((c) => {
        const n = c.frameIndices.length;
        const k = strategy === 'first' ? 0 : strategy === 'last' ? n - 1 : Math.floor(n / 2);
        return { clipIndex: c.clipIndex, frameIndex: c.frameIndices[k], valid: true, note: `fixed: ${strategy}` };
      });
      objects.push({ objectId: target.objectId, text: target.text, clips });
      done += video.clips.length;
      yield { type: 'progress', done, total, label: `object ${target.objectId}` };
      continue;
    }

    const llm = requireLlm(ctx, STAGE);
    // Render every clip's prompt first, so a template problem fails before any call is made.
    const jobs = video.clips.map((clip) => {
      const grid = video.grids.find((g) => g.clipIndex === clip.clipIndex);
      if (!grid) {
        throw new PipelineError(`The video result has no grid image for clip ${clip.clipIndex}; re-run the video cell.`, { stage: STAGE, kind: 'invalid-input', field: 'uses.video' });
      }
      const prompt = renderTemplate(template!, { expression: target.text, frameCount: grid.tiles.length, frameIds: frameIdList(grid) }, STAGE);
      return { clip, grid, prompt };
    });
    for (const { prompt, clip } of jobs) {
      if (!shownPrompts.has(prompt.hash)) {
        shownPrompts.add(prompt.hash);
        yield { type: 'markdown', text: promptMarkdown(prompt, `object ${target.objectId}, clip ${clip.clipIndex + 1}`) };
      }
    }

    for (const { clip } of jobs) {
      yield { type: 'trace', ...clipStream(request.cellId, target.objectId, clip), delta: '' };
    }
    const clipResults = yield* runConcurrent(
      jobs.map((job) => () => clipTask(job, target.objectId, llm, model, settings, reaskTemplate!, ctx, request)),
      Math.max(1, params.concurrency ?? settings.concurrency),
    );
    for (const r of clipResults) {
      if (r.usage) {
        totals = addToTotals(totals, r.usage, r.calls);
        usageRows.push({ label: `object ${target.objectId}, clip ${r.pivot.clipIndex + 1}`, usage: r.usage, calls: r.calls });
      }
    }
    objects.push({ objectId: target.objectId, text: target.text, clips: clipResults.map((r) => r.pivot) });
    done += video.clips.length;
    yield { type: 'progress', done, total, label: `object ${target.objectId}` };
  }

  for (const o of objects) {
    const valid = o.clips.filter((c) => c.valid).length;
    if (valid === 0) {
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
  if (totals.calls > 0) {
    yield usageTable(usageRows, totals);
  }

  const data: PivotFrameData = { objects, ...(promptRecord ? { prompt: promptRecord, usage: totals } : {}) };
  const inputHash = hashJson({
    stage: STAGE,
    strategy,
    model: needsLlm ? model : undefined,
    template: promptRecord?.templateHash,
    reask: reaskTemplate?.hash,
    temperature: needsLlm ? settings.temperature : undefined,
    maxTokens: needsLlm ? settings.maxTokens : undefined,
    imageDetail: needsLlm ? settings.imageDetail : undefined,
  });
  return { data, inputHash, upstream };
}

/** Stream id and title of a clip's trace. */
function clipStream(cellId: string, objectId: number, clip: VideoData['clips'][number]): { streamId: string; title: string } {
  return {
    streamId: `${cellId}:pivot-frame:o${objectId}:c${clip.clipIndex}`,
    title: `Object ${objectId} · clip ${clip.clipIndex + 1} (frames ${clip.frameIndices[0]}–${clip.frameIndices[clip.frameIndices.length - 1]})`,
  };
}

interface ClipTaskResult {
  pivot: ClipPivot;
  usage?: UsageSummary;
  calls: number;
}

async function* clipTask(
  job: { clip: VideoData['clips'][number]; grid: GridImage; prompt: RenderedPrompt },
  objectId: number,
  llm: LlmService,
  model: string,
  settings: LlmSettings,
  reaskTemplate: Awaited<ReturnType<typeof loadTemplate>>,
  ctx: StageContext,
  request: StageRequest,
): AsyncGenerator<StageEvent, ClipTaskResult, void> {
  const { clip, grid, prompt } = job;
  const video = requireUpstream<VideoData>(request, ctx, 'video').data;
  const label = `object ${objectId}, clip ${clip.clipIndex + 1}`;
  const { streamId, title } = clipStream(request.cellId, objectId, clip);
  const gridBytes = new Uint8Array(await readFile(grid.path).catch((err) => {
    throw new PipelineError(`Grid image ${grid.path} is missing; re-run the video cell.`, { stage: STAGE, kind: 'invalid-input', file: grid.path, cause: err });
  }));
  const reask = renderTemplate(reaskTemplate, { problem: 'no single frame id in square brackets at the end' }, STAGE).text;
  const asked = yield* asClipTrace(
    llm.ask({ model, messages: [{ role: 'user', text: prompt.text, images: [gridBytes] }] }, parseLastBracketedInteger, reask, {
      signal: ctx.signal, settings, stage: STAGE, cellId: request.cellId, label,
    }),
    streamId,
    title,
  );
  if ('failed' in asked) {
    return { pivot: { clipIndex: clip.clipIndex, frameIndex: null, valid: false, note: asked.failed, promptHash: prompt.hash }, calls: 0 };
  }
  const result = asked.result;
  const exchanges = result.replies.map((r) => r.exchangeHash);
  const base = { clipIndex: clip.clipIndex, promptHash: prompt.hash, exchanges };
  const usage = result.usage;
  const calls = result.replies.length;
  if (!result.parsed.ok) {
    const note = `no valid answer: ${result.parsed.message}`;
    yield { type: 'trace', streamId, title, delta: '', final: { valid: false, note, usage } };
    return { pivot: { ...base, frameIndex: null, valid: false, note }, usage, calls };
  }
  const id = result.parsed.value;
  const checked = validateFrameId(id, grid, video.info.frameCount);
  if ('invalid' in checked) {
    const note = `invalid answer [${id}]: ${checked.invalid}`;
    yield { type: 'trace', streamId, title, delta: '', final: { answer: `[${id}]`, valid: false, note, usage } };
    return { pivot: { ...base, frameIndex: null, valid: false, note }, usage, calls };
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
  return { pivot: { ...base, frameIndex: checked.frameIndex, valid: true, note }, usage, calls };
}
