import sharp, { type OverlayOptions } from 'sharp';
import type { GridTile } from '../domain';
import { GRID_COLUMNS } from '../sampling';
import { pilResizeRgbView } from '../imaging/pilResizeSimd';
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

/** libjpeg's DCT scaling factors libvips' JPEG loader takes (`shrink`), largest first. */
const JPEG_SHRINKS = [8, 4, 2] as const;

/**
 * The largest DCT scaling factor at which libjpeg still decodes a `width` x `height` JPEG to at least
 * `tileWidth` x `tileHeight` (a scaled decode is `ceil(size / factor)`); 1 when none does. Decoding at
 * 1/2 skips most of the inverse DCT and the colour conversion: the tile is then resized from there.
 */
export function jpegShrinkFor(width: number, height: number, tileWidth: number, tileHeight: number): number {
  return JPEG_SHRINKS.find((f) => Math.ceil(width / f) >= tileWidth && Math.ceil(height / f) >= tileHeight) ?? 1;
}

/** A decoded frame: interleaved 8-bit RGB. */
interface RgbImage {
  data: Buffer;
  width: number;
  height: number;
}

async function decodeRgb(input: string): Promise<RgbImage> {
  const { data, info } = await sharp(input).removeAlpha().toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height };
}

/**
 * A frame file decoded for a `width` x `height` tile: a JPEG at the DCT scale {@link jpegShrinkFor}
 * picks for the listed frame size (libvips' `file.jpg[shrink=N]` load option: sharp hands the path to
 * libvips as given); any other image, a JPEG that option fails on, or one that comes out smaller than
 * the tile (the file is smaller than listed), in full.
 */
export async function decodeForTile(file: string, frameWidth: number, frameHeight: number, width: number, height: number): Promise<RgbImage> {
  const shrink = /\.jpe?g$/i.test(file) ? jpegShrinkFor(frameWidth, frameHeight, width, height) : 1;
  if (shrink > 1) {
    try {
      const img = await decodeRgb(`${file}[shrink=${shrink}]`);
      // a file smaller than the frame size it was listed with is not enlarged from its scaled decode
      if (img.width >= width && img.height >= height) {
        return img;
      }
    } catch {
      // not a JPEG after all, or a loader without the option: the plain decode below names the problem
    }
  }
  return decodeRgb(file);
}

/**
 * Decodes `file` for a `width` x `height` tile ({@link decodeForTile}), resizes it as Pillow's default
 * `Image.resize` does (bicubic, antialiased when reducing) and hands the tile's interleaved RGB bytes
 * to `use`, synchronously: they may be a view of the resize module's memory, which the next resize
 * on this thread overwrites.
 */
async function withTile<T>(file: string, frameWidth: number, frameHeight: number, width: number, height: number, use: (rgb: Uint8Array) => T): Promise<T> {
  const img = await decodeForTile(file, frameWidth, frameHeight, width, height);
  return use(img.width === width && img.height === height ? img.data : pilResizeRgbView(img.data, img.width, img.height, width, height));
}

/** Draws a tile into `canvas` (interleaved RGB, `canvasWidth` pixels per row) at `cell`. */
function drawTile(file: string, frameWidth: number, frameHeight: number, canvas: Uint8Array, canvasWidth: number, cell: { x: number; y: number; width: number; height: number }): Promise<void> {
  const rowBytes = cell.width * 3;
  return withTile(file, frameWidth, frameHeight, cell.width, cell.height, (tile) => {
    for (let y = 0; y < cell.height; y++) {
      canvas.set(tile.subarray(y * rowBytes, (y + 1) * rowBytes), ((cell.y + y) * canvasWidth + cell.x) * 3);
    }
  });
}

/** `#rrggbb` (or `#rgb`) as three bytes; white for anything else. */
function rgbOf(colour: string): [number, number, number] {
  const m = /^#([0-9a-f]{3}|[0-9a-f]{6})$/i.exec(colour);
  if (!m) {
    return [255, 255, 255];
  }
  const hex = m[1].length === 3 ? m[1].replace(/./g, (c) => c + c) : m[1];
  return [0, 2, 4].map((i) => parseInt(hex.slice(i, i + 2), 16)) as [number, number, number];
}

/** The pixels of a rendered layer that are not fully transparent: pixel index and RGBA, four bytes each. */
export interface SparseLayer {
  pixels: Int32Array;
  rgba: Uint8Array;
}

/** The visible pixels of a raw RGBA image. */
export function sparseLayer(rgba: Uint8Array): SparseLayer {
  let n = 0;
  for (let i = 3; i < rgba.length; i += 4) {
    n += rgba[i] !== 0 ? 1 : 0;
  }
  const pixels = new Int32Array(n);
  const out = new Uint8Array(n * 4);
  for (let i = 3, k = 0; i < rgba.length; i += 4) {
    if (rgba[i] !== 0) {
      pixels[k] = (i - 3) >> 2;
      out.set(rgba.subarray(i - 3, i + 1), k * 4);
      k++;
    }
  }
  return { pixels, rgba: out };
}

/**
 * Draws a layer over an RGB canvas, as libvips' `over` composite of an 8-bit RGBA overlay on an
 * opaque image computes it (`floor((src * a + dst * (255 - a)) / 255)`; the tests compare the two).
 */
export function blendLayer(canvas: Uint8Array, layer: SparseLayer): void {
  const { pixels, rgba } = layer;
  for (let k = 0; k < pixels.length; k++) {
    const o = pixels[k] * 3;
    const a = rgba[k * 4 + 3];
    if (a === 255) {
      canvas[o] = rgba[k * 4];
      canvas[o + 1] = rgba[k * 4 + 1];
      canvas[o + 2] = rgba[k * 4 + 2];
    } else {
      for (let c = 0; c < 3; c++) {
        canvas[o + c] = Math.floor((rgba[k * 4 + c] * a + canvas[o + c] * (255 - a)) / 255);
      }
    }
  }
}

/**
 * Rendered badge layers (the visible pixels of a grid-sized RGBA) by their SVG text: every grid of
 * one layout carries the same badges (ids 1..n at the same places), so a run renders each once.
 */
const badgeLayers = new Map<string, Promise<SparseLayer>>();
const BADGE_LAYERS_KEPT = 8;

function badgeLayer(svg: string): Promise<SparseLayer> {
  let layer = badgeLayers.get(svg);
  if (!layer) {
    layer = sharp(Buffer.from(svg)).ensureAlpha().raw().toBuffer().then(sparseLayer);
    // a failed render is not kept
    layer.catch(() => badgeLayers.delete(svg));
    if (badgeLayers.size >= BADGE_LAYERS_KEPT) {
      badgeLayers.delete(badgeLayers.keys().next().value as string);
    }
    badgeLayers.set(svg, layer);
  }
  return layer;
}

/**
 * Tiles `frames` (all of one size, `frameWidth` x `frameHeight`) into one JPEG grid with a frame-id
 * badge (1-based, in order) at the top-left corner of each tile.
 *
 * The frames are decoded concurrently (a JPEG at a DCT scale that leaves it at least tile-sized, see
 * {@link decodeForTile}), each resized as soon as it is read as Pillow's default `Image.resize` does
 * and copied into one raw canvas; the badge layer, rendered once per layout, is blended over its
 * visible pixels only; one JPEG encode.
 */
export async function composeGrid(frames: GridFrame[], frameWidth: number, frameHeight: number, options: GridOptions = {}): Promise<ComposedImage> {
  const layout = gridLayout(frameWidth, frameHeight, frames.length, options);
  let badges = '';
  const bh = badgeHeight(layout.tileHeight);
  const pad = Math.max(2, Math.round(bh * 0.25));
  const tiles: GridTile[] = [];
  for (let i = 0; i < frames.length; i++) {
    const cell = layout.cells[i];
    badges += badgeSvg(String(i + 1), cell.x + pad, cell.y + pad, { height: bh, color: '#ffffff', background: '#d7263d', border: '#ffffff' }).svg;
    tiles.push({ frameIndex: frames[i].frameIndex, frameId: i + 1, timeSec: frames[i].timeSec, ...cell });
  }
  const { width, height } = layout;
  const canvas = Buffer.alloc(width * height * 3);
  const [r, g, b] = rgbOf(options.background ?? GRID_DEFAULTS.background);
  if (r === g && g === b) {
    canvas.fill(r);
  } else {
    for (let i = 0; i < canvas.length; i += 3) {
      canvas[i] = r;
      canvas[i + 1] = g;
      canvas[i + 2] = b;
    }
  }
  const [layer] = await Promise.all([
    badgeLayer(svgDocument(layout.width, layout.height, badges)),
    ...frames.map((f, i) => drawTile(f.path, frameWidth, frameHeight, canvas, width, layout.cells[i])),
  ]);
  blendLayer(canvas, layer);
  const data = await sharp(canvas, { raw: { width, height, channels: 3 } })
    .jpeg({ quality: options.quality ?? GRID_DEFAULTS.quality })
    .toBuffer();
  return { data, mime: 'image/jpeg', width, height, tiles };
}

/**
 * The grids of several frame lists, in order, the next one composed while the caller consumes this
 * one: a video's grids then keep both cores busy (one grid alone ends in a single-threaded JPEG
 * encode). A grid that fails rejects when its turn comes; a caller that stops early leaves one grid
 * composed for nothing.
 *
 * @example
 * for await (const img of composeGrids(clips.map(framesOf), 854, 480)) await store(img);
 */
export async function* composeGrids(groups: readonly GridFrame[][], frameWidth: number, frameHeight: number, options: GridOptions = {}): AsyncGenerator<ComposedImage, void, void> {
  const start = (frames: GridFrame[]): Promise<ComposedImage> => {
    const p = composeGrid(frames, frameWidth, frameHeight, options);
    // a failure is reported where the grid is awaited, not as an unhandled rejection meanwhile
    p.catch(() => undefined);
    return p;
  };
  let next = groups.length > 0 ? start(groups[0]) : undefined;
  for (let i = 0; next; i++) {
    const current = next;
    next = i + 1 < groups.length ? start(groups[i + 1]) : undefined;
    yield await current;
  }
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
  // the thumbnails decoded concurrently, each resized as soon as it is read (and copied out)
  const thumbs = await Promise.all(frames.map((f) => withTile(f.path, frameWidth, frameHeight, tw, th, (rgb) => Buffer.from(rgb))));
  const composites: OverlayOptions[] = [];
  let text = '';
  const tiles: GridTile[] = [];
  for (let i = 0; i < frames.length; i++) {
    const slotX = gap + i * (slotWidth + gap);
    const x = slotX + Math.floor((slotWidth - tw) / 2);
    composites.push({ input: thumbs[i], raw: { width: tw, height: th, channels: 3 }, left: x, top: gap });
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
