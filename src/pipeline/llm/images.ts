import sharp from 'sharp';

/** Size limits of one image sent to the provider. */
export interface ImageLimits {
  /** Longest side in pixels (default 8192). */
  maxSide: number;
  /** Encoded size in bytes (default 20 MB, OpenAI's per-image limit). */
  maxBytes: number;
}

export const DEFAULT_IMAGE_LIMITS: ImageLimits = { maxSide: 8192, maxBytes: 20 * 1024 * 1024 };

/** An image ready to send: JPEG bytes and what was done to them. */
export interface PreparedImage {
  bytes: Uint8Array;
  mime: 'image/jpeg';
  width: number;
  height: number;
  /** Set when the image had to be made smaller (or re-encoded) to fit the limits. */
  downscaled?: { fromWidth: number; fromHeight: number; fromBytes: number; reason: string };
}

/**
 * Makes an image fit the provider's limits. A JPEG within the limits passes unchanged (the bytes the
 * notebook shows are exactly the bytes sent); anything else is re-encoded as JPEG, and an image over
 * the limits is scaled down until it fits.
 */
export async function prepareImage(bytes: Uint8Array, limits: ImageLimits = DEFAULT_IMAGE_LIMITS): Promise<PreparedImage> {
  const meta = await sharp(bytes).metadata();
  const width = meta.width ?? 0;
  const height = meta.height ?? 0;
  if (!width || !height) {
    throw new Error('Image has no size; it is not a readable JPEG or PNG.');
  }
  const tooLargeSide = Math.max(width, height) > limits.maxSide;
  const tooManyBytes = bytes.byteLength > limits.maxBytes;
  if (meta.format === 'jpeg' && !tooLargeSide && !tooManyBytes) {
    return { bytes, mime: 'image/jpeg', width, height };
  }
  let scale = tooLargeSide ? limits.maxSide / Math.max(width, height) : 1;
  for (let attempt = 0; attempt < 8; attempt++) {
    const w = Math.max(1, Math.floor(width * scale));
    const h = Math.max(1, Math.floor(height * scale));
    const out = new Uint8Array(await sharp(bytes).resize(w, h, { fit: 'fill' }).jpeg({ quality: 90 }).toBuffer());
    if (out.byteLength <= limits.maxBytes) {
      const changed = tooLargeSide || tooManyBytes || w !== width;
      return {
        bytes: out,
        mime: 'image/jpeg',
        width: w,
        height: h,
        downscaled: changed
          ? {
              fromWidth: width,
              fromHeight: height,
              fromBytes: bytes.byteLength,
              reason: tooLargeSide
                ? `longest side ${Math.max(width, height)} px is over the limit of ${limits.maxSide} px`
                : `${bytes.byteLength} bytes is over the limit of ${limits.maxBytes} bytes`,
            }
          : undefined,
      };
    }
    scale *= Math.sqrt(limits.maxBytes / out.byteLength) * 0.9;
  }
  throw new Error(`Image of ${width}x${height} cannot be brought under ${limits.maxBytes} bytes.`);
}

/** `data:` URL of prepared image bytes. */
export function dataUrl(image: { bytes: Uint8Array; mime: string }): string {
  return `data:${image.mime};base64,${Buffer.from(image.bytes).toString('base64')}`;
}
