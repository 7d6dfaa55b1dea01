/**
 * A small finished sweep for the sweep-matrix renderer's tests: three variants (the baseline, a second
 * prompt template, the `middle` ablation) on two inputs, with an error cell, cached cells, the detail
 * artifacts of the side-by-side view, and the CSV / JSON exports. `writeSweepNotebook(dir)` writes it
 * as an executed notebook with its run folder (images made with sharp); ./writeSweepNotebook.ts runs
 * it as a script for the UI test.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { MIME } from '../../src/common/mime';
import type { SweepCellPayload, SweepDetailPayload, SweepInputPayload, SweepMatrixPayload, SweepMetricPayload, SweepVariantPayload } from '../../src/common/payloads';

const METRICS: SweepMetricPayload[] = [
  { key: 'frameAreaRatio', label: 'Frame area ratio', better: 'higher', unit: 'ratio' },
  { key: 'boxIoU', label: 'Box IoU', better: 'higher', unit: 'ratio' },
  { key: 'validRate', label: 'Valid answers', better: 'higher', unit: 'ratio' },
  { key: 'promptTokens', label: 'Prompt tokens', better: 'lower', unit: 'tokens' },
  { key: 'latencyMs', label: 'Latency', better: 'lower', unit: 'ms' },
];

const VARIANTS: SweepVariantPayload[] = [
  { id: 'cot-v1', label: 'cot-v1', baseline: true, settings: { template: 'pivot-frame.cot/v1' } },
  { id: 'cot-v2', label: 'cot-v2', baseline: false, settings: { template: 'pivot-frame.cot/v2', temperature: 0 } },
  { id: 'middle', label: 'middle', baseline: false, settings: { strategy: 'middle' } },
];

const INPUTS: SweepInputPayload[] = [
  { id: 'car-shadow#0', label: 'car-shadow #0', video: 'media/samples/davis-car-shadow', expression: 'the car driving along the road', hasGroundTruth: true },
  { id: 'blocks#0', label: 'blocks #0', video: 'media/samples/03_blocks.mp4', expression: 'the red block', hasGroundTruth: false },
];

/** Run-folder reference of a variant's detail on an input. */
export const detailRef = (variant: string, input: string): string => `sweep/detail/${variant}/${input.replace(/[^A-Za-z0-9_-]/g, '_')}.json`;
const imageRef = (variant: string, input: string, clip: number, what: 'frame' | 'box'): string => `sweep/images/${variant}-${input.replace(/[^A-Za-z0-9_-]/g, '_')}-c${clip}-${what}.jpg`;

/** The baseline's and cot-v2's traces on car-shadow clip 1 differ (frame [3] vs [2]); clip 2 agrees. */
const TRACES: Record<string, string[]> = {
  'cot-v1': [
    'Frame 1 shows the road only.\nFrame 2 shows the front of the car.\nFrame 3 shows the whole car and its shadow.\nThe best view is frame 3.\n[3]',
    'The car is visible in every frame.\nIt is largest in frame 2.\n[2]',
  ],
  'cot-v2': [
    'Frame 1 shows the road only.\nFrame 2 shows the whole car and its shadow.\nThe best view is frame 2.\n[2]',
    'The car is visible in every frame.\nIt is largest in frame 2.\n[2]',
  ],
};

function detail(variant: string, input: SweepInputPayload, withImages: boolean): SweepDetailPayload {
  const clips = [0, 1].map((k) => {
    const clip = k + 1;
    const text = TRACES[variant]?.[k] ?? `Middle frame of clip ${clip} (no LLM).`;
    const answer = /\[\d+\]\s*$/.exec(text)?.[0].trim();
    const frameIndex = answer ? 10 * k + 4 * Number(answer.slice(1, -1)) : 10 * k + 5;
    const x0 = variant === 'cot-v2' && clip === 1 ? 140 : 100;
    return {
      clip,
      pivotFrame: { frameIndex, valid: true, answer, trace: text, ...(withImages ? { image: { ref: imageRef(variant, input.id, clip, 'frame'), mime: 'image/jpeg' } } : {}) },
      pivotBox: {
        frameIndex,
        chosen: 0,
        box: { x0, y0: 60, x1: x0 + 120, y1: 140 },
        valid: true,
        answer: '[1]',
        trace: `Box 1 covers the car.\n[1]`,
        ...(withImages ? { image: { ref: imageRef(variant, input.id, clip, 'box'), mime: 'image/jpeg' } } : {}),
      },
      metrics: input.hasGroundTruth ? { frameAreaRatio: variant === 'cot-v1' && clip === 1 ? 1 : 0.9, boxIoU: x0 === 100 ? 0.8 : 0.55 } : { frameAreaRatio: null, boxIoU: null },
    };
  });
  return { version: 1, variantId: variant, inputId: input.id, objects: [{ objectId: 1, text: input.expression, clips }] };
}

const mean = (xs: Array<number | null | undefined>): number | null => {
  const d = xs.filter((x): x is number => typeof x === 'number');
  return d.length === 0 ? null : d.reduce((a, b) => a + b, 0) / d.length;
};

/** The matrix payload and the detail artifacts it refers to (`ref` -> payload). */
export function sweepFixture(withImages = false): { payload: SweepMatrixPayload; details: Record<string, SweepDetailPayload> } {
  const details: Record<string, SweepDetailPayload> = {};
  const cells: SweepCellPayload[][] = VARIANTS.map((v, vi) =>
    INPUTS.map((input, ii): SweepCellPayload => {
      if (v.id === 'middle' && ii === 1) {
        return { status: 'error', message: 'No frames decoded: <b>03_blocks.mp4</b> is unreadable', metrics: {} };
      }
      const d = detail(v.id, input, withImages);
      const ref = detailRef(v.id, input.id);
      details[ref] = d;
      const clipMean = (k: string): number | null => mean(d.objects[0].clips.map((c) => c.metrics[k]));
      return {
        status: 'ok',
        cached: vi < 2,
        metrics: { frameAreaRatio: clipMean('frameAreaRatio'), boxIoU: clipMean('boxIoU'), validRate: 1, promptTokens: 1800 + 350 * vi + 20 * ii, latencyMs: vi === 2 ? 0 : 2400 - 300 * vi },
        detail: { ref, mime: 'application/json' },
      };
    }),
  );
  const summary = cells.map((row) => Object.fromEntries(METRICS.map((m) => [m.key, mean(row.map((c) => (c.status === 'ok' ? c.metrics[m.key] : null)))])));
  const deltas = summary.map((s) => Object.fromEntries(METRICS.map((m) => [m.key, s[m.key] === null || summary[0][m.key] === null ? null : (s[m.key] as number) - (summary[0][m.key] as number)])));
  return {
    payload: {
      version: 1,
      metrics: METRICS,
      variants: VARIANTS,
      inputs: INPUTS,
      cells,
      summary,
      deltas,
      exports: { csv: { ref: 'sweep/matrix.csv', mime: 'text/csv' }, json: { ref: 'sweep/matrix.json', mime: 'application/json' } },
      caption: 'Sweep: 3 variants x 2 inputs',
    },
    details,
  };
}

/** The matrix as CSV: one row per variant and input, one column per metric. */
function csv(p: SweepMatrixPayload): string {
  const head = ['variant', 'input', 'status', ...p.metrics.map((m) => m.key)].join(',');
  const rows = p.variants.flatMap((v, vi) => p.inputs.map((input, ii) => [v.id, input.id, p.cells[vi][ii].status, ...p.metrics.map((m) => String(p.cells[vi][ii].metrics[m.key] ?? ''))].join(',')));
  return `${[head, ...rows].join('\n')}\n`;
}

/** The markdown fallback of the matrix (what GitHub or Jupyter show). */
function markdown(p: SweepMatrixPayload): string {
  const m = p.metrics[0];
  const head = `| input | ${p.variants.map((v) => v.label).join(' | ')} |\n|---|${p.variants.map(() => '---').join('|')}|\n`;
  const rows = p.inputs.map((input, i) => `| ${input.label} | ${p.variants.map((_, v) => String(p.cells[v][i].metrics[m.key] ?? p.cells[v][i].status)).join(' | ')} |`).join('\n');
  return `${head}${rows}\n`;
}

/** Writes `<dir>/sweep-ui.alref` (one stored sweep-matrix output) and its run folder; returns the notebook's path. */
export async function writeSweepNotebook(dir: string): Promise<string> {
  const { payload, details } = sweepFixture(true);
  const notebook = path.join(dir, 'sweep-ui.alref');
  const runDir = `${notebook}.runs`;
  const put = (ref: string, data: string | Buffer): void => {
    mkdirSync(path.dirname(path.join(runDir, ref)), { recursive: true });
    writeFileSync(path.join(runDir, ref), data);
  };
  for (const [ref, d] of Object.entries(details)) {
    put(ref, `${JSON.stringify(d, null, 1)}\n`);
    for (const c of d.objects[0].clips) {
      for (const [img, shade] of [[c.pivotFrame.image, 60], [c.pivotBox?.image, 120]] as const) {
        if (img) {
          const b = c.pivotBox?.box ?? { x0: 0, y0: 0, x1: 0, y1: 0 };
          const jpeg = await sharp({ create: { width: 320, height: 180, channels: 3, background: { r: shade, g: 90, b: 160 } } })
            .composite([{ input: { create: { width: b.x1 - b.x0, height: b.y1 - b.y0, channels: 3, background: { r: 240, g: 240, b: 240 } } }, left: b.x0, top: b.y0 }])
            .jpeg({ quality: 80 })
            .toBuffer();
          put(img.ref, jpeg);
        }
      }
    }
  }
  put(payload.exports.csv.ref, csv(payload));
  put(payload.exports.json.ref, `${JSON.stringify(payload, null, 1)}\n`);
  const nb = {
    cells: [
      { cell_type: 'markdown', id: 'intro', metadata: {}, source: ['# Sweep matrix (UI test)'] },
      {
        cell_type: 'code',
        execution_count: null,
        id: 'sweep',
        metadata: { vscode: { languageId: 'alref' } },
        outputs: [{ output_type: 'display_data', data: { [MIME.sweepMatrix]: payload, 'text/markdown': markdown(payload) }, metadata: {} }],
        source: ['stage: sweep\n', 'id: sweep\n'],
      },
    ],
    metadata: { alref: { formatVersion: 1, llmMode: 'replay' } },
    nbformat: 4,
    nbformat_minor: 5,
  };
  writeFileSync(notebook, `${JSON.stringify(nb, null, 1)}\n`);
  return notebook;
}
