import path from 'node:path';
import { MIME } from '../../common/mime';
import type { FrameGridPayload } from '../../common/payloads';
import { framePath, type ClipPlan, type GridImage, type VideoData, type VideoInfo } from '../domain';
import { PipelineError, throwIfAborted } from '../errors';
import type { StageEvent } from '../events';
import { composeFilmstrip, composeGrids, formatTime, GRID_DEFAULTS, type ComposedImage, type GridFrame } from '../draw/grid';
import { decodeFrames, type FrameManifest } from '../media/decode';
import { resolveFfmpeg, type FfmpegTools } from '../media/ffmpeg';
import { folderStride, numberingGaps, probeSource } from '../media/probe';
import { hashFrameFiles, hashSourceFile } from '../media/sourceHash';
import { hashJson } from '../run/hash';
import { putArtifact } from '../run/runFolder';
import {
  DEFAULT_AVS_FRAMES,
  DEFAULT_FRAMES_PER_CLIP,
  DEFAULT_INTERVAL,
  entryInterval,
  PRESETS,
  planAvsFrames,
  planRvosClips,
  spreadIndices,
  type IntervalUnit,
  type PresetDef,
  type PresetName,
} from '../sampling';
import type { StageContext, StageOutcome, StageRequest } from '../types';
import type { VideoParams } from './schemas/params.generated';

/**
 * The `video` stage: probes the source, decodes every frame into the run folder (cached by
 * content), plans the clips the LLM will see, and renders one grid per clip plus a filmstrip.
 *
 * Events, in order: decode progress, a markdown summary, the filmstrip (when enabled), then one
 * grid image per clip with the frame-grid renderer payload ({@link FrameGridPayload}).
 */

/** Parameters after defaults and checks. */
export interface ResolvedVideoParams {
  /** Absolute path of the source. */
  source: string;
  mode: 'rvos' | 'avs';
  preset: PresetName | null;
  /** RVOS interval as given (unit: {@link intervalUnit}). */
  interval: number;
  intervalUnit: IntervalUnit;
  framesPerClip: number;
  avsFrames: number;
  maxFrames: number | null;
  startSec: number;
  endSec: number | null;
  fps: number;
  maxSide: number;
  gridMaxSide: number;
  filmstripFrames: number;
}

const VIDEO_DEFAULTS = { maxSide: 1920, gridMaxSide: GRID_DEFAULTS.maxSide, filmstripFrames: 12, fps: 24 } as const;

function bad(field: string, message: string): PipelineError {
  return new PipelineError(message, { stage: 'video', kind: 'invalid-input', field });
}

/**
 * Applies a video cell's defaults: preset values, then the general defaults (rvos, interval 5, 5
 * frames per clip, 5 AVS frames). Relative sources resolve against `baseDir`. Types and ranges are
 * the schema's (schemas/video.schema.json); this checks what the schema cannot: a blank source, a
 * mode that contradicts the preset, and `endSec` after `startSec`.
 */
export function resolveVideoParams(params: VideoParams, baseDir: string): ResolvedVideoParams {
  if (params.source.trim() === '') {
    throw bad('source', 'A video cell needs "source": the path of a video file or of a folder of frames.');
  }
  const preset: PresetDef | undefined = params.preset ? PRESETS[params.preset] : undefined;
  const mode = params.mode ?? preset?.mode ?? 'rvos';
  if (preset && params.mode !== undefined && preset.mode !== mode) {
    throw bad('mode', `mode "${mode}" contradicts preset "${String(params.preset)}", which is a ${preset.mode} preset. Remove one of them.`);
  }
  const startSec = params.startSec ?? 0;
  if (params.endSec !== undefined && params.endSec <= startSec) {
    throw bad('endSec', `"endSec" (${params.endSec}) must be after "startSec" (${startSec}).`);
  }
  return {
    source: path.resolve(baseDir, params.source),
    mode,
    preset: params.preset ?? null,
    interval: params.interval ?? preset?.interval ?? DEFAULT_INTERVAL,
    intervalUnit: params.intervalUnit ?? 'video-frames',
    framesPerClip: params.framesPerClip ?? preset?.framesPerClip ?? DEFAULT_FRAMES_PER_CLIP,
    avsFrames: params.avsFrames ?? preset?.avsFrames ?? DEFAULT_AVS_FRAMES,
    maxFrames: params.maxFrames ?? null,
    startSec,
    endSec: params.endSec ?? null,
    fps: params.fps ?? preset?.frameFolderFps ?? VIDEO_DEFAULTS.fps,
    maxSide: params.maxSide ?? VIDEO_DEFAULTS.maxSide,
    gridMaxSide: params.gridMaxSide ?? VIDEO_DEFAULTS.gridMaxSide,
    filmstripFrames: params.filmstripFrames ?? VIDEO_DEFAULTS.filmstripFrames,
  };
}

/**
 * Clip plan for decoded frames. `stride` is the number of source-video frames between two decoded
 * frames (a frame folder named 00000, 00005, ...: 5; see {@link folderStride}); the RVOS interval, in
 * video frames by default, is converted to a step in decoded frames with {@link entryInterval}.
 */
function planClips(p: ResolvedVideoParams, frameCount: number, stride = 1): ClipPlan[] {
  return p.mode === 'avs' ? planAvsFrames(frameCount, p.avsFrames) : planRvosClips(frameCount, entryInterval(p.interval, stride, p.intervalUnit), p.framesPerClip);
}

/** How the RVOS sampling step reads in the summary and captions. */
function stepText(p: ResolvedVideoParams, stride: number): string {
  const step = entryInterval(p.interval, stride, p.intervalUnit);
  if (stride === 1) {
    return `every ${step} frames`;
  }
  return p.intervalUnit === 'video-frames'
    ? `every ${p.interval} video frames = every ${step} folder entries (file names step by ${stride})`
    : `every ${step} folder entries = ${step * stride} video frames (file names step by ${stride}; intervalUnit: entries)`;
}

/**
 * A path as the notebook shows it: relative to the notebook's folder (also above it, `../media/x.mp4`),
 * so a shared notebook does not carry the author's home folder; absolute only on another drive.
 */
function shown(file: string, baseDir: string): string {
  const rel = path.relative(baseDir, file);
  return rel && !path.isAbsolute(rel) ? rel.split(path.sep).join('/') : file;
}

function md(text: string): string {
  return text.replace(/([\\`*_|[\]<>])/g, '\\$1');
}

function summary(
  info: VideoInfo,
  p: ResolvedVideoParams,
  source: { width: number; height: number; frameCount: number },
  clips: ClipPlan[],
  framesDir: string,
  ctx: StageContext,
  reused: boolean,
  stride: number,
): string {
  const rows: Array<[string, string]> = [];
  rows.push(['Source', `${md(shown(info.source, ctx.baseDir))} (${info.sourceKind === 'file' ? 'video file' : 'folder of frames'})`]);
  const scaled = source.width !== info.width || source.height !== info.height;
  rows.push(['Size', `${info.width} × ${info.height}${scaled ? ` (downscaled from ${source.width} × ${source.height}: maxSide ${p.maxSide})` : ''}`]);
  const trimmed = p.startSec > 0 || p.endSec !== null || p.maxFrames !== null;
  const missing = !trimmed && info.sourceKind === 'file' && info.frameCount < source.frameCount ? ` (decoded; the container lists ${source.frameCount})` : '';
  rows.push(['Frames', `${info.frameCount}${trimmed ? ` (of ${source.frameCount}; from ${p.startSec} s${p.endSec !== null ? ` to ${p.endSec} s` : ''}${p.maxFrames !== null ? `, at most ${p.maxFrames}` : ''})` : missing}`]);
  rows.push(['Frame rate', `${info.fps.toFixed(3).replace(/\.?0+$/, '')} fps${info.sourceKind === 'frames' ? ' (assumed for a folder of frames)' : ''}${info.variableFrameRate ? ' — variable frame rate: every decoded frame is kept once; times come from timestamps' : ''}`]);
  rows.push(['Duration', `${info.durationSec.toFixed(2)} s`]);
  rows.push(['Rotation', info.rotation ? `${info.rotation}° clockwise (applied)` : '0°']);
  rows.push(['Audio', info.audio ? `${md(info.audio.codec)}, ${info.audio.sampleRate} Hz, ${info.audio.channels} channel${info.audio.channels === 1 ? '' : 's'}` : 'none']);
  rows.push([
    'Sampling',
    p.mode === 'rvos'
      ? `RVOS: ${clips.length} clip${clips.length === 1 ? '' : 's'} of up to ${p.framesPerClip} frames, ${stepText(p, stride)}${p.preset ? ` (preset ${p.preset})` : ''}`
      : `AVS: ${clips[0]?.frameIndices.length ?? 0} evenly sampled frames${p.preset ? ` (preset ${p.preset})` : ''}`,
  ]);
  rows.push(['Decoded frames', `${md(shown(framesDir, ctx.baseDir))}${reused ? ' (reused)' : ''}`]);
  return ['**Video**', '', '| | |', '|---|---|', ...rows.map(([k, v]) => `| ${k} | ${v} |`)].join('\n');
}

function gridFrames(indices: number[], framesDir: string, manifest: FrameManifest): GridFrame[] {
  return indices.map((i) => ({ path: framePath(framesDir, i), frameIndex: i, timeSec: manifest.times[i] ?? 0 }));
}

function payloadOf(img: ComposedImage, kind: 'clip' | 'filmstrip', clipIndex: number, caption: string): FrameGridPayload {
  return { version: 1, kind, clipIndex, width: img.width, height: img.height, tiles: img.tiles, caption };
}

/** The `video` stage (see module comment). */
export async function* runVideo(request: StageRequest<VideoParams>, ctx: StageContext): AsyncGenerator<StageEvent, StageOutcome<VideoData>, void> {
  const p = resolveVideoParams(request.params, ctx.baseDir);
  throwIfAborted(ctx.signal, 'video');
  let tools: FfmpegTools | undefined;
  const getTools = (): FfmpegTools => (tools ??= resolveFfmpeg(ctx.settings));

  const probe = await probeSource(p.source, getTools, { signal: ctx.signal, frameFolderFps: p.fps, field: 'source' });
  const src = probe.info;
  if (p.startSec > 0 && src.durationSec > 0 && p.startSec >= src.durationSec) {
    throw bad('startSec', `"startSec" (${p.startSec} s) is at or past the end of ${src.source} (${src.durationSec.toFixed(2)} s).`);
  }
  const gaps = src.sourceKind === 'frames' ? numberingGaps(probe.frameFiles ?? []) : undefined;
  if (gaps) {
    const where = gaps.examples.map(([a, b]) => `${a} → ${b}`).join(', ');
    yield {
      type: 'warning',
      message:
        `The frame folder ${shown(src.source, ctx.baseDir)} has gaps in its numbering (${gaps.count} place${gaps.count === 1 ? '' : 's'}, e.g. ${where}). ` +
        `Frames are taken in name order and numbered by position: frame index i is the i-th file (times are i / ${src.fps} fps), not the number in its name.`,
    };
  }
  const sourceHash = src.sourceKind === 'frames' ? await hashFrameFiles(probe.frameFiles ?? [], ctx.signal) : await hashSourceFile(src.source, ctx.signal);
  throwIfAborted(ctx.signal, 'video');

  const decoded = yield* decodeFrames(probe, getTools, {
    runDir: ctx.runDir,
    sourceHash,
    maxSide: p.maxSide,
    signal: ctx.signal,
    startSec: p.startSec,
    endSec: p.endSec ?? undefined,
    maxFrames: p.maxFrames ?? undefined,
    shownPath: (f) => shown(f, ctx.baseDir),
  });
  const { manifest, framesDir } = decoded;
  if (decoded.reused) {
    ctx.log.info(`video: reusing decoded frames in ${framesDir}`);
  }
  const trimmed = p.startSec > 0 || p.endSec !== null || p.maxFrames !== null;
  const decodedSpan = manifest.times[manifest.frameCount - 1] - manifest.times[0] + (src.fps > 0 ? 1 / src.fps : 0);
  // A file cut short (a truncated download) still lists its full length in the container: the
  // decoded frames are what counts, with a warning. Small differences (edit lists, a frame or two
  // of B-frame reordering) are only logged.
  const short = src.sourceKind === 'file' && !trimmed ? src.frameCount - manifest.frameCount : 0;
  const truncated = short >= 2 && short >= 0.01 * src.frameCount;
  const info: VideoInfo = {
    ...src,
    width: manifest.width,
    height: manifest.height,
    frameCount: manifest.frameCount,
    durationSec: trimmed || truncated ? decodedSpan : src.durationSec,
  };
  if (manifest.width !== src.width || manifest.height !== src.height) {
    yield {
      type: 'warning',
      message: `${src.source} is ${src.width}x${src.height}; frames were decoded at ${manifest.width}x${manifest.height} (long side capped by maxSide ${p.maxSide}). Masks and boxes are in the decoded size.`,
    };
  }
  if (truncated) {
    yield {
      type: 'warning',
      message:
        `Only ${manifest.frameCount} of the ${src.frameCount} frames that ${shown(src.source, ctx.baseDir)} lists could be decoded ` +
        `(${decodedSpan.toFixed(2)} s of ${src.durationSec.toFixed(2)} s): the file looks truncated or damaged. The cell uses the ${manifest.frameCount} decoded frames.`,
    };
  } else if (!trimmed && manifest.frameCount !== src.frameCount) {
    ctx.log.info(`video: the container lists ${src.frameCount} frames, ${manifest.frameCount} were decoded; using ${manifest.frameCount}.`);
  }

  // a frame folder whose names step by k holds every k-th video frame (Ref-YouTube-VOS: 00000, 00005, ...)
  const stride = src.sourceKind === 'frames' ? folderStride(probe.frameFiles ?? []) : 1;
  const step = p.mode === 'rvos' ? entryInterval(p.interval, stride, p.intervalUnit) : 0;
  const clips = planClips(p, manifest.frameCount, stride);
  yield { type: 'markdown', text: summary(info, p, { width: src.width, height: src.height, frameCount: src.frameCount }, clips, framesDir, ctx, decoded.reused, stride) };

  if (p.filmstripFrames > 0) {
    const picks = spreadIndices(manifest.frameCount, p.filmstripFrames);
    const strip = await composeFilmstrip(gridFrames(picks, framesDir, manifest), manifest.width, manifest.height, { maxWidth: p.gridMaxSide });
    const caption = `Filmstrip: ${picks.length} of ${manifest.frameCount} frames, frame index and time under each`;
    yield { type: 'image', id: 'filmstrip', mime: strip.mime, data: strip.data, caption, renderer: { mime: MIME.frameGrid, payload: payloadOf(strip, 'filmstrip', -1, caption) } };
  }

  const grids: GridImage[] = [];
  throwIfAborted(ctx.signal, 'video');
  const groups = clips.map((clip) => gridFrames(clip.frameIndices, framesDir, manifest));
  let k = 0;
  // one grid composed ahead: the next clip's frames are read while this grid is stored and shown
  for await (const img of composeGrids(groups, manifest.width, manifest.height, { maxSide: p.gridMaxSide })) {
    const clip = clips[k++];
    const art = await putArtifact(ctx.runDir, img.data, '.jpg');
    grids.push({ clipIndex: clip.clipIndex, path: path.join(ctx.runDir, art.ref), width: img.width, height: img.height, tiles: img.tiles });
    const first = clip.frameIndices[0];
    const last = clip.frameIndices[clip.frameIndices.length - 1];
    const caption =
      p.mode === 'avs'
        ? `AVS grid: ${clip.frameIndices.length} frames (ids 1–${clip.frameIndices.length}), frames ${clip.frameIndices.join(', ')}`
        : `Clip ${clip.clipIndex + 1} of ${clips.length}: frames ${first}–${last} every ${step} (ids 1–${clip.frameIndices.length}), ${formatTime(manifest.times[first] ?? 0)}–${formatTime(manifest.times[last] ?? 0)}`;
    yield { type: 'image', id: `grid-${clip.clipIndex}`, mime: img.mime, data: img.data, caption, renderer: { mime: MIME.frameGrid, payload: payloadOf(img, 'clip', clip.clipIndex, caption) } };
    yield { type: 'progress', done: clip.clipIndex + 1, total: clips.length, label: 'grids' };
    throwIfAborted(ctx.signal, 'video');
  }

  const { source: _abs, ...rest } = p;
  return {
    data: {
      info,
      mode: p.mode,
      interval: step,
      framesPerClip: p.mode === 'rvos' ? p.framesPerClip : p.avsFrames,
      preset: p.preset,
      clips,
      grids,
      framesDir,
    },
    inputHash: hashJson({ stage: 'video', version: 1, sourceHash, sourceKind: src.sourceKind, params: rest, stride }),
    upstream: [],
  };
}
