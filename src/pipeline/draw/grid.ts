import sharp, { type OverlayOptions } from 'sharp';
import type { GridTile } from '../domain';
import { GRID_COLUMNS } from '../sampling';
import { badgeSvg, measureText, svgDocument, textSvg } from './text';

/**
 * Frame grids (what the LLM receives: one image of a clip's frames, each tile marked with its
 * 1-based frame id) and filmstrips (an overview of the whole video with frame indices and times).
 *
 * Grid size rule: tiles keep the frame's aspect ratio and all have one size; at most
 * {@link GRID_COLUMNS} tiles per row; tiles are `gap` pixels apart with no outer border; the tile
 * size is the largest (never above the frame size) that keeps the grid's long side within
 * `maxSide` (default 2048, the long-side bound the OpenAI API applies to high-detail images, so
 * the model sees exactly these pixels). The output is a JPEG at quality 90.
 */

export interface GridFrame {
  /** Decoded frame file (any format sharp reads). */
  path: string;
  frameIndex: number;
  timeSec: number;
}

export interface GridOptions {
  /** Tiles per row (default {@link GRID_COLUMNS}). */
  columns?: number;
  /** Bound on the grid's long side in pixels (default 2048). */
  maxSide?: number;
  /** Pixels between tiles (default 4). */
  gap?: number;
  /** Colour behind and between tiles (default white). */
  background?: string;
  /** JPEG quality (default 90). */
  quality?: number;
}

export const GRID_DEFAULTS = { maxSide: 2048, gap: 4, background: '#ffffff', quality: 90 } as const;

export interface GridLayout {
  width: number;
  height: number;
  columns: number;
  rows: number;
  tileWidth: number;
  tileHeight: number;
  /** Tile rectangles in reading order (left to right, top to bottom). */
  cells: Array<{ x: number; y: number; width: number; height: number }>;
}

/** Pure layout of `count` tiles of a `frameWidth` x `frameHeight` video (see module comment). */
export function gridLayout(frameWidth: number, frameHeight: number, count: number, options: GridOptions = {}): GridLayout {
  if (count < 1) {
    throw new RangeError('a grid needs at least one tile');
  }
  const maxSide = options.maxSide ?? GRID_DEFAULTS.maxSide;
  const gap = options.gap ?? GRID_DEFAULTS.gap;
  const columns = Math.min(count, options.columns ?? GRID_COLUMNS);
  const rows = Math.ceil(count / columns);
  const scale = Math.min(
    1,
    (maxSide - (columns - 1) * gap) / (columns * frameWidth),
    (maxSide - (rows - 1) * gap) / (rows * frameHeight),
  );
  const tileWidth = Math.max(1, Math.floor(frameWidth * scale));
  const tileHeight = Math.max(1, Math.floor(frameHeight * scale));
  const cells = [];
  for (let i = 0; i < count; i++) {
    const c = i % columns;
    const r = Math.floor(i / columns);
    cells.push({ x: c * (tileWidth + gap), y: r * (tileHeight + gap), width: tileWidth, height: tileHeight });
  }
  return {
    width: columns * tileWidth + (columns - 1) * gap,
    height: rows * tileHeight + (rows - 1) * gap,
    columns,
    rows,
    tileWidth,
    tileHeight,
    cells,
  };
}

/** Badge height for a tile: 15% of the tile height, between 14 and 56 pixels. */
export function badgeHeight(tileHeight: number): number {
  return Math.min(56, Math.max(14, Math.round(tileHeight * 0.15)));
}

export interface ComposedImage {
  /** Encoded image bytes. */
  data: Buffer;
  mime: 'image/jpeg' | 'image/png';
  width: number;
  height: number;
  tiles: GridTile[];
}

async function tileBuffer(file: string, width: number, height: number): Promise<{ input: Buffer; raw: { width: number; height: number; channels: 3 } }> {
  const input = await sharp(file).removeAlpha().resize(width, height, { fit: 'fill' }).raw().toBuffer();
  return { input, raw: { width, height, channels: 3 } };
}

/**
 * Tiles `frames` (all of one size, `frameWidth` x `frameHeight`) into one JPEG grid with a frame-id
 * badge (1-based, in order) at the top-left corner of each tile.
 */
export async function composeGrid(frames: GridFrame[], frameWidth: number, frameHeight: number, options: GridOptions = {}): Promise<ComposedImage> {
  const layout = gridLayout(frameWidth, frameHeight, frames.length, options);
  const composites: OverlayOptions[] = [];
  let badges = '';
  const bh = badgeHeight(layout.tileHeight);
  const pad = Math.max(2, Math.round(bh * 0.25));
  const tiles: GridTile[] = [];
  for (let i = 0; i < frames.length; i++) {
    const cell = layout.cells[i];
    const tile = await tileBuffer(frames[i].path, cell.width, cell.height);
    composites.push({ ...tile, left: cell.x, top: cell.y });
    badges += badgeSvg(String(i + 1), cell.x + pad, cell.y + pad, { height: bh, color: '#ffffff', background: '#d7263d', border: '#ffffff' }).svg;
    tiles.push({ frameIndex: frames[i].frameIndex, frameId: i + 1, timeSec: frames[i].timeSec, ...cell });
  }
  composites.push({ input: Buffer.from(svgDocument(layout.width, layout.height, badges)), left: 0, top: 0 });
  const data = await sharp({
    create: { width: layout.width, height: layout.height, channels: 3, background: options.background ?? GRID_DEFAULTS.background },
  })
    .composite(composites)
    .jpeg({ quality: options.quality ?? GRID_DEFAULTS.quality })
    .toBuffer();
  return { data, mime: 'image/jpeg', width: layout.width, height: layout.height, tiles };
}

export interface FilmstripOptions {
  /** Thumbnail height before fitting (default 96). */
  thumbHeight?: number;
  /** Bound on the strip's width (default 2048). */
  maxWidth?: number;
  /** Height of each label line in pixels (default 13). */
  labelHeight?: number;
}

/** `12.345` -> `12.35s`. */
export function formatTime(sec: number): string {
  return `${sec.toFixed(2)}s`;
}

/**
 * One row of thumbnails, each labelled `#<frame index>` and `<time>s` underneath, on a dark
 * background. Tiles in the result are the thumbnail rectangles.
 */
export async function composeFilmstrip(frames: GridFrame[], frameWidth: number, frameHeight: number, options: FilmstripOptions = {}): Promise<ComposedImage> {
  if (frames.length < 1) {
    throw new RangeError('a filmstrip needs at least one frame');
  }
  const gap = 6;
  const maxWidth = options.maxWidth ?? 2048;
  const lh = options.labelHeight ?? 13;
  let th = options.thumbHeight ?? 96;
  let tw = Math.max(1, Math.round((th * frameWidth) / frameHeight));
  // Room for the widest label under each thumbnail.
  const labelWidth = Math.max(...frames.map((f) => Math.max(measureText(`#${f.frameIndex}`, lh).width, measureText(formatTime(f.timeSec), lh).width)));
  const slot = (w: number): number => Math.max(w, Math.ceil(labelWidth));
  const total = (w: number): number => frames.length * slot(w) + (frames.length + 1) * gap;
  if (total(tw) > maxWidth) {
    const s = (maxWidth - (frames.length + 1) * gap) / (frames.length * tw);
    tw = Math.max(1, Math.floor(tw * s));
    th = Math.max(1, Math.round((tw * frameHeight) / frameWidth));
  }
  const slotWidth = slot(tw);
  const width = total(tw);
  const labelTop = gap + th + 4;
  const height = labelTop + 2 * lh + 4 + gap;
  const composites: OverlayOptions[] = [];
  let text = '';
  const tiles: GridTile[] = [];
  for (let i = 0; i < frames.length; i++) {
    const slotX = gap + i * (slotWidth + gap);
    const x = slotX + Math.floor((slotWidth - tw) / 2);
    const tile = await tileBuffer(frames[i].path, tw, th);
    composites.push({ ...tile, left: x, top: gap });
    const a = `#${frames[i].frameIndex}`;
    const b = formatTime(frames[i].timeSec);
    text += textSvg(a, slotX + (slotWidth - measureText(a, lh).width) / 2, labelTop, { height: lh, color: '#f0f0f0' });
    text += textSvg(b, slotX + (slotWidth - measureText(b, lh).width) / 2, labelTop + lh + 4, { height: lh, color: '#a8c8ff' });
    tiles.push({ frameIndex: frames[i].frameIndex, frameId: i + 1, timeSec: frames[i].timeSec, x, y: gap, width: tw, height: th });
  }
  composites.push({ input: Buffer.from(svgDocument(width, height, text)), left: 0, top: 0 });
  const data = await sharp({ create: { width, height, channels: 3, background: '#1e1e1e' } })
    .composite(composites)
    .jpeg({ quality: 90 })
    .toBuffer();
  return { data, mime: 'image/jpeg', width, height, tiles };
}
