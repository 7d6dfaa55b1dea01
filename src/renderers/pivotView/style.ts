/** Styles of the pivot-view renderer; colours come from VS Code theme variables. */
export const PIVOT_VIEW_CSS = `
.alref-pv { font-family: var(--vscode-font-family, sans-serif); color: var(--vscode-foreground, inherit); font-size: 0.95em; line-height: 1.4; }
.alref-pv-changes { margin: 0 0 6px; padding: 4px 8px; border-left: 3px solid var(--vscode-charts-yellow, #e2c08d); }
.alref-pv-changes ul { margin: 2px 0; padding-left: 18px; }
.alref-pv-status { min-height: 1.4em; color: var(--vscode-descriptionForeground, inherit); }
.alref-pv-status.alref-pv-error { color: var(--vscode-errorForeground, #f48771); }
.alref-pv-row { display: grid; grid-template-columns: minmax(200px, 1fr) minmax(180px, 280px); gap: 8px; padding: 6px 0; border-top: 1px solid var(--vscode-editorWidget-border, rgba(128, 128, 128, 0.3)); }
.alref-pv-row.alref-pv-invalid .alref-pv-verdict { color: var(--vscode-errorForeground, #f48771); }
.alref-pv-media { position: relative; display: inline-block; justify-self: start; align-self: start; max-width: 100%; line-height: 0; user-select: none; }
.alref-pv-media img { max-width: 100%; height: auto; display: block; }
.alref-pv-tile { position: absolute; margin: 0; padding: 0; border: 2px solid transparent; background: transparent; cursor: pointer; box-sizing: border-box; }
.alref-pv-tile:hover { border-color: var(--vscode-focusBorder, #007fd4); }
.alref-pv-tile.alref-pv-chosen { border-color: var(--vscode-charts-yellow, #e2c08d); }
.alref-pv-box { position: absolute; margin: 0; padding: 0; border: 2px solid; background: transparent; cursor: pointer; box-sizing: border-box; opacity: 0.6; }
.alref-pv-box.alref-pv-chosen { border-width: 3px; opacity: 1; }
.alref-pv-box span { position: absolute; left: 0; top: 0; font-size: 11px; line-height: 1.2; padding: 0 3px; color: #000; }
.alref-pv-drag { position: absolute; border: 2px dashed var(--vscode-focusBorder, #007fd4); pointer-events: none; box-sizing: border-box; }
.alref-pv-facts { display: flex; flex-direction: column; gap: 2px; }
.alref-pv-title { font-weight: 600; }
.alref-pv-badge { display: inline-block; padding: 0 4px; border-radius: 3px; font-size: 0.85em; background: var(--vscode-badge-background, #4d4d4d); color: var(--vscode-badge-foreground, #fff); }
.alref-pv-change { color: var(--vscode-charts-yellow, #e2c08d); }
.alref-pv-trace pre { white-space: pre-wrap; max-height: 320px; overflow: auto; margin: 4px 0; font-family: var(--vscode-editor-font-family, monospace); font-size: 0.9em; }
.alref-pv-hint { color: var(--vscode-descriptionForeground, inherit); font-size: 0.85em; }
.alref-pv-error-box { color: var(--vscode-errorForeground, #f48771); border: 1px solid currentColor; padding: 6px; }
`;
