/**
 * Rules of the paper and the reference code (AL-Ref-SAM2 @ 28a7ccb) that the pipeline
 * follows by default, each with the setting that switches it (docs/PIPELINE.md "Corrections").
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { analyseSoundEvents, silenceFilterApplies } from '../../../src/pipeline/audio/soundEvents';
import { nearestClass } from '../../../src/pipeline/audio/vocabulary';
import type { MaskData, VideoData } from '../../../src/pipeline/domain';
import { avssClassNames, avssClassOf, pipelineCells, semanticMasks } from '../../../src/batch/runner';
import { encodeRle } from '../../../src/pipeline/masks/rle';
import { composeByLogits, fromSparse, toSparse } from '../../../src/pipeline/masks/logits';
import { resizeBilinear, resizeLogitsToMask } from '../../../src/pipeline/models/sam2/maskOps';
import { folderStride } from '../../../src/pipeline/media/probe';
import { entryInterval } from '../../../src/pipeline/sampling';
import { defaultSettings } from '../../../src/pipeline/settings';
import type { VideoParams } from '../../../src/pipeline/stages/schemas/params.generated';
import { runVideo } from '../../../src/pipeline/stages/video';
import type { StageEvent } from '../../../src/pipeline/events';
import { makeContext } from '../../tooling/stageContext';

async function videoOf(params: VideoParams, dir: string): Promise<{ data: VideoData; events: StageEvent[] }> {
  const ctx = makeContext({ runDir: path.join(dir, 'run'), baseDir: dir });
  const gen = runVideo({ kind: 'video', cellId: 'v', cellIndex: 0, params, uses: {} }, ctx);
  const events: StageEvent[] = [];
  for (let r = await gen.next(); ; r = await gen.next()) {
    if (r.done) {
      return { data: r.value.data, events };
    }
    events.push(r.value);
  }
}

suite('fidelity: Ref-YouTube-VOS sampling counts video frames', () => {
  let dir: string;
  suiteSetup(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'alref-fid-ytvos-'));
    // a Ref-YouTube-VOS-style folder: 30 JPEGs named by video frame, every 5th frame (00000, 00005, ...)
    mkdirSync(path.join(dir, 'yt'));
    mkdirSync(path.join(dir, 'plain'));
    mkdirSync(path.join(dir, 'prefixed'));
    const jpg = await sharp({ create: { width: 32, height: 24, channels: 3, background: { r: 90, g: 20, b: 200 } } }).jpeg().toBuffer();
    for (let k = 0; k < 30; k++) {
      writeFileSync(path.join(dir, 'yt', `${String(k * 5).padStart(5, '0')}.jpg`), jpg);
      writeFileSync(path.join(dir, 'plain', `${String(k).padStart(5, '0')}.jpg`), jpg);
      writeFileSync(path.join(dir, 'prefixed', `frame_${String(k * 5).padStart(5, '0')}.jpg`), jpg);
    }
  });
  suiteTeardown(() => rmSync(dir, { recursive: true, force: true }));

  test('folder stride from the file names; interval 10 video frames on stride 5 is every 2nd entry (paper)', () => {
    assert.equal(folderStride(['00000.jpg', '00005.jpg', '00010.jpg', '00020.jpg']), 5);
    // a prefix before the number (the last run of digits counts), as the gap warning reads it
    assert.equal(folderStride(['frame_00000.jpg', 'frame_00005.jpg', 'frame_00010.jpg', 'frame_00015.jpg']), 5);
    // one odd step does not collapse the stride to 1 (it is the most common step, not the GCD)
    assert.equal(folderStride(['00000.jpg', '00005.jpg', '00010.jpg', '00012.jpg', '00017.jpg']), 5);
    assert.equal(folderStride(['00000.jpg', '00001.jpg']), 1);
    assert.equal(folderStride(['a.jpg', 'b.jpg']), 1);
    assert.equal(folderStride(['00005.jpg']), 1);
    assert.equal(entryInterval(10, 5), 2);
    assert.equal(entryInterval(10, 1), 10);
    assert.equal(entryInterval(5, 5), 1);
    assert.equal(entryInterval(10, 5, 'entries'), 10);
  });

  test('Ref-YouTube-VOS: interval counts video frames (paper), folder stride 5 -> every 2nd entry; intervalUnit: entries gives every 10th', async () => {
    const { data, events } = await videoOf({ source: 'yt', preset: 'ref-youtube-vos', filmstripFrames: 0 }, dir);
    assert.deepEqual(data.clips.map((c) => c.frameIndices), [[0, 2, 4, 6, 8], [10, 12, 14, 16, 18], [20, 22, 24, 26, 28]]);
    assert.equal(data.interval, 2);
    assert.equal(data.preset, 'ref-youtube-vos');
    const summary = events.find((e) => e.type === 'markdown');
    assert.match(summary && summary.type === 'markdown' ? summary.text : '', /every 10 video frames = every 2 folder entries \(file names step by 5\)/);
    const entries = await videoOf({ source: 'yt', preset: 'ref-youtube-vos', intervalUnit: 'entries', filmstripFrames: 0 }, dir);
    assert.deepEqual(entries.data.clips.map((c) => c.frameIndices), [[0, 10, 20]]);
    // a folder of consecutive frames (stride 1) keeps interval 10
    const plain = await videoOf({ source: 'plain', preset: 'ref-youtube-vos', filmstripFrames: 0 }, dir);
    assert.deepEqual(plain.data.clips.map((c) => c.frameIndices), [[0, 10, 20]]);
    // names with a prefix (frame_00000, frame_00005, ...) step by 5 too, and raise no gap warning
    const prefixed = await videoOf({ source: 'prefixed', preset: 'ref-youtube-vos', filmstripFrames: 0 }, dir);
    assert.deepEqual(prefixed.data.clips.map((c) => c.frameIndices), [[0, 2, 4, 6, 8], [10, 12, 14, 16, 18], [20, 22, 24, 26, 28]]);
    assert.deepEqual(prefixed.events.filter((e) => e.type === 'warning'), []);
  });

  test('alref eval runs the same video cell: the dataset preset goes into it, so the same conversion applies', () => {
    const cells = pipelineCells({ source: '/data/ytvos/valid/JPEGImages/abc', expression: 'a cat', mode: 'rvos', preset: 'ref-youtube-vos' });
    assert.match(cells[0].source, /^stage: video\n/);
    assert.match(cells[0].source, /preset: "ref-youtube-vos"/);
  });
});

suite('fidelity: silent-frame filtering', () => {
  const A = [1, 0, 0];
  const B = [0, 1, 0];
  test('reference code: no filtering for S4 nor for a single target; the cell setting forces it either way', () => {
    assert.deepEqual(silenceFilterApplies(undefined, 3, 'avsbench-s4'), { apply: false, reason: 'single-source preset avsbench-s4' });
    assert.deepEqual(silenceFilterApplies(undefined, 1, 'avsbench-ms3'), { apply: false, reason: 'a single target' });
    assert.deepEqual(silenceFilterApplies(undefined, 2, 'avsbench-ms3'), { apply: true });
    assert.deepEqual(silenceFilterApplies(true, 1, 'avsbench-s4'), { apply: true });
    assert.equal(silenceFilterApplies(false, 3, null).apply, false);
  });

  test('reference code: every sound segment keeps at least its best-matching category active', () => {
    // two segments (A-like windows, then B-like); neither category reaches 0.5 in the second, B scores higher
    const scores = [A, A, [0.05, 0.3, 0], [0.05, 0.3, 0]];
    const rms = [0.2, 0.2, 0.2, 0.2];
    const a = analyseSoundEvents(scores, rms, [{ category: 'a', labelIndices: [0] }, { category: 'b', labelIndices: [1] }], 4, { activityThreshold: 0.5 });
    assert.equal(a.segments.length, 2);
    assert.deepEqual(a.categories[0].active, [true, true, false, false]);
    assert.deepEqual(a.categories[1].active, [false, false, true, true], 'b is the best match of the second segment');
    // nothing above the threshold anywhere: each segment still keeps its best category
    const low = analyseSoundEvents([[0.2, 0.1, 0], [0.2, 0.1, 0], B, B], rms, [{ category: 'a', labelIndices: [0] }, { category: 'b', labelIndices: [1] }], 4, { activityThreshold: 1.5 });
    assert.deepEqual(low.categories.map((c) => c.active), [[true, true, false, false], [false, false, true, true]]);
  });
});

suite('fidelity: AVSS class ids', () => {
  const classes = new Map<string, number>([['background', 0], ['accordion', 1], ['dog', 17], ['man', 41], ['woman', 70], ['emergency-car', 22], ['guitar', 28]]);

  test('every category maps to its nearest of the classes (never class 0): exact, normalised, synonym, closest', () => {
    assert.deepEqual([avssClassOf('dog', classes).index, avssClassOf('dog', classes).how], [17, 'exact']);
    assert.deepEqual([avssClassOf('Dogs', classes).index, avssClassOf('Dogs', classes).how], [17, 'normalized']);
    assert.deepEqual([avssClassOf('person', classes).index, avssClassOf('person', classes).how], [41, 'synonym']);
    assert.deepEqual([avssClassOf('ambulance', classes).index, avssClassOf('ambulance', classes).how], [22, 'synonym']);
    const far = avssClassOf('xylophone', classes);
    assert.equal(far.how, 'closest');
    assert.notEqual(far.index, 0);
    assert.equal(nearestClass('guitarr', ['dog', 'guitar']).className, 'guitar');
  });

  test('an object with no category is background (class 0), not the first class of the list', () => {
    for (const cat of ['', '  ']) {
      const c = avssClassOf(cat, classes);
      assert.deepEqual([c.index, c.how, c.className], [0, 'none', 'background'], JSON.stringify(cat));
    }
    // the names list built once per run gives the same classes as the default
    const names = avssClassNames(classes);
    assert.ok(!names.includes('background'));
    assert.deepEqual(avssClassOf('person', classes, names), avssClassOf('person', classes));
    assert.equal(avssClassOf('', classes, names).index, 0);
  });

  test('reference code: where masks overlap, the later category wins', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'alref-fid-avss-'));
    try {
      const w = 4;
      const h = 1;
      const write = (name: string, mask: number[]): string => {
        const f = path.join(dir, name);
        writeFileSync(f, JSON.stringify([encodeRle(Uint8Array.from(mask), w, h)]));
        return f;
      };
      const masks: MaskData = {
        width: w, height: h, frameCount: 1,
        objects: [
          { objectId: 1, text: 'the dog that is making sound', pivotFrames: [0], masksFile: write('1.json', [1, 1, 1, 0]) },
          { objectId: 2, text: 'the man that is making sound', pivotFrames: [0], masksFile: write('2.json', [0, 1, 1, 1]) },
        ],
      };
      const [labels] = await semanticMasks(masks, (id) => (id === 1 ? 17 : 41));
      assert.deepEqual([...labels], [17, 41, 41, 41]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

suite('fidelity: LLM reply length', () => {
  test('reference code: no max-tokens limit by default (5-step replies are not cut before the answer)', () => {
    assert.equal(defaultSettings().llm.maxTokens, null);
  });
});

suite('fidelity: Ref-DAVIS17 multi-object composition', () => {
  test('reference code: argmax of the objects\' logits with background -1, not "lowest id wins" on binary masks', () => {
    // pixel 0: both objects present, object 2 more sure -> 2 (lowest-id-wins would give 1)
    // pixel 1: only object 1 above -1 (logit -0.5: background in its binary mask) -> 1
    // pixel 2: every logit at or below -1 -> background; pixel 3: a tie goes to the earlier object
    const o1 = Float32Array.of(0.5, -0.5, -3, 2);
    const o2 = Float32Array.of(3, -2, -1, 2);
    assert.deepEqual([...composeByLogits([{ label: 1, logits: o1 }, { label: 2, logits: o2 }], 4)], [2, 1, 0, 1]);
    assert.deepEqual([...composeByLogits([{ label: 1, logits: o1 }, { label: 2, logits: null }], 4)], [1, 1, 0, 1]);
    // a background of 0 (an explicit choice) is "logit > 0"
    assert.deepEqual([...composeByLogits([{ label: 1, logits: o1 }, { label: 2, logits: o2 }], 4, 0)], [2, 0, 0, 1]);
  });

  test('stored logits: the upsampling whose > 0 is the SAM 2 mask, kept above the background logit only', () => {
    const lw = 5;
    const lh = 4;
    const low = Float32Array.from({ length: lw * lh }, (_, i) => Math.sin(i * 1.7) * 4);
    const big = resizeBilinear(low, lw, lh, 13, 9);
    assert.deepEqual([...big].map((v) => (v > 0 ? 1 : 0)), [...resizeLogitsToMask(low, lw, lh, 13, 9)]);
    const sparse = toSparse(big, 13, 9);
    const back = fromSparse(sparse, 13, 9);
    big.forEach((v, i) => assert.equal(back[i], v > -1 ? v : -Infinity));
    assert.equal(toSparse(new Float32Array(6).fill(-1024), 3, 2), null);
  });
});
