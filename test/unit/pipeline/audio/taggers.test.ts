import * as assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import { loadAudioSetLabels, rankLabels, unionTopK } from '../../../../src/pipeline/audio/labels';
import { FbankTagger, WaveformTagger, createTagger, fitLength, prepareWindows, tagClip } from '../../../../src/pipeline/audio/taggers';
import { PipelineError } from '../../../../src/pipeline/errors';
import { BARK, DOG, SILENCE, buildBeatsFixture, buildWaveformFixture } from '../../../tooling/taggerGraphs';

const root = path.resolve(__dirname, '../../../..');
const fbankDir = path.join(root, 'test/fixtures/audio/fbank');

function wave(name: string): Float32Array {
  const b = readFileSync(path.join(fbankDir, `${name}.wave.f32`));
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.length));
}

function tone(seconds: number, rate: number, amp: number): Float32Array {
  return Float32Array.from({ length: Math.round(seconds * rate) }, (_, i) => amp * Math.sin((2 * Math.PI * 440 * i) / rate));
}

suite('audio/taggers: ONNX taggers on fixture graphs in real onnxruntime sessions', () => {
  let beatsSession: ort.InferenceSession;
  let waveSession: ort.InferenceSession;
  suiteSetup(async () => {
    beatsSession = await ort.InferenceSession.create(buildBeatsFixture());
    waveSession = await ort.InferenceSession.create(buildWaveformFixture());
  });
  suiteTeardown(async () => {
    await beatsSession.release();
    await waveSession.release();
  });

  test('BEATs (fbank) tagger: a bark ranks Dog and Bark first; Silence is zeroed on a silent clip', async () => {
    const labels = await loadAudioSetLabels(root);
    const tagger = createTagger('beats-fixture', beatsSession);
    assert.ok(tagger instanceof FbankTagger, 'rank-3 input is inferred as an fbank tagger');
    assert.equal(tagger.sampleRate, 16000);
    const bark = await tagClip(tagger, wave('bark-aac-beats'));
    assert.equal(bark.scores.length, 527);
    assert.ok(bark.scores.every((p) => p >= 0 && p <= 1), 'logits were turned into probabilities');
    const top = rankLabels(bark.scores, labels);
    assert.deepEqual(top.slice(0, 2).map((l) => l.index), [DOG, BARK]);
    assert.ok(top[0].probability > 0.5, `Dog ${top[0].probability}`);

    const silent = await tagClip(tagger, wave('dog-video-silent-beats'));
    assert.ok(silent.scores[SILENCE] > 0.9, `Silence ${silent.scores[SILENCE]}`);
    const ranked = rankLabels(silent.scores, labels);
    assert.ok(!ranked.some((l) => l.index === SILENCE));
    assert.ok(ranked[0].probability < 0.5);
  });

  test('waveform tagger: per-second windows follow the sound; batch of windows in one call', async () => {
    const tagger = createTagger('efficientat-fixture', waveSession, { input: 'waveform', sampleRate: 32000, output: 'auto' });
    assert.ok(tagger instanceof WaveformTagger);
    const rate = 32000;
    const clip = new Float32Array(3 * rate);
    clip.set(tone(1, rate, 0.5), rate); // silence, tone, silence
    const windows = prepareWindows(clip, rate, 1);
    assert.equal(windows.length, 3);
    const scores = await tagger.tagWindows(windows);
    assert.equal(scores.length, 3);
    assert.ok(scores[1][DOG] > 0.9 && scores[0][DOG] < 0.1 && scores[2][DOG] < 0.1, scores.map((s) => s[DOG].toFixed(3)).join(' '));
    assert.ok(scores[0][SILENCE] > 0.9 && scores[1][SILENCE] < 0.1);
  });

  test('a 0.2 s clip is looped to one second before tagging', async () => {
    const tagger = createTagger('efficientat-fixture', waveSession, { input: 'waveform', sampleRate: 32000, output: 'auto' });
    const short = await tagClip(tagger, tone(0.2, 32000, 0.5));
    assert.ok(short.looped);
    assert.ok(short.scores[DOG] > 0.9);
  });

  test('a waveform graph fed as fbank (wrong kind) is a clear backend error', () => {
    assert.throws(() => new FbankTagger('efficientat-fixture', waveSession, { input: 'fbank', sampleRate: 16000, output: 'auto' }), (e: unknown) =>
      e instanceof PipelineError && e.kind === 'backend' && /rank 2/.test(e.message));
  });

  test('union of two checkpoints over real sessions', async () => {
    const labels = await loadAudioSetLabels(root);
    const a = createTagger('cpt1', beatsSession);
    const b = createTagger('cpt2', waveSession, { input: 'waveform', sampleRate: 16000, output: 'auto' });
    const bark = wave('bark-aac-beats');
    const lists = [];
    for (const t of [a, b]) {
      lists.push({ taggerId: t.id, labels: rankLabels((await tagClip(t, bark)).scores, labels) });
    }
    const u = unionTopK(lists);
    assert.ok(u.length >= 5 && u.length <= 10);
    const dog = u.find((l) => l.index === DOG);
    assert.deepEqual(dog?.sources, ['cpt1', 'cpt2']);
  });

  test('fitLength loops short input and cuts long input; prepareWindows covers the clip', () => {
    assert.deepEqual([...fitLength(Float32Array.from([1, 2, 3]), 7)], [1, 2, 3, 1, 2, 3, 1]);
    assert.deepEqual([...fitLength(Float32Array.from([1, 2, 3]), 2)], [1, 2]);
    assert.deepEqual([...fitLength(new Float32Array(0), 2)], [0, 0]);
    const w = prepareWindows(new Float32Array(25), 10, 1);
    assert.equal(w.length, 3);
    assert.ok(w.every((x) => x.length === 10));
    assert.equal(prepareWindows(new Float32Array(3), 10, 1).length, 1);
  });
});
