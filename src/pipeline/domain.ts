/**
 * Plain data passed between stages (kept in the session, written to reports). Coordinates are
 * pixels of the video frame (after rotation) unless a name says otherwise; frame indices are
 * 0-based positions in the video; object ids are 1-based and user-facing.
 */

import type { FrameGridTilePayload } from '../common/payloads';

/** Probed facts about a video (file or folder of frames). */
export interface VideoInfo {
  /** Absolute path of the file or frame folder. */
  source: string;
  sourceKind: 'file' | 'frames';
  /** Display size, rotation applied. */
  width: number;
  height: number;
  /** Frames per second; for a frame folder the preset's nominal rate. */
  fps: number;
  frameCount: number;
  durationSec: number;
  /** Rotation from the container's display matrix, degrees clockwise (0, 90, 180, 270). */
  rotation: number;
  variableFrameRate: boolean;
  audio: { sampleRate: number; channels: number; codec: string } | null;
}

/** One clip of sampled frames (RVOS: framesPerClip frames every `interval`; AVS: one clip of N). */
export interface ClipPlan {
  clipIndex: number;
  /** Sampled frame indices in display order; tile k of the grid is frame id k+1. */
  frameIndices: number[];
}

/** Tile placement inside a grid image (pixels of the grid image); the renderer payload's tile type. */
export type GridTile = FrameGridTilePayload;

export interface GridImage {
  clipIndex: number;
  /** Absolute path of the grid image (JPEG, exactly what the LLM receives). */
  path: string;
  width: number;
  height: number;
  tiles: GridTile[];
}

/** Result of the `video` stage. */
export interface VideoData {
  info: VideoInfo;
  mode: 'rvos' | 'avs';
  interval: number;
  framesPerClip: number;
  /** The dataset preset the video cell named, if any (stages read preset-specific rules from it). */
  preset?: string | null;
  clips: ClipPlan[];
  grids: GridImage[];
  /**
   * Folder holding EVERY decoded frame as `<frameIndex padded to 5>.jpg` at display size.
   * Use {@link framePath} rather than building names by hand.
   */
  framesDir: string;
}

export function framePath(framesDir: string, frameIndex: number): string {
  return `${framesDir}/${String(frameIndex).padStart(5, '0')}.jpg`;
}

/** Axis-aligned box in pixels, corners inclusive-exclusive: [x0, x1) x [y0, y1). */
export interface Box {
  x0: number;
  y0: number;
  x1: number;
  y1: number;
}

export interface Candidate {
  box: Box;
  /** Detector score in [0, 1]; 1 for boxes typed into a cell. */
  score: number;
  phrase?: string;
  source: 'typed' | 'grounding-dino';
}

/** One thing to segment. */
export interface ReferenceTarget {
  objectId: number;
  /** The language expression (RVOS) or "the <category> that is making sound" (AVS). */
  text: string;
  category?: string;
  /** Pivot frame already chosen upstream (LBRU gives one per category). */
  pivotFrameIndex?: number;
}

/** Result of the `reference` and `lbru` stages. */
export interface ReferenceData {
  source: 'text' | 'audio';
  targets: ReferenceTarget[];
}

export interface ClipPivot {
  clipIndex: number;
  /** Chosen frame index in the video, or null when the clip's answer was invalid. */
  frameIndex: number | null;
  valid: boolean;
  /** Why the clip is invalid, or how the frame was chosen (e.g. "fixed: middle"). */
  note?: string;
  /** sha256 of the exact prompt sent for this clip (absent without an LLM call). */
  promptHash?: string;
  /** Content addresses of the recorded LLM exchanges (`exchanges/<hash>.json`), in order. */
  exchanges?: string[];
  /** True when the cell's `overrides:` chose this frame (no LLM call was made for the clip). */
  overridden?: boolean;
}

/** A prompt template as used by a stage run, for the experiment record. */
export interface PromptRecord {
  /** Template name, e.g. `pivot-frame.cot`. */
  name: string;
  /** `file` (prompts/ of the extension) or `cell` (an alref-prompt cell of the notebook). */
  source: 'file' | 'cell';
  /** sha256 of the template text. */
  templateHash: string;
}

/** LLM usage summed over a stage run. Cost is absent when a model has no price in the table. */
export interface LlmUsageTotals {
  calls: number;
  promptTokens: number;
  completionTokens: number;
  latencyMs: number;
  costUsd?: number;
}

/** Result of the `pivot-frame` stage. */
export interface PivotFrameData {
  objects: Array<{ objectId: number; text: string; clips: ClipPivot[] }>;
  /** The prompt template used (absent for fixed strategies). */
  prompt?: PromptRecord;
  usage?: LlmUsageTotals;
}

export interface BoxPivot {
  clipIndex: number;
  frameIndex: number;
  candidates: Candidate[];
  /** Index into `candidates` of the chosen box, or null ([-1], invalid or none). */
  chosen: number | null;
  valid: boolean;
  note?: string;
  /** sha256 of the exact prompt sent (absent without an LLM call). */
  promptHash?: string;
  /** Content addresses of the recorded LLM exchanges, in order. */
  exchanges?: string[];
  /** True for the no-valid-clip fallback (top box on frame 0). */
  fallback?: boolean;
  /** True when the cell's `overrides:` chose this box (no LLM call was made for the clip). */
  overridden?: boolean;
}

/** Result of the `pivot-box` stage. */
export interface PivotBoxData {
  objects: Array<{ objectId: number; text: string; pivots: BoxPivot[] }>;
  prompt?: PromptRecord;
  usage?: LlmUsageTotals;
}

/** COCO run-length encoding, column-major, counts starting with background. */
export interface RleMask {
  size: [number, number];
  counts: string | number[];
}

/** Result of the `propagate` stage. */
export interface MaskData {
  width: number;
  height: number;
  frameCount: number;
  objects: Array<{
    objectId: number;
    text: string;
    /** Frames used as conditioning (pivot) frames. */
    pivotFrames: number[];
    /** Absolute path of a JSON file: array (one per frame) of RleMask. */
    masksFile: string;
    /**
     * Absolute path of the object's per-frame logits at video size (sparse: pixels above a floor; see
     * masks/logits.ts), written when the propagate cell sets `keepLogits` (Ref-DAVIS17 composition).
     */
    logitsFile?: string;
  }>;
}
