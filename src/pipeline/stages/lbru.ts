import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { MIME } from '../../common/mime';
import { extractAudio, isSilent, type AudioClip } from '../audio/extract';
import { type AudioSetLabels, type RankedLabel, loadAudioSetLabels, rankLabels, unionTopK } from '../audio/labels';
import { parseLbruReply, type LbruAnswer } from '../audio/lbruReply';
import { type AudioActivity, analyseSoundEvents, windowRms } from '../audio/soundEvents';
import { type AudioTagger, createTagger, prepareWindows, tagClip } from '../audio/taggers';
import { renderTimeline } from '../audio/timeline';
import { labelDictMapping, readLabelDict, remapScores } from '../audio/labelDict';
import { PRESET_TAGGERS } from '../sampling';
import { type CategoryMatch, type LabelFate, labelFates, linkLabel, loadVocabulary, matchCategory, nearestClass, normalizeCategory } from '../audio/vocabulary';
import type { GridImage, LlmUsageTotals, PromptRecord, ReferenceData, ReferenceTarget, VideoData } from '../domain';
import { highlightTile } from '../draw/boxes';
import { PipelineError, throwIfAborted } from '../errors';
import type { StageEvent, UsageSummary } from '../events';
import { gridDescriptor } from '../llm/imageKeys';
import type { ParseResult } from '../llm/parsers';
import { EMPTY_TOTALS, addToTotals, asTrace, promptMarkdown, usageTable } from '../llm/streaming';
import { loadTemplate, renderTemplate } from '../llm/templates';
import { type FfmpegTools, resolveFfmpeg } from '../media/ffmpeg';
import { hashSourceFile } from '../media/sourceHash';
import { AUDIO_TAGGER_FRONTENDS } from '../models/audioManifest';
import type { SessionLease } from '../models/runtime';
import { requireModels } from '../models/service';
import { hashJson } from '../run/hash';
import type { StageContext, StageOutcome, StageRequest } from '../types';
import type { LlmSettings } from '../settings';
import type { LbruParams } from './schemas/params.generated';
import { cellLlmSettings, frameIdList, requireLlm, requireUpstream, templateParam, validateFrameId } from './shared';

/** How one entry of the LLM's answer (or one label in `labels-only`) became a target. */
export interface LbruEntryRecord {
  /** The category as written in the reply (or the label name). */
  input: string;
  /** The category used, or null when dropped. */
  category: string | null;
  how: CategoryMatch['how'] | 'kept' | 'label';
  frameId: number | null;
  frameIndex: number | null;
  /** Object id of the target it became, when it became one. */
  objectId?: number;
  note?: string;
}

/** Result of the `lbru` stage: a reference with audio-derived targets and the evidence behind them. */
export interface LbruData extends ReferenceData {
  source: 'audio';
  strategy: 'llm' | 'labels-only';
  audio: { source: string; durationSec: number; peak: number; rms: number; silent: boolean; sampleRates: number[] };
  /** Per tagger: its top-k after Silence zeroing. */
  taggers: Array<{ id: string; input: 'waveform' | 'fbank'; sampleRate: number; looped: boolean; labels: RankedLabel[]; /** The label_dict sidecar applied, if any. */ labelDict?: string }>;
  /** The labels given to the LLM (union over taggers when several). */
  labels: RankedLabel[];
  vocabulary: { source: string; size: number };
  /** The parsed answer (strategy llm): false when the reply could not be read. */
  answerValid?: boolean;
  entries: LbruEntryRecord[];
  fates: LabelFate[];
  /** Per-category activity per window (absent with `soundEvents: false`). */
  activity?: AudioActivity;
  prompt?: PromptRecord;
  promptHash?: string;
  exchanges?: string[];
  usage?: LlmUsageTotals;
}

const STAGE = 'lbru';

function invalid(message: string, field: string, file?: string): PipelineError {
  return new PipelineError(message, { stage: STAGE, kind: 'invalid-input', field, file });
}

/** The reference text of a category: "the <category> that is making sound" (hyphens read as spaces). */
export function referenceText(category: string): string {
  return `the ${category.replace(/[-_]+/g, ' ').trim()} that is making sound`;
}

/**
 * Parses an LBRU reply for {@link LlmService.ask}: {@link parseLbruReply}, plus an explicit empty list
 * `[]` at the end of the reply, which is a valid "nothing visible makes a sound".
 */
export function parseLbruAnswer(reply: string): ParseResult<LbruAnswer> {
  const r = parseLbruReply(reply);
  if (r.ok || r.reason !== 'no-entries') {
    return r;
  }
  const m = /\[\s*\]\s*\.?\s*$/.exec(reply);
  if (m) {
    return { ok: true, value: { entries: [], duplicates: [], form: 'brackets' }, span: [m.index, m.index + m[0].trimEnd().length] };
  }
  return r;
}

/**
 * The `lbru` stage (Language-Binded Reference Unification, AVS): tags the clip's audio with one or
 * two AudioSet taggers (Silence zeroed, top-k, union), shows the labels and the AVS frame grid to the
 * LLM with the category vocabulary, parses its `'category': frameId` answer, maps each category onto
 * the vocabulary, and returns one target per category ("the dog that is making sound") with its pivot
 * frame. It also segments the audio into sound events and records, per category and second, whether
 * it sounds (for removing masks where a category is silent), drawn as an audio timeline.
 *
 * @example
 * // stage: lbru
 * // tagger: efficientat-mn10-as      # or taggers: [beats-iter3-as2m-cpt1, beats-iter3-as2m-cpt2]
 * // vocabulary: avsbench
 * // strategy: llm                    # labels-only: the audio-classifier reference ablation
 */
export async function* runLbru(request: StageRequest<LbruParams>, ctx: StageContext): AsyncGenerator<StageEvent, StageOutcome<LbruData>, void> {
  const params = request.params ?? {};
  const videoResult = requireUpstream<VideoData>(request, ctx, 'video');
  const cell = lbruCell(params, videoResult.data, ctx);
  const { video, grid } = cell;
  if (cell.strategy === 'llm' && !grid) {
    throw invalid('The video result has no frame grid; run the video cell with `mode: avs`.', 'uses.video');
  }
  if (video.mode !== 'avs') {
    yield { type: 'warning', message: `The video cell ran in ${video.mode} mode; LBRU uses its first grid (${grid?.tiles.length ?? 0} frames). Use mode: avs for the AVS grid of 5 (or 10) frames.` };
  }
  const sound = audioSourceOf(params, video, ctx);
  const labelsTable = await loadAudioSetLabels(ctx.resourcesDir);
  const vocabulary = await loadVocabulary(params.vocabulary, { resourcesDir: ctx.resourcesDir, baseDir: ctx.baseDir, stage: STAGE });

  const tagged = yield* tagAudio(cell, sound, labelsTable, ctx);
  const labels = yield* unitedLabels(tagged, cell.topK);

  let asked: LbruAsked | undefined;
  let entries: LbruEntryRecord[];
  if (cell.strategy === 'llm') {
    asked = yield* askLbru(cell, grid as GridImage, labels, vocabulary.categories, request, ctx);
    entries = asked.entries;
  } else {
    entries = labelsOnlyEntries(labels, labelsTable, vocabulary.categories, cell.single);
  }
  const targets = targetsOf(entries);
  const fates = labelFates(labels, targets.map((t) => t.category as string), labelsTable);
  yield* showTargets(cell, entries, fates, targets, request.cellId);
  const activity = tagged.window ? yield* soundEventTimeline(cell, tagged.window, targets, labelsTable, labels, request.cellId) : undefined;

  const firstClip = tagged.firstClip;
  const data: LbruData = {
    source: 'audio',
    targets,
    strategy: cell.strategy,
    audio: {
      source: firstClip.source, durationSec: firstClip.durationSec, peak: firstClip.peak, rms: firstClip.rms, silent: tagged.silent,
      sampleRates: tagged.sampleRates,
    },
    taggers: tagged.records,
    labels,
    vocabulary: { source: vocabulary.source, size: vocabulary.categories.length },
    ...(asked ? { answerValid: asked.answerValid } : {}),
    entries,
    fates,
    ...(activity ? { activity } : {}),
    ...(asked ? { prompt: asked.prompt, promptHash: asked.promptHash, exchanges: asked.exchanges, usage: asked.usage } : {}),
  };
  const llm = cell.strategy === 'llm';
  const inputHash = hashJson({
    stage: STAGE,
    strategy: cell.strategy,
    taggers: tagged.modelFiles,
    labelDicts: tagged.labelDicts,
    topK: cell.topK,
    minProbability: params.minProbability,
    vocabulary: vocabulary.categories,
    outOfVocabulary: cell.oov,
    audio: params.audio !== undefined ? await hashSourceFile(sound.source, ctx.signal) : undefined,
    single: cell.single,
    soundEvents: params.soundEvents !== false ? { windowSec: cell.windowSec, s: params.similarityThreshold, a: params.activityThreshold } : false,
    model: llm ? cell.model : undefined,
    template: asked?.prompt.templateHash,
    reask: asked?.reaskHash,
    temperature: llm ? cell.settings.temperature : undefined,
    maxTokens: llm ? cell.settings.maxTokens : undefined,
    imageDetail: llm ? cell.settings.imageDetail : undefined,
  });
  return { data, inputHash, upstream: [videoResult.cellId] };
}

/** The cell's settings after defaults (the schema has checked their types and ranges). */
interface LbruCell {
  params: LbruParams;
  video: VideoData;
  /** The AVS frame grid (the video's first grid). */
  grid: GridImage | undefined;
  strategy: 'llm' | 'labels-only';
  oov: 'nearest' | 'keep' | 'drop';
  topK: number;
  windowSec: number;
  single: boolean;
  settings: LlmSettings;
  model: string;
}

function lbruCell(params: LbruParams, video: VideoData, ctx: StageContext): LbruCell {
  const settings = cellLlmSettings(ctx, params);
  return {
    params,
    video,
    grid: video.grids[0],
    strategy: params.strategy ?? 'llm',
    oov: params.outOfVocabulary ?? 'nearest',
    topK: params.topK ?? 5,
    windowSec: params.windowSec ?? 1,
    single: params.singleSource ?? video.preset === 'avsbench-s4',
    settings,
    model: params.model ?? settings.models.lbru,
  };
}

/** Where the sound comes from: the cell's `audio` file, else the video's own track. */
function audioSourceOf(params: LbruParams, video: VideoData, ctx: StageContext): { source: string; field: string } {
  if (params.audio !== undefined) {
    return { source: path.resolve(ctx.baseDir, params.audio), field: 'audio' };
  }
  const source = video.info.source;
  if (video.info.sourceKind === 'frames') {
    throw invalid(`The video is a folder of frames (${source}), which has no sound. Give the soundtrack with the cell's "audio" field.`, 'audio', source);
  }
  if (video.info.audio === null) {
    throw invalid(
      `${source} has no audio track. An AVS (audio-referenced) cell needs a video with sound: use a clip with an audio track, or give one with the cell's "audio" field.`,
      'audio', source,
    );
  }
  return { source, field: 'uses.video' };
}

/** What tagging the audio gave. */
interface TaggedAudio {
  /** Per tagger: its top-k after Silence zeroing. */
  records: LbruData['taggers'];
  /** Per tagger: size and time of its graph file (for the input hash). */
  modelFiles: Array<{ id: string; size: number; mtimeMs: number }>;
  /** Per tagger: the label_dict sidecar's path and a hash of its labels (editing it changes the result). */
  labelDicts: Array<{ file: string; labels: string } | null>;
  /** The first tagger's clip, the sample rates decoded, and whether the clip is silent. */
  firstClip: AudioClip;
  sampleRates: number[];
  silent: boolean;
  /** The first tagger's scores per analysis window (absent with `soundEvents: false`). */
  window?: { scores: Float32Array[]; clip: AudioClip };
}

/** Tags the audio with each tagger of the cell (or the preset's, or the configured one). */
async function* tagAudio(cell: LbruCell, sound: { source: string; field: string }, labelsTable: AudioSetLabels, ctx: StageContext): AsyncGenerator<StageEvent, TaggedAudio, void> {
  const { params, video } = cell;
  const models = requireModels(ctx.services, STAGE);
  const presetTaggers = video.preset ? PRESET_TAGGERS[video.preset] : undefined;
  const taggerIds = params.taggers ?? (params.tagger !== undefined ? [params.tagger] : presetTaggers ? [...presetTaggers] : [models.modelFor('audio-tagger')]);
  let tools: FfmpegTools | undefined;
  const clips = new Map<number, AudioClip>();
  const clipAt = async (rate: number): Promise<AudioClip> => {
    let c = clips.get(rate);
    if (!c) {
      tools ??= resolveFfmpeg(ctx.settings);
      c = await extractAudio(sound.source, tools, { sampleRate: rate, signal: ctx.signal, stage: STAGE, field: sound.field });
      clips.set(rate, c);
    }
    return c;
  };
  const out: Omit<TaggedAudio, 'firstClip' | 'sampleRates' | 'silent'> = { records: [], modelFiles: [], labelDicts: [] };
  yield { type: 'progress', done: 0, total: taggerIds.length, label: 'audio tagging' };
  for (const [i, id] of taggerIds.entries()) {
    throwIfAborted(ctx.signal, STAGE);
    const isFile = /\.onnx$/i.test(id);
    const file = isFile ? path.resolve(ctx.baseDir, id) : await models.filePath(id, 'model', 'audio-tagger');
    let lease: SessionLease;
    try {
      lease = isFile ? await models.runtime.acquire(file, id) : await models.session(id, 'model', 'audio-tagger');
    } catch (err) {
      if (isFile && err instanceof PipelineError && err.kind === 'missing-model') {
        throw new PipelineError(`The tagger file ${file} does not exist. Check the "tagger" path (relative to the notebook).`, {
          stage: STAGE, kind: 'invalid-input', field: 'tagger', file, cause: err,
        });
      }
      throw err;
    } finally {
      for (const note of models.takeNotes()) {
        yield { type: 'warning', message: note };
      }
    }
    try {
      const st = await stat(file);
      out.modelFiles.push({ id, size: st.size, mtimeMs: st.mtimeMs });
      const tagger: AudioTagger = createTagger(id, lease.session, isFile ? undefined : AUDIO_TAGGER_FRONTENDS[id], params.taggerSampleRate ?? 32000);
      // the checkpoint's own index -> label order (BEATs label_dict), from the sidecar next to the graph
      const dict = await readLabelDict(file);
      const mapping = dict ? labelDictMapping(dict.labels, labelsTable, dict.file) : undefined;
      out.labelDicts.push(dict ? { file: dict.file, labels: hashJson(dict.labels) } : null);
      const inTableOrder = (s: Float32Array): Float32Array => (mapping ? remapScores(s, mapping, labelsTable.classes.length) : s);
      if (!dict && tagger.frontend.input === 'fbank') {
        yield {
          type: 'warning',
          message: `Tagger "${id}" (${file}) is a BEATs-style graph without a label_dict sidecar (${path.basename(file).replace(/\.onnx$/i, '')}.label_dict.json or label_dict.json next to it); its outputs are read in class_labels_indices.csv order, which is not the order of BEATs checkpoints. Export the checkpoint's label_dict next to the graph.`,
        };
      }
      const clip = await clipAt(tagger.sampleRate);
      const { scores, looped } = await tagClip(tagger, clip.samples, ctx.signal);
      const ranked = rankLabels(inTableOrder(scores), labelsTable, { topK: cell.topK, minProbability: params.minProbability });
      out.records.push({ id, input: tagger.frontend.input, sampleRate: tagger.sampleRate, looped, labels: ranked, ...(dict ? { labelDict: dict.file } : {}) });
      if (i === 0 && params.soundEvents !== false) {
        out.window = { scores: (await tagger.tagWindows(prepareWindows(clip.samples, clip.sampleRate, cell.windowSec), ctx.signal)).map(inTableOrder), clip };
      }
    } finally {
      lease.release();
    }
    yield { type: 'progress', done: i + 1, total: taggerIds.length, label: 'audio tagging' };
  }
  const firstClip = clips.get(out.records[0].sampleRate) as AudioClip;
  return { ...out, firstClip, sampleRates: [...clips.keys()], silent: isSilent(firstClip) };
}

/** Warns about silent or looped audio, and returns (and shows) the labels: one tagger's, or the union. */
function* unitedLabels(tagged: TaggedAudio, topK: number): Generator<StageEvent, RankedLabel[], void> {
  const { records, firstClip } = tagged;
  if (tagged.silent) {
    yield {
      type: 'warning',
      message: `The audio of ${firstClip.source} is silent (peak below -80 dBFS); the tagger labels carry no information about sounding objects.`,
    };
  }
  if (records.some((t) => t.looped)) {
    yield { type: 'warning', message: `The clip is ${firstClip.durationSec.toFixed(2)} s long; it was looped to 1 s for tagging.` };
  }
  const labels = records.length > 1 ? unionTopK(records.map((t) => ({ taggerId: t.id, labels: t.labels }))) : records[0].labels;
  yield {
    type: 'table',
    title: `Audio labels (top ${topK}${records.length > 1 ? ` of each of ${records.length} taggers, united` : ''}; Silence zeroed)`,
    columns: ['rank', 'label', 'probability', 'tagger'],
    rows: labels.map((l, k) => [k + 1, l.name, Number(l.probability.toFixed(4)), (l.sources ?? [records[0].id]).join(', ')]),
  };
  return labels;
}

/** What asking the LLM (strategy llm) gave. */
interface LbruAsked {
  entries: LbruEntryRecord[];
  answerValid: boolean;
  prompt: PromptRecord;
  promptHash: string;
  reaskHash: string;
  exchanges: string[];
  usage: LlmUsageTotals;
}

/** Shows the labels and the frame grid to the LLM and maps its `'category': frameId` answer. */
async function* askLbru(cell: LbruCell, grid: GridImage, labels: RankedLabel[], categories: string[], request: StageRequest, ctx: StageContext): AsyncGenerator<StageEvent, LbruAsked, void> {
  const name = templateParam(cell.params.template, cell.single ? 'lbru.single' : 'lbru.cot', STAGE, ctx.promptOverrides);
  const template = await loadTemplate(name, { resourcesDir: ctx.resourcesDir, overrides: ctx.promptOverrides, stage: STAGE });
  const reaskTemplate = await loadTemplate('reask.lbru', { resourcesDir: ctx.resourcesDir, overrides: ctx.promptOverrides, stage: STAGE });
  const prompt = renderTemplate(template, {
    frameCount: grid.tiles.length,
    frameIds: frameIdList(grid),
    audioLabels: labels.map((l) => l.name).join(', '),
    categoryList: categories.join(', '),
  }, STAGE);
  yield { type: 'markdown', text: promptMarkdown(prompt, 'the sounding objects') };
  const gridBytes = new Uint8Array(await readFile(grid.path).catch((err) => {
    throw new PipelineError(`Grid image ${grid.path} is missing; re-run the video cell.`, { stage: STAGE, kind: 'invalid-input', file: grid.path, cause: err });
  }));
  const llm = requireLlm(ctx, STAGE);
  const reask = renderTemplate(reaskTemplate, { problem: "no bracketed list of 'category': frameId entries" }, STAGE).text;
  const streamId = `${request.cellId}:lbru`;
  const title = `LBRU: sounding objects among ${labels.length} audio labels`;
  const result = yield* asTrace(
    llm.ask({ model: cell.model, messages: [{ role: 'user', text: prompt.text, images: [{ bytes: gridBytes, describe: gridDescriptor(cell.video, grid) }] }] }, parseLbruAnswer, reask, {
      signal: ctx.signal, settings: cell.settings, stage: STAGE, cellId: request.cellId, label: 'LBRU',
    }),
    streamId,
    title,
  );
  const usage = addToTotals({ ...EMPTY_TOTALS }, result.usage as UsageSummary, result.replies.length);
  const entries: LbruEntryRecord[] = [];
  if (!result.parsed.ok) {
    const note = `no valid answer: ${result.parsed.message}`;
    yield { type: 'trace', streamId, delta: '', final: { valid: false, note, usage: result.usage } };
    yield { type: 'warning', message: `LBRU: the LLM's reply holds no 'category': frameId entries (${result.parsed.message}). No target was produced; re-run the cell or check the prompt.` };
  } else {
    const answer = result.parsed.value;
    entries.push(...answerEntries(answer, cell, grid, categories));
    const answerText = `[${answer.entries.map((e) => `'${e.category}': ${e.frameId}`).join(', ')}]`;
    const made = entries.filter((e) => e.objectId !== undefined).length;
    yield {
      type: 'trace',
      streamId,
      delta: '',
      final: { answer: answerText, valid: made > 0 || answer.entries.length === 0, note: `${made} sounding object${made === 1 ? '' : 's'}${result.reasked ? ' (after a re-ask)' : ''}`, usage: result.usage },
    };
    if (answer.entries.length === 0) {
      yield { type: 'warning', message: 'LBRU: the LLM found no visible object making the sounds ([]); there is nothing to segment.' };
    }
  }
  yield usageTable([{ label: 'LBRU', usage: result.usage, calls: result.replies.length }], usage);
  return {
    entries,
    answerValid: result.parsed.ok,
    prompt: { name: template.name, source: template.source, templateHash: template.hash },
    promptHash: prompt.hash,
    reaskHash: reaskTemplate.hash,
    exchanges: result.replies.map((r) => r.exchangeHash),
    usage,
  };
}

/** The answer's entries mapped onto the vocabulary and the grid; one object per category. */
function answerEntries(answer: LbruAnswer, cell: LbruCell, grid: GridImage, categories: string[]): LbruEntryRecord[] {
  const entries: LbruEntryRecord[] = [];
  const seen = new Map<string, number>();
  for (const [k, e] of answer.entries.entries()) {
    if (cell.single && k > 0) {
      entries.push({ input: e.category, category: null, how: 'none', frameId: e.frameId, frameIndex: null, note: 'single source (S4): only the first entry is kept' });
      continue;
    }
    const rec = mapEntry(e.category, e.frameId, categories, cell.oov, grid, cell.video.info.frameCount);
    if (rec.category !== null) {
      const key = rec.category.toLowerCase();
      const first = seen.get(key);
      if (first !== undefined) {
        rec.note = `merged into object ${first} (same category)`;
        rec.category = null;
      } else if (rec.frameIndex !== null) {
        seen.set(key, seen.size + 1);
        rec.objectId = seen.size;
      }
    }
    entries.push(rec);
  }
  for (const d of answer.duplicates) {
    entries.push({ input: d, category: null, how: 'none', frameId: null, frameIndex: null, note: 'named twice; the first frame id is kept' });
  }
  return entries;
}

/** Ablation (`labels-only`): the tagger labels themselves are the references. */
function labelsOnlyEntries(labels: RankedLabel[], labelsTable: AudioSetLabels, categories: string[], single: boolean): LbruEntryRecord[] {
  const entries: LbruEntryRecord[] = [];
  const seen = new Set<string>();
  for (const l of single ? labels.slice(0, 1) : labels) {
    const linked = linkLabel(l, labelsTable, categories);
    const category = linked[0] ?? l.name.toLowerCase();
    const key = category.toLowerCase();
    if (seen.has(key)) {
      entries.push({ input: l.name, category: null, how: 'label', frameId: null, frameIndex: null, note: `same category as an earlier label (${category})` });
      continue;
    }
    seen.add(key);
    entries.push({ input: l.name, category, how: 'label', frameId: null, frameIndex: null, objectId: seen.size, note: linked.length > 0 ? `label linked to "${category}"` : 'label used as written' });
  }
  return entries;
}

/** One target per entry that became an object. */
function targetsOf(entries: LbruEntryRecord[]): ReferenceTarget[] {
  return entries
    .filter((e) => e.objectId !== undefined && e.category !== null)
    .map((e) => ({
      objectId: e.objectId as number,
      text: referenceText(e.category as string),
      category: e.category as string,
      ...(e.frameIndex !== null ? { pivotFrameIndex: e.frameIndex } : {}),
    }));
}

/** The entries and label fates as tables, the targets, and each target's pivot frame on the grid. */
async function* showTargets(cell: LbruCell, entries: LbruEntryRecord[], fates: LabelFate[], targets: ReferenceTarget[], cellId: string): AsyncGenerator<StageEvent, void, void> {
  yield {
    type: 'table',
    title: cell.strategy === 'llm' ? 'Answer entries' : 'References from the tagger labels (no LLM)',
    columns: ['entry', 'category', 'match', 'frame id', 'pivot frame', 'object', 'note'],
    rows: entries.map((e) => [e.input, e.category ?? '—', e.how, e.frameId, e.frameIndex, e.objectId ?? null, e.note ?? '']),
  };
  yield {
    type: 'table',
    title: 'Audio labels: kept, merged, dropped (read against the answer by name and AudioSet ontology)',
    columns: ['label', 'probability', 'fate', 'object categories'],
    rows: fates.map((f) => [f.label, Number(f.probability.toFixed(4)), f.fate, f.categories.join(', ')]),
  };
  if (targets.length > 0) {
    yield { type: 'markdown', text: targets.map((t) => `Object ${t.objectId}: ${JSON.stringify(t.text)}${t.pivotFrameIndex !== undefined ? ` · pivot frame ${t.pivotFrameIndex}` : ''}`).join('  \n') };
  }
  const { grid } = cell;
  if (grid) {
    for (const t of targets) {
      const tile = grid.tiles.find((k) => k.frameIndex === t.pivotFrameIndex);
      if (tile) {
        const bytes = new Uint8Array(await readFile(grid.path));
        yield { type: 'image', id: `${cellId}:lbru:pivot:${t.objectId}`, mime: 'image/jpeg', data: await highlightTile(bytes, tile), caption: `Object ${t.objectId} (${t.category}): pivot frame ${t.pivotFrameIndex} (id ${tile.frameId})` };
      }
    }
  }
}

/** Sound events and per-category activity, drawn as the audio timeline. */
async function* soundEventTimeline(
  cell: LbruCell,
  window: { scores: Float32Array[]; clip: AudioClip },
  targets: ReferenceTarget[],
  labelsTable: AudioSetLabels,
  labels: RankedLabel[],
  cellId: string,
): AsyncGenerator<StageEvent, AudioActivity, void> {
  const { clip } = window;
  const cats = targets.map((t) => ({ category: t.category as string, labelIndices: categoryLabelIndices(t.category as string, labelsTable, labels) }));
  const activity = analyseSoundEvents(window.scores, windowRms(clip.samples, clip.sampleRate, cell.windowSec), cats, clip.durationSec, {
    windowSec: cell.windowSec, similarityThreshold: cell.params.similarityThreshold, activityThreshold: cell.params.activityThreshold,
  });
  const frames = cell.grid?.tiles.map((tile) => ({
    frameId: tile.frameId, frameIndex: tile.frameIndex, timeSec: tile.timeSec, pivot: targets.some((t) => t.pivotFrameIndex === tile.frameIndex),
  }));
  const caption = `Audio timeline: ${activity.segments.length} sound event${activity.segments.length === 1 ? '' : 's'} (similarity threshold ${activity.similarityThreshold})` +
    (targets.length > 0 ? `; rows: ${targets.map((t, k) => `${k + 1} ${t.category}`).join(', ')}` : '');
  const { png, payload } = await renderTimeline({
    samples: clip.samples, sampleRate: clip.sampleRate, activity, frames, caption,
    categoryLabels: cats.map((c) => c.labelIndices.map((i) => labelsTable.classes[i].name)),
  });
  yield { type: 'image', id: `${cellId}:lbru:timeline`, mime: 'image/png', data: png, caption, renderer: { mime: MIME.audioTimeline, payload } };
  return activity;
}

/** Maps one answer entry onto the vocabulary and the grid. */
function mapEntry(input: string, frameId: number, vocabulary: string[], oov: 'nearest' | 'keep' | 'drop', grid: GridImage, frameCount: number): LbruEntryRecord {
  const m = matchCategory(input, vocabulary);
  let category: string | null = m.category;
  let how: LbruEntryRecord['how'] = m.how;
  let note: string | undefined;
  if (m.how === 'nearest' && oov !== 'nearest') {
    category = oov === 'keep' ? asWritten(input) : null;
    how = oov === 'keep' ? 'kept' : 'none';
    note = oov === 'keep' ? `not in the vocabulary (nearest: ${m.category}); kept as written` : `not in the vocabulary (nearest: ${m.category}); dropped`;
  } else if (m.how === 'nearest') {
    note = `not in the vocabulary; mapped to the nearest, "${m.category}" (similarity ${m.score.toFixed(2)})`;
  } else if (m.how === 'none') {
    if (oov === 'drop') {
      note = 'not in the vocabulary and nothing close; dropped';
    } else if (oov === 'nearest' && vocabulary.length > 0) {
      // reference code: every category maps to its nearest class (here: a fixed synonym list, then
      // the closest name), so a category never leaves the vocabulary
      const c = nearestClass(input, vocabulary);
      category = c.className;
      how = 'nearest';
      note = c.how === 'synonym' ? `not in the vocabulary; "${c.className}" by the synonym list` : `not in the vocabulary and nothing close; the closest entry, "${c.className}" (similarity ${c.score.toFixed(2)})`;
    } else {
      category = asWritten(input);
      how = 'kept';
      note = 'not in the vocabulary and nothing close; kept as written';
    }
  }
  const checked = validateFrameId(frameId, grid, frameCount);
  if ('invalid' in checked) {
    // reference code (docs/PIPELINE.md "Corrections: rules of the reference code that are easy to miss"): an invalid frame id means frame 1; the category is kept
    const why = `invalid frame id: ${checked.invalid}; frame 1 used`;
    return { input, category, how, frameId, frameIndex: grid.tiles[0]?.frameIndex ?? 0, note: note ? `${note}; ${why}` : why };
  }
  return { input, category, how, frameId, frameIndex: checked.frameIndex, ...(note ? { note } : {}) };
}

/** A category kept outside the vocabulary: lower case, singular, words joined by "-" ("Puppies" -> "puppy"). */
function asWritten(input: string): string {
  return normalizeCategory(input) || input.trim().toLowerCase();
}

/**
 * AudioSet classes whose sound belongs to a category: every class linked to it by name or ontology
 * ancestor ("dog": Dog, Bark, Yip, Howl, ...); when none is, the clip's top labels.
 */
function categoryLabelIndices(category: string, labels: AudioSetLabels, fallback: RankedLabel[]): number[] {
  const out = labels.classes.filter((c) => c.index !== labels.silenceIndex && linkLabel(c, labels, [category]).length > 0).map((c) => c.index);
  return out.length > 0 ? out : fallback.map((l) => l.index);
}
