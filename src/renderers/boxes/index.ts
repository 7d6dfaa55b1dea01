import type { ActivationFunction } from 'vscode-notebook-renderer';
import { OUTPUT_METADATA_KEY } from '../../common/mime';
import { type BoxesPayload, type BoxesView, checkBoxesPayload, renderBoxes, renderBoxesError } from './render';
import { BOXES_CSS } from './style';

/** An empty element inside the output's shadow root, with the renderer's styles. */
function freshHost(element: HTMLElement): HTMLElement {
  const shadow = element.shadowRoot ?? element.attachShadow({ mode: 'open' });
  shadow.textContent = '';
  const style = element.ownerDocument.createElement('style');
  style.textContent = BOXES_CSS;
  const host = element.ownerDocument.createElement('div');
  shadow.append(style, host);
  return host;
}

/** Renderer `alref.boxes`: the pivot frame with its candidate boxes and the chosen one. */
export const activate: ActivationFunction = () => {
  const views = new Map<string, BoxesView>();
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
        const problem = checkBoxesPayload(payload);
        if (problem) {
          renderBoxesError(freshHost(element), problem);
          return;
        }
        views.set(item.id, renderBoxes(freshHost(element), item.data(), payload as BoxesPayload));
      } catch (err) {
        console.error('alref boxes renderer failed', err);
        renderBoxesError(freshHost(element), `Cannot show these boxes: ${err instanceof Error ? err.message : String(err)}`);
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
