/** An axis-aligned box in pixels, `[x0, x1) x [y0, y1)`. */
export interface PixelBox {
  x0: number;
  y0: number;
  x1: number;
  y1: number;
}

/**
 * Intersection over union of two boxes (0 when they do not overlap or neither has area). Shared by
 * the sweep's pivot metrics and the sweep view's "box moved" line, so both read the same number.
 */
export function boxIoU(a: PixelBox, b: PixelBox): number {
  const iw = Math.max(0, Math.min(a.x1, b.x1) - Math.max(a.x0, b.x0));
  const ih = Math.max(0, Math.min(a.y1, b.y1) - Math.max(a.y0, b.y0));
  const inter = iw * ih;
  const area = (r: PixelBox): number => Math.max(0, r.x1 - r.x0) * Math.max(0, r.y1 - r.y0);
  const union = area(a) + area(b) - inter;
  return union > 0 ? inter / union : 0;
}
