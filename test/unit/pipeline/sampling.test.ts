import assert from 'node:assert/strict';
import fc from 'fast-check';
import { gridShape, planAvsFrames, planRvosClips, PRESETS, spreadIndices } from '../../../src/pipeline/sampling';

suite('sampling: RVOS clips (docs/PIPELINE.md "Clips (RVOS)")', () => {
  test('clip t covers [t*interval*5, (t+1)*interval*5) sampled every interval', () => {
    const clips = planRvosClips(60, 5, 5);
    assert.deepEqual(clips, [
      { clipIndex: 0, frameIndices: [0, 5, 10, 15, 20] },
      { clipIndex: 1, frameIndices: [25, 30, 35, 40, 45] },
      { clipIndex: 2, frameIndices: [50, 55] },
    ]);
  });

  test('exactly divisible video: full clips only', () => {
    const clips = planRvosClips(50, 5, 5);
    assert.equal(clips.length, 2);
    assert.deepEqual(clips[1].frameIndices, [25, 30, 35, 40, 45]);
  });

  test('a trailing clip of a single frame is skipped', () => {
    // 51 frames: the third clip would hold only frame 50.
    const clips = planRvosClips(51, 5, 5);
    assert.equal(clips.length, 2);
    // 55 frames: frames 50 is alone too (55 is past the end).
    assert.equal(planRvosClips(55, 5, 5).length, 2);
    // 56 frames: frames 50 and 55 make a two-frame clip, kept.
    assert.deepEqual(planRvosClips(56, 5, 5)[2].frameIndices, [50, 55]);
  });

  test('video shorter than one clip gives one partial clip', () => {
    assert.deepEqual(planRvosClips(12, 5, 5), [{ clipIndex: 0, frameIndices: [0, 5, 10] }]);
    assert.deepEqual(planRvosClips(7, 10, 5), [{ clipIndex: 0, frameIndices: [0] }]);
  });

  test('1 frame: one clip holding frame 0 (the only clip is not a trailing one)', () => {
    assert.deepEqual(planRvosClips(1, 5, 5), [{ clipIndex: 0, frameIndices: [0] }]);
  });

  test('0 frames: no clips', () => {
    assert.deepEqual(planRvosClips(0, 5, 5), []);
  });

  test('Ref-YouTube-VOS interval 10: 36 frames give clips [0..40) and [50..] skipped', () => {
    const p = PRESETS['ref-youtube-vos'];
    assert.equal(p.interval, 10);
    assert.deepEqual(planRvosClips(36, p.interval, p.framesPerClip), [{ clipIndex: 0, frameIndices: [0, 10, 20, 30] }]);
  });

  test('presets: DAVIS and MeViS use interval 5, AVS presets sample 5 / 10 frames', () => {
    assert.equal(PRESETS['ref-davis17'].interval, 5);
    assert.equal(PRESETS.mevis.interval, 5);
    assert.equal(PRESETS['avsbench-s4'].avsFrames, 5);
    assert.equal(PRESETS['avsbench-ms3'].avsFrames, 5);
    assert.equal(PRESETS.avss.avsFrames, 10);
  });

  test('bad arguments are rejected', () => {
    assert.throws(() => planRvosClips(-1, 5, 5), RangeError);
    assert.throws(() => planRvosClips(10, 0, 5), RangeError);
    assert.throws(() => planRvosClips(10, 5, 1.5), RangeError);
  });

  test('property: clips are consecutive, non-overlapping, in order, every interval, within the video', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 3000 }), fc.integer({ min: 1, max: 20 }), fc.integer({ min: 2, max: 8 }), (n, interval, per) => {
        const clips = planRvosClips(n, interval, per);
        const span = interval * per;
        let prev = -1;
        clips.forEach((c, t) => {
          assert.equal(c.clipIndex, t);
          assert.ok(c.frameIndices.length >= 1 && c.frameIndices.length <= per);
          const start = c.frameIndices[0];
          assert.equal(start % span, 0);
          c.frameIndices.forEach((f, k) => {
            assert.equal(f, start + k * interval);
            assert.ok(f < n && f > prev);
            prev = f;
          });
          if (t > 0) {
            assert.ok(c.frameIndices.length >= 2, 'trailing single-frame clips are skipped');
          }
        });
        // Every span that has two or more sampled frames appears.
        const expected = Array.from({ length: Math.ceil(n / span) }, (_, t) => t * span).filter(
          (s, t) => t === 0 || Math.min(per, Math.ceil((n - s) / interval)) >= 2,
        );
        assert.deepEqual(clips.map((c) => c.frameIndices[0]), expected);
      }),
    );
  });
});

suite('sampling: AVS evenly sampled frames', () => {
  test('centre of each of N equal spans: floor((2k+1) * n / 2N)', () => {
    assert.deepEqual(planAvsFrames(125, 5), [{ clipIndex: 0, frameIndices: [12, 37, 62, 87, 112] }]);
    assert.deepEqual(planAvsFrames(100, 10)[0].frameIndices, [5, 15, 25, 35, 45, 55, 65, 75, 85, 95]);
  });

  test('exactly N frames (AVSBench frame folders): every frame', () => {
    assert.deepEqual(planAvsFrames(5, 5)[0].frameIndices, [0, 1, 2, 3, 4]);
    assert.deepEqual(planAvsFrames(10, 10)[0].frameIndices, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  test('fewer frames than N: each frame once', () => {
    assert.deepEqual(planAvsFrames(3, 5)[0].frameIndices, [0, 1, 2]);
    assert.deepEqual(planAvsFrames(1, 10)[0].frameIndices, [0]);
  });

  test('0 frames: no clip', () => {
    assert.deepEqual(planAvsFrames(0, 5), []);
  });

  test('property: N distinct increasing indices inside the video, one per span', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 5000 }), fc.integer({ min: 1, max: 20 }), (n, count) => {
        const [clip] = planAvsFrames(n, count);
        const idx = clip.frameIndices;
        assert.equal(idx.length, Math.min(n, count));
        idx.forEach((f, k) => {
          assert.ok(f >= 0 && f < n);
          if (k > 0) {
            assert.ok(f > idx[k - 1]);
          }
          // Inside span k: [k*n/N, (k+1)*n/N).
          assert.ok(f >= Math.floor((k * n) / idx.length) && f < Math.ceil(((k + 1) * n) / idx.length));
        });
      }),
    );
  });
});

suite('sampling: filmstrip spread and grid shape', () => {
  test('spread includes the first and last frame', () => {
    assert.deepEqual(spreadIndices(100, 5), [0, 25, 50, 74, 99]);
    assert.deepEqual(spreadIndices(3, 12), [0, 1, 2]);
    assert.deepEqual(spreadIndices(1, 4), [0]);
    assert.deepEqual(spreadIndices(0, 4), []);
  });

  test('5 per row: 5 tiles one row, 10 tiles two rows, 3 tiles one row of 3', () => {
    assert.deepEqual(gridShape(5), { columns: 5, rows: 1 });
    assert.deepEqual(gridShape(10), { columns: 5, rows: 2 });
    assert.deepEqual(gridShape(3), { columns: 3, rows: 1 });
    assert.deepEqual(gridShape(7), { columns: 5, rows: 2 });
  });
});
