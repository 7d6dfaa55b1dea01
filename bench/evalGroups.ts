// `alref eval` with K expressions of one video (K = 1, 4, 8): SAM 2 vision-encoder runs per frame and
// wall time, one SAM 2 run per expression (`groupByVideo: false`) against the expressions of the video
// tracked together (the default), through the real dataset runner: synthetic Ref-DAVIS17 video at
// 854x480, fixture ONNX graphs (SAM 2 at its real 1024 input and feature sizes), the local
// OpenAI-compatible test server for the LLM stages. Goal: 1 encoder run per frame whatever K.
// Usage: node --import tsx bench/evalGroups.ts [--frames 8] [--expressions 1,4,8]
// Prints figures; asserts nothing.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { makeRunnerHost } from '../src/batch/cliHost';
import { runDataset } from '../src/batch/runner';
import { readDataset } from '../src/pipeline/benchmarks/datasets';
import { observeGraphRuns } from '../src/pipeline/models/runtime';
import { defaultSettings } from '../src/pipeline/settings';
import { makeRefDavis } from '../test/tooling/datasets';
import { writeModelFixtures } from '../test/tooling/onnxFixtures';
import { OpenAiTestServer } from '../test/tooling/openaiServer';

const argv = process.argv.slice(2);
const arg = (name: string): string | undefined => (argv.includes(name) ? argv[argv.indexOf(name) + 1] : undefined);
const frames = Number(arg('--frames')) > 0 ? Number(arg('--frames')) : 8;
const counts = (arg('--expressions') ?? '1,4,8').split(',').map(Number).filter((n) => Number.isInteger(n) && n > 0 && n <= 8);

async function main(): Promise<void> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'alref-bench-evalgroups-'));
  const server = await OpenAiTestServer.start();
  try {
    server.setScript(() => 'The object is clearest here. [1]');
    await writeModelFixtures(path.join(dir, 'models'), { sam2: { imageSize: 1024, c0: 32, c1: 64, c2: 256, memDim: 64 } });
    const settings = defaultSettings({
      llm: { ...defaultSettings().llm, baseUrl: server.baseUrl, timeoutMs: 20_000, maxRetries: 0 },
      models: { ...defaultSettings().models, localDir: path.join(dir, 'models'), cacheDir: path.join(dir, 'cache') },
    });
    const resourcesDir = path.resolve(__dirname, '..');
    const host = makeRunnerHost({
      version: 'bench', settings, resourcesDir,
      log: { info: () => undefined, warn: () => undefined, error: () => undefined },
      serviceEnv: (runDir) => ({ runDir, resourcesDir, userCacheDir: path.join(dir, 'cache'), getSecret: async () => 'sk-local-test' }),
    });
    // one video, 2 objects x 4 annotator sets = 8 expressions
    const root = await makeRefDavis(path.join(dir, 'davis'), { videos: 1, objects: 2, frames, width: 854, height: 480, predictions: false });
    const all = await readDataset('ref-davis17', root);
    console.log(`-- alref eval, K expressions of one ${frames}-frame 854x480 video (SAM 2 fixture graphs at 1024): encoder runs per frame, goal 1 --`);
    for (const k of counts) {
      // interleave the sets so K = 4 holds both objects
      const items = [...all.items].sort((a, b) => (a.annotatorSet ?? 0) - (b.annotatorSet ?? 0)).slice(0, k);
      const ds = { ...all, items };
      for (const groupByVideo of [false, true]) {
        const enc = { runs: 0, ms: 0 };
        const stop = observeGraphRuns((r) => {
          if (r.graph === 'vision_encoder' && r.modelId.startsWith('sam2')) {
            enc.runs++;
            enc.ms += r.ms;
          }
        });
        const t0 = performance.now();
        try {
          const s = await runDataset({ dataset: ds, outDir: path.join(dir, `out-${k}-${groupByVideo}`), host, signal: new AbortController().signal, groupByVideo });
          if (s.failed > 0) {
            throw new Error(`${s.failed} item(s) failed: ${s.firstError?.message}`);
          }
        } finally {
          stop();
        }
        const wall = performance.now() - t0;
        const label = `K=${k} ${groupByVideo ? 'tracked together' : 'one run per expression'}`;
        console.log(`${label.padEnd(34)} encoder runs/frame ${(enc.runs / frames).toFixed(2).padStart(5)} (goal 1), encoder ${enc.ms.toFixed(0).padStart(6)} ms, wall ${wall.toFixed(0).padStart(7)} ms`);
      }
    }
  } finally {
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
