import sharp from 'sharp';
import type { AudioTimelinePayload, AudioTimelineRowPayload } from '../../common/payloads';
import { boxColour } from '../draw/boxes';
import { measureText, svgDocument, textSvg } from '../draw/text';
import type { AudioActivity } from './soundEvents';

/** What the audio timeline shows. */
export interface TimelineInput {
  samples: Float32Array;
  sampleRate: number;
  activity: AudioActivity;
  /** AudioSet label names behind each category (same order as `activity.categories`). */
  categoryLabels?: string[][];
  /** Grid frames to mark on the axis. */
  frames?: Array<{ frameId: number; frameIndex: number; timeSec: number; pivot?: boolean }>;
  caption?: string;
}

/** Image size and row heights, pixels. */
export interface TimelineOptions {
  width?: number;
  waveformHeight?: number;
  rowHeight?: number;
}

const GUTTER = 44;
const RIGHT = 12;
const TOP = 22;
const AXIS = 24;

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/"/g, '&quot;');
}

/** Colour of category k (0-based): the candidate-box colours, so objects keep one colour across outputs. */
function categoryColour(k: number): string {
  return boxColour(k + 1).hex;
}

/**
 * The audio timeline as SVG plus its payload: frame marks on top, the waveform (min/max envelope per
 * pixel column), the sound-event segments (silent ones hatched), one row per category (bright where
 * it sounds, faint where silent, with its score as a line), and a time axis in seconds. Text is drawn
 * with the stroke font (numbers only); category names go in the payload and the caption.
 */
export function timelineSvg(input: TimelineInput, options: TimelineOptions = {}): { svg: string; payload: AudioTimelinePayload } {
  const width = Math.max(200, Math.round(options.width ?? 960));
  const waveH = options.waveformHeight ?? 72;
  const rowH = options.rowHeight ?? 20;
  const segH = 18;
  const { activity } = input;
  const dur = Math.max(activity.durationSec, 1e-3);
  const plotX = GUTTER;
  const plotW = width - GUTTER - RIGHT;
  const xOf = (t: number): number => plotX + (Math.max(0, Math.min(dur, t)) / dur) * plotW;
  const rows: AudioTimelineRowPayload[] = [];
  let y = TOP;
  rows.push({ kind: 'waveform', y, height: waveH, label: 'waveform' });
  y += waveH + 6;
  rows.push({ kind: 'segments', y, height: segH, label: 'sound events' });
  y += segH + 6;
  activity.categories.forEach((c, k) => {
    rows.push({ kind: 'category', y, height: rowH, label: c.category, colour: categoryColour(k) });
    y += rowH + 4;
  });
  const height = Math.round(y + AXIS);
  const parts: string[] = [];
  parts.push(`<rect x="0" y="0" width="${width}" height="${height}" fill="#ffffff"/>`);
  parts.push('<defs><pattern id="hatch" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><line x1="0" y1="0" x2="0" y2="6" stroke="#b0b0b0" stroke-width="2"/></pattern></defs>');

  // Waveform envelope.
  const wr = rows[0];
  const mid = wr.y + wr.height / 2;
  parts.push(`<rect x="${plotX}" y="${wr.y}" width="${plotW}" height="${wr.height}" fill="#f4f6f8"/>`);
  const n = input.samples.length;
  let peak = 0;
  for (const v of input.samples) {
    peak = Math.max(peak, Math.abs(v));
  }
  const scale = peak > 0 ? (wr.height / 2 - 2) / Math.max(peak, 1e-3) : 0;
  const env: string[] = [];
  for (let px = 0; px < plotW; px++) {
    const a = Math.floor((px / plotW) * n);
    const b = Math.max(a + 1, Math.floor(((px + 1) / plotW) * n));
    let lo = 0;
    let hi = 0;
    for (let i = a; i < Math.min(b, n); i++) {
      const v = input.samples[i];
      if (v < lo) {
        lo = v;
      }
      if (v > hi) {
        hi = v;
      }
    }
    const x = plotX + px + 0.5;
    env.push(`M${x.toFixed(1)} ${(mid - hi * scale - 0.5).toFixed(1)}V${(mid - lo * scale + 0.5).toFixed(1)}`);
  }
  parts.push(`<path d="${env.join('')}" stroke="#3b5b7a" stroke-width="1" fill="none"/>`);
  parts.push(`<line x1="${plotX}" y1="${mid}" x2="${plotX + plotW}" y2="${mid}" stroke="#9aa8b5" stroke-width="0.5"/>`);

  // Segments.
  const sr = rows[1];
  activity.segments.forEach((s, i) => {
    const x0 = xOf(s.startSec);
    const x1 = xOf(s.endSec);
    const fill = s.silent ? 'url(#hatch)' : i % 2 === 0 ? '#cfd8e3' : '#a9b8c9';
    parts.push(`<rect x="${x0.toFixed(1)}" y="${sr.y}" width="${Math.max(1, x1 - x0).toFixed(1)}" height="${sr.height}" fill="${fill}" stroke="#ffffff" stroke-width="1"/>`);
  });

  // Categories.
  activity.categories.forEach((c, k) => {
    const r = rows[2 + k];
    const colour = esc(r.colour ?? '#888888');
    parts.push(`<rect x="${plotX}" y="${r.y}" width="${plotW}" height="${r.height}" fill="#f1f1f1"/>`);
    const pts: string[] = [];
    c.active.forEach((on, w) => {
      const x0 = xOf(w * activity.windowSec);
      const x1 = xOf((w + 1) * activity.windowSec);
      parts.push(`<rect x="${x0.toFixed(1)}" y="${r.y}" width="${Math.max(0.5, x1 - x0).toFixed(1)}" height="${r.height}" fill="${colour}" fill-opacity="${on ? 0.85 : 0.12}"/>`);
      const sy = r.y + r.height - 1 - Math.max(0, Math.min(1, c.score[w] ?? 0)) * (r.height - 2);
      pts.push(`${((x0 + x1) / 2).toFixed(1)},${sy.toFixed(1)}`);
    });
    if (pts.length > 1) {
      parts.push(`<polyline points="${pts.join(' ')}" fill="none" stroke="#202020" stroke-width="1" stroke-opacity="0.6"/>`);
    }
    parts.push(`<rect x="6" y="${r.y + 2}" width="${r.height - 4}" height="${r.height - 4}" fill="${colour}"/>`);
    parts.push(textSvg(String(k + 1), r.height + 8, r.y + 3, { height: r.height - 6, color: '#202020' }));
  });

  // Segment boundaries across all rows.
  const bottom = y - 4;
  for (const s of activity.segments.slice(1)) {
    const x = xOf(s.startSec).toFixed(1);
    parts.push(`<line x1="${x}" y1="${wr.y}" x2="${x}" y2="${bottom}" stroke="#505050" stroke-width="1" stroke-dasharray="3 3"/>`);
  }

  // Time axis.
  const axisY = bottom + 4;
  parts.push(`<line x1="${plotX}" y1="${axisY}" x2="${plotX + plotW}" y2="${axisY}" stroke="#404040" stroke-width="1"/>`);
  const step = dur <= 12 ? 1 : dur <= 30 ? 2 : dur <= 120 ? 10 : 30;
  for (let t = 0; t <= dur + 1e-9; t += step) {
    const x = xOf(t);
    parts.push(`<line x1="${x.toFixed(1)}" y1="${axisY}" x2="${x.toFixed(1)}" y2="${axisY + 4}" stroke="#404040" stroke-width="1"/>`);
    parts.push(textSvg(`${t}s`, Math.min(x - 4, width - 30), axisY + 7, { height: 11, color: '#404040' }));
  }

  // Grid frames on top.
  for (const f of input.frames ?? []) {
    const x = xOf(f.timeSec);
    const colour = f.pivot ? '#d00000' : '#404040';
    parts.push(`<path d="M${(x - 4).toFixed(1)} ${TOP - 9}L${(x + 4).toFixed(1)} ${TOP - 9}L${x.toFixed(1)} ${TOP - 2}Z" fill="${colour}"/>`);
    parts.push(`<line x1="${x.toFixed(1)}" y1="${TOP - 2}" x2="${x.toFixed(1)}" y2="${wr.y + wr.height}" stroke="${colour}" stroke-width="${f.pivot ? 1.5 : 0.75}" stroke-opacity="0.7"/>`);
    const label = `#${f.frameId}`;
    parts.push(textSvg(label, Math.min(x + 5, width - measureText(label, 10).width - 2), 3, { height: 10, color: colour }));
  }

  const payload: AudioTimelinePayload = {
    version: 1,
    width,
    height,
    plot: { x: plotX, width: plotW },
    durationSec: activity.durationSec,
    windowSec: activity.windowSec,
    rows,
    segments: activity.segments.map((s) => ({ startSec: s.startSec, endSec: s.endSec, silent: s.silent })),
    categories: activity.categories.map((c, k) => ({
      category: c.category,
      colour: categoryColour(k),
      labels: input.categoryLabels?.[k] ?? [],
      score: c.score.map((v) => Math.round(v * 1000) / 1000),
      active: c.active,
    })),
    frames: input.frames,
    caption: input.caption,
  };
  return { svg: svgDocument(width, height, parts.join('')), payload };
}

/** Renders {@link timelineSvg} to PNG with sharp. */
export async function renderTimeline(input: TimelineInput, options: TimelineOptions = {}): Promise<{ png: Uint8Array; payload: AudioTimelinePayload }> {
  const { svg, payload } = timelineSvg(input, options);
  const png = await sharp(Buffer.from(svg)).png({ compressionLevel: 9 }).toBuffer();
  return { png: new Uint8Array(png), payload };
}
