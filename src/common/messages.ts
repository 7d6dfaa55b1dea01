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
 * Renderer -> host: open a run-folder file (e.g. a sweep's CSV or JSON export) in a VS Code editor.
 * No reply; a reference that leaves the run folder or names no file is logged and ignored.
 */
export interface OpenArtifactRequest {
  type: 'openArtifact';
  notebookUri?: string;
  /** Path relative to the run folder; must stay inside it. */
  ref: string;
}

export type RendererToHostMessage = ReadArtifactRequest | OpenArtifactRequest;

/** Host -> renderer: the artifact's bytes (base64), or why it could not be read. */
export type ReadArtifactReply =
  | { type: 'artifact'; requestId: string; ref: string; ok: true; base64: string; mime: string }
  | { type: 'artifact'; requestId: string; ref: string; ok: false; error: string };

export type HostToRendererMessage = ReadArtifactReply;

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** Checks a message received from a renderer. */
export function isRendererToHostMessage(v: unknown): v is RendererToHostMessage {
  return (
    isObject(v) &&
    ((v.type === 'readArtifact' && typeof v.requestId === 'string') || v.type === 'openArtifact') &&
    typeof v.ref === 'string' &&
    (v.notebookUri === undefined || typeof v.notebookUri === 'string')
  );
}

/** Checks a message received from the host. */
export function isHostToRendererMessage(v: unknown): v is HostToRendererMessage {
  return (
    isObject(v) &&
    v.type === 'artifact' &&
    typeof v.requestId === 'string' &&
    typeof v.ref === 'string' &&
    ((v.ok === true && typeof v.base64 === 'string' && typeof v.mime === 'string') || (v.ok === false && typeof v.error === 'string'))
  );
}
