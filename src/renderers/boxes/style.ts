/** Styles of the boxes renderer (theme colours from VS Code variables; box colours come from the payload). */
export const BOXES_CSS = `
.alref-boxes { margin: 0; font-family: var(--vscode-font-family, sans-serif); color: var(--vscode-foreground, inherit); }
.alref-boxes-stage { position: relative; display: inline-block; max-width: 100%; line-height: 0; }
.alref-boxes-stage img { max-width: 100%; height: auto; display: block; }
.alref-boxes-overlay { position: absolute; inset: 0; width: 100%; height: 100%; pointer-events: none; }
.alref-box { fill: transparent; stroke-width: 0; }
.alref-box-hover { stroke-width: 6; fill: rgba(255, 255, 255, 0.15); }
.alref-boxes figcaption, .alref-boxes > figcaption { font-size: 0.9em; opacity: 0.85; margin: 4px 0; }
.alref-boxes-legend { list-style: none; padding: 0; margin: 0; font-size: 0.9em; }
.alref-boxes-row { display: flex; gap: 6px; align-items: center; padding: 1px 4px; cursor: default; }
.alref-boxes-row:hover { background: var(--vscode-list-hoverBackground, rgba(128, 128, 128, 0.2)); }
.alref-boxes-row-chosen { font-weight: 700; }
.alref-boxes-swatch { width: 12px; height: 12px; border-radius: 2px; display: inline-block; border: 1px solid var(--vscode-contrastBorder, transparent); }
.alref-boxes-zoomable { cursor: zoom-in; }
.alref-boxes-full .alref-boxes-stage { max-width: none; }
.alref-boxes-full .alref-boxes-stage img { max-width: none; cursor: zoom-out; }
.alref-boxes-full { overflow-x: auto; }
.alref-boxes-sent > summary { cursor: pointer; font-size: 0.9em; opacity: 0.85; margin: 4px 0; }
.alref-boxes-error { color: var(--vscode-errorForeground, #f48771); border: 1px solid currentColor; padding: 6px; }
`;
