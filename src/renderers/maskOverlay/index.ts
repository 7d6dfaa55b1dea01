import { viewRenderer } from '../lib/activation';
import { checkMaskOverlayPayload, renderMaskOverlay, renderMaskOverlayError, type MaskOverlayPayload } from './render';
import { MASK_OVERLAY_CSS } from './style';

/** Renderer `alref.mask-overlay`: masks over the video frames, scrubbed and played. */
export const activate = viewRenderer<MaskOverlayPayload, ReturnType<typeof renderMaskOverlay>>({
  css: MASK_OVERLAY_CSS,
  noun: 'mask overlay',
  payloadIn: 'json',
  check: checkMaskOverlayPayload,
  render: (host, _item, payload, ctx) => renderMaskOverlay(host, payload, ctx),
  renderError: renderMaskOverlayError,
});
