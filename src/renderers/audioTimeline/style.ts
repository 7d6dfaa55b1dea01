/** Styles of the audio-timeline renderer (theme colours from VS Code variables; row colours come from the payload). */
export const TIMELINE_CSS = `
.alref-timeline { margin: 0; font-family: var(--vscode-font-family, sans-serif); color: var(--vscode-foreground, inherit); }
.alref-timeline-stage { position: relative; display: inline-block; max-width: 100%; line-height: 0; cursor: crosshair; }
.alref-timeline-stage img { max-width: 100%; height: auto; display: block; }
.alref-timeline-cursor { position: absolute; top: 0; bottom: 0; width: 0; border-left: 1px solid var(--vscode-editorCursor-foreground, #d00); pointer-events: none; }
.alref-timeline-readout { font-size: 0.9em; margin: 4px 0; min-height: 1.3em; font-variant-numeric: tabular-nums; }
.alref-timeline-legend { list-style: none; padding: 0; margin: 0; font-size: 0.9em; }
.alref-timeline-row { display: flex; gap: 6px; align-items: center; padding: 1px 4px; }
.alref-timeline-swatch { width: 12px; height: 12px; border-radius: 2px; display: inline-block; border: 1px solid var(--vscode-contrastBorder, transparent); }
.alref-timeline figcaption { font-size: 0.9em; opacity: 0.85; margin: 4px 0; }
.alref-timeline-error { color: var(--vscode-errorForeground, #f48771); border: 1px solid currentColor; padding: 6px; }
`;
