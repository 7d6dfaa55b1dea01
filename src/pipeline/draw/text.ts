/**
 * Labels drawn as vector strokes, so images look the same on every machine and no font has to be
 * installed (sharp renders SVG with librsvg, whose text output depends on the system's fonts).
 *
 * The stroke font covers what the pipeline writes on images: digits, `# . , : - + / ( ) [ ] %`,
 * space, the letters `s x f t` (as in `1.25s`, `3x`, `f12`, `t=`) and `=`. Any other character is
 * drawn as a hollow box so a missing glyph is visible rather than silently dropped.
 *
 * Glyphs live on a grid 4 units wide and 6 units tall (y grows downwards, baseline at 6); strokes are
 * 1 unit wide with round caps and joins.
 */

type Stroke = ReadonlyArray<readonly [number, number]>;

interface Glyph {
  /** Advance width in units (the glyph box; spacing is added separately). */
  width: number;
  strokes: Stroke[];
}

const G = (width: number, ...strokes: Stroke[]): Glyph => ({ width, strokes });

const GLYPHS: Record<string, Glyph> = {
  '0': G(4, [[1, 0], [3, 0], [4, 1], [4, 5], [3, 6], [1, 6], [0, 5], [0, 1], [1, 0]]),
  '1': G(4, [[0.8, 1.2], [2, 0], [2, 6]], [[0.8, 6], [3.2, 6]]),
  '2': G(4, [[0, 1], [1, 0], [3, 0], [4, 1], [4, 2.2], [0, 6], [4, 6]]),
  '3': G(4, [[0, 0], [4, 0], [1.8, 2.6], [3, 2.6], [4, 3.6], [4, 5], [3, 6], [1, 6], [0, 5]]),
  '4': G(4, [[3, 6], [3, 0], [0, 4.2], [4, 4.2]]),
  '5': G(4, [[4, 0], [0.3, 0], [0, 2.7], [3, 2.5], [4, 3.5], [4, 5], [3, 6], [0, 6]]),
  '6': G(4, [[3.6, 0], [1.4, 0], [0, 1.6], [0, 5], [1, 6], [3, 6], [4, 5], [4, 3.6], [3, 2.6], [1, 2.6], [0, 3.4]]),
  '7': G(4, [[0, 0], [4, 0], [1.4, 6]]),
  '8': G(4, [[1, 0], [3, 0], [4, 1], [4, 1.9], [3, 2.9], [1, 2.9], [0, 1.9], [0, 1], [1, 0]], [[1, 2.9], [3, 2.9], [4, 3.9], [4, 5], [3, 6], [1, 6], [0, 5], [0, 3.9], [1, 2.9]]),
  '9': G(4, [[0.4, 6], [2.6, 6], [4, 4.4], [4, 1], [3, 0], [1, 0], [0, 1], [0, 2.4], [1, 3.4], [3, 3.4], [4, 2.6]]),
  ' ': G(2.5),
  '#': G(4.4, [[1.6, 0.4], [0.9, 5.6]], [[3.5, 0.4], [2.8, 5.6]], [[0.2, 2], [4.2, 2]], [[0, 4], [4, 4]]),
  '.': G(1, [[0.5, 5.6], [0.5, 6]]),
  ',': G(1, [[0.6, 5.4], [0.6, 6], [0, 7]]),
  ':': G(1, [[0.5, 2.2], [0.5, 2.6]], [[0.5, 5.6], [0.5, 6]]),
  '-': G(3, [[0, 3.3], [3, 3.3]]),
  '+': G(4, [[0, 3.3], [4, 3.3]], [[2, 1.3], [2, 5.3]]),
  '=': G(4, [[0, 2.4], [4, 2.4]], [[0, 4.4], [4, 4.4]]),
  '/': G(3, [[3, 0], [0, 6]]),
  '(': G(2, [[2, 0], [0.6, 1.6], [0.6, 4.4], [2, 6]]),
  ')': G(2, [[0, 0], [1.4, 1.6], [1.4, 4.4], [0, 6]]),
  '[': G(2, [[2, 0], [0, 0], [0, 6], [2, 6]]),
  ']': G(2, [[0, 0], [2, 0], [2, 6], [0, 6]]),
  '%': G(4, [[4, 0], [0, 6]], [[0.6, 0.4], [1.4, 0.4], [1.4, 1.6], [0.6, 1.6], [0.6, 0.4]], [[2.6, 4.4], [3.4, 4.4], [3.4, 5.6], [2.6, 5.6], [2.6, 4.4]]),
  s: G(3.4, [[3.4, 2.4], [0.9, 2.4], [0, 3.2], [0.9, 4.1], [2.5, 4.1], [3.4, 5.1], [2.5, 6], [0, 6]]),
  x: G(3.4, [[0, 2.4], [3.4, 6]], [[3.4, 2.4], [0, 6]]),
  f: G(3, [[3, 0.4], [2.2, 0], [1.4, 0.6], [1.4, 6]], [[0, 2.4], [3, 2.4]]),
  t: G(3, [[1.2, 0.6], [1.2, 5.2], [2, 6], [3, 6]], [[0, 2.4], [3, 2.4]]),
};

const MISSING: Glyph = G(4, [[0, 0], [4, 0], [4, 6], [0, 6], [0, 0]]);

/** Units between glyph boxes. */
const SPACING = 1.4;
/** Cap height in units. */
const CAP = 6;
/** Stroke width in units. */
const STROKE = 1;

/** True when every character of `text` has a glyph in the stroke font. */
export function canDraw(text: string): boolean {
  return [...text].every((ch) => ch in GLYPHS);
}

/**
 * Width and height in pixels of `text` drawn with {@link textPath} at cap height `height`
 * (including half a stroke on each side).
 */
export function measureText(text: string, height: number): { width: number; height: number } {
  const unit = height / (CAP + STROKE);
  let w = 0;
  const chars = [...text];
  chars.forEach((ch, i) => {
    w += (GLYPHS[ch] ?? MISSING).width + (i < chars.length - 1 ? SPACING : 0);
  });
  return { width: (w + STROKE) * unit, height };
}

/**
 * The SVG path data of `text` whose box's top-left corner is at (`x`, `y`) and whose total height
 * (cap height plus stroke) is `height` pixels. Stroke it with width {@link strokeWidth}.
 */
export function textPath(text: string, x: number, y: number, height: number): string {
  const unit = height / (CAP + STROKE);
  const r = (v: number): string => (Math.round(v * 100) / 100).toString();
  const parts: string[] = [];
  let cx = STROKE / 2;
  for (const ch of text) {
    const glyph = GLYPHS[ch] ?? MISSING;
    for (const stroke of glyph.strokes) {
      stroke.forEach(([gx, gy], i) => {
        parts.push(`${i === 0 ? 'M' : 'L'}${r(x + (cx + gx) * unit)} ${r(y + (STROKE / 2 + gy) * unit)}`);
      });
    }
    cx += glyph.width + SPACING;
  }
  return parts.join('');
}

/** Stroke width in pixels for text of total height `height`. */
export function strokeWidth(height: number): number {
  return (STROKE * height) / (CAP + STROKE);
}

/** Escapes a value for an SVG attribute. */
function attr(value: string): string {
  return value.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');
}

export interface TextStyle {
  /** Total text height in pixels. */
  height: number;
  /** CSS colour of the strokes. */
  color: string;
  /** Optional outline colour drawn under the text for contrast on photos. */
  outline?: string;
}

/** An SVG fragment (no `<svg>` root) drawing `text` with its top-left corner at (`x`, `y`). */
export function textSvg(text: string, x: number, y: number, style: TextStyle): string {
  const d = textPath(text, x, y, style.height);
  const sw = strokeWidth(style.height);
  const common = `d="${d}" fill="none" stroke-linecap="round" stroke-linejoin="round"`;
  const under = style.outline
    ? `<path ${common} stroke="${attr(style.outline)}" stroke-width="${(sw * 2.2).toFixed(2)}"/>`
    : '';
  return `${under}<path ${common} stroke="${attr(style.color)}" stroke-width="${sw.toFixed(2)}"/>`;
}

export interface BadgeStyle {
  /** Badge height in pixels; text takes about 60% of it. */
  height: number;
  /** Text colour. */
  color: string;
  /** Fill colour of the badge. */
  background: string;
  /** Optional border colour. */
  border?: string;
  /**
   * `rounded` (default): a rounded rectangle; `circle`: a disc (wider for long labels: a pill), used
   * for box numbers; `square`: sharp corners, used for the frame label of the pivot-box image.
   */
  shape?: 'rounded' | 'circle' | 'square';
}

/** A badge: rounded rectangle with `text` centred, top-left corner at (`x`, `y`). */
export interface Badge {
  svg: string;
  width: number;
  height: number;
}

/**
 * Builds a badge (a filled rounded rectangle holding a short label such as a frame id or box
 * number). Combine fragments with {@link svgDocument} and composite them with sharp.
 *
 * @example
 * const b = badgeSvg('3', 10, 10, { height: 28, color: '#fff', background: '#d7263d' });
 * await sharp(frame).composite([{ input: Buffer.from(svgDocument(w, h, b.svg)) }]).toBuffer();
 */
export function badgeSvg(text: string, x: number, y: number, style: BadgeStyle): Badge {
  const textHeight = Math.max(4, style.height * 0.6);
  const m = measureText(text, textHeight);
  const padX = style.height * 0.28;
  const width = Math.max(style.height, m.width + 2 * padX);
  const height = style.height;
  const radius = style.shape === 'circle' ? height / 2 : style.shape === 'square' ? 0 : height * 0.22;
  const border = style.border
    ? ` stroke="${attr(style.border)}" stroke-width="${Math.max(1, height * 0.06).toFixed(2)}"`
    : '';
  const rect = `<rect x="${x}" y="${y}" width="${width.toFixed(2)}" height="${height}" rx="${radius.toFixed(2)}" fill="${attr(style.background)}"${border}/>`;
  const tx = x + (width - m.width) / 2;
  const ty = y + (height - textHeight) / 2;
  return { svg: rect + textSvg(text, tx, ty, { height: textHeight, color: style.color }), width, height };
}

/** Wraps fragments in an `<svg>` root of the given pixel size. */
export function svgDocument(width: number, height: number, body: string): string {
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">${body}</svg>`;
}
