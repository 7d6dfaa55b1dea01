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
import { requireUpstream } from './index';
import { cellLlmSettings, frameIdList, requireLlm, templateParam, validateFrameId } from './pivotFrame';

/** Parameters of an `lbru` cell (see schemas/lbru.schema.json). */
export type LbruParams = {
  /**
   * Tagger model id (default: the `audio-tagger` model of the settings), or the path of an ONNX file
   * (ending in `.onnx`, relative to the notebook), e.g. a BEATs export: its input rank decides the
   * front-end (rank 3: BEATs fbank at 16 kHz; rank 2: waveform at `taggerSampleRate`).
   */
  tagger?: string;
  /** Several checkpoints whose top-k labels are united (the reference code for MS3/AVSS). */
  taggers?: string[];
  /** Sample rate of a waveform tagger given as a file path (32000). */
  taggerSampleRate?: number;
  /** Labels kept per tagger (5). */
  topK?: number;
  /** Labels below this probability are not kept (0). */
  minProbability?: number;
  /** `avsbench` (default), a list of names, or a file with one name per line. */
  vocabulary?: string | string[];
  /** `llm` (LBRU, default) or `labels-only` (the paper's audio-classifier reference ablation). */
  strategy?: 'llm' | 'labels-only';
  model?: string;
  template?: string;
  imageDetail?: 'low' | 'high' | 'auto';
  /** A category outside the vocabulary: map to the `nearest` (default), `keep` as written, or `drop`. */
  outOfVocabulary?: 'nearest' | 'keep' | 'drop';
  /** An audio or video file to take the sound from, instead of the video's own track. */
  audio?: string;
  /** Sound-event segmentation and per-category activity (default true). */
  soundEvents?: boolean;
  /** Neighbouring-window similarity below which a new sound event starts (0.5). */
  similarityThreshold?: number;
  /** Mean score at which a category counts as sounding in a segment (0.1). */
  activityThreshold?: number;
  /** Window length of the sound-event analysis, seconds (1). */
  windowSec?: number;
  /**
   * Single sounding source (AVSBench S4): the prompt asks for one object and only the first entry of
   * the answer is kept. Default: true with the video preset `avsbench-s4`, else false.
   */
  singleSource?: boolean;
};

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
  const strategy = params.strategy ?? 'llm';
  if (strategy !== 'llm' && strategy !== 'labels-only') {
    throw invalid(`strategy "${String(strategy)}" is not one of llm, labels-only.`, 'strategy');
  }
  if (params.tagger !== undefined && params.taggers !== undefined) {
    throw invalid('Give either `tagger` or `taggers`, not both.', 'taggers');
  }
  const oov = params.outOfVocabulary ?? 'nearest';
  if (!['nearest', 'keep', 'drop'].includes(oov)) {
    throw invalid(`outOfVocabulary "${String(oov)}" is not one of nearest, keep, drop.`, 'outOfVocabulary');
  }
  const topK = params.topK ?? 5;
  if (params.singleSource !== undefined && typeof params.singleSource !== 'boolean') {
    throw invalid(`singleSource must be true or false, got ${JSON.stringify(params.singleSource)}.`, 'singleSource');
  }
  const windowSec = params.windowSec ?? 1;
  if (!(windowSec > 0)) {
    throw invalid('windowSec must be a positive number of seconds.', 'windowSec');
  }

  const videoResult = requireUpstream<VideoData>(request, ctx, 'video');
  const video = videoResult.data;
  const single = params.singleSource ?? video.preset === 'avsbench-s4';
  const grid: GridImage | undefined = video.grids[0];
  if (strategy === 'llm' && !grid) {
    throw invalid('The video result has no frame grid; run the video cell with `mode: avs`.', 'uses.video');
  }
  if (video.mode !== 'avs') {
    yield { type: 'warning', message: `The video cell ran in ${video.mode} mode; LBRU uses its first grid (${grid?.tiles.length ?? 0} frames). Use mode: avs for the AVS grid of 5 (or 10) frames.` };
  }

  // Where the sound comes from.
  let audioSource: string;
  let audioField: string;
  if (params.audio !== undefined) {
    audioSource = path.resolve(ctx.baseDir, params.audio);
    audioField = 'audio';
  } else {
    audioSource = video.info.source;
    audioField = 'uses.video';
    if (video.info.sourceKind === 'frames') {
      throw invalid(`The video is a folder of frames (${audioSource}), which has no sound. Give the soundtrack with the cell's "audio" field.`, 'audio', audioSource);
    }
    if (video.info.audio === null) {
      throw invalid(
        `${audioSource} has no audio track. An AVS (audio-referenced) cell needs a video with sound: use a clip with an audio track, or give one with the cell's "audio" field.`,
        'audio', audioSource,
      );
    }
  }

  const labelsTable = await loadAudioSetLabels(ctx.resourcesDir);
  const vocabulary = await loadVocabulary(params.vocabulary, { resourcesDir: ctx.resourcesDir, baseDir: ctx.baseDir, stage: STAGE });

  // Tag the audio.
  const models = requireModels(ctx.services, STAGE);
  const presetTaggers = video.preset ? PRESET_TAGGERS[video.preset] : undefined;
  const taggerIds = params.taggers ?? (params.tagger !== undefined ? [params.tagger] : presetTaggers ? [...presetTaggers] : [models.modelFor('audio-tagger')]);
  let tools: FfmpegTools | undefined;
  const clips = new Map<number, AudioClip>();
  const clipAt = async (rate: number): Promise<AudioClip> => {
    let c = clips.get(rate);
    if (!c) {
      tools ??= resolveFfmpeg(ctx.settings);
      c = await extractAudio(audioSource, tools, { sampleRate: rate, signal: ctx.signal, stage: STAGE, field: audioField });
      clips.set(rate, c);
    }
    return c;
  };
  const taggerRecords: LbruData['taggers'] = [];
  const modelFiles: Array<{ id: string; size: number; mtimeMs: number }> = [];
  // per tagger: the label_dict sidecar's path and a hash of its labels (editing it changes the result)
  const labelDicts: Array<{ file: string; labels: string } | null> = [];
  let windowScores: Float32Array[] | undefined;
  let windowClip: AudioClip | undefined;
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
      modelFiles.push({ id, size: st.size, mtimeMs: st.mtimeMs });
      const tagger: AudioTagger = createTagger(id, lease.session, isFile ? undefined : AUDIO_TAGGER_FRONTENDS[id], params.taggerSampleRate ?? 32000);
      // the checkpoint's own index -> label order (BEATs label_dict), from the sidecar next to the graph
      const dict = await readLabelDict(file);
      const mapping = dict ? labelDictMapping(dict.labels, labelsTable, dict.file) : undefined;
      labelDicts.push(dict ? { file: dict.file, labels: hashJson(dict.labels) } : null);
      const inTableOrder = (s: Float32Array): Float32Array => (mapping ? remapScores(s, mapping, labelsTable.classes.length) : s);
      if (!dict && tagger.frontend.input === 'fbank') {
        yield {
          type: 'warning',
          message: `Tagger "${id}" (${file}) is a BEATs-style graph without a label_dict sidecar (${path.basename(file).replace(/\.onnx$/i, '')}.label_dict.json or label_dict.json next to it); its outputs are read in class_labels_indices.csv order, which is not the order of BEATs checkpoints. Export the checkpoint's label_dict next to the graph.`,
        };
      }
      const clip = await clipAt(tagger.sampleRate);
      const { scores, looped } = await tagClip(tagger, clip.samples, ctx.signal);
      const ranked = rankLabels(inTableOrder(scores), labelsTable, { topK, minProbability: params.minProbability });
      taggerRecords.push({ id, input: tagger.frontend.input, sampleRate: tagger.sampleRate, looped, labels: ranked, ...(dict ? { labelDict: dict.file } : {}) });
      if (i === 0 && params.soundEvents !== false) {
        windowScores = (await tagger.tagWindows(prepareWindows(clip.samples, clip.sampleRate, windowSec), ctx.signal)).map(inTableOrder);
        windowClip = clip;
      }
    } finally {
      lease.release();
    }
    yield { type: 'progress', done: i + 1, total: taggerIds.length, label: 'audio tagging' };
  }
  const firstClip = clips.get(taggerRecords[0].sampleRate) as AudioClip;
  const silent = isSilent(firstClip);
  if (silent) {
    yield {
      type: 'warning',
      message: `The audio of ${firstClip.source} is silent (peak below -80 dBFS); the tagger labels carry no information about sounding objects.`,
    };
  }
  if (taggerRecords.some((t) => t.looped)) {
    yield { type: 'warning', message: `The clip is ${firstClip.durationSec.toFixed(2)} s long; it was looped to 1 s for tagging.` };
  }
  const labels = taggerRecords.length > 1 ? unionTopK(taggerRecords.map((t) => ({ taggerId: t.id, labels: t.labels }))) : taggerRecords[0].labels;
  yield {
    type: 'table',
    title: `Audio labels (top ${topK}${taggerRecords.length > 1 ? ` of each of ${taggerRecords.length} taggers, united` : ''}; Silence zeroed)`,
    columns: ['rank', 'label', 'probability', 'tagger'],
    rows: labels.map((l, k) => [k + 1, l.name, Number(l.probability.toFixed(4)), (l.sources ?? [taggerRecords[0].id]).join(', ')]),
  };

  const upstream = [videoResult.cellId];
  const entries: LbruEntryRecord[] = [];
  let answerValid: boolean | undefined;
  let promptRecord: PromptRecord | undefined;
  let promptHash: string | undefined;
  let exchanges: string[] | undefined;
  let usage: LlmUsageTotals | undefined;
  let templateHash: string | undefined;
  let reaskHash: string | undefined;
  const settings = cellLlmSettings(ctx, params);
  const model = params.model ?? settings.models.lbru;

  if (strategy === 'llm') {
    const g = grid as GridImage;
    const name = templateParam(params.template, single ? 'lbru.single' : 'lbru.cot', STAGE, (n) => n.startsWith('lbru.'));
    const template = await loadTemplate(name, { resourcesDir: ctx.resourcesDir, overrides: ctx.promptOverrides, stage: STAGE });
    const reaskTemplate = await loadTemplate('reask.lbru', { resourcesDir: ctx.resourcesDir, overrides: ctx.promptOverrides, stage: STAGE });
    templateHash = template.hash;
    reaskHash = reaskTemplate.hash;
    const prompt = renderTemplate(template, {
      frameCount: g.tiles.length,
      frameIds: frameIdList(g),
      audioLabels: labels.map((l) => l.name).join(', '),
      categoryList: vocabulary.categories.join(', '),
    }, STAGE);
    promptRecord = { name: template.name, source: template.source, templateHash: template.hash };
    promptHash = prompt.hash;
    yield { type: 'markdown', text: promptMarkdown(prompt, 'the sounding objects') };
    const gridBytes = new Uint8Array(await readFile(g.path).catch((err) => {
      throw new PipelineError(`Grid image ${g.path} is missing; re-run the video cell.`, { stage: STAGE, kind: 'invalid-input', file: g.path, cause: err });
    }));
    const llm = requireLlm(ctx, STAGE);
    const reask = renderTemplate(reaskTemplate, { problem: "no bracketed list of 'category': frameId entries" }, STAGE).text;
    const streamId = `${request.cellId}:lbru`;
    const title = `LBRU: sounding objects among ${labels.length} audio labels`;
    const result = yield* asTrace(
      llm.ask({ model, messages: [{ role: 'user', text: prompt.text, images: [gridBytes] }] }, parseLbruAnswer, reask, {
        signal: ctx.signal, settings, stage: STAGE, cellId: request.cellId, label: 'LBRU',
      }),
      streamId,
      title,
    );
    exchanges = result.replies.map((r) => r.exchangeHash);
    usage = addToTotals({ ...EMPTY_TOTALS }, result.usage as UsageSummary, result.replies.length);
    if (!result.parsed.ok) {
      answerValid = false;
      const note = `no valid answer: ${result.parsed.message}`;
      yield { type: 'trace', streamId, delta: '', final: { valid: false, note, usage: result.usage } };
      yield { type: 'warning', message: `LBRU: the LLM's reply holds no 'category': frameId entries (${result.parsed.message}). No target was produced; re-run the cell or check the prompt.` };
    } else {
      answerValid = true;
      const answer = result.parsed.value;
      const seen = new Map<string, number>();
      for (const [k, e] of answer.entries.entries()) {
        if (single && k > 0) {
          entries.push({ input: e.category, category: null, how: 'none', frameId: e.frameId, frameIndex: null, note: 'single source (S4): only the first entry is kept' });
          continue;
        }
        const rec = mapEntry(e.category, e.frameId, vocabulary.categories, oov, g, video.info.frameCount);
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
  } else {
    // Ablation: the tagger labels themselves are the references.
    const seen = new Set<string>();
    for (const l of single ? labels.slice(0, 1) : labels) {
      const linked = linkLabel(l, labelsTable, vocabulary.categories);
      const category = linked[0] ?? l.name.toLowerCase();
      const key = category.toLowerCase();
      if (seen.has(key)) {
        entries.push({ input: l.name, category: null, how: 'label', frameId: null, frameIndex: null, note: `same category as an earlier label (${category})` });
        continue;
      }
      seen.add(key);
      entries.push({ input: l.name, category, how: 'label', frameId: null, frameIndex: null, objectId: seen.size, note: linked.length > 0 ? `label linked to "${category}"` : 'label used as written' });
    }
  }

  const targets: ReferenceTarget[] = entries
    .filter((e) => e.objectId !== undefined && e.category !== null)
    .map((e) => ({
      objectId: e.objectId as number,
      text: referenceText(e.category as string),
      category: e.category as string,
      ...(e.frameIndex !== null ? { pivotFrameIndex: e.frameIndex } : {}),
    }));
  const fates = labelFates(labels, targets.map((t) => t.category as string), labelsTable);

  yield {
    type: 'table',
    title: strategy === 'llm' ? 'Answer entries' : 'References from the tagger labels (no LLM)',
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
  if (grid) {
    for (const t of targets) {
      const tile = grid.tiles.find((k) => k.frameIndex === t.pivotFrameIndex);
      if (tile) {
        const bytes = new Uint8Array(await readFile(grid.path));
        yield { type: 'image', id: `${request.cellId}:lbru:pivot:${t.objectId}`, mime: 'image/jpeg', data: await highlightTile(bytes, tile), caption: `Object ${t.objectId} (${t.category}): pivot frame ${t.pivotFrameIndex} (id ${tile.frameId})` };
      }
    }
  }

  // Sound events and per-category activity.
  let activity: AudioActivity | undefined;
  if (windowScores && windowClip) {
    const cats = targets.map((t) => ({ category: t.category as string, labelIndices: categoryLabelIndices(t.category as string, labelsTable, labels) }));
    activity = analyseSoundEvents(windowScores, windowRms(windowClip.samples, windowClip.sampleRate, windowSec), cats, windowClip.durationSec, {
      windowSec, similarityThreshold: params.similarityThreshold, activityThreshold: params.activityThreshold,
    });
    const frames = grid?.tiles.map((tile) => ({
      frameId: tile.frameId, frameIndex: tile.frameIndex, timeSec: tile.timeSec, pivot: targets.some((t) => t.pivotFrameIndex === tile.frameIndex),
    }));
    const caption = `Audio timeline: ${activity.segments.length} sound event${activity.segments.length === 1 ? '' : 's'} (similarity threshold ${activity.similarityThreshold})` +
      (targets.length > 0 ? `; rows: ${targets.map((t, k) => `${k + 1} ${t.category}`).join(', ')}` : '');
    const { png, payload } = await renderTimeline({
      samples: windowClip.samples, sampleRate: windowClip.sampleRate, activity, frames, caption,
      categoryLabels: cats.map((c) => c.labelIndices.map((i) => labelsTable.classes[i].name)),
    });
    yield { type: 'image', id: `${request.cellId}:lbru:timeline`, mime: 'image/png', data: png, caption, renderer: { mime: MIME.audioTimeline, payload } };
  }

  const data: LbruData = {
    source: 'audio',
    targets,
    strategy,
    audio: {
      source: firstClip.source, durationSec: firstClip.durationSec, peak: firstClip.peak, rms: firstClip.rms, silent,
      sampleRates: [...clips.keys()],
    },
    taggers: taggerRecords,
    labels,
    vocabulary: { source: vocabulary.source, size: vocabulary.categories.length },
    ...(answerValid !== undefined ? { answerValid } : {}),
    entries,
    fates,
    ...(activity ? { activity } : {}),
    ...(promptRecord ? { prompt: promptRecord, promptHash, exchanges, usage } : {}),
  };
  const inputHash = hashJson({
    stage: STAGE,
    strategy,
    taggers: modelFiles,
    labelDicts,
    topK,
    minProbability: params.minProbability,
    vocabulary: vocabulary.categories,
    outOfVocabulary: oov,
    audio: params.audio !== undefined ? await hashSourceFile(audioSource, ctx.signal) : undefined,
    single,
    soundEvents: params.soundEvents !== false ? { windowSec, s: params.similarityThreshold, a: params.activityThreshold } : false,
    model: strategy === 'llm' ? model : undefined,
    template: templateHash,
    reask: reaskHash,
    temperature: strategy === 'llm' ? settings.temperature : undefined,
    maxTokens: strategy === 'llm' ? settings.maxTokens : undefined,
    imageDetail: strategy === 'llm' ? settings.imageDetail : undefined,
  });
  return { data, inputHash, upstream };
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
    // reference code (PIPELINE.md Corrections): an invalid frame id means frame 1; the category is kept
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
export function categoryLabelIndices(category: string, labels: AudioSetLabels, fallback: RankedLabel[]): number[] {
  const out = labels.classes.filter((c) => c.index !== labels.silenceIndex && linkLabel(c, labels, [category]).length > 0).map((c) => c.index);
  return out.length > 0 ? out : fallback.map((l) => l.index);
}
