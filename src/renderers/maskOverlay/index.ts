import type { ActivationFunction } from 'vscode-notebook-renderer';
import { checkMaskOverlayPayload, renderMaskOverlay, renderMaskOverlayError, type MaskOverlayPayload, type MaskOverlayView } from './render';
import { MASK_OVERLAY_CSS } from './style';

/** An empty element inside the output's shadow root, with the renderer's styles. */
function freshHost(element: HTMLElement): HTMLElement {
  const shadow = element.shadowRoot ?? element.attachShadow({ mode: 'open' });
  shadow.textContent = '';
  const style = element.ownerDocument.createElement('style');
  style.textContent = MASK_OVERLAY_CSS;
  const host = element.ownerDocument.createElement('div');
  shadow.append(style, host);
  return host;
}

/** Renderer `alref.mask-overlay`: masks over the video frames, scrubbed and played. */
export const activate: ActivationFunction = (ctx) => {
  const views = new Map<string, MaskOverlayView>();
  const dispose = (id: string): void => {
    views.get(id)?.dispose();
    views.delete(id);
  };
  return {
    renderOutputItem(item, element) {
      dispose(item.id);
      try {
        const payload = item.json() as unknown;
        const problem = checkMaskOverlayPayload(payload);
        if (problem) {
          renderMaskOverlayError(freshHost(element), problem);
          return;
        }
        views.set(item.id, renderMaskOverlay(freshHost(element), payload as MaskOverlayPayload, ctx));
      } catch (err) {
        console.error('alref mask overlay renderer failed', err);
        renderMaskOverlayError(freshHost(element), `Cannot show these masks: ${err instanceof Error ? err.message : String(err)}`);
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
