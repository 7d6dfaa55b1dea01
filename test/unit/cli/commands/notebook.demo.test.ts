import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { runNotebookFile } from '../../../../src/cli/commands/notebook';
import { MIME } from '../../../../src/common/mime';
import { FULL_IMAGE_METADATA_KEY, type FullImagePayload, type SweepMatrixPayload } from '../../../../src/common/payloads';
import { parseNotebook } from '../../../../src/pipeline/format';
import { DISPLAY_MAX_HEIGHT, DISPLAY_MAX_WIDTH } from '../../../../src/pipeline/run/displayImages';
import { tempDir } from '../../../tooling/media';
import { pivotViewOf } from '../../../tooling/pivotOutputs';
import type { TempDir } from '../../../tooling/media';
import { copyDemo } from '../../../tooling/demoCopy';

/** The bound README.md states: "an executed demo notebook stays under 3 MB". */
const DEMO_BOUND_BYTES = 3 * 1024 * 1024;

const MIME_IS_BINARY_RENDERER = (mime: string): boolean => mime.startsWith('application/vnd.alref.') && !mime.endsWith('+json');
const dec = new TextDecoder();

/** Width and height of JPEG or PNG bytes, read from the header. */
function imageSize(bytes: Uint8Array): { width: number; height: number } {
  if (bytes[0] === 0x89) {
    const v = new DataView(bytes.buffer, bytes.byteOffset);
    return { width: v.getUint32(16), height: v.getUint32(20) };
  }
  let i = 2;
  while (i < bytes.length) {
    const marker = bytes[i + 1];
    const len = (bytes[i + 2] << 8) | bytes[i + 3];
    if (marker >= 0xc0 && marker <= 0xc3) {
      return { height: (bytes[i + 5] << 8) | bytes[i + 6], width: (bytes[i + 7] << 8) | bytes[i + 8] };
    }
    i += 2 + len;
  }
  throw new Error('no JPEG frame header');
}

suite('examples/demo.alref executed (replay)', () => {
  let tmp: TempDir;
  let stderrWrite: typeof process.stderr.write;
  setup(() => {
    tmp = tempDir('alref-demo-');
    stderrWrite = process.stderr.write.bind(process.stderr);
    process.stderr.write = (() => true) as typeof process.stderr.write;
  });
  teardown(() => {
    process.stderr.write = stderrWrite;
    tmp.remove();
  });

  test('stays under the size README states; images at display size, originals in the run folder; one compact pivot view per pivot cell', async () => {
    const file = copyDemo(tmp.path);
    const out = path.join(tmp.path, 'examples/demo.executed.alref');
    // As `npm run demo` on a machine without SAM 2 and without network: an empty model cache, skip.
    assert.equal(await runNotebookFile(file, { out, missingModels: 'skip', set: [`models.cacheDir=${path.join(tmp.path, 'models')}`] }), 0);

    const size = statSync(out).size;
    assert.ok(size < DEMO_BOUND_BYTES, `the executed demo is ${size} bytes, over the ${DEMO_BOUND_BYTES} README promises`);

    const nb = parseNotebook(readFileSync(out, 'utf8'), { file: out });
    const runDir = path.join(tmp.path, 'examples/demo.alref.runs');
    let fullImages = 0;
    for (const cell of nb.cells) {
      for (const o of cell.outputs) {
        const img = o.items.find((i) => i.mime === 'image/jpeg' || i.mime === 'image/png');
        if (!img) {
          continue;
        }
        const shown = imageSize(img.data);
        assert.ok(shown.width <= DISPLAY_MAX_WIDTH && shown.height <= DISPLAY_MAX_HEIGHT, `${cell.metadata?.id}: ${shown.width}x${shown.height}`);
        const full = o.metadata?.[FULL_IMAGE_METADATA_KEY] as FullImagePayload | undefined;
        if (full) {
          fullImages++;
          const bytes = new Uint8Array(readFileSync(path.join(runDir, full.ref)));
          assert.deepEqual(imageSize(bytes), { width: full.width, height: full.height }, full.ref);
          assert.ok(full.width > shown.width);
        }
      }
    }
    assert.ok(fullImages >= 14, `${fullImages} images have a full-size original`);

    // The pivot cells keep one compact pivot view each (the default): one row per clip with its image in
    // the run folder, its answer and its whole trace; the prompt is printed once, no per-clip outputs.
    for (const id of ['pivot-frame', 'pivot-box']) {
      const cell = nb.cells.find((c) => c.metadata?.id === id);
      assert.ok(cell, id);
      const perClip = cell.outputs.filter((o) => o.items.some((i) => i.mime === MIME.reasoningTrace || i.mime === MIME.boxes || i.mime === MIME.frameGrid));
      assert.deepEqual(perClip, [], `${id}: the view replaced the per-clip outputs`);
      const view = pivotViewOf(cell.outputs);
      assert.equal(view.rows.length, id === 'pivot-frame' ? 12 : 11, id);
      for (const r of view.rows) {
        const image = r.grid ?? r.frame;
        assert.ok(image && existsSync(path.join(runDir, image.ref)), `${id} clip ${r.clip}: its image is in the run folder`);
        assert.ok(r.answer && r.trace?.includes(r.answer) && !r.trace.includes('trace truncated'), `${id} clip ${r.clip}: answer and whole trace`);
      }
      assert.ok(view.rows.filter((r) => r.valid).length >= 11, `${id}: valid clips`);
      const prompts = cell.outputs.filter((o) => o.items.some((i) => i.mime === 'text/markdown' && dec.decode(i.data).startsWith('**Prompt**')));
      assert.equal(prompts.length, 1, `${id}: the prompt is printed once`);
      // Its stored size: before display-size images and the compact view, 51 outputs holding 5.0 MB of image bytes.
      const bytes = cell.outputs.reduce((n, o) => n + o.items.filter((i) => !MIME_IS_BINARY_RENDERER(i.mime)).reduce((m, i) => m + i.data.byteLength, 0), 0);
      assert.ok(bytes < 64 * 1024, `${id} outputs hold ${bytes} bytes`);
    }
    assert.ok(existsSync(path.join(runDir, 'artifacts')));

    // Without SAM 2 the cells that need it say how to install it; the car-shadow cells before them ran.
    for (const id of ['propagate', 'car-propagate', 'car-evaluate']) {
      const cell = nb.cells.find((c) => c.metadata?.id === id);
      assert.ok(cell, id);
      assert.match(cell.outputs.map((o) => o.items.filter((i) => i.mime === 'text/markdown').map((i) => dec.decode(i.data)).join('')).join(''), /^\*\*Skipped:\*\*[\s\S]*`alref models pull sam2\.1-hiera-tiny-video`/, id);
    }
    for (const id of ['car-video', 'car-reference', 'car-pivot-frame', 'car-pivot-box']) {
      assert.equal(nb.cells.find((c) => c.metadata?.id === id)?.executionSummary?.success, true, id);
    }

    // The sweep: two prompt variants over car-shadow (with ground truth) and the dog clip, from the store.
    const sweep = nb.cells.find((c) => c.metadata?.id === 'sweep');
    assert.ok(sweep);
    const item = sweep.outputs.flatMap((o) => o.items).find((i) => i.mime === MIME.sweepMatrix);
    assert.ok(item, 'the sweep matrix output');
    const matrix = JSON.parse(dec.decode(item.data)) as SweepMatrixPayload;
    assert.deepEqual(matrix.variants.map((v) => v.id), ['cot', 'cot-v2']);
    assert.deepEqual(matrix.inputs.map((i) => [i.id, i.hasGroundTruth]), [['car-shadow#0', true], ['dog#0', false]]);
    assert.ok(matrix.cells.flat().every((c) => c.status === 'ok' && c.cached === true));
    assert.equal(typeof matrix.summary[0].frameAreaRatio, 'number', 'pivot metrics on car-shadow');
    assert.equal(typeof matrix.deltas[1].frameAreaRatio, 'number');
    assert.ok(existsSync(path.join(runDir, matrix.exports.csv.ref)) && existsSync(path.join(runDir, matrix.cells[1][0].detail!.ref)));
  });
});
