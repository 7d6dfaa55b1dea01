/**
 * Mask overlay: the video's frames with each object's mask painted over them, scrubbed with a slider
 * or the arrow keys, played at the video's frame rate and paused, with a labelled opacity control, a
 * legend that hides and shows each object, and each object's pivot (conditioning) frames marked on the
 * timeline in its colour. Frames and masks are run-folder artifacts loaded lazily through the host's
 * `readArtifact` messaging and decoded ahead of the frame shown (./frames.ts); playback follows the
 * clock and skips a frame that is not decoded in time (./playback.ts).
 */
import type { MaskOverlayPayload } from '../../common/payloads';
import { countsFromString } from '../../common/rleCounts';
import { ArtifactClient } from '../lib/artifacts';
import { FrameCache, type MessagingLike } from './frames';
import { Playback, playbackFps, webviewClock, type FrameClock, type PlaybackStats } from './playback';
import { el } from '../lib/dom';

export type { MaskOverlayPayload, MessagingLike, FrameClock, PlaybackStats };
export { frameRef } from './frames';

export interface MaskOverlayView {
  root: HTMLElement;
  slider: HTMLInputElement;
  opacity: HTMLInputElement;
  playButton: HTMLButtonElement;
  /** One mark per object and pivot frame, in the object's colour. */
  marks: HTMLElement[];
  /** One toggle per object (`aria-pressed`: shown). */
  legend: HTMLButtonElement[];
  /** The frame shown (or being loaded). */
  readonly frameIndex: number;
  readonly playing: boolean;
  /** Counts of the current or last play. */
  readonly playback: PlaybackStats;
  /** Shows a frame; resolves once its image and masks are drawn (or failed). */
  show(frameIndex: number): Promise<void>;
  play(): void;
  pause(): void;
  /** Shows or hides one object's masks. */
  setObjectVisible(objectId: number, visible: boolean): void;
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

/** Frames kept decoded around the one shown. */
const CACHE_FRAMES = 48;
/** Frames loaded and decoded ahead of the one shown (about half a second at 30 fps). */
const PREFETCH = 15;

/** The elements of one overlay. */
interface OverlayDom {
  root: HTMLElement;
  frame: HTMLCanvasElement;
  canvas: HTMLCanvasElement;
  status: HTMLElement;
  playButton: HTMLButtonElement;
  slider: HTMLInputElement;
  marks: HTMLElement[];
  label: HTMLElement;
  opacity: HTMLInputElement;
  legend: HTMLButtonElement[];
}

/** One RLE mask per frame of one object. */
type MaskList = Array<{ size: [number, number]; counts: string | number[] }>;

/** The frames where any object is conditioned, in order. */
function pivotFrames(payload: MaskOverlayPayload): number[] {
  return [...new Set(payload.objects.flatMap((o) => o.pivotFrames))].sort((a, b) => a - b);
}

/** The frame picture (a canvas the decoded frames are drawn into) with the mask canvas over it and a status line. */
function buildStage(doc: Document, payload: MaskOverlayPayload): { stage: HTMLElement; frame: HTMLCanvasElement; canvas: HTMLCanvasElement; status: HTMLElement } {
  const stage = el(doc, 'div', 'alref-mo-stage');
  stage.style.aspectRatio = `${payload.width} / ${payload.height}`;
  const frame = el(doc, 'canvas', 'alref-mo-frame');
  frame.width = payload.width;
  frame.height = payload.height;
  frame.setAttribute('role', 'img');
  const canvas = el(doc, 'canvas', 'alref-mo-masks');
  canvas.width = payload.width;
  canvas.height = payload.height;
  const status = el(doc, 'div', 'alref-mo-status');
  stage.append(frame, canvas, status);
  return { stage, frame, canvas, status };
}

/**
 * The frame slider with a clickable mark per object and pivot frame, in the object's colour; objects
 * conditioned on the same frame stack their marks.
 */
function buildTimeline(doc: Document, payload: MaskOverlayPayload): { timeline: HTMLElement; slider: HTMLInputElement; marks: HTMLElement[] } {
  const timeline = el(doc, 'div', 'alref-mo-timeline');
  const slider = el(doc, 'input', 'alref-mo-slider');
  slider.type = 'range';
  slider.min = '0';
  slider.max = String(payload.frameCount - 1);
  slider.step = '1';
  slider.setAttribute('aria-label', 'Frame');
  const onFrame = new Map<number, number>();
  const marks = payload.objects.flatMap((o) =>
    [...new Set(o.pivotFrames)].map((f) => {
      const stack = onFrame.get(f) ?? 0;
      onFrame.set(f, stack + 1);
      const mark = el(doc, 'span', 'alref-mo-mark');
      mark.style.left = `${payload.frameCount > 1 ? (100 * f) / (payload.frameCount - 1) : 0}%`;
      mark.style.background = o.colour;
      mark.style.setProperty('--alref-mo-stack', String(stack));
      mark.title = `pivot frame ${f} of object ${o.objectId}: ${o.text}`;
      mark.dataset.frame = String(f);
      mark.dataset.object = String(o.objectId);
      return mark;
    }),
  );
  timeline.append(slider, ...marks);
  return { timeline, slider, marks };
}

/** One toggle button per object: its colour and `id: text`; pressed while the object's masks are shown. */
function buildLegend(doc: Document, payload: MaskOverlayPayload): { legend: HTMLElement; toggles: HTMLButtonElement[] } {
  const legend = el(doc, 'ul', 'alref-mo-legend');
  legend.setAttribute('aria-label', 'Objects (click to hide or show)');
  const toggles = payload.objects.map((o) => {
    const li = el(doc, 'li', 'alref-mo-legend-row');
    const b = el(doc, 'button', 'alref-mo-legend-toggle');
    b.type = 'button';
    b.dataset.object = String(o.objectId);
    const sw = el(doc, 'span', 'alref-mo-swatch');
    sw.style.background = o.colour;
    sw.style.borderColor = o.colour;
    b.append(sw, el(doc, 'span', undefined, `${o.objectId}: ${o.text}`));
    li.append(b);
    legend.append(li);
    return b;
  });
  return { legend, toggles };
}

/** The longest frame label, so that the label keeps one width (the slider beside it never moves). */
function longestLabel(frameCount: number): string {
  const last = frameCount - 1;
  return `frame ${last} / ${last} (pivot)`;
}

/** Builds the overlay's elements into `host`: stage, controls (play, timeline, label, opacity), legend, caption. */
function buildDom(host: HTMLElement, payload: MaskOverlayPayload): OverlayDom {
  const doc = host.ownerDocument;
  const root = el(doc, 'figure', 'alref-mask-overlay');
  root.tabIndex = 0;
  const { stage, frame, canvas, status } = buildStage(doc, payload);
  const controls = el(doc, 'div', 'alref-mo-controls');
  const playButton = el(doc, 'button', 'alref-mo-play', '▶');
  playButton.type = 'button';
  playButton.title = 'Play / pause (space)';
  playButton.setAttribute('aria-label', 'Play');
  const { timeline, slider, marks } = buildTimeline(doc, payload);
  const label = el(doc, 'span', 'alref-mo-label');
  // A fixed width (in ch, digits are tabular) for the longest label, "(pivot)" included.
  label.style.width = `${longestLabel(payload.frameCount).length + 1}ch`;
  const opacityLabel = el(doc, 'label', 'alref-mo-opacity-label');
  const opacity = el(doc, 'input', 'alref-mo-opacity');
  opacity.type = 'range';
  opacity.min = '0';
  opacity.max = '1';
  opacity.step = '0.05';
  opacity.value = '0.5';
  opacity.setAttribute('aria-label', 'Mask opacity');
  opacityLabel.append(el(doc, 'span', undefined, 'Opacity'), opacity);
  canvas.style.opacity = opacity.value;
  controls.append(playButton, timeline, label, opacityLabel);
  const { legend, toggles } = buildLegend(doc, payload);
  root.append(stage, controls, legend);
  if (payload.caption) {
    root.append(el(doc, 'figcaption', undefined, payload.caption));
  }
  host.append(root);
  return { root, frame, canvas, status, playButton, slider, marks, label, opacity, legend: toggles };
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

/**
 * Paints frame `i` of the masks of every shown object into the canvas (`rgba` is reused from frame
 * to frame); `data-painted` counts the pixels.
 */
function paintFrameMasks(canvas: HTMLCanvasElement, payload: MaskOverlayPayload, lists: MaskList[], i: number, hidden: ReadonlySet<number>, rgba: Uint8ClampedArray<ArrayBuffer>): void {
  const g = canvas.getContext?.('2d') as CanvasRenderingContext2D | null;
  rgba.fill(0);
  let painted = 0;
  payload.objects.forEach((o, k) => {
    const rle = lists[k][i];
    if (rle && !hidden.has(o.objectId)) {
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

/** What the controls drive. */
interface Player {
  show(i: number): Promise<void>;
  play(): void;
  pause(): void;
  toggleObject(objectId: number): void;
  readonly playing: boolean;
  readonly current: number;
}

/** Wires the controls: play button, slider, opacity, pivot marks, legend toggles and keys. */
function bindControls(dom: OverlayDom, payload: MaskOverlayPayload, player: Player): void {
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
  for (const b of dom.legend) {
    b.addEventListener('click', () => player.toggleObject(Number(b.dataset.object)));
  }
  dom.root.addEventListener('keydown', (e: KeyboardEvent) => {
    // A legend button takes its own Space / Enter (it toggles its object).
    if (dom.legend.includes(e.target as HTMLButtonElement) && (e.key === ' ' || e.key === 'Enter')) {
      return;
    }
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

/** The frame label: `frame 10 / 39 (pivot)`. */
function frameLabel(f: number, frameCount: number, pivot: boolean): string {
  return `frame ${f} / ${frameCount - 1}${pivot ? ' (pivot)' : ''}`;
}

/**
 * Builds the overlay into `host`. Nothing is loaded until a frame is shown; the first shown is the
 * first pivot frame (or frame 0). `clock` drives playback (the webview's animation frames by default).
 */
export function renderMaskOverlay(host: HTMLElement, payload: MaskOverlayPayload, ctx: MessagingLike, clock?: FrameClock): MaskOverlayView {
  const win = host.ownerDocument.defaultView;
  const client = new ArtifactClient(ctx, 'mo');
  const pivots = pivotFrames(payload);
  const pivotSet = new Set(pivots);
  const dom = buildDom(host, payload);
  const { root, frame, canvas, status, playButton, slider, label } = dom;

  let current = -1;
  let disposed = false;
  let lists: MaskList[] | undefined;
  const hidden = new Set<number>();
  const rgba = new Uint8ClampedArray(payload.width * payload.height * 4);
  const frames = new FrameCache(client, payload, win, () => current, CACHE_FRAMES);
  const loadMasks = maskLoader(client, payload);

  const setPosition = (f: number): void => {
    current = f;
    slider.value = String(f);
    label.textContent = frameLabel(f, payload.frameCount, pivotSet.has(f));
    frame.setAttribute('aria-label', `Video ${label.textContent}`);
    root.dataset.frame = String(f);
  };
  /** Draws decoded frame f and its masks now. */
  const drawNow = (f: number): void => {
    const decoded = frames.ready(f);
    if (!decoded) {
      return;
    }
    setPosition(f);
    const g = frame.getContext?.('2d') as CanvasRenderingContext2D | null;
    g?.drawImage(decoded.image, 0, 0, payload.width, payload.height);
    frame.dataset.drawn = String(f);
    if (lists) {
      paintFrameMasks(canvas, payload, lists, f, hidden, rgba);
    }
    status.textContent = '';
  };

  const show = async (i: number): Promise<void> => {
    const f = Math.max(0, Math.min(payload.frameCount - 1, Math.round(i)));
    setPosition(f);
    if (!client.available) {
      status.textContent = 'Frames and masks load through the AL-Ref extension; open the notebook in VS Code with it installed. The contact sheet image shows a summary.';
      return;
    }
    try {
      const [, loaded] = await Promise.all([frames.load(f), loadMasks()]);
      lists = loaded;
      if (disposed || f !== current) {
        return;
      }
      drawNow(f);
      frames.prefetch(f, PREFETCH);
    } catch (err) {
      if (!disposed && f === current) {
        status.textContent = `Cannot load frame ${f}: ${err instanceof Error ? err.message : String(err)}`;
      }
    }
  };

  const playback = new Playback(clock ?? webviewClock(win), playbackFps(payload.fps), payload.frameCount, {
    // Masks are loaded before playing, so a ready frame is drawn with its masks.
    isReady: (i) => frames.ready(i) !== undefined && lists !== undefined,
    draw: drawNow,
    prefetch: (i) => frames.prefetch(i, PREFETCH),
  });
  root.dataset.fps = String(playback.fps);

  const setPlaying = (on: boolean): void => {
    playButton.textContent = on ? '⏸' : '▶';
    playButton.setAttribute('aria-label', on ? 'Pause' : 'Play');
    root.classList.toggle('alref-mo-playing', on);
  };
  const play = (): void => {
    if (playback.playing || disposed) {
      return;
    }
    setPlaying(true);
    if (client.available) {
      void loadMasks().then(
        (l) => {
          lists = l;
        },
        () => undefined,
      );
    }
    playback.start(Math.max(0, current) >= payload.frameCount - 1 ? 0 : Math.max(0, current));
  };
  const pause = (): void => {
    playback.stop();
    setPlaying(false);
  };

  const setObjectVisible = (objectId: number, visible: boolean): void => {
    if (visible) {
      hidden.delete(objectId);
    } else {
      hidden.add(objectId);
    }
    for (const b of dom.legend.filter((x) => Number(x.dataset.object) === objectId)) {
      const o = payload.objects.find((x) => x.objectId === objectId);
      b.setAttribute('aria-pressed', String(visible));
      b.classList.toggle('alref-mo-hidden', !visible);
      b.title = `${visible ? 'Hide' : 'Show'} object ${objectId}${o ? ` (${o.text})` : ''}`;
    }
    for (const m of dom.marks.filter((x) => Number(x.dataset.object) === objectId)) {
      m.classList.toggle('alref-mo-hidden', !visible);
    }
    if (lists && current >= 0) {
      paintFrameMasks(canvas, payload, lists, current, hidden, rgba);
    }
  };
  payload.objects.forEach((o) => setObjectVisible(o.objectId, true));

  bindControls(dom, payload, {
    show,
    play,
    pause,
    toggleObject: (id) => setObjectVisible(id, hidden.has(id)),
    get playing() {
      return playback.playing;
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
    legend: dom.legend,
    get frameIndex() {
      return current;
    },
    get playing() {
      return playback.playing;
    },
    get playback() {
      return playback.stats;
    },
    show,
    play,
    pause,
    setObjectVisible,
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
