/**
 * MIME types of the outputs this extension writes. Defined once; used by the outputs builder,
 * the serializer, package.json's renderer contributions and the renderers themselves.
 *
 * Custom renderer items whose name has no `+json` suffix carry binary image bytes (PNG/JPEG);
 * their layout/payload lives in the output's metadata under the key {@link OUTPUT_METADATA_KEY}.
 */
export const MIME = {
  frameGrid: 'application/vnd.alref.frame-grid',
  reasoningTrace: 'application/vnd.alref.reasoning-trace+json',
  boxes: 'application/vnd.alref.boxes',
  maskOverlay: 'application/vnd.alref.mask-overlay+json',
  audioTimeline: 'application/vnd.alref.audio-timeline',
  metrics: 'application/vnd.alref.metrics+json',
  sweepMatrix: 'application/vnd.alref.sweep-matrix+json',
  pivotView: 'application/vnd.alref.pivot-view+json',
} as const;

export type AlrefMime = (typeof MIME)[keyof typeof MIME];

/** Key in `NotebookCellOutput.metadata` holding a custom renderer's JSON payload. */
export const OUTPUT_METADATA_KEY = 'alref';

export const NOTEBOOK_TYPE = 'alref-notebook';
export const CONTROLLER_ID = 'alref-controller';
export const STAGE_LANGUAGE = 'alref';
export const PROMPT_LANGUAGE = 'alref-prompt';
