import type { AudioTimelinePayload } from '../../common/payloads';

export type { AudioTimelinePayload };

/**
 * DOM builder of the audio-timeline renderer: the timeline PNG (image bytes of the output item), a
 * legend naming each category row (the image itself only carries row numbers), and a hover read-out
 * of the time, the sound event and each category's activity under the cursor. Category and label
 * names are text (`textContent` only).
 */

/** Checks the payload; returns an error message, or undefined when usable. */
export function checkTimelinePayload(v: unknown): string | undefined {
  if (!v || typeof v !== 'object') {
    return 'This audio timeline has no payload in its metadata.';
  }
  const p = v as Partial<AudioTimelinePayload>;
  if (p.version !== 1) {
    return `This audio timeline has payload version ${String(p.version)}; this extension reads version 1. Update the extension.`;
  }
  if (!(Number(p.width) > 0) || !(Number(p.height) > 0) || !p.plot || !(Number(p.durationSec) > 0) || !Array.isArray(p.categories) || !Array.isArray(p.segments)) {
    return 'The audio timeline payload has no size, time axis, categories or segments.';
  }
  return undefined;
}

const safeColour = (c: string): string => (/^#[0-9a-fA-F]{3,8}$/.test(c) ? c : '#888888');

/** Seconds at horizontal position `x` in image pixels, or null outside the time axis. */
export function timeAtX(payload: AudioTimelinePayload, x: number): number | null {
  const f = (x - payload.plot.x) / payload.plot.width;
  if (f < 0 || f > 1) {
    return null;
  }
  return f * payload.durationSec;
}

/** What the read-out says at time `t` (seconds). */
export function readoutAt(payload: AudioTimelinePayload, t: number): string {
  const windows = Math.max(1, ...payload.categories.map((c) => c.active.length));
  const w = Math.max(0, Math.min(windows - 1, Math.floor(t / payload.windowSec)));
  const segIndex = payload.segments.findIndex((s) => t >= s.startSec && t < s.endSec);
  const seg = segIndex >= 0 ? payload.segments[segIndex] : payload.segments[payload.segments.length - 1];
  const parts = [`${t.toFixed(2)} s`];
  if (seg) {
    const k = segIndex >= 0 ? segIndex : payload.segments.length - 1;
    parts.push(`sound event ${k + 1} (${seg.startSec.toFixed(1)}–${seg.endSec.toFixed(1)} s${seg.silent ? ', silent' : ''})`);
  }
  for (const c of payload.categories) {
    const score = c.score[w];
    parts.push(`${c.category}: ${c.active[w] ? 'sounding' : 'silent'}${score === undefined ? '' : ` (${score.toFixed(2)})`}`);
  }
  return parts.join(' · ');
}

/** Active time ranges of one category, e.g. "2–5 s" ("never" when always silent). */
export function activeRanges(active: boolean[], windowSec: number, durationSec: number): string {
  const out: string[] = [];
  let start = -1;
  for (let w = 0; w <= active.length; w++) {
    if (w < active.length && active[w]) {
      if (start < 0) {
        start = w;
      }
    } else if (start >= 0) {
      const end = Math.min(durationSec, w * windowSec);
      out.push(`${+(start * windowSec).toFixed(2)}–${+end.toFixed(2)} s`);
      start = -1;
    }
  }
  return out.length > 0 ? out.join(', ') : 'never';
}

/** A rendered timeline; `dispose` revokes the image's Blob URL. */
export interface TimelineView {
  root: HTMLElement;
  rows: HTMLElement[];
  readout: HTMLElement;
  /** Updates the cursor and read-out for a position in image pixels (what hovering does). */
  showAt(xImage: number): void;
  dispose(): void;
}

/** Renders into `container` (emptied first). */
export function renderTimeline(container: HTMLElement, image: Uint8Array, payload: AudioTimelinePayload): TimelineView {
  const doc = container.ownerDocument;
  container.textContent = '';
  const root = doc.createElement('figure');
  root.className = 'alref-timeline';
  const stage = doc.createElement('div');
  stage.className = 'alref-timeline-stage';
  const img = doc.createElement('img');
  const url = URL.createObjectURL(new Blob([new Uint8Array(image)], { type: 'image/png' }));
  img.src = url;
  img.alt = payload.caption ?? 'Audio timeline';
  img.width = payload.width;
  const cursor = doc.createElement('div');
  cursor.className = 'alref-timeline-cursor';
  cursor.hidden = true;
  stage.append(img, cursor);

  const readout = doc.createElement('div');
  readout.className = 'alref-timeline-readout';
  readout.textContent = `${payload.segments.length} sound event${payload.segments.length === 1 ? '' : 's'} over ${payload.durationSec.toFixed(2)} s; hover the timeline for details.`;

  const legend = doc.createElement('ol');
  legend.className = 'alref-timeline-legend';
  const rows = payload.categories.map((c, k) => {
    const row = doc.createElement('li');
    row.className = 'alref-timeline-row';
    const swatch = doc.createElement('span');
    swatch.className = 'alref-timeline-swatch';
    swatch.style.background = safeColour(c.colour);
    const label = doc.createElement('span');
    label.textContent = `${k + 1} ${c.category} · sounding ${activeRanges(c.active, payload.windowSec, payload.durationSec)}`;
    if (c.labels.length > 0) {
      row.title = `AudioSet labels: ${c.labels.join(', ')}`;
    }
    row.append(swatch, label);
    legend.append(row);
    return row;
  });

  const showAt = (xImage: number): void => {
    const t = timeAtX(payload, xImage);
    if (t === null) {
      cursor.hidden = true;
      return;
    }
    cursor.hidden = false;
    cursor.style.left = `${(xImage / payload.width) * 100}%`;
    readout.textContent = readoutAt(payload, t);
  };
  const onMove = (e: MouseEvent): void => {
    const rect = img.getBoundingClientRect();
    if (rect.width > 0) {
      showAt(((e.clientX - rect.left) / rect.width) * payload.width);
    }
  };
  stage.addEventListener('mousemove', onMove);
  stage.addEventListener('mouseleave', () => {
    cursor.hidden = true;
  });

  const caption = doc.createElement('figcaption');
  caption.textContent = payload.caption ?? 'Audio timeline';
  root.append(stage, readout, legend, caption);
  container.append(root);
  return { root, rows, readout, showAt, dispose: () => URL.revokeObjectURL(url) };
}

/** Draws an inline error box instead of throwing to VS Code. */
export function renderTimelineError(container: HTMLElement, message: string): void {
  container.textContent = '';
  const box = container.ownerDocument.createElement('div');
  box.className = 'alref-timeline-error';
  box.textContent = message;
  container.append(box);
}
