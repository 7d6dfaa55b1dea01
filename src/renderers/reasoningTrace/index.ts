import type { ActivationFunction } from 'vscode-notebook-renderer';
import type { ReasoningTracePayload } from '../../common/payloads';
import { type TraceView, checkPayload, createTraceView, renderError, updateTraceView } from './render';
import { TRACE_CSS } from './style';
import { freshHost as hostWithCss } from '../lib/activation';

const freshHost = (element: HTMLElement): HTMLElement => hostWithCss(element, TRACE_CSS);

/** Renderer `alref.reasoning-trace`: a streamed LLM reply, grown in place as it arrives. */
export const activate: ActivationFunction = () => {
  const views = new Map<string, { view: TraceView; element: HTMLElement }>();
  return {
    renderOutputItem(item, element) {
      try {
        const payload = item.json() as unknown;
        const problem = checkPayload(payload);
        if (problem) {
          views.delete(item.id);
          renderError(freshHost(element), problem);
          return;
        }
        let entry = views.get(item.id);
        if (!entry || entry.element !== element || !entry.view.root.isConnected) {
          entry = { view: createTraceView(freshHost(element)), element };
          views.set(item.id, entry);
        }
        // The run's LLM mode travels in the output's metadata (see CellOutputBuilder).
        const mode = (item.metadata as { llmMode?: unknown } | undefined)?.llmMode;
        updateTraceView(entry.view, payload as ReasoningTracePayload, typeof mode === 'string' ? mode : undefined);
      } catch (err) {
        console.error('alref reasoning-trace renderer failed', err);
        views.delete(item.id);
        renderError(freshHost(element), `Cannot show this reasoning trace: ${err instanceof Error ? err.message : String(err)}`);
      }
    },
    disposeOutputItem(id) {
      if (id === undefined) {
        views.clear();
      } else {
        views.delete(id);
      }
    },
  };
};
