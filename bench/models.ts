// Model host-side costs at real SAM 2.1 tiny sizes (image 1024, feats2 [1,256,64,64], memory
// [28736,1,64]) with fixture graphs of the real geometry: what the host adds per propagated frame
// beyond model time, pre-processing per frame, and peak memory over a long 720p video.
// Last, several objects of one video tracked one at a time versus together (frames outside, objects
// inside): vision-encoder runs and their time, from the runGraph observer.
// Usage: node --import tsx bench/models.ts [--frames 1000] [--skip-long] [--objects 1,4,8] [--multi-frames 24]
//          [--model-dir DIR] [--provider cpu|cuda]
// --model-dir: a model folder holding sam2.1-hiera-tiny-video/ (onnx/<graph>.onnx + constants.json:
// the downloaded model, or the real architecture with random weights from
// `python3 tools/sam2-export/export.py --random-seed 0 --out DIR/sam2.1-hiera-tiny-video`) instead of
// the fixture graphs, so the loop figures are measured beside real graph times (on CPU the real
// graphs take seconds per frame: use --skip-long and a few --multi-frames); --provider cuda runs
// them on the GPU. Prints figures; asserts nothing.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { performance } from 'node:perf_hooks';
import type { InferenceSession } from 'onnxruntime-node';
import sharp from 'sharp';
import { defaultSettings } from '../src/pipeline/settings';
import type { RleMask } from '../src/pipeline/domain';
import { encodeRle } from '../src/pipeline/masks/rle';
import { preprocessForDetector } from '../src/pipeline/models/groundingDino';
import { observeGraphRuns, SessionRuntime } from '../src/pipeline/models/runtime';
import { createModelService } from '../src/pipeline/models/service';
import { fillHoles, resizeLogitsToMask } from '../src/pipeline/models/sam2/maskOps';
import { pilResizeRgbPlanar } from '../test/tooling/pilResizeReference';
import { pilResizeNormalise, pilResizeNormaliseView, type Normalisation } from '../src/pipeline/imaging/pilResizeSimd';
import { selectMemory } from '../src/pipeline/models/sam2/memory';
import { defaultPrefetch, FramePrepPool, MAX_PREP_THREADS } from '../src/pipeline/models/sam2/framePrep';
import { Sam2VideoTracker } from '../src/pipeline/models/sam2/video';
import { featuresToTokens, sameBits } from '../src/pipeline/models/sam2/tokens';
import { writeModelFixtures } from '../test/tooling/onnxFixtures';
import { timeNativeRuns, withGcPauses, type GcWindow } from './lib/nativeRuns';

const argv = process.argv.slice(2);
const frames = Number(argv[argv.indexOf('--frames') + 1]) > 0 && argv.includes('--frames') ? Number(argv[argv.indexOf('--frames') + 1]) : 1000;
const skipLong = argv.includes('--skip-long');
const numArg = (name: string, fallback: number): number => (argv.includes(name) && Number(argv[argv.indexOf(name) + 1]) > 0 ? Number(argv[argv.indexOf(name) + 1]) : fallback);
const objectCounts = argv.includes('--objects')
  ? String(argv[argv.indexOf('--objects') + 1])
      .split(',')
      .map(Number)
      .filter((n) => Number.isInteger(n) && n > 0)
  : [1, 4, 8];
const multiFrames = numArg('--multi-frames', 24);
const modelDir = argv.includes('--model-dir') ? path.resolve(String(argv[argv.indexOf('--model-dir') + 1])) : undefined;
const providerArg = argv.includes('--provider') ? String(argv[argv.indexOf('--provider') + 1]) : 'cpu';
if (providerArg !== 'cpu' && providerArg !== 'cuda') {
  console.error(`--provider must be cpu or cuda, not "${providerArg}"`);
  process.exit(2);
}
const provider: 'cpu' | 'cuda' = providerArg;

/** Host milliseconds of one propagated frame, part by part (printed as a sum at the end). */
const hostParts: Array<{ label: string; ms: number; cpu: number }> = [];

/** Prints wall and CPU milliseconds per call (CPU: this process, all its threads; steadier on a busy machine). */
function report(label: string, n: number, t0: number, c0: NodeJS.CpuUsage, perFrame: number): number {
  const ms = (performance.now() - t0) / n;
  const c = process.cpuUsage(c0);
  const cpu = (c.user + c.system) / 1000 / n;
  console.log(`${label.padEnd(58)} ${ms.toFixed(2).padStart(9)} ms  (cpu ${cpu.toFixed(2)} ms)`);
  if (perFrame > 0) {
    hostParts.push({ label, ms: ms * perFrame, cpu: cpu * perFrame });
  }
  return ms;
}

function time<T>(label: string, n: number, fn: () => T, perFrame = 0): T {
  let r: T = undefined as T;
  fn();
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  for (let i = 0; i < n; i++) {
    r = fn();
  }
  report(label, n, t0, c0, perFrame);
  return r;
}

async function timeAsync(label: string, n: number, fn: () => Promise<unknown>, perFrame = 0): Promise<number> {
  await fn();
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  for (let i = 0; i < n; i++) {
    await fn();
  }
  return report(label, n, t0, c0, perFrame);
}

async function main(): Promise<void> {
  // before the first session: graph time as onnxruntime's own synchronous runs (see bench/lib/nativeRuns.ts)
  const native = timeNativeRuns();
  // each frame's RLE mask, kept as the propagate stage keeps them (the tracker makes it beside the mask)
  const rles: RleMask[] = [];
  const dir = await mkdtemp(path.join(os.tmpdir(), 'alref-bench-models-'));
  try {
    const localDir = modelDir ?? path.join(dir, 'models');
    if (!modelDir) {
      await writeModelFixtures(localDir, { only: ['sam2'], sam2: { imageSize: 1024, c0: 32, c1: 64, c2: 256, memDim: 64 } });
    }
    console.log(`graphs: ${modelDir ? `${path.join(modelDir, 'sam2.1-hiera-tiny-video')} on ${provider}` : `fixture graphs of the real geometry on ${provider}`}`);
    // a 1280x720 frame with a bright square
    const W = 1280;
    const H = 720;
    const px = Buffer.alloc(W * H * 3, 30);
    for (let y = 300; y < 420; y++) {
      px.fill(230, (y * W + 500) * 3, (y * W + 640) * 3);
    }
    const frame = path.join(dir, 'frame.jpg');
    await sharp(px, { raw: { width: W, height: H, channels: 3 } }).jpeg({ quality: 90 }).toFile(frame);

    const runtime = new SessionRuntime({ executionProvider: provider, threads: 0 });
    const models = createModelService({ ...defaultSettings().models, localDir, cacheDir: path.join(dir, 'cache') }, { userCacheDir: dir }, runtime);
    const tracker = await Sam2VideoTracker.open(models, 'sam2.1-hiera-tiny-video');
    const g = tracker.geometry;
    console.log(`geometry: image ${g.imageSize.width}x${g.imageSize.height}, memory length ${g.memoryLength}, ${g.numMaskmem} memories x ${g.tposTable[0].length}`);

    console.log('\n-- pre-processing per frame (1280x720 JPEG) --');
    await timeAsync('SAM 2: decode + resize 1024x1024 + normalise (planar f32)', 10, () => tracker.preprocess(frame));
    const { data: decoded } = await sharp(frame).rotate().removeAlpha().toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
    await timeAsync('  of which: JPEG decode (sharp)', 10, () => sharp(frame).rotate().removeAlpha().toColourspace('srgb').raw().toBuffer(), 1);
    const pixels = new Float32Array(3 * g.imageSize.width * g.imageSize.height);
    const luts = [0, 1, 2].map(() => new Float32Array(256));
    const norm: Normalisation = { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] };
    time('  Pillow bicubic + normalise, JS reference (not used)', 10, () => pilResizeRgbPlanar(decoded, W, H, g.imageSize.width, g.imageSize.height, luts, pixels));
    time('  Pillow bicubic + normalise, SIMD, copied out', 10, () => pilResizeNormalise(decoded, W, H, g.imageSize.width, g.imageSize.height, norm, pixels));
    time('  of which: Pillow bicubic + normalise, WebAssembly SIMD', 20, () => pilResizeNormaliseView(decoded, W, H, g.imageSize.width, g.imageSize.height, norm), 1);
    await timeAsync('GroundingDINO: decode + resize 1333x750 + normalise + mask', 5, () => preprocessForDetector(frame));

    console.log('\n-- host work per propagated frame, real sizes (no model time) --');
    const hw = 64 * 64;
    const memDim = 64;
    // 40 frames of distinct memories; each call below is the next frame, so the recent slots move.
    // One memory position for all: SAM 2's is a sine encoding of the size alone, and the tracker keeps
    // one array for every memory that holds its bits (as _finish does with the encoder outputs)
    const memPos = Float32Array.from({ length: hw * memDim }, (_, k) => Math.sin(k));
    const state = {
      cond: new Set([0]),
      tracked: new Set(Array.from({ length: 39 }, (_, k) => k + 1)),
      memory: new Map(Array.from({ length: 40 }, (_, k) => [k, { tokens: new Float32Array(hw * memDim).fill(0.5 + k), pos: memPos }] as const)),
      pointers: new Map(Array.from({ length: 40 }, (_, k) => [k, new Float32Array(256).fill(k)] as const)),
    };
    time('selectMemory (pure)', 2000, () => selectMemory({ frameIndex: 31, reverse: false, numFrames: 1000, condFrames: [0], tracked: state.tracked }));
    let at = 8;
    const asm = await timeAsync('assemble memory [28736,1,64] + pos (incl. tiny pointer_tpos run)', 32, () => tracker.assembleMemory(state, (at = at >= 39 ? 8 : at + 1), false, 1000, hw), 1);
    const feats = new Float32Array(256 * hw).fill(1);
    // into a reused buffer, as the tracker does (its pool hands a frame's buffer to the next frame)
    const tokensOut = new Float32Array(256 * hw);
    time('feats2 [1,256,64,64] -> tokens [4096,1,256] (once per frame)', 50, () => featuresToTokens(feats, 256, hw, tokensOut), 1);
    const posBits = new Uint32Array(feats.buffer);
    const posPrev = Uint32Array.from(posBits);
    time('position embedding as last frame\'s: bit compare, no transpose', 50, () => sameBits(posBits, posPrev), 1);
    const low = new Float32Array(256 * 256).fill(-5);
    for (let y = 100; y < 140; y++) {
      low.fill(5, y * 256 + 100, y * 256 + 160);
    }
    time('fill holes (256x256 low-res logits)', 50, () => fillHoles(Float32Array.from(low), 256, 256, 8), 1);
    const mask = time('bilinear 256x256 -> 1280x720, > 0', 50, () => resizeLogitsToMask(low, 256, 256, W, H), 1);
    time('COCO RLE encode 1280x720', 50, () => encodeRle(mask, W, H), 1);
    // the tokens are kept as the encoder returned them; the position is compared with the shared one
    // (equal: kept once, not copied)
    const encoderPos = new Uint32Array(Float32Array.from(memPos).buffer);
    const sharedPos = new Uint32Array(memPos.buffer);
    time('memory position compared with the shared one', 50, () => sameBits(encoderPos, sharedPos), 1);
    const total = hostParts.reduce((n, p) => n + p.ms, 0);
    const totalCpu = hostParts.reduce((n, p) => n + p.cpu, 0);
    console.log(`${'host total per propagated frame (decode .. copies above)'.padEnd(58)} ${total.toFixed(2).padStart(9)} ms  (cpu ${totalCpu.toFixed(2)} ms; goal <= 5 ms)`);
    for (const p of [...hostParts].sort((a, b) => b.cpu - a.cpu)) {
      console.log(`  ${p.label.trim().replace(/^of which: /, '').padEnd(56)} ${((100 * p.cpu) / totalCpu).toFixed(0).padStart(6)} % of cpu`);
    }
    console.log(`(assembly alone: ${asm.toFixed(2)} ms)`);

    if (!skipLong) {
      console.log(`\n-- ${frames} frames at 1280x720 through the five ${modelDir ? '' : 'fixture '}graphs (real sizes) --`);
      let peakRss = process.memoryUsage().rss;
      let peakHeap = process.memoryUsage().heapUsed;
      let peakHeld = 0;
      // every graph run's native time: what the loop spends beyond them is host work on the critical path
      const graphs = { ms: 0, runs: 0 };
      const stopObserving = observeGraphRuns(() => {
        graphs.runs++;
      });
      const t0 = performance.now();
      const c0 = process.cpuUsage();
      let n = 0;
      for await (const r of tracker.track({ numFrames: frames, width: W, height: H, frameSource: () => frame, prompts: [{ frameIndex: Math.floor(frames / 2), box: { x0: 500, y0: 300, x1: 640, y1: 420 } }] })) {
        rles.push(r.rle);
        n++;
        if (n % 25 === 0) {
          const m = process.memoryUsage();
          peakRss = Math.max(peakRss, m.rss);
          peakHeap = Math.max(peakHeap, m.heapUsed);
          peakHeld = Math.max(peakHeld, tracker.heldMemories);
          process.stderr.write(`\r${n}/${frames} frames, rss ${(m.rss / 2 ** 20).toFixed(0)} MiB`);
        }
      }
      stopObserving();
      graphs.ms = native.msWithin(t0, performance.now());
      process.stderr.write('\n');
      const ms = (performance.now() - t0) / n;
      const cpu = process.cpuUsage(c0);
      console.log(`frames tracked                                             ${n}`);
      console.log(`wall time per frame (graphs + host)                        ${ms.toFixed(1)} ms`);
      console.log(`graph runs per frame, their time per frame                 ${(graphs.runs / n).toFixed(2)}, ${(graphs.ms / n).toFixed(1)} ms`);
      console.log(`host time per frame in the loop, beyond graph runs         ${(ms - graphs.ms / n).toFixed(1)} ms (wall; process CPU per frame ${((cpu.user + cpu.system) / 1000 / n).toFixed(1)} ms, graphs included)`);
      console.log(`peak RSS (sampled every 25 frames)                         ${(peakRss / 2 ** 20).toFixed(0)} MiB`);
      console.log(`peak JS heap                                               ${(peakHeap / 2 ** 20).toFixed(0)} MiB`);
      console.log(`max frame memories held                                    ${peakHeld} (x ${((2 * hw * memDim * 4) / 2 ** 20).toFixed(1)} MiB each)`);
      console.log(`process maxRSS                                             ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB`);
    }

    // what frame preparation ahead of the graphs can sustain: the loop cannot go faster than this
    // (after the long run: threads started and stopped here would count in its peak RSS)
    console.log(`\n-- frame preparation throughput in worker threads (1280x720 JPEG -> 1024 px, buffers handed back; nothing else running, ${os.availableParallelism()} cores) --`);
    for (let threads = 1; threads <= Math.min(MAX_PREP_THREADS, os.availableParallelism()); threads++) {
      const pool = FramePrepPool.start(threads);
      if (!pool) {
        console.log('(worker script not found: skipped)');
        break;
      }
      try {
        const req = { source: frame, width: g.imageSize.width, height: g.imageSize.height, norm: { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] } as Normalisation };
        const n = 16 * threads;
        let sent = 0;
        // two requests in flight per thread, each buffer handed back as the tracker does
        const feed = async (): Promise<void> => {
          while (sent < n) {
            sent++;
            pool.recycle(await pool.prepare(req));
          }
        };
        await Promise.all(Array.from({ length: 2 * threads }, () => pool.prepare(req).then((px) => pool.recycle(px))));
        const t0 = performance.now();
        await Promise.all(Array.from({ length: 2 * threads }, feed));
        const ms = (performance.now() - t0) / n;
        console.log(`${`${threads} thread(s)`.padEnd(58)} ${ms.toFixed(2).padStart(9)} ms/frame (${(1000 / ms).toFixed(0)} frames/s)`);
      } finally {
        await pool.dispose();
      }
    }

    // the same short run with frames prepared in this thread and ahead in a worker thread (which then
    // also lays the next frame's features out as tokens, that frame encoded ahead); then with
    // onnxruntime held to one thread, so that a core is left for the worker (as on a GPU machine, or
    // one with more cores than onnxruntime's threads use)
    console.log(`\n-- frame pre-processing in this thread vs ahead in a worker thread (${multiFrames} frames, 1 object; default here: ${defaultPrefetch()} ahead, ${os.availableParallelism()} cores; graph runs: onnxruntime's native run time) --`);
    const oneThread = new SessionRuntime({ executionProvider: provider, threads: 1 });
    const trackerOne = await Sam2VideoTracker.open(createModelService({ ...defaultSettings().models, localDir, cacheDir: path.join(dir, 'cache') }, { userCacheDir: dir }, oneThread), 'sam2.1-hiera-tiny-video');
    for (const [t, threads, prefetch] of [[tracker, 'default', 0], [tracker, 'default', 2], [trackerOne, '1', 0], [trackerOne, '1', 2]] as const) {
      const run = async (): Promise<void> => {
        for await (const r of t.track({ numFrames: multiFrames, width: W, height: H, frameSource: () => frame, prompts: [{ frameIndex: 0, box: { x0: 500, y0: 300, x1: 640, y1: 420 } }], prefetch })) {
          rles.push(r.rle);
        }
      };
      // warm-up: the worker thread starts (and loads its code) once per tracker
      await run();
      // GC pauses inside the native runs told from those on the host's own time
      const c0 = process.cpuUsage();
      const win = await withGcPauses(native, run);
      const wall = (win.t1 - win.t0) / multiFrames;
      const c = process.cpuUsage(c0);
      const graphMs = win.graphMs / multiFrames;
      // beyond the runs: GC pauses, the event loop idle (waiting for a worker or a decode), JavaScript (the rest)
      const gcBeyond = win.gcBeyondRunsMs / multiFrames;
      const idle = win.idleMs / multiFrames;
      console.log(`onnxruntime threads ${threads.padEnd(7)} ${(prefetch === 0 ? 'in this thread' : `${prefetch} ahead in a worker`).padEnd(20)} wall ${wall.toFixed(1).padStart(6)} ms/frame, graph runs ${graphMs.toFixed(1).padStart(6)} ms/frame, host beyond them ${(wall - graphMs).toFixed(1).padStart(5)} ms/frame = GC ${gcBeyond.toFixed(1)} + idle ${idle.toFixed(1)} + JavaScript ${(wall - graphMs - gcBeyond - idle).toFixed(1)} (GC pauses in all ${(win.gcMs / multiFrames).toFixed(1)} ms/frame), process CPU ${((c.user + c.system) / 1000 / multiFrames).toFixed(1)} ms/frame`);
    }

    // the same graph runs alone, one tracked frame's feeds replayed in the loop's order with no host
    // work around them: the garbage collection that onnxruntime-node's outputs cause by themselves
    // (every output comes back as a new buffer, about 30 MB a frame at these sizes)
    {
      const leases = (trackerOne as unknown as { _leases: Record<string, { session: InferenceSession }> })._leases;
      const recorded = new Map<string, { session: InferenceSession; feeds: InferenceSession.FeedsType; fetches?: InferenceSession.FetchesType }>();
      const restore: Array<() => void> = [];
      for (const [graph, { session }] of Object.entries(leases)) {
        const real = session.run.bind(session);
        session.run = ((feeds: InferenceSession.FeedsType, fetches?: InferenceSession.FetchesType) => {
          recorded.set(graph, { session, feeds, fetches });
          return real(feeds, fetches as InferenceSession.FetchesType);
        }) as typeof session.run;
        restore.push(() => {
          session.run = real as typeof session.run;
        });
      }
      for await (const r of trackerOne.track({ numFrames: 4, width: W, height: H, frameSource: () => frame, prompts: [{ frameIndex: 0, box: { x0: 500, y0: 300, x1: 640, y1: 420 } }], prefetch: 0 })) {
        rles.push(r.rle);
      }
      restore.forEach((f) => f());
      const order = ['vision_encoder', 'pointer_tpos', 'memory_attention', 'mask_decoder', 'memory_encoder'].filter((g) => recorded.has(g));
      const replay = async (n: number): Promise<void> => {
        for (let k = 0; k < n; k++) {
          for (const g of order) {
            const { session, feeds, fetches } = recorded.get(g)!;
            await session.run(feeds, fetches as InferenceSession.FetchesType);
          }
        }
      };
      await replay(2);
      const win = await withGcPauses(native, () => replay(multiFrames));
      const replayed = (label: string, w: GcWindow) =>
        console.log(`${label.padEnd(52)} wall ${((w.t1 - w.t0) / multiFrames).toFixed(1).padStart(6)} ms/frame, graph runs ${(w.graphMs / multiFrames).toFixed(1).padStart(6)} ms/frame, GC pauses ${(w.gcMs / multiFrames).toFixed(1)} ms/frame (${(w.gcBeyondRunsMs / multiFrames).toFixed(1)} beyond graph runs)`);
      replayed('the same graphs alone, no host work (1 thread)', win);
      // the same, plus buffers of the sizes the loop moves between threads every frame with its
      // workers (the frame's pixels in and back for reuse; feats2 and a token buffer out, tokens and
      // feats2 back): a buffer that arrives from another thread is a new ArrayBuffer here, for the GC
      // like an output
      const echo = new Worker("require('node:worker_threads').parentPort.on('message', (m) => require('node:worker_threads').parentPort.postMessage(m, m))", { eval: true });
      try {
        let moved = [new ArrayBuffer(4 * g.imageSize.width * g.imageSize.height * 3), new ArrayBuffer(4 * 256 * hw), new ArrayBuffer(4 * 256 * hw)];
        const handOff = (bufs: ArrayBuffer[]): Promise<ArrayBuffer[]> =>
          new Promise((resolve) => {
            echo.once('message', resolve);
            echo.postMessage(bufs, bufs);
          });
        const withHandOffs = async (n: number): Promise<void> => {
          for (let k = 0; k < n; k++) {
            const [pixels] = await handOff([moved[0]]);
            moved = [pixels, ...(await handOff(moved.slice(1)))];
            await replay(1);
          }
        };
        await withHandOffs(2);
        replayed("the same with the loop's hand-offs between threads", await withGcPauses(native, () => withHandOffs(multiFrames)));
        // and with one thread kept busy beside them, as a frame-preparation worker is in the loop:
        // V8's GC does part of its work on helper threads, which then wait for a core
        const busy = new Worker('for (;;) {}', { eval: true });
        try {
          replayed('the same with one busy thread beside it', await withGcPauses(native, () => withHandOffs(multiFrames)));
        } finally {
          await busy.terminate();
        }
      } finally {
        await echo.terminate();
      }
    }

    trackerOne.dispose();
    await oneThread.dispose();

    for (const objectCount of objectCounts) {
      console.log(`\n-- ${objectCount} object(s) x ${multiFrames} frames at 1280x720: one object at a time vs all together (frame-outer) --`);
      // the objects start on different frames, as the middle pivots of several expressions do
      const box = { x0: 500, y0: 300, x1: 640, y1: 420 };
      const objects = Array.from({ length: objectCount }, (_, k) => ({ prompts: [{ frameIndex: Math.floor(((k + 1) * multiFrames) / (objectCount + 1)), box }] }));
      const video = { numFrames: multiFrames, width: W, height: H, frameSource: () => frame };
      const measure = async (label: string, fn: () => Promise<void>) => {
        const enc = { runs: 0, ms: 0 };
        const stop = observeGraphRuns((r) => {
          if (r.graph === 'vision_encoder') {
            enc.runs++;
            enc.ms += r.ms;
          }
        });
        const t0 = performance.now();
        try {
          await fn();
        } finally {
          stop();
        }
        const wall = performance.now() - t0;
        console.log(`${label.padEnd(24)} encoder runs/frame ${(enc.runs / multiFrames).toFixed(2).padStart(5)}, encoder ${enc.ms.toFixed(0).padStart(6)} ms, wall ${wall.toFixed(0).padStart(6)} ms (${(wall / multiFrames).toFixed(0)} ms/frame)`);
      };
      await measure('one object at a time', async () => {
        for (const obj of objects) {
          for await (const r of tracker.track({ ...video, ...obj })) {
            rles.push(r.rle);
          }
        }
      });
      await measure('all objects together', async () => {
        for await (const { result } of tracker.trackObjects({ ...video, objects })) {
          encodeRle(result.mask, W, H);
        }
      });
      console.log(`(frames whose encoder features were held at once, together: ${tracker.peakHeldFeatures})`);
    }
    tracker.dispose();
    await runtime.dispose();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

void main();
