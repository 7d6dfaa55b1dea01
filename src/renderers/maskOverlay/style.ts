/** Styles of the mask overlay renderer (theme colours from VS Code variables; mask colours from the payload). */
export const MASK_OVERLAY_CSS = `
.alref-mask-overlay { margin: 0; font-family: var(--vscode-font-family, sans-serif); color: var(--vscode-foreground, inherit); outline: none; max-width: 960px; }
.alref-mask-overlay:focus-visible { outline: 1px solid var(--vscode-focusBorder, #007fd4); }
.alref-mo-stage { position: relative; width: 100%; background: #000; line-height: 0; }
.alref-mo-frame, .alref-mo-masks { position: absolute; inset: 0; width: 100%; height: 100%; object-fit: fill; }
.alref-mo-masks { pointer-events: none; }
.alref-mo-status { position: absolute; left: 8px; bottom: 8px; right: 8px; line-height: 1.3; font-size: 0.9em; color: #fff; text-shadow: 0 0 3px #000; }
.alref-mo-controls { display: flex; align-items: center; gap: 8px; margin-top: 6px; }
.alref-mo-play { min-width: 2.2em; background: var(--vscode-button-background, #0e639c); color: var(--vscode-button-foreground, #fff); border: none; padding: 2px 6px; cursor: pointer; }
.alref-mo-timeline { position: relative; flex: 1; }
.alref-mo-slider { width: 100%; margin: 0; }
.alref-mo-mark { position: absolute; top: calc(-6px - 5px * var(--alref-mo-stack, 0)); width: 3px; height: 8px; margin-left: -1px; cursor: pointer; box-shadow: 0 0 0 1px rgba(0, 0, 0, 0.35); }
.alref-mo-mark.alref-mo-hidden { opacity: 0.3; }
.alref-mo-label { flex: none; font-variant-numeric: tabular-nums; font-size: 0.9em; white-space: nowrap; overflow: hidden; }
.alref-mo-opacity-label { flex: none; display: flex; align-items: center; gap: 4px; font-size: 0.9em; }
.alref-mo-opacity { width: 6em; }
.alref-mo-legend { list-style: none; padding: 0; margin: 4px 0; font-size: 0.9em; display: flex; flex-wrap: wrap; gap: 12px; }
.alref-mo-legend-row { display: flex; }
.alref-mo-legend-toggle { display: flex; gap: 6px; align-items: center; font: inherit; color: inherit; background: transparent; border: 1px solid transparent; border-radius: 2px; padding: 1px 4px; cursor: pointer; }
.alref-mo-legend-toggle:hover { border-color: var(--vscode-button-border, rgba(128, 128, 128, 0.4)); }
.alref-mo-legend-toggle:focus-visible { outline: 1px solid var(--vscode-focusBorder, #007fd4); }
.alref-mo-legend-toggle.alref-mo-hidden { opacity: 0.55; text-decoration: line-through; }
.alref-mo-swatch { width: 12px; height: 12px; border-radius: 2px; display: inline-block; border: 2px solid transparent; box-sizing: border-box; }
.alref-mo-hidden .alref-mo-swatch { background: transparent !important; }
.alref-mask-overlay figcaption { font-size: 0.9em; opacity: 0.85; margin: 4px 0; }
.alref-mo-error { color: var(--vscode-errorForeground, #f48771); border: 1px solid currentColor; padding: 6px; }
`;
