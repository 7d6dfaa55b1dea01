/** Styles of the reasoning-trace renderer (theme colours from VS Code variables). */
export const TRACE_CSS = `
.alref-trace { font-family: var(--vscode-editor-font-family, monospace); border-left: 3px solid var(--vscode-textLink-foreground, #3794ff); padding: 4px 8px; }
.alref-trace[data-state="valid"] { border-left-color: var(--vscode-testing-iconPassed, #73c991); }
.alref-trace[data-state="invalid"] { border-left-color: var(--vscode-errorForeground, #f48771); }
.alref-trace-header { display: flex; gap: 12px; align-items: baseline; font-weight: 600; margin-bottom: 4px; }
.alref-trace-status { font-weight: normal; font-size: 0.9em; opacity: 0.85; }
.alref-trace-invalid { color: var(--vscode-errorForeground, #f48771); }
.alref-trace-valid { color: var(--vscode-testing-iconPassed, #73c991); }
.alref-trace-body { white-space: pre-wrap; word-break: break-word; max-height: 320px; overflow-y: auto; margin: 0; font-size: var(--vscode-editor-font-size, 12px); }
.alref-trace-answer { background: var(--vscode-editor-findMatchHighlightBackground, #ffd33d66); color: inherit; font-weight: 700; padding: 0 2px; }
.alref-trace-footer { font-size: 0.85em; opacity: 0.8; margin-top: 4px; }
.alref-trace-error { color: var(--vscode-errorForeground, #f48771); border: 1px solid currentColor; padding: 6px; }
`;
