import { viewRenderer } from '../lib/activation';
import { type AudioTimelinePayload, checkTimelinePayload, renderTimeline, renderTimelineError } from './render';
import { TIMELINE_CSS } from './style';

/** Renderer `alref.audio-timeline`: waveform, sound events and per-category activity. */
export const activate = viewRenderer<AudioTimelinePayload, ReturnType<typeof renderTimeline>>({
  css: TIMELINE_CSS,
  noun: 'audio timeline',
  payloadIn: 'metadata',
  check: checkTimelinePayload,
  render: (host, item, payload) => renderTimeline(host, item.data(), payload),
  renderError: renderTimelineError,
});
