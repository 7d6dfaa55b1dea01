import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { JSDOM } from 'jsdom';
import sharp from 'sharp';
import { MIME, OUTPUT_METADATA_KEY } from '../../../../src/common/mime';
import type { FrameGridPayload, MaskOverlayPayload, PivotViewPayload, SweepMatrixPayload } from '../../../../src/common/payloads';
import { exportHtmlReport, escapeHtml } from '../../../../src/pipeline/cells/htmlReport';
import { CellOutputBuilder } from '../../../../src/pipeline/cells/outputBuilder';
import { buildExperimentRecord } from '../../../../src/pipeline/cells/record';
import type { CellModel, NotebookModel, OutputModel } from '../../../../src/pipeline/format';
import { NotebookSession } from '../../../../src/pipeline/session';
import { defaultSettings } from '../../../../src/pipeline/settings';

const enc = new TextEncoder();

function parse(html: string): Document {
  return new JSDOM(html).window.document;
}

function stageCell(id: string, source: string, outputs: OutputModel[]): CellModel {
  return { kind: 'code', language: 'alref', source, metadata: { id }, outputs, executionSummary: { executionOrder: 1, success: true } };
}

function notebookOf(cells: CellModel[], record?: NotebookModel['metadata']['alref']): NotebookModel {
  return { cells, metadata: { alref: record ?? { formatVersion: 1 } } };
}

async function png(width: number, height: number): Promise<Uint8Array> {
  return new Uint8Array(await sharp({ create: { width, height, channels: 3, background: { r: 200, g: 40, b: 40 } } }).png().toBuffer());
}

function sweepPayload(): SweepMatrixPayload {
  const ref = (name: string): { ref: string } => ({ ref: `sweeps/s1/${name}` });
  return {
    version: 1,
    metrics: [
      { key: 'frameAreaRatio', label: 'frame area', better: 'higher', unit: 'ratio' },
      { key: 'latencyMs', label: 'latency', better: 'lower', unit: 'ms' },
    ],
    variants: [
      { id: 'base', label: 'cot', baseline: true, settings: { template: 'pivot-frame.cot' } },
      { id: 'v2', label: 'cot <b>v2</b>', baseline: false, settings: { template: 'pivot-frame.cot/v2', temperature: 0 } },
    ],
    inputs: [
      { id: 'car-shadow#0', label: 'car-shadow', video: 'car-shadow', expression: 'the car', hasGroundTruth: true },
      { id: 'dog#0', label: 'dog', video: '01_dog.mp4', expression: 'the dog', hasGroundTruth: false },
    ],
    cells: [
      [{ status: 'ok', metrics: { frameAreaRatio: 0.8, latencyMs: 1200 } }, { status: 'ok', metrics: { frameAreaRatio: null, latencyMs: 900 }, cached: true }],
      [{ status: 'ok', metrics: { frameAreaRatio: 0.95, latencyMs: 1500 } }, { status: 'error', message: 'reply had no <answer>', metrics: {} }],
    ],
    summary: [{ frameAreaRatio: 0.8, latencyMs: 1050 }, { frameAreaRatio: 0.95, latencyMs: 1500 }],
    deltas: [{ frameAreaRatio: 0, latencyMs: 0 }, { frameAreaRatio: 0.15, latencyMs: 450 }],
    exports: { csv: ref('matrix.csv'), json: ref('matrix.json') },
    caption: 'Sweep: 2 variants x 2 inputs',
  };
}

suite('pipeline/cells/htmlReport', () => {
  test('escapeHtml escapes the five characters that matter in content and attributes', () => {
    assert.equal(escapeHtml(`<a href="x" title='y'>&</a>`), '&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;&lt;/a&gt;');
  });

  test('untrusted text stays text: a trace, a markdown cell, a cell source, a caption and a text/html item', async () => {
    const b = new CellOutputBuilder();
    b.apply({ type: 'trace', streamId: 's', title: 'clip <1>', delta: 'I saw <script>alert(1)</script> and chose\n' });
    b.apply({ type: 'trace', streamId: 's', delta: '[2]', final: { answer: '[2]', valid: true } });
    b.apply({ type: 'image', mime: 'image/png', data: await png(4, 3), caption: '"><script>alert(2)</script>', renderer: { mime: MIME.frameGrid, payload: { version: 1, clipIndex: 0, width: 4, height: 3, tiles: [] } } });
    const outputs = [...b.outputs(), { items: [{ mime: 'text/html', data: enc.encode('<script>alert(3)</script>') }] }];
    const html = exportHtmlReport(notebookOf([
      { kind: 'markdown', language: 'markdown', source: '# Title\n\n<script>alert(4)</script> <img src=x onerror="alert(5)"> [link](javascript:alert(6))', metadata: { id: 'md' }, outputs: [] },
      stageCell('c', 'stage: reference\nexpression: </code></pre><script>alert(7)</script>\n', outputs),
    ]));
    const doc = parse(html);
    assert.equal(doc.querySelectorAll('script').length, 0, 'no script element');
    assert.equal(doc.querySelectorAll('[onerror]').length, 0, 'no event handler attribute');
    assert.equal(doc.querySelectorAll('a[href^="javascript"]').length, 0, 'no javascript: link');
    const trace = doc.querySelector('.trace pre');
    assert.ok(trace);
    assert.equal(trace.textContent, 'I saw <script>alert(1)</script> and chose\n[2]');
    assert.equal(trace.querySelector('mark.answer')?.textContent, '[2]', 'the bracketed answer is highlighted');
    assert.equal(doc.querySelector('.trace .title')?.textContent, 'clip <1>');
    assert.match(doc.querySelector('.markdown-cell')?.textContent ?? '', /<script>alert\(4\)<\/script> <img src=x onerror="alert\(5\)">/);
    assert.equal(doc.querySelector('pre.source')?.textContent, 'stage: reference\nexpression: </code></pre><script>alert(7)</script>\n');
    assert.equal(doc.querySelector('figcaption')?.textContent, '"><script>alert(2)</script>');
    assert.ok(!html.includes('<script>alert(3)'), 'a text/html item is never inserted as markup');
    assert.equal(doc.title, 'Title', 'the first heading titles the page');
  });

  test('a strict Content-Security-Policy: no scripts, only the page stylesheet (by hash) and data: images', async () => {
    const b = new CellOutputBuilder();
    b.apply({ type: 'image', mime: 'image/png', data: await png(2, 2) });
    const html = exportHtmlReport(notebookOf([stageCell('c', 'stage: video\n', b.outputs()), { kind: 'markdown', language: 'markdown', source: '![remote](https://example.com/a.png)\n\n| a | b |\n|:-:|--:|\n| 1 | 2 |', metadata: {}, outputs: [] }]));
    const doc = parse(html);
    const csp = doc.querySelector('meta[http-equiv="Content-Security-Policy"]')?.getAttribute('content') ?? '';
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, /img-src data:;/);
    assert.doesNotMatch(csp, /script-src|unsafe-inline/);
    const style = doc.querySelector('style')?.textContent ?? '';
    assert.ok(csp.includes(`'sha256-${createHash('sha256').update(style).digest('base64')}'`), 'the style hash matches the stylesheet');
    // Only data: images load; a remote image in markdown is blocked by the policy (no src outside data: is honoured).
    const srcs = [...doc.querySelectorAll('img')].map((i) => i.getAttribute('src') ?? '');
    assert.ok(srcs.some((s) => s.startsWith('data:image/png;base64,')));
    assert.equal(doc.querySelectorAll('script, link, iframe, object, embed').length, 0);
    assert.equal(doc.querySelectorAll('[style]').length, 0, 'no style attribute (the policy would block it)');
    assert.deepEqual([...doc.querySelectorAll('.markdown td')].map((td) => td.className), ['align-center', 'align-right'], 'table alignment as classes');
  });

  test('images are embedded as data: URIs with their caption; a display copy names its full-size original', async () => {
    const bytes = await png(6, 4);
    const b = new CellOutputBuilder();
    const grid: FrameGridPayload = { version: 1, clipIndex: 0, width: 6, height: 4, tiles: [], caption: 'clip 1' };
    b.apply({ type: 'image', mime: 'image/png', data: bytes, caption: 'Clip 1 of 2', renderer: { mime: MIME.frameGrid, payload: grid }, full: { ref: 'artifacts/ab/ab12.png', width: 1920, height: 1080 } });
    const html = exportHtmlReport(notebookOf([stageCell('video', 'stage: video\n', b.outputs())]), { runFolder: 'nb.alref.runs' });
    const doc = parse(html);
    const imgs = doc.querySelectorAll('img');
    assert.equal(imgs.length, 1, 'one image: the renderer item and its fallback are the same picture');
    assert.equal(imgs[0].getAttribute('src'), `data:image/png;base64,${Buffer.from(bytes).toString('base64')}`);
    assert.equal(doc.querySelector('figcaption')?.textContent, 'Clip 1 of 2');
    assert.match(doc.querySelector('figure .note')?.textContent ?? '', /full-size original \(1920 x 1080 px\) is in the run folder: nb\.alref\.runs\/artifacts\/ab\/ab12\.png/);
  });

  test('the experiment record becomes a table of version, settings, model and prompt hashes; no API key or endpoint', () => {
    const settings = defaultSettings();
    settings.llm.apiKey = 'sk-test-SECRET-123';
    settings.llm.baseUrl = 'https://llm.internal.example/v1';
    settings.llm.models.pivotFrame = 'gpt-4o-mini';
    const record = buildExperimentRecord({
      version: '9.8.7',
      settings,
      session: new NotebookSession(),
      promptOverrides: { 'pivot-frame.cot/v2': 'Pick a frame.' },
      modelChecksums: { 'sam2.1-tiny/encoder': 'a'.repeat(64) },
    });
    // A hand-edited notebook could carry secrets in its record; the report drops them wherever they sit.
    const tampered = { ...record, settings: { ...record.settings, apiKey: 'sk-test-SECRET-456', llm: { ...(record.settings.llm as object), baseUrl: 'https://llm.internal.example/v1', endpoint: 'https://other.example' } } };
    const html = exportHtmlReport(notebookOf([], { formatVersion: 1, record: tampered }));
    const rows = new Map([...parse(html).querySelectorAll('table.record tr')].map((tr) => [tr.children[0]?.textContent ?? '', tr.children[1]?.textContent ?? '']));
    assert.equal(rows.get('extension'), '9.8.7');
    assert.equal(rows.get('llm.models.pivotFrame'), 'gpt-4o-mini');
    assert.equal(rows.get('llm.mode'), settings.llm.mode);
    assert.equal(rows.get('sam2.1-tiny/encoder'), 'a'.repeat(64));
    assert.match(rows.get('pivot-frame.cot/v2') ?? '', /^[0-9a-f]{64}$/);
    for (const secret of ['SECRET', 'llm.internal.example', 'other.example', 'apiKey', 'baseUrl', 'endpoint']) {
      assert.ok(!html.includes(secret), `the report holds no ${secret}`);
    }
  });

  test('a notebook that never ran says it has no record', () => {
    const doc = parse(exportHtmlReport(notebookOf([])));
    assert.match(doc.querySelector('section.record')?.textContent ?? '', /no experiment record/);
    assert.equal(doc.title, 'AL-Ref notebook');
  });

  test('the sweep matrix: a summary table with deltas against the baseline and a variants x inputs table', () => {
    const payload = sweepPayload();
    const output: OutputModel = { items: [{ mime: MIME.sweepMatrix, data: enc.encode(JSON.stringify(payload)) }, { mime: 'text/markdown', data: enc.encode('| fallback table |') }] };
    const doc = parse(exportHtmlReport(notebookOf([stageCell('sweep', 'stage: sweep\n', [output])])));
    assert.ok(!doc.body.textContent?.includes('fallback table'), 'the markdown fallback is not shown twice');
    const summary = [...doc.querySelectorAll('table.sweep-summary tbody tr')].map((tr) => [...tr.children].map((c) => c.textContent));
    assert.deepEqual(summary[0], ['cot (baseline)', 'template: pivot-frame.cot', '80%', '1.05 s']);
    assert.deepEqual(summary[1], ['cot <b>v2</b>', 'template: pivot-frame.cot/v2temperature: 0', '95%+15 pp vs baseline', '1.5 s+450 ms vs baseline']);
    const deltas = [...doc.querySelectorAll('table.sweep-summary .delta')].map((d) => d.className);
    assert.deepEqual(deltas, ['delta better', 'delta worse'], 'higher area is better, higher latency is worse');
    const matrix = [...doc.querySelectorAll('table.sweep-matrix tr')].map((tr) => [...tr.children].map((c) => c.textContent));
    assert.deepEqual(matrix[0], ['variant', 'car-shadow', 'dog']);
    assert.deepEqual(matrix[1], ['cot (baseline)', 'frame area: 80%latency: 1.2 s', 'latency: 900 msreplayed']);
    assert.deepEqual(matrix[2], ['cot <b>v2</b>', 'frame area: 95%latency: 1.5 s', 'errorreply had no <answer>']);
    assert.match(doc.querySelector('.sweep')?.textContent ?? '', /sweeps\/s1\/matrix\.csv/);
  });

  test('a pivot view payload it cannot read, mask overlay, metrics, warnings and errors fall back to what reads without the extension', async () => {
    const sheet = await png(8, 4);
    const overlay: MaskOverlayPayload = { version: 1, width: 8, height: 4, frameCount: 2, frames: { dir: 'frames', pad: 5, ext: '.jpg' }, objects: [] };
    const b = new CellOutputBuilder();
    b.apply({ type: 'image', mime: 'image/png', data: sheet, caption: 'Masks: contact sheet', renderer: { mime: MIME.maskOverlay, payload: overlay } });
    b.apply({ type: 'table', title: 'Evaluation', columns: ['object', 'J', 'F'], rows: [['1', '0.812', '0.790']], renderer: { mime: MIME.metrics, payload: { version: 1 } } });
    b.apply({ type: 'warning', message: 'clip 4: no <valid> answer' });
    b.error('PipelineError', 'Cell 2 (id "p"), field "x": bad <value>', 'at /home/someone/secret/path.ts:1');
    const pivot: OutputModel = { items: [{ mime: MIME.pivotView, data: enc.encode('{"version":1,"rows":[]}') }, { mime: 'text/markdown', data: enc.encode('| clip | frame |\n|---|---|\n| 1 | [2] |') }], metadata: { [OUTPUT_METADATA_KEY]: null } };
    const doc = parse(exportHtmlReport(notebookOf([stageCell('p', 'stage: propagate\n', [pivot, ...b.outputs()])])));
    const tables = [...doc.querySelectorAll('.markdown table')].map((t) => t.textContent?.replace(/\s+/g, ' ').trim());
    assert.deepEqual(tables, ['clip frame 1 [2]', 'object J F 1 0.812 0.790'], 'the unreadable pivot view and the metrics as their markdown tables');
    assert.equal(doc.querySelector('img')?.getAttribute('src'), `data:image/png;base64,${Buffer.from(sheet).toString('base64')}`, 'the mask overlay as its contact sheet');
    assert.equal(doc.querySelector('figcaption')?.textContent, 'Masks: contact sheet');
    assert.equal(doc.querySelector('.warnings pre')?.textContent, 'Warning: clip 4: no <valid> answer\n');
    assert.equal(doc.querySelector('.error pre')?.textContent, 'PipelineError: Cell 2 (id "p"), field "x": bad <value>');
    assert.ok(!doc.body.textContent?.includes('/home/someone'), 'the stack (local paths) is left out');
  });

  test('a compact pivot view shows its rows and every clip\'s trace, answer highlighted, not only the markdown table', () => {
    const view: PivotViewPayload = {
      version: 1, stage: 'pivot-frame', cellId: 'pf', changes: ['clip 2: [1] -> [3]'],
      rows: [
        { objectId: 1, clip: 1, frames: [0, 5, 10], frameIndex: 5, valid: true, answer: '[2]', trace: 'The dog <runs> best in [2].', tokens: { prompt: 900, completion: 40 }, grid: { ref: 'cells/pf/grid-1.jpg', mime: 'image/jpeg', width: 30, height: 10, tiles: [] } },
        { objectId: 1, clip: 2, frames: [15, 20, 25], frameIndex: 25, valid: true, overridden: true, change: '[1] -> [3]' },
        { objectId: 1, clip: 3, frames: [30, 35, 40], frameIndex: null, valid: false, answer: '[7]', trace: 'Frame [7] shows it.', note: 'out of range' },
      ],
    };
    const b = new CellOutputBuilder();
    b.apply({ type: 'table', title: 'Pivot frames at a glance', columns: ['object', 'clip'], rows: [[1, 1]], renderer: { mime: MIME.pivotView, payload: view } });
    const grid = new Uint8Array([0xff, 0xd8, 0xff, 0xd9]);
    const doc = parse(exportHtmlReport(notebookOf([stageCell('pf', 'stage: pivot-frame\n', b.outputs())]), { runFolder: 'demo.alref.runs', readArtifact: (ref) => (ref === 'cells/pf/grid-1.jpg' ? grid : undefined) }));
    assert.deepEqual([...doc.querySelectorAll('.pivot-view img')].map((i) => i.getAttribute('src')), [`data:image/jpeg;base64,${Buffer.from(grid).toString('base64')}`], 'the grid the run folder has, embedded');
    const rows = [...doc.querySelectorAll('.pivot-view tbody tr:not(.pivot-detail)')].map((tr) => [...tr.children].map((c) => c.textContent));
    assert.deepEqual(rows, [
      ['1', '1', '[2] (frame 5)', 'yes', '940', '', ''],
      ['1', '2', '[3] (frame 25)', 'yes', '', 'yes', '[1] -> [3]'],
      ['1', '3', '–', 'NO', '', '', ''],
    ]);
    const traces = [...doc.querySelectorAll('.pivot-view details .trace')];
    assert.equal(traces.length, 2, 'the two clips the LLM answered have a trace');
    assert.equal(traces[0].querySelector('pre')?.textContent, 'The dog <runs> best in [2].');
    assert.equal(traces[0].querySelector('mark.answer')?.textContent, '[2]');
    assert.ok(traces[1].classList.contains('invalid'));
    assert.equal(traces[1].querySelector('.note')?.textContent, 'out of range');
    assert.match(doc.querySelector('.pivot-view')?.textContent ?? '', /demo\.alref\.runs\/cells\/pf\/grid-1\.jpg/);
    assert.match(doc.querySelector('.pivot-view')?.textContent ?? '', /Since the previous run: clip 2: \[1\] -> \[3\]/);
    assert.equal(doc.querySelectorAll('.markdown table').length, 0, 'the markdown fallback is not repeated');
  });

  test('a failed cell and an invalid answer are marked', () => {
    const b = new CellOutputBuilder();
    b.apply({ type: 'trace', streamId: 's', delta: 'No dog here. [9]', final: { answer: '[9]', valid: false, note: 'out of range' } });
    const cell = stageCell('p', 'stage: pivot-frame\n', b.outputs());
    cell.executionSummary = { executionOrder: 2, success: false };
    const doc = parse(exportHtmlReport(notebookOf([cell])));
    assert.match(doc.querySelector('.cell-head')?.textContent ?? '', /cell 1 · id p · stage · run 2 · failed/);
    assert.ok(doc.querySelector('.trace.invalid'));
    assert.equal(doc.querySelector('.trace .invalid-answer')?.textContent, 'invalid [9]');
    assert.equal(doc.querySelector('.trace .note')?.textContent, 'out of range');
  });
});
