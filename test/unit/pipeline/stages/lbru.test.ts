import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { MIME } from '../../../../src/common/mime';
import type { AudioTimelinePayload } from '../../../../src/common/payloads';
import type { MaskData, VideoData } from '../../../../src/pipeline/domain';
import { PipelineError } from '../../../../src/pipeline/errors';
import type { ImageEvent, StageEvent, TableEvent, TraceEvent } from '../../../../src/pipeline/events';
import { createLlmService } from '../../../../src/pipeline/llm/service';
import { resolveFfmpeg } from '../../../../src/pipeline/media/ffmpeg';
import { SessionRuntime } from '../../../../src/pipeline/models/runtime';
import { createModelService } from '../../../../src/pipeline/models/service';
import { defaultSettings } from '../../../../src/pipeline/settings';
import { type LbruData, parseLbruAnswer, referenceText, runLbru } from '../../../../src/pipeline/stages/lbru';
import { runVideo } from '../../../../src/pipeline/stages/video';
import { runPivotFrame } from '../../../../src/pipeline/stages/pivotFrame';
import { runPivotBox } from '../../../../src/pipeline/stages/pivotBox';
import { runPropagate } from '../../../../src/pipeline/stages/propagate';
import { readMasksFile } from '../../../../src/pipeline/masks/davisExport';
import { decodeRle, rleArea } from '../../../../src/pipeline/masks/rle';
import { filterSilentObjects } from '../../../../src/pipeline/audio/soundEvents';
import { maskBoxIou, writeMovingSquare } from '../../../tooling/movingSquare';
import { writeModelFixtures } from '../../../tooling/onnxFixtures';
import type { StageContext, StageRequest } from '../../../../src/pipeline/types';
import { OpenAiTestServer } from '../../../tooling/openaiServer';
import { NotebookSession } from '../../../../src/pipeline/session';
import { makeContext, stageResult } from '../../../tooling/stageContext';
import { BARK, DOG, buildBeatsFixture, buildWaveformFixture, csvMids, writeBeatsFixtures } from '../../../tooling/taggerGraphs';
import { SAMPLES } from '../../../tooling/media';

const DOG_MP4 = path.join(SAMPLES, '01_dog.mp4');
const KEY = 'sk-local-lbru-test';

async function drain<T>(gen: AsyncGenerator<StageEvent, T, void>): Promise<{ events: StageEvent[]; value: T }> {
  const events: StageEvent[] = [];
  for (;;) {
    const r = await gen.next();
    if (r.done) {
      return { events, value: r.value };
    }
    events.push(r.value);
  }
}

suite('lbru stage: audio tags + frame grid -> sounding objects (01_dog.mp4, fixture taggers, local LLM server)', function () {
  this.timeout(120_000);
  let tmp: string;
  let video: VideoData;
  let barkWav: string;
  let modelsDir: string;
  let server: OpenAiTestServer;
  let runtime: SessionRuntime;

  suiteSetup(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'alref-lbru-'));
    // The real video stage in AVS mode on the sample clip (downscaled to keep the test light).
    const ctx = makeContext({ runDir: tmp });
    const { value } = await drain(runVideo({ kind: 'video', cellId: 'cell-video', params: { source: DOG_MP4, mode: 'avs', maxSide: 320, filmstripFrames: 0 }, uses: {} }, ctx));
    video = value.data as VideoData;
    // The sample's own audio track is digital silence, so a soundtrack with barks from 2 s to 5 s is made.
    const ffmpeg = resolveFfmpeg(defaultSettings()).ffmpeg;
    barkWav = path.join(tmp, 'bark.wav');
    const bark = 'if(between(t,2,5),0.6*exp(-12*mod(t,0.5))*(sin(2*PI*(500-300*mod(t,0.5))*t)+0.5*sin(4*PI*(500-300*mod(t,0.5))*t))/1.5,0)';
    execFileSync(ffmpeg, ['-v', 'error', '-y', '-f', 'lavfi', '-i', `aevalsrc=exprs='${bark}':s=48000:d=9.6`, '-ac', '2', barkWav]);
    // Fixture taggers laid out as models.localDir/<id>/model.onnx.
    modelsDir = path.join(tmp, 'models');
    for (const [id, bytes] of [['efficientat-mn10-as', buildWaveformFixture()], ['beats-iter3-as2m-cpt1', buildBeatsFixture()]] as const) {
      await mkdir(path.join(modelsDir, id), { recursive: true });
      await writeFile(path.join(modelsDir, id, 'model.onnx'), bytes);
    }
    runtime = new SessionRuntime({ executionProvider: 'cpu', threads: 1, idleReleaseMs: 1000 });
  });
  suiteTeardown(async () => {
    await rm(tmp, { recursive: true, force: true });
  });
  setup(async () => {
    server = await OpenAiTestServer.start({ apiKey: KEY });
  });
  teardown(async () => {
    await server.stop();
  });

  function context(localDir = modelsDir, mode: 'live' | 'record' | 'replay' = 'live'): StageContext {
    const session = new NotebookSession();
    session.put(stageResult('video', 'cell-video', video));
    const settings = defaultSettings({
      llm: { ...defaultSettings().llm, baseUrl: server.baseUrl, timeoutMs: 5000, maxRetries: 0, mode },
      models: { ...defaultSettings().models, localDir, cacheDir: path.join(tmp, 'cache') },
    });
    const services = {
      llm: createLlmService({ runDir: tmp, getSecret: async () => KEY }),
      models: createModelService(settings.models, { userCacheDir: tmp }, runtime),
    };
    return makeContext({ runDir: tmp, baseDir: tmp, session, services, settings });
  }

  const request = (params: Record<string, unknown>): StageRequest => ({ kind: 'lbru', cellId: 'cell-lbru', params, uses: {} });

  test('the video stage gave an AVS grid of 5 frames and an audio track', () => {
    assert.equal(video.mode, 'avs');
    assert.equal(video.grids.length, 1);
    assert.equal(video.grids[0].tiles.length, 5);
    assert.ok(video.info.audio);
  });

  test('LLM answer -> one target per category with its pivot frame; vocabulary mapping; streamed trace; timeline', async () => {
    server.enqueue({
      text: 'Step 1: Dog and Bark come from the dog on the grass; Speech has no visible speaker.\nStep 2: Dog and Bark are merged.\n' +
        "Step 3: dog is in the list. A puppy is also there.\nStep 4: ['Dog': 2, 'puppies': 4, 'guitarr': 9]",
      chunkSize: 7,
    });
    const { events, value } = await drain(runLbru(request({ audio: barkWav }), context()));
    const data = value.data as LbruData;
    // One request with the grid image and the labels.
    assert.equal(server.requests.length, 1);
    assert.equal(server.requests[0].imageCount, 1);
    assert.match(server.requests[0].text, /Dog, Bark/);
    assert.match(server.requests[0].text, /accordion, airplane/);
    // Labels: Silence zeroed, Dog and Bark on top.
    assert.deepEqual(data.labels.slice(0, 2).map((l) => l.name), ['Dog', 'Bark']);
    assert.ok(!data.labels.some((l) => l.name === 'Silence'));
    // Targets.
    const tiles = video.grids[0].tiles;
    assert.equal(data.answerValid, true);
    assert.deepEqual(data.targets.map((t) => [t.objectId, t.category, t.text, t.pivotFrameIndex]), [
      [1, 'dog', 'the dog that is making sound', tiles[1].frameIndex],
      // "puppies" is not a class: the synonym list makes it "dog", merged into object 1 (reference code:
      // every category maps to its nearest class); frame id 9 is past the grid: frame 1, the category kept
      [2, 'guitar', 'the guitar that is making sound', tiles[0].frameIndex],
    ]);
    assert.match(data.entries.find((e) => e.input === 'puppies')?.note ?? '', /merged into object 1/);
    const guitar = data.entries.find((e) => e.input === 'guitarr');
    assert.ok(guitar && guitar.category === 'guitar' && /past the last frame.*frame 1 used/.test(guitar.note ?? ''), JSON.stringify(guitar));
    assert.equal(data.entries.find((e) => e.input === 'Dog')?.how, 'exact');
    // Fates: Dog and Bark both name the dog.
    assert.deepEqual(data.fates.filter((f) => f.fate === 'merged').map((f) => f.label).sort(), ['Bark', 'Dog']);
    // Streamed trace with a final answer.
    const trace = events.filter((e): e is TraceEvent => e.type === 'trace');
    assert.ok(trace.filter((e) => e.delta).length > 10);
    const final = trace.find((e) => e.final)?.final;
    assert.equal(final?.valid, true);
    assert.match(final?.answer ?? '', /'Dog': 2/);
    // Sound events: dog sounds from 2 s to 5 s only.
    const act = data.activity;
    assert.ok(act);
    const dog = act.categories.find((c) => c.category === 'dog');
    assert.ok(dog);
    assert.ok(dog.labelIndices.includes(74) && dog.labelIndices.includes(75), 'Dog and Bark (and other dog sounds) drive the dog row');
    assert.deepEqual(dog.active.slice(0, 9).map((a) => (a ? 1 : 0)).join(''), '001110000');
    assert.ok(act.segments.length >= 3);
    // The timeline image with the custom renderer and its payload.
    const img = events.find((e): e is ImageEvent => e.type === 'image' && e.renderer?.mime === MIME.audioTimeline);
    assert.ok(img);
    assert.equal(img.mime, 'image/png');
    const payload = img.renderer?.payload as AudioTimelinePayload;
    const meta = await sharp(img.data).metadata();
    assert.deepEqual([meta.width, meta.height], [payload.width, payload.height]);
    assert.deepEqual(payload.categories.map((c) => c.category), ['dog', 'guitar']);
    assert.equal(payload.frames?.length, 5);
    // Tables: labels, entries, fates.
    const titles = events.filter((e): e is TableEvent => e.type === 'table').map((t) => t.title ?? '');
    assert.ok(titles.some((t) => /Audio labels \(top 5/.test(t)));
    assert.ok(titles.some((t) => /kept, merged, dropped/.test(t)));
  });

  test('record, then replay with the server stopped: same result and input hash', async () => {
    server.enqueue("['dog': 2]");
    const recorded = await drain(runLbru(request({ audio: barkWav }), context(modelsDir, 'record')));
    await server.stop();
    const replayed = await drain(runLbru(request({ audio: barkWav }), context(modelsDir, 'replay')));
    assert.deepEqual(replayed.value.data, recorded.value.data);
    assert.equal(replayed.value.inputHash, recorded.value.inputHash);
    assert.equal((replayed.value.data as LbruData).targets[0].category, 'dog');
    server = await OpenAiTestServer.start({ apiKey: KEY });
  });

  test('a reply without entries is re-asked once, then an invalid result with a warning and no targets', async () => {
    server.enqueue('I think a dog is barking somewhere.', 'Still not sure, probably the dog.');
    const { events, value } = await drain(runLbru(request({ audio: barkWav, soundEvents: false }), context()));
    const data = value.data as LbruData;
    assert.equal(server.requests.length, 2);
    assert.equal(data.answerValid, false);
    assert.equal(data.targets.length, 0);
    assert.ok(events.some((e) => e.type === 'warning' && /no 'category': frameId entries/.test(e.message)));
    assert.equal(data.activity, undefined);
  });

  test('an explicit [] means nothing visible sounds: valid, no re-ask, no targets', async () => {
    server.enqueue('None of the labels has a visible source. []');
    const { value } = await drain(runLbru(request({ audio: barkWav }), context()));
    const data = value.data as LbruData;
    assert.equal(server.requests.length, 1);
    assert.equal(data.answerValid, true);
    assert.equal(data.targets.length, 0);
  });

  test('labels-only ablation: tagger labels become the references, no LLM call', async () => {
    const { value } = await drain(runLbru(request({ audio: barkWav, strategy: 'labels-only', topK: 3 }), context()));
    const data = value.data as LbruData;
    assert.equal(server.requests.length, 0);
    assert.equal(data.strategy, 'labels-only');
    assert.equal(data.targets[0].category, 'dog');
    assert.equal(data.targets[0].pivotFrameIndex, undefined, 'the pivot-frame stage chooses the frame');
    assert.match(data.entries[1].note ?? '', /same category/);
  });

  test('union of two checkpoints (waveform and BEATs fixtures): sources recorded per label', async () => {
    server.enqueue("['dog': 1]");
    const { value } = await drain(runLbru(request({ audio: barkWav, taggers: ['efficientat-mn10-as', 'beats-iter3-as2m-cpt1'] }), context()));
    const data = value.data as LbruData;
    assert.equal(data.taggers.length, 2);
    assert.deepEqual(data.taggers.map((t) => [t.input, t.sampleRate]), [['waveform', 32000], ['fbank', 16000]]);
    // Each label once, with the taggers whose top 5 held it; both taggers contribute.
    assert.ok(data.labels.length >= 5 && data.labels.length <= 10);
    assert.equal(new Set(data.labels.map((l) => l.index)).size, data.labels.length);
    for (const t of data.taggers) {
      assert.equal(t.labels.length, 5);
      assert.ok(t.labels.every((l) => data.labels.find((u) => u.index === l.index)?.sources?.includes(t.id)));
    }
    assert.deepEqual(data.labels.find((l) => l.index === 74)?.sources?.[0], 'efficientat-mn10-as');
    assert.deepEqual(data.audio.sampleRates.sort(), [16000, 32000]);
  });

  test("the sample's own (silent) track: labels come with a silence warning", async () => {
    server.enqueue('[]');
    const { events, value } = await drain(runLbru(request({}), context()));
    const data = value.data as LbruData;
    assert.equal(data.audio.silent, true);
    assert.ok(events.some((e) => e.type === 'warning' && /silent/.test(e.message)));
  });

  test('a 0.2 s soundtrack is tagged (looped to 1 s) with a warning', async () => {
    const ffmpeg = resolveFfmpeg(defaultSettings()).ffmpeg;
    const short = path.join(tmp, 'short.wav');
    execFileSync(ffmpeg, ['-v', 'error', '-y', '-f', 'lavfi', '-i', 'sine=frequency=600:duration=0.2', short]);
    server.enqueue("['dog': 3]");
    const { events, value } = await drain(runLbru(request({ audio: short }), context()));
    const data = value.data as LbruData;
    assert.ok(data.audio.durationSec < 0.25);
    assert.equal(data.taggers[0].looped, true);
    assert.ok(events.some((e) => e.type === 'warning' && /looped to 1 s/.test(e.message)));
    assert.equal(data.targets.length, 1);
    assert.equal(data.activity?.categories[0].active.length, 1);
  });

  test('a video without an audio track is a clear invalid-input error', async () => {
    const ctx = context();
    const noAudio: VideoData = { ...video, info: { ...video.info, source: path.join(SAMPLES, 'bedroom.mp4'), audio: null } };
    (ctx.session as NotebookSession).put(stageResult('video', 'cell-video-2', noAudio));
    await assert.rejects(drain(runLbru(request({}), ctx)), (err: unknown) => {
      assert.ok(err instanceof PipelineError);
      assert.equal(err.kind, 'invalid-input');
      assert.equal(err.field, 'audio');
      assert.match(err.message, /bedroom\.mp4 has no audio track/);
      return true;
    });
  });

  test('a tagger given as an ONNX file path (a BEATs export) is used directly; a wrong path is an invalid-input error', async () => {
    const file = path.join(tmp, 'my-beats.onnx');
    await writeFile(file, buildBeatsFixture());
    server.enqueue("['dog': 1]");
    const { value } = await drain(runLbru(request({ audio: barkWav, tagger: 'my-beats.onnx', soundEvents: false }), context()));
    const data = value.data as LbruData;
    assert.deepEqual(data.taggers.map((t) => [t.id, t.input, t.sampleRate]), [['my-beats.onnx', 'fbank', 16000]]);
    await assert.rejects(drain(runLbru(request({ audio: barkWav, tagger: 'nope.onnx' }), context())), (err: unknown) =>
      err instanceof PipelineError && err.kind === 'invalid-input' && err.field === 'tagger' && /nope\.onnx does not exist/.test(err.message));
  });

  test('a tagger that is not installed is a missing-model error naming the model', async () => {
    await assert.rejects(drain(runLbru(request({ audio: barkWav, tagger: 'beats-iter3-as2m-cpt2' }), context())), (err: unknown) => {
      assert.ok(err instanceof PipelineError);
      assert.equal(err.kind, 'missing-model');
      assert.match(err.message, /beats-iter3-as2m-cpt2/);
      return true;
    });
  });

  function presetContext(preset: string, localDir: string): StageContext {
    const ctx = context(localDir);
    (ctx.session as NotebookSession).put(stageResult('video', 'cell-video', { ...video, preset }));
    return ctx;
  }

  test('S4 (reference code): preset avsbench-s4 tags with BEATs AS2M cpt2 alone, asks for ONE source (lbru.single) and keeps the first entry', async () => {
    const beatsDir = path.join(tmp, 'models-beats');
    await writeBeatsFixtures(beatsDir);
    server.enqueue("Step 1: a dog barks, a man stands by. ['dog': 2, 'man': 3]");
    const { value } = await drain(runLbru(request({ audio: barkWav, soundEvents: false }), presetContext('avsbench-s4', beatsDir)));
    const data = value.data as LbruData;
    assert.deepEqual(data.taggers.map((t) => t.id), ['beats-iter3-as2m-cpt2']);
    assert.match(data.taggers[0].labelDict ?? '', /model\.label_dict\.json$/);
    assert.match(server.requests[0].text, /exactly one 'category': frameId entry/);
    assert.equal(data.prompt?.name, 'lbru.single');
    assert.deepEqual(data.targets.map((t) => t.category), ['dog']);
    assert.match(data.entries.find((e) => e.input === 'man')?.note ?? '', /single source \(S4\): only the first entry is kept/);
  });

  test('MS3 / AVSS / V2 presets (reference code): the top-5 of BEATs AS20K cpt2 and AS2M cpt2 are united', async () => {
    const beatsDir = path.join(tmp, 'models-beats');
    await writeBeatsFixtures(beatsDir);
    for (const preset of ['avsbench-ms3', 'avss', 'avss-v2-binary']) {
      server.enqueue("['dog': 1]");
      const { value } = await drain(runLbru(request({ audio: barkWav, soundEvents: false }), presetContext(preset, beatsDir)));
      const data = value.data as LbruData;
      assert.deepEqual(data.taggers.map((t) => t.id), ['beats-iter3-as20k-cpt2', 'beats-iter3-as2m-cpt2'], preset);
      assert.equal(data.prompt?.name, 'lbru.cot', preset);
    }
  });

  test('AVSS class ids (reference code): every answered category becomes one of the vocabulary classes (synonyms, then the closest name)', async () => {
    server.enqueue("['person': 1, 'kazoo': 2]");
    const { value } = await drain(runLbru(request({ audio: barkWav, soundEvents: false }), context()));
    const data = value.data as LbruData;
    const cats = data.targets.map((t) => t.category as string);
    assert.equal(cats[0], 'man');
    assert.match(data.entries[0].note ?? '', /synonym/);
    assert.equal(cats.length, 2);
    const vocab = (await import('node:fs')).readFileSync(path.resolve(__dirname, '../../../../assets/audioset/avsbench-categories.txt'), 'utf8');
    assert.ok(vocab.split('\n').includes(cats[1]), cats[1]);
    // `keep` still keeps it as written
    server.enqueue("['kazoo': 2]");
    const kept = await drain(runLbru(request({ audio: barkWav, soundEvents: false, outOfVocabulary: 'keep' }), context()));
    assert.deepEqual((kept.value.data as LbruData).targets.map((t) => t.category), ['kazoo']);
  });

  test("BEATs label_dict (docs/PIPELINE.md): outputs are named through the checkpoint's own index -> label map, not the CSV order", async () => {
    // a BEATs export whose outputs 74 (Dog) and 75 (Bark) are, in its label_dict, Cat (81) and Purr (82)
    const mids = csvMids();
    const dict = Object.fromEntries(mids.map((mid, i) => [String(i), mid]));
    dict[String(DOG)] = mids[81];
    dict[String(BARK)] = mids[82];
    dict['81'] = mids[DOG];
    dict['82'] = mids[BARK];
    // a soundtrack that barks all along, so the BEATs fixture ranks Dog and Bark first
    const loud = path.join(tmp, 'loud-bark.wav');
    const bark = '0.6*exp(-12*mod(t,0.5))*(sin(2*PI*(500-300*mod(t,0.5))*t)+0.5*sin(4*PI*(500-300*mod(t,0.5))*t))/1.5';
    execFileSync(resolveFfmpeg(defaultSettings()).ffmpeg, ['-v', 'error', '-y', '-f', 'lavfi', '-i', `aevalsrc=exprs='${bark}':s=16000:d=3`, loud]);
    await writeFile(path.join(tmp, 'perm.onnx'), buildBeatsFixture());
    await writeFile(path.join(tmp, 'perm.label_dict.json'), JSON.stringify(dict));
    const mapped = await drain(runLbru(request({ audio: loud, tagger: 'perm.onnx', strategy: 'labels-only', soundEvents: false }), context()));
    const labels = (mapped.value.data as LbruData).labels.map((l) => l.name);
    assert.ok(labels.includes('Cat') && labels.includes('Purr'), labels.join(', '));
    assert.ok(!labels.includes('Dog') && !labels.includes('Bark'), labels.join(', '));
    assert.ok(!mapped.events.some((e) => e.type === 'warning' && /label_dict/.test(e.message)));
    // editing the sidecar changes the cell's input hash (the same path, other labels); an unchanged one keeps it
    const again = await drain(runLbru(request({ audio: loud, tagger: 'perm.onnx', strategy: 'labels-only', soundEvents: false }), context()));
    assert.equal(again.value.inputHash, mapped.value.inputHash);
    await writeFile(path.join(tmp, 'perm.label_dict.json'), JSON.stringify(Object.fromEntries(mids.map((mid, i) => [String(i), mid]))));
    const edited = await drain(runLbru(request({ audio: loud, tagger: 'perm.onnx', strategy: 'labels-only', soundEvents: false }), context()));
    assert.notEqual(edited.value.inputHash, mapped.value.inputHash);
    // without the sidecar: CSV order, with a warning that names the missing file
    await writeFile(path.join(tmp, 'plain.onnx'), buildBeatsFixture());
    const plain = await drain(runLbru(request({ audio: loud, tagger: 'plain.onnx', strategy: 'labels-only', soundEvents: false }), context()));
    const plainLabels = (plain.value.data as LbruData).labels.map((l) => l.name);
    assert.ok(plainLabels.includes('Dog') && plainLabels.includes('Bark') && !plainLabels.includes('Cat'), plainLabels.join(', '));
    assert.ok(plain.events.some((e) => e.type === 'warning' && /without a label_dict sidecar \(plain\.label_dict\.json/.test(e.message)));
  });

  test('parseLbruAnswer and referenceText', () => {
    const r = parseLbruAnswer('nothing here []');
    assert.ok(r.ok && r.value.entries.length === 0);
    assert.equal(parseLbruAnswer('[none]').ok, false);
    assert.equal(referenceText('emergency-car'), 'the emergency car that is making sound');
  });
});

suite('lbru -> pivot-frame -> pivot-box -> propagate -> silent-frame filtering (fixture models, moving square, barks from 2 s to 5 s)', function () {
  this.timeout(180_000);
  let tmp: string;
  let server: OpenAiTestServer;
  let runtime: SessionRuntime;

  suiteSetup(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'alref-lbru-chain-'));
    server = await OpenAiTestServer.start({ apiKey: KEY });
    runtime = new SessionRuntime({ executionProvider: 'cpu', threads: 1, idleReleaseMs: 1000 });
  });
  suiteTeardown(async () => {
    await server.stop();
    await runtime.dispose();
    await rm(tmp, { recursive: true, force: true });
  });

  test('each LBRU category is segmented and its masks are removed where it is silent', async () => {

    // 24 frames at 4 fps = 6 s; barks from 2 s to 5 s.
    const clip = await writeMovingSquare(path.join(tmp, 'frames'), { frames: 24, distractor: false });
    const ffmpeg = resolveFfmpeg(defaultSettings()).ffmpeg;
    const wav = path.join(tmp, 'bark.wav');
    const bark = 'if(between(t,2,5),0.6*exp(-12*mod(t,0.5))*sin(2*PI*(500-300*mod(t,0.5))*t),0)';
    execFileSync(ffmpeg, ['-v', 'error', '-y', '-f', 'lavfi', '-i', `aevalsrc=exprs='${bark}':s=48000:d=6`, wav]);
    const models = path.join(tmp, 'models');
    await writeModelFixtures(models, { only: ['sam2'] });
    await mkdir(path.join(models, 'efficientat-mn10-as'), { recursive: true });
    await writeFile(path.join(models, 'efficientat-mn10-as', 'model.onnx'), buildWaveformFixture());

    const session = new NotebookSession();
    const settings = defaultSettings({
      llm: { ...defaultSettings().llm, baseUrl: server.baseUrl, timeoutMs: 5000, maxRetries: 0 },
      models: { ...defaultSettings().models, localDir: models, cacheDir: path.join(tmp, 'cache') },
    });
    const ctx = makeContext({
      runDir: path.join(tmp, 'run'),
      baseDir: tmp,
      session,
      settings,
      services: { llm: createLlmService({ runDir: path.join(tmp, 'run'), getSecret: async () => KEY }), models: createModelService(settings.models, { userCacheDir: tmp }, runtime) },
    });
    const run = async (kind: StageRequest['kind'], fn: (r: StageRequest, c: StageContext) => AsyncGenerator<StageEvent, { data: unknown; inputHash: string; upstream: string[] }, void>, params: Record<string, unknown>) => {
      const { events, value } = await drain(fn({ kind, cellId: `cell-${kind}`, params, uses: {} }, ctx));
      session.put(stageResult(kind, `cell-${kind}`, value.data, value));
      return { events, data: value.data };
    };

    const v = await run('video', runVideo as never, { source: clip.dir, mode: 'avs', fps: 4, filmstripFrames: 0 });
    const video = v.data as VideoData;
    assert.equal(video.grids[0].tiles.length, 5);
    server.enqueue("Step 1: the white square barks. ['dog': 3]");
    const l = await run('lbru', runLbru as never, { audio: wav });
    const lbru = l.data as LbruData;
    assert.deepEqual(lbru.targets.map((t) => [t.category, t.pivotFrameIndex]), [['dog', video.grids[0].tiles[2].frameIndex]]);
    const pf = await run('pivot-frame', runPivotFrame as never, {});
    assert.equal(server.requests.length, 1, 'the pivot frame comes from LBRU: no second LLM call');
    assert.deepEqual((pf.data as { objects: Array<{ clips: Array<{ frameIndex: number | null }> }> }).objects[0].clips.map((c) => c.frameIndex), [lbru.targets[0].pivotFrameIndex]);
    // A typed candidate on the LBRU pivot frame (pivot-box loads GroundingDINO with a dynamic import,
    // which this test loader cannot resolve; the detector has its own tests).
    const b = clip.boxes[lbru.targets[0].pivotFrameIndex as number];
    await run('pivot-box', runPivotBox as never, { candidates: [[b.x0, b.y0, b.x1, b.y1]] });
    // one target: no silent-frame filtering by default (reference code)
    const plain = await run('propagate', runPropagate as never, {});
    assert.ok(plain.events.some((e) => e.type === 'markdown' && /Silent-frame filtering is off \(a single target\)/.test(e.text)));
    assert.ok(!plain.events.some((e) => e.type === 'table' && /Silent-frame filtering/.test(e.title ?? '')));
    const prop = await run('propagate', runPropagate as never, { silenceFilter: true });
    const maskData = prop.data as MaskData;
    const masks = await readMasksFile(maskData.objects[0].masksFile, 24);
    assert.ok(maskBoxIou(decodeRle(masks[12]), clip.width, clip.boxes[12]) > 0.5, 'the square is segmented');

    // The propagate stage itself removes the dog's masks where it is silent (before 2 s and from
    // 5 s on: frames 0-7 and 20-23) and says so in a table.
    const filterTable = prop.events.find((e) => e.type === 'table' && /Silent-frame filtering/.test(e.title ?? ''));
    assert.ok(filterTable && filterTable.type === 'table');
    assert.deepEqual(filterTable.rows, [[1, 'dog', 12, 12]]);
    for (let f = 0; f < 24; f++) {
      const area = rleArea(masks[f]);
      assert.ok(f >= 8 && f < 20 ? area > 0 : area === 0, `frame ${f}: area ${area}`);
    }
    // The pure filter gives the same frames (it is what the stage applies).
    const [filtered] = filterSilentObjects([{ objectId: 1, category: 'dog', masks }], lbru.activity as NonNullable<LbruData['activity']>, video.info.fps);
    assert.deepEqual(filtered.cleared, [0, 1, 2, 3, 4, 5, 6, 7, 20, 21, 22, 23]);
  });
});
