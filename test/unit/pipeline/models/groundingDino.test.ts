import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile, readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { PipelineError } from '../../../../src/pipeline/errors';
import { defaultSettings } from '../../../../src/pipeline/settings';
import { detectWithGroundingDino, normalizeCaption, detectorResize, loadBertTokenizer, postprocessDetections, toFloat16Bits, float16ToNumber } from '../../../../src/pipeline/models/groundingDino';
import { detectionThresholds } from '../../../../src/pipeline/models/detectionDefaults';
import { createModelService } from '../../../../src/pipeline/models/service';
import { SessionRuntime } from '../../../../src/pipeline/models/runtime';
import { writeModelFixtures, FIXTURE_IDS, buildSam2Fixture } from '../../../tooling/onnxFixtures';

/** A black image with a white rectangle [x0,x1) x [y0,y1). */
async function rectImage(file: string, w: number, h: number, r: { x0: number; y0: number; x1: number; y1: number } | null): Promise<void> {
  const px = Buffer.alloc(w * h * 3);
  if (r) {
    for (let y = r.y0; y < r.y1; y++) {
      for (let x = r.x0; x < r.x1; x++) {
        px.fill(255, (y * w + x) * 3, (y * w + x) * 3 + 3);
      }
    }
  }
  await sharp(px, { raw: { width: w, height: h, channels: 3 } }).png().toFile(file);
}

suite('models/groundingDino on fixture graphs in real onnxruntime sessions', () => {
  let dir: string;
  let runtime: SessionRuntime;
  const service = (extra: Partial<ReturnType<typeof defaultSettings>['models']> = {}) =>
    createModelService({ ...defaultSettings().models, localDir: path.join(dir, 'models'), cacheDir: path.join(dir, 'cache'), ...extra }, { userCacheDir: dir }, runtime);

  suiteSetup(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'alref-gdino-'));
    await writeModelFixtures(path.join(dir, 'models'), { only: ['groundingDino', 'groundingDinoHf', 'groundingDinoHfFp16', 'groundingDinoBase'] });
    await rectImage(path.join(dir, 'rect.png'), 200, 100, { x0: 50, y0: 20, x1: 90, y1: 60 });
    await rectImage(path.join(dir, 'dark.png'), 64, 48, null);
  });
  setup(() => {
    runtime = new SessionRuntime({ executionProvider: 'cpu', threads: 1 });
  });
  teardown(async () => {
    await runtime.dispose();
  });
  suiteTeardown(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test('caption normalisation: lowercase, trimmed, ends with "."; phrases joined by ". "', () => {
    assert.equal(normalizeCaption('  The Dog on the LEFT '), 'the dog on the left.');
    assert.equal(normalizeCaption('a cat.'), 'a cat.');
    assert.equal(normalizeCaption(['Dog', 'red ball.']), 'dog. red ball.');
    assert.throws(() => normalizeCaption('  . '), /caption is empty/);
  });

  test('resize: shorter side 800, longer side at most 1333, longer side truncated (reference code)', () => {
    assert.deepEqual(detectorResize(854, 480), { width: 1332, height: 749 });
    assert.deepEqual(detectorResize(640, 480), { width: 1066, height: 800 });
    assert.deepEqual(detectorResize(480, 640), { width: 800, height: 1066 });
  });

  test('tokenizer from vocab.txt gives BERT ids with [CLS]=101, [SEP]=102, "."=1012', async () => {
    const tok = await loadBertTokenizer(path.join(dir, 'models', FIXTURE_IDS.groundingDino, 'vocab.txt'));
    const enc = tok.encode('the white square.');
    assert.equal(enc.ids[0], 101);
    assert.equal(enc.ids[enc.ids.length - 1], 102);
    assert.equal(enc.ids[enc.ids.length - 2], 1012);
    assert.equal(enc.ids.length, 6);
    assert.equal(tok.decode(enc.ids.slice(1, 3)), 'the white');
  });

  test('fixed-mask export: box of the bright rectangle in pixels, score and phrase from the tokens', async () => {
    const t = detectionThresholds('rvos');
    const c = await detectWithGroundingDino(service(), 'grounding-dino-tiny', { imagePath: path.join(dir, 'rect.png'), caption: 'The white square', ...t });
    // queries: 0 -> bright box, max prob sigmoid(0+2) on the first word; 1 -> whole image sigmoid(-1); 2 -> sigmoid(-1.5) = 0.18 > 0.15
    assert.equal(c.length, 3);
    assert.ok(Math.abs(c[0].box.x0 - 50) <= 1 && Math.abs(c[0].box.x1 - 90) <= 1, JSON.stringify(c[0].box));
    assert.ok(Math.abs(c[0].box.y0 - 20) <= 1 && Math.abs(c[0].box.y1 - 60) <= 1, JSON.stringify(c[0].box));
    assert.ok(Math.abs(c[0].score - 1 / (1 + Math.exp(-2))) < 1e-5);
    assert.equal(c[0].phrase, 'the white square');
    assert.equal(c[0].source, 'grounding-dino');
    assert.deepEqual(c[1].box, { x0: 0, y0: 0, x1: 200, y1: 100 });
    assert.ok(Math.abs(c[1].score - 1 / (1 + Math.exp(1))) < 1e-5);
    // query 1 tokens all at 0.27 < text threshold: no phrase above it
    assert.equal(c[1].phrase, 'the white square');
  });

  test('thresholds: reference-code box 0.25 drops the third box; a high text threshold keeps only the first word', async () => {
    const c = await detectWithGroundingDino(service(), 'grounding-dino-tiny', { imagePath: path.join(dir, 'rect.png'), caption: 'white square', ...detectionThresholds('rvos', 'reference-code') });
    assert.equal(c.length, 2);
    const d = await detectWithGroundingDino(service(), 'grounding-dino-tiny', { imagePath: path.join(dir, 'rect.png'), caption: 'white square', boxThreshold: 0.3, textThreshold: 0.6, topK: 3 });
    assert.equal(d.length, 1);
    assert.equal(d[0].phrase, 'white');
  });

  test('top-k keeps the best boxes; a box threshold above every score yields no candidate', async () => {
    const c = await detectWithGroundingDino(service(), 'grounding-dino-tiny', { imagePath: path.join(dir, 'rect.png'), caption: 'square', boxThreshold: 0.001, textThreshold: 0.1, topK: 1 });
    assert.equal(c.length, 1);
    assert.ok(c[0].score > 0.8);
    const none = await detectWithGroundingDino(service(), 'grounding-dino-tiny', { imagePath: path.join(dir, 'rect.png'), caption: 'square', boxThreshold: 0.95, textThreshold: 0.1, topK: 3 });
    assert.deepEqual(none, []);
  });

  test('a dark image has an empty bright box which is dropped (nothing of it in the frame)', async () => {
    const c = await detectWithGroundingDino(service(), 'grounding-dino-tiny', { imagePath: path.join(dir, 'dark.png'), caption: 'square', boxThreshold: 0.2, textThreshold: 0.1, topK: 3 });
    assert.equal(c.length, 1, JSON.stringify(c));
    assert.deepEqual(c[0].box, { x0: 0, y0: 0, x1: 64, y1: 48 });
  });

  test('boxes outside the frame are clipped to it', () => {
    const logits = new Float32Array([5, 5, 5, 5]);
    const c = postprocessDetections(logits, new Float32Array([0.9, 0.5, 0.5, 2]), 1, 4, {
      boxThreshold: 0.1, textThreshold: 0.1, topK: 3, imageWidth: 100, imageHeight: 50, inputIds: [101, 2000, 1012, 102], decode: () => 'x',
    });
    assert.ok(Math.abs(c[0].box.x0 - 65) < 1e-4 && c[0].box.y0 === 0 && c[0].box.x1 === 100 && c[0].box.y1 === 50, JSON.stringify(c[0].box));
    const gone = postprocessDetections(logits, new Float32Array([1.5, 0.5, 0.2, 0.2]), 1, 4, {
      boxThreshold: 0.1, textThreshold: 0.1, topK: 3, imageWidth: 100, imageHeight: 50, inputIds: [101, 2000, 1012, 102], decode: () => 'x',
    });
    assert.deepEqual(gone, []);
  });

  test('onnx-community layout (tokenizer.json) and a static 320x320, T=256 build (padding + pixel_mask)', async () => {
    const a = await detectWithGroundingDino(service(), 'grounding-dino-tiny-hf', { imagePath: path.join(dir, 'rect.png'), caption: 'white square', boxThreshold: 0.25, textThreshold: 0.2, topK: 3 });
    const b = await detectWithGroundingDino(service(), 'grounding-dino-base', { imagePath: path.join(dir, 'rect.png'), caption: 'white square', boxThreshold: 0.25, textThreshold: 0.2, topK: 3 });
    for (const c of [a, b]) {
      assert.equal(c.length, 2);
      assert.ok(Math.abs(c[0].box.x0 - 50) <= 2 && Math.abs(c[0].box.x1 - 90) <= 2, JSON.stringify(c[0].box));
      assert.ok(Math.abs(c[0].box.y0 - 20) <= 2 && Math.abs(c[0].box.y1 - 60) <= 2, JSON.stringify(c[0].box));
      assert.equal(c[0].phrase, 'white square');
    }
  });

  test('fp16 export: float16 pixel values in, float16 logits and boxes out', async () => {
    const c = await detectWithGroundingDino(service(), 'grounding-dino-tiny-hf-fp16', { imagePath: path.join(dir, 'rect.png'), caption: 'white square', boxThreshold: 0.25, textThreshold: 0.2, topK: 3 });
    assert.equal(c.length, 2);
    assert.ok(Math.abs(c[0].box.x0 - 50) <= 1 && Math.abs(c[0].box.x1 - 90) <= 1, JSON.stringify(c[0].box));
    assert.ok(Math.abs(c[0].score - 1 / (1 + Math.exp(-2))) < 2e-3);
  });

  test('float16 conversion round trips representable values and rounds to nearest', () => {
    const v = Float32Array.from([0, 1, -2.5, 65504, 1e-7, 0.1, -Infinity]);
    const back = Array.from(toFloat16Bits(v), float16ToNumber);
    assert.deepEqual(back.slice(0, 4), [0, 1, -2.5, 65504]);
    assert.ok(Math.abs(back[4] - 1.1920928955078125e-7) < 1e-9);
    assert.ok(Math.abs(back[5] - 0.1) < 1e-4);
    assert.equal(back[6], -Infinity);
  });

  test('wrong-task model in the slot, signature mismatch, corrupt file, missing model', async () => {
    const svc = service();
    await assert.rejects(detectWithGroundingDino(svc, 'sam2.1-hiera-tiny-video', { imagePath: path.join(dir, 'rect.png'), caption: 'x', boxThreshold: 0.1, textThreshold: 0.1, topK: 1 }), /is a sam2-video model; this slot needs a grounding-dino model/);
    // a SAM graph where the detector should be: refused, naming the missing inputs
    const bad = path.join(dir, 'models-bad', 'grounding-dino-tiny');
    await writeModelFixtures(path.join(dir, 'models-bad'), { only: ['groundingDino'] });
    await writeFile(path.join(bad, 'model-fixedmask.onnx'), buildSam2Fixture().files['pointer_tpos.onnx']);
    const svcBad = createModelService({ ...defaultSettings().models, localDir: path.join(dir, 'models-bad'), cacheDir: path.join(dir, 'cache') }, { userCacheDir: dir }, runtime);
    await assert.rejects(detectWithGroundingDino(svcBad, 'grounding-dino-tiny', { imagePath: path.join(dir, 'rect.png'), caption: 'x', boxThreshold: 0.1, textThreshold: 0.1, topK: 1 }), (err: unknown) => {
      assert.ok(err instanceof PipelineError);
      assert.match(err.message, /input "pixel_values" is missing/);
      assert.match(err.message, /output "logits" is missing/);
      return true;
    });
    // truncated file
    const good = await readFile(path.join(dir, 'models', 'grounding-dino-tiny', 'model-fixedmask.onnx'));
    await writeFile(path.join(bad, 'model-fixedmask.onnx'), good.subarray(0, Math.floor(good.length / 2)));
    await assert.rejects(detectWithGroundingDino(svcBad, 'grounding-dino-tiny', { imagePath: path.join(dir, 'rect.png'), caption: 'x', boxThreshold: 0.1, textThreshold: 0.1, topK: 1 }), (err: unknown) => {
      assert.ok(err instanceof PipelineError);
      assert.equal(err.kind, 'backend');
      assert.match(err.message, /truncated or corrupt/);
      assert.match(err.message, /alref models pull grounding-dino-tiny/);
      return true;
    });
    const svcEmpty = createModelService({ ...defaultSettings().models, localDir: path.join(dir, 'nothing'), cacheDir: path.join(dir, 'cache') }, { userCacheDir: dir }, runtime);
    await assert.rejects(detectWithGroundingDino(svcEmpty, 'grounding-dino-tiny', { imagePath: path.join(dir, 'rect.png'), caption: 'x', boxThreshold: 0.1, textThreshold: 0.1, topK: 1 }), (err: unknown) => {
      assert.ok(err instanceof PipelineError);
      assert.equal(err.kind, 'missing-model');
      assert.match(err.message, /huggingface\.co\/mtbui2010/);
      return true;
    });
  });

  test('sessions are reused across calls and released when idle', async () => {
    const rt = new SessionRuntime({ executionProvider: 'cpu', threads: 1, idleReleaseMs: 50 });
    const svc = createModelService({ ...defaultSettings().models, localDir: path.join(dir, 'models'), cacheDir: path.join(dir, 'cache') }, { userCacheDir: dir }, rt);
    const a = await svc.session('grounding-dino-tiny', 'model', 'grounding-dino');
    const b = await svc.session('grounding-dino-tiny', 'model', 'grounding-dino');
    assert.equal(a.session, b.session);
    a.release();
    b.release();
    assert.equal(rt.size, 1);
    await new Promise((r) => setTimeout(r, 150));
    assert.equal(rt.size, 0);
    await rt.dispose();
  });

  test('CUDA requested without CUDA falls back to CPU with a visible note', async () => {
    const rt = new SessionRuntime({ executionProvider: 'cuda', threads: 1 });
    const notes: string[] = [];
    rt.options.onNote = (m) => notes.push(m);
    const svc = createModelService({ ...defaultSettings().models, executionProvider: 'cuda', localDir: path.join(dir, 'models'), cacheDir: path.join(dir, 'cache') }, { userCacheDir: dir }, rt);
    const c = await detectWithGroundingDino(svc, 'grounding-dino-tiny', { imagePath: path.join(dir, 'rect.png'), caption: 'square', boxThreshold: 0.25, textThreshold: 0.1, topK: 3 });
    assert.equal(c.length, 2);
    const taken = svc.takeNotes();
    assert.equal(taken.length, 1);
    assert.match(taken[0], /CUDA execution provider is not available .* running "grounding-dino-tiny" on CPU/);
    assert.deepEqual(notes, taken);
    await rt.dispose();
  });
});
