import { type ReadArtifactRequest, isArtifactReply } from '../../common/messages';

/** The renderer messaging used to read run-folder files (optional in VS Code: absent outside it). */
export interface ArtifactMessaging {
  postMessage?(message: unknown): void;
  onDidReceiveMessage?(listener: (e: unknown) => void): { dispose(): void };
}

/** Reads files of the notebook's run folder through the host (`readArtifact`), as Blob URLs. */
export interface ArtifactReader {
  /** False when the renderer has no messaging (outside VS Code): nothing can be read. */
  readonly canRead: boolean;
  /** A Blob URL of the file `ref` (run-folder relative); rejects with the host's reason. Revoke it when done. */
  read(ref: string, mime: string): Promise<string>;
  dispose(): void;
}

function base64Bytes(b64: string): Uint8Array<ArrayBuffer> {
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) {
    out[i] = bin.charCodeAt(i);
  }
  return out;
}

/** An {@link ArtifactReader} over `messaging`; `prefix` starts its request ids. */
export function artifactReader(messaging: ArtifactMessaging | undefined, prefix: string): ArtifactReader {
  const canRead = typeof messaging?.postMessage === 'function' && typeof messaging?.onDidReceiveMessage === 'function';
  const pending = new Map<string, (reply: { ok: boolean; base64?: string; mime?: string; error?: string }) => void>();
  const sub = canRead
    ? messaging.onDidReceiveMessage!((e) => {
        if (isArtifactReply(e)) {
          pending.get(e.requestId)?.(e);
          pending.delete(e.requestId);
        }
      })
    : undefined;
  let n = 0;
  return {
    canRead,
    read: (ref, mime) =>
      new Promise((resolve, reject) => {
        if (!canRead) {
          reject(new Error('no messaging with the extension'));
          return;
        }
        const requestId = `${prefix}-${Date.now().toString(36)}-${n++}`;
        pending.set(requestId, (reply) => (reply.ok && reply.base64 ? resolve(URL.createObjectURL(new Blob([base64Bytes(reply.base64)], { type: reply.mime ?? mime }))) : reject(new Error(reply.error ?? 'no data'))));
        const msg: ReadArtifactRequest = { type: 'readArtifact', requestId, ref };
        messaging.postMessage!(msg);
      }),
    dispose: () => sub?.dispose(),
  };
}
