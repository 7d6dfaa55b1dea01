import type { BoxesPayload } from '../../common/payloads';

export type { BoxesPayload };

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

/** A rendered boxes view; `dispose` revokes the image's Blob URL. */
export interface BoxesView {
  root: HTMLElement;
  rects: SVGRectElement[];
  rows: HTMLElement[];
  dispose(): void;
}

/**
 * Renders into `container` (emptied first). The image already shows the boxes painted (the fallback
 * for readers without the extension); the overlay adds hover highlighting and the legend.
 */
export function renderBoxes(container: HTMLElement, image: Uint8Array, payload: BoxesPayload): BoxesView {
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
  const caption = doc.createElement('figcaption');
  caption.textContent = payload.caption + (payload.chosen === null ? ' (no box chosen)' : '');
  root.append(stage, caption, legend);
  container.append(root);
  return { root, rects, rows, dispose: () => URL.revokeObjectURL(url) };
}

/** Draws an inline error box instead of throwing to VS Code. */
export function renderBoxesError(container: HTMLElement, message: string): void {
  container.textContent = '';
  const box = container.ownerDocument.createElement('div');
  box.className = 'alref-boxes-error';
  box.textContent = message;
  container.append(box);
}
