/** The frame-outer order of a multi-object SAM 2 run and its feature store (src/pipeline/models/sam2/schedule.ts). */
import assert from 'node:assert/strict';
import { FeatureStore, frameSchedule, type FrameVisit } from '../../../../../src/pipeline/models/sam2/schedule';

/** One object's steps, in run order, as "kind frame" strings. */
function stepsOf(visits: FrameVisit[], object: number): string[] {
  return visits.flatMap((v) => v.steps.filter((s) => s.object === object).map((s) => `${s.kind}${s.reverse ? '<' : ''} ${v.frame}`));
}

suite('models/sam2/schedule: frames outside, objects inside', () => {
  test('one object: its prompts, forward from the start, backward from the frame before a prompted start', () => {
    const visits = frameSchedule([{ promptFrames: [3, 1], start: 3 }], 6);
    assert.deepEqual(stepsOf(visits, 0), ['prompt 1', 'prompt 3', 'replay 3', 'track 4', 'track 5', 'track< 2', 'replay< 1', 'track< 0']);
    assert.deepEqual(visits.map((v) => v.needsFeatures), [true, true, false, true, true, true, false, true]);
  });

  test('an unprompted start is tracked twice (forward, then first in the backward pass); start 0 has no backward pass', () => {
    assert.deepEqual(stepsOf(frameSchedule([{ promptFrames: [4], start: 2 }], 5), 0), ['prompt 4', 'track 2', 'track 3', 'replay 4', 'track< 2', 'track< 1', 'track< 0']);
    assert.deepEqual(stepsOf(frameSchedule([{ promptFrames: [0], start: 0 }], 3), 0), ['prompt 0', 'replay 0', 'track 1', 'track 2']);
  });

  test('several objects: each object\'s steps are those of running it alone; each frame is visited once per sweep, objects in order', () => {
    const objects = [{ promptFrames: [1], start: 1 }, { promptFrames: [2, 6], start: 6 }, { promptFrames: [0], start: 0 }];
    const visits = frameSchedule(objects, 8);
    objects.forEach((o, k) => assert.deepEqual(stepsOf(visits, k), stepsOf(frameSchedule([o], 8), 0), `object ${k}`));
    // prompts 0 1 2 6; forward 0..7; backward 5..0
    assert.deepEqual(visits.map((v) => v.frame), [0, 1, 2, 6, 0, 1, 2, 3, 4, 5, 6, 7, 5, 4, 3, 2, 1, 0]);
    for (const v of visits) {
      assert.deepEqual(v.steps.map((s) => s.object), [...v.steps.map((s) => s.object)].sort((a, b) => a - b));
    }
  });

  test('the feature store computes a frame once while later visits need it, holds at most maxHeld between visits, and drops what no one needs', async () => {
    const objects = [{ promptFrames: [1], start: 1 }, { promptFrames: [3], start: 3 }];
    const visits = frameSchedule(objects, 5);
    const run = async (maxHeld: number) => {
      const store = new FeatureStore<string>(visits, maxHeld);
      const computed: number[] = [];
      for (const [v, visit] of visits.entries()) {
        if (visit.needsFeatures) {
          assert.equal(await store.get(v, async () => (computed.push(visit.frame), `f${visit.frame}`)), `f${visit.frame}`);
        }
        store.done(v);
        assert.ok(store.size <= maxHeld);
        if (visit.needsFeatures && store.has(visit.frame)) {
          assert.ok(visits.slice(v + 1).some((w) => w.frame === visit.frame && w.needsFeatures), `frame ${visit.frame} held with no later reader`);
        }
      }
      assert.equal(store.size, 0, 'nothing held at the end');
      assert.equal(store.computed, computed.length);
      return { computed, peak: store.peak };
    };
    const all = await run(16);
    assert.deepEqual([...all.computed].sort(), [0, 1, 2, 3, 4]);
    const none = await run(0);
    assert.ok(none.computed.length > 5 && none.peak === 1, JSON.stringify(none));
  });
});
