import sharp from 'sharp';
import type { FullImagePayload } from '../../common/payloads';
import type { ImageEvent } from '../events';
import { putArtifact } from './runFolder';

/*
 * Images in a notebook are stored at display size; the full-size original goes to the run folder
 * (content-addressed, see runFolder.ts) and the output's metadata names it, so a renderer can open
 * it on click and a reader of the file can find it. This keeps an executed notebook small (see the
 * size bound in README.md) while nothing the pipeline drew is lost.
 */

/** Display images fit inside this width (pixels): about the width of a notebook's output column. */
export const DISPLAY_MAX_WIDTH = 1024;
/** Display images fit inside this height (pixels): a 16:9 frame shows at 640 x 360. */
export const DISPLAY_MAX_HEIGHT = 360;
/**
 * JPEG quality of a display image re-encoded from a larger JPEG (libjpeg: sharp's mozjpeg option
 * saves about 20 % but takes about 7 times as long, see bench/pivotBox.ts).
 */
export const DISPLAY_JPEG_QUALITY = 80;

/** The display size of a `width` x `height` image: itself when it fits, else scaled down to fit (aspect kept). */
export function displaySize(width: number, height: number): { width: number; height: number } {
  const k = Math.min(1, DISPLAY_MAX_WIDTH / width, DISPLAY_MAX_HEIGHT / height);
  return k >= 1 ? { width, height } : { width: Math.max(1, Math.round(width * k)), height: Math.max(1, Math.round(height * k)) };
}

/**
 * The event as the notebook stores it: an image larger than the display size is written whole to
 * `runDir` and replaced by a display-size copy (same format; JPEG at {@link DISPLAY_JPEG_QUALITY}),
 * with `full` naming the original. Smaller images are returned unchanged. Renderer payloads keep
 * their coordinates in pixels of the original: renderers scale them to the image they show.
 */
export async function displayImage(event: ImageEvent, runDir: string): Promise<ImageEvent> {
  const meta = await sharp(event.data).metadata();
  const width = meta.width ?? 0;
  const height = meta.height ?? 0;
  const size = displaySize(width, height);
  if (width === 0 || height === 0 || (size.width === width && size.height === height)) {
    return event;
  }
  const ext = event.mime === 'image/png' ? '.png' : '.jpg';
  const stored = await putArtifact(runDir, event.data, ext);
  const resized = sharp(event.data).resize(size.width, size.height, { fit: 'fill' });
  const data = new Uint8Array(await (event.mime === 'image/png' ? resized.png() : resized.jpeg({ quality: DISPLAY_JPEG_QUALITY })).toBuffer());
  const full: FullImagePayload = { ref: stored.ref, sha256: stored.sha256, mime: event.mime, width, height };
  return { ...event, data, full };
}
