import { type ReadArtifactRequest, isArtifactReply } from '../../common/messages';

/** The renderer messaging used to read run-folder files (optional in VS Code: absent outside it). */
export interface ArtifactMessaging {
  postMessage?(message: unknown): void;
  onDidReceiveMessage?(listener: (e: unknown) => void): { dispose(): void };
}

function base64Bytes(b64: string): Uint8Array<ArrayBuffer> {
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) {
    out[i] = bin.charCodeAt(i);
  }
  return out;
}

/**
 * Asks the host for run-folder files (`readArtifact`) and matches the replies by request id. The one
 * reader every renderer uses; {@link artifactReader} wraps it for images shown as Blob URLs.
 */
export class ArtifactClient {
  private readonly _pending = new Map<string, { resolve(v: { bytes: Uint8Array<ArrayBuffer>; mime: string }): void; reject(e: Error): void }>();
  private readonly _sub?: { dispose(): void };
  private _n = 0;

  /** `prefix` starts the request ids (which renderer asked, in the host's log). */
  constructor(
    private readonly _ctx: ArtifactMessaging | undefined,
    private readonly _prefix = 'art',
  ) {
    this._sub = typeof _ctx?.postMessage === 'function' ? _ctx.onDidReceiveMessage?.((e) => this._onMessage(e)) : undefined;
  }

  /** False when the renderer has no messaging (outside VS Code): nothing can be read. */
  get available(): boolean {
    return this._sub !== undefined;
  }

  /** The file `ref` (run-folder relative); rejects with the host's reason. */
  read(ref: string): Promise<{ bytes: Uint8Array<ArrayBuffer>; mime: string }> {
    if (!this.available) {
      return Promise.reject(new Error('Run-folder files load through the AL-Ref extension (renderer messaging is off here).'));
    }
    const requestId = `${this._prefix}-${Date.now().toString(36)}-${this._n++}`;
    const msg: ReadArtifactRequest = { type: 'readArtifact', requestId, ref };
    return new Promise((resolve, reject) => {
      this._pending.set(requestId, { resolve, reject });
      this._ctx?.postMessage?.(msg);
    });
  }

  private _onMessage(e: unknown): void {
    if (!isArtifactReply(e)) {
      return;
    }
    const p = this._pending.get(e.requestId);
    if (!p) {
      return;
    }
    this._pending.delete(e.requestId);
    if (e.ok) {
      p.resolve({ bytes: base64Bytes(e.base64), mime: e.mime });
    } else {
      p.reject(new Error(e.error));
    }
  }

  dispose(): void {
    this._sub?.dispose();
    for (const p of this._pending.values()) {
      p.reject(new Error('disposed'));
    }
    this._pending.clear();
  }
}

/** Reads files of the notebook's run folder through the host, as Blob URLs. */
export interface ArtifactReader {
  /** False when the renderer has no messaging (outside VS Code): nothing can be read. */
  readonly canRead: boolean;
  /** A Blob URL of the file `ref` (run-folder relative); rejects with the host's reason. Revoke it when done. */
  read(ref: string, mime: string): Promise<string>;
  dispose(): void;
}

/** An {@link ArtifactReader} over `messaging`; `prefix` starts its request ids. */
export function artifactReader(messaging: ArtifactMessaging | undefined, prefix: string): ArtifactReader {
  const client = new ArtifactClient(messaging, prefix);
  return {
    canRead: client.available,
    read: async (ref, mime) => {
      const { bytes, mime: sent } = await client.read(ref);
      return URL.createObjectURL(new Blob([bytes], { type: sent || mime }));
    },
    dispose: () => client.dispose(),
  };
}
