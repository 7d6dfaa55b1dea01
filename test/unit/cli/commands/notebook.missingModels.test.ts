import assert from 'node:assert/strict';
import { createReadStream, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { buildProgram } from '../../../../src/cli/main';
import { runNotebookFile } from '../../../../src/cli/commands/notebook';
import type { NotebookRunOptions } from '../../../../src/cli/commands/notebook';
import { MIME } from '../../../../src/common/mime';
import { SKIPPED_METADATA_KEY } from '../../../../src/pipeline/cells/missingModels';
import { ERROR_MIME, parseNotebook, serializeNotebook } from '../../../../src/pipeline/format';
import type { CellModel, NotebookModel } from '../../../../src/pipeline/format';
import { SAMPLES, tempDir } from '../../../tooling/media';
import type { TempDir } from '../../../tooling/media';
import { FIXTURE_IDS, writeModelFixtures } from '../../../tooling/onnxFixtures';

const dec = new TextDecoder();
const SAM2 = FIXTURE_IDS.sam2;
const PULL = `alref models pull ${SAM2}`;
const CAR = path.join(SAMPLES, 'davis-car-shadow');

/**
 * The car-shadow pipeline without LLM calls: middle frame, top-score typed box, propagate, evaluate;
 * then a cell that needs no model, and an evaluate cell naming the propagate cell in `uses`.
 */
function carNotebook(): NotebookModel {
  const cells: Array<[string, string]> = [
    ['video', `stage: video\nid: video\nsource: ${path.join(CAR, 'JPEGImages')}\npreset: ref-davis17\nfilmstripFrames: 0\n`],
    ['reference', 'stage: reference\nid: reference\nexpression: the car\n'],
    ['pivot-frame', 'stage: pivot-frame\nid: pivot-frame\nstrategy: middle\n'],
    ['pivot-box', 'stage: pivot-box\nid: pivot-box\nstrategy: top-score\ncandidates:\n  - { box: [260, 112, 555, 283], clip: 1 }\n  - { box: [290, 156, 494, 274], clip: 2 }\n'],
    ['propagate', 'stage: propagate\nid: propagate\n'],
    ['evaluate', `stage: evaluate\nid: evaluate\ngroundTruth: ${path.join(CAR, 'Annotations')}\nprotocol: davis\n`],
    ['pivot-frame-last', 'stage: pivot-frame\nid: pivot-frame-last\nstrategy: last\n'],
    ['evaluate-named', `stage: evaluate\nid: evaluate-named\nuses: { propagate: propagate }\ngroundTruth: ${path.join(CAR, 'Annotations')}\n`],
  ];
  return {
    metadata: { alref: { formatVersion: 1, llmMode: 'replay' } },
    cells: cells.map(([id, source]) => ({ kind: 'code', language: 'alref', source, metadata: { id }, outputs: [] })),
  };
}

function markdownOf(cell: CellModel): string {
  return cell.outputs.flatMap((o) => o.items.filter((i) => i.mime === 'text/markdown' || i.mime === ERROR_MIME).map((i) => dec.decode(i.data))).join('\n');
}

function cellOf(nb: NotebookModel, id: string): CellModel {
  const cell = nb.cells.find((c) => c.metadata.id === id);
  assert.ok(cell, id);
  return cell;
}

/** Serves `<dir>/<model id>/<file>` at the Hugging Face path of the built-in SAM 2 entry, on 127.0.0.1; notes each path asked for. */
async function mirrorServer(dir: string): Promise<{ server: Server; url: string; asked: string[] }> {
  const asked: string[] = [];
  const prefix = '/square-zero-labs/sam2.1-tiny-video-onnx/resolve/main/';
  const server = createServer((req, res) => {
    const p = req.url ?? '';
    asked.push(p);
    const file = p.startsWith(prefix) ? path.join(dir, SAM2, p.slice(prefix.length)) : '';
    if (!file || !existsSync(file)) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-length': String(statSync(file).size), 'content-type': 'application/octet-stream' });
    createReadStream(file).pipe(res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, asked };
}


/** Runs `fn` with ALREF_MODELS_MIRROR set to `url`, restoring the variable afterwards. */
async function withMirror<T>(url: string, fn: () => Promise<T>): Promise<T> {
  const before = process.env.ALREF_MODELS_MIRROR;
  process.env.ALREF_MODELS_MIRROR = url;
  try {
    return await fn();
  } finally {
    if (before === undefined) {
      delete process.env.ALREF_MODELS_MIRROR;
    } else {
      process.env.ALREF_MODELS_MIRROR = before;
    }
  }
}

suite('cli: alref notebook run --missing-models', () => {
  let tmp: TempDir;
  let stderrWrite: typeof process.stderr.write;
  let stderr: string;
  let file: string;
  setup(() => {
    tmp = tempDir('alref-missing-');
    stderr = '';
    stderrWrite = process.stderr.write.bind(process.stderr);
    process.stderr.write = ((chunk: string | Uint8Array) => {
      stderr += typeof chunk === 'string' ? chunk : dec.decode(chunk);
      return true;
    }) as typeof process.stderr.write;
    file = path.join(tmp.path, 'car.alref');
    writeFileSync(file, serializeNotebook(carNotebook()));
  });
  teardown(() => {
    process.stderr.write = stderrWrite;
    tmp.remove();
  });

  /** Options of a run whose model store is this test's own (an empty cache unless a test fills it). */
  const run = (extra: NotebookRunOptions & { localDir?: string }): Promise<number> => {
    const { localDir, ...options } = extra;
    return runNotebookFile(file, { ...options, set: [`models.cacheDir=${path.join(tmp.path, 'cache')}`, ...(localDir ? [`models.localDir=${localDir}`] : [])] });
  };

  test('--help names the option and its three policies', () => {
    const cmd = buildProgram().commands.find((c) => c.name() === 'notebook')?.commands.find((c) => c.name() === 'run');
    assert.ok(cmd);
    assert.match(cmd.helpInformation(), /--missing-models <policy>[\s\S]*"fail", "skip", "pull"/);
  });

  test('by default a missing SAM 2 fails the propagate cell and stops the run (exit 1)', async () => {
    assert.equal(await run({}), 1);
    const nb = parseNotebook(readFileSync(file, 'utf8'));
    assert.equal(cellOf(nb, 'propagate').executionSummary?.success, false);
    assert.match(markdownOf(cellOf(nb, 'propagate')), new RegExp(PULL));
    assert.deepEqual(cellOf(nb, 'evaluate').outputs, []);
    assert.deepEqual(cellOf(nb, 'pivot-frame-last').outputs, []);
  });

  test('skip: propagate and the evaluate cell reading it are skipped with the pull command; the cells above and a later independent cell run; exit 0', async () => {
    assert.equal(await run({ missingModels: 'skip' }), 0);
    const nb = parseNotebook(readFileSync(file, 'utf8'));
    for (const id of ['video', 'reference', 'pivot-frame', 'pivot-box', 'pivot-frame-last']) {
      const cell = cellOf(nb, id);
      assert.equal(cell.executionSummary?.success, true, id);
      assert.ok(cell.outputs.length > 0, id);
    }
    const prop = cellOf(nb, 'propagate');
    assert.match(markdownOf(prop), /^\*\*Skipped:\*\* model `sam2\.1-hiera-tiny-video` is not installed\. Install it with `alref models pull sam2\.1-hiera-tiny-video`/);
    assert.deepEqual(prop.outputs[0].metadata?.[SKIPPED_METADATA_KEY], { modelId: SAM2 });
    assert.equal(prop.executionSummary, undefined, 'a skipped cell has no execution order');
    const ev = cellOf(nb, 'evaluate');
    assert.match(markdownOf(ev), /needs the result of cell `propagate`, which was skipped[\s\S]*`alref models pull sam2\.1-hiera-tiny-video`/);
    assert.deepEqual(ev.outputs[0].metadata?.[SKIPPED_METADATA_KEY], { modelId: SAM2, upstream: 'propagate' });
    assert.deepEqual(cellOf(nb, 'evaluate-named').outputs[0].metadata?.[SKIPPED_METADATA_KEY], { modelId: SAM2, upstream: 'propagate' }, 'named in uses');
    assert.match(stderr, /3 cell\(s\) skipped \(propagate, evaluate, evaluate-named\): install the missing model\(s\) with `alref models pull sam2\.1-hiera-tiny-video`/);
  });

  test('with the fixture SAM 2 graphs in the model store, propagate and evaluate run on the car-shadow frames', async () => {
    const models = await writeModelFixtures(path.join(tmp.path, 'models'), { only: ['sam2'] });
    assert.equal(await run({ missingModels: 'skip', localDir: models }), 0, stderr);
    const nb = parseNotebook(readFileSync(file, 'utf8'));
    for (const id of ['propagate', 'evaluate', 'evaluate-named']) {
      assert.equal(cellOf(nb, id).executionSummary?.success, true, id);
      assert.doesNotMatch(markdownOf(cellOf(nb, id)), /Skipped/);
    }
    assert.ok(cellOf(nb, 'propagate').outputs.some((o) => o.items.some((i) => i.mime === MIME.maskOverlay)), 'propagate shows masks');
    assert.match(markdownOf(cellOf(nb, 'evaluate')), /J&F/);
    assert.doesNotMatch(stderr, /skipped/);
  });

  test('pull: the missing model is downloaded from ALREF_MODELS_MIRROR (a local server) with progress, then the cell runs', async () => {
    const served = await writeModelFixtures(path.join(tmp.path, 'served'), { only: ['sam2'] });
    const { server, url, asked } = await mirrorServer(served);
    try {
      assert.equal(await withMirror(url, () => run({ missingModels: 'pull' })), 0, stderr);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
    assert.ok(asked.includes('/square-zero-labs/sam2.1-tiny-video-onnx/resolve/main/onnx/vision_encoder.onnx'), asked.join(' '));
    assert.match(stderr, /model "sam2\.1-hiera-tiny-video" is not installed; downloading it/);
    assert.match(stderr, /sam2\.1-hiera-tiny-video vision_encoder: [\d.]+ MB of [\d.]+ MB/);
    const cached = path.join(tmp.path, 'cache', SAM2, 'onnx/vision_encoder.onnx');
    assert.deepEqual(readFileSync(cached), readFileSync(path.join(served, SAM2, 'onnx/vision_encoder.onnx')));
    const nb = parseNotebook(readFileSync(file, 'utf8'));
    assert.equal(cellOf(nb, 'propagate').executionSummary?.success, true);
    assert.match(markdownOf(cellOf(nb, 'evaluate')), /J&F/);
  });

  test('pull: when the download fails the cell is skipped with the reason and the run goes on, exit 0', async () => {
    const { server, url, asked } = await mirrorServer(path.join(tmp.path, 'nothing-here'));
    try {
      assert.equal(await withMirror(url, () => run({ missingModels: 'pull' })), 0, stderr);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
    assert.equal(asked.length, 1, asked.join(' '));
    const nb = parseNotebook(readFileSync(file, 'utf8'));
    assert.match(markdownOf(cellOf(nb, 'propagate')), /could not be downloaded \(.*HTTP 404.*\)\. Install it with `alref models pull sam2\.1-hiera-tiny-video`/);
    assert.match(markdownOf(cellOf(nb, 'evaluate')), /Skipped/);
    assert.equal(cellOf(nb, 'pivot-frame-last').executionSummary?.success, true);
  });
});
