import * as assert from 'node:assert/strict';
import sharp from 'sharp';
import {
  analyseSoundEvents, cosineSimilarity, emptyRle, filterSilentFrames, filterSilentObjects, segmentWindows, windowOfFrame, windowRms,
} from '../../../../src/pipeline/audio/soundEvents';
import { renderTimeline, timelineSvg } from '../../../../src/pipeline/audio/timeline';
import type { RleMask } from '../../../../src/pipeline/domain';

/** Probability vectors over 4 classes: [dog, man, silence, music]. */
const DOG = [0.9, 0.05, 0.0, 0.1];
const MAN = [0.05, 0.8, 0.0, 0.1];
const SIL = [0.0, 0.0, 0.95, 0.0];

suite('audio/soundEvents: segments, per-category activity, silent-frame filtering', () => {
  test('cosine similarity', () => {
    assert.equal(cosineSimilarity([1, 0], [1, 0]), 1);
    assert.equal(cosineSimilarity([1, 0], [0, 1]), 0);
    assert.equal(cosineSimilarity([0, 0], [0, 0]), 1);
    assert.equal(cosineSimilarity([0, 0], [1, 0]), 0);
    assert.ok(Math.abs(cosineSimilarity([1, 1], [1, 0]) - Math.SQRT1_2) < 1e-12);
  });

  test('segments break where neighbouring windows differ (threshold 0.5, configurable)', () => {
    const feats = [SIL, DOG, DOG, MAN, MAN, SIL];
    assert.deepEqual(segmentWindows(feats, 0.5), [[0, 1], [1, 3], [3, 5], [5, 6]]);
    // A threshold of 0 never splits: every similarity is >= 0.
    assert.deepEqual(segmentWindows(feats, 0), [[0, 6]]);
    assert.deepEqual(segmentWindows([], 0.5), []);
  });

  test('a category is active only in the segments where its labels score, and never in silent windows', () => {
    const scores = [SIL, DOG, DOG, MAN, MAN, SIL];
    const rms = [0, 0.2, 0.2, 0.2, 0.2, 0];
    const a = analyseSoundEvents(scores, rms, [{ category: 'dog', labelIndices: [0] }, { category: 'man', labelIndices: [1] }], 5.5);
    assert.equal(a.segments.length, 4);
    assert.deepEqual(a.segments.map((s) => s.silent), [true, false, false, true]);
    assert.deepEqual(a.categories[0].active, [false, true, true, false, false, false]);
    assert.deepEqual(a.categories[1].active, [false, false, false, true, true, false]);
    assert.equal(a.segments[3].endSec, 5.5, 'the last segment ends at the clip end');
    const strict = analyseSoundEvents(scores, rms, [{ category: 'dog', labelIndices: [0] }], 6, { activityThreshold: 0.95 });
    // every sound segment keeps its best-matching category (reference code), even below the threshold;
    // the digitally silent windows stay inactive
    assert.deepEqual(strict.categories[0].active, [false, true, true, true, true, false]);
  });

  test('window RMS and frame-to-window mapping', () => {
    const s = new Float32Array(25).fill(0.5);
    s.fill(0, 10, 20);
    assert.deepEqual(windowRms(s, 10, 1), [0.5, 0, 0.5]);
    assert.equal(windowOfFrame(0, 30, 1, 3), 0);
    assert.equal(windowOfFrame(29, 30, 1, 3), 0);
    assert.equal(windowOfFrame(30, 30, 1, 3), 1);
    assert.equal(windowOfFrame(500, 30, 1, 3), 2, 'frames past the audio use the last window');
  });

  test('masks are removed (emptied) on frames where the category is silent; input untouched', () => {
    const m: RleMask = { size: [2, 2], counts: [1, 2, 1] };
    const masks: Array<RleMask | null> = [m, m, m, null, m, m];
    const r = filterSilentFrames(masks, 2, { active: [true, false, true] }, 1);
    assert.deepEqual(r.cleared, [2]);
    assert.deepEqual(r.masks[2], emptyRle([2, 2]));
    assert.equal(r.masks[3], null);
    assert.equal(r.masks[0], m);
    assert.equal(masks[2], m);
  });

  test('objects are filtered by their category; unknown categories are kept', () => {
    const m: RleMask = { size: [1, 1], counts: [0, 1] };
    const act = { windowSec: 1, categories: [{ category: 'dog', labelIndices: [0], score: [1, 0], active: [true, false] }] };
    const out = filterSilentObjects([{ objectId: 1, category: 'dog', masks: [m, m] }, { objectId: 2, category: 'cat', masks: [m, m] }], act, 1);
    assert.deepEqual(out[0].cleared, [1]);
    assert.deepEqual(out[1].cleared, []);
  });

  test('timeline: rows and payload match the activity; the PNG has the payload size', async () => {
    const rate = 100;
    const samples = Float32Array.from({ length: 600 }, (_, i) => (i >= 100 && i < 500 ? Math.sin(i) * 0.5 : 0));
    const a = analyseSoundEvents([SIL, DOG, DOG, MAN, MAN, SIL], windowRms(samples, rate, 1), [
      { category: 'dog', labelIndices: [0] }, { category: 'man', labelIndices: [1] },
    ], 6);
    const input = { samples, sampleRate: rate, activity: a, categoryLabels: [['Dog', 'Bark'], ['Speech']], frames: [{ frameId: 1, frameIndex: 0, timeSec: 0.1 }, { frameId: 2, frameIndex: 45, timeSec: 1.5, pivot: true }] };
    const { svg, payload } = timelineSvg(input);
    assert.match(svg, /^<svg /);
    assert.equal(payload.version, 1);
    assert.deepEqual(payload.rows.map((r) => r.kind), ['waveform', 'segments', 'category', 'category']);
    assert.deepEqual(payload.categories.map((c) => c.category), ['dog', 'man']);
    assert.deepEqual(payload.categories[0].labels, ['Dog', 'Bark']);
    assert.notEqual(payload.categories[0].colour, payload.categories[1].colour);
    assert.equal(payload.segments.length, 4);
    const { png } = await renderTimeline(input);
    const meta = await sharp(png).metadata();
    assert.equal(meta.format, 'png');
    assert.equal(meta.width, payload.width);
    assert.equal(meta.height, payload.height);
    // The dog row is bright (active) at 1.5 s and faint at 3.5 s.
    const raw = await sharp(png).removeAlpha().raw().toBuffer();
    const row = payload.rows[2];
    const px = (t: number) => {
      const x = Math.round(payload.plot.x + (t / payload.durationSec) * payload.plot.width);
      const y = Math.round(row.y + 3);
      const i = (y * payload.width + x) * 3;
      return raw[i] + raw[i + 1] + raw[i + 2];
    };
    assert.ok(px(1.5) < px(3.5) - 100, `active ${px(1.5)} vs silent ${px(3.5)}`);
  });
});
