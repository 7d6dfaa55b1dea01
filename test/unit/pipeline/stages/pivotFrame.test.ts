import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { MIME } from '../../../../src/common/mime';
import type { FrameGridPayload } from '../../../../src/common/payloads';
import type { PivotFrameData, VideoData } from '../../../../src/pipeline/domain';
import { PipelineError } from '../../../../src/pipeline/errors';
import type { ImageEvent, StageEvent, TableEvent, TraceEvent } from '../../../../src/pipeline/events';
import { createLlmService } from '../../../../src/pipeline/llm/service';
import { validateFrameId } from '../../../../src/pipeline/stages/shared';
import { sha256 } from '../../../../src/pipeline/run/hash';
import { defaultSettings } from '../../../../src/pipeline/settings';
import type { StageRequest } from '../../../../src/pipeline/types';
import { OpenAiTestServer, type ReceivedRequest } from '../../../tooling/openaiServer';
import { NotebookSession } from '../../../../src/pipeline/session';
import { RESOURCES, collect, makeContext, stageResult, traces } from '../../../tooling/stageContext';
import { davisVideo } from '../../../tooling/davisVideo';

const KEY = 'sk-local-test-key-000111';

suite('pivot-frame stage on the DAVIS car-shadow frames', () => {
  let server: OpenAiTestServer;
  let tmp: string;
  let video: VideoData;

  suiteSetup(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'alref-pf-'));
    video = await davisVideo(path.join(tmp, 'grids'));
  });
  suiteTeardown(async () => {
    await rm(tmp, { recursive: true, force: true });
  });

  let runDir: string;
  setup(async () => {
    server = await OpenAiTestServer.start({ apiKey: KEY });
    runDir = await mkdtemp(path.join(tmp, 'run-'));
  });
  teardown(async () => {
    await server.stop();
  });

  /** Clip 0 (5 frames) answers [3] = frame 10; clip 1 (3 frames) answers [4], outside the clip. */
  const script = (r: ReceivedRequest): { text: string; chunkSize: number } =>
    r.text.includes('1, 2, 3, 4, 5')
      ? { text: 'Step 1: a dark car drives along a road through tree shadows.\nStep 2: in frame 3 the car is fully visible and sharp.\n[3]', chunkSize: 6 }
      : { text: 'The car leaves the view. Best frame: [4]', chunkSize: 6 };

  function setupRun(mode: 'live' | 'record' | 'replay', promptOverrides: Record<string, string> = {}, getSecret = async (): Promise<string | undefined> => KEY, clips: VideoData = video) {
    const session = new NotebookSession();
    session.put(stageResult('video', 'cell-video', clips));
    session.put(stageResult('reference', 'cell-ref', { source: 'text', targets: [{ objectId: 1, text: 'the black car driving through the shadow' }] }));
    const settings = defaultSettings({ llm: { ...defaultSettings().llm, baseUrl: server.baseUrl, mode, timeoutMs: 5000 } });
    const services = { llm: createLlmService({ runDir, getSecret }) };
    return makeContext({ runDir, session, services, settings, promptOverrides });
  }

  const request = (params: Record<string, unknown> = {}): StageRequest => ({ kind: 'pivot-frame', cellId: 'cell-pf', params, uses: {} });

  test('a clip whose request keeps failing (500 after the retries) is marked invalid; the other clips go on', async () => {
    server.setScript((r) => (r.text.includes('1, 2, 3, 4, 5') ? { fault: 'server-error' } : { text: 'The car leaves. [2]' }));
    const ctx = setupRun('live');
    ctx.settings.llm.maxRetries = 0;
    const { events, result } = await collect(request(), ctx);
    const [c0, c1] = (result.data as PivotFrameData).objects[0].clips;
    assert.deepEqual([c0.clipIndex, c0.frameIndex, c0.valid], [0, null, false]);
    assert.match(c0.note ?? '', /^LLM failed: /);
    assert.equal(c1.valid, true, 'the second clip still got its answer');
    const finals = events.filter((e): e is TraceEvent => e.type === 'trace' && e.final !== undefined);
    assert.ok(finals.some((e) => e.final?.valid === false && /^LLM failed: /.test(e.final.note ?? '')), 'the failed clip closes its trace as invalid');
  });

  test('asks per clip with the grid JPEG, streams the trace, validates answers against the clip', async () => {
    server.setScript(script);
    const { events, result } = await collect(request(), setupRun('live'));
    const data = result.data as PivotFrameData;
    assert.equal(server.requests.length, 2, 'one request per clip');
    for (const r of server.requests) {
      assert.equal(r.imageCount, 1);
      assert.match(r.text, /the black car driving through the shadow/);
    }
    // The image sent is exactly the grid JPEG.
    const sentUrls = server.requests.map((r) => ((r.body.messages[0].content as Array<{ type: string; image_url?: { url: string } }>)[1].image_url?.url ?? ''));
    const gridBytes = await Promise.all(video.grids.map((g) => readFile(g.path)));
    const sentBytes = sentUrls.map((u) => Buffer.from(u.split(',')[1], 'base64'));
    assert.ok(sentBytes.every((b) => gridBytes.some((g) => g.equals(b))));

    assert.equal(data.objects.length, 1);
    const [c0, c1] = data.objects[0].clips;
    assert.deepEqual([c0.clipIndex, c0.frameIndex, c0.valid], [0, 10, true]);
    assert.deepEqual([c1.clipIndex, c1.frameIndex, c1.valid], [1, null, false]);
    assert.match(c1.note ?? '', /invalid answer \[4\].*past the last frame of the clip/);

    // Streamed: several trace deltas per clip, ending with a final event carrying the answer.
    const streams = traces(events);
    assert.equal(streams.size, 2);
    const traceEvents = events.filter((e): e is TraceEvent => e.type === 'trace');
    const deltasClip0 = traceEvents.filter((e) => e.streamId.endsWith(':c0') && e.delta.length > 0);
    assert.ok(deltasClip0.length >= 10, `${deltasClip0.length} deltas`);
    assert.ok(deltasClip0[0].title?.includes('clip 1'));
    const finals = traceEvents.filter((e) => e.final);
    assert.equal(finals.length, 2);
    assert.deepEqual(finals.map((f) => [f.final?.answer, f.final?.valid]).sort(), [['[3]', true], ['[4]', false]]);

    // The chosen frame highlighted in its grid: same size as the grid, darker outside tile 3.
    const img = events.find((e): e is ImageEvent => e.type === 'image');
    assert.ok(img);
    assert.equal(img.renderer?.mime, MIME.frameGrid);
    assert.deepEqual((img.renderer?.payload as FrameGridPayload).highlight, [10]);
    assert.equal((img.renderer?.payload as FrameGridPayload).tiles.length, 5);
    const grid = video.grids[0];
    const meta = await sharp(img.data).metadata();
    assert.deepEqual([meta.width, meta.height], [grid.width, grid.height]);
    const mean = async (bytes: Uint8Array, left: number): Promise<number> => {
      const raw = await sharp(bytes).extract({ left, top: 40, width: 100, height: 60 }).greyscale().raw().toBuffer();
      return raw.reduce((acc, v) => acc + v, 0) / raw.length;
    };
    const tile3 = grid.tiles[2];
    const tile1 = grid.tiles[0];
    const orig = gridBytes[0];
    assert.ok(Math.abs((await mean(img.data, tile3.x + 100)) - (await mean(orig, tile3.x + 100))) < 12, 'chosen tile kept');
    assert.ok((await mean(img.data, tile1.x + 100)) < (await mean(orig, tile1.x + 100)) * 0.7, 'other tiles dimmed');

    // Prompt shown with its hash; template hash in the result; usage table.
    const md = events.filter((e) => e.type === 'markdown').map((e) => (e as { text: string }).text).join('\n');
    assert.match(md, /pivot-frame\.cot/);
    assert.match(md, /sha256 `[0-9a-f]{16}`/);
    const templateText = await readFile(path.join(RESOURCES, 'prompts', 'pivot-frame.cot.md'), 'utf8');
    assert.equal(data.prompt?.templateHash, sha256(templateText));
    assert.equal(data.usage?.calls, 2);
    const usage = events.find((e): e is TableEvent => e.type === 'table' && e.title === 'LLM usage');
    assert.ok(usage);
    assert.equal(usage.rows[usage.rows.length - 1][0], 'total');
  });

  test('record, then replay with the server stopped, gives the same events and result', async () => {
    server.setScript(script);
    const recorded = await collect(request(), setupRun('record'));
    const exchangeFiles = (await readdir(path.join(runDir, 'exchanges'))).filter((f) => f.endsWith('.json'));
    assert.equal(exchangeFiles.length, 2);
    await server.stop();
    const replayed = await collect(request(), setupRun('replay', {}, async () => undefined));
    const strip = (events: StageEvent[]): unknown[] =>
      events.map((e) => (e.type === 'image' ? { ...e, data: sha256(e.data) } : e)).filter((e) => e.type !== 'trace' && e.type !== 'progress');
    assert.deepEqual(replayed.result.data, recorded.result.data);
    assert.equal(replayed.result.inputHash, recorded.result.inputHash);
    assert.deepEqual(strip(replayed.events), strip(recorded.events));
    assert.deepEqual([...traces(replayed.events)].sort(), [...traces(recorded.events)].sort());
    server = await OpenAiTestServer.start();
  });

  test('replay without a recording is a replay-miss naming the cell', async () => {
    await assert.rejects(collect(request(), setupRun('replay')), (err: unknown) => {
      assert.ok(err instanceof PipelineError);
      assert.equal(err.kind, 'replay-miss');
      assert.equal(err.cellId, 'cell-pf');
      return true;
    });
    assert.equal(server.requests.length, 0);
  });

  for (const [strategy, expected] of [['first', [0, 25]], ['middle', [10, 30]], ['last', [20, 35]]] as const) {
    test(`fixed strategy ${strategy} picks frames ${expected.join(', ')} without an LLM call`, async () => {
      const { result } = await collect(request({ strategy }), setupRun('live', {}, async () => undefined));
      const data = result.data as PivotFrameData;
      assert.deepEqual(data.objects[0].clips.map((c) => c.frameIndex), expected);
      assert.ok(data.objects[0].clips.every((c) => c.valid && c.note === `fixed: ${strategy}`));
      assert.equal(server.requests.length, 0);
    });
  }

  test('a prompt cell overrides the template; its hash goes into the result', async () => {
    server.setScript(() => '[2]');
    const override = 'Frames {{frameIds}} of {{frameCount}}. Which one shows "{{expression}}" best? Answer like [1].';
    const { result } = await collect(request(), setupRun('live', { 'pivot-frame.cot': override }));
    const data = result.data as PivotFrameData;
    assert.equal(server.requests[0].text.startsWith('Frames 1, 2, 3'), true);
    assert.deepEqual(data.prompt, { name: 'pivot-frame.cot', source: 'cell', templateHash: sha256(override) });
    assert.deepEqual(data.objects[0].clips.map((c) => c.frameIndex), [5, 30]);
  });

  test('an unknown variable in a prompt cell is an error naming the line, before any call', async () => {
    await assert.rejects(collect(request(), setupRun('live', { 'pivot-frame.cot': 'line one\nuse {{boxList}} here' })), (err: unknown) => {
      assert.ok(err instanceof PipelineError);
      assert.match(err.message, /line 2 of the template text \(below the "template:" line\): unknown variable \{\{boxList\}\}/);
      return true;
    });
    assert.equal(server.requests.length, 0);
  });

  test('a reply without brackets is re-asked once, then the clip is marked invalid visibly', async () => {
    server.setScript(() => 'I am not sure which frame is best.');
    const { events, result } = await collect(request(), setupRun('live'));
    const data = result.data as PivotFrameData;
    assert.equal(server.requests.length, 4, 'each clip asked twice');
    assert.ok(data.objects[0].clips.every((c) => !c.valid && /no valid answer/.test(c.note ?? '')));
    assert.ok(events.some((e) => e.type === 'warning' && /no clip has a valid pivot frame/.test(e.message)));
    const table = events.find((e): e is TableEvent => e.type === 'table' && e.title === 'Pivot frames');
    assert.ok(table?.rows.every((r) => r[4] === 'NO'));
  });

  test('clips run concurrently up to the concurrency setting (2 of 4 clips in flight at most, below the default of 4)', async () => {
    const fourClips = await davisVideo(path.join(tmp, 'grids-4'), { interval: 2 });
    assert.equal(fourClips.clips.length, 4);
    // The first reply waits for a second request, so two are in flight at once by construction; the
    // replies then stream slowly, so clips started beyond the limit would be in flight together too.
    let secondArrived!: () => void;
    const second = new Promise<void>((resolve) => (secondArrived = resolve));
    server.setScript(() => {
      if (server.requests.length >= 2) {
        secondArrived();
      }
      return { text: 'Frame [1]', chunkDelayMs: 50, chunkSize: 3, holdUntil: server.requests.length === 1 ? second : undefined };
    });
    const { result } = await collect(request({ concurrency: 2 }), setupRun('live', {}, undefined, fourClips));
    assert.equal(server.requests.length, 4);
    assert.equal(server.maxInFlight, 2);
    assert.ok((result.data as PivotFrameData).objects[0].clips.every((c) => c.valid));
  });

  test('frame-id validation: below 1, past the clip, past the end of the video', () => {
    const grid = video.grids[1];
    assert.deepEqual(validateFrameId(2, grid, 40), { frameIndex: 30 });
    assert.match((validateFrameId(0, grid, 40) as { invalid: string }).invalid, /not one of the clip's ids \(1-3\)/);
    assert.match((validateFrameId(-1, grid, 40) as { invalid: string }).invalid, /not one of the clip's ids/);
    assert.match((validateFrameId(4, grid, 40) as { invalid: string }).invalid, /past the last frame of the clip/);
    assert.match((validateFrameId(3, grid, 33) as { invalid: string }).invalid, /past the end of the video/);
  });
});

