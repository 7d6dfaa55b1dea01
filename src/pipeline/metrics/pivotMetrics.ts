/**
 * Pivot metrics: how good a chosen pivot frame and pivot box are, measured against ground-truth masks
 * alone (no SAM 2 needed). Pure functions over binary masks (`mask[y * width + x]` is 0 or 1) and
 * boxes in pixels ([x0, x1) x [y0, y1), as {@link Box}).
 *
 * - `frameAreaRatio`: the referent's mask area on the chosen frame divided by its largest area among
 *   the clip's sampled frames (0..1); undefined when the referent is absent from every sampled frame.
 * - `frameVisible`: 1 when the chosen frame shows the referent (area > 0), else 0.
 * - `boxIoU`: IoU of the chosen box with the bounding box of the ground-truth mask on that frame (0 when
 *   the frame has no referent).
 * - `boxCentreOnObject`: 1 when the pixel under the chosen box's centre belongs to the mask, else 0.
 */
import { boxIoU } from '../../common/boxes';
import type { Box } from '../domain';
import { maskBounds } from '../masks/rle';

/** Number of pixels set in a binary mask. */
export function maskArea(mask: Uint8Array): number {
  let n = 0;
  for (let i = 0; i < mask.length; i++) {
    if (mask[i]) {
      n++;
    }
  }
  return n;
}

/** Scales a box from one image size to another (a box on the decoded frame onto the mask's grid). */
export function scaleBox(box: Box, from: { width: number; height: number }, to: { width: number; height: number }): Box {
  const sx = to.width / from.width;
  const sy = to.height / from.height;
  return { x0: box.x0 * sx, y0: box.y0 * sy, x1: box.x1 * sx, y1: box.y1 * sy };
}

/**
 * The frame metrics of one clip: `areas` maps each sampled frame of the clip to the referent's mask
 * area on it (frames without ground truth left out); `chosen` is the chosen frame. Both null when the
 * chosen frame has no ground truth; `frameAreaRatio` also null when the referent is on no sampled frame.
 */
export function frameMetrics(areas: ReadonlyMap<number, number>, chosen: number): { frameAreaRatio: number | null; frameVisible: number | null } {
  const area = areas.get(chosen);
  if (area === undefined) {
    return { frameAreaRatio: null, frameVisible: null };
  }
  const best = Math.max(0, ...areas.values());
  return { frameAreaRatio: best > 0 ? area / best : null, frameVisible: area > 0 ? 1 : 0 };
}

/**
 * The box metrics of a chosen box on a frame with a ground-truth mask of `width` x `height` (the box in
 * the same pixel grid; see {@link scaleBox}).
 */
export function boxMetrics(box: Box, mask: Uint8Array, width: number, height: number): { boxIoU: number; boxCentreOnObject: number } {
  const gt = maskBounds(mask, width, height);
  const cx = Math.min(width - 1, Math.max(0, Math.floor((box.x0 + box.x1) / 2)));
  const cy = Math.min(height - 1, Math.max(0, Math.floor((box.y0 + box.y1) / 2)));
  return { boxIoU: gt ? boxIoU(box, gt) : 0, boxCentreOnObject: mask[cy * width + cx] ? 1 : 0 };
}

/** Mean of the values that are numbers; null when none is. */
export function meanDefined(values: ReadonlyArray<number | null | undefined>): number | null {
  const xs = values.filter((v): v is number => typeof v === 'number' && Number.isFinite(v));
  return xs.length > 0 ? xs.reduce((a, b) => a + b, 0) / xs.length : null;
}

/** Per key, the mean over rows where the key is defined (null where it is defined nowhere). */
export function meanByKey(rows: ReadonlyArray<Record<string, number | null>>, keys: readonly string[]): Record<string, number | null> {
  return Object.fromEntries(keys.map((k) => [k, meanDefined(rows.map((r) => r[k]))]));
}

/** Per key, `row - baseline` (null where either is null). */
export function deltaByKey(row: Record<string, number | null>, baseline: Record<string, number | null>, keys: readonly string[]): Record<string, number | null> {
  return Object.fromEntries(keys.map((k) => {
    const a = row[k];
    const b = baseline[k];
    return [k, a === null || a === undefined || b === null || b === undefined ? null : a - b];
  }));
}
