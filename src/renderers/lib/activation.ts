import type { ActivationFunction, OutputItem, RendererContext } from 'vscode-notebook-renderer';
import { OUTPUT_METADATA_KEY } from '../../common/mime';

/** An empty element inside the output's shadow root, carrying the renderer's styles. */
export function freshHost(element: HTMLElement, css: string): HTMLElement {
  const shadow = element.shadowRoot ?? element.attachShadow({ mode: 'open' });
  shadow.textContent = '';
  const style = element.ownerDocument.createElement('style');
  style.textContent = css;
  const host = element.ownerDocument.createElement('div');
  shadow.append(style, host);
  return host;
}

/** What differs between the renderers that draw one view per output item. */
export interface ViewRendererSpec<P, V extends { dispose(): void }> {
  css: string;
  /** For messages: "frame grid", "audio timeline", ... */
  noun: string;
  /**
   * Where the payload is: `metadata` for binary items (image bytes in the item, the payload in the
   * output's `metadata.alref`), `json` for `+json` items.
   */
  payloadIn: 'metadata' | 'json';
  /** Why the payload cannot be shown, or nothing (undefined / null) when it can. */
  check(payload: unknown): string | undefined | null;
  render(host: HTMLElement, item: OutputItem, payload: P, ctx: RendererContext<unknown>): V;
  renderError(host: HTMLElement, message: string): void;
}

/**
 * The activation function of a renderer that draws one disposable view per output item: re-rendering
 * an item disposes its previous view first, failures are drawn inline (never thrown to VS Code).
 */
export function viewRenderer<P, V extends { dispose(): void }>(spec: ViewRendererSpec<P, V>): ActivationFunction {
  return (ctx) => {
    const views = new Map<string, V>();
    const drop = (id: string): void => {
      views.get(id)?.dispose();
      views.delete(id);
    };
    return {
      renderOutputItem(item, element) {
        drop(item.id);
        try {
          const payload = spec.payloadIn === 'json' ? (item.json() as unknown) : (item.metadata as Record<string, unknown> | undefined)?.[OUTPUT_METADATA_KEY];
          const problem = spec.check(payload);
          if (problem) {
            spec.renderError(freshHost(element, spec.css), problem);
            return;
          }
          views.set(item.id, spec.render(freshHost(element, spec.css), item, payload as P, ctx));
        } catch (err) {
          console.error(`alref ${spec.noun} renderer failed`, err);
          drop(item.id);
          spec.renderError(freshHost(element, spec.css), `Cannot show this ${spec.noun}: ${err instanceof Error ? err.message : String(err)}`);
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
}
