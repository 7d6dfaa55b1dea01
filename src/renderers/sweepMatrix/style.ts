/** Styles of the sweep-matrix renderer (theme colours from VS Code variables). */
export const SWEEP_CSS = `
.alref-sweep { font-family: var(--vscode-font-family, sans-serif); font-size: var(--vscode-font-size, 13px); color: var(--vscode-foreground, inherit); }
.alref-sm-bar { display: flex; flex-wrap: wrap; gap: 12px; align-items: center; margin-bottom: 6px; }
.alref-sm-title { font-weight: 600; }
.alref-sm-exports { display: inline-flex; gap: 6px; margin-left: auto; }
select, button { font: inherit; color: var(--vscode-foreground, inherit); }
select { background: var(--vscode-dropdown-background, transparent); border: 1px solid var(--vscode-dropdown-border, #8888); padding: 1px 4px; }
.alref-sm-export, .alref-sm-close { background: var(--vscode-button-secondaryBackground, #8883); color: var(--vscode-button-secondaryForeground, inherit); border: 1px solid var(--vscode-button-border, transparent); padding: 2px 8px; cursor: pointer; }
.alref-sm-export:hover, .alref-sm-close:hover { background: var(--vscode-button-secondaryHoverBackground, #8885); }
.alref-sm-export:disabled { opacity: 0.6; cursor: default; }
.alref-sm-table { border-collapse: collapse; max-width: 100%; }
.alref-sm-table th, .alref-sm-table td { border: 1px solid var(--vscode-editorWidget-border, #8884); padding: 0; text-align: right; }
.alref-sm-table th { font-weight: 600; background: var(--vscode-editorWidget-background, transparent); padding: 3px 6px; }
.alref-sm-ihead, .alref-sm-corner { text-align: left !important; max-width: 260px; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.alref-sm-tag { display: block; font-weight: normal; font-size: 0.8em; opacity: 0.75; }
.alref-sm-baseline { border-bottom: 2px solid var(--vscode-textLink-foreground, #3794ff) !important; }
.alref-sm-sort { background: none; border: none; font-weight: 600; cursor: pointer; padding: 0; }
.alref-sm-sort:hover { text-decoration: underline; }
th[aria-sort="ascending"] .alref-sm-sort::after { content: " ▲"; }
th[aria-sort="descending"] .alref-sm-sort::after { content: " ▼"; }
.alref-sm-cell { display: flex; gap: 4px; justify-content: flex-end; align-items: baseline; width: 100%; min-width: 72px; background: none; border: none; padding: 3px 6px; cursor: pointer; font-variant-numeric: tabular-nums; }
.alref-sm-cell:hover { background: var(--vscode-list-hoverBackground, #8882); }
.alref-sm-cell:focus-visible, .alref-sm-sort:focus-visible, img:focus-visible { outline: 1px solid var(--vscode-focusBorder, #007fd4); outline-offset: -1px; }
.alref-sm-cell[aria-pressed="true"] { background: var(--vscode-list-activeSelectionBackground, #04395e); color: var(--vscode-list-activeSelectionForeground, inherit); }
.alref-sm-better { color: var(--vscode-testing-iconPassed, #73c991); }
.alref-sm-worse { color: var(--vscode-errorForeground, #f48771); }
.alref-sm-error .alref-sm-value, .alref-sm-error-text { color: var(--vscode-errorForeground, #f48771); }
.alref-sm-skipped .alref-sm-value, .alref-sm-muted { opacity: 0.7; font-style: italic; }
.alref-sm-cached { font-size: 0.8em; opacity: 0.7; }
.alref-sm-summary td, .alref-sm-deltas td { padding: 3px 6px; font-variant-numeric: tabular-nums; }
.alref-sm-summary td { font-weight: 600; }
.alref-sm-compare { margin-top: 10px; border-top: 1px solid var(--vscode-editorWidget-border, #8884); padding-top: 6px; }
.alref-sm-compare-head { display: flex; flex-wrap: wrap; gap: 10px; align-items: baseline; }
.alref-sm-compare-title { margin: 0; font-size: 1.05em; }
.alref-sm-compare-expr { opacity: 0.85; }
.alref-sm-close { margin-left: auto; }
.alref-sm-compare-status { margin: 6px 0; }
.alref-sm-differs { margin: 4px 0 8px; padding-left: 18px; }
.alref-sm-differ { font-weight: 600; }
.alref-sm-agree { opacity: 0.7; }
.alref-sm-clip { border: 1px solid var(--vscode-editorWidget-border, #8884); margin: 6px 0; padding: 2px 6px; }
.alref-sm-clip > summary { cursor: pointer; padding: 2px 0; }
.alref-sm-clip-differ > summary { font-weight: 600; }
.alref-sm-sides { display: grid; grid-template-columns: 1fr 1fr; gap: 12px; }
.alref-sm-side { min-width: 0; }
.alref-sm-side h4 { margin: 4px 0; }
.alref-sm-choice { margin: 2px 0; }
.alref-sm-image { margin: 4px 0; overflow-x: auto; }
.alref-sm-image img { max-width: 100%; height: auto; cursor: zoom-in; display: block; }
.alref-sm-image-large img { max-width: none; cursor: zoom-out; }
.alref-sm-image figcaption { font-size: 0.85em; }
.alref-sm-trace, .alref-sm-diff-body { font-family: var(--vscode-editor-font-family, monospace); font-size: var(--vscode-editor-font-size, 12px); white-space: pre-wrap; word-break: break-word; max-height: 280px; overflow-y: auto; margin: 4px 0; padding: 4px; background: var(--vscode-textCodeBlock-background, #8881); }
.alref-sm-answer { background: var(--vscode-editor-findMatchHighlightBackground, #ffd33d66); color: inherit; font-weight: 700; padding: 0 2px; }
.alref-sm-clip-metrics { display: grid; grid-template-columns: auto 1fr; gap: 0 10px; margin: 4px 0; font-size: 0.9em; }
.alref-sm-clip-metrics dd { margin: 0; }
.alref-sm-diff-title { font-weight: 600; margin-top: 6px; }
.alref-sm-diff-del { background: var(--vscode-diffEditor-removedLineBackground, #ff000033); }
.alref-sm-diff-add { background: var(--vscode-diffEditor-insertedLineBackground, #9bb95533); }
.alref-sm-error { color: var(--vscode-errorForeground, #f48771); border: 1px solid currentColor; padding: 6px; }
`;
