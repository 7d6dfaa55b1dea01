import type { ApplyOverrideRequest } from '../../common/messages';
import type { FrameGridPayload, FrameGridTilePayload, FullImagePayload } from '../../common/payloads';
import { type ArtifactMessaging, artifactReader } from '../lib/artifacts';

/**
 * DOM of the frame-grid renderer: the grid image (exactly what the LLM received) with one
 * focusable button per tile. Hovering or focusing a tile shows it enlarged in an overlay over the grid
 * (absolutely positioned: it never changes the height of the output, so the page does not move under
 * the pointer) with its frame id, frame index and time; clicking (or Enter/Space) pins the enlarged
 * view, Escape closes it, arrow keys move between tiles. When the grid has a full-size original in
 * the run folder (`options.full`) and the host answers messages, the enlarged view's "Full size"
 * button opens it: the grid at its own size and the enlarged tile cut from it (tiles have no
 * per-frame original; the full-size grid holds each frame as sent). On a pivot-frame cell's grid
 * (payload `pivot`) with messaging, the enlarged view has a "Make this the pivot" button that asks
 * the host to write the tile's frame into the cell's `overrides:` (`applyOverride`). Everything is built with
 * textContent: captions are data.
 */

/** The full-size original of the grid and the messaging to read it (both optional). */
export interface FrameGridOptions {
  full?: FullImagePayload;
  messaging?: ArtifactMessaging;
}

export interface FrameGridView {
  root: HTMLElement;
  tiles: HTMLButtonElement[];
  zoom: HTMLElement;
  /** Shows tile `i` enlarged (`pin` keeps it open when the pointer leaves). */
  show(i: number, pin?: boolean): void;
  hide(): void;
  /** Switches between the full-size original and the display image; resolves once shown or failed. */
  toggleFull(): Promise<void>;
  dispose(): void;
}

/** Why a payload cannot be drawn, or undefined when it can. */
export function checkFrameGridPayload(payload: unknown): string | undefined {
  if (payload === undefined || payload === null || typeof payload !== 'object') {
    return 'This frame grid has no payload in its output metadata (metadata.alref).';
  }
  const p = payload as Partial<FrameGridPayload>;
  if (p.version !== 1) {
    return `This frame grid was written in payload version ${String(p.version)}; this version of AL-Ref Notebooks reads version 1. Update the extension.`;
  }
  if (!(Number(p.width) > 0) || !(Number(p.height) > 0) || !Array.isArray(p.tiles)) {
    return 'This frame grid payload lacks its size or tiles.';
  }
  return undefined;
}

/** MIME type of PNG/JPEG bytes by their signature. */
export function sniffImageMime(bytes: Uint8Array): string {
  if (bytes[0] === 0x89 && bytes[1] === 0x50 && bytes[2] === 0x4e && bytes[3] === 0x47) {
    return 'image/png';
  }
  if (bytes[0] === 0xff && bytes[1] === 0xd8) {
    return 'image/jpeg';
  }
  return 'application/octet-stream';
}

/** `Frame id 3 · frame 25 · 1.00 s` (filmstrips have no ids). */
function tileLabel(tile: FrameGridTilePayload, kind: FrameGridPayload['kind']): string {
  const t = `${Number(tile.timeSec).toFixed(2)} s`;
  return kind === 'filmstrip' ? `Frame ${tile.frameIndex} · ${t}` : `Frame id ${tile.frameId} · frame ${tile.frameIndex} · ${t}`;
}

function pct(v: number, of: number): string {
  return `${((100 * v) / of).toFixed(4)}%`;
}

/** Draws an inline error box (never throws). */
export function renderFrameGridError(host: HTMLElement, message: string): void {
  const doc = host.ownerDocument;
  const box = doc.createElement('div');
  box.className = 'alref-fg-error';
  box.setAttribute('role', 'alert');
  box.textContent = message;
  host.replaceChildren(box);
}

/** Largest zoom factor: an enlarged tile is at most this many times its size in the grid. */
const MAX_ZOOM = 4;
/** Target width in CSS pixels of an enlarged tile. */
const ZOOM_WIDTH = 640;
/** Room kept around the enlarged tile inside the grid (padding and the label bar), CSS pixels. */
const ZOOM_FRAME_W = 16;
const ZOOM_FRAME_H = 44;
/** The enlarged tile is never made smaller than this height to fit a short grid (it then overhangs). */
const ZOOM_MIN_HEIGHT = 200;

/**
 * Size in CSS pixels of the enlarged tile: up to {@link MAX_ZOOM} times the tile and about
 * {@link ZOOM_WIDTH} wide, shrunk to fit the grid as drawn (`box`, empty before layout).
 */
export function zoomSize(tile: { width: number; height: number }, box: { width: number; height: number }): { width: number; height: number } {
  const k = Math.max(1, Math.min(MAX_ZOOM, ZOOM_WIDTH / tile.width));
  let w = tile.width * k;
  let h = tile.height * k;
  if (box.width > 0 && box.height > 0) {
    const fit = Math.min(1, (box.width - ZOOM_FRAME_W) / w, Math.max(box.height - ZOOM_FRAME_H, ZOOM_MIN_HEIGHT) / h);
    if (fit > 0) {
      w *= fit;
      h *= fit;
    }
  }
  return { width: Math.round(w), height: Math.round(h) };
}

/** Builds the grid into `host`. Call `dispose()` to revoke the image's Blob URL. */
export function renderFrameGrid(host: HTMLElement, image: Uint8Array, payload: FrameGridPayload, options: FrameGridOptions = {}): FrameGridView {
  const doc = host.ownerDocument;
  const url = URL.createObjectURL(new Blob([new Uint8Array(image)], { type: sniffImageMime(image) }));
  const { width: W, height: H } = payload;
  const kind = payload.kind ?? 'clip';

  const root = doc.createElement('figure');
  root.className = 'alref-fg';
  const stage = doc.createElement('div');
  stage.className = 'alref-fg-stage';
  const img = doc.createElement('img');
  img.src = url;
  img.width = W;
  img.height = H;
  img.alt = payload.caption ?? (kind === 'filmstrip' ? 'Filmstrip' : `Frame grid of clip ${payload.clipIndex + 1}`);
  img.draggable = false;
  stage.append(img);

  const highlight = new Set(payload.highlight ?? []);
  const tiles = payload.tiles.map((tile, i) => {
    const b = doc.createElement('button');
    b.type = 'button';
    b.className = 'alref-fg-tile';
    if (highlight.has(tile.frameIndex)) {
      b.classList.add('alref-fg-highlight');
    }
    b.style.left = pct(tile.x, W);
    b.style.top = pct(tile.y, H);
    b.style.width = pct(tile.width, W);
    b.style.height = pct(tile.height, H);
    b.setAttribute('aria-label', tileLabel(tile, kind));
    b.title = tileLabel(tile, kind);
    b.dataset.index = String(i);
    stage.append(b);
    return b;
  });

  const zoom = doc.createElement('div');
  zoom.className = 'alref-fg-zoom';
  zoom.hidden = true;
  zoom.setAttribute('role', 'region');
  zoom.setAttribute('aria-live', 'polite');
  const zoomImg = doc.createElement('div');
  zoomImg.className = 'alref-fg-zoom-img';
  zoomImg.setAttribute('role', 'img');
  const bar = doc.createElement('div');
  bar.className = 'alref-fg-zoom-bar';
  const label = doc.createElement('span');
  label.className = 'alref-fg-zoom-label';
  const close = doc.createElement('button');
  close.type = 'button';
  close.className = 'alref-fg-zoom-close';
  close.textContent = 'Close';
  close.setAttribute('aria-label', 'Close the enlarged frame');
  const reader = artifactReader(options.messaging, 'fg');
  const fullButton = doc.createElement('button');
  fullButton.type = 'button';
  fullButton.className = 'alref-fg-zoom-full';
  fullButton.textContent = 'Full size';
  fullButton.hidden = !options.full || !reader.canRead;
  if (options.full) {
    fullButton.title = `Open the full-size grid (${options.full.width} x ${options.full.height}) from the run folder`;
  }
  bar.append(label, fullButton);
  const pivot = payload.pivot;
  const post = options.messaging?.postMessage;
  let usePivot: HTMLButtonElement | undefined;
  if (pivot && typeof post === 'function') {
    usePivot = doc.createElement('button');
    usePivot.type = 'button';
    usePivot.className = 'alref-fg-zoom-close alref-fg-use-pivot';
    usePivot.textContent = 'Make this the pivot';
    usePivot.title = `Write this frame into the overrides: of cell "${pivot.cellId}" as the pivot of object ${pivot.objectId} in clip ${payload.clipIndex + 1}`;
    bar.append(usePivot);
  }
  bar.append(close);
  zoom.append(zoomImg, bar);

  // The enlarged view lies over the grid (see style.ts): it takes no room in the output's layout.
  stage.append(zoom);
  root.append(stage);
  if (payload.caption) {
    const cap = doc.createElement('figcaption');
    cap.textContent = payload.caption;
    root.append(cap);
  }
  host.replaceChildren(root);

  let shown = -1;
  let pinned = false;
  let quiet = false;
  /** The full-size grid once read, and the image shown now (display or full size). */
  let fullUrl: string | undefined;
  let shownUrl = url;

  const show = (i: number, pin = false): void => {
    const tile = payload.tiles[i];
    if (!tile) {
      return;
    }
    tiles.forEach((b, k) => b.classList.toggle('alref-fg-active', k === i));
    tiles.forEach((b, k) => b.setAttribute('aria-expanded', String(k === i && pin)));
    const size = zoomSize(tile, img.getBoundingClientRect());
    zoomImg.style.width = `${size.width}px`;
    zoomImg.style.height = `${size.height}px`;
    // Over the half of the grid away from the tile, so the tile's neighbours stay visible.
    zoom.classList.toggle('alref-fg-zoom-left', tile.x + tile.width / 2 >= W / 2);
    zoom.classList.toggle('alref-fg-zoom-pinned', pin);
    zoomImg.style.backgroundImage = `url("${shownUrl}")`;
    zoomImg.style.backgroundSize = `${pct(W, tile.width)} ${pct(H, tile.height)}`;
    zoomImg.style.backgroundPosition = `${W === tile.width ? '0%' : pct(tile.x, W - tile.width)} ${H === tile.height ? '0%' : pct(tile.y, H - tile.height)}`;
    zoomImg.setAttribute('aria-label', tileLabel(tile, kind));
    label.textContent = tileLabel(tile, kind);
    zoom.hidden = false;
    shown = i;
    pinned = pin;
  };
  const hide = (): void => {
    zoom.hidden = true;
    zoom.classList.remove('alref-fg-zoom-pinned');
    tiles.forEach((b) => {
      b.classList.remove('alref-fg-active');
      b.setAttribute('aria-expanded', 'false');
    });
    shown = -1;
    pinned = false;
  };

  tiles.forEach((b, i) => {
    b.addEventListener('mouseenter', () => {
      if (!pinned) {
        show(i);
      }
    });
    b.addEventListener('mouseleave', () => {
      if (!pinned) {
        hide();
      }
    });
    b.addEventListener('focus', () => {
      if (!quiet && (!pinned || shown !== i)) {
        show(i, pinned);
      }
    });
    b.addEventListener('click', () => {
      if (pinned && shown === i) {
        hide();
      } else {
        show(i, true);
      }
    });
    b.addEventListener('keydown', (ev) => {
      const step = ev.key === 'ArrowRight' || ev.key === 'ArrowDown' ? 1 : ev.key === 'ArrowLeft' || ev.key === 'ArrowUp' ? -1 : 0;
      if (step !== 0) {
        ev.preventDefault();
        tiles[(i + step + tiles.length) % tiles.length].focus();
      }
    });
  });
  /** Closes the enlarged view and returns focus to its tile without reopening it. */
  const closeAndRefocus = (): void => {
    const back = shown;
    hide();
    quiet = true;
    tiles[back]?.focus();
    quiet = false;
  };
  root.addEventListener('keydown', (ev) => {
    if (ev.key === 'Escape' && !zoom.hidden) {
      ev.preventDefault();
      closeAndRefocus();
    }
  });
  close.addEventListener('click', closeAndRefocus);
  usePivot?.addEventListener('click', () => {
    const tile = payload.tiles[shown];
    if (!tile || !pivot) {
      return;
    }
    const msg: ApplyOverrideRequest = { type: 'applyOverride', cellId: pivot.cellId, object: pivot.objectId, clip: payload.clipIndex + 1, frameIndex: tile.frameIndex };
    post?.(msg);
    label.textContent = `${tileLabel(tile, kind)} · override sent to cell "${pivot.cellId}"`;
  });

  const toggleFull = async (): Promise<void> => {
    const full = options.full;
    if (!full || !reader.canRead) {
      return;
    }
    const toFull = !root.classList.contains('alref-fg-full');
    try {
      if (toFull) {
        fullUrl ??= await reader.read(full.ref, full.mime ?? 'image/jpeg');
      }
    } catch (err) {
      label.textContent = `${label.textContent ?? ''} (cannot open the full-size grid ${full.ref}: ${err instanceof Error ? err.message : String(err)})`;
      return;
    }
    shownUrl = toFull && fullUrl ? fullUrl : url;
    img.src = shownUrl;
    img.width = toFull ? full.width : W;
    img.height = toFull ? full.height : H;
    root.classList.toggle('alref-fg-full', toFull);
    fullButton.textContent = toFull ? 'Display size' : 'Full size';
    zoomImg.style.backgroundImage = `url("${shownUrl}")`;
  };
  fullButton.addEventListener('click', () => void toggleFull());

  return {
    root,
    tiles,
    zoom,
    show,
    hide,
    toggleFull,
    dispose: () => {
      reader.dispose();
      URL.revokeObjectURL(url);
      if (fullUrl) {
        URL.revokeObjectURL(fullUrl);
      }
    },
  };
}
