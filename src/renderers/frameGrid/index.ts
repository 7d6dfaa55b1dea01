import { FULL_IMAGE_METADATA_KEY, type FrameGridPayload, type FullImagePayload } from '../../common/payloads';
import { viewRenderer } from '../lib/activation';
import { checkFrameGridPayload, renderFrameGrid, renderFrameGridError } from './render';
import { FRAME_GRID_CSS } from './style';

/**
 * Renderer `alref.frame-grid` for `application/vnd.alref.frame-grid`: the item's bytes are the grid
 * image, the layout payload is `metadata.alref` of the output.
 */
export const activate = viewRenderer<FrameGridPayload, ReturnType<typeof renderFrameGrid>>({
  css: FRAME_GRID_CSS,
  noun: 'frame grid',
  payloadIn: 'metadata',
  check: checkFrameGridPayload,
  render: (host, item, payload, ctx) =>
    renderFrameGrid(host, item.data(), payload, {
      full: (item.metadata as Record<string, unknown> | undefined)?.[FULL_IMAGE_METADATA_KEY] as FullImagePayload | undefined,
      messaging: ctx,
    }),
  renderError: renderFrameGridError,
});
