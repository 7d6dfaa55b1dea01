/**
 * GroundingDINO processing parity: the project's pre- and post-processing against
 * `@huggingface/transformers`' GroundingDinoProcessor, both driving the SAME graph (a probe with the
 * real export's signature whose outputs move with every pixel and token) on the same image.
 * README "Fidelity" says where the two differ on purpose (resize rule, special tokens in phrases).
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { detectWithGroundingDino, detectorResize, loadBertTokenizer, normalizeCaption, preprocessForDetector } from '../../../../src/pipeline/models/groundingDino';
import { createModelService } from '../../../../src/pipeline/models/service';
import { SessionRuntime } from '../../../../src/pipeline/models/runtime';
import { defaultSettings } from '../../../../src/pipeline/settings';
import type { Candidate } from '../../../../src/pipeline/domain';
import { buildBertTokenizerJson, FIXTURE_IDS } from '../../../tooling/onnxFixtures';
import { buildGroundingDinoProbe } from '../../../tooling/gdinoProbe';
import { SAMPLES } from '../../../tooling/media';

const ID = FIXTURE_IDS.groundingDinoHf;

/** What the Hugging Face repository ships besides the graph and tokenizer.json. */
const HF_PREPROCESSOR = {
  do_normalize: true,
  do_pad: true,
  do_rescale: true,
  do_resize: true,
  image_mean: [0.485, 0.456, 0.406],
  image_processor_type: 'GroundingDinoImageProcessor',
  image_std: [0.229, 0.224, 0.225],
  processor_class: 'GroundingDinoProcessor',
  resample: 2,
  rescale_factor: 1 / 255,
  size: { longest_edge: 1333, shortest_edge: 800 },
};
const HF_TOKENIZER_CONFIG = { tokenizer_class: 'BertTokenizer', do_lower_case: true, model_max_length: 256, cls_token: '[CLS]', sep_token: '[SEP]', pad_token: '[PAD]', unk_token: '[UNK]', mask_token: '[MASK]' };

interface HfResult {
  scores: number[];
  boxes: number[][];
  labels: string[];
}

/** A smooth colour image with a bright rectangle: every resize kernel detail shows in the means. */
async function syntheticImage(file: string, w: number, h: number): Promise<void> {
  const px = Buffer.alloc(w * h * 3);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = (y * w + x) * 3;
      const inRect = x >= Math.floor(w * 0.3) && x < Math.floor(w * 0.55) && y >= Math.floor(h * 0.2) && y < Math.floor(h * 0.7);
      px[i] = inRect ? 250 : (x * 7 + y * 3) % 200;
      px[i + 1] = inRect ? 240 : (x * x + 5 * y) % 180;
      px[i + 2] = inRect ? 245 : ((x ^ y) * 3) % 160;
    }
  }
  await sharp(px, { raw: { width: w, height: h, channels: 3 } }).jpeg({ quality: 92 }).toFile(file);
}

suite('models/groundingDino processing parity with @huggingface/transformers (same graph, same image)', function () {
  this.timeout(120000);
  let dir: string;
  let runtime: SessionRuntime;
  let hf: any;

  suiteSetup(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'alref-gdino-parity-'));
    const modelDir = path.join(dir, 'models', ID);
    await mkdir(path.join(modelDir, 'onnx'), { recursive: true });
    await writeFile(path.join(modelDir, 'onnx', 'model.onnx'), buildGroundingDinoProbe());
    await writeFile(path.join(modelDir, 'tokenizer.json'), JSON.stringify(buildBertTokenizerJson()));
    await syntheticImage(path.join(dir, 'synthetic-640x480.jpg'), 640, 480);
    await syntheticImage(path.join(dir, 'synthetic-333x500.jpg'), 333, 500);
    hf = await import('@huggingface/transformers');
    hf.env.allowRemoteModels = false;
    hf.env.allowLocalModels = true;
    hf.env.localModelPath = path.join(dir, 'models') + path.sep;
    hf.env.useBrowserCache = false;
    hf.env.useFSCache = false;
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

  /**
   * transformers.js' own resize rule for GroundingDINO always scales the longer side to 1333 (it never
   * clamps the second factor at 1: 640x480 becomes 1333x999, where the reference code and the Python
   * processor give 1066x800), so the reference run is told the size the reference code's rule gives
   * (`size: {height, width}`), which isolates the kernel, normalisation and everything after it.
   */
  async function hfFolder(width: number, height: number): Promise<string> {
    const id = `hf-${width}x${height}`;
    const modelDir = path.join(dir, 'models', id);
    await mkdir(path.join(modelDir, 'onnx'), { recursive: true });
    await writeFile(path.join(modelDir, 'onnx', 'model.onnx'), buildGroundingDinoProbe());
    await writeFile(path.join(modelDir, 'tokenizer.json'), JSON.stringify(buildBertTokenizerJson()));
    await writeFile(path.join(modelDir, 'config.json'), JSON.stringify({ model_type: 'grounding-dino', architectures: ['GroundingDinoForObjectDetection'] }));
    await writeFile(path.join(modelDir, 'preprocessor_config.json'), JSON.stringify({ ...HF_PREPROCESSOR, size: { height, width } }));
    await writeFile(path.join(modelDir, 'tokenizer_config.json'), JSON.stringify(HF_TOKENIZER_CONFIG));
    return id;
  }

  async function hfDefaultFolder(): Promise<string> {
    const id = await hfFolder(1, 1);
    await writeFile(path.join(dir, 'models', id, 'preprocessor_config.json'), JSON.stringify(HF_PREPROCESSOR));
    return id;
  }

  async function reference(image: string, caption: string, boxThreshold: number, textThreshold: number) {
    const meta = await sharp(image).metadata();
    const size = detectorResize(meta.width ?? 0, meta.height ?? 0);
    const id = await hfFolder(size.width, size.height);
    const processor = await hf.AutoProcessor.from_pretrained(id);
    const model = await hf.AutoModelForZeroShotObjectDetection.from_pretrained(id, { dtype: 'fp32', device: 'cpu' });
    try {
      const raw = await hf.RawImage.read(image);
      const inputs = await processor(raw, caption);
      const outputs = await model(inputs);
      const [res] = processor.post_process_grounded_object_detection(outputs, inputs.input_ids, {
        box_threshold: boxThreshold,
        text_threshold: textThreshold,
        target_sizes: [[raw.height, raw.width]],
      }) as HfResult[];
      return { inputs, res, size: { width: raw.width, height: raw.height } };
    } finally {
      await model.dispose();
    }
  }

  const cases: Array<{ name: string; image: string; caption: string }> = [
    { name: 'synthetic 640x480 (landscape)', image: 'synthetic-640x480.jpg', caption: 'The white square on the left' },
    { name: 'synthetic 333x500 (portrait, odd width)', image: 'synthetic-333x500.jpg', caption: 'a red ball. the dog' },
    { name: 'DAVIS car-shadow frame 854x480 (longer side capped at 1333)', image: path.join(SAMPLES, 'davis-car-shadow/JPEGImages/00012.jpg'), caption: 'the car' },
  ];

  for (const c of cases) {
    test(`pre-processing: resize rule, normalisation, pixel mask and token ids equal: ${c.name}`, async () => {
      const image = path.isAbsolute(c.image) ? c.image : path.join(dir, c.image);
      const caption = normalizeCaption(c.caption);
      const { inputs } = await reference(image, caption, 0.35, 0.25);
      const ours = await preprocessForDetector(image);
      assert.deepEqual(inputs.pixel_values.dims, [1, 3, ours.inputHeight, ours.inputWidth], 'resized size');
      const theirs = inputs.pixel_values.data as Float32Array;
      let maxDiff = 0;
      for (let i = 0; i < theirs.length; i++) {
        maxDiff = Math.max(maxDiff, Math.abs(theirs[i] - ours.pixelValues[i]));
      }
      assert.ok(maxDiff < 1e-5, `pixel_values differ by up to ${maxDiff}`);
      assert.ok(Array.from(inputs.pixel_mask.data as BigInt64Array).every((v) => v === 1n) && ours.pixelMask.every((v) => v === 1n), 'pixel_mask is all ones');
      const tok = await loadBertTokenizer(path.join(dir, 'models', ID, 'tokenizer.json'));
      assert.deepEqual(tok.encode(caption).ids.map(Number), Array.from(inputs.input_ids.data as BigInt64Array, Number), 'input_ids');
    });

    test(`post-processing: same candidates (boxes within 1e-4 px, scores within 1e-6, phrases) at the paper's and the reference code's thresholds: ${c.name}`, async () => {
      const image = path.isAbsolute(c.image) ? c.image : path.join(dir, c.image);
      const caption = normalizeCaption(c.caption);
      for (const [boxThreshold, textThreshold] of [
        [0.35, 0.25],
        [0.25, 0.25],
        [0.1, 0.1],
      ]) {
        const { res } = await reference(image, caption, boxThreshold, textThreshold);
        const models = createModelService({ ...defaultSettings().models, localDir: path.join(dir, 'models'), cacheDir: path.join(dir, 'cache') }, { userCacheDir: dir }, runtime);
        const ours: Candidate[] = await detectWithGroundingDino(models, ID, { imagePath: image, caption, boxThreshold, textThreshold, topK: 1000 });
        // transformers.js keeps the queries in model order and decodes "." and [SEP] when they pass the
        // text threshold; the reference code strips "." from phrases and the project skips special tokens.
        const theirs = res.scores
          .map((score, i) => ({ score, box: res.boxes[i], phrase: res.labels[i].replace(/\[SEP\]|\./g, ' ').replace(/\s+/g, ' ').trim() }))
          .sort((a, b) => b.score - a.score);
        assert.ok(theirs.length > 1, `the probe must give several candidates (got ${theirs.length})`);
        assert.equal(ours.length, theirs.length, `candidate count at ${boxThreshold}/${textThreshold}`);
        ours.forEach((o, i) => {
          const t = theirs[i];
          assert.ok(Math.abs(o.score - t.score) < 1e-6, `score ${i}: ${o.score} vs ${t.score}`);
          const tb = t.box.map((v) => v);
          const ob = [o.box.x0, o.box.y0, o.box.x1, o.box.y1];
          ob.forEach((v, k) => assert.ok(Math.abs(v - tb[k]) < 1e-4, `box ${i}[${k}]: ${v} vs ${tb[k]}`));
          assert.equal(o.phrase, t.phrase, `phrase ${i}`);
        });
      }
    });
  }

  test('resize rule of the reference code (RandomResize([800], max_size=1333)): 854x480 -> 1332x749, 640x480 -> 1066x800, 333x500 -> 800x1201, 1280x720 -> 1333x750', async () => {
    assert.deepEqual(detectorResize(854, 480), { width: 1332, height: 749 });
    assert.deepEqual(detectorResize(640, 480), { width: 1066, height: 800 });
    assert.deepEqual(detectorResize(333, 500), { width: 800, height: 1201 });
    assert.deepEqual(detectorResize(1280, 720), { width: 1333, height: 750 });
    assert.deepEqual(detectorResize(800, 600), { width: 1066, height: 800 });
    assert.deepEqual(detectorResize(1066, 800), { width: 1066, height: 800 });
    // transformers.js' own rule differs (it scales the longer side up to 1333): kept as a fact here so
    // that the day it changes, this note and the README are revisited.
    const processor = await hf.AutoProcessor.from_pretrained(await hfDefaultFolder());
    const raw = await hf.RawImage.read(path.join(dir, 'synthetic-640x480.jpg'));
    const { pixel_values } = await processor(raw, 'a dog.');
    assert.deepEqual(pixel_values.dims, [1, 3, 999, 1333]);
  });
});
