import type { ActivationFunction } from 'vscode-notebook-renderer';
import { OUTPUT_METADATA_KEY } from '../../common/mime';
import { type AudioTimelinePayload, type TimelineView, checkTimelinePayload, renderTimeline, renderTimelineError } from './render';
import { TIMELINE_CSS } from './style';

/** An empty element inside the output's shadow root, with the renderer's styles. */
function freshHost(element: HTMLElement): HTMLElement {
  const shadow = element.shadowRoot ?? element.attachShadow({ mode: 'open' });
  shadow.textContent = '';
  const style = element.ownerDocument.createElement('style');
  style.textContent = TIMELINE_CSS;
  const host = element.ownerDocument.createElement('div');
  shadow.append(style, host);
  return host;
}

/** Renderer `alref.audio-timeline`: waveform, sound events and per-category activity of an AVS clip. */
export const activate: ActivationFunction = () => {
  const views = new Map<string, TimelineView>();
  const dispose = (id: string): void => {
    views.get(id)?.dispose();
    views.delete(id);
  };
  return {
    renderOutputItem(item, element) {
      dispose(item.id);
      try {
        const meta = item.metadata as Record<string, unknown> | undefined;
        const payload = meta?.[OUTPUT_METADATA_KEY];
        const problem = checkTimelinePayload(payload);
        if (problem) {
          renderTimelineError(freshHost(element), problem);
          return;
        }
        views.set(item.id, renderTimeline(freshHost(element), item.data(), payload as AudioTimelinePayload));
      } catch (err) {
        console.error('alref audio timeline renderer failed', err);
        renderTimelineError(freshHost(element), `Cannot show this audio timeline: ${err instanceof Error ? err.message : String(err)}`);
      }
    },
    disposeOutputItem(id) {
      if (id === undefined) {
        for (const key of [...views.keys()]) {
          dispose(key);
        }
      } else {
        dispose(id);
      }
    },
  };
};
