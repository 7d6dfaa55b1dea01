/**
 * Messages between renderers (webview) and the extension host, as one tagged union per direction.
 * Both sides check a message with the guards below before acting on it: anything else is ignored.
 * Renderers send with `ctx.postMessage?.(...)` (messaging is optional); the host answers in
 * `src/notebook/messaging.ts`.
 */

/** Renderer -> host: read an artifact from the notebook's run folder (lazily loaded frames). */
export interface ReadArtifactRequest {
  type: 'readArtifact';
  /** Echoed in the reply so a renderer can match answers to questions. */
  requestId: string;
  /** The notebook the output belongs to; absent = the active notebook editor's. */
  notebookUri?: string;
  /** Path relative to the run folder; must stay inside it. */
  ref: string;
}

/**
 * Renderer -> host: make a clicked tile, candidate box or dragged box the pivot of one clip of one
 * object. The host writes it into the cell's `overrides:` (exactly one of `frameIndex` for a
 * pivot-frame cell, `candidate` or `box` for a pivot-box cell).
 */
export interface ApplyOverrideRequest {
  type: 'applyOverride';
  /** The notebook the output belongs to; absent = the notebook of the editor the message came from. */
  notebookUri?: string;
  /** Effective id of the pivot-frame or pivot-box cell. */
  cellId: string;
  /** Object id, as in the captions. */
  object: number;
  /** Clip number from 1, as in the captions. */
  clip: number;
  /** Video frame index of the chosen tile (pivot-frame). */
  frameIndex?: number;
  /** Candidate box number from 1 (pivot-box). */
  candidate?: number;
  /** Box drawn on the pivot frame, [x0, y0, x1, y1] in video pixels (pivot-box). */
  box?: [number, number, number, number];
}

/**
 * Renderer -> host: open a run-folder file (e.g. a sweep's CSV or JSON export) in a VS Code editor.
 * No reply; a reference that leaves the run folder or names no file is logged and ignored.
 */
export interface OpenArtifactRequest {
  type: 'openArtifact';
  notebookUri?: string;
  /** Path relative to the run folder; must stay inside it. */
  ref: string;
}

export type RendererToHostMessage = ReadArtifactRequest | OpenArtifactRequest | ApplyOverrideRequest;

/** Host -> renderer: the artifact's bytes (base64), or why it could not be read. */
export type ReadArtifactReply =
  | { type: 'artifact'; requestId: string; ref: string; ok: true; base64: string; mime: string }
  | { type: 'artifact'; requestId: string; ref: string; ok: false; error: string };

/** Host -> renderer: whether an override was written into the cell. */
export type ApplyOverrideReply =
  | { type: 'overrideApplied'; cellId: string; clip: number; object: number; ok: true }
  | { type: 'overrideApplied'; cellId: string; clip: number; object: number; ok: false; error: string };

export type HostToRendererMessage = ReadArtifactReply | ApplyOverrideReply;

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function isCount(v: unknown, min: number): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= min;
}

/** Checks an `applyOverride` message: its ids, and exactly one of a frame index, a candidate number or a box. */
export function isApplyOverrideRequest(v: unknown): v is ApplyOverrideRequest {
  if (!isObject(v) || v.type !== 'applyOverride' || (v.notebookUri !== undefined && typeof v.notebookUri !== 'string') || typeof v.cellId !== 'string' || v.cellId === '') {
    return false;
  }
  if (!isCount(v.object, 0) || !isCount(v.clip, 1)) {
    return false;
  }
  const given = [v.frameIndex, v.candidate, v.box].filter((x) => x !== undefined).length;
  if (given !== 1) {
    return false;
  }
  if (v.box !== undefined) {
    const b = v.box;
    return Array.isArray(b) && b.length === 4 && b.every((x) => typeof x === 'number' && Number.isFinite(x)) && b[2] > b[0] && b[3] > b[1];
  }
  return v.frameIndex !== undefined ? isCount(v.frameIndex, 0) : isCount(v.candidate, 1);
}

/** Checks a message received from a renderer. */
export function isRendererToHostMessage(v: unknown): v is RendererToHostMessage {
  return isApplyOverrideRequest(v) || isReadArtifactRequest(v) || isOpenArtifactRequest(v);
}

/** Checks an `openArtifact` request. */
export function isOpenArtifactRequest(v: unknown): v is OpenArtifactRequest {
  return isObject(v) && v.type === 'openArtifact' && typeof v.ref === 'string' && (v.notebookUri === undefined || typeof v.notebookUri === 'string');
}

/** Checks a `readArtifact` request. */
export function isReadArtifactRequest(v: unknown): v is ReadArtifactRequest {
  return (
    isObject(v) &&
    v.type === 'readArtifact' &&
    typeof v.requestId === 'string' &&
    typeof v.ref === 'string' &&
    (v.notebookUri === undefined || typeof v.notebookUri === 'string')
  );
}

/** Checks a message received from the host. */
export function isHostToRendererMessage(v: unknown): v is HostToRendererMessage {
  return isArtifactReply(v) || isOverrideReply(v);
}

/** Checks a host reply to `applyOverride`. */
export function isOverrideReply(v: unknown): v is ApplyOverrideReply {
  return isObject(v) && v.type === 'overrideApplied' && typeof v.cellId === 'string' && typeof v.clip === 'number' && typeof v.object === 'number' && (v.ok === true || (v.ok === false && typeof v.error === 'string'));
}

/** Checks a host reply to `readArtifact`. */
export function isArtifactReply(v: unknown): v is ReadArtifactReply {
  return (
    isObject(v) &&
    v.type === 'artifact' &&
    typeof v.requestId === 'string' &&
    typeof v.ref === 'string' &&
    ((v.ok === true && typeof v.base64 === 'string' && typeof v.mime === 'string') || (v.ok === false && typeof v.error === 'string'))
  );
}
