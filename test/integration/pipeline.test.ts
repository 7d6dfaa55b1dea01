/**
 * End to end inside the extension host: notebooks built on the fly run through the
 * AL-Ref kernel against the local OpenAI-compatible test server (started here, on 127.0.0.1) and the
 * fixture ONNX models of the test tooling. Cells run with `notebook.cell.execute`; the checks read the
 * cells' outputs and execution summaries, as a user would see them.
 */
import * as assert from 'assert';
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import ffmpegInstaller from '@ffmpeg-installer/ffmpeg';
import { MIME, OUTPUT_METADATA_KEY } from '../../src/common/mime';
import type { AudioTimelinePayload, BoxesPayload, FrameGridPayload, MaskOverlayPayload, PivotViewPayload, ReasoningTracePayload } from '../../src/common/payloads';
import { readMasksFile } from '../../src/pipeline/masks/davisExport';
import { rleArea } from '../../src/pipeline/masks/rle';
import { FramePrepWorker, prepareFrame } from '../../src/pipeline/models/sam2/framePrep';
import { writeMovingSquare, type SquareClip } from '../tooling/movingSquare';
import { writeModelFixtures } from '../tooling/onnxFixtures';
import { OpenAiTestServer, type ReceivedRequest, type ScriptedReply } from '../tooling/openaiServer';
import { cellById, closeAll, ended, freshWorkspaceFolder, mimes, openNotebook, repoRoot, runCellOk, textOf, writeNotebookFile, type CellSpec } from './helpers';

const KEY = 'sk-host-e2e-5150';
/** The SAM 2 gallery sample bundled in `media/samples`. */
const dogMp4 = (): string => path.resolve(repoRoot(), 'media', 'samples', '01_dog.mp4');

/** Slow streamed replies (so growth of the trace is observable), chosen by what the prompt asks. */
function script(r: ReceivedRequest): ScriptedReply {
  const slow = { chunkSize: 6, chunkDelayMs: 60 };
  if (r.text.includes('candidate boxes')) {
    return { ...slow, text: '1. Scene: a dark background with one bright object.\n2. Boxes: box 1 covers the bright object.\n3. Choice: box 1.\n[1]' };
  }
  if (/accordion, airplane/.test(r.text)) {
    return { ...slow, text: "Step 1: Dog and Bark come from the animal in the frames.\nStep 2: merged.\nStep 3: dog is in the list.\nStep 4: ['dog': 3]" };
  }
  return { ...slow, text: 'The object moves from left to right across the frames.\nIt is clearest in frame 3.\n[3]' };
}

/** Items of a mime with the output that holds them. */
function itemsOf(cell: vscode.NotebookCell, mime: string): Array<{ output: vscode.NotebookCellOutput; item: vscode.NotebookCellOutputItem }> {
  return cell.outputs.flatMap((output) => output.items.filter((i) => i.mime === mime).map((item) => ({ output, item })));
}

function json<T>(item: vscode.NotebookCellOutputItem): T {
  return JSON.parse(Buffer.from(item.data).toString('utf8')) as T;
}

/** Payload of a custom renderer item: the item itself for `+json` mimes, else the output's metadata. */
function payloadOf<T>(output: vscode.NotebookCellOutput, item: vscode.NotebookCellOutputItem): T {
  return item.mime.endsWith('+json') ? json<T>(item) : (output.metadata?.[OUTPUT_METADATA_KEY] as T);
}

/** Asserts an output holding a custom renderer item also holds a real PNG or JPEG fallback. */
function assertImageFallback(output: vscode.NotebookCellOutput, what: string): void {
  const image = output.items.find((i) => i.mime === 'image/png' || i.mime === 'image/jpeg');
  assert.ok(image, `${what}: no image/png or image/jpeg fallback (items: ${output.items.map((i) => i.mime).join(', ')})`);
  const magic = image.mime === 'image/png' ? [0x89, 0x50, 0x4e, 0x47] : [0xff, 0xd8, 0xff];
  assert.deepStrictEqual([...image.data.subarray(0, magic.length)], magic, `${what}: ${image.mime} item does not hold ${image.mime} bytes`);
}

/** Total text length of the reasoning traces in a cell's outputs. */
function traceLength(cell: vscode.NotebookCell): number {
  return itemsOf(cell, MIME.reasoningTrace).reduce((n, { item }) => n + json<ReasoningTracePayload>(item).text.length, 0);
}

/**
 * Runs a cell while watching its outputs; returns the trace lengths seen while the run was still going
 * (on each document change and on a 50 ms poll).
 */
async function runWatchingTrace(doc: vscode.NotebookDocument, id: string): Promise<{ cell: vscode.NotebookCell; seen: number[] }> {
  const index = cellById(doc, id).index;
  const since = Date.now();
  const seen: number[] = [];
  const look = () => {
    const cell = doc.cellAt(index);
    if (!ended(cell, since)) {
      const n = traceLength(cell);
      if (n > 0 && n !== seen[seen.length - 1]) {
        seen.push(n);
      }
    }
  };
  const sub = vscode.workspace.onDidChangeNotebookDocument((e) => {
    if (e.notebook === doc) {
      look();
    }
  });
  const poll = setInterval(look, 50);
  try {
    const cell = await runCellOk(doc, id);
    return { cell, seen };
  } finally {
    clearInterval(poll);
    sub.dispose();
  }
}

/** Output items of a cell minus its traces' timing (usage latency differs between runs), as comparable strings. */
function comparable(cell: vscode.NotebookCell): string[] {
  return cell.outputs.flatMap((o) => o.items.map((i) => {
    if (i.mime === MIME.reasoningTrace) {
      const p = json<ReasoningTracePayload>(i);
      return `${i.mime} ${JSON.stringify({ ...p, usage: undefined, streamId: undefined })}`;
    }
    if (i.mime === MIME.pivotView) {
      // A second run lists what changed since the first ("no change"); the rest must be the same.
      const p = json<PivotViewPayload>(i);
      return `${i.mime} ${JSON.stringify({ ...p, changes: undefined, rows: p.rows.map((r) => ({ ...r, change: undefined })) })}`;
    }
    if (i.mime === 'text/markdown' && /latency|tokens|\$/.test(Buffer.from(i.data).toString('utf8'))) {
      return `${i.mime} (usage summary)`;
    }
    return `${i.mime} ${Buffer.from(i.data).toString('base64')}`;
  }));
}

async function configure(values: Record<string, unknown>): Promise<void> {
  const config = vscode.workspace.getConfiguration('alref');
  for (const [key, value] of Object.entries(values)) {
    await config.update(key, value, vscode.ConfigurationTarget.Global);
  }
}

suite('Pipeline end to end in the extension host (local LLM server, fixture models)', function () {
  this.timeout(300_000);
  let server: OpenAiTestServer;
  let modelsDir: string;

  suiteSetup(async () => {
    server = await OpenAiTestServer.start({ apiKey: KEY });
    server.setScript(script);
    const shared = freshWorkspaceFolder('pipeline', 'models');
    modelsDir = await writeModelFixtures(path.join(shared, 'models'), { only: ['sam2', 'groundingDino', 'audioTagger'] });
    await configure({
      'llm.baseUrl': server.baseUrl,
      'llm.timeoutMs': 30_000,
      'llm.maxRetries': 0,
      'models.localDir': modelsDir,
      'models.cacheDir': path.join(shared, 'cache'),
    });
    // The key goes to SecretStorage through the command (its optional argument skips the prompt).
    await vscode.commands.executeCommand('alref.setApiKey', KEY);
  });

  suiteTeardown(async () => {
    await closeAll();
    await configure({ 'llm.baseUrl': undefined, 'llm.timeoutMs': undefined, 'llm.maxRetries': undefined, 'models.localDir': undefined, 'models.cacheDir': undefined });
    await vscode.commands.executeCommand('alref.clearApiKey');
    await server.stop().catch(() => undefined);
  });

  async function squareNotebook(tag: string, extra: CellSpec[], candidates: boolean): Promise<{ file: string; clip: SquareClip }> {
    const dir = freshWorkspaceFolder('pipeline', tag);
    const clip = await writeMovingSquare(path.join(dir, 'square'), { frames: 24, distractor: false });
    const cells: CellSpec[] = [
      { id: 'video', yaml: 'stage: video\nid: video\nsource: square\nfps: 8\ninterval: 3\nfilmstripFrames: 0\n' },
      { id: 'reference', yaml: 'stage: reference\nid: reference\nexpression: the white square\n' },
      // `view: full`: these tests read the per-clip outputs (traces, highlighted grids, boxes), kept above the pivot view.
      { id: 'pivot-frame', yaml: 'stage: pivot-frame\nid: pivot-frame\nview: full\n' },
      {
        id: 'pivot-box',
        yaml: candidates
          // Clip 1's pivot is frame 6 (id 3 of 0,3,6,9,12), clip 2's frame 21 (id 3 of 15,18,21).
          ? `stage: pivot-box\nid: pivot-box\nview: full\ncandidates:\n${[[6, 1], [21, 2]].map(([f, c]) => {
            const b = clip.boxes[f];
            return `  - { box: [${b.x0}, ${b.y0}, ${b.x1}, ${b.y1}], clip: ${c} }\n  - { box: [0, 0, 20, 20], clip: ${c} }\n`;
          }).join('')}`
          : 'stage: pivot-box\nid: pivot-box\nview: full\n',
      },
      ...extra,
    ];
    return { file: writeNotebookFile(path.join(dir, 'square.alref'), cells, 'record'), clip };
  }

  test('RVOS: video -> reference -> pivot-frame -> pivot-box; traces stream, answers highlighted; replay offline gives the same', async () => {
    const { file } = await squareNotebook('rvos', [], true);
    const { doc } = await openNotebook(file);
    const before = server.requests.length;

    const video = await runCellOk(doc, 'video');
    const grids = itemsOf(video, MIME.frameGrid);
    assert.strictEqual(grids.length, 2, `expected 2 clip grids, got ${grids.length}`);
    await runCellOk(doc, 'reference');

    const pf = await runWatchingTrace(doc, 'pivot-frame');
    console.log(`[alref-test] pivot-frame trace lengths while running: ${pf.seen.join(',')}`);
    assert.ok(pf.seen.length >= 2 && pf.seen[pf.seen.length - 1] > pf.seen[0], `the trace did not grow while the cell ran: ${pf.seen.join(',')}`);
    const traces = itemsOf(pf.cell, MIME.reasoningTrace).map(({ item }) => json<ReasoningTracePayload>(item));
    assert.strictEqual(traces.length, 2);
    assert.ok(traces.every((t) => t.done && t.valid === true && /\[3\]/.test(t.answer ?? '')), JSON.stringify(traces.map((t) => [t.done, t.valid, t.answer])));
    // The chosen frame (id 3 of each clip) is highlighted on the clip's grid, with a JPEG/PNG fallback.
    const chosen = itemsOf(pf.cell, MIME.frameGrid).map(({ output, item }) => {
      assertImageFallback(output, 'pivot-frame grid');
      return payloadOf<FrameGridPayload>(output, item);
    });
    assert.deepStrictEqual(chosen.map((p) => [p.clipIndex, p.highlight]), [[0, [6]], [1, [21]]]);

    const pb = await runWatchingTrace(doc, 'pivot-box');
    assert.ok(pb.seen.length >= 2 && pb.seen[pb.seen.length - 1] > pb.seen[0], `the box trace did not grow: ${pb.seen.join(',')}`);
    const boxes = itemsOf(pb.cell, MIME.boxes).map(({ output, item }) => {
      assertImageFallback(output, 'pivot-box boxes');
      return payloadOf<BoxesPayload>(output, item);
    });
    // Per clip: the image sent (collapsed view, nothing chosen on it), then the choice.
    assert.deepStrictEqual(boxes.map((b) => [b.view ?? 'choice', b.frameIndex, b.chosen]), [['sent', 6, null], ['choice', 6, 0], ['sent', 21, null], ['choice', 21, 0]]);
    const llmCalls = server.requests.length - before;
    assert.strictEqual(llmCalls, 4, 'one request per clip for each LLM stage');
    assert.ok(server.requests.slice(before).every((r) => r.headers.authorization === `Bearer ${KEY}` && r.imageCount === 1));

    // Replay: the notebook's own mode, the server stopped; the same answers without a request.
    const recorded = { pf: comparable(pf.cell), pb: comparable(pb.cell) };
    assert.ok(recorded.pf.some((c) => c.startsWith(MIME.frameGrid)) && recorded.pb.some((c) => c.startsWith(MIME.boxes)), 'nothing to compare');
    console.log(`[alref-test] recorded output items: pivot-frame ${recorded.pf.length}, pivot-box ${recorded.pb.length}`);
    await vscode.commands.executeCommand('alref.setLlmMode', 'replay');
    assert.strictEqual((doc.metadata.alref as { llmMode?: string }).llmMode, 'replay');
    await server.stop();
    try {
      const pf2 = await runCellOk(doc, 'pivot-frame');
      const pb2 = await runCellOk(doc, 'pivot-box');
      assert.deepStrictEqual(comparable(pf2), recorded.pf, 'replayed pivot-frame outputs differ');
      assert.deepStrictEqual(comparable(pb2), recorded.pb, 'replayed pivot-box outputs differ');
      assert.strictEqual(server.requests.length - before, llmCalls, 'replay sent a request');
    } finally {
      server = await restart(server);
    }
  });

  test('propagate: detector candidates (fixture GroundingDINO), SAM 2 fixture masks, overlay + contact sheet + masks table', async () => {
    const { file, clip } = await squareNotebook('sam2', [{ id: 'propagate', yaml: 'stage: propagate\nid: propagate\n' }], false);
    const { doc } = await openNotebook(file);
    for (const id of ['video', 'reference', 'pivot-frame']) {
      await runCellOk(doc, id);
    }
    const before = server.requests.length;
    const pb = await runCellOk(doc, 'pivot-box');
    assert.strictEqual(server.requests.length - before, 2);
    assert.match(server.requests[before].text, /detector label/, 'the prompt does not list detector boxes');
    const boxes = itemsOf(pb, MIME.boxes).map(({ output, item }) => payloadOf<BoxesPayload>(output, item)).filter((b) => b.view !== 'sent');
    assert.strictEqual(boxes.length, 2);
    for (const b of boxes) {
      assert.strictEqual(b.chosen, 0);
      const box = b.boxes[0].box;
      assert.strictEqual(b.boxes[0].source, 'grounding-dino');
      const truth = clip.boxes[b.frameIndex];
      assert.ok(Math.abs(box.x0 - truth.x0) <= 3 && Math.abs(box.x1 - truth.x1) <= 3 && Math.abs(box.y0 - truth.y0) <= 3, `detector box ${JSON.stringify(box)} vs the square ${JSON.stringify(truth)} on frame ${b.frameIndex}`);
    }

    const prop = await runCellOk(doc, 'propagate');
    const overlays = itemsOf(prop, MIME.maskOverlay);
    assert.strictEqual(overlays.length, 1, `outputs: ${mimes(prop).join(', ')}`);
    assertImageFallback(overlays[0].output, 'mask overlay');
    assert.ok(overlays[0].output.items.some((i) => i.mime === 'image/png'), 'the contact sheet is a PNG');
    const overlay = payloadOf<MaskOverlayPayload>(overlays[0].output, overlays[0].item);
    assert.strictEqual(overlay.frameCount, 24);
    assert.deepStrictEqual(overlay.objects[0].pivotFrames, [6, 21]);
    assert.match(textOf(prop), /SAM 2 masks/, 'no masks table');
    const runDir = `${file}.runs`;
    const masks = await readMasksFile(path.join(runDir, overlay.objects[0].masks.ref), 24);
    assert.strictEqual(masks.length, 24);
    const areas = masks.map((m) => rleArea(m));
    assert.ok(areas.every((a) => a > 0), `a frame has no mask: ${areas.join(',')}`);
  });

  test('the frame pre-processing worker thread (dist/framePrepWorker.js) runs in the extension host: the same values as the calling thread', async () => {
    const script = path.join(vscode.extensions.getExtension('alref.alref-notebooks')!.extensionPath, 'dist', 'framePrepWorker.js');
    assert.ok(fs.existsSync(script), `${script} is not built`);
    const frame = path.join(repoRoot(), 'media', 'samples', 'davis-car-shadow', 'JPEGImages', '00005.jpg');
    const worker = FramePrepWorker.start(script)!;
    try {
      const req = { source: frame, width: 256, height: 192, norm: { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] } as const };
      const [a, b] = [await worker.prepare(req), await prepareFrame(req)];
      assert.strictEqual(a.length, 3 * 256 * 192);
      assert.ok(Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength)), 'the worker gave other values');
    } finally {
      await worker.dispose();
    }
  });

  test('AVS: 01_dog.mp4 + bark soundtrack -> lbru -> pivot-frame -> pivot-box -> propagate (silenceFilter: true); timeline, silent frames cleared', async () => {
    const dir = freshWorkspaceFolder('pipeline', 'avs');
    fs.copyFileSync(dogMp4(), path.join(dir, '01_dog.mp4'));
    // The sample's own track is digital silence: barks from 2 s to 5 s, as in the unit tests.
    const bark = 'if(between(t,2,5),0.6*exp(-12*mod(t,0.5))*(sin(2*PI*(500-300*mod(t,0.5))*t)+0.5*sin(4*PI*(500-300*mod(t,0.5))*t))/1.5,0)';
    execFileSync(ffmpegInstaller.path, ['-v', 'error', '-y', '-f', 'lavfi', '-i', `aevalsrc=exprs='${bark}':s=48000:d=6`, '-ac', '2', path.join(dir, 'bark.wav')]);
    const frames = 180; // 6 s at 29.97 fps
    const file = writeNotebookFile(path.join(dir, 'avs.alref'), [
      { id: 'video', yaml: `stage: video\nid: video\nsource: 01_dog.mp4\nmode: avs\nmaxSide: 320\nmaxFrames: ${frames}\nfilmstripFrames: 0\n` },
      { id: 'lbru', yaml: 'stage: lbru\nid: lbru\naudio: bark.wav\ntagger: efficientat-mn10-as\n' },
      { id: 'pivot-frame', yaml: 'stage: pivot-frame\nid: pivot-frame\n' },
      { id: 'pivot-box', yaml: 'stage: pivot-box\nid: pivot-box\n' },
      // One target: the reference code filters no silent frames then (the default); the field forces it.
      { id: 'propagate', yaml: 'stage: propagate\nid: propagate\nsilenceFilter: true\n' },
    ], 'record');
    const { doc } = await openNotebook(file);
    const before = server.requests.length;
    await runCellOk(doc, 'video');
    const lbru = await runCellOk(doc, 'lbru');
    assert.strictEqual(server.requests.length - before, 1, 'one LBRU request');
    const timelines = itemsOf(lbru, MIME.audioTimeline);
    assert.strictEqual(timelines.length, 1, `outputs: ${mimes(lbru).join(', ')}`);
    assertImageFallback(timelines[0].output, 'audio timeline');
    const timeline = payloadOf<AudioTimelinePayload>(timelines[0].output, timelines[0].item);
    assert.deepStrictEqual(timeline.categories.map((c) => c.category), ['dog']);
    assert.deepStrictEqual(timeline.categories[0].active.slice(0, 5).map((a) => (a ? 1 : 0)).join(''), '00111');

    await runCellOk(doc, 'pivot-frame');
    assert.strictEqual(server.requests.length - before, 1, 'the pivot frame comes from LBRU, without an LLM call');
    await runCellOk(doc, 'pivot-box');
    assert.strictEqual(server.requests.length - before, 2);
    const prop = await runCellOk(doc, 'propagate', 300_000);
    const text = textOf(prop);
    assert.match(text, /Silent-frame filtering/, 'no silent-frame filtering table');
    // The table's row: object 1, dog, frames cleared, frames kept (at least the 60 frames before 2 s are cleared).
    const row = /\|\s*1\s*\|\s*dog\s*\|\s*(\d+)\s*\|\s*(\d+)\s*\|/.exec(text);
    assert.ok(row, `no "1 | dog | cleared | kept" row in:\n${text}`);
    const [cleared, kept] = [Number(row[1]), Number(row[2])];
    console.log(`[alref-test] silent-frame filtering: ${cleared} cleared, ${kept} kept of ${frames}`);
    // Silent before 2 s (frames 0-59) and from 5 s (frames 150-179): 90 frames at 29.97 fps.
    assert.ok(cleared === 90 && kept === 90, `cleared ${cleared}, kept ${kept}`);
    const overlays = itemsOf(prop, MIME.maskOverlay);
    assert.strictEqual(overlays.length, 1, `outputs: ${mimes(prop).join(', ')}`);
    assertImageFallback(overlays[0].output, 'merged overlay');
    const overlay = payloadOf<MaskOverlayPayload>(overlays[0].output, overlays[0].item);
    assert.strictEqual(overlay.frameCount, frames);
    const masks = await readMasksFile(path.join(`${file}.runs`, overlay.objects[0].masks.ref), frames);
    assert.strictEqual(masks.length, frames);
    const areas = masks.map((m) => rleArea(m));
    // Silent frames are empty; the barking ones (2 s to 5 s) keep their masks.
    const silent = [...areas.slice(0, 60), ...areas.slice(150)];
    assert.ok(silent.every((a) => a === 0), `masks left on silent frames: ${silent.join(',')}`);
    assert.ok(areas.slice(60, 150).some((a) => a > 0), 'no mask on the sounding frames');
    console.log(`[alref-test] AVS frames with a mask: ${areas.filter((a) => a > 0).length} of ${frames}`);
  });
});

/** Starts a fresh server with the same script and points the setting at it. */
async function restart(old: OpenAiTestServer): Promise<OpenAiTestServer> {
  await old.stop().catch(() => undefined);
  const server = await OpenAiTestServer.start({ apiKey: KEY });
  server.setScript(script);
  await configure({ 'llm.baseUrl': server.baseUrl });
  return server;
}
