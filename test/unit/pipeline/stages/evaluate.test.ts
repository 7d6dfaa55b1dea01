import * as assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { MIME } from '../../../../src/common/mime';
import type { MaskData } from '../../../../src/pipeline/domain';
import type { ImageEvent, StageEvent, TableEvent, WarningEvent } from '../../../../src/pipeline/events';
import { encodeBinaryPng, nonZero, readLabelPng, resizeNearest } from '../../../../src/pipeline/masks/labelPng';
import { encodeRle } from '../../../../src/pipeline/masks/rle';
import { NotebookSession } from '../../../../src/pipeline/session';
import { runStage } from '../../../../src/pipeline/stages/index';
import type { EvaluateData } from '../../../../src/pipeline/stages/evaluate';
import type { StageContext } from '../../../../src/pipeline/types';
import { makeMevis, makeS4 } from '../../../tooling/datasets';
import { parseStageCell } from '../../../../src/pipeline/cells/parse';
import { CAR_SHADOW_REFERENCE } from '../../../tooling/davisReference';
import { SAMPLES } from '../../../tooling/media';
import { makeContext, stageResult } from '../../../tooling/stageContext';

const CAR = path.join(SAMPLES, 'davis-car-shadow/Annotations');

/** The official DAVIS code's J and F of one car-shadow annotation against another (also checked in test/unit/pipeline/metrics/maskMetrics.test.ts). */
const REF = CAR_SHADOW_REFERENCE;

async function carMasks(): Promise<Uint8Array[]> {
  const names = readdirSync(CAR).filter((n) => n.endsWith('.png')).sort();
  return Promise.all(names.map(async (n) => nonZero((await readLabelPng(path.join(CAR, n))).data)));
}

/** A session holding a propagate result whose masks file holds the given masks (one object). */
function sessionWith(dir: string, frames: Array<Uint8Array | null>, width: number, height: number, objects = 1): NotebookSession {
  const session = new NotebookSession();
  const masks: MaskData = { width, height, frameCount: frames.length, objects: [] };
  for (let k = 0; k < objects; k++) {
    const file = path.join(dir, `obj${k + 1}.json`);
    writeFileSync(file, JSON.stringify(frames.map((m) => (m ? encodeRle(m, width, height) : null))));
    masks.objects.push({ objectId: k + 1, text: `object ${k + 1}`, pivotFrames: [0], masksFile: file });
  }
  session.put(stageResult('propagate', 'prop', masks));
  return session;
}

function context(dir: string, session: NotebookSession): StageContext {
  return makeContext({ runDir: dir, session });
}

async function run(ctx: StageContext, params: Record<string, unknown>): Promise<{ events: StageEvent[]; data: EvaluateData }> {
  const events: StageEvent[] = [];
  const it = runStage({ kind: 'evaluate', cellId: 'ev', params, uses: {} }, ctx);
  let step = await it.next();
  while (!step.done) {
    events.push(step.value);
    step = await it.next();
  }
  return { events, data: step.value.data as EvaluateData };
}

suite('stages/evaluate', () => {
  let dir: string;
  setup(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'alref-evaluate-'));
  });
  teardown(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  test('car-shadow, prediction = next frame: frame 0 scores the official reference values, table + metrics payload, plot, 3 worst frames', async () => {
    const gt = await carMasks();
    const pred = gt.map((_, t) => gt[Math.min(t + 1, gt.length - 1)]);
    const { events, data } = await run(context(dir, sessionWith(dir, pred, 854, 480)), { groundTruth: CAR, protocol: 'mevis' });
    assert.equal(data.perFrame.length, 40);
    // 00001 against 00000: the official DAVIS code's db_eval_iou / db_eval_boundary values (REF below)
    assert.ok(Math.abs(data.perFrame[0].j - REF.f0v1.j) < 1e-6, `J ${data.perFrame[0].j}`);
    assert.ok(Math.abs(data.perFrame[0].f - REF.f0v1.f) < 1e-6, `F ${data.perFrame[0].f}`);
    assert.deepEqual([data.perFrame[39].j, data.perFrame[39].f], [1, 1]);
    const meanJ = data.perFrame.reduce((a, p) => a + p.j, 0) / 40;
    assert.ok(Math.abs(data.summary.J - meanJ) < 1e-12);
    const table = events.find((e): e is TableEvent => e.type === 'table')!;
    assert.deepEqual(table.columns, ['object', 'ground truth', 'J', 'F', 'J&F', 'J recall', 'J decay']);
    assert.equal(table.renderer?.mime, MIME.metrics);
    assert.equal(table.rows.at(-1)![0], 'mean');
    const images = events.filter((e): e is ImageEvent => e.type === 'image');
    assert.equal(images.length, 4);
    const plot = await sharp(Buffer.from(images[0].data)).metadata();
    assert.deepEqual([plot.format, plot.width, plot.height], ['png', 760, 260]);
    const worst = await sharp(Buffer.from(images[1].data)).metadata();
    assert.equal(worst.width, 2 * 420 + 6);
    assert.match(images[1].caption ?? '', /^Frame \d+: J 0\.\d{3}, F 0\.\d{3}; prediction \(left\) \| ground truth \(right\)$/);
    // the worst frame is the one with the lowest (J + F) / 2
    const scores = data.perFrame.map((p) => (p.j + p.f) / 2);
    const worstFrame = data.perFrame[scores.indexOf(Math.min(...scores))].frameIndex;
    assert.ok(images[1].caption!.startsWith(`Frame ${worstFrame}:`));
  });

  test('car-shadow, three frames swapped for others: per-frame and mean J/F are the official reference values', async () => {
    const gt = await carMasks();
    const pred = gt.slice();
    pred[0] = gt[10];
    pred[10] = gt[39];
    pred[39] = gt[10];
    const { data } = await run(context(dir, sessionWith(dir, pred, 854, 480)), { groundTruth: CAR, protocol: 'mevis', worstFrames: 0 });
    const near = (a: number, b: number, what: string): void => assert.ok(Math.abs(a - b) < 1e-6, `${what}: ${a}, expected ${b}`);
    // J and F are symmetric in prediction and ground truth, so 00039 against 00010 scores as 00010 against 00039.
    for (const [t, ref] of [[0, REF.f0v10], [10, REF.f10v39], [39, REF.f10v39]] as const) {
      near(data.perFrame[t].j, ref.j, `J of frame ${t}`);
      near(data.perFrame[t].f, ref.f, `F of frame ${t}`);
    }
    assert.ok(data.perFrame.every((p, t) => [0, 10, 39].includes(t) || (p.j === 1 && p.f === 1)));
    // MeViS protocol: means over the 40 frames, 37 of which are exact
    near(data.summary.J, (37 + REF.f0v10.j + 2 * REF.f10v39.j) / 40, 'mean J');
    near(data.summary.F, (37 + REF.f0v10.f + 2 * REF.f10v39.f) / 40, 'mean F');
  });

  test('davis protocol on identical masks gives 1; binary grey ground truth is object 1, not void', async () => {
    const gt = await carMasks();
    const { data } = await run(context(dir, sessionWith(dir, gt, 854, 480)), { groundTruth: CAR, worstFrames: 0 });
    assert.equal(data.protocol, 'davis');
    assert.equal(data.summary['J&F'], 1);
    assert.equal(data.objects.length, 1);
    assert.equal(data.objects[0].gtObjectId, 1);
  });

  test('davis protocol on a binary ground-truth folder whose object appears after the first frame', async () => {
    const gt = await carMasks();
    const dirGt = path.join(dir, 'gt');
    mkdirSync(dirGt);
    const frames = gt.slice(0, 6).map((m, t) => (t === 0 ? new Uint8Array(m.length) : m));
    frames.forEach((m, t) => writeFileSync(path.join(dirGt, `${String(t).padStart(5, '0')}.png`), encodeBinaryPng(m, 854, 480)));
    const { data } = await run(context(dir, sessionWith(dir, frames, 854, 480)), { groundTruth: dirGt, worstFrames: 0 });
    assert.equal(data.objects.length, 1);
    assert.equal(data.summary['J&F'], 1);
  });

  test('masks of another size are resized and reported; annotated frames past the prediction score 0', async () => {
    const gt = await carMasks();
    const small = gt.slice(0, 30).map((m) => resizeNearest(m, 854, 480, 427, 240));
    const { events, data } = await run(context(dir, sessionWith(dir, small, 427, 240)), { groundTruth: CAR, protocol: 'mevis', worstFrames: 1 });
    const warnings = events.filter((e): e is WarningEvent => e.type === 'warning').map((w) => w.message);
    assert.ok(warnings.some((w) => w.includes('427x240') && w.includes('854x480')));
    assert.ok(warnings.some((w) => w.includes('10 annotated frame(s) are past the 30 predicted frames')));
    assert.ok(data.perFrame[10].j > 0.9);
    assert.deepEqual(data.perFrame.slice(30).map((p) => p.j), new Array(10).fill(0));
  });

  test('a dataset entry (MeViS) as ground truth, and AVS M_J / M_F on an AVSBench S4 entry', async () => {
    const root = await makeMevis(path.join(dir, 'mevis'), { videos: 1 });
    const { data } = await run(context(dir, sessionWith(dir, [null, null, null, null, null, null], 40, 30)), { dataset: { kind: 'mevis', root, item: 'vid0/1' }, worstFrames: 0 });
    assert.equal(data.protocol, 'mevis');
    // empty prediction against a non-empty union ground truth: J = 0 every frame
    assert.equal(data.summary.J, 0);
    const s4 = await makeS4(path.join(dir, 's4'), { videos: 1 });
    const box = new Uint8Array(32 * 32);
    const { data: avs } = await run(context(dir, sessionWith(dir, [box, box, box, box, box], 32, 32)), { dataset: { kind: 'avsbench-s4', root: s4, item: 's4vid0' }, worstFrames: 0 });
    assert.equal(avs.protocol, 'avs-per-video');
    // AVSBench thresholds start at 0, where every pixel counts as predicted: an empty prediction still
    // gets F = 1.3 p / (0.3 p + 1) with p = |gt| / (H W) (8x8 boxes in 32x32 frames here)
    const p = 64 / 1024;
    assert.ok(Math.abs(avs.summary.M_F - (1.3 * p) / (0.3 * p + 1)) < 1e-12);
    assert.equal(avs.summary.M_J, 0);
    assert.equal(avs.perFrame.length, 5);
    // the earlier spelling of the kind still works, with a deprecation warning
    const old = await run(context(dir, sessionWith(dir, [box, box, box, box, box], 32, 32)), { dataset: { kind: 'avs-s4', root: s4, item: 's4vid0' }, worstFrames: 0 });
    assert.deepEqual(old.data.summary, avs.summary);
    assert.ok(old.events.some((e) => e.type === 'warning' && /dataset kind "avs-s4" is deprecated; use "avsbench-s4"/.test(e.message)));
  });

  test('bad input: both or neither ground-truth source, an unknown dataset item, an empty folder', async () => {
    const ctx = context(dir, sessionWith(dir, [new Uint8Array(4)], 2, 2));
    // both or neither: the schema (schemas/evaluate.schema.json), checked by the cell parser
    const neither = parseStageCell('stage: evaluate\n', { cellId: 'e' });
    assert.ok(!neither.ok && neither.diagnostics.length === 1 && neither.diagnostics[0].field === 'groundTruth', JSON.stringify(neither.diagnostics));
    const both = parseStageCell('stage: evaluate\ngroundTruth: x\ndataset: { kind: mevis, root: y, item: z }\n', { cellId: 'e' });
    assert.ok(!both.ok && both.diagnostics.length === 1, JSON.stringify(both.diagnostics));
    assert.equal(both.diagnostics[0].field, 'groundTruth');
    assert.match(both.diagnostics[0].message, /exactly one of "groundTruth" .* or "dataset"/);
    await assert.rejects(run(ctx, { groundTruth: dir }), /holds no PNG masks/);
    const root = await makeMevis(path.join(dir, 'm2'), { videos: 1, predictions: false });
    await assert.rejects(run(ctx, { dataset: { kind: 'mevis', root, item: 'nope/0' } }), /dataset.item "nope\/0" is not in mevis\/valid_u/);
    await assert.rejects(run(context(dir, new NotebookSession()), { groundTruth: CAR }), /needs a "propagate" result/);
  });

  test('evaluate cells validate against the schema: folder or dataset entry, protocol names, required dataset fields', () => {
    const parse = (src: string) => parseStageCell(src, { cellId: 'c', cellIndex: 1, knownCells: [] });
    const a = parse('stage: evaluate\ngroundTruth: gt\nprotocol: davis-semi\nworstFrames: 2\n');
    assert.ok(a.ok && a.request.params.groundTruth === 'gt');
    const b = parse('stage: evaluate\ndataset:\n  kind: mevis\n  root: data/mevis\n  item: vid0/1\n');
    assert.ok(b.ok);
    const c = parse('stage: evaluate\ngroundTruth: gt\nprotocol: avss\n');
    assert.ok(!c.ok && c.diagnostics.some((d) => d.field === 'protocol'));
    const d = parse('stage: evaluate\ndataset:\n  kind: mevis\n  root: r\n');
    assert.ok(!d.ok && d.diagnostics.some((x) => x.field === 'dataset.item'));
  });
});
