import type { PivotViewPayload } from '../../common/payloads';
import { viewRenderer } from '../lib/activation';
import { checkPivotViewPayload, renderPivotView, renderPivotViewError } from './render';
import { PIVOT_VIEW_CSS } from './style';

/** Renderer `alref.pivot-view` for `application/vnd.alref.pivot-view+json`: one row per object x clip of a pivot cell. */
export const activate = viewRenderer<PivotViewPayload, ReturnType<typeof renderPivotView>>({
  css: PIVOT_VIEW_CSS,
  noun: 'pivot view',
  payloadIn: 'json',
  check: checkPivotViewPayload,
  render: (host, _item, payload, ctx) => renderPivotView(host, payload, ctx),
  renderError: renderPivotViewError,
});
