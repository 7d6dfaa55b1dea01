import { FULL_IMAGE_METADATA_KEY, type FullImagePayload } from '../../common/payloads';
import { viewRenderer } from '../lib/activation';
import { type BoxesPayload, checkBoxesPayload, renderBoxes, renderBoxesError } from './render';
import { BOXES_CSS } from './style';

/** Renderer `alref.boxes`: the pivot frame with its candidate boxes and the chosen one. */
export const activate = viewRenderer<BoxesPayload, ReturnType<typeof renderBoxes>>({
  css: BOXES_CSS,
  noun: 'set of boxes',
  payloadIn: 'metadata',
  check: checkBoxesPayload,
  render: (host, item, payload, ctx) =>
    renderBoxes(host, item.data(), payload, {
      full: (item.metadata as Record<string, unknown> | undefined)?.[FULL_IMAGE_METADATA_KEY] as FullImagePayload | undefined,
      messaging: ctx,
    }),
  renderError: renderBoxesError,
});
