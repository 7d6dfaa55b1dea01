/**
 * SAM 2 golden tests (docs/MODELS.md): the TypeScript host loop on real onnxruntime sessions of the micro
 * random-weight SAM 2.1 export must reproduce what the OFFICIAL SAM2VideoPredictor returned for the
 * same weights, clips and prompts (test/fixtures/sam2-golden, written by tools/sam2-export/make_golden.py;
 * no Python here). Per frame: the same processing order, object scores and low-res logits within 1e-4,
 * and masks at the source size that differ by a few pixels at most (IoU 1.0).
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { observeGraphRuns, SessionRuntime } from '../../../../../src/pipeline/models/runtime';
import { createModelService } from '../../../../../src/pipeline/models/service';
import { Sam2VideoTracker, type Sam2FrameResult } from '../../../../../src/pipeline/models/sam2/video';
import sharp from 'sharp';
import { defaultSettings } from '../../../../../src/pipeline/settings';
import { GOLDEN, goldenLowRes, goldenMask, goldenModels, MODEL_ID, readCase, type GoldenCase } from '../../../../tooling/sam2Golden';

suite('models/sam2: golden tests against the official SAM 2 video predictor (micro random-weight export)', () => {
  let tmp: string;
  let runtime: SessionRuntime;

  suiteSetup(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'alref-sam2-golden-'));
    runtime = new SessionRuntime({ executionProvider: 'cpu', threads: 1 });
  });
  suiteTeardown(async () => {
    await runtime.dispose();
    await rm(tmp, { recursive: true, force: true });
  });

  async function runCase(c: GoldenCase): Promise<{ results: Sam2FrameResult[]; tracker: Sam2VideoTracker }> {
    const localDir = await goldenModels(tmp, c.variant);
    const models = createModelService({ ...defaultSettings().models, localDir, cacheDir: path.join(tmp, 'cache') }, { userCacheDir: tmp }, runtime);
    const tracker = await Sam2VideoTracker.open(models, MODEL_ID);
    const results: Sam2FrameResult[] = [];
    try {
      for await (const r of tracker.track({
        numFrames: c.numFrames,
        width: c.width,
        height: c.height,
        frameSource: (i) => path.join(GOLDEN, 'clips', c.clip, `${String(i).padStart(5, '0')}.jpg`),
        prompts: c.prompts.map((p) => ({ frameIndex: p.frameIndex, box: { x0: p.box[0], y0: p.box[1], x1: p.box[2], y1: p.box[3] } })),
        ...(c.startFrame !== null ? { startFrame: c.startFrame } : {}),
        fillHoleArea: c.fillHoleArea,
      })) {
        results.push(r);
      }
    } finally {
      tracker.dispose();
    }
    return { results, tracker };
  }

  function compare(c: GoldenCase, results: Sam2FrameResult[]): void {
    assert.deepEqual(results.map((r) => r.frameIndex), c.order, `${c.name}: processing order`);
    for (const r of results) {
      const g = c.frames[String(r.frameIndex)];
      const where = `${c.name}, frame ${r.frameIndex}`;
      assert.equal(r.conditioning, g.conditioning, `${where}: conditioning`);
      assert.ok(Math.abs(r.objectScore - g.objectScore) <= 1e-4, `${where}: object score ${r.objectScore} vs official ${g.objectScore}`);
      const low = goldenLowRes(g);
      assert.equal(r.lowRes.width * r.lowRes.height, low.length, `${where}: low-res size`);
      let maxDiff = 0;
      for (let k = 0; k < low.length; k++) {
        maxDiff = Math.max(maxDiff, Math.abs(r.lowRes.logits[k] - low[k]));
      }
      assert.ok(maxDiff <= 1e-4, `${where}: low-res logits differ by ${maxDiff} (max 1e-4)`);
      const want = goldenMask(g, c.width * c.height);
      let inter = 0;
      let union = 0;
      let differ = 0;
      for (let p = 0; p < want.length; p++) {
        inter += r.mask[p] & want[p];
        union += r.mask[p] | want[p];
        differ += r.mask[p] ^ want[p];
      }
      assert.ok(differ <= 3, `${where}: ${differ} mask pixels differ from the official predictor (IoU ${union ? (inter / union).toFixed(5) : 1})`);
    }
  }

  test('the micro export is read from the graphs: 128 px input, 8x8 features, 32x32 low-res masks, no built-in sizes', async () => {
    const c = await readCase('one-box');
    const localDir = await goldenModels(tmp, null);
    const t = await Sam2VideoTracker.open(createModelService({ ...defaultSettings().models, localDir, cacheDir: path.join(tmp, 'cache') }, { userCacheDir: tmp }, runtime), MODEL_ID);
    try {
      assert.deepEqual(t.geometry.imageSize, { width: 128, height: 128 });
      assert.equal(t.geometry.memoryLength, null);
      assert.equal(t.geometry.tposTable[0].length, 16);
      assert.equal(t.geometry.signedPointerDistances, true);
      assert.equal(t.geometry.pointerTimeEncoding, true);
      assert.equal(c.lowResWidth, 32);
    } finally {
      t.dispose();
    }
  });

  test('one box, forward then backward from the prompted frame', async () => {
    const c = await readCase('one-box');
    compare(c, (await runCase(c)).results);
  });

  test('three prompted frames with an explicit start in the middle (forward, then backward from it)', async () => {
    const c = await readCase('three-prompts-mid-start');
    assert.equal(c.prompts.length, 3);
    compare(c, (await runCase(c)).results);
  });

  test('without a start frame, tracking starts at the earliest prompted frame', async () => {
    // same case, prompts given out of order and no start: the official predictor starts at frame 1
    const c = await readCase('three-prompts-mid-start');
    const localDir = await goldenModels(tmp, null);
    const t = await Sam2VideoTracker.open(createModelService({ ...defaultSettings().models, localDir, cacheDir: path.join(tmp, 'cache') }, { userCacheDir: tmp }, runtime), MODEL_ID);
    const order: number[] = [];
    try {
      for await (const r of t.track({
        numFrames: c.numFrames, width: c.width, height: c.height,
        frameSource: (i) => path.join(GOLDEN, 'clips', c.clip, `${String(i).padStart(5, '0')}.jpg`),
        prompts: [...c.prompts].reverse().map((p) => ({ frameIndex: p.frameIndex, box: { x0: p.box[0], y0: p.box[1], x1: p.box[2], y1: p.box[3] } })),
      })) {
        order.push(r.frameIndex);
      }
    } finally {
      t.dispose();
    }
    assert.deepEqual(order, [1, 2, 3, 4, 5, 6, 7, 8, 9, 0]);
  });

  test('frames where the object score is negative (no-object path: empty masks, no-object pointer and memory)', async () => {
    const c = await readCase('negative-scores');
    assert.ok(Object.values(c.frames).some((f) => f.objectScore < 0));
    compare(c, (await runCase(c)).results);
  });

  test('hole filling on; the prompted frame\'s memory comes from its hole-filled low-res logits', async () => {
    const c = await readCase('fill-holes');
    assert.equal(c.fillHoleArea, 8);
    compare(c, (await runCase(c)).results);
  });

  test('a non-square source (176x96), resized to the model size as Pillow does', async () => {
    const c = await readCase('non-square');
    assert.notEqual(c.width, c.height);
    compare(c, (await runCase(c)).results);
  });

  test('a fixed-length memory export (zero-padded memory bank) gives the same result when nothing is capped', async () => {
    const c = await readCase('fixed-memory');
    const { results, tracker } = await runCase(c);
    compare(c, results);
    assert.deepEqual(tracker.capped, { frames: 0, memories: 0, pointers: 0 });
  });

  test('a fixed-length export caps the memory of three prompted frames, keeps the recent ones, and counts what it left out', async () => {
    // prompts on frames 0, 2 and 9, start 9: tracking back to frame 3, the official predictor attends to
    // the 3 prompted frames + 5 recent ones (4..8) = 8 memories, one more than the graph's 7 slots
    const base = await readCase('three-prompts-mid-start');
    const boxes = base.prompts.map((p) => p.box);
    const c: GoldenCase = { ...base, variant: 'fixed', prompts: [0, 2, 9].map((frameIndex, k) => ({ frameIndex, box: boxes[k] })), startFrame: 9 };
    const { results, tracker } = await runCase(c);
    assert.deepEqual(results.map((r) => r.frameIndex), [9, 8, 7, 6, 5, 4, 3, 2, 1, 0]);
    const capped = tracker.capped;
    assert.ok(capped.frames > 0 && capped.memories > 0, JSON.stringify(capped));
    // with nothing to cap (one prompt), the same fixed graph gives the official result (previous test)
  });

  test('several objects in one frame-outer run: each object gets the official predictor\'s own results, and each frame is encoded once', async () => {
    // two golden cases on the same clip, different prompts and start frames (3; 1, 5, 8 from 5)
    const cases = [await readCase('one-box'), await readCase('three-prompts-mid-start')];
    const c0 = cases[0];
    const localDir = await goldenModels(tmp, null);
    const t = await Sam2VideoTracker.open(createModelService({ ...defaultSettings().models, localDir, cacheDir: path.join(tmp, 'cache') }, { userCacheDir: tmp }, runtime), MODEL_ID);
    const results: Sam2FrameResult[][] = cases.map(() => []);
    const runs: string[] = [];
    const stop = observeGraphRuns((r) => runs.push(r.graph));
    try {
      for await (const { object, result } of t.trackObjects({
        numFrames: c0.numFrames,
        width: c0.width,
        height: c0.height,
        frameSource: (i) => path.join(GOLDEN, 'clips', c0.clip, `${String(i).padStart(5, '0')}.jpg`),
        objects: cases.map((c) => ({ prompts: c.prompts.map((p) => ({ frameIndex: p.frameIndex, box: { x0: p.box[0], y0: p.box[1], x1: p.box[2], y1: p.box[3] } })), ...(c.startFrame !== null ? { startFrame: c.startFrame } : {}) })),
        fillHoleArea: c0.fillHoleArea,
      })) {
        results[object].push(result);
      }
    } finally {
      stop();
      t.dispose();
    }
    cases.forEach((c, k) => compare(c, results[k]));
    // V frames and K = 2 objects: V vision encoder runs, not V x K
    assert.equal(runs.filter((g) => g === 'vision_encoder').length, c0.numFrames);
    assert.ok(t.peakHeldFeatures <= 1 + 16, `held ${t.peakHeldFeatures}`);
  });

  test('memory blocks sliding along the bank feed the graph the official order\'s bits: the same feeds and results as from block 0 every frame, 24 frames, two prompts, forward and backward, dynamic and fixed memory', async () => {
    // the square clip played back and forth (0..9, 8..0, 1..5); prompts on frames 5 and 19 (clip frames
    // 5 and 1, the golden boxes), start 12: forward 12..23 and backward 12..0, memories entering and
    // leaving all the way, conditioning memories among them
    const base = await readCase('three-prompts-mid-start');
    const numFrames = 24;
    const clipFrame = (i: number) => (i % 18 < 10 ? i % 18 : 18 - (i % 18));
    const box = (clip: number) => {
      const b = base.prompts.find((p) => p.frameIndex === clip)!.box;
      return { x0: b[0], y0: b[1], x1: b[2], y1: b[3] };
    };
    for (const variant of [null, 'fixed'] as const) {
      const localDir = await goldenModels(tmp, variant);
      const run = async (slide: boolean) => {
        const t = await Sam2VideoTracker.open(createModelService({ ...defaultSettings().models, localDir, cacheDir: path.join(tmp, 'cache') }, { userCacheDir: tmp }, runtime), MODEL_ID);
        (t as unknown as { _slideMemory: boolean })._slideMemory = slide;
        // the memory_attention feeds (copies: the bank is rewritten in place) and where each started
        const feeds: Array<{ memory: Buffer; pos: Buffer; offset: number }> = [];
        const lease = (t as unknown as { _leases: Record<string, { session: { run: (feeds: Record<string, { data: unknown; dims: readonly number[] }>) => unknown } }> })._leases.memory_attention;
        const real = lease.session.run.bind(lease.session);
        lease.session.run = (f) => {
          const mem = f.memory.data as Float32Array;
          const pos = f.memory_pos.data as Float32Array;
          feeds.push({ memory: Buffer.from(Float32Array.from(mem).buffer), pos: Buffer.from(Float32Array.from(pos).buffer), offset: mem.byteOffset });
          return real(f);
        };
        const results: Sam2FrameResult[] = [];
        try {
          for await (const r of t.track({
            numFrames,
            width: base.width,
            height: base.height,
            frameSource: (i) => path.join(GOLDEN, 'clips', base.clip, `${String(clipFrame(i)).padStart(5, '0')}.jpg`),
            prompts: [{ frameIndex: 5, box: box(5) }, { frameIndex: 19, box: box(1) }],
            startFrame: 12,
            fillHoleArea: base.fillHoleArea,
          })) {
            results.push(r);
          }
        } finally {
          // the session is shared (the model service caches it): unwrap it for the next tracker
          lease.session.run = real;
          t.dispose();
        }
        return { results, feeds };
      };
      const slide = await run(true);
      const fromZero = await run(false);
      const where = variant ?? 'dynamic';
      assert.deepEqual(slide.results.map((r) => r.frameIndex), fromZero.results.map((r) => r.frameIndex));
      assert.equal(slide.results.length, 12 + 13, `${where}: forward 12..23 (19 replayed), backward 12..0 (5 replayed)`);
      assert.equal(slide.feeds.length, fromZero.feeds.length);
      slide.feeds.forEach((f, k) => {
        assert.ok(f.memory.equals(fromZero.feeds[k].memory), `${where}, memory_attention call ${k}: memory, bit for bit`);
        assert.ok(f.pos.equals(fromZero.feeds[k].pos), `${where}, memory_attention call ${k}: memory_pos, bit for bit`);
      });
      assert.ok(fromZero.feeds.every((f) => f.offset === 0));
      assert.ok(new Set(slide.feeds.map((f) => f.offset)).size >= 8, `${where}: the run of blocks slid along the bank`);
      slide.results.forEach((r, k) => {
        const c = fromZero.results[k];
        assert.equal(r.objectScore, c.objectScore, `${where}, frame ${r.frameIndex}: object score`);
        assert.ok(Buffer.from(r.lowRes.logits.buffer, r.lowRes.logits.byteOffset, r.lowRes.logits.byteLength).equals(Buffer.from(c.lowRes.logits.buffer, c.lowRes.logits.byteOffset, c.lowRes.logits.byteLength)), `${where}, frame ${r.frameIndex}: low-res logits, bit for bit`);
        assert.deepEqual(r.mask, c.mask, `${where}, frame ${r.frameIndex}: mask`);
      });
    }
  });

  test('pointer_time_encoding false (SAM 2.0 export) sends pointers without temporal positions; a bad flag is a clear error', async () => {
    const c = await readCase('one-box');
    const localDir = await goldenModels(path.join(tmp, 'sam2.0-flags'), null);
    const constantsFile = path.join(localDir, MODEL_ID, 'constants.json');
    const constants = JSON.parse(await readFile(constantsFile, 'utf8')) as Record<string, unknown>;
    await writeFile(constantsFile, JSON.stringify({ ...constants, pointer_time_encoding: false, signed_pointer_distances: false }));
    const open = () => Sam2VideoTracker.open(createModelService({ ...defaultSettings().models, localDir, cacheDir: path.join(tmp, 'cache') }, { userCacheDir: tmp }, runtime), MODEL_ID);
    const t = await open();
    const scores: number[] = [];
    try {
      assert.equal(t.geometry.pointerTimeEncoding, false);
      assert.equal(t.geometry.signedPointerDistances, false);
      let tposCalls = 0;
      const lease = (t as unknown as { _leases: Record<string, { session: { run: (...a: unknown[]) => unknown } }> })._leases.pointer_tpos;
      const run = lease.session.run.bind(lease.session);
      lease.session.run = (...a: unknown[]) => {
        tposCalls++;
        return run(...a);
      };
      for await (const r of t.track({
        numFrames: c.numFrames, width: c.width, height: c.height,
        frameSource: (i) => path.join(GOLDEN, 'clips', c.clip, `${String(i).padStart(5, '0')}.jpg`),
        prompts: c.prompts.map((p) => ({ frameIndex: p.frameIndex, box: { x0: p.box[0], y0: p.box[1], x1: p.box[2], y1: p.box[3] } })),
        fillHoleArea: 0,
      })) {
        scores.push(r.objectScore);
        if (!r.conditioning) {
          // without pointer positions the tracked frames leave the SAM 2.1 result
          assert.notDeepEqual(Array.from(r.lowRes.logits), Array.from(goldenLowRes(c.frames[String(r.frameIndex)])));
        }
      }
      lease.session.run = run;
      assert.equal(tposCalls, 0);
    } finally {
      t.dispose();
    }
    assert.equal(scores.length, c.numFrames);
    await writeFile(constantsFile, JSON.stringify({ ...constants, pointer_time_encoding: 'yes' }));
    await assert.rejects(open(), /constants\.json: "pointer_time_encoding" must be true or false/);
  });
});


suite('models/sam2: frame pre-processing', () => {
  test('grey and grey+alpha frames read as RGB (sharp\'s removeAlpha + sRGB always gives 3 channels)', async () => {
    const tracker = Object.create(Sam2VideoTracker.prototype) as Sam2VideoTracker;
    Object.defineProperty(tracker, 'geometry', { value: { imageSize: { width: 16, height: 16 } } });
    const w = 12;
    const h = 10;
    const grey = Buffer.alloc(w * h);
    for (let p = 0; p < grey.length; p++) {
      grey[p] = (p * 37) % 256;
    }
    const rgb = Buffer.alloc(w * h * 3);
    const greyAlpha = Buffer.alloc(w * h * 2);
    for (let p = 0; p < grey.length; p++) {
      rgb.fill(grey[p], p * 3, p * 3 + 3);
      greyAlpha[p * 2] = grey[p];
      greyAlpha[p * 2 + 1] = 128;
    }
    const png = (data: Buffer, channels: 1 | 2 | 3): Promise<Buffer> => {
      const img = sharp(data, { raw: { width: w, height: h, channels } });
      return (channels < 3 ? img.toColourspace('b-w') : img).png().toBuffer();
    };
    const files = { grey: await png(grey, 1), greyAlpha: await png(greyAlpha, 2), rgb: await png(rgb, 3) };
    assert.equal((await sharp(files.grey).metadata()).channels, 1);
    assert.equal((await sharp(files.greyAlpha).metadata()).channels, 2);
    const want = Array.from(await tracker.preprocess(files.rgb));
    assert.deepEqual(Array.from(await tracker.preprocess(files.grey)), want);
    assert.deepEqual(Array.from(await tracker.preprocess(files.greyAlpha)), want);
  });
});
