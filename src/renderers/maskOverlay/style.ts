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
.alref-mo-mark { position: absolute; top: -6px; width: 3px; height: 8px; margin-left: -1px; background: var(--vscode-charts-orange, #d18616); cursor: pointer; }
.alref-mo-label { font-variant-numeric: tabular-nums; font-size: 0.9em; min-width: 9em; }
.alref-mo-opacity { width: 6em; }
.alref-mo-legend { list-style: none; padding: 0; margin: 4px 0; font-size: 0.9em; display: flex; flex-wrap: wrap; gap: 12px; }
.alref-mo-legend-row { display: flex; gap: 6px; align-items: center; }
.alref-mo-swatch { width: 12px; height: 12px; border-radius: 2px; display: inline-block; border: 1px solid var(--vscode-contrastBorder, transparent); }
.alref-mask-overlay figcaption { font-size: 0.9em; opacity: 0.85; margin: 4px 0; }
.alref-mo-error { color: var(--vscode-errorForeground, #f48771); border: 1px solid currentColor; padding: 6px; }
`;
