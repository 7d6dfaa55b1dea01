import { viewRenderer } from '../lib/activation';
import { type SweepMatrixPayload, type SweepMatrixView, checkSweepMatrixPayload, renderSweepError, renderSweepMatrix } from './render';
import { SWEEP_CSS } from './style';

/** Renderer `alref.sweep-matrix`: a sweep's variants x inputs matrix and the side-by-side comparison of a cell. */
export const activate = viewRenderer<SweepMatrixPayload, SweepMatrixView>({
  css: SWEEP_CSS,
  noun: 'sweep matrix',
  payloadIn: 'json',
  check: checkSweepMatrixPayload,
  render: (host, _item, payload, ctx) => renderSweepMatrix(host, payload, ctx),
  renderError: renderSweepError,
});
