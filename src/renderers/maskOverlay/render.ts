/**
 * Mask overlay: the video's frames with each object's mask painted over them, scrubbed with a slider
 * or the arrow keys, played and paused, with an opacity control, per-object colours and the pivot
 * (conditioning) frames marked on the timeline. Frames and masks are run-folder artifacts loaded
 * lazily through the host's `readArtifact` messaging, a few frames ahead of the one shown.
 */
import type { HostToRendererMessage, ReadArtifactRequest } from '../../common/messages';
import { isHostToRendererMessage } from '../../common/messages';
import type { MaskOverlayPayload } from '../../common/payloads';
import { countsFromString } from '../../common/rleCounts';

export type { MaskOverlayPayload };

/** What the renderer needs from `RendererContext` for messaging (both optional: messaging may be off). */
export interface MessagingLike {
  postMessage?(message: unknown): void;
  onDidReceiveMessage?(listener: (e: unknown) => void): { dispose(): void };
}

export interface MaskOverlayView {
  root: HTMLElement;
  slider: HTMLInputElement;
  opacity: HTMLInputElement;
  playButton: HTMLButtonElement;
  marks: HTMLElement[];
  /** The frame shown (or being loaded). */
  readonly frameIndex: number;
  readonly playing: boolean;
  /** Shows a frame; resolves once its image and masks are drawn (or failed). */
  show(frameIndex: number): Promise<void>;
  play(): void;
  pause(): void;
  dispose(): void;
}

/** Returns a problem with the payload, or null when it can be drawn. */
export function checkMaskOverlayPayload(p: unknown): string | null {
  if (!p || typeof p !== 'object') {
    return 'The mask overlay has no payload.';
  }
  const x = p as Partial<MaskOverlayPayload>;
  if (x.version !== 1) {
    return `This mask overlay was written by a newer version (payload version ${String(x.version)}); update the AL-Ref extension.`;
  }
  if (!(typeof x.width === 'number' && x.width > 0 && typeof x.height === 'number' && x.height > 0 && typeof x.frameCount === 'number' && x.frameCount > 0)) {
    return 'The mask overlay payload has no valid size or frame count.';
  }
  if (!x.frames || typeof x.frames.dir !== 'string' || !Array.isArray(x.objects)) {
    return 'The mask overlay payload lists no frames or objects.';
  }
  return null;
}

/** Run-folder reference of frame i. */
export function frameRef(p: MaskOverlayPayload, i: number): string {
  const dir = p.frames.dir.replace(/\/+$/, '');
  return `${dir ? `${dir}/` : ''}${String(i).padStart(p.frames.pad, '0')}${p.frames.ext}`;
}

/** Run lengths of a mask, from either COCO form (number array or compressed string). */
export function rleCounts(counts: string | number[]): number[] {
  return Array.isArray(counts) ? counts : countsFromString(counts);
}

/**
 * Paints one RLE mask (column-major runs) into RGBA pixels (row-major, `width*height*4`) in a colour;
 * returns the number of painted pixels.
 */
export function paintRle(rle: { size: [number, number]; counts: string | number[] }, rgba: Uint8ClampedArray, rgb: [number, number, number]): number {
  const [h, w] = rle.size;
  const counts = rleCounts(rle.counts);
  let pos = 0;
  let painted = 0;
  for (let r = 0; r < counts.length; r++) {
    const end = Math.min(pos + counts[r], w * h);
    if (r % 2 === 1) {
      for (let k = pos; k < end; k++) {
        const x = Math.floor(k / h);
        const y = k - x * h;
        const o = (y * w + x) * 4;
        rgba[o] = rgb[0];
        rgba[o + 1] = rgb[1];
        rgba[o + 2] = rgb[2];
        rgba[o + 3] = 255;
        painted++;
      }
    }
    pos = end;
  }
  return painted;
}

/** `rgb(r, g, b)` / `#rrggbb` -> components; grey when unparseable. */
export function parseColour(c: string): [number, number, number] {
  const m = /rgba?\(\s*(\d+)\s*,\s*(\d+)\s*,\s*(\d+)/.exec(c);
  if (m) {
    return [Number(m[1]), Number(m[2]), Number(m[3])];
  }
  const h = /^#([0-9a-f]{6})$/i.exec(c.trim());
  if (h) {
    const n = parseInt(h[1], 16);
    return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
  }
  return [128, 128, 128];
}

function b64ToBytes(b64: string): Uint8Array {
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) {
    out[i] = bin.charCodeAt(i);
  }
  return out;
}

/** Asks the host for run-folder artifacts and matches replies by request id. */
class ArtifactClient {
  private readonly _pending = new Map<string, { resolve(v: { bytes: Uint8Array; mime: string }): void; reject(e: Error): void }>();
  private readonly _sub?: { dispose(): void };
  private _n = 0;

  constructor(private readonly _ctx: MessagingLike) {
    this._sub = _ctx.onDidReceiveMessage?.((e) => this._onMessage(e));
  }

  get available(): boolean {
    return typeof this._ctx.postMessage === 'function' && this._sub !== undefined;
  }

  read(ref: string): Promise<{ bytes: Uint8Array; mime: string }> {
    if (!this.available) {
      return Promise.reject(new Error('Frames load through the AL-Ref extension (renderer messaging is off here).'));
    }
    const requestId = `mo-${Date.now().toString(36)}-${this._n++}`;
    const msg: ReadArtifactRequest = { type: 'readArtifact', requestId, ref };
    return new Promise((resolve, reject) => {
      this._pending.set(requestId, { resolve, reject });
      this._ctx.postMessage?.(msg);
    });
  }

  private _onMessage(e: unknown): void {
    if (!isHostToRendererMessage(e)) {
      return;
    }
    const m = e as HostToRendererMessage;
    const p = this._pending.get(m.requestId);
    if (!p) {
      return;
    }
    this._pending.delete(m.requestId);
    if (m.ok) {
      p.resolve({ bytes: b64ToBytes(m.base64), mime: m.mime });
    } else {
      p.reject(new Error(m.error));
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

const el = <K extends keyof HTMLElementTagNameMap>(doc: Document, tag: K, cls?: string, text?: string): HTMLElementTagNameMap[K] => {
  const e = doc.createElement(tag);
  if (cls) {
    e.className = cls;
  }
  if (text !== undefined) {
    e.textContent = text;
  }
  return e;
};

/** Frames kept decoded around the one shown. */
const CACHE_FRAMES = 24;
/** Frames requested ahead while playing or after a step. */
const PREFETCH = 3;

/**
 * Builds the overlay into `host`. Nothing is loaded until a frame is shown; the first shown is the
 * first pivot frame (or frame 0).
 */
export function renderMaskOverlay(host: HTMLElement, payload: MaskOverlayPayload, ctx: MessagingLike): MaskOverlayView {
  const doc = host.ownerDocument;
  const client = new ArtifactClient(ctx);
  const root = el(doc, 'figure', 'alref-mask-overlay');
  root.tabIndex = 0;
  const stage = el(doc, 'div', 'alref-mo-stage');
  stage.style.aspectRatio = `${payload.width} / ${payload.height}`;
  const img = el(doc, 'img', 'alref-mo-frame');
  img.alt = '';
  const canvas = el(doc, 'canvas', 'alref-mo-masks');
  canvas.width = payload.width;
  canvas.height = payload.height;
  const status = el(doc, 'div', 'alref-mo-status');
  stage.append(img, canvas, status);

  const controls = el(doc, 'div', 'alref-mo-controls');
  const playButton = el(doc, 'button', 'alref-mo-play', '▶');
  playButton.type = 'button';
  playButton.title = 'Play / pause (space)';
  const timeline = el(doc, 'div', 'alref-mo-timeline');
  const slider = el(doc, 'input', 'alref-mo-slider');
  slider.type = 'range';
  slider.min = '0';
  slider.max = String(payload.frameCount - 1);
  slider.step = '1';
  slider.setAttribute('aria-label', 'Frame');
  const marks: HTMLElement[] = [];
  const pivotSet = new Set<number>();
  for (const o of payload.objects) {
    for (const f of o.pivotFrames) {
      pivotSet.add(f);
    }
  }
  for (const f of [...pivotSet].sort((a, b) => a - b)) {
    const mark = el(doc, 'span', 'alref-mo-mark');
    mark.style.left = `${payload.frameCount > 1 ? (100 * f) / (payload.frameCount - 1) : 0}%`;
    mark.title = `pivot frame ${f}`;
    mark.dataset.frame = String(f);
    marks.push(mark);
  }
  timeline.append(slider, ...marks);
  const label = el(doc, 'span', 'alref-mo-label');
  const opacity = el(doc, 'input', 'alref-mo-opacity');
  opacity.type = 'range';
  opacity.min = '0';
  opacity.max = '1';
  opacity.step = '0.05';
  opacity.value = '0.5';
  opacity.setAttribute('aria-label', 'Mask opacity');
  canvas.style.opacity = opacity.value;
  controls.append(playButton, timeline, label, opacity);

  const legend = el(doc, 'ul', 'alref-mo-legend');
  for (const o of payload.objects) {
    const li = el(doc, 'li', 'alref-mo-legend-row');
    const sw = el(doc, 'span', 'alref-mo-swatch');
    sw.style.background = o.colour;
    li.append(sw, el(doc, 'span', undefined, `${o.objectId}: ${o.text}`));
    legend.append(li);
  }
  root.append(stage, controls, legend);
  if (payload.caption) {
    root.append(el(doc, 'figcaption', undefined, payload.caption));
  }
  host.append(root);

  // caches
  const frameUrls = new Map<number, string>();
  const framePending = new Map<number, Promise<string>>();
  let masks: Array<Promise<Array<{ size: [number, number]; counts: string | number[] }>>> | null = null;
  const loadMasks = () =>
    (masks ??= payload.objects.map((o) =>
      client.read(o.masks.ref).then(({ bytes }) => {
        const list = JSON.parse(new TextDecoder().decode(bytes)) as Array<{ size: [number, number]; counts: string | number[] }>;
        if (!Array.isArray(list) || list.length !== payload.frameCount) {
          throw new Error(`masks of object ${o.objectId} hold ${Array.isArray(list) ? list.length : 0} frames, expected ${payload.frameCount}`);
        }
        return list;
      }),
    ));
  const loadFrame = (i: number): Promise<string> => {
    const have = frameUrls.get(i);
    if (have) {
      return Promise.resolve(have);
    }
    let p = framePending.get(i);
    if (!p) {
      p = client.read(frameRef(payload, i)).then(({ bytes, mime }) => {
        const url = URL.createObjectURL(new Blob([new Uint8Array(bytes)], { type: mime || 'image/jpeg' }));
        frameUrls.set(i, url);
        // bounded cache: drop the frames farthest from the current one
        if (frameUrls.size > CACHE_FRAMES) {
          const far = [...frameUrls.keys()].sort((a, b) => Math.abs(b - current) - Math.abs(a - current))[0];
          URL.revokeObjectURL(frameUrls.get(far) as string);
          frameUrls.delete(far);
        }
        return url;
      });
      framePending.set(i, p);
      p.then(
        () => framePending.delete(i),
        () => framePending.delete(i),
      );
    }
    return p;
  };

  let current = -1;
  let playing = false;
  let timer: ReturnType<typeof setInterval> | undefined;
  let disposed = false;

  const drawMasks = async (i: number) => {
    const lists = await Promise.all(loadMasks());
    if (disposed || i !== current) {
      return;
    }
    const g = canvas.getContext?.('2d') as CanvasRenderingContext2D | null;
    const rgba = new Uint8ClampedArray(payload.width * payload.height * 4);
    let painted = 0;
    payload.objects.forEach((o, k) => {
      const rle = lists[k][i];
      if (rle) {
        painted += paintRle(rle, rgba, parseColour(o.colour));
      }
    });
    canvas.dataset.painted = String(painted);
    if (g) {
      g.putImageData(new ImageData(rgba, payload.width, payload.height), 0, 0);
    }
  };

  const show = async (i: number): Promise<void> => {
    const f = Math.max(0, Math.min(payload.frameCount - 1, Math.round(i)));
    current = f;
    slider.value = String(f);
    label.textContent = `frame ${f} / ${payload.frameCount - 1}${pivotSet.has(f) ? ' (pivot)' : ''}`;
    root.dataset.frame = String(f);
    if (!client.available) {
      status.textContent = 'Frames and masks load through the AL-Ref extension; open the notebook in VS Code with it installed. The contact sheet image shows a summary.';
      return;
    }
    try {
      const [url] = await Promise.all([loadFrame(f), drawMasks(f)]);
      if (disposed || f !== current) {
        return;
      }
      img.src = url;
      status.textContent = '';
      for (let k = 1; k <= PREFETCH && f + k < payload.frameCount; k++) {
        void loadFrame(f + k).catch(() => undefined);
      }
    } catch (err) {
      if (!disposed && f === current) {
        status.textContent = `Cannot load frame ${f}: ${err instanceof Error ? err.message : String(err)}`;
      }
    }
  };

  const fps = Math.max(1, Math.min(30, payload.fps ?? 10));
  const play = () => {
    if (playing) {
      return;
    }
    playing = true;
    playButton.textContent = '⏸';
    root.classList.add('alref-mo-playing');
    let busy = false;
    timer = setInterval(() => {
      if (busy) {
        return;
      }
      busy = true;
      const next = current + 1 >= payload.frameCount ? 0 : current + 1;
      void show(next).finally(() => {
        busy = false;
      });
    }, 1000 / fps);
  };
  const pause = () => {
    playing = false;
    playButton.textContent = '▶';
    root.classList.remove('alref-mo-playing');
    if (timer) {
      clearInterval(timer);
      timer = undefined;
    }
  };

  playButton.addEventListener('click', () => (playing ? pause() : play()));
  slider.addEventListener('input', () => {
    pause();
    void show(Number(slider.value));
  });
  opacity.addEventListener('input', () => {
    canvas.style.opacity = opacity.value;
  });
  for (const m of marks) {
    m.addEventListener('click', () => {
      pause();
      void show(Number(m.dataset.frame));
    });
  }
  root.addEventListener('keydown', (e: KeyboardEvent) => {
    const step = e.shiftKey ? 10 : 1;
    if (e.key === 'ArrowRight') {
      pause();
      void show(current + step);
    } else if (e.key === 'ArrowLeft') {
      pause();
      void show(current - step);
    } else if (e.key === 'Home') {
      pause();
      void show(0);
    } else if (e.key === 'End') {
      pause();
      void show(payload.frameCount - 1);
    } else if (e.key === ' ') {
      if (playing) {
        pause();
      } else {
        play();
      }
    } else {
      return;
    }
    e.preventDefault();
  });

  void show(pivotSet.size > 0 ? Math.min(...pivotSet) : 0);

  return {
    root,
    slider,
    opacity,
    playButton,
    marks,
    get frameIndex() {
      return current;
    },
    get playing() {
      return playing;
    },
    show,
    play,
    pause,
    dispose: () => {
      disposed = true;
      pause();
      client.dispose();
      for (const url of frameUrls.values()) {
        URL.revokeObjectURL(url);
      }
      frameUrls.clear();
    },
  };
}

/** Draws an inline error box instead of the overlay. */
export function renderMaskOverlayError(host: HTMLElement, message: string): void {
  const box = host.ownerDocument.createElement('div');
  box.className = 'alref-mo-error';
  box.textContent = message;
  host.append(box);
}
