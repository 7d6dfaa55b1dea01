/**
 * LLM-side benchmarks (prints figures, asserts nothing):
 * 1. Overhead of the LLM path in a 10-clip pivot-frame run in replay mode (no network): the same run
 *    with `strategy: first` (no LLM) is the baseline; the difference is what the LLM path costs
 *    (request hashing, exchange lookup, replayed streaming, parsing, highlighting the chosen tile).
 * 2. Latency from a streamed chunk leaving the local OpenAI-compatible server to the trace event
 *    reaching the consumer of the stage (through the openai client, the service, asTrace and
 *    runConcurrent), over one reply of 200 chunks.
 * 3. Long streamed replies (0.5, 1, 2 and 4 MB, 256-character chunks) through the whole path to the
 *    cell outputs (CellOutputBuilder): wall time, trace-output rebuilds, bytes built and the stored
 *    trace size. Linear handling shows as time roughly proportional to the size.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import type { VideoData } from '../src/pipeline/domain';
import { CellOutputBuilder } from '../src/pipeline/cells/outputBuilder';
import { createLlmService } from '../src/pipeline/llm/service';
import { defaultSettings } from '../src/pipeline/settings';
import type { StageRequest } from '../src/pipeline/types';
import { NotebookSession } from '../src/pipeline/session';
import { collect, makeContext, stageResult } from '../test/tooling/stageContext';
import { DAVIS_FRAMES, DAVIS_HEIGHT, DAVIS_WIDTH, buildGrid } from '../test/tooling/davisVideo';
import { OpenAiTestServer } from '../test/tooling/openaiServer';

const KEY = 'bench-key';

async function tenClipVideo(dir: string): Promise<VideoData> {
  const clips = Array.from({ length: 10 }, (_, t) => ({ clipIndex: t, frameIndices: [0, 1, 2, 3].map((k) => t * 4 + k) }));
  const grids = [];
  for (const c of clips) {
    grids.push(await buildGrid(DAVIS_FRAMES, c, dir));
  }
  return {
    info: { source: DAVIS_FRAMES, sourceKind: 'frames', width: DAVIS_WIDTH, height: DAVIS_HEIGHT, fps: 24, frameCount: 40, durationSec: 40 / 24, rotation: 0, variableFrameRate: false, audio: null },
    mode: 'rvos', interval: 1, framesPerClip: 4, clips, grids, framesDir: DAVIS_FRAMES,
  };
}

function stats(xs: number[]): string {
  const s = [...xs].sort((a, b) => a - b);
  const q = (p: number): number => s[Math.min(s.length - 1, Math.floor(p * s.length))];
  return `median ${q(0.5).toFixed(3)} ms, p90 ${q(0.9).toFixed(3)} ms, max ${s[s.length - 1].toFixed(3)} ms (n=${s.length})`;
}

async function main(): Promise<void> {
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'alref-bench-llm-'));
  const server = await OpenAiTestServer.start({ apiKey: KEY });
  try {
    const video = await tenClipVideo(path.join(tmp, 'grids'));
    const runDir = path.join(tmp, 'run');
    const reply = 'Step 1. A car drives along a road lined with buildings and passes through the shadow of a tree; it moves from left to right. '.repeat(3) + 'Step 2. Frame 2 shows it whole and sharp. [2]';
    server.setScript(() => ({ text: reply, chunkSize: 8 }));
    const ctxFor = (mode: 'record' | 'replay' | 'live') => {
      const session = new NotebookSession();
      session.put(stageResult('video', 'v', video));
      session.put(stageResult('reference', 'r', { source: 'text', targets: [{ objectId: 1, text: 'the car driving through the shadow' }] }));
      const settings = defaultSettings({ llm: { ...defaultSettings().llm, baseUrl: server.baseUrl, mode } });
      return makeContext({ runDir, session, settings, services: { llm: createLlmService({ runDir, getSecret: async () => KEY }) } });
    };
    const req = (params: Record<string, unknown>): StageRequest => ({ kind: 'pivot-frame', cellId: 'pf', params, uses: {} });

    await collect(req({}), ctxFor('record'));
    // Warm up both paths once.
    await collect(req({}), ctxFor('replay'));
    await collect(req({ strategy: 'first' }), ctxFor('replay'));
    const runs = 5;
    const llmTimes: number[] = [];
    const baseTimes: number[] = [];
    for (let i = 0; i < runs; i++) {
      let t = performance.now();
      await collect(req({}), ctxFor('replay'));
      llmTimes.push(performance.now() - t);
      t = performance.now();
      await collect(req({ strategy: 'first' }), ctxFor('replay'));
      baseTimes.push(performance.now() - t);
    }
    const med = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
    console.log(`10-clip pivot-frame, replay mode (${runs} runs, medians):`);
    console.log(`  with the LLM path (replayed):   ${med(llmTimes).toFixed(1)} ms`);
    console.log(`  fixed first frame (no LLM):     ${med(baseTimes).toFixed(1)} ms`);
    console.log(`  LLM-side overhead:              ${(med(llmTimes) - med(baseTimes)).toFixed(1)} ms total, ${((med(llmTimes) - med(baseTimes)) / 10).toFixed(1)} ms per clip`);

    // Chunk latency, live through the local server.
    const sent: number[] = [];
    const long = Array.from({ length: 200 }, (_, i) => `c${String(i).padStart(3, '0')}x`).join('') + ' [1]';
    server.setScript(() => ({ text: long, chunkSize: 5, chunkDelayMs: 3, onChunk: (i) => { sent[i] = performance.now(); } }));
    const oneClip: VideoData = { ...video, clips: video.clips.slice(0, 1), grids: video.grids.slice(0, 1) };
    const session = new NotebookSession();
    session.put(stageResult('video', 'v', oneClip));
    session.put(stageResult('reference', 'r', { source: 'text', targets: [{ objectId: 1, text: 'the car' }] }));
    const settings = defaultSettings({ llm: { ...defaultSettings().llm, baseUrl: server.baseUrl, mode: 'live' } });
    const ctx = makeContext({ runDir, session, settings, services: { llm: createLlmService({ runDir, getSecret: async () => KEY }) } });
    const received: number[] = [];
    const { runStage } = await import('../src/pipeline/stages/index');
    const it = runStage(req({}), ctx);
    let text = '';
    for (let r = await it.next(); !r.done; r = await it.next()) {
      const e = r.value;
      if (e.type === 'trace' && e.delta.length > 0 && !e.final) {
        const now = performance.now();
        // Deltas map 1:1 to server chunks of 5 characters.
        for (let k = text.length; k < text.length + e.delta.length; k += 5) {
          received[k / 5] = now;
        }
        text += e.delta;
      }
    }
    const lat = sent.map((t, i) => received[i] - t).filter((x) => Number.isFinite(x));
    console.log(`Streamed chunk -> trace event at the stage consumer (local server, 200 chunks): ${stats(lat)}`);

    // Long replies, live through the local server, to the cell outputs.
    console.log('Long streamed reply -> cell outputs (one clip, live, 256-char chunks; the first, 0.25 MB, warms up):');
    for (const mb of [0.25, 0.5, 1, 2, 4]) {
      const sentence = 'The car moves along the road and the shadow of the tree covers it. ';
      const big = `${sentence.repeat(Math.ceil((mb * 1024 * 1024) / sentence.length))}So the answer is [2]`;
      server.setScript(() => ({ text: big, chunkSize: 256 }));
      let updates = 0;
      let bytes = 0;
      const builder = new CellOutputBuilder((change, outputs) => {
        if (change.slot.startsWith('trace:')) {
          updates++;
          bytes += outputs[change.index].items.reduce((n, i) => n + i.data.length, 0);
        }
      });
      const t0 = performance.now();
      const heap0 = process.memoryUsage().heapUsed;
      const run = runStage(req({}), makeContext({ runDir, session, settings, services: { llm: createLlmService({ runDir, getSecret: async () => KEY }) } }));
      let deltas = 0;
      for (let r = await run.next(); !r.done; r = await run.next()) {
        if (r.value.type === 'trace') {
          deltas++;
        }
        builder.apply(r.value);
      }
      const stored = builder.outputs().find((o) => o.items.some((i) => i.mime.includes('reasoning-trace')));
      const ms = performance.now() - t0;
      console.log(
        `  ${mb.toFixed(2)} MB: ${ms.toFixed(0)} ms (${(ms / mb).toFixed(0)} ms/MB), ${deltas} trace events, ${updates} output rebuilds, ` +
          `${(bytes / 1e6).toFixed(1)} MB built, stored trace item ${((stored?.items[0].data.length ?? 0) / 1024).toFixed(0)} KiB, heap +${((process.memoryUsage().heapUsed - heap0) / 1e6).toFixed(0)} MB`,
      );
    }
  } finally {
    await server.stop();
    await rm(tmp, { recursive: true, force: true });
  }
}

void main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
