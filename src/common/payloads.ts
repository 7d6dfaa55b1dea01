/**
 * JSON payloads of the custom renderers, shared by the extension host (which writes them) and the
 * renderers (which read them). Plain types only. Every payload carries a `version`; a renderer that
 * meets a newer version draws its fallback and says so.
 *
 * Where a payload lives: for a binary renderer MIME (no `+json` suffix, e.g. the frame grid) the
 * output item holds the image bytes and the payload is `output.metadata[OUTPUT_METADATA_KEY]`; for a
 * `+json` MIME the item itself is the payload. Renderer owners extend their payload here, additively.
 */

/** `application/vnd.alref.reasoning-trace+json`: one streamed LLM reply, re-rendered as it grows. */
export interface ReasoningTracePayload {
  version: 1;
  streamId: string;
  title?: string;
  /** The reply text so far (untrusted: render with textContent). */
  text: string;
  /** True once the stream closed. */
  done: boolean;
  /** The parsed answer, when the stream closed with one (e.g. `[3]`). */
  answer?: string;
  valid?: boolean;
  note?: string;
  usage?: { promptTokens: number; completionTokens: number; latencyMs: number; costUsd?: number; model?: string; reused?: boolean };
}

/** One tile of a frame grid, in pixels of the grid image. */
export interface FrameGridTilePayload {
  frameIndex: number;
  /** The id written on the tile and used in prompts (1-based). */
  frameId: number;
  timeSec: number;
  x: number;
  y: number;
  width: number;
  height: number;
}

/** `application/vnd.alref.frame-grid` (binary: the grid image) metadata payload. */
export interface FrameGridPayload {
  version: 1;
  /** `clip`: a clip's grid as the LLM sees it (default); `filmstrip`: an overview of the video (clipIndex -1). */
  kind?: 'clip' | 'filmstrip';
  clipIndex: number;
  width: number;
  height: number;
  tiles: FrameGridTilePayload[];
  caption?: string;
  /** Frame indices to highlight (e.g. the chosen pivot frame). */
  highlight?: number[];
  /** For a pivot-frame cell's grid: the cell and object, so a tile can be made the clip's pivot (`applyOverride`). */
  pivot?: { cellId: string; objectId: number };
}

/** A run-folder artifact a renderer may load lazily through {@link import('./messages').ReadArtifactRequest}. */
export interface ArtifactRefPayload {
  /** Path relative to the notebook's run folder, e.g. `artifacts/ab/ab12....jpg`. */
  ref: string;
  sha256?: string;
  mime?: string;
}

/**
 * Output metadata key of an image stored at display size: the {@link FullImagePayload} of its
 * full-size original in the run folder (a renderer opens it on click through `readArtifact`).
 */
export const FULL_IMAGE_METADATA_KEY = 'alrefFullImage';

/** The full-size original of a display-size image: a run-folder artifact and its size in pixels. */
export interface FullImagePayload extends ArtifactRefPayload {
  width: number;
  height: number;
}

/** One row of the audio timeline image, in pixels of the image. */
export interface AudioTimelineRowPayload {
  kind: 'waveform' | 'segments' | 'category';
  y: number;
  height: number;
  label: string;
  colour?: string;
}

/**
 * `application/vnd.alref.audio-timeline` (binary: the timeline PNG) metadata payload: where the rows
 * and the time axis sit in the image, the sound-event segments and each category's activity per window.
 */
export interface AudioTimelinePayload {
  version: 1;
  width: number;
  height: number;
  /** Horizontal extent of the time axis in the image: x = plot.x + t / durationSec * plot.width. */
  plot: { x: number; width: number };
  durationSec: number;
  windowSec: number;
  rows: AudioTimelineRowPayload[];
  segments: Array<{ startSec: number; endSec: number; silent: boolean }>;
  /** Per category: colour in the image, AudioSet labels behind it, score and activity per window. */
  categories: Array<{ category: string; colour: string; labels: string[]; score: number[]; active: boolean[] }>;
  /** Grid frames (AVS) marked on the axis; `pivot` marks a category's pivot frame. */
  frames?: Array<{ frameId: number; frameIndex: number; timeSec: number; pivot?: boolean }>;
  caption?: string;
}

/**
 * `application/vnd.alref.boxes` (binary: the pivot frame with the boxes painted, chosen box
 * emphasised) metadata payload: the candidates in pixels of that image. Written by the pivot-box stage.
 */
export interface BoxesPayload {
  version: 1;
  width: number;
  height: number;
  frameIndex: number;
  /** 0-based index into `boxes` of the chosen box, or null (none, invalid answer). */
  chosen: number | null;
  caption: string;
  /**
   * `choice` (default): the pivot frame with the chosen box emphasised; `sent`: the image sent with
   * the prompt (the painted frame above the clip's grid), shown collapsed under its caption.
   */
  view?: 'choice' | 'sent';
  boxes: Array<{
    /** 1-based number written in the badge (and used in the prompt). */
    number: number;
    /** `#rrggbb` colour of the box. */
    colour: string;
    colourName: string;
    box: { x0: number; y0: number; x1: number; y1: number };
    score: number;
    /** Detector phrase or typed label (untrusted text). */
    phrase?: string;
    source: 'typed' | 'grounding-dino';
  }>;
}

/**
 * `application/vnd.alref.mask-overlay+json`: masks over the video, scrubbed frame by frame. Frames and
 * masks are run-folder artifacts loaded lazily through `readArtifact`; the `image/png` contact sheet is
 * the fallback. Written by the propagate stage.
 */
export interface MaskOverlayPayload {
  version: 1;
  width: number;
  height: number;
  frameCount: number;
  fps?: number;
  /** Frame i is `${dir}/${String(i).padStart(pad, "0")}${ext}`, relative to the run folder. */
  frames: { dir: string; pad: number; ext: string };
  objects: Array<{
    objectId: number;
    text: string;
    /** CSS colour of the overlay. */
    colour: string;
    pivotFrames: number[];
    /** JSON array (one per frame) of COCO RLE `{ size: [h, w], counts }`. */
    masks: ArtifactRefPayload;
  }>;
  caption?: string;
}

/** How a sweep metric reads: its key in {@link SweepCellPayload.metrics}, label, direction and unit. */
export interface SweepMetricPayload {
  /**
   * Stable key. Pivot metrics (need ground-truth masks, no SAM 2): `frameAreaRatio` (the referent's
   * mask area on the chosen frame / its largest area among the clip's sampled frames, 0..1),
   * `frameVisible` (share of clips whose chosen frame shows the referent), `boxIoU` (IoU of the chosen
   * box with the ground-truth mask's bounding box on that frame), `boxCentreOnObject` (share of clips
   * whose chosen box centre lies on the mask). Always: `validRate` (share of clips with a valid
   * answer), `reasks`, `promptTokens`, `completionTokens`, `costUsd`, `latencyMs`. After
   * propagation: `J`, `F`, `JF` (0..1).
   */
  key: string;
  label: string;
  better: 'higher' | 'lower';
  unit: 'ratio' | 'count' | 'tokens' | 'usd' | 'ms';
}

/** One variant of a sweep (a row of the matrix); `baseline` is the first. */
export interface SweepVariantPayload {
  /** Stable id (the variant's `name`, or `v<n>` 1-based). */
  id: string;
  label: string;
  baseline: boolean;
  /** What this variant sets, for display: e.g. `{ template: 'pivot-frame.cot/v2', temperature: 0 }`. */
  settings: Record<string, string | number | boolean | null>;
}

/** One input of a sweep (a column of the matrix): a video and one expression. */
export interface SweepInputPayload {
  /** Stable id, e.g. `car-shadow#0` (video id, expression index). */
  id: string;
  label: string;
  video: string;
  expression: string;
  /** True when ground-truth masks exist, so the pivot metrics are defined. */
  hasGroundTruth: boolean;
  /**
   * Where the pivot-box candidates came from: typed in the cell, the GroundingDINO detector, or
   * `none` (the pivot-box step did not run for this input; the matrix `notes` say why).
   */
  candidates?: 'typed' | 'grounding-dino' | 'none';
}

/** One cell of the matrix: one variant run on one input. */
export interface SweepCellPayload {
  status: 'ok' | 'error' | 'skipped';
  /** Why the cell failed or was skipped (untrusted text). */
  message?: string;
  /** Metric key -> value; null where the metric is undefined for this input (e.g. no ground truth). */
  metrics: Record<string, number | null>;
  /** True when every LLM request of this cell was answered from the record/replay store. */
  cached?: boolean;
  /** The detail for the side-by-side view: a run-folder JSON artifact holding a {@link SweepDetailPayload}. */
  detail?: ArtifactRefPayload;
}

/**
 * `application/vnd.alref.sweep-matrix+json`: the result of a `sweep` stage cell, variants x inputs.
 * The output also carries a markdown table (the fallback for GitHub and Jupyter).
 */
export interface SweepMatrixPayload {
  version: 1;
  /** Metric columns, in display order; the first is the default sort key. */
  metrics: SweepMetricPayload[];
  variants: SweepVariantPayload[];
  inputs: SweepInputPayload[];
  /** `cells[v][i]`: variant `v` (index into `variants`) on input `i` (index into `inputs`). */
  cells: SweepCellPayload[][];
  /** `summary[v]`: metric key -> the variant's mean over inputs where the metric is defined (null if none). */
  summary: Array<Record<string, number | null>>;
  /** `deltas[v]`: metric key -> `summary[v] - summary[baseline]` (null where either is null). */
  deltas: Array<Record<string, number | null>>;
  /** The same matrix as files in the run folder. */
  exports: { csv: ArtifactRefPayload; json: ArtifactRefPayload };
  caption?: string;
  /** What the matrix cannot show by itself (candidate sources, why J&F is empty with the pull command); plain text with `code` spans. */
  notes?: string[];
}

/** What one variant did on one input, clip by clip: the side-by-side view loads two of these. */
export interface SweepDetailPayload {
  version: 1;
  variantId: string;
  inputId: string;
  objects: Array<{
    objectId: number;
    text: string;
    clips: Array<{
      /** 1-based clip number, as in captions. */
      clip: number;
      pivotFrame: {
        frameIndex: number | null;
        valid: boolean;
        /** The bracketed answer as parsed (e.g. `[3]`). */
        answer?: string;
        /** Full reply text(s), re-asks appended (untrusted text). */
        trace: string;
        /** The image the LLM saw (run-folder artifact). */
        image?: ArtifactRefPayload;
        note?: string;
      };
      pivotBox?: {
        frameIndex: number;
        chosen: number | null;
        box: { x0: number; y0: number; x1: number; y1: number } | null;
        valid: boolean;
        answer?: string;
        trace: string;
        image?: ArtifactRefPayload;
        note?: string;
      };
      /** Per-clip pivot metrics (same keys as the matrix). */
      metrics: Record<string, number | null>;
    }>;
  }>;
  /** Warnings the stages gave for this variant and input (untrusted text), when there were any. */
  warnings?: string[];
}

/**
 * One row of a pivot view: one object in one clip. `clip` is numbered from 1. For pivot-frame rows
 * `grid` is the clip's grid (what the LLM saw); for pivot-box rows `frame` is the pivot frame and
 * `candidates` the numbered boxes on it (pixels of that frame), `chosen` the chosen box number.
 */
export interface PivotViewRow {
  objectId: number;
  clip: number;
  /** The clip's sampled frames (video frame indices), tile k having frame id k+1. */
  frames: number[];
  /** The chosen (pivot) frame index, or null when the clip has no valid answer. */
  frameIndex: number | null;
  valid: boolean;
  overridden?: boolean;
  note?: string;
  /** The bracketed answer of the last reply, when the LLM was asked. */
  answer?: string;
  /** The reply text(s) of the clip's call (untrusted text; capped). */
  trace?: string;
  tokens?: { prompt: number; completion: number };
  /** What changed since the previous run of the cell (`[2] -> [3]`, `box 1 -> box 3`, `now invalid`). */
  change?: string;
  grid?: ArtifactRefPayload & { width: number; height: number; tiles: FrameGridTilePayload[] };
  frame?: ArtifactRefPayload & { width: number; height: number };
  candidates?: Array<{ number: number; box: { x0: number; y0: number; x1: number; y1: number }; score: number; source: string; colour: string }>;
  /** 1-based number of the chosen box among `candidates`, or null. */
  chosen?: number | null;
}

/**
 * `application/vnd.alref.pivot-view+json`: the compact view of a pivot-frame or pivot-box cell, one
 * row per object x clip. Clicking a tile or a box (or dragging one) asks the host to write an
 * override into cell `cellId` (`applyOverride`).
 */
export interface PivotViewPayload {
  version: 1;
  stage: 'pivot-frame' | 'pivot-box';
  cellId: string;
  rows: PivotViewRow[];
  /** The per-clip change list since the previous run (`no change` when nothing changed); absent on a first run. */
  changes?: string[];
}
