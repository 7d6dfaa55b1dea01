import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { MIME } from '../../../../src/common/mime';
import type { SweepDetailPayload, SweepMatrixPayload } from '../../../../src/common/payloads';
import { PipelineError } from '../../../../src/pipeline/errors';
import type { ProgressEvent, StageEvent, TableEvent } from '../../../../src/pipeline/events';
import { createLlmService } from '../../../../src/pipeline/llm/service';
import { NotebookSession } from '../../../../src/pipeline/session';
import { defaultSettings } from '../../../../src/pipeline/settings';
import type { StageContext, StageRequest, StageResult } from '../../../../src/pipeline/types';
import { davisVideo } from '../../../tooling/davisVideo';
import { SAMPLES } from '../../../tooling/media';
import { OpenAiTestServer, type ReceivedRequest, type ScriptedReply } from '../../../tooling/openaiServer';
import { collect, makeContext, stageResult } from '../../../tooling/stageContext';
import { formatDelta } from '../../../../src/common/sweepFormat';

const KEY = 'sk-local-sweep-key';
const V2 = 'SECOND WORDING. The frames {{frameIds}} show "{{expression}}". Answer with one id in brackets.';

/** Car-shadow areas (pixels) of the referent, counted in the pivot-metrics test: frames 0 and 5. */
const AREA_0 = 41790;
const AREA_5 = 36793;
/** The typed car candidate and the car's mask boxes on frames 0 and 5 (all inside the candidate). */
const CAR_BOX = [250, 80, 660, 290];
const CAND_AREA = 410 * 210;
const GT_BOX_0 = 342 * 194;
const GT_BOX_5 = 317 * 182;

/**
 * The scripted model: pivot-frame answers [2] (frame 5) with the built-in prompt and [1] (frame 0)
 * with the v2 wording; on the blocks clip the built-in prompt first gets no bracket (one re-ask);
 * pivot-box always answers [1]. Token counts are fixed so usage sums can be checked.
 */
function reply(r: ReceivedRequest): ScriptedReply {
  const tokens = { promptTokens: r.text.includes('box 1') ? 300 : 100, completionTokens: 10 };
  if (r.text.includes('box 1')) {
    return { text: 'The green box holds the car. [1]', ...tokens };
  }
  if (r.text.includes('SECOND WORDING')) {
    return { text: 'Frame one. [1]', ...tokens };
  }
  if (r.text.includes('blue block') && r.body.messages.length === 1) {
    return { text: 'The blue block is clearest in the second frame.', ...tokens };
  }
  return { text: 'Step 1. It moves.\nStep 2. Clearest in frame 2.\n[2]', ...tokens };
}

suite('sweep stage: variants x inputs against the local OpenAI server', () => {
  let server: OpenAiTestServer;
  let tmp: string;

  suiteSetup(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'alref-sweep-'));
  });
  suiteTeardown(async () => {
    await rm(tmp, { recursive: true, force: true });
  });
  setup(async () => {
    server = await OpenAiTestServer.start({ apiKey: KEY });
    server.setScript(reply);
  });
  teardown(async () => {
    await server.stop();
  });

  function context(runDir: string, mode: 'record' | 'replay', opts: { signal?: AbortSignal; concurrency?: number } = {}): StageContext {
    const base = defaultSettings().llm;
    const settings = defaultSettings({ llm: { ...base, baseUrl: server.baseUrl, mode, timeoutMs: 10_000, concurrency: opts.concurrency ?? 2, prices: { 'gpt-4o': { input: 1, output: 2 } } } });
    return makeContext({
      runDir, baseDir: SAMPLES, settings, signal: opts.signal,
      services: { llm: createLlmService({ runDir, getSecret: async () => KEY }) },
      promptOverrides: { 'pivot-frame.cot/v2': V2 },
    });
  }

  const params = (extra: Record<string, unknown> = {}): Record<string, unknown> => ({
    variants: [{ name: 'base' }, { name: 'v2', template: 'pivot-frame.cot/v2' }],
    inputs: [
      { source: 'davis-car-shadow', expression: 'the black car', groundTruth: 'davis-car-shadow/Annotations', candidates: [CAR_BOX, [0, 0, 200, 60]] },
      { source: '03_blocks.mp4', expression: 'the blue block' },
    ],
    video: { maxFrames: 10 },
    ...extra,
  });
  const request = (p: Record<string, unknown> = params()): StageRequest => ({ kind: 'sweep', cellId: 'sweep-1', params: p, uses: {} });

  function matrixOf(events: StageEvent[]): { table: TableEvent; matrix: SweepMatrixPayload } {
    const table = events.find((e): e is TableEvent => e.type === 'table' && e.renderer?.mime === MIME.sweepMatrix);
    assert.ok(table, 'a table with the sweep-matrix renderer');
    return { table, matrix: table.renderer!.payload as SweepMatrixPayload };
  }

  let recorded: { runDir: string; matrix: SweepMatrixPayload; result: StageResult } | undefined;

  test('two variants x two inputs: pivot metrics, usage, summary and deltas as computed by hand', async () => {
    const runDir = await mkdtemp(path.join(tmp, 'run-'));
    const { events, result } = await collect(request(), context(runDir, 'record'));
    const { table, matrix } = matrixOf(events);
    assert.deepEqual(matrix, (result.data as { matrix: SweepMatrixPayload }).matrix);
    assert.deepEqual(matrix.variants.map((v) => [v.id, v.baseline, v.settings]), [['base', true, {}], ['v2', false, { 'pivotFrame.template': 'pivot-frame.cot/v2' }]]);
    assert.deepEqual(matrix.inputs.map((i) => [i.id, i.expression, i.hasGroundTruth, i.candidates]), [
      ['davis-car-shadow#0', 'the black car', true, 'typed'],
      ['03_blocks#0', 'the blue block', false, 'none'],
    ]);
    // per variant and input: 1 clip (frames 0 and 5 of the 10 decoded); pivot-box only on the car (typed candidates)
    assert.equal(server.requests.length, 2 + 2 + 2 + 1, 'car: frame + box per variant; blocks: base asks twice (re-ask), v2 once');
    const cost = (p: number, c: number): number => (p * 1 + c * 2) / 1e6;
    const [[baseCar, baseBlocks], [v2Car, v2Blocks]] = matrix.cells;
    assert.deepEqual(baseCar.metrics, {
      frameAreaRatio: AREA_5 / AREA_0, frameVisible: 1, boxIoU: GT_BOX_5 / CAND_AREA, boxCentreOnObject: 1, validRate: 1, reasks: 0,
      promptTokens: 400, completionTokens: 20, costUsd: cost(400, 20), latencyMs: baseCar.metrics.latencyMs, J: null, F: null, JF: null,
    });
    assert.deepEqual(v2Car.metrics, {
      frameAreaRatio: 1, frameVisible: 1, boxIoU: GT_BOX_0 / CAND_AREA, boxCentreOnObject: 1, validRate: 1, reasks: 0,
      promptTokens: 400, completionTokens: 20, costUsd: cost(400, 20), latencyMs: v2Car.metrics.latencyMs, J: null, F: null, JF: null,
    });
    assert.deepEqual({ ...baseBlocks.metrics, latencyMs: 0 }, {
      frameAreaRatio: null, frameVisible: null, boxIoU: null, boxCentreOnObject: null, validRate: 1, reasks: 1,
      promptTokens: 200, completionTokens: 20, costUsd: cost(200, 20), latencyMs: 0, J: null, F: null, JF: null,
    });
    assert.deepEqual([v2Blocks.metrics.reasks, v2Blocks.metrics.promptTokens, v2Blocks.metrics.validRate], [0, 100, 1]);
    assert.ok(matrix.cells.flat().every((c) => c.status === 'ok' && c.cached === false && typeof c.metrics.latencyMs === 'number' && c.metrics.latencyMs >= 0));

    // summary: mean over inputs where defined; deltas against the baseline
    assert.equal(matrix.summary[0].frameAreaRatio, AREA_5 / AREA_0);
    assert.equal(matrix.summary[0].promptTokens, 300);
    assert.equal(matrix.summary[0].reasks, 0.5);
    assert.equal(matrix.summary[0].J, null);
    assert.equal(matrix.summary[1].promptTokens, 250);
    assert.ok(Math.abs((matrix.deltas[1].frameAreaRatio as number) - (1 - AREA_5 / AREA_0)) < 1e-12);
    assert.ok(Math.abs((matrix.deltas[1].boxIoU as number) - (GT_BOX_0 - GT_BOX_5) / CAND_AREA) < 1e-12);
    assert.equal(matrix.deltas[1].promptTokens, -50);
    assert.equal(matrix.deltas[1].reasks, -0.5);
    assert.equal(matrix.deltas[1].J, null);
    assert.ok(Object.values(matrix.deltas[0]).every((d) => d === 0 || d === null), 'the baseline against itself');

    // the markdown fallback has the cells, the mean rows and the delta row
    assert.deepEqual(table.columns.slice(0, 4), ['variant', 'input', 'frame area ratio', 'frame visible']);
    assert.deepEqual(table.rows.map((r) => [r[0], r[1]]), [
      ['base', 'davis-car-shadow'], ['base', '03_blocks'], ['**base**', '**mean**'],
      ['v2', 'davis-car-shadow'], ['v2', '03_blocks'], ['**v2**', '**mean**'], ['**v2**', '**Δ vs base**'],
    ]);
    assert.equal(table.rows[6][2], formatDelta(1 - AREA_5 / AREA_0, 'ratio'), 'percentage points, as the viewer shows them');
    assert.match(String(table.rows[6][2]), /^\+\d+(\.\d)? pp$/);

    // which candidates were used, and why J&F is empty, with the pull command
    const notes = events.filter((e) => e.type === 'markdown').map((e) => (e as { text: string }).text).join('\n');
    assert.match(notes, /typed in the cell: davis-car-shadow/);
    assert.match(notes, /No pivot-box candidates for 03_blocks.*alref models pull grounding-dino-tiny/);
    assert.match(notes, /SAM 2 \(sam2\.1-hiera-tiny-video\) is not installed.*`alref models pull sam2\.1-hiera-tiny-video`/);
    assert.deepEqual(matrix.notes?.length, 3);

    // progress: one per input video, then one per cell, up to done = total
    const progress = events.filter((e): e is ProgressEvent => e.type === 'progress');
    assert.equal(progress.length, 6);
    assert.deepEqual(progress.map((p) => p.done), [1, 2, 3, 4, 5, 6]);
    assert.ok(progress.every((p) => p.total === 6));
    assert.ok(progress.slice(2).every((p) => / × /.test(p.label ?? '')));
    recorded = { runDir, matrix, result };
  });

  test('exports: the CSV and JSON files in the run folder hold the matrix, summary and deltas', async () => {
    assert.ok(recorded, 'runs after the first test');
    const { runDir, matrix } = recorded;
    const csv = (await readFile(path.join(runDir, matrix.exports.csv.ref), 'utf8')).trim().split('\n');
    assert.equal(csv[0], 'row,variant,input,expression,status,frameAreaRatio,frameVisible,boxIoU,boxCentreOnObject,validRate,reasks,promptTokens,completionTokens,costUsd,latencyMs,J,F,JF');
    assert.deepEqual(csv.map((l) => l.split(',').slice(0, 3).join(',')), ['row,variant,input', 'cell,base,davis-car-shadow#0', 'cell,base,03_blocks#0', 'mean,base,', 'cell,v2,davis-car-shadow#0', 'cell,v2,03_blocks#0', 'mean,v2,', 'delta,v2,']);
    assert.equal(csv[1].split(',')[5], String(AREA_5 / AREA_0));
    assert.equal(csv[2].split(',')[5], '', 'undefined metrics are empty');
    assert.equal(csv[7].split(',')[11], '-50');
    const json = JSON.parse(await readFile(path.join(runDir, matrix.exports.json.ref), 'utf8')) as SweepMatrixPayload;
    const { exports: _e, caption: _c, ...body } = matrix;
    assert.deepEqual(json, body);
  });

  test('each cell has a detail artifact: answers, traces, the images the LLM saw, per-clip metrics', async () => {
    assert.ok(recorded);
    const { runDir, matrix } = recorded;
    const detail = JSON.parse(await readFile(path.join(runDir, matrix.cells[0][0].detail!.ref), 'utf8')) as SweepDetailPayload;
    assert.deepEqual([detail.variantId, detail.inputId, detail.objects.length], ['base', 'davis-car-shadow#0', 1]);
    const clip = detail.objects[0].clips[0];
    assert.deepEqual([clip.clip, clip.pivotFrame.frameIndex, clip.pivotFrame.valid, clip.pivotFrame.answer], [1, 5, true, '[2]']);
    assert.match(clip.pivotFrame.trace, /Clearest in frame 2/);
    assert.ok(clip.pivotFrame.image && existsSync(path.join(runDir, clip.pivotFrame.image.ref)), 'the grid image is in the run folder');
    assert.deepEqual([clip.pivotBox?.chosen, clip.pivotBox?.answer, clip.pivotBox?.box], [0, '[1]', { x0: 250, y0: 80, x1: 660, y1: 290 }]);
    assert.ok(clip.pivotBox?.image && existsSync(path.join(runDir, clip.pivotBox.image.ref)), 'the composed pivot-box image is in the run folder');
    assert.deepEqual(clip.metrics, { frameAreaRatio: AREA_5 / AREA_0, frameVisible: 1, boxIoU: GT_BOX_5 / CAND_AREA, boxCentreOnObject: 1 });
    const blocks = JSON.parse(await readFile(path.join(runDir, matrix.cells[0][1].detail!.ref), 'utf8')) as SweepDetailPayload;
    const b = blocks.objects[0].clips[0];
    assert.match(b.pivotFrame.trace, /second frame\.[\s\S]*\[2\]/, 'the trace holds the first reply and the re-ask reply');
    assert.equal(b.pivotBox, undefined);
  });

  test('the result lists the templates it used: editing the v2 prompt cell makes it stale', () => {
    assert.ok(recorded);
    const prompts = (recorded.result.data as { prompts?: Array<{ name: string; source: string }> }).prompts ?? [];
    assert.deepEqual(prompts.map((p) => [p.name, p.source]).sort(), [['pivot-box.cot', 'file'], ['pivot-frame.cot', 'file'], ['pivot-frame.cot/v2', 'cell']]);
    const session = new NotebookSession();
    session.put(recorded.result);
    assert.equal(session.staleness('sweep-1', undefined, { 'pivot-frame.cot/v2': V2 }).stale, false);
    const edited = session.staleness('sweep-1', undefined, { 'pivot-frame.cot/v2': `${V2} Be brief.` });
    assert.deepEqual(edited.changedPrompts, ['pivot-frame.cot/v2']);
  });

  test('a re-run in replay mode sends nothing and gives the same matrix, every cell cached', async () => {
    assert.ok(recorded);
    const before = server.requests.length;
    const { events } = await collect(request(), context(recorded.runDir, 'replay'));
    const { matrix } = matrixOf(events);
    assert.equal(server.requests.length, before);
    assert.ok(matrix.cells.flat().every((c) => c.cached === true));
    const strip = (m: SweepMatrixPayload): unknown => m.cells.map((row) => row.map((c) => ({ ...c, cached: undefined })));
    assert.deepEqual(strip(matrix), strip(recorded.matrix));
    assert.deepEqual([matrix.summary, matrix.deltas], [recorded.matrix.summary, recorded.matrix.deltas]);
  });

  test('replay after adding a variant: the recorded variants replay, the new one fails alone, naming the replay miss', async () => {
    assert.ok(recorded);
    const before = server.requests.length;
    const p = params();
    (p.variants as unknown[]).push({ name: 'hot', temperature: 1 });
    const { events } = await collect(request(p), context(recorded.runDir, 'replay'));
    const { matrix } = matrixOf(events);
    assert.equal(server.requests.length, before);
    assert.deepEqual(matrix.cells.map((row) => row.map((c) => c.status)), [['ok', 'ok'], ['ok', 'ok'], ['error', 'error']]);
    assert.ok(matrix.cells[2].every((c) => /replay/i.test(c.message ?? '')), matrix.cells[2][0].message);
    assert.deepEqual(matrix.summary[2].validRate, null);
    assert.deepEqual(matrix.variants[2].settings, { temperature: 1 });
  });

  test('one concurrency limit over the whole sweep: never more requests in flight than it allows', async () => {
    const runDir = await mkdtemp(path.join(tmp, 'run-'));
    server.maxInFlight = 0;
    await collect(request(params({ concurrency: 1 })), context(runDir, 'record', { concurrency: 4 }));
    assert.equal(server.requests.length, 7);
    assert.equal(server.maxInFlight, 1);
  });

  test('cancelling stops the sweep with a cancellation error', async () => {
    const runDir = await mkdtemp(path.join(tmp, 'run-'));
    const ac = new AbortController();
    let release: () => void = () => undefined;
    const held = new Promise<void>((r) => {
      release = r;
    });
    server.setScript((r) => {
      ac.abort();
      return { ...(reply(r) as object), holdUntil: held };
    });
    await assert.rejects(collect(request(), context(runDir, 'record', { signal: ac.signal })), (err: unknown) => err instanceof PipelineError && err.kind === 'cancelled');
    release();
    assert.ok(server.requests.length <= 2, 'no new request after the cancel');
  });

  test("the notebook's own video and reference: fixed pivot strategies need no LLM", async () => {
    const runDir = await mkdtemp(path.join(tmp, 'run-'));
    const video = await davisVideo(path.join(runDir, 'grids'), { frameCount: 20 });
    const session = new NotebookSession();
    session.put(stageResult('video', 'vid', video));
    session.put(stageResult('reference', 'ref', { source: 'text', targets: [{ objectId: 1, text: 'the car' }] }));
    const ctx = { ...context(runDir, 'record'), session };
    const { events, result } = await collect({ kind: 'sweep', cellId: 's', params: { variants: [{ pivotFrame: { strategy: 'first' } }, { pivotFrame: { strategy: 'last' } }] }, uses: {} }, ctx);
    const { matrix } = matrixOf(events);
    assert.equal(server.requests.length, 0);
    assert.deepEqual(matrix.variants.map((v) => v.id), ['v1', 'v2']);
    assert.deepEqual(matrix.inputs.map((i) => [i.label, i.expression, i.hasGroundTruth]), [['davis-car-shadow', 'the car', false]]);
    assert.deepEqual(matrix.metrics.map((m) => m.key), ['validRate', 'reasks', 'promptTokens', 'completionTokens', 'costUsd', 'latencyMs']);
    assert.deepEqual(matrix.cells.map((r) => [r[0].metrics.validRate, r[0].metrics.promptTokens, r[0].cached]), [[1, 0, undefined], [1, 0, undefined]]);
    assert.deepEqual(result.upstream, ['vid', 'ref']);
    const detail = JSON.parse(await readFile(path.join(runDir, matrix.cells[1][0].detail!.ref), 'utf8')) as SweepDetailPayload;
    assert.deepEqual(detail.objects[0].clips.map((c) => [c.pivotFrame.frameIndex, c.pivotFrame.note]), video.clips.map((c) => [c.frameIndices.at(-1), 'fixed: last']));
  });
});

suite('sweep stage: fixed strategies on an input with several expressions', () => {
  test('one column per expression; first vs last frame scored against the ground truth by hand', async () => {
    const runDir = await mkdtemp(path.join(os.tmpdir(), 'alref-sweep-fixed-'));
    try {
      const ctx = makeContext({ runDir, baseDir: SAMPLES });
      const p = {
        variants: [{ name: 'first', pivotFrame: { strategy: 'first' } }, { name: 'last', pivotFrame: { strategy: 'last' } }],
        inputs: [{ source: 'davis-car-shadow', expressions: ['the car', 'the silver car'], groundTruth: 'davis-car-shadow/Annotations' }],
        video: { maxFrames: 10 },
        pivotBox: false,
      };
      const { events } = await collect({ kind: 'sweep', cellId: 'fx', params: p, uses: {} }, ctx);
      const table = events.find((e): e is TableEvent => e.type === 'table' && e.renderer?.mime === MIME.sweepMatrix);
      assert.ok(table);
      const m = table.renderer!.payload as SweepMatrixPayload;
      assert.deepEqual(m.inputs.map((i) => [i.id, i.label, i.expression, i.candidates]), [
        ['davis-car-shadow#0', 'davis-car-shadow #1', 'the car', 'none'],
        ['davis-car-shadow#1', 'davis-car-shadow #2', 'the silver car', 'none'],
      ]);
      assert.deepEqual(m.metrics.map((x) => x.key), ['frameAreaRatio', 'frameVisible', 'validRate', 'reasks', 'promptTokens', 'completionTokens', 'costUsd', 'latencyMs', 'J', 'F', 'JF']);
      // the one clip holds frames 0 and 5: first = frame 0 (the largest), last = frame 5
      assert.deepEqual(m.cells.map((row) => row.map((c) => c.metrics.frameAreaRatio)), [[1, 1], [AREA_5 / AREA_0, AREA_5 / AREA_0]]);
      assert.deepEqual(m.summary.map((s) => s.frameAreaRatio), [1, AREA_5 / AREA_0]);
      assert.equal(m.deltas[1].frameAreaRatio, AREA_5 / AREA_0 - 1);
      assert.ok(!(m.notes ?? []).some((n) => /pivot-box/.test(n)), 'pivotBox: false leaves no candidate note');
    } finally {
      await rm(runDir, { recursive: true, force: true });
    }
  });
});

suite('sweep stage: errors name the field', () => {
  let tmp: string;
  suiteSetup(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'alref-sweep-err-'));
  });
  suiteTeardown(async () => {
    await rm(tmp, { recursive: true, force: true });
  });

  async function fieldOf(params: Record<string, unknown>, promptOverrides: Record<string, string> = {}): Promise<string | undefined> {
    const ctx = makeContext({ runDir: tmp, baseDir: SAMPLES, promptOverrides });
    try {
      await collect({ kind: 'sweep', cellId: 'bad', params, uses: {} }, ctx);
    } catch (err) {
      assert.ok(err instanceof PipelineError, String(err));
      assert.equal(err.kind, 'invalid-input');
      return err.field;
    }
    assert.fail('expected an error');
  }
  const car = { source: 'davis-car-shadow', expression: 'the car' };

  // Strategies outside a step's enum are refused by the schema when the cell is parsed (parse.test.ts).
  test('bad variants', async () => {
    assert.equal(await fieldOf({ variants: [] }), 'variants');
    assert.equal(await fieldOf({ variants: [{}, { template: 'pivot-frame.cot/v9' }], inputs: [car] }), 'variants[1].template');
    assert.equal(await fieldOf({ variants: [{ pivotBox: { template: 'pivot-frame.cot' } }], inputs: [car] }), 'variants[0].pivotBox.template');
    assert.equal(await fieldOf({ variants: [{ template: 'lbru.cot' }], inputs: [car] }), 'variants[0].template');
    assert.equal(await fieldOf({ variants: [{ name: 'a' }, { name: 'a' }], inputs: [car] }), 'variants[1].name');
  });

  test('bad inputs', async () => {
    assert.equal(await fieldOf({ variants: [{}], inputs: [car, { source: 'no-such.mp4', expression: 'x' }] }), 'inputs[1].source');
    assert.equal(await fieldOf({ variants: [{}], inputs: [{ source: 'davis-car-shadow' }] }), 'inputs[0].expression');
    assert.equal(await fieldOf({ variants: [{}], inputs: [{ ...car, groundTruth: 'nowhere' }] }), 'inputs[0].groundTruth');
    assert.equal(await fieldOf({ variants: [{}], inputs: [car], dataset: { kind: 'ref-davis17', root: '.' } }), 'dataset');
    assert.equal(await fieldOf({ variants: [{}], inputs: [{ ...car, candidates: [[10, 10, 5, 20]] }], video: { maxFrames: 5 } }), 'inputs[0].candidates[0]');
    assert.equal(await fieldOf({ variants: [{}], dataset: { kind: 'ref-davis17', root: 'no-such-folder' } }), 'dataset.root');
  });
});
