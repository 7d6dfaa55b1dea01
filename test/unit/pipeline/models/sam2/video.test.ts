import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import type { InferenceSession } from 'onnxruntime-node';
import os from 'node:os';
import path from 'node:path';
import { framePath } from '../../../../../src/pipeline/domain';
import { PipelineError } from '../../../../../src/pipeline/errors';
import { encodeRle } from '../../../../../src/pipeline/masks/rle';
import { defaultSettings } from '../../../../../src/pipeline/settings';
import { observeGraphRuns, SessionRuntime } from '../../../../../src/pipeline/models/runtime';
import { createModelService } from '../../../../../src/pipeline/models/service';
import { fillHoles, resizeBilinear, resizeLogitsToMask } from '../../../../../src/pipeline/models/sam2/maskOps';
import { selectMemory } from '../../../../../src/pipeline/models/sam2/memory';
import type { FramePrepPool } from '../../../../../src/pipeline/models/sam2/framePrep';
import { findTemporalTable, Sam2VideoTracker, type Sam2FrameResult } from '../../../../../src/pipeline/models/sam2/video';
import { featuresToTokens } from '../../../../../src/pipeline/models/sam2/tokens';
import { writeModelFixtures } from '../../../../tooling/onnxFixtures';
import { maskBoxIou, writeMovingSquare, type SquareClip } from '../../../../tooling/movingSquare';

/** SAM 2.1's num_maskmem: the memory rule of src/pipeline/models/sam2/memory.ts (the fixture graphs use it too). */
const NUM_MASKMEM = 7;
/**
 * Frame memories a tracker holds at most with one prompted frame: that conditioning frame, the
 * num_maskmem - 1 = 6 recent frames the next frame attends to, and the num_maskmem = 7 frames from the
 * start that the backward pass will attend to: 1 + 6 + 7 = 14.
 */
const HELD_BOUND = 1 + (NUM_MASKMEM - 1) + NUM_MASKMEM;

suite('models/sam2: video host loop on the five fixture graphs', () => {
  let dir: string;
  let clip: SquareClip;
  let runtime: SessionRuntime;
  const svc = () => createModelService({ ...defaultSettings().models, localDir: path.join(dir, 'models'), cacheDir: path.join(dir, 'cache') }, { userCacheDir: dir }, runtime);

  suiteSetup(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'alref-sam2-'));
    await writeModelFixtures(path.join(dir, 'models'), { only: ['sam2'] });
    clip = await writeMovingSquare(path.join(dir, 'frames'));
    runtime = new SessionRuntime({ executionProvider: 'cpu', threads: 1 });
  });
  suiteTeardown(async () => {
    await runtime.dispose();
    await rm(dir, { recursive: true, force: true });
  });

  test('geometry is read from the graphs and constants.json', async () => {
    const t = await Sam2VideoTracker.open(svc(), 'sam2.1-hiera-tiny-video');
    try {
      assert.deepEqual(t.geometry.imageSize, { width: 256, height: 256 });
      assert.equal(t.geometry.numMaskmem, 7);
      assert.equal(t.geometry.memoryLength, 7 * 256 + 16 * 4);
      assert.equal(t.geometry.tposTable[0].length, 4);
      assert.equal(t.geometry.binarizeType, 'float32');
    } finally {
      t.dispose();
    }
  });

  test('a box on the middle frame tracks the moving square forward then backward, ignoring the distractor', async () => {
    const t = await Sam2VideoTracker.open(svc(), 'sam2.1-hiera-tiny-video');
    const results: Sam2FrameResult[] = [];
    try {
      for await (const r of t.track({
        numFrames: clip.frames, width: clip.width, height: clip.height,
        frameSource: (i) => framePath(clip.dir, i),
        prompts: [{ frameIndex: 10, box: clip.boxes[10] }],
      })) {
        results.push(r);
        assert.ok(t.heldMemories <= HELD_BOUND, `held ${t.heldMemories}`);
      }
    } finally {
      t.dispose();
    }
    assert.deepEqual(results.map((r) => r.frameIndex), [...Array.from({ length: 10 }, (_, k) => 10 + k), ...Array.from({ length: 10 }, (_, k) => 9 - k)]);
    assert.equal(results[0].conditioning, true);
    for (const r of results) {
      assert.equal(r.mask.length, clip.width * clip.height);
      const iou = maskBoxIou(r.mask, clip.width, clip.boxes[r.frameIndex]);
      assert.ok(iou > 0.7, `frame ${r.frameIndex}: IoU ${iou.toFixed(3)}`);
      assert.equal(maskBoxIou(r.mask, clip.width, clip.distractor!) > 0, false, `frame ${r.frameIndex} leaked onto the distractor`);
    }
  });

  test('the vision encoder returns feats2_no_mem only for prompted frames: the others do not have it copied out', async () => {
    const t = await Sam2VideoTracker.open(svc(), 'sam2.1-hiera-tiny-video');
    // the real session, its calls recorded: which outputs each encoder run asked for
    const session = (t as unknown as { _leases: Record<string, { session: InferenceSession }> })._leases.vision_encoder.session;
    const run = session.run.bind(session);
    const fetched: Array<readonly string[] | undefined> = [];
    session.run = ((feeds: InferenceSession.FeedsType, fetches?: InferenceSession.FetchesType) => {
      fetched.push(Array.isArray(fetches) ? [...(fetches as string[])] : undefined);
      return run(feeds, fetches as InferenceSession.FetchesType);
    }) as typeof session.run;
    const encoded: number[] = [];
    const frames = new Set<number>();
    try {
      for await (const r of t.track({
        numFrames: clip.frames, width: clip.width, height: clip.height,
        frameSource: (i) => (encoded.push(i), framePath(clip.dir, i)),
        prompts: [{ frameIndex: 3, box: clip.boxes[3] }, { frameIndex: 9, box: clip.boxes[9] }],
        prefetch: 0,
      })) {
        frames.add(r.frameIndex);
      }
    } finally {
      t.dispose();
    }
    assert.equal(frames.size, clip.frames);
    assert.equal(fetched.length, encoded.length, 'one frame read per encoder run');
    const all = session.outputNames;
    assert.ok(all.includes('feats2_no_mem'));
    encoded.forEach((f, k) => {
      if (f === 3 || f === 9) {
        assert.equal(fetched[k], undefined, `frame ${f} (prompted): every output`);
      } else {
        assert.deepEqual(fetched[k], all.filter((n) => n !== 'feats2_no_mem'), `frame ${f}`);
      }
    });
  });

  test('several conditioning frames; the prompted frames give exactly the box region', async () => {
    const t = await Sam2VideoTracker.open(svc(), 'sam2.1-hiera-tiny-video');
    const got = new Map<number, Sam2FrameResult>();
    try {
      for await (const r of t.track({
        numFrames: clip.frames, width: clip.width, height: clip.height, frameSource: (i) => framePath(clip.dir, i),
        prompts: [{ frameIndex: 3, box: clip.boxes[3] }, { frameIndex: 15, box: { x0: 20, y0: 10, x1: 60, y1: 50 } }],
        startFrame: 15,
      })) {
        got.set(r.frameIndex, r);
      }
    } finally {
      t.dispose();
    }
    assert.equal(got.size, clip.frames);
    assert.ok(got.get(3)!.conditioning && got.get(15)!.conditioning);
    // the decoder returns the prompted box itself on prompted frames (fixture semantics)
    assert.ok(maskBoxIou(got.get(15)!.mask, clip.width, { x0: 20, y0: 10, x1: 60, y1: 50 }) > 0.9);
    assert.ok(maskBoxIou(got.get(2)!.mask, clip.width, clip.boxes[2]) > 0.7);
  });

  test('bounded memory over a long video: 13 frame memories held at most (the prompted start frame is one of the 7 kept for the backward pass)', async () => {
    const t = await Sam2VideoTracker.open(svc(), 'sam2.1-hiera-tiny-video');
    let maxHeld = 0;
    let n = 0;
    try {
      // the same frame over and over: the square stands still, tracking must hold it for 90 frames
      for await (const r of t.track({ numFrames: 90, width: clip.width, height: clip.height, frameSource: () => framePath(clip.dir, 5), prompts: [{ frameIndex: 45, box: clip.boxes[5] }] })) {
        maxHeld = Math.max(maxHeld, t.heldMemories);
        assert.ok(maskBoxIou(r.mask, clip.width, clip.boxes[5]) > 0.7, `frame ${r.frameIndex}`);
        n++;
      }
    } finally {
      t.dispose();
    }
    assert.equal(n, 90);
    // the memory encoder's position is the same every frame: the memories hold one array, not a copy each
    const held = [...(t as unknown as { _runs: Array<{ state: { memory: Map<number, { pos: Float32Array }> } }> })._runs[0].state.memory.values()];
    assert.ok(held.length > 1);
    assert.equal(new Set(held.map((m) => m.pos)).size, 1);
    // Forward, past frame 45 + 12: frames 45..51 (kept for the backward pass, 45 the prompted one) and
    // the 6 recent frames i-5..i. One more recent frame, or none freed, breaks this.
    assert.equal(maxHeld, NUM_MASKMEM + (NUM_MASKMEM - 1));
    assert.ok(maxHeld <= HELD_BOUND);
  });

  test('several objects together, frames outside: each object\'s results equal tracking it alone, and V frames take V vision-encoder runs, not V x K', async () => {
    const t = await Sam2VideoTracker.open(svc(), 'sam2.1-hiera-tiny-video');
    const V = clip.frames;
    // different prompts and start frames: prompted frames one object tracks, frames between the starts
    const objects = [
      { prompts: [{ frameIndex: 4, box: clip.boxes[4] }] },
      { prompts: [{ frameIndex: 2, box: clip.boxes[2] }, { frameIndex: 12, box: clip.boxes[12] }], startFrame: 12 },
      { prompts: [{ frameIndex: 9, box: { x0: 20, y0: 10, x1: 60, y1: 50 } }], startFrame: 7 },
    ];
    const video = { numFrames: V, width: clip.width, height: clip.height, frameSource: (i: number) => framePath(clip.dir, i) };
    const encoderRuns = async (fn: () => Promise<void>): Promise<number> => {
      let n = 0;
      const stop = observeGraphRuns((r) => {
        n += r.graph === 'vision_encoder' && r.modelId === 'sam2.1-hiera-tiny-video' ? 1 : 0;
      });
      try {
        await fn();
      } finally {
        stop();
      }
      return n;
    };
    const flat = (r: Sam2FrameResult) => {
      // the RLE comes with the mask, whichever thread made them
      assert.deepEqual(r.rle, encodeRle(r.mask, clip.width, clip.height), `frame ${r.frameIndex}: RLE of the mask`);
      return { frameIndex: r.frameIndex, conditioning: r.conditioning, objectScore: r.objectScore, logits: Array.from(r.lowRes.logits), mask: Array.from(r.mask), rle: r.rle };
    };
    try {
      const alone: Array<ReturnType<typeof flat>[]> = [];
      const aloneRuns = await encoderRuns(async () => {
        for (const obj of objects) {
          const got: Array<ReturnType<typeof flat>> = [];
          for await (const r of t.track({ ...video, ...obj })) {
            got.push(flat(r));
          }
          alone.push(got);
        }
      });
      // frames prepared in this thread, then ahead in one worker thread (1 to 3 in flight), then in
      // two and three worker threads (frames come back out of order, buffers are reused): same results
      const combos: Array<[number | undefined, number, number]> = [[undefined, 0, 1], [0, 0, 1], [undefined, 2, 1], [0, 1, 1], [undefined, 3, 1], [undefined, 3, 2], [0, 3, 3]];
      for (const [maxHeldFeatures, prefetch, prepThreads] of combos) {
        const together: Array<ReturnType<typeof flat>[]> = objects.map(() => []);
        const runs = await encoderRuns(async () => {
          for await (const { object, result } of t.trackObjects({ ...video, objects, maxHeldFeatures, prefetch, prepThreads })) {
            together[object].push(flat(result));
          }
        });
        if (prefetch > 0) {
          assert.equal((t as unknown as { _prep: FramePrepPool })._prep.size, Math.min(prefetch, prepThreads));
        }
        objects.forEach((_, k) => assert.deepEqual(together[k], alone[k], `object ${k}, maxHeldFeatures ${maxHeldFeatures}, prefetch ${prefetch}, threads ${prepThreads}`));
        if (maxHeldFeatures === undefined) {
          assert.equal(runs, V, 'one vision-encoder run per frame');
          assert.ok(t.peakHeldFeatures > 1 && t.peakHeldFeatures <= 17, `held ${t.peakHeldFeatures}`);
        } else {
          // nothing kept between visits: frames needed again are encoded again, with the same results
          assert.ok(runs > V, `${runs} runs`);
          assert.equal(t.peakHeldFeatures, 1);
        }
      }
      assert.ok(aloneRuns >= 3 * V - 3, `${aloneRuns} runs one object at a time`);
    } finally {
      t.dispose();
    }
  });

  test('frames prepared ahead in the worker: an unreadable frame fails the run when it is reached, naming it; a worker that dies leaves the work to this thread', async () => {
    const t = await Sam2VideoTracker.open(svc(), 'sam2.1-hiera-tiny-video');
    const bad = path.join(dir, 'no-such-frame.jpg');
    const video = { numFrames: clip.frames, width: clip.width, height: clip.height };
    try {
      // frame 6 is missing: the frames before it come out, then the error names the file
      const seen: number[] = [];
      await assert.rejects(
        (async () => {
          for await (const r of t.track({ ...video, frameSource: (i: number) => (i === 6 ? bad : framePath(clip.dir, i)), prompts: [{ frameIndex: 2, box: clip.boxes[2] }], prefetch: 2 })) {
            seen.push(r.frameIndex);
          }
        })(),
        (err: unknown) => err instanceof PipelineError && err.file === bad && err.message.includes(bad),
      );
      assert.deepEqual(seen, [2, 3, 4, 5]);
      // a frame source that throws for frame 6 fails the run at frame 6 too, not when 6 is asked ahead
      seen.length = 0;
      await assert.rejects(
        (async () => {
          const frameSource = (i: number): string => {
            if (i === 6) {
              throw new Error('frame 6 is gone');
            }
            return framePath(clip.dir, i);
          };
          for await (const r of t.track({ ...video, frameSource, prompts: [{ frameIndex: 2, box: clip.boxes[2] }], prefetch: 2 })) {
            seen.push(r.frameIndex);
          }
        })(),
        /frame 6 is gone/,
      );
      assert.deepEqual(seen, [2, 3, 4, 5]);
      // the worker stops in the middle of a run: the remaining frames are prepared here, same results
      const want: number[][] = [];
      for await (const r of t.track({ ...video, frameSource: (i: number) => framePath(clip.dir, i), prompts: [{ frameIndex: 2, box: clip.boxes[2] }], prefetch: 0 })) {
        want.push(Array.from(r.lowRes.logits));
      }
      const got: number[][] = [];
      for await (const r of t.track({ ...video, frameSource: (i: number) => framePath(clip.dir, i), prompts: [{ frameIndex: 2, box: clip.boxes[2] }], prefetch: 2 })) {
        got.push(Array.from(r.lowRes.logits));
        if (got.length === 3) {
          await (t as unknown as { _prep: { dispose(): Promise<void> } })._prep.dispose();
        }
      }
      assert.deepEqual(got, want);
      // the threads stop while a request is with them: a frame encoded ahead whose features one of
      // them lays out as tokens (that frame is encoded again here), or a tracked frame's mask one of
      // them finishes (this thread finishes it): the same results either way
      for (const method of ['transpose', 'finishMask'] as const) {
        const got: number[][] = [];
        let stopped = 0;
        for await (const r of t.track({ ...video, frameSource: (i: number) => framePath(clip.dir, i), prompts: [{ frameIndex: 2, box: clip.boxes[2] }], prefetch: 2, prepThreads: 2 })) {
          got.push(Array.from(r.lowRes.logits));
          assert.deepEqual(r.rle, encodeRle(r.mask, clip.width, clip.height));
          if (got.length === 3) {
            // the pool's next such request stops every thread as it is sent
            const pool = (t as unknown as { _prep: FramePrepPool })._prep;
            const methods = pool as unknown as Record<typeof method, (req: never) => Promise<unknown>>;
            const real = methods[method].bind(pool);
            methods[method] = (req: never) => {
              stopped++;
              void pool.dispose();
              return real(req);
            };
          }
        }
        assert.equal(stopped, 1, `${method}: one request after the threads were told to stop`);
        assert.deepEqual(got, want, method);
      }
    } finally {
      t.dispose();
    }
  });

  test('frames prepared in this thread at the same time do not share the resize memory: each encoder run reads its own frame', async () => {
    const t = await Sam2VideoTracker.open(svc(), 'sam2.1-hiera-tiny-video');
    // what a frame encoded ahead (its worker stopped) and the frame being visited do: both prepared here
    const encode = (t as unknown as { _encode(o: unknown, frame: number): Promise<Record<string, { data: Float32Array }>> })._encode.bind(t);
    const o = { numFrames: clip.frames, width: clip.width, height: clip.height, frameSource: (i: number) => framePath(clip.dir, i) };
    const frames = [1, 4, 7, 10, 13, 16];
    try {
      const alone: Float32Array[] = [];
      for (const f of frames) {
        alone.push(Float32Array.from((await encode(o, f)).feats2.data));
      }
      const together = await Promise.all(frames.map((f) => encode(o, f)));
      frames.forEach((f, k) => assert.deepEqual(together[k].feats2.data, alone[k], `frame ${f}`));
    } finally {
      t.dispose();
    }
  });

  test('a run without prefetch uses none of the worker threads an earlier run started', async () => {
    const t = await Sam2VideoTracker.open(svc(), 'sam2.1-hiera-tiny-video');
    const video = { numFrames: 8, width: clip.width, height: clip.height, frameSource: (i: number) => framePath(clip.dir, i), prompts: [{ frameIndex: 2, box: clip.boxes[2] }] };
    const logits = async (prefetch: number): Promise<number[][]> => {
      const got: number[][] = [];
      for await (const r of t.track({ ...video, prefetch })) {
        got.push(Array.from(r.lowRes.logits));
      }
      return got;
    };
    try {
      const withWorkers = await logits(2);
      const pool = (t as unknown as { _pool: FramePrepPool })._pool;
      assert.ok(pool?.alive, 'the threads stay for later runs');
      let calls = 0;
      const methods = pool as unknown as Record<'prepare' | 'transpose' | 'finishMask' | 'recycle', (req: never) => unknown>;
      for (const m of ['prepare', 'transpose', 'finishMask', 'recycle'] as const) {
        const real = methods[m].bind(pool);
        methods[m] = (req: never) => {
          calls++;
          return real(req);
        };
      }
      assert.deepEqual(await logits(0), withWorkers);
      assert.equal(calls, 0, 'prefetch 0: everything in this thread');
      assert.deepEqual(await logits(2), withWorkers);
      assert.ok(calls > 0, 'prefetch 2 again: the same threads');
    } finally {
      t.dispose();
    }
  });

  test('several objects: cancel is checked between frames and objects; a bad prompt of any object is refused before any work', async () => {
    const t = await Sam2VideoTracker.open(svc(), 'sam2.1-hiera-tiny-video');
    const video = { numFrames: clip.frames, width: clip.width, height: clip.height, frameSource: (i: number) => framePath(clip.dir, i) };
    try {
      const ac = new AbortController();
      let n = 0;
      await assert.rejects(async () => {
        for await (const _ of t.trackObjects({ ...video, objects: [{ prompts: [{ frameIndex: 0, box: clip.boxes[0] }] }, { prompts: [{ frameIndex: 0, box: clip.boxes[0] }] }], signal: ac.signal })) {
          if (++n === 3) {
            ac.abort();
          }
        }
      }, (err: unknown) => err instanceof PipelineError && err.kind === 'cancelled');
      assert.equal(n, 3);
      let runs = 0;
      const stop = observeGraphRuns(() => runs++);
      try {
        await assert.rejects(async () => {
          for await (const _ of t.trackObjects({ ...video, objects: [{ prompts: [{ frameIndex: 0, box: clip.boxes[0] }] }, { prompts: [] }] })) {
            // nothing
          }
        }, /SAM 2 needs at least one prompt box/);
      } finally {
        stop();
      }
      assert.equal(runs, 0);
    } finally {
      t.dispose();
    }
  });

  test('cancel between frames; a prompt past the end of the video is refused', async () => {
    const t = await Sam2VideoTracker.open(svc(), 'sam2.1-hiera-tiny-video');
    try {
      const ac = new AbortController();
      let n = 0;
      await assert.rejects(async () => {
        for await (const _ of t.track({ numFrames: clip.frames, width: clip.width, height: clip.height, frameSource: (i) => framePath(clip.dir, i), prompts: [{ frameIndex: 0, box: clip.boxes[0] }], signal: ac.signal })) {
          if (++n === 3) {
            ac.abort();
          }
        }
      }, (err: unknown) => err instanceof PipelineError && err.kind === 'cancelled');
      assert.equal(n, 3);
      await assert.rejects(async () => {
        for await (const _ of t.track({ numFrames: clip.frames, width: clip.width, height: clip.height, frameSource: (i) => framePath(clip.dir, i), prompts: [{ frameIndex: 20, box: clip.boxes[0] }] })) {
          // nothing
        }
      }, /Prompt frame 20 is outside the video \(frames 0\.\.19\)/);
    } finally {
      t.dispose();
    }
  });

  test('memory bank: the official order (positions by temporal row, padding zero, pointers last), fed from a run of blocks that slides along so that a recent memory is written once and positions stay; the same feeds as from block 0', async () => {
    const range = (a: number, b: number) => Array.from({ length: b - a + 1 }, (_, k) => a + k);
    // forward 8..28, then backward 28..2: memories enter and leave every frame, the conditioning
    // memories (0 and 30) swap on the fixed graph, and the memory count changes near frame 30; then
    // forward again from 1, with only the two conditioning memories at first (padding blocks zeroed)
    const steps: Array<[number, boolean]> = [
      ...range(8, 28).map((i): [number, boolean] => [i, false]),
      ...range(2, 28).reverse().map((i): [number, boolean] => [i, true]),
      ...range(1, 4).map((i): [number, boolean] => [i, false]),
    ];
    const SENTINEL = -7.5;
    for (const fixedMemory of [true, false]) {
      const localDir = path.join(dir, `models-slide-${fixedMemory}`);
      await writeModelFixtures(localDir, { only: ['sam2'], sam2: { fixedMemory } });
      const t = await Sam2VideoTracker.open(createModelService({ ...defaultSettings().models, localDir, cacheDir: path.join(dir, 'cache') }, { userCacheDir: dir }, runtime), 'sam2.1-hiera-tiny-video');
      try {
        const g = t.geometry;
        assert.equal(g.memoryLength === null, !fixedMemory);
        const D = g.tposTable[0].length;
        const hw = (g.imageSize.width / 16) * (g.imageSize.height / 16);
        const bs = hw * D;
        const memPos = Float32Array.from({ length: bs }, (_, k) => Math.sin(k));
        // frames 5, 10, ... have a position of their own (an export whose position depends on the content)
        const ownPos = Float32Array.from({ length: bs }, (_, k) => Math.cos(k));
        const posOf = (f: number) => (f % 5 === 0 && f > 0 ? ownPos : memPos);
        const posOfRow = (f: number) => g.tposTable.map((tpos) => Float32Array.from(posOf(f), (v, k) => v + tpos[k % D]));
        const newState = () => ({
          cond: new Set([0, 30]),
          tracked: new Set(range(1, 39).filter((f) => f !== 30)),
          // memory f's tokens all hold f + 0.25; of the memories with the common position, half hold copies
          memory: new Map(range(0, 39).map((f) => [f, { tokens: new Float32Array(bs).fill(f + 0.25), pos: f % 2 ? posOf(f) : Float32Array.from(posOf(f)) }] as const)),
          pointers: new Map(range(0, 39).map((f) => [f, new Float32Array(4 * D).fill(-(f + 0.5))] as const)),
        });
        type Bank = { blocks: Array<string | undefined>; total: number; pointerRows: Buffer; mem: Float32Array; pos?: Float32Array };
        /** Per spatial block "frame@row" (undefined: a zero block); the pointer rows' bytes. */
        const decode = (memory: { data: unknown; dims: readonly number[] }, memoryPos: { data: unknown }, spatialBlocks: number): Bank => {
          const mem = memory.data as Float32Array;
          const pos = memoryPos.data as Float32Array;
          const total = memory.dims[0];
          const blocks: Array<string | undefined> = [];
          for (let b = 0; b < spatialBlocks; b++) {
            const tok = mem.subarray(b * bs, (b + 1) * bs);
            const p = pos.subarray(b * bs, (b + 1) * bs);
            if (tok.every((v) => v === 0) && p.every((v) => v === 0)) {
              blocks.push(undefined);
              continue;
            }
            const f = tok[1] - 0.25;
            assert.ok(tok.subarray(1).every((v) => v === f + 0.25), `block ${b}: the tokens of one memory`);
            const row = posOfRow(f).findIndex((want) => Buffer.from(want.buffer).equals(Buffer.from(p.buffer, p.byteOffset, p.byteLength)));
            assert.ok(row >= 0, `block ${b} (frame ${f}): position = memory position + a temporal row, bit for bit`);
            blocks.push(`${f}@${row}`);
          }
          return { blocks, total, pointerRows: Buffer.from(mem.buffer, mem.byteOffset + spatialBlocks * bs * 4, (total - spatialBlocks * hw) * D * 4), mem };
        };
        const run = async (slide: boolean): Promise<Bank[]> => {
          (t as unknown as { _slideMemory: boolean })._slideMemory = slide;
          const state = newState();
          const banks: Bank[] = [];
          for (const [i, reverse] of steps) {
            const want = selectMemory({ frameIndex: i, reverse, numFrames: 40, condFrames: [0, 30], tracked: state.tracked, memoryCapacity: fixedMemory ? 7 : undefined, pointerCapacity: fixedMemory ? 16 : undefined });
            const { memory, memoryPos } = await t.assembleMemory(state, i, reverse, 40, hw);
            const spatialBlocks = fixedMemory ? g.numMaskmem : want.memories.length;
            assert.equal(memory.dims[0], fixedMemory ? g.memoryLength : want.memories.length * hw + want.pointers.length * 4, `frame ${i}: length`);
            const bank = decode(memory, memoryPos, spatialBlocks);
            // the selected memories in the official order, with their temporal rows; zeros after them
            assert.deepEqual(bank.blocks.slice(0, want.memories.length), want.memories.map((m) => `${m.frameIndex}@${m.tposRow}`), `frame ${i}${reverse ? ' (reverse)' : ''}`);
            assert.ok(bank.blocks.slice(want.memories.length).every((x) => x === undefined), `frame ${i}: memories first, padding after`);
            // every selected memory with the common position holds the one shared array now
            assert.equal(new Set(want.memories.filter((m) => posOf(m.frameIndex) === memPos).map((m) => state.memory.get(m.frameIndex)!.pos)).size, 1);
            banks.push({ ...bank, mem: Float32Array.from(memory.data as Float32Array), pos: Float32Array.from(memoryPos.data as Float32Array) });
          }
          return banks;
        };
        const fromZero = await run(false);
        const sliding = await run(true);
        steps.forEach(([i, reverse], k) => {
          const where = `frame ${i}${reverse ? ' (reverse)' : ''}`;
          assert.ok(Buffer.from(sliding[k].mem.buffer).equals(Buffer.from(fromZero[k].mem.buffer)), `${where}: the same memory feed, bit for bit`);
          assert.ok(Buffer.from(sliding[k].pos!.buffer).equals(Buffer.from(fromZero[k].pos!.buffer)), `${where}: the same memory_pos feed, bit for bit`);
        });
        {
          // sliding again, step by step: a sentinel planted in every block of the buffers (tokens and
          // positions; each block's first value, put back before the bank is read) shows what a step wrote
          (t as unknown as { _slideMemory: boolean })._slideMemory = true;
          const state = newState();
          let prev: { frames: Array<string | undefined>; blocks: Array<string | undefined>; offset: number } | undefined;
          let rowsKept = 0;
          let planted: Array<{ all: Float32Array; saved: Float32Array }> = [];
          const starts = new Set<number>();
          let steady = 0;
          for (const [i, reverse] of steps) {
            const want = selectMemory({ frameIndex: i, reverse, numFrames: 40, condFrames: [0, 30], tracked: state.tracked, memoryCapacity: fixedMemory ? 7 : undefined, pointerCapacity: fixedMemory ? 16 : undefined });
            const { memory, memoryPos } = await t.assembleMemory(state, i, reverse, 40, hw);
            const view = memory.data as Float32Array;
            const offset = view.byteOffset / 4 / bs;
            starts.add(offset);
            // which blocks were written (sentinel gone); the others get their first value back
            const written = planted.map(({ all, saved }) =>
              Array.from(saved, (v, b) => {
                if (all[b * bs] === SENTINEL) {
                  all[b * bs] = v;
                  return false;
                }
                return true;
              }),
            );
            const spatialBlocks = fixedMemory ? g.numMaskmem : want.memories.length;
            const blocks = decode(memory, memoryPos, spatialBlocks).blocks;
            const frames = blocks.map((x) => x?.split('@')[0]);
            if (prev && written.length === 2) {
              const [tokens, positions] = written;
              frames.forEach((f, k) => {
                const at = prev!.frames.indexOf(f);
                if (f !== undefined && at >= 0 && prev!.offset + at === offset + k) {
                  assert.ok(!tokens[offset + k], `frame ${i}: memory ${f} stayed on block ${offset + k}: not written again`);
                }
              });
              // the recent memories moved down one place and the run one block along: the conditioning
              // blocks before them and the memory that entered are written, no position is
              if (offset === prev.offset + 1 && frames.length === prev.frames.length && frames.every((f) => f !== undefined)) {
                steady++;
                const n = frames.filter((_, k) => tokens[offset + k]).length;
                const conds = want.memories.filter((m) => state.cond.has(m.frameIndex)).length;
                // (fewer where a block still holds that memory from an earlier pass)
                assert.ok(n <= conds + 1, `frame ${i}${reverse ? ' (reverse)' : ''}: ${n} blocks of memory tokens written (${conds} conditioning)`);
                // (but where the position there changes: a memory with a position of its own arrives or
                // leaves, or the rows shift past a conditioning frame's empty recent slot)
                const key = (x?: string) => (x === undefined ? 'zero' : `${posOf(Number(x.split('@')[0])) === memPos ? 'shared' : x.split('@')[0]}@${x.split('@')[1]}`);
                assert.deepEqual(blocks.filter((x, k) => positions[k] && key(x) === key(prev!.blocks[k])), [], `frame ${i}: no position written where it stays`);
                rowsKept += blocks.filter((x, k) => x !== undefined && key(x) === key(prev!.blocks[k])).length;
              }
            }
            planted = [new Float32Array(view.buffer), new Float32Array((memoryPos.data as Float32Array).buffer)].map((all) => {
              const saved = Float32Array.from({ length: Math.floor(all.length / bs) }, (_, b) => all[b * bs]);
              saved.forEach((_, b) => (all[b * bs] = SENTINEL));
              return { all, saved };
            });
            prev = { frames, blocks, offset };
          }
          assert.ok(steady >= 20, `${steady} frames slid in the steady state`);
          assert.ok(rowsKept >= 40, `${rowsKept} positions left in place on them`);
          assert.ok(starts.size >= 8, `the run started on blocks ${[...starts].join(', ')}`);
        }
      } finally {
        t.dispose();
      }
    }
  });

  test('hole filling: components of at most 8 px become foreground, larger ones stay', () => {
    const w = 10;
    const h = 10;
    const l = new Float32Array(w * h).fill(5);
    for (const [x, y] of [[2, 2], [3, 2], [2, 3]]) {
      l[y * w + x] = -1;
    }
    for (let y = 6; y < 9; y++) {
      for (let x = 6; x < 9; x++) {
        l[y * w + x] = -1;
      }
    }
    fillHoles(l, w, h, 8);
    assert.equal(l[2 * w + 2], Math.fround(0.1));
    assert.equal(l[7 * w + 7], -1);
  });

  test('bilinear resize keeps the half-pixel geometry: a 2x upscale of a left-half mask', () => {
    const src = Float32Array.from([10, -10, 10, -10]);
    const m = resizeLogitsToMask(src, 2, 2, 4, 2);
    assert.deepEqual([...m], [1, 1, 0, 0, 1, 1, 0, 0]);
  });

  test('the mask is the bilinear logits > 0, background rows skipped included (NaN, -0, all-negative rows)', () => {
    const w = 9;
    const h = 7;
    const src = new Float32Array(w * h).fill(-3);
    src[3 * w + 4] = 2.5;
    src[3 * w + 5] = 1e-30;
    src[0] = NaN;
    src[6 * w + 8] = -0;
    for (const [dw, dh] of [[31, 23], [5, 4], [9, 7]]) {
      const want = [...resizeBilinear(src, w, h, dw, dh)].map((v) => (v > 0 ? 1 : 0));
      assert.deepEqual([...resizeLogitsToMask(src, w, h, dw, dh)], want, `${dw}x${dh}`);
      if (dw > w) {
        assert.ok(want.some((v) => v === 1) && want.some((v) => v === 0), 'the enlarged mask has both classes');
      }
    }
  });

  test('features to tokens: [C, h*w] channel-major becomes [h*w, C], every bit kept', () => {
    const c = 3;
    const hw = 4;
    const f = Float32Array.from({ length: c * hw }, (_, k) => k);
    f[5] = NaN;
    f[6] = -0;
    const t = featuresToTokens(f, c, hw);
    for (let ch = 0; ch < c; ch++) {
      for (let p = 0; p < hw; p++) {
        assert.ok(Object.is(t[p * c + ch], f[ch * hw + p]), `token ${p} channel ${ch}`);
      }
    }
  });

  test('features to tokens: the 8-channel panel transpose equals the naive one bit for bit, for any C and h*w, into a reused buffer', () => {
    const naive = (f: Float32Array, c: number, hw: number): Uint32Array => {
      const src = new Uint32Array(f.buffer, f.byteOffset, c * hw);
      const out = new Uint32Array(c * hw);
      for (let ch = 0; ch < c; ch++) {
        for (let p = 0; p < hw; p++) {
          out[p * c + ch] = src[ch * hw + p];
        }
      }
      return out;
    };
    // random 32-bit patterns: NaN payloads, -0, denormals and infinities included
    let seed = 12345;
    const next = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0);
    // C below, at and above multiples of 8; h*w odd, prime, square
    const shapes: Array<[number, number]> = [[1, 1], [1, 7], [3, 4], [7, 9], [8, 1], [8, 64], [9, 13], [15, 31], [16, 16], [17, 33], [24, 5], [33, 97], [256, 64]];
    const reused = new Float32Array(300 * 100).fill(-1);
    for (const [c, hw] of shapes) {
      // a view into a larger buffer: the transpose must honour byteOffset
      const backing = new Uint32Array(c * hw + 3);
      for (let k = 0; k < backing.length; k++) {
        backing[k] = next();
      }
      const f = new Float32Array(backing.buffer, 3 * 4, c * hw);
      const want = Buffer.from(naive(f, c, hw).buffer);
      const fresh = featuresToTokens(f, c, hw);
      assert.equal(fresh.length, c * hw);
      assert.ok(Buffer.from(fresh.buffer, fresh.byteOffset, fresh.byteLength).equals(want), `${c} x ${hw}, new array`);
      const into = featuresToTokens(f, c, hw, reused);
      assert.equal(into, reused, 'writes into the given buffer');
      assert.ok(Buffer.from(into.buffer, 0, c * hw * 4).equals(want), `${c} x ${hw}, reused buffer`);
    }
    assert.throws(() => featuresToTokens(new Float32Array(12), 3, 4, new Float32Array(11)), RangeError);
  });

  test('temporal table found by name in nested constants', () => {
    assert.deepEqual(findTemporalTable({ shapes: { a: [[1, 2]] }, memory: { maskmem_tpos_enc: [[[[1, 2]]], [[[3, 4]]]] } }), [[1, 2], [3, 4]]);
    assert.deepEqual(findTemporalTable({ tpos_flat: [1, 2, 3, 4] }, 2), [[1, 2], [3, 4]]);
  });
});
