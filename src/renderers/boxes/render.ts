import type { BoxesPayload, FullImagePayload } from '../../common/payloads';
import { type ArtifactMessaging, artifactReader } from '../lib/artifacts';

export type { BoxesPayload };

/** The renderer messaging the boxes view uses to open the full-size image (optional in VS Code). */
export type BoxesMessaging = ArtifactMessaging;

/** What the view needs besides the image and payload: the full-size original and the messaging to fetch it. */
export interface BoxesOptions {
  full?: FullImagePayload;
  messaging?: BoxesMessaging;
}

/**
 * DOM builder of the candidate-boxes renderer: the pivot frame (image bytes of the output item) with
 * an SVG overlay of the candidate boxes from the payload, and a legend. Hovering a legend row
 * highlights its box. Labels from detectors are untrusted text: `textContent` only.
 */

const SVG_NS = 'http://www.w3.org/2000/svg';

/** Checks the payload; returns an error message, or undefined when usable. */
export function checkBoxesPayload(v: unknown): string | undefined {
  if (!v || typeof v !== 'object') {
    return 'This boxes output has no payload in its metadata.';
  }
  const p = v as Partial<BoxesPayload>;
  if (p.version !== 1) {
    return `This boxes output has payload version ${String(p.version)}; this extension reads version 1. Update the extension.`;
  }
  if (!(Number(p.width) > 0) || !(Number(p.height) > 0) || !Array.isArray(p.boxes)) {
    return 'The boxes payload has no size or no box list.';
  }
  return undefined;
}

/** The MIME of image bytes, from their signature. */
export function sniffImageMime(bytes: Uint8Array): string {
  if (bytes[0] === 0x89 && bytes[1] === 0x50 && bytes[2] === 0x4e && bytes[3] === 0x47) {
    return 'image/png';
  }
  return 'image/jpeg';
}

const safeColour = (c: string): string => (/^#[0-9a-fA-F]{3,8}$/.test(c) ? c : '#888888');

/** A rendered boxes view; `dispose` revokes the image's Blob URLs. */
export interface BoxesView {
  root: HTMLElement;
  img: HTMLImageElement;
  rects: SVGRectElement[];
  rows: HTMLElement[];
  /** Opens (or closes again) the full-size image; resolves once it is shown or has failed. */
  toggleFull(): Promise<void>;
  dispose(): void;
}

/**
 * Renders into `container` (emptied first). The image already shows the boxes painted (the fallback
 * for readers without the extension); the overlay adds hover highlighting and the legend.
 */
export function renderBoxes(container: HTMLElement, image: Uint8Array, payload: BoxesPayload, options: BoxesOptions = {}): BoxesView {
  const doc = container.ownerDocument;
  container.textContent = '';
  const root = doc.createElement('figure');
  root.className = 'alref-boxes';
  const stage = doc.createElement('div');
  stage.className = 'alref-boxes-stage';
  const img = doc.createElement('img');
  const url = URL.createObjectURL(new Blob([new Uint8Array(image)], { type: sniffImageMime(image) }));
  img.src = url;
  img.alt = payload.caption;
  img.width = payload.width;
  const svg = doc.createElementNS(SVG_NS, 'svg');
  svg.setAttribute('viewBox', `0 0 ${payload.width} ${payload.height}`);
  svg.setAttribute('class', 'alref-boxes-overlay');
  svg.setAttribute('preserveAspectRatio', 'none');
  const rects: SVGRectElement[] = [];
  const rows: HTMLElement[] = [];
  const legend = doc.createElement('ol');
  legend.className = 'alref-boxes-legend';
  payload.boxes.forEach((b, i) => {
    const r = doc.createElementNS(SVG_NS, 'rect');
    r.setAttribute('x', String(b.box.x0));
    r.setAttribute('y', String(b.box.y0));
    r.setAttribute('width', String(Math.max(0, b.box.x1 - b.box.x0)));
    r.setAttribute('height', String(Math.max(0, b.box.y1 - b.box.y0)));
    r.setAttribute('stroke', safeColour(b.colour));
    r.setAttribute('class', i === payload.chosen ? 'alref-box alref-box-chosen' : 'alref-box');
    svg.append(r);
    rects.push(r);

    const row = doc.createElement('li');
    row.className = i === payload.chosen ? 'alref-boxes-row alref-boxes-row-chosen' : 'alref-boxes-row';
    const swatch = doc.createElement('span');
    swatch.className = 'alref-boxes-swatch';
    swatch.style.background = safeColour(b.colour);
    const label = doc.createElement('span');
    const parts = [`${b.number} ${b.colourName}`];
    if (b.phrase) {
      parts.push(`"${b.phrase}"`);
    }
    if (b.source === 'grounding-dino') {
      parts.push(`score ${b.score.toFixed(2)}`);
    } else {
      parts.push('typed');
    }
    parts.push(`[${Math.round(b.box.x0)}, ${Math.round(b.box.y0)}, ${Math.round(b.box.x1)}, ${Math.round(b.box.y1)}]`);
    if (i === payload.chosen) {
      parts.push('← chosen');
    }
    label.textContent = parts.join(' · ');
    row.append(swatch, label);
    row.addEventListener('mouseenter', () => r.classList.add('alref-box-hover'));
    row.addEventListener('mouseleave', () => r.classList.remove('alref-box-hover'));
    legend.append(row);
    rows.push(row);
  });
  stage.append(img, svg);
  const sent = payload.view === 'sent';
  const caption = doc.createElement('figcaption');
  caption.textContent = payload.caption + (payload.chosen === null && !sent ? ' (no box chosen)' : '');
  root.append(stage, caption, legend);
  const full = fullImage(img, root, caption, url, options);
  if (sent) {
    // The image sent is long (frame and grid) and is the same for every reading: closed by default.
    const details = doc.createElement('details');
    details.className = 'alref-boxes-sent';
    const summary = doc.createElement('summary');
    summary.textContent = payload.caption;
    details.append(summary, root);
    container.append(details);
  } else {
    container.append(root);
  }
  return { root, img, rects, rows, toggleFull: full.toggle, dispose: full.dispose };
}

/**
 * A click on the image opens the full-size original from the run folder (fetched once through
 * `readArtifact`) in place, at its own size; a second click goes back to the display image.
 * Without messaging, the image's tooltip names the file.
 */
function fullImage(img: HTMLImageElement, root: HTMLElement, caption: HTMLElement, displayUrl: string, options: BoxesOptions): { toggle(): Promise<void>; dispose(): void } {
  const { full, messaging } = options;
  let fullUrl: string | undefined;
  if (!full) {
    return { toggle: async () => undefined, dispose: () => URL.revokeObjectURL(displayUrl) };
  }
  const reader = artifactReader(messaging, 'bx');
  const canFetch = reader.canRead;
  img.title = canFetch ? `Click to open the full-size image (${full.width} x ${full.height})` : `Full size (${full.width} x ${full.height}): ${full.ref} in the run folder`;
  img.classList.add('alref-boxes-zoomable');
  const fetchFull = (): Promise<string> => reader.read(full.ref, full.mime ?? 'image/jpeg');
  const toggle = async (): Promise<void> => {
    if (!canFetch) {
      return;
    }
    if (root.classList.contains('alref-boxes-full')) {
      root.classList.remove('alref-boxes-full');
      img.src = displayUrl;
      return;
    }
    try {
      fullUrl ??= await fetchFull();
      img.src = fullUrl;
      root.classList.add('alref-boxes-full');
    } catch (err) {
      caption.textContent = `${caption.textContent ?? ''} (cannot open the full-size image ${full.ref}: ${err instanceof Error ? err.message : String(err)})`;
    }
  };
  img.addEventListener('click', () => void toggle());
  return {
    toggle,
    dispose: () => {
      reader.dispose();
      URL.revokeObjectURL(displayUrl);
      if (fullUrl) {
        URL.revokeObjectURL(fullUrl);
      }
    },
  };
}

/** Draws an inline error box instead of throwing to VS Code. */
export function renderBoxesError(container: HTMLElement, message: string): void {
  container.textContent = '';
  const box = container.ownerDocument.createElement('div');
  box.className = 'alref-boxes-error';
  box.textContent = message;
  container.append(box);
}
