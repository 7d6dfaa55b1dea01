import assert from 'node:assert/strict';
import * as ort from 'onnxruntime-node';
import { GROUNDING_DINO_SIGNATURE, SAM2_SIGNATURES } from '../../../../src/pipeline/models/manifest';
import { signatureMismatches } from '../../../../src/pipeline/models/signature';
import { createServices } from '../../../../src/pipeline/services';
import { defaultSettings } from '../../../../src/pipeline/settings';
import { buildAudioTaggerFixture, buildGroundingDinoFixture, buildSam2Fixture } from '../../../tooling/onnxFixtures';

suite('test tooling: fixture graphs have the real signatures and run in onnxruntime', () => {
  test('the five SAM 2 graphs match the manifest signatures exactly (names, dtypes, ranks)', async () => {
    const fx = buildSam2Fixture();
    for (const key of Object.keys(SAM2_SIGNATURES)) {
      const s = await ort.InferenceSession.create(fx.files[`${key}.onnx` as keyof typeof fx.files]);
      assert.deepEqual(signatureMismatches(s.inputMetadata, s.outputMetadata, SAM2_SIGNATURES[key]), [], key);
      assert.deepEqual([...s.inputNames].sort(), SAM2_SIGNATURES[key].inputs.map((i) => i.name).sort(), key);
      assert.deepEqual([...s.outputNames].sort(), SAM2_SIGNATURES[key].outputs.map((i) => i.name).sort(), key);
      await s.release();
    }
  });

  test('a graph of another kind is reported input by input', async () => {
    const s = await ort.InferenceSession.create(buildSam2Fixture().files['pointer_tpos.onnx']);
    const problems = signatureMismatches(s.inputMetadata, s.outputMetadata, SAM2_SIGNATURES.memory_encoder);
    assert.ok(problems.includes('input "binarize" is missing (the graph has "normalized_diffs")'), problems.join('\n'));
    const wrongRank = signatureMismatches(s.inputMetadata, s.outputMetadata, { inputs: [{ name: 'normalized_diffs', types: ['float32'], rank: 2 }], outputs: [{ name: 'pointer_pos', types: ['int64'], rank: 2 }] });
    assert.deepEqual(wrongRank, ['input "normalized_diffs" has rank 1 [num_pointers], expected rank 2', 'output "pointer_pos" has type float32, expected int64']);
    await s.release();
  });

  test('pointer_tpos returns the normalised distance in every channel; memory_encoder binarises on request', async () => {
    const fx = buildSam2Fixture({ imageSize: 64, memDim: 4 });
    const pt = await ort.InferenceSession.create(fx.files['pointer_tpos.onnx']);
    const r = await pt.run({ normalized_diffs: new ort.Tensor('float32', Float32Array.from([0.5, -0.25]), [2]) });
    assert.deepEqual(r.pointer_pos.dims, [2, 4]);
    assert.deepEqual([...(r.pointer_pos.data as Float32Array)], [0.5, 0.5, 0.5, 0.5, -0.25, -0.25, -0.25, -0.25]);
    const me = await ort.InferenceSession.create(fx.files['memory_encoder.onnx']);
    const hr = new Float32Array(64 * 64).fill(0.3);
    const feeds = (b: number) => ({
      feats2: new ort.Tensor('float32', new Float32Array(16 * 16), [1, 16, 4, 4]),
      high_res_mask: new ort.Tensor('float32', hr, [1, 1, 64, 64]),
      object_score_logits: new ort.Tensor('float32', Float32Array.from([5]), [1, 1]),
      binarize: new ort.Tensor('float32', Float32Array.from([b]), []),
    });
    const hard = await me.run(feeds(1));
    const soft = await me.run(feeds(0));
    assert.deepEqual(hard.memory_tokens.dims, [16, 1, 4]);
    assert.equal((hard.memory_tokens.data as Float32Array)[0], 1);
    assert.ok(Math.abs((soft.memory_tokens.data as Float32Array)[0] - 1 / (1 + Math.exp(-0.3))) < 1e-6);
    await pt.release();
    await me.release();
  });

  test('GroundingDINO fixture: [1,Q,256] logits with -inf past the tokens, [1,Q,4] boxes', async () => {
    const s = await ort.InferenceSession.create(buildGroundingDinoFixture({ queries: 8 }));
    assert.deepEqual(signatureMismatches(s.inputMetadata, s.outputMetadata, GROUNDING_DINO_SIGNATURE), []);
    const H = 16;
    const W = 24;
    const px = new Float32Array(3 * H * W).fill(-2);
    const ids = [101, 2000, 2001, 1012, 102];
    const i64 = (v: number[]) => new ort.Tensor('int64', BigInt64Array.from(v.map(BigInt)), [1, v.length]);
    const r = await s.run({
      pixel_values: new ort.Tensor('float32', px, [1, 3, H, W]),
      pixel_mask: new ort.Tensor('int64', new BigInt64Array(H * W).fill(1n), [1, H, W]),
      input_ids: i64(ids),
      token_type_ids: i64([0, 0, 0, 0, 0]),
      attention_mask: i64([1, 1, 1, 1, 1]),
    });
    assert.deepEqual(r.logits.dims, [1, 8, 256]);
    assert.deepEqual(r.pred_boxes.dims, [1, 8, 4]);
    const l = r.logits.data as Float32Array;
    assert.deepEqual([...l.subarray(0, 6)], [-5, 2, 0, -5, -5, -Infinity]);
    await s.release();
  });

  test('audio tagger fixture: samples [W,N] -> probabilities [W,527], class 0 rises and Silence falls with energy', async () => {
    const s = await ort.InferenceSession.create(buildAudioTaggerFixture());
    const x = new Float32Array(2 * 100);
    x.fill(0.5, 100);
    const r = await s.run({ samples: new ort.Tensor('float32', x, [2, 100]) });
    assert.deepEqual(r.probabilities.dims, [2, 527]);
    const p = r.probabilities.data as Float32Array;
    assert.ok(p[0] < 0.05 && p[527] > 0.99);
    assert.ok(p[500] > 0.95 && p[527 + 500] < 0.01);
    await s.release();
  });

  test('createServices: the models service is created lazily, once', () => {
    const services = createServices(defaultSettings(), { runDir: '/tmp/x', resourcesDir: '.', userCacheDir: '/tmp/alref-user', getSecret: async () => undefined });
    const a = services.models;
    assert.equal(a?.kind, 'models');
    assert.equal(services.models, a);
    assert.equal(a?.modelFor('sam2-video'), 'sam2.1-hiera-tiny-video');
    assert.equal(a?.modelFor('grounding-dino'), 'grounding-dino-tiny');
  });
});
