import type { ActivationFunction } from 'vscode-notebook-renderer';
import { OUTPUT_METADATA_KEY } from '../../common/mime';
import type { FrameGridPayload } from '../../common/payloads';
import { checkFrameGridPayload, renderFrameGrid, renderFrameGridError, type FrameGridView } from './render';
import { FRAME_GRID_CSS } from './style';

/** An empty element inside the output's shadow root, with the renderer's styles. */
function freshHost(element: HTMLElement): HTMLElement {
  const shadow = element.shadowRoot ?? element.attachShadow({ mode: 'open' });
  shadow.textContent = '';
  const style = element.ownerDocument.createElement('style');
  style.textContent = FRAME_GRID_CSS;
  const host = element.ownerDocument.createElement('div');
  shadow.append(style, host);
  return host;
}

/**
 * Renderer `alref.frame-grid` for `application/vnd.alref.frame-grid`: the item's bytes are the grid
 * image, the layout payload is `metadata.alref` of the output.
 */
export const activate: ActivationFunction = () => {
  const views = new Map<string, FrameGridView>();
  const drop = (id: string): void => {
    views.get(id)?.dispose();
    views.delete(id);
  };
  return {
    renderOutputItem(item, element) {
      drop(item.id);
      try {
        const payload = (item.metadata as Record<string, unknown> | undefined)?.[OUTPUT_METADATA_KEY];
        const problem = checkFrameGridPayload(payload);
        if (problem) {
          renderFrameGridError(freshHost(element), problem);
          return;
        }
        views.set(item.id, renderFrameGrid(freshHost(element), item.data(), payload as FrameGridPayload));
      } catch (err) {
        console.error('alref frame-grid renderer failed', err);
        drop(item.id);
        renderFrameGridError(freshHost(element), `Cannot show this frame grid: ${err instanceof Error ? err.message : String(err)}`);
      }
    },
    disposeOutputItem(id) {
      if (id === undefined) {
        [...views.keys()].forEach(drop);
      } else {
        drop(id);
      }
    },
  };
};
