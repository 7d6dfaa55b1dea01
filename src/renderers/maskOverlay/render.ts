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
function parseColour(c: string): [number, number, number] {
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

/** The elements of one overlay. */
interface OverlayDom {
  root: HTMLElement;
  img: HTMLImageElement;
  canvas: HTMLCanvasElement;
  status: HTMLElement;
  playButton: HTMLButtonElement;
  slider: HTMLInputElement;
  marks: HTMLElement[];
  label: HTMLElement;
  opacity: HTMLInputElement;
}

/** One RLE mask per frame of one object. */
type MaskList = Array<{ size: [number, number]; counts: string | number[] }>;

/** The frames where any object is conditioned, in order. */
function pivotFrames(payload: MaskOverlayPayload): number[] {
  return [...new Set(payload.objects.flatMap((o) => o.pivotFrames))].sort((a, b) => a - b);
}

/** The frame picture with the mask canvas over it and a status line. */
function buildStage(doc: Document, payload: MaskOverlayPayload): { stage: HTMLElement; img: HTMLImageElement; canvas: HTMLCanvasElement; status: HTMLElement } {
  const stage = el(doc, 'div', 'alref-mo-stage');
  stage.style.aspectRatio = `${payload.width} / ${payload.height}`;
  const img = el(doc, 'img', 'alref-mo-frame');
  img.alt = '';
  const canvas = el(doc, 'canvas', 'alref-mo-masks');
  canvas.width = payload.width;
  canvas.height = payload.height;
  const status = el(doc, 'div', 'alref-mo-status');
  stage.append(img, canvas, status);
  return { stage, img, canvas, status };
}

/** The frame slider with a clickable mark per pivot frame. */
function buildTimeline(doc: Document, payload: MaskOverlayPayload, pivots: number[]): { timeline: HTMLElement; slider: HTMLInputElement; marks: HTMLElement[] } {
  const timeline = el(doc, 'div', 'alref-mo-timeline');
  const slider = el(doc, 'input', 'alref-mo-slider');
  slider.type = 'range';
  slider.min = '0';
  slider.max = String(payload.frameCount - 1);
  slider.step = '1';
  slider.setAttribute('aria-label', 'Frame');
  const marks = pivots.map((f) => {
    const mark = el(doc, 'span', 'alref-mo-mark');
    mark.style.left = `${payload.frameCount > 1 ? (100 * f) / (payload.frameCount - 1) : 0}%`;
    mark.title = `pivot frame ${f}`;
    mark.dataset.frame = String(f);
    return mark;
  });
  timeline.append(slider, ...marks);
  return { timeline, slider, marks };
}

/** One row per object: its colour and `id: text`. */
function buildLegend(doc: Document, payload: MaskOverlayPayload): HTMLElement {
  const legend = el(doc, 'ul', 'alref-mo-legend');
  for (const o of payload.objects) {
    const li = el(doc, 'li', 'alref-mo-legend-row');
    const sw = el(doc, 'span', 'alref-mo-swatch');
    sw.style.background = o.colour;
    li.append(sw, el(doc, 'span', undefined, `${o.objectId}: ${o.text}`));
    legend.append(li);
  }
  return legend;
}

/** Builds the overlay's elements into `host`: stage, controls (play, timeline, label, opacity), legend, caption. */
function buildDom(host: HTMLElement, payload: MaskOverlayPayload, pivots: number[]): OverlayDom {
  const doc = host.ownerDocument;
  const root = el(doc, 'figure', 'alref-mask-overlay');
  root.tabIndex = 0;
  const { stage, img, canvas, status } = buildStage(doc, payload);
  const controls = el(doc, 'div', 'alref-mo-controls');
  const playButton = el(doc, 'button', 'alref-mo-play', '▶');
  playButton.type = 'button';
  playButton.title = 'Play / pause (space)';
  const { timeline, slider, marks } = buildTimeline(doc, payload, pivots);
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
  root.append(stage, controls, buildLegend(doc, payload));
  if (payload.caption) {
    root.append(el(doc, 'figcaption', undefined, payload.caption));
  }
  host.append(root);
  return { root, img, canvas, status, playButton, slider, marks, label, opacity };
}

/**
 * Frame pictures as object URLs, loaded once each; at most {@link CACHE_FRAMES} are kept, the ones
 * farthest from the frame shown (`near()`) dropped first.
 */
class FrameCache {
  private readonly _urls = new Map<number, string>();
  private readonly _pending = new Map<number, Promise<string>>();

  constructor(
    private readonly _client: ArtifactClient,
    private readonly _payload: MaskOverlayPayload,
    private readonly _near: () => number,
  ) {}

  load(i: number): Promise<string> {
    const have = this._urls.get(i);
    if (have) {
      return Promise.resolve(have);
    }
    let p = this._pending.get(i);
    if (!p) {
      p = this._client.read(frameRef(this._payload, i)).then(({ bytes, mime }) => {
        const url = URL.createObjectURL(new Blob([new Uint8Array(bytes)], { type: mime || 'image/jpeg' }));
        this._urls.set(i, url);
        this._evict();
        return url;
      });
      this._pending.set(i, p);
      p.then(
        () => this._pending.delete(i),
        () => this._pending.delete(i),
      );
    }
    return p;
  }

  private _evict(): void {
    if (this._urls.size > CACHE_FRAMES) {
      const current = this._near();
      const far = [...this._urls.keys()].sort((a, b) => Math.abs(b - current) - Math.abs(a - current))[0];
      URL.revokeObjectURL(this._urls.get(far) as string);
      this._urls.delete(far);
    }
  }

  dispose(): void {
    for (const url of this._urls.values()) {
      URL.revokeObjectURL(url);
    }
    this._urls.clear();
  }
}

/** Loads every object's mask list once (on first use); each must hold one mask per frame. */
function maskLoader(client: ArtifactClient, payload: MaskOverlayPayload): () => Promise<MaskList[]> {
  let masks: Promise<MaskList[]> | null = null;
  return () =>
    (masks ??= Promise.all(
      payload.objects.map((o) =>
        client.read(o.masks.ref).then(({ bytes }) => {
          const list = JSON.parse(new TextDecoder().decode(bytes)) as MaskList;
          if (!Array.isArray(list) || list.length !== payload.frameCount) {
            throw new Error(`masks of object ${o.objectId} hold ${Array.isArray(list) ? list.length : 0} frames, expected ${payload.frameCount}`);
          }
          return list;
        }),
      ),
    ));
}

/** Paints frame `i` of every object's masks into the canvas; `data-painted` counts the pixels. */
function paintFrameMasks(canvas: HTMLCanvasElement, payload: MaskOverlayPayload, lists: MaskList[], i: number): void {
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
}

/** What a key press does: a frame to show (the player pauses), `toggle` (play / pause), or nothing. */
function keyAction(e: KeyboardEvent, current: number, frameCount: number): number | 'toggle' | undefined {
  const step = e.shiftKey ? 10 : 1;
  switch (e.key) {
    case 'ArrowRight':
      return current + step;
    case 'ArrowLeft':
      return current - step;
    case 'Home':
      return 0;
    case 'End':
      return frameCount - 1;
    case ' ':
      return 'toggle';
    default:
      return undefined;
  }
}

/** Wires the controls: play button, slider, opacity, pivot marks and keys. */
function bindControls(dom: OverlayDom, payload: MaskOverlayPayload, player: { show(i: number): Promise<void>; play(): void; pause(): void; readonly playing: boolean; readonly current: number }): void {
  const jump = (i: number): void => {
    player.pause();
    void player.show(i);
  };
  const toggle = (): void => (player.playing ? player.pause() : player.play());
  dom.playButton.addEventListener('click', toggle);
  dom.slider.addEventListener('input', () => jump(Number(dom.slider.value)));
  dom.opacity.addEventListener('input', () => {
    dom.canvas.style.opacity = dom.opacity.value;
  });
  for (const m of dom.marks) {
    m.addEventListener('click', () => jump(Number(m.dataset.frame)));
  }
  dom.root.addEventListener('keydown', (e: KeyboardEvent) => {
    const action = keyAction(e, player.current, payload.frameCount);
    if (action === undefined) {
      return;
    }
    if (action === 'toggle') {
      toggle();
    } else {
      jump(action);
    }
    e.preventDefault();
  });
}

/**
 * Builds the overlay into `host`. Nothing is loaded until a frame is shown; the first shown is the
 * first pivot frame (or frame 0).
 */
export function renderMaskOverlay(host: HTMLElement, payload: MaskOverlayPayload, ctx: MessagingLike): MaskOverlayView {
  const client = new ArtifactClient(ctx);
  const pivots = pivotFrames(payload);
  const pivotSet = new Set(pivots);
  const dom = buildDom(host, payload, pivots);
  const { root, img, canvas, status, playButton, slider, label } = dom;

  let current = -1;
  let playing = false;
  let timer: ReturnType<typeof setInterval> | undefined;
  let disposed = false;
  const frames = new FrameCache(client, payload, () => current);
  const loadMasks = maskLoader(client, payload);

  const drawMasks = async (i: number) => {
    const lists = await loadMasks();
    if (!disposed && i === current) {
      paintFrameMasks(canvas, payload, lists, i);
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
      const [url] = await Promise.all([frames.load(f), drawMasks(f)]);
      if (disposed || f !== current) {
        return;
      }
      img.src = url;
      status.textContent = '';
      for (let k = 1; k <= PREFETCH && f + k < payload.frameCount; k++) {
        void frames.load(f + k).catch(() => undefined);
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

  bindControls(dom, payload, {
    show,
    play,
    pause,
    get playing() {
      return playing;
    },
    get current() {
      return current;
    },
  });

  void show(pivots.length > 0 ? pivots[0] : 0);

  return {
    root,
    slider,
    opacity: dom.opacity,
    playButton,
    marks: dom.marks,
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
      frames.dispose();
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
