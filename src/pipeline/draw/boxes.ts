import sharp from 'sharp';
import type { Box } from '../domain';
import { badgeSvg, measureText, svgDocument } from './text';

/**
 * Candidate boxes painted on a frame, as GPT sees them: one colour per box in the reference order
 * (green, magenta, orange, blue, red, yellow) with a numbered badge, plus the pivot-frame context
 * image and the "chosen box emphasised, others faded" view the notebook shows.
 */

/** Box colours in candidate order (box 1 is green). */
export const BOX_COLOURS: ReadonlyArray<{ name: string; hex: string }> = [
  { name: 'green', hex: '#00c000' },
  { name: 'magenta', hex: '#ff00ff' },
  { name: 'orange', hex: '#ff8c00' },
  { name: 'blue', hex: '#1e64ff' },
  { name: 'red', hex: '#ff1e1e' },
  { name: 'yellow', hex: '#ffd700' },
];

/** Colour of box number `k` (1-based); cycles past six. */
export function boxColour(k: number): { name: string; hex: string } {
  return BOX_COLOURS[(((k - 1) % BOX_COLOURS.length) + BOX_COLOURS.length) % BOX_COLOURS.length];
}

/** Where one box and its badge go on an image of a given size. */
export interface BoxLayout {
  /** 1-based box number written in the badge. */
  number: number;
  colour: string;
  colourName: string;
  /** The box clamped to the image, in pixels. */
  rect: Box;
  strokeWidth: number;
  badge: { x: number; y: number; width: number; height: number };
}

function overlaps(a: { x: number; y: number; width: number; height: number }, b: { x: number; y: number; width: number; height: number }): boolean {
  return a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;
}

/**
 * Lays out boxes and their badges (pure). Stroke and badge sizes scale with the image; a badge sits at
 * the box's top-left corner, just above the box when there is room, else inside it, and moves down
 * until it overlaps no earlier badge. Badges always lie inside the image.
 */
export function layoutBoxes(boxes: Box[], width: number, height: number): BoxLayout[] {
  const short = Math.min(width, height);
  const strokeWidth = Math.max(2, Math.round(short / 160));
  const badgeHeight = Math.max(14, Math.round(short / 18));
  const placed: BoxLayout['badge'][] = [];
  return boxes.map((b, i) => {
    const number = i + 1;
    const rect: Box = {
      x0: clamp(Math.round(Math.min(b.x0, b.x1)), 0, width),
      y0: clamp(Math.round(Math.min(b.y0, b.y1)), 0, height),
      x1: clamp(Math.round(Math.max(b.x0, b.x1)), 0, width),
      y1: clamp(Math.round(Math.max(b.y0, b.y1)), 0, height),
    };
    const text = String(number);
    const badgeWidth = Math.max(badgeHeight, Math.ceil(measureText(text, badgeHeight * 0.6).width + badgeHeight * 0.56));
    let x = clamp(rect.x0, 0, Math.max(0, width - badgeWidth));
    let y = rect.y0 - badgeHeight >= 0 ? rect.y0 - badgeHeight : rect.y0;
    y = clamp(y, 0, Math.max(0, height - badgeHeight));
    let badge = { x, y, width: badgeWidth, height: badgeHeight };
    for (let guard = 0; guard < 64 && placed.some((p) => overlaps(p, badge)); guard++) {
      y += badgeHeight + 2;
      if (y + badgeHeight > height) {
        y = 0;
        x = clamp(x + badgeWidth + 2, 0, Math.max(0, width - badgeWidth));
      }
      badge = { x, y, width: badgeWidth, height: badgeHeight };
    }
    placed.push(badge);
    const c = boxColour(number);
    return { number, colour: c.hex, colourName: c.name, rect, strokeWidth, badge };
  });
}

function clamp(v: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, v));
}

/** How to paint: all boxes equal (what GPT sees), or one emphasised and the rest faded. */
export interface PaintOptions {
  /** 0-based index of the emphasised box; others are drawn faded. */
  chosen?: number | null;
  /** Darken the image outside the chosen box (default true when `chosen` is set). */
  dimOutside?: boolean;
  /** Output format (default jpeg, quality 90). */
  format?: 'jpeg' | 'png';
}

/** SVG overlay of the boxes (exported for tests of the drawing itself). */
export function boxesSvg(layouts: BoxLayout[], width: number, height: number, options: PaintOptions = {}): string {
  const chosen = options.chosen ?? null;
  const parts: string[] = [];
  if (chosen !== null && layouts[chosen] && options.dimOutside !== false) {
    const r = layouts[chosen].rect;
    parts.push(
      `<path fill="#000" fill-opacity="0.45" fill-rule="evenodd" d="M0 0H${width}V${height}H0Z M${r.x0} ${r.y0}V${r.y1}H${r.x1}V${r.y0}Z"/>`,
    );
  }
  // Faded boxes first, so the emphasised one is on top.
  const order = layouts.map((_, i) => i).sort((a, b) => (a === chosen ? 1 : 0) - (b === chosen ? 1 : 0));
  for (const i of order) {
    const l = layouts[i];
    const faded = chosen !== null && i !== chosen;
    const opacity = faded ? 0.35 : 1;
    const sw = faded ? Math.max(1, Math.round(l.strokeWidth / 2)) : chosen === i ? l.strokeWidth * 2 : l.strokeWidth;
    const { x0, y0, x1, y1 } = l.rect;
    const inset = sw / 2;
    parts.push(
      `<rect x="${x0 + inset}" y="${y0 + inset}" width="${Math.max(0, x1 - x0 - sw)}" height="${Math.max(0, y1 - y0 - sw)}" fill="none" stroke="${l.colour}" stroke-width="${sw}" stroke-opacity="${opacity}"${faded ? ` stroke-dasharray="${sw * 4} ${sw * 3}"` : ''}/>`,
    );
    const badge = badgeSvg(String(l.number), l.badge.x, l.badge.y, { height: l.badge.height, color: '#ffffff', background: l.colour, border: '#000000', shape: 'circle' });
    parts.push(faded ? `<g opacity="${opacity}">${badge.svg}</g>` : badge.svg);
  }
  return svgDocument(width, height, parts.join(''));
}

/**
 * Paints boxes on an image (JPEG or PNG bytes). Returns the encoded image and the layout used.
 *
 * @example
 * const { bytes } = await paintBoxes(frameJpeg, [{ x0: 10, y0: 20, x1: 200, y1: 180 }]);
 */
export async function paintBoxes(image: Uint8Array, boxes: Box[], options: PaintOptions = {}): Promise<{ bytes: Uint8Array; width: number; height: number; layouts: BoxLayout[] }> {
  const meta = await sharp(image).metadata();
  const width = meta.width ?? 0;
  const height = meta.height ?? 0;
  const layouts = layoutBoxes(boxes, width, height);
  const svg = boxesSvg(layouts, width, height, options);
  let pipeline = sharp(image).composite([{ input: Buffer.from(svg), top: 0, left: 0 }]);
  pipeline = options.format === 'png' ? pipeline.png() : pipeline.jpeg({ quality: 90 });
  return { bytes: new Uint8Array(await pipeline.toBuffer()), width, height, layouts };
}

/** The label of the pivot frame on the image sent: "frame 3", black on white with square corners. */
export function frameLabelSvg(pivotFrameId: number, frameWidth: number, frameHeight: number, left = 0): { svg: string; width: number; height: number } {
  const height = Math.max(16, Math.round(Math.min(frameWidth, frameHeight) / 14));
  // Box badges are coloured discs holding a number; the frame label is a white rectangle holding a
  // word and a number, so the two cannot be taken for one another.
  return badgeSvg(`frame ${pivotFrameId}`, left + 6, 6, { height, color: '#000000', background: '#ffffff', border: '#000000', shape: 'square' });
}

/**
 * The image sent with a pivot-box prompt: the painted pivot frame on top (with a "frame N" label)
 * and the clip's frame grid below it, scaled to the same width, for temporal context; `frameLeft`
 * is where the frame starts (pixels from the left, at the top, unscaled). One sharp
 * pipeline composes it and encodes once (no intermediate PNG: encoding those took most of the time
 * of a replayed pivot-box run, see bench/pivotBox.ts).
 */
export async function composePivotImage(paintedFrame: Uint8Array, pivotFrameId: number, grid: Uint8Array | undefined): Promise<{ bytes: Uint8Array; width: number; height: number; frameLeft: number }> {
  const fm = await sharp(paintedFrame).metadata();
  const fw = fm.width ?? 0;
  const fh = fm.height ?? 0;
  if (!grid) {
    const label = frameLabelSvg(pivotFrameId, fw, fh);
    const bytes = new Uint8Array(await sharp(paintedFrame).composite([{ input: Buffer.from(svgDocument(fw, fh, label.svg)), top: 0, left: 0 }]).jpeg({ quality: 90 }).toBuffer());
    return { bytes, width: fw, height: fh, frameLeft: 0 };
  }
  const gm = await sharp(grid).metadata();
  const canvasWidth = Math.max(fw, Math.min(gm.width ?? fw, 1600));
  const gridHeight = Math.max(1, Math.round(((gm.height ?? 1) * canvasWidth) / (gm.width ?? canvasWidth)));
  const gridScaled = await sharp(grid).resize(canvasWidth, gridHeight, { fit: 'fill' }).raw().toBuffer({ resolveWithObject: true });
  const gap = 8;
  const height = fh + gap + gridHeight;
  const left = Math.floor((canvasWidth - fw) / 2);
  const label = frameLabelSvg(pivotFrameId, fw, fh, left);
  const bytes = new Uint8Array(
    await sharp({ create: { width: canvasWidth, height, channels: 3, background: { r: 24, g: 24, b: 24 } } })
      .composite([
        { input: Buffer.from(paintedFrame), top: 0, left },
        { input: Buffer.from(svgDocument(canvasWidth, fh, label.svg)), top: 0, left: 0 },
        { input: gridScaled.data, raw: { width: gridScaled.info.width, height: gridScaled.info.height, channels: gridScaled.info.channels }, top: fh + gap, left: 0 },
      ])
      .jpeg({ quality: 90 })
      .toBuffer(),
  );
  return { bytes, width: canvasWidth, height, frameLeft: left };
}

/**
 * A grid image with one tile emphasised (thick outline in `colour`) and the other tiles dimmed; used
 * to show the chosen pivot frame. `tile` is in grid pixels.
 */
export async function highlightTile(grid: Uint8Array, tile: { x: number; y: number; width: number; height: number }, colour = '#00c000'): Promise<Uint8Array> {
  const meta = await sharp(grid).metadata();
  const w = meta.width ?? 0;
  const h = meta.height ?? 0;
  const sw = Math.max(3, Math.round(Math.min(tile.width, tile.height) / 40));
  const { x, y, width, height } = tile;
  const svg = svgDocument(
    w,
    h,
    `<path fill="#000" fill-opacity="0.55" fill-rule="evenodd" d="M0 0H${w}V${h}H0Z M${x} ${y}V${y + height}H${x + width}V${y}Z"/>` +
      `<rect x="${x + sw / 2}" y="${y + sw / 2}" width="${Math.max(0, width - sw)}" height="${Math.max(0, height - sw)}" fill="none" stroke="${colour}" stroke-width="${sw}"/>`,
  );
  return new Uint8Array(await sharp(grid).composite([{ input: Buffer.from(svg), top: 0, left: 0 }]).jpeg({ quality: 88 }).toBuffer());
}
