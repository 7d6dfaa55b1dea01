import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import MarkdownIt from 'markdown-it';
import sharp from 'sharp';
import { MIME, OUTPUT_METADATA_KEY, PROMPT_LANGUAGE, STAGE_LANGUAGE } from '../../common/mime';
import { FULL_IMAGE_METADATA_KEY } from '../../common/payloads';
import type { FullImagePayload, PivotViewPayload, PivotViewRow, ReasoningTracePayload, SweepMatrixPayload, SweepMetricPayload } from '../../common/payloads';
import { ERROR_MIME, STDERR_MIME, STDOUT_MIME } from '../format/nbformatOutputs';
import type { CellModel, ExperimentRecord, NotebookModel, OutputItemModel, OutputModel } from '../format/model';
import { DISPLAY_JPEG_QUALITY, displaySize } from '../run/displayImages';
import { NOTICE_METADATA_KEY, TRACE_MODE_KEY } from './outputBuilder';
import { deltaTone, formatDelta, formatValue } from '../../common/sweepFormat';
import { resolveArtifactPath } from './artifactPath';

/** What the report says about where the notebook came from; all optional. */
export interface HtmlReportOptions {
  /** The document title (default: the first markdown heading, else "AL-Ref notebook"). */
  title?: string;
  /** The notebook's file name, shown under the title. */
  source?: string;
  /** The run folder's name as the reader would find it next to the notebook (e.g. `demo.alref.runs`). */
  runFolder?: string;
  /**
   * The image a run-folder reference (`artifacts/ab/….jpg`) names, for images that outputs name
   * instead of holding (the pivot view's grids and pivot frames; see {@link pivotViewImages}); without
   * it they are named only. JPEG bytes.
   */
  readArtifact?: (ref: string) => Uint8Array | undefined;
}

/**
 * Display copies (JPEG, within the notebook's display size) of the images the pivot views of `model`
 * name in `runDir`, by reference: pass `(ref) => map.get(ref)` as {@link HtmlReportOptions.readArtifact}.
 * Files that are missing or outside the run folder are left out (the report then names them).
 */
export async function pivotViewImages(model: NotebookModel, runDir: string): Promise<Map<string, Uint8Array>> {
  const refs = new Set<string>();
  for (const o of model.cells.flatMap((c) => c.outputs)) {
    const view = parseJson(o.items.find((i) => i.mime === MIME.pivotView));
    if (isPivotView(view)) {
      view.rows.forEach((r) => {
        const image = r.grid ?? r.frame;
        if (image) {
          refs.add(image.ref);
        }
      });
    }
  }
  const out = new Map<string, Uint8Array>();
  for (const ref of refs) {
    let file: string | undefined;
    try {
      file = resolveArtifactPath(runDir, ref);
    } catch {
      continue;
    }
    const bytes = await readFile(file).catch(() => undefined);
    if (!bytes) {
      continue;
    }
    const meta = await sharp(bytes).metadata();
    const size = displaySize(meta.width ?? 1, meta.height ?? 1);
    out.set(ref, new Uint8Array(await sharp(bytes).resize(size.width, size.height, { fit: 'fill' }).jpeg({ quality: DISPLAY_JPEG_QUALITY }).toBuffer()));
  }
  return out;
}

/** Image types embedded as `data:` URIs; anything else is never put into an attribute. */
const EMBEDDED_IMAGES = new Set(['image/png', 'image/jpeg', 'image/webp', 'image/gif']);

/**
 * Keys dropped from the experiment record wherever they appear. The record never holds them (see
 * `resultSettings`); a hand-edited or foreign notebook might, and a shared report must not.
 */
const SECRET_KEY = /api[-_]?key|secret|password|token$|authorization|base[-_]?url|endpoint/i;

const dec = new TextDecoder();

const STYLE = `
:root { color-scheme: light dark; --fg: #1f2328; --muted: #59636e; --bg: #fff; --panel: #f6f8fa; --line: #d1d9e0; --mark: #fff3a3; --bad: #b42318; --good: #116329; --warn: #8a5a00; }
@media (prefers-color-scheme: dark) { :root { --fg: #e6edf3; --muted: #9198a1; --bg: #0d1117; --panel: #151b23; --line: #3d444d; --mark: #5a4b00; --bad: #ff7b72; --good: #56d364; --warn: #e3b341; } }
* { box-sizing: border-box; }
body { margin: 0 auto; max-width: 1100px; padding: 24px; font: 15px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg); background: var(--bg); }
header.report { border-bottom: 1px solid var(--line); margin-bottom: 24px; }
header.report p { color: var(--muted); margin: 4px 0 12px; }
section.cell { margin: 0 0 28px; }
.cell-head { font-size: 12px; color: var(--muted); margin: 0 0 4px; }
.cell-head .failed { color: var(--bad); font-weight: 600; }
pre, code { font: 13px/1.45 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
pre { background: var(--panel); border: 1px solid var(--line); border-radius: 6px; padding: 10px 12px; overflow-x: auto; white-space: pre-wrap; word-break: break-word; margin: 0 0 8px; }
.output { margin: 8px 0 8px 16px; }
figure { margin: 0; }
figure img { max-width: 100%; height: auto; border: 1px solid var(--line); border-radius: 4px; display: block; }
figcaption, .note { font-size: 12px; color: var(--muted); margin-top: 2px; }
.trace { border-left: 3px solid var(--line); padding-left: 10px; }
.trace.invalid { border-left-color: var(--bad); }
.trace .title { font-weight: 600; font-size: 13px; }
.trace .status { font-size: 12px; color: var(--muted); }
.trace .invalid-answer { color: var(--bad); }
mark.answer { background: var(--mark); color: inherit; font-weight: 700; padding: 0 2px; border-radius: 3px; }
.error pre { border-color: var(--bad); color: var(--bad); }
.warnings pre { border-color: var(--warn); color: var(--warn); }
.notice { border: 1px dashed var(--line); border-radius: 6px; padding: 0 10px; }
table { border-collapse: collapse; margin: 6px 0 10px; font-size: 13px; }
th, td { border: 1px solid var(--line); padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: var(--panel); }
th.align-right, td.align-right { text-align: right; }
th.align-center, td.align-center { text-align: center; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.delta { font-size: 11px; display: block; }
.delta.better { color: var(--good); }
.delta.worse { color: var(--bad); }
.cell-status { font-size: 11px; color: var(--muted); }
.cell-status.error { color: var(--bad); }
.baseline { font-size: 11px; color: var(--muted); }
details summary { cursor: pointer; font-size: 13px; color: var(--muted); }
.record td:first-child { font-family: ui-monospace, Menlo, Consolas, monospace; }
`;

/** Escapes text for HTML element content and (double- or single-quoted) attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);
}

/** Markdown with raw HTML off (it is shown as text) and markdown-it's link checks (no `javascript:`). */
const markdown = new MarkdownIt({ html: false, linkify: false, typographer: false });
// Table alignment as classes: the page's policy blocks style attributes.
markdown.core.ruler.push('alref_align_classes', (state) => {
  for (const token of state.tokens) {
    const align = /^text-align:(left|right|center)$/.exec(token.attrGet('style') ?? '');
    if (align) {
      token.attrs = (token.attrs ?? []).filter(([name]) => name !== 'style');
      token.attrJoin('class', `align-${align[1]}`);
    }
  }
});

function renderMarkdown(text: string): string {
  return `<div class="markdown">${markdown.render(text)}</div>`;
}

function itemText(item: OutputItemModel): string {
  return dec.decode(item.data);
}

function parseJson(item: OutputItemModel | undefined): unknown {
  if (!item) {
    return undefined;
  }
  try {
    return JSON.parse(itemText(item)) as unknown;
  } catch {
    return undefined;
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function dataUri(item: OutputItemModel): string {
  return `data:${item.mime};base64,${Buffer.from(item.data.buffer, item.data.byteOffset, item.data.byteLength).toString('base64')}`;
}

function isFullImage(v: unknown): v is FullImagePayload {
  return isObject(v) && typeof v.ref === 'string' && typeof v.width === 'number' && typeof v.height === 'number';
}

/** The caption an image output carries: in its metadata, or in its renderer payload. */
function imageCaption(output: OutputModel): string | undefined {
  const own = output.metadata?.caption;
  if (typeof own === 'string') {
    return own;
  }
  const payload = output.metadata?.[OUTPUT_METADATA_KEY];
  return isObject(payload) && typeof payload.caption === 'string' ? payload.caption : undefined;
}

function renderImage(output: OutputModel, image: OutputItemModel, options: HtmlReportOptions): string {
  // An image with no renderer item got its caption as a markdown output of its own just above it.
  const hasRenderer = output.items.some((i) => i.mime.startsWith('application/vnd.alref.'));
  const caption = hasRenderer ? imageCaption(output) : undefined;
  const alt = caption ?? 'cell output image';
  const full = output.metadata?.[FULL_IMAGE_METADATA_KEY];
  const parts = [`<img src="${dataUri(image)}" alt="${escapeHtml(alt)}">`];
  if (caption !== undefined) {
    parts.push(`<figcaption>${escapeHtml(caption)}</figcaption>`);
  }
  if (isFullImage(full)) {
    const where = options.runFolder ? `${options.runFolder}/${full.ref}` : full.ref;
    parts.push(`<div class="note">Display copy; the full-size original (${full.width} x ${full.height} px) is in the run folder: <code>${escapeHtml(where)}</code></div>`);
  }
  const figure = `<figure>${parts.join('')}</figure>`;
  // The image a pivot-box prompt sent is collapsed under its caption, as in the notebook.
  const payload = output.metadata?.[OUTPUT_METADATA_KEY];
  return isObject(payload) && payload.view === 'sent' ? `<details><summary>${escapeHtml(caption ?? 'image sent')}</summary>${figure}</details>` : figure;
}

function isTrace(v: unknown): v is ReasoningTracePayload {
  return isObject(v) && v.version === 1 && typeof v.text === 'string';
}

function renderTrace(trace: ReasoningTracePayload, mode: unknown): string {
  const { text, answer } = trace;
  const at = trace.done && answer ? text.lastIndexOf(answer) : -1;
  const body = at < 0 ? escapeHtml(text) : `${escapeHtml(text.slice(0, at))}<mark class="answer">${escapeHtml(answer as string)}</mark>${escapeHtml(text.slice(at + (answer as string).length))}`;
  const status: string[] = [];
  if (!trace.done) {
    status.push('incomplete');
  } else if (trace.valid === false) {
    status.push(`<span class="invalid-answer">invalid${answer ? ` ${escapeHtml(answer)}` : ''}</span>`);
  } else if (answer) {
    status.push(`answer ${escapeHtml(answer)}`);
  }
  const u = trace.usage;
  if (u) {
    status.push(`${u.promptTokens} + ${u.completionTokens} tokens`, `${(u.latencyMs / 1000).toFixed(1)} s`);
    if (u.costUsd !== undefined) {
      status.push(`$${u.costUsd.toFixed(4)}`);
    }
    if (u.model) {
      status.push(escapeHtml(u.model));
    }
  }
  if (typeof mode === 'string') {
    status.push(escapeHtml(mode));
  }
  const note = trace.note ? `<div class="note">${escapeHtml(trace.note)}</div>` : '';
  const title = trace.title ? `<div class="title">${escapeHtml(trace.title)}</div>` : '';
  return `<div class="trace${trace.done && trace.valid === false ? ' invalid' : ''}">${title}<pre>${body}</pre><div class="status">${status.join(' · ')}</div>${note}</div>`;
}

function renderError(item: OutputItemModel): string {
  const parsed = parseJson(item);
  // The stack is left out: it names local paths and says nothing to a reader of the report.
  const text = isObject(parsed) ? `${typeof parsed.name === 'string' ? `${parsed.name}: ` : ''}${typeof parsed.message === 'string' ? parsed.message : ''}` : itemText(item);
  return `<div class="error"><pre>${escapeHtml(text)}</pre></div>`;
}

function formatDeltaHtml(value: number | null | undefined, metric: SweepMetricPayload): string {
  const tone = deltaTone(value, metric.better);
  return tone === 'none' ? '' : `<span class="delta${tone === 'better' || tone === 'worse' ? ` ${tone}` : ''}">${formatDelta(value, metric.unit)} vs baseline</span>`;
}

function isSweep(v: unknown): v is SweepMatrixPayload {
  return isObject(v) && v.version === 1 && Array.isArray(v.metrics) && Array.isArray(v.variants) && Array.isArray(v.inputs) && Array.isArray(v.cells) && Array.isArray(v.summary);
}

/** The sweep matrix as two static tables: the summary per variant (with deltas) and variants x inputs. */
function renderSweep(sweep: SweepMatrixPayload): string {
  const metrics = sweep.metrics;
  const head = metrics.map((m) => `<th title="${escapeHtml(`${m.better} is better`)}">${escapeHtml(m.label)}</th>`).join('');
  const variantName = (i: number): string => {
    const v = sweep.variants[i];
    return `${escapeHtml(v.label)}${v.baseline ? ' <span class="baseline">(baseline)</span>' : ''}`;
  };
  const settings = (i: number): string =>
    Object.entries(sweep.variants[i].settings ?? {})
      .map(([k, v]) => `${escapeHtml(k)}: ${escapeHtml(String(v))}`)
      .join('<br>');
  const summaryRows = sweep.variants.map((v, i) => {
    const cells = metrics.map((m) => `<td class="num">${formatValue(sweep.summary[i]?.[m.key], m.unit)}${v.baseline ? '' : formatDeltaHtml(sweep.deltas?.[i]?.[m.key], m)}</td>`).join('');
    return `<tr><th>${variantName(i)}</th><td>${settings(i)}</td>${cells}</tr>`;
  });
  const inputHead = sweep.inputs.map((inp) => `<th title="${escapeHtml(`${inp.video}: ${inp.expression}`)}">${escapeHtml(inp.label)}</th>`).join('');
  const matrixRows = sweep.variants.map((_, vi) => {
    const cells = sweep.inputs.map((_input, ii) => {
      const cell = sweep.cells[vi]?.[ii];
      if (!cell) {
        return '<td></td>';
      }
      if (cell.status !== 'ok') {
        return `<td><span class="cell-status error">${escapeHtml(cell.status)}</span>${cell.message ? `<br>${escapeHtml(cell.message)}` : ''}</td>`;
      }
      const lines = metrics.filter((m) => cell.metrics[m.key] !== undefined && cell.metrics[m.key] !== null).map((m) => `${escapeHtml(m.label)}: ${formatValue(cell.metrics[m.key], m.unit)}`);
      return `<td>${lines.join('<br>')}${cell.cached ? '<br><span class="cell-status">replayed</span>' : ''}</td>`;
    });
    return `<tr><th>${variantName(vi)}</th>${cells.join('')}</tr>`;
  });
  const caption = sweep.caption ? `<p class="note">${escapeHtml(sweep.caption)}</p>` : '';
  const exports = sweep.exports ? `<p class="note">CSV and JSON in the run folder: <code>${escapeHtml(sweep.exports.csv.ref)}</code>, <code>${escapeHtml(sweep.exports.json.ref)}</code></p>` : '';
  return (
    `<div class="sweep">${caption}` +
    `<table class="sweep-summary"><thead><tr><th>variant</th><th>settings</th>${head}</tr></thead><tbody>${summaryRows.join('')}</tbody></table>` +
    `<table class="sweep-matrix"><thead><tr><th>variant</th>${inputHead}</tr></thead><tbody>${matrixRows.join('')}</tbody></table>${exports}</div>`
  );
}

function isPivotView(v: unknown): v is PivotViewPayload {
  return isObject(v) && v.version === 1 && (v.stage === 'pivot-frame' || v.stage === 'pivot-box') && Array.isArray(v.rows);
}

/** `[3]` (the frame's id in the clip's grid), `frame 37`, or a dash when the clip has no valid choice. */
function pivotFrameLabel(row: PivotViewRow): string {
  if (row.frameIndex === null) {
    return '–';
  }
  const k = row.frames.indexOf(row.frameIndex);
  return k >= 0 ? `[${k + 1}] (frame ${row.frameIndex})` : `frame ${row.frameIndex}`;
}

/**
 * A pivot view as a static table, one row per object and clip, each row followed by its grid or
 * pivot frame (embedded when `options.readArtifact` finds it in the run folder, else named) and its
 * trace, answer highlighted, collapsed.
 */
function renderPivotView(view: PivotViewPayload, options: HtmlReportOptions): string {
  const box = view.stage === 'pivot-box';
  const head = ['object', 'clip', box ? 'frame' : 'pivot frame', ...(box ? ['box'] : []), 'valid', 'tokens', 'overridden', 'change'];
  const body = view.rows.map((r) => {
    const cells = [
      String(r.objectId),
      String(r.clip),
      box ? (r.frameIndex === null ? '–' : `frame ${r.frameIndex}`) : pivotFrameLabel(r),
      ...(box ? [r.chosen ? `box ${r.chosen}` : '–'] : []),
      r.valid ? 'yes' : '<span class="invalid-answer">NO</span>',
      r.tokens ? String(r.tokens.prompt + r.tokens.completion) : '',
      r.overridden ? 'yes' : '',
      r.change ? escapeHtml(r.change) : '',
    ].map((c) => `<td>${c}</td>`);
    const image = r.grid ?? r.frame;
    const where = image ? (options.runFolder ? `${options.runFolder}/${image.ref}` : image.ref) : undefined;
    const title = `Object ${r.objectId}, clip ${r.clip}`;
    const trace = r.trace !== undefined
      ? renderTrace({ version: 1, streamId: `${view.cellId}:${r.objectId}:${r.clip}`, text: r.trace, done: true, ...(r.answer !== undefined ? { answer: r.answer } : {}), valid: r.valid, ...(r.note ? { note: r.note } : {}) }, undefined)
      : r.note ? `<div class="note">${escapeHtml(r.note)}</div>` : '<div class="note">(no LLM call)</div>';
    const bytes = image ? options.readArtifact?.(image.ref) : undefined;
    const picture = bytes ? `<figure><img src="${dataUri({ mime: 'image/jpeg', data: bytes })}" alt="${escapeHtml(`${title}: ${box ? 'pivot frame' : 'grid'}`)}"></figure>` : '';
    const named = where ? `<div class="note">${box ? 'Pivot frame' : 'Grid'} in the run folder: <code>${escapeHtml(where)}</code></div>` : '';
    const detail = `<details class="pivot-trace"><summary>${escapeHtml(title)}: trace${r.answer ? ` · answer ${escapeHtml(r.answer)}` : ''}</summary>${picture}${trace}${named}</details>`;
    return `<tr>${cells.join('')}</tr><tr class="pivot-detail"><td colspan="${head.length}">${detail}</td></tr>`;
  });
  const changes = view.changes ? `<p class="note">Since the previous run: ${escapeHtml(view.changes.join('; '))}</p>` : '';
  return (
    `<div class="pivot-view"><div class="title">${box ? 'Pivot boxes' : 'Pivot frames'} at a glance</div>${changes}` +
    `<table><thead><tr>${head.map((h) => `<th>${h}</th>`).join('')}</tr></thead><tbody>${body.join('')}</tbody></table></div>`
  );
}

/**
 * One output: its richest item this report can draw statically (sweep matrix, pivot view, reasoning
 * trace, error, warnings, an image, markdown, plain text), falling back through the output's other
 * items. Custom payloads it has no static view of (the mask overlay's frames) fall back to the
 * markdown or image the output carries for viewers without the extension.
 */
function renderOutput(output: OutputModel, options: HtmlReportOptions): string {
  const find = (pred: (mime: string) => boolean): OutputItemModel | undefined => output.items.find((i) => pred(i.mime));
  const sweep = parseJson(find((m) => m === MIME.sweepMatrix));
  if (isSweep(sweep)) {
    return renderSweep(sweep);
  }
  const pivot = parseJson(find((m) => m === MIME.pivotView));
  if (isPivotView(pivot)) {
    return renderPivotView(pivot, options);
  }
  const trace = parseJson(find((m) => m === MIME.reasoningTrace));
  if (isTrace(trace)) {
    return renderTrace(trace, output.metadata?.[TRACE_MODE_KEY]);
  }
  const error = find((m) => m === ERROR_MIME);
  if (error) {
    return renderError(error);
  }
  const stderr = find((m) => m === STDERR_MIME);
  if (stderr) {
    return `<div class="warnings"><pre>${escapeHtml(itemText(stderr))}</pre></div>`;
  }
  const image = find((m) => EMBEDDED_IMAGES.has(m));
  if (image) {
    return renderImage(output, image, options);
  }
  const md = find((m) => m === 'text/markdown');
  if (md) {
    const html = renderMarkdown(itemText(md));
    return output.metadata?.[NOTICE_METADATA_KEY] !== undefined ? `<div class="notice">${html}</div>` : html;
  }
  const plain = find((m) => m === 'text/plain' || m === STDOUT_MIME);
  if (plain) {
    return `<pre>${escapeHtml(itemText(plain))}</pre>`;
  }
  return `<p class="note">(an output of type ${escapeHtml(output.items.map((i) => i.mime).join(', ') || 'none')} that this report does not show)</p>`;
}

function cellHead(cell: CellModel, index: number): string {
  const parts = [`cell ${index + 1}`];
  if (cell.metadata.id) {
    parts.push(`id <code>${escapeHtml(String(cell.metadata.id))}</code>`);
  }
  parts.push(cell.language === STAGE_LANGUAGE ? 'stage' : cell.language === PROMPT_LANGUAGE ? 'prompt' : escapeHtml(cell.language));
  const run = cell.executionSummary;
  if (run?.executionOrder !== undefined) {
    parts.push(`run ${run.executionOrder}`);
  }
  if (run?.timing) {
    parts.push(`${((run.timing.endTime - run.timing.startTime) / 1000).toFixed(1)} s`);
  }
  if (run?.success === false) {
    parts.push('<span class="failed">failed</span>');
  }
  return `<div class="cell-head">${parts.join(' · ')}</div>`;
}

function renderCell(cell: CellModel, index: number, options: HtmlReportOptions): string {
  if (cell.kind === 'markdown') {
    return `<section class="cell markdown-cell">${renderMarkdown(cell.source)}</section>`;
  }
  const lang = cell.language === STAGE_LANGUAGE ? 'yaml' : cell.language === PROMPT_LANGUAGE ? 'prompt' : 'code';
  const outputs = cell.outputs.map((o) => `<div class="output">${renderOutput(o, options)}</div>`).join('');
  return `<section class="cell code-cell">${cellHead(cell, index)}<pre class="source ${lang}"><code>${escapeHtml(cell.source)}</code></pre>${outputs}</section>`;
}

/** `[path, value]` rows of a JSON value, secrets dropped (see {@link SECRET_KEY}). */
function flatten(value: unknown, prefix: string, rows: Array<[string, string]>): void {
  if (isObject(value)) {
    for (const key of Object.keys(value).sort()) {
      if (!SECRET_KEY.test(key)) {
        flatten(value[key], prefix ? `${prefix}.${key}` : key, rows);
      }
    }
  } else {
    rows.push([prefix, value === null || value === undefined ? '(default)' : typeof value === 'string' ? value : JSON.stringify(value)]);
  }
}

function renderRecord(record: ExperimentRecord | undefined): string {
  if (!isObject(record)) {
    return '<section class="record"><h2>Experiment record</h2><p class="note">This notebook has no experiment record (no cell has run).</p></section>';
  }
  const groups: Array<[string, unknown]> = [
    ['version', { extension: record.extensionVersion }],
    ['settings', record.settings],
    ['models (sha256)', record.models],
    ['prompts (sha256)', record.prompts],
    ['LLM models per cell', record.llm],
    ['cell input hashes', record.cells],
  ];
  const body = groups
    .map(([title, value]) => {
      const rows: Array<[string, string]> = [];
      flatten(value ?? {}, '', rows);
      const trs = rows.length === 0 ? '<tr><td colspan="2" class="note">none</td></tr>' : rows.map(([k, v]) => `<tr><td>${escapeHtml(k)}</td><td>${escapeHtml(v)}</td></tr>`).join('');
      return `<tr><th colspan="2">${escapeHtml(title)}</th></tr>${trs}`;
    })
    .join('');
  return `<section class="record"><h2>Experiment record</h2><table class="record"><tbody>${body}</tbody></table></section>`;
}

function defaultTitle(model: NotebookModel): string {
  for (const cell of model.cells) {
    if (cell.kind === 'markdown') {
      const m = /^#{1,6}[ \t]+(.+?)[ \t#]*$/m.exec(cell.source);
      if (m) {
        return m[1];
      }
    }
  }
  return 'AL-Ref notebook';
}

/**
 * The notebook as one self-contained HTML page that any browser opens offline: every image embedded as a
 * `data:` URI, markdown cells rendered (raw HTML shown as text), stage and prompt cell sources, reasoning
 * traces with the parsed answer highlighted, tables, the sweep matrix, errors and warnings, and the
 * experiment record. No scripts; a Content-Security-Policy allows only the page's own stylesheet and
 * `data:` images, so nothing is fetched. All notebook text is escaped. Pure: returns the page.
 */
export function exportHtmlReport(model: NotebookModel, options: HtmlReportOptions = {}): string {
  const title = options.title ?? defaultTitle(model);
  const styleHash = createHash('sha256').update(STYLE).digest('base64');
  const csp = `default-src 'none'; img-src data:; style-src 'sha256-${styleHash}'; base-uri 'none'; form-action 'none'`;
  const sub = options.source ? `<p>Report of <code>${escapeHtml(options.source)}</code>, exported by AL-Ref Notebooks.</p>` : '<p>Exported by AL-Ref Notebooks.</p>';
  const cells = model.cells.map((c, i) => renderCell(c, i, options)).join('\n');
  return (
    '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n' +
    `<meta http-equiv="Content-Security-Policy" content="${csp}">\n` +
    '<meta name="viewport" content="width=device-width, initial-scale=1">\n<meta name="referrer" content="no-referrer">\n' +
    `<title>${escapeHtml(title)}</title>\n<style>${STYLE}</style>\n</head>\n<body>\n` +
    `<header class="report"><h1>${escapeHtml(title)}</h1>${sub}</header>\n<main>\n${cells}\n</main>\n` +
    `${renderRecord(model.metadata.alref?.record)}\n</body>\n</html>\n`
  );
}
