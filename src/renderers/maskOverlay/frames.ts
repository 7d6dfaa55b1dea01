/**
 * Run-folder artifacts for the mask overlay: the host's `readArtifact` messaging, and the video's
 * frames loaded and decoded ahead of the one shown so that playback only draws pictures that are
 * ready (see ./playback.ts).
 */
import type { MaskOverlayPayload } from '../../common/payloads';
import type { ArtifactClient, ArtifactMessaging } from '../lib/artifacts';

/** What the renderer needs from `RendererContext` for messaging (both optional: messaging may be off). */
export type MessagingLike = ArtifactMessaging;

/** Run-folder reference of frame i. */
export function frameRef(p: MaskOverlayPayload, i: number): string {
  const dir = p.frames.dir.replace(/\/+$/, '');
  return `${dir ? `${dir}/` : ''}${String(i).padStart(p.frames.pad, '0')}${p.frames.ext}`;
}

/** A decoded frame picture, ready to draw. */
export interface DecodedFrame {
  /** Object URL of the picture's bytes (revoked when the frame leaves the cache). */
  url: string;
  image: CanvasImageSource;
}

/**
 * Decodes a picture off the drawing path: `createImageBitmap` where the webview has it, otherwise
 * an `<img>` decoded with `decode()` (or only loading, where neither exists).
 */
async function decodePicture(win: Window | null, blob: Blob, url: string): Promise<CanvasImageSource> {
  if (win && typeof win.createImageBitmap === 'function') {
    return win.createImageBitmap(blob);
  }
  const img = (win?.document ?? document).createElement('img');
  img.src = url;
  if (typeof img.decode === 'function') {
    await img.decode().catch(() => undefined);
  }
  return img;
}

/** Frame distance on a looping timeline of `n` frames. */
function loopDistance(a: number, b: number, n: number): number {
  const d = Math.abs(a - b);
  return Math.min(d, n - d);
}

/**
 * The video's frames, loaded and decoded once each; at most `capacity` are kept, the ones farthest
 * from the frame shown (`near()`, on the looping timeline) dropped first.
 */
export class FrameCache {
  private readonly _ready = new Map<number, DecodedFrame>();
  private readonly _pending = new Map<number, Promise<DecodedFrame>>();
  private _disposed = false;

  constructor(
    private readonly _client: ArtifactClient,
    private readonly _payload: MaskOverlayPayload,
    private readonly _win: Window | null,
    private readonly _near: () => number,
    private readonly _capacity: number,
  ) {}

  /** Frame i when it is decoded, without waiting. */
  ready(i: number): DecodedFrame | undefined {
    return this._ready.get(i);
  }

  load(i: number): Promise<DecodedFrame> {
    const have = this._ready.get(i);
    if (have) {
      return Promise.resolve(have);
    }
    let p = this._pending.get(i);
    if (!p) {
      p = this._client.read(frameRef(this._payload, i)).then(async ({ bytes, mime }) => {
        const blob = new Blob([new Uint8Array(bytes)], { type: mime || 'image/jpeg' });
        const url = URL.createObjectURL(blob);
        const frame: DecodedFrame = { url, image: await decodePicture(this._win, blob, url) };
        if (this._disposed) {
          release(frame);
          throw new Error('disposed');
        }
        this._ready.set(i, frame);
        this._evict();
        return frame;
      });
      this._pending.set(i, p);
      p.then(
        () => this._pending.delete(i),
        () => this._pending.delete(i),
      );
    }
    return p;
  }

  /** Starts loading the `count` frames after `i` (wrapping to the start), never waiting. */
  prefetch(i: number, count: number): void {
    const n = this._payload.frameCount;
    for (let k = 1; k <= Math.min(count, n - 1); k++) {
      const j = (i + k) % n;
      if (!this._ready.has(j) && !this._pending.has(j)) {
        void this.load(j).catch(() => undefined);
      }
    }
  }

  private _evict(): void {
    const n = this._payload.frameCount;
    while (this._ready.size > this._capacity) {
      const current = this._near();
      const far = [...this._ready.keys()].sort((a, b) => loopDistance(b, current, n) - loopDistance(a, current, n))[0];
      release(this._ready.get(far) as DecodedFrame);
      this._ready.delete(far);
    }
  }

  dispose(): void {
    this._disposed = true;
    for (const f of this._ready.values()) {
      release(f);
    }
    this._ready.clear();
  }
}

function release(frame: DecodedFrame): void {
  URL.revokeObjectURL(frame.url);
  const closable = frame.image as { close?: () => void };
  if (typeof closable.close === 'function') {
    closable.close();
  }
}
