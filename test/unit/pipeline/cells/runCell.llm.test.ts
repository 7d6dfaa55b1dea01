import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { MIME } from '../../../../src/common/mime';
import type { ReasoningTracePayload } from '../../../../src/common/payloads';
import { runCell } from '../../../../src/pipeline/cells/runCell';
import type { CellLike } from '../../../../src/pipeline/cells/notebook';
import type { PivotBoxData, PivotFrameData } from '../../../../src/pipeline/domain';
import type { OutputModel } from '../../../../src/pipeline/format/model';
import { createServices } from '../../../../src/pipeline/services';
import { NotebookSession } from '../../../../src/pipeline/session';
import { defaultSettings } from '../../../../src/pipeline/settings';
import { OpenAiTestServer, type ReceivedRequest } from '../../../tooling/openaiServer';
import { RESOURCES } from '../../../tooling/stageContext';
import { DAVIS_FRAMES } from '../../../tooling/davisVideo';
import { pivotViewOf } from '../../../tooling/pivotOutputs';

const KEY = 'sk-e2e-NEVER-LEAK-4242424242';

const cells: CellLike[] = [
  { id: 'vid', language: 'alref', source: `stage: video\nsource: ${DAVIS_FRAMES}\ninterval: 5\nmaxFrames: 20\nfilmstripFrames: 0\n` },
  { id: 'ref', language: 'alref', source: 'stage: reference\nexpression: the silver car driving through the shadow\n' },
  { id: 'pf', language: 'alref', source: 'stage: pivot-frame\n' },
  { id: 'pb', language: 'alref', source: 'stage: pivot-box\ncandidates:\n  - [265, 120, 560, 285]\n  - [0, 0, 240, 200]\n  - [600, 40, 854, 200]\n' },
];

/** Frame answers for the pivot-frame prompt, box answers for the pivot-box prompt. */
function script(r: ReceivedRequest): { text: string; chunkSize: number } {
  if (r.text.includes('candidate boxes')) {
    return { text: '1. Scene: a street corner.\n2. Boxes: box 1 holds the whole car; box 2 a building; box 3 houses.\n3. Syntax: subject "car".\n4. Choice: box 1.\n5. [1]', chunkSize: 9 };
  }
  return { text: 'The car enters from the left and crosses the shadow.\nIt is sharpest in frame 3.\n[3]', chunkSize: 9 };
}

async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) {
      out.push(...(await listFiles(p)));
    } else {
      out.push(p);
    }
  }
  return out;
}

/** Outputs as one string; the LLM mode a trace's metadata names (record vs replay) is left out. */
function serialise(outputs: OutputModel[]): string {
  return JSON.stringify(outputs.map((o) => {
    const { llmMode: _mode, ...metadata } = o.metadata ?? {};
    return { ...o, metadata, items: o.items.map((i) => ({ mime: i.mime, data: Buffer.from(i.data).toString('latin1') })) };
  }));
}

suite('LLM cells end to end through the shared cell runner (real video stage, local server)', () => {
  let tmp: string;
  let server: OpenAiTestServer;

  suiteSetup(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'alref-e2e-'));
    server = await OpenAiTestServer.start({ apiKey: KEY });
    server.setScript(script);
  });
  suiteTeardown(async () => {
    await server.stop();
    await rm(tmp, { recursive: true, force: true });
  });

  async function runAll(mode: 'record' | 'replay', runDir: string, key: string | undefined) {
    const settings = defaultSettings({ llm: { ...defaultSettings().llm, baseUrl: server.baseUrl, mode, timeoutMs: 5000 } });
    const logs: string[] = [];
    const log = { info: (m: string) => logs.push(m), warn: (m: string) => logs.push(m), error: (m: string) => logs.push(m) };
    const services = createServices(settings, { runDir, resourcesDir: RESOURCES, userCacheDir: path.join(tmp, 'cache'), getSecret: async () => key });
    const host = { runDir, baseDir: tmp, resourcesDir: RESOURCES, settings, services, log };
    const session = new NotebookSession();
    const outcomes = [];
    for (let index = 0; index < cells.length; index++) {
      const growth: number[] = [];
      const shown = { boxes: false, traceWithMarkdown: false };
      const out = await runCell({
        cells, index, session, host, signal: new AbortController().signal,
        onOutputs: (change, outputs) => {
          const o = outputs[change.index];
          const trace = o?.items.find((i) => i.mime === MIME.reasoningTrace);
          if (trace) {
            growth.push((JSON.parse(Buffer.from(trace.data).toString('utf8')) as ReasoningTracePayload).text.length);
            shown.traceWithMarkdown ||= o.items.some((i) => i.mime === 'text/markdown');
          }
          shown.boxes ||= o?.items[0]?.mime === MIME.boxes && o.items.some((i) => i.mime === 'image/jpeg');
        },
      });
      assert.equal(out.status, 'ok', `${out.cellId}: ${out.message ?? ''}`);
      outcomes.push({ ...out, growth, shown });
    }
    return { outcomes, logs };
  }

  test('record: traces grow in the outputs, answers parsed, images shown; the key is in no output, file or log', async () => {
    const runDir = path.join(tmp, 'nb.alref.runs');
    const { outcomes, logs } = await runAll('record', runDir, KEY);
    const [, , pf, pb] = outcomes;
    assert.ok(pf.growth.length >= 5 && pf.growth.every((n, i) => i === 0 || n >= pf.growth[i - 1]), `trace grew: ${pf.growth.join(',')}`);
    const pfData = pf.result?.data as PivotFrameData;
    assert.ok(pfData.objects[0].clips.every((c) => c.valid && c.frameIndex !== null));
    const pbData = pb.result?.data as PivotBoxData;
    assert.ok(pbData.objects[0].pivots.every((p) => p.valid && p.chosen === 0));
    assert.ok(pb.shown.boxes, 'the boxes were drawn (renderer item with JPEG fallback) while the cell ran');
    assert.ok(pf.shown.traceWithMarkdown, 'the trace streamed with its markdown fallback while the cell ran');
    // When the run ended, one pivot view (with its markdown fallback) replaced the per-clip outputs.
    for (const [o, data] of [[pf, pfData.objects[0].clips], [pb, pbData.objects[0].pivots]] as const) {
      assert.deepEqual(o.outputs.filter((x) => x.items.some((i) => i.mime === MIME.reasoningTrace || i.mime === MIME.boxes)), [], `${o.cellId}: per-clip outputs replaced`);
      const view = pivotViewOf(o.outputs);
      assert.ok(o.outputs.some((x) => x.items[0]?.mime === MIME.pivotView && x.items.some((i) => i.mime === 'text/markdown')), 'pivot view with markdown fallback');
      assert.equal(view.rows.length, data.length);
      assert.ok(view.rows.every((r) => r.valid && r.trace && r.answer && r.tokens), `${o.cellId}: every row has its trace, answer and tokens`);
    }
    assert.equal(server.requests.length, pfData.objects[0].clips.length + pbData.objects[0].pivots.length);
    assert.ok(server.requests.every((r) => r.headers.authorization === `Bearer ${KEY}`));

    for (const o of outcomes) {
      assert.ok(!serialise(o.outputs).includes(KEY), `${o.cellId} outputs hold the key`);
      assert.ok(!JSON.stringify(o.result?.data ?? null).includes(KEY));
    }
    assert.ok(!logs.join('\n').includes(KEY));
    for (const f of await listFiles(runDir)) {
      if ((await stat(f)).size < 5_000_000) {
        assert.ok(!(await readFile(f)).includes(Buffer.from(KEY)), `${f} holds the key`);
      }
    }
  });

  test('replay with the server stopped and no key reproduces every output exactly', async () => {
    const runDir = path.join(tmp, 'nb2.alref.runs');
    const recorded = await runAll('record', runDir, KEY);
    await server.stop();
    try {
      const replayed = await runAll('replay', runDir, undefined);
      // The video cell's summary says "(reused)" on a second decode; the LLM cells must match byte for byte.
      for (let i = 1; i < cells.length; i++) {
        const same = serialise(replayed.outcomes[i].outputs) === serialise(recorded.outcomes[i].outputs);
        assert.ok(same, `cell ${cells[i].id}: replayed outputs differ from the recorded ones`);
        assert.deepEqual(replayed.outcomes[i].result?.data, recorded.outcomes[i].result?.data);
        assert.equal(replayed.outcomes[i].result?.inputHash, recorded.outcomes[i].result?.inputHash);
      }
    } finally {
      server = await OpenAiTestServer.start({ apiKey: KEY });
      server.setScript(script);
    }
  });
});
