/** Styles of the frame-grid renderer; colours come from VS Code theme variables. */
export const FRAME_GRID_CSS = `
.alref-fg { margin: 0; font-family: var(--vscode-font-family, sans-serif); color: var(--vscode-foreground, inherit); }
.alref-fg-stage { position: relative; display: inline-block; max-width: 100%; line-height: 0; }
.alref-fg-stage img { max-width: 100%; height: auto; display: block; }
.alref-fg-tile { position: absolute; margin: 0; padding: 0; border: 2px solid transparent; background: transparent; cursor: zoom-in; box-sizing: border-box; }
.alref-fg-tile:hover, .alref-fg-tile.alref-fg-active { border-color: var(--vscode-focusBorder, #007fd4); }
.alref-fg-tile:focus-visible { outline: 2px solid var(--vscode-focusBorder, #007fd4); outline-offset: -2px; }
.alref-fg-tile.alref-fg-highlight { border-color: var(--vscode-charts-yellow, #e2c08d); }
.alref-fg figcaption { font-size: 0.9em; color: var(--vscode-descriptionForeground, inherit); margin: 4px 0; line-height: 1.4; }
.alref-fg-zoom { position: absolute; top: 4px; right: 4px; z-index: 2; pointer-events: none; padding: 6px; display: flex; flex-direction: column; gap: 4px; max-width: calc(100% - 8px); box-sizing: border-box;
  box-shadow: 0 2px 8px rgba(0, 0, 0, 0.45); background: var(--vscode-editorWidget-background, #252526); border: 1px solid var(--vscode-editorWidget-border, rgba(128, 128, 128, 0.4)); border-radius: 4px; }
.alref-fg-zoom.alref-fg-zoom-left { right: auto; left: 4px; }
.alref-fg-zoom.alref-fg-zoom-pinned { pointer-events: auto; }
.alref-fg-zoom[hidden] { display: none; }
.alref-fg-zoom-img { max-width: 100%; background-repeat: no-repeat; }
.alref-fg-zoom-bar { display: flex; align-items: center; gap: 8px; font-size: 0.9em; line-height: 1.4; }
.alref-fg-zoom-label { flex: 1; }
.alref-fg.alref-fg-full { overflow-x: auto; }
.alref-fg.alref-fg-full .alref-fg-stage, .alref-fg.alref-fg-full .alref-fg-stage img { max-width: none; }
.alref-fg-zoom-close, .alref-fg-zoom-full { cursor: pointer; color: var(--vscode-button-secondaryForeground, inherit); background: var(--vscode-button-secondaryBackground, transparent);
  border: 1px solid var(--vscode-button-border, rgba(128, 128, 128, 0.4)); border-radius: 2px; padding: 0 6px; }
.alref-fg-error { color: var(--vscode-errorForeground, #f48771); border: 1px solid currentColor; padding: 6px; line-height: 1.4; }
`;
