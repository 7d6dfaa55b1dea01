import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import * as esbuild from 'esbuild';
import sharp from 'sharp';
import { PipelineError } from '../../../../../src/pipeline/errors';
import { finishMask } from '../../../../../src/pipeline/models/sam2/maskOps';
import { featuresToTokens } from '../../../../../src/pipeline/models/sam2/tokens';
import { pilResizeRgbView } from '../../../../../src/pipeline/imaging/pilResizeSimd';
import { defaultPrefetch, defaultPrepThreads, FramePrepPool, FramePrepWorker, MAX_PREP_THREADS, prepareFrame, prepareFrameLeased, type FramePrepRequest } from '../../../../../src/pipeline/models/sam2/framePrep';

suite('models/sam2/framePrep: frames prepared in a worker thread equal those prepared in this one', () => {
  let dir: string;
  const norm: FramePrepRequest['norm'] = { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] };

  suiteSetup(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'alref-frameprep-'));
    for (let k = 0; k < 3; k++) {
      const w = 320 + 16 * k;
      const h = 180 + 7 * k;
      const px = Buffer.alloc(w * h * 3);
      for (let i = 0; i < px.length; i++) {
        px[i] = (i * (31 + k) + (i >> 7)) & 255;
      }
      await sharp(px, { raw: { width: w, height: h, channels: 3 } }).jpeg({ quality: 85 }).toFile(path.join(dir, `f${k}.jpg`));
    }
    await writeFile(path.join(dir, 'broken.jpg'), 'not a jpeg');
  });
  suiteTeardown(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test('same bits as the in-thread path, several requests in flight, files and bytes', async () => {
    const worker = FramePrepWorker.start();
    assert.ok(worker, 'the worker script is found under tsx');
    try {
      const reqs: FramePrepRequest[] = [0, 1, 2].map((k) => ({ source: path.join(dir, `f${k}.jpg`), width: 128, height: 96, norm }));
      const bytes = await sharp(path.join(dir, 'f1.jpg')).toBuffer();
      reqs.push({ source: new Uint8Array(bytes), width: 64, height: 64, norm });
      const fromWorker = await Promise.all(reqs.map((r) => worker.prepare(r)));
      for (const [k, r] of reqs.entries()) {
        const here = await prepareFrame(r);
        assert.equal(fromWorker[k].length, 3 * r.width * r.height);
        assert.ok(Buffer.from(fromWorker[k].buffer, fromWorker[k].byteOffset, fromWorker[k].byteLength).equals(Buffer.from(here.buffer, here.byteOffset, here.byteLength)), `request ${k}`);
      }
      // the leased path gives the same values too, and keeps them while other frames are resized on
      // this thread (as a frame grid of another cell would be) until it is released
      const lease = await prepareFrameLeased(reqs[0]);
      const bits = (a: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);
      assert.ok(bits(lease.pixels).equals(bits(fromWorker[0])));
      for (const r of reqs.slice(1)) {
        await prepareFrame(r);
        pilResizeRgbView(new Uint8Array(64 * 48 * 3).fill(200), 64, 48, 128, 96);
      }
      const second = await prepareFrameLeased(reqs[1]);
      assert.ok(bits(lease.pixels).equals(bits(fromWorker[0])), 'leased values untouched by the resizes since');
      assert.ok(bits(second.pixels).equals(bits(fromWorker[1])));
      lease.release();
      second.release();
      // released: the next resize on this thread may use that memory again
      await prepareFrame(reqs[2]);
      assert.ok(bits((await prepareFrameLeased(reqs[0])).pixels).equals(bits(fromWorker[0])));
    } finally {
      await worker.dispose();
    }
  });

  test('the bundled worker script (as esbuild.mjs builds it) gives the same bits: frames, tokens, masks', async () => {
    // bundled into out/ inside the repository, so that it finds sharp in node_modules as dist/ does
    const out = path.join(__dirname, '..', '..', '..', '..', '..', 'out', 'test-bundles', 'framePrepWorker.js');
    await esbuild.build({ entryPoints: [path.join(__dirname, '..', '..', '..', '..', '..', 'src', 'pipeline', 'models', 'sam2', 'framePrep.worker.ts')], bundle: true, platform: 'node', format: 'cjs', target: 'node20', external: ['sharp'], outfile: out, logLevel: 'error' });
    const worker = FramePrepWorker.start(out)!;
    try {
      const req: FramePrepRequest = { source: path.join(dir, 'f2.jpg'), width: 100, height: 60, norm };
      const [a, b] = [await worker.prepare(req), await prepareFrame(req)];
      assert.ok(Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength)));
      // the other requests the tracker sends: features laid out as tokens, a tracked frame's mask
      const features = Float32Array.from({ length: 12 * 35 }, (_, k) => Math.sin(k));
      const t = await worker.transpose({ features: features.slice(), c: 12, hw: 35, out: new Float32Array(12 * 35) });
      assert.deepEqual(t.tokens, featuresToTokens(features, 12, 35));
      assert.deepEqual(t.features, features, 'the features come back as they went');
      const logits = Float32Array.from({ length: 16 * 12 }, (_, k) => ((k * 7) % 13) - 6);
      const m = await worker.finishMask({ logits: logits.slice(), width: 16, height: 12, fillHoleArea: 8, present: true, videoWidth: 40, videoHeight: 30 });
      const here = finishMask(logits, 16, 12, 8, true, 40, 30);
      assert.deepEqual(m, here);
      assert.ok(here.rle.counts.length > 0 && here.mask.some((v) => v === 1) && here.mask.some((v) => v === 0), 'a mask with both labels');
    } finally {
      await worker.dispose();
    }
  });

  test('frames are prepared ahead by default only where a core is left for the worker', () => {
    assert.equal(defaultPrefetch({ provider: 'cpu', threads: 0 }, 2), 0, 'two cores, onnxruntime on both');
    assert.equal(defaultPrefetch({ provider: 'cpu', threads: 2 }, 2), 0);
    assert.equal(defaultPrefetch({ provider: 'cpu', threads: 1 }, 2), 2, 'onnxruntime held to one thread');
    assert.equal(defaultPrefetch({ provider: 'cuda', threads: 0 }, 2), 2, 'graphs on the GPU');
    assert.equal(defaultPrefetch({ provider: 'cpu', threads: 0 }, 8), 2);
    assert.equal(defaultPrefetch({ provider: 'cpu', threads: 0 }, 1), 0);
    // worker threads: the cores onnxruntime and the calling thread leave, capped; one more frame in flight
    assert.equal(defaultPrepThreads({ provider: 'cpu', threads: 0 }, 2), 0);
    assert.equal(defaultPrepThreads({ provider: 'cpu', threads: 1 }, 2), 1);
    assert.equal(defaultPrepThreads({ provider: 'cpu', threads: 0 }, 8), 1, 'onnxruntime on its default threads: one per core');
    assert.equal(defaultPrepThreads({ provider: 'cpu', threads: 6 }, 8), 2);
    assert.equal(defaultPrepThreads({ provider: 'cuda', threads: 0 }, 3), 2, 'GPU: every core but the calling thread\'s');
    assert.equal(defaultPrepThreads({ provider: 'cuda', threads: 0 }, 16), MAX_PREP_THREADS);
    assert.equal(defaultPrefetch({ provider: 'cuda', threads: 0 }, 16), MAX_PREP_THREADS + 1);
    assert.equal(defaultPrepThreads({ provider: 'cuda', threads: 0 }, 1), 0);
  });

  test('a pool of threads: requests go to the least busy thread, same bits from each; a handed-back buffer is written again in full', async () => {
    const pool = FramePrepPool.start(2)!;
    try {
      assert.equal(pool.size, 2);
      const reqs: FramePrepRequest[] = [0, 1, 2, 0].map((k) => ({ source: path.join(dir, `f${k}.jpg`), width: 96, height: 80, norm }));
      const sent = reqs.map((r) => pool.prepare(r));
      assert.deepEqual(pool.threadLoad(), [2, 2], 'four requests in flight, two per thread');
      const got = await Promise.all(sent);
      for (const [k, r] of reqs.entries()) {
        const here = await prepareFrame(r);
        assert.ok(Buffer.from(got[k].buffer).equals(Buffer.from(here.buffer, here.byteOffset, here.byteLength)), `request ${k}`);
      }
      // handed back: detached here; the threads write them again for frames of the same size (another
      // frame's values left in a reused buffer would show), and drop them for another size
      for (const px of got) {
        pool.recycle(px);
        assert.equal(px.byteLength, 0, 'transferred to the worker');
      }
      const again = await Promise.all([2, 1, 0, 2].map((k) => pool.prepare({ source: path.join(dir, `f${k}.jpg`), width: 96, height: 80, norm })));
      for (const [i, k] of [2, 1, 0, 2].entries()) {
        const here = await prepareFrame({ source: path.join(dir, `f${k}.jpg`), width: 96, height: 80, norm });
        assert.ok(Buffer.from(again[i].buffer).equals(Buffer.from(here.buffer, here.byteOffset, here.byteLength)), `reused buffer, frame ${k}`);
      }
      again.forEach((px) => pool.recycle(px));
      const other = await pool.prepare({ source: path.join(dir, 'f1.jpg'), width: 40, height: 30, norm });
      const here = await prepareFrame({ source: path.join(dir, 'f1.jpg'), width: 40, height: 30, norm });
      assert.equal(other.length, 3 * 40 * 30);
      assert.ok(Buffer.from(other.buffer).equals(Buffer.from(here.buffer, here.byteOffset, here.byteLength)));
      assert.equal(other.buffer.byteLength, 4 * 3 * 40 * 30, 'a new buffer of its own size');
    } finally {
      await pool.dispose();
    }
    assert.equal(pool.alive, false);
  });

  test('a worker nobody disposes does not hold the process open, and an awaited request does', async () => {
    // a child process that asks for one frame, prints it and never disposes the worker: it must end
    const script = path.join(dir, 'undisposed.ts');
    const framePrep = path.join(__dirname, '..', '..', '..', '..', '..', 'src', 'pipeline', 'models', 'sam2', 'framePrep.ts');
    await writeFile(script, [
      `import { FramePrepWorker } from ${JSON.stringify(framePrep)};`,
      'async function main(): Promise<void> {',
      `  const px = await FramePrepWorker.start()!.prepare({ source: ${JSON.stringify(path.join(dir, 'f0.jpg'))}, width: 32, height: 32, norm: { mean: [0, 0, 0], std: [1, 1, 1] } });`,
      "  console.log('prepared', px.length);",
      '}',
      'void main();',
    ].join('\n'));
    const root = path.join(__dirname, '..', '..', '..', '..', '..');
    const r = spawnSync(process.execPath, ['--import', 'tsx', script], { cwd: root, encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.signal, null, `the process was still running after 60 s: ${r.stdout}${r.stderr}`);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /prepared 3072/);
  });

  test('a frame that cannot be read fails its own request with the file named; later requests still work; dispose fails what is pending', async () => {
    const worker = FramePrepWorker.start()!;
    const bad = path.join(dir, 'broken.jpg');
    await assert.rejects(worker.prepare({ source: bad, width: 32, height: 32, norm }), (err: unknown) => err instanceof PipelineError && err.kind === 'invalid-input' && err.file === bad && err.message.includes(bad));
    assert.equal((await worker.prepare({ source: path.join(dir, 'f0.jpg'), width: 32, height: 32, norm })).length, 3 * 32 * 32);
    const pending = worker.prepare({ source: path.join(dir, 'f2.jpg'), width: 1024, height: 1024, norm });
    await worker.dispose();
    await assert.rejects(pending, (err: unknown) => err instanceof PipelineError && err.kind === 'cancelled');
    assert.equal(worker.alive, false);
    await assert.rejects(worker.prepare({ source: path.join(dir, 'f0.jpg'), width: 32, height: 32, norm }), /stopped/);
  });
});
