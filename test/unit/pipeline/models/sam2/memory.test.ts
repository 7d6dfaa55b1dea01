import assert from 'node:assert/strict';
import { selectClosestCondFrames, selectMemory, slideStart, type BankWindow } from '../../../../../src/pipeline/models/sam2/memory';

const range = (a: number, b: number) => Array.from({ length: b - a + 1 }, (_, k) => a + k);
const mem = (s: ReturnType<typeof selectMemory>) => s.memories.map((m) => [m.frameIndex, m.tposRow]);
const ptr = (s: ReturnType<typeof selectMemory>) => s.pointers.map((p) => [p.frameIndex, p.diff]);

suite('models/sam2/memory: which frames and pointers enter memory', () => {
  test('first frame after the prompt: the conditioning frame (row 6) and its pointer (distance 1)', () => {
    const s = selectMemory({ frameIndex: 11, reverse: false, numFrames: 100, condFrames: [10], tracked: new Set() });
    assert.deepEqual(mem(s), [[10, 6]]);
    assert.deepEqual(ptr(s), [[10, 1]]);
    assert.equal(s.pointers[0].normalized, 1 / 15);
  });

  test('forward: conditioning frame + the 6 most recent frames, frame i-k on row k-1, farthest first', () => {
    const s = selectMemory({ frameIndex: 30, reverse: false, numFrames: 100, condFrames: [10], tracked: new Set(range(11, 29)) });
    assert.deepEqual(mem(s), [[10, 6], [24, 5], [25, 4], [26, 3], [27, 2], [28, 1], [29, 0]]);
  });

  test('pointers: conditioning pointer + 15 recent ones, distances normalised by min(numFrames,16)-1', () => {
    const s = selectMemory({ frameIndex: 30, reverse: false, numFrames: 100, condFrames: [10], tracked: new Set(range(11, 29)) });
    assert.equal(s.pointers.length, 16);
    assert.deepEqual(s.pointers[0], { frameIndex: 10, kind: 'cond', diff: 20, normalized: 20 / 15 });
    assert.deepEqual(ptr(s).slice(1, 4), [[29, 1], [28, 2], [27, 3]]);
    assert.deepEqual(s.pointers[15], { frameIndex: 15, kind: 'recent', diff: 15, normalized: 1 });
    // a short video: the denominator is numFrames - 1
    const short = selectMemory({ frameIndex: 5, reverse: false, numFrames: 8, condFrames: [0], tracked: new Set(range(1, 4)) });
    assert.deepEqual(ptr(short), [[0, 5], [4, 1], [3, 2], [2, 3], [1, 4]]);
    assert.equal(short.pointers[0].normalized, 5 / 7);
  });

  test('reverse: frames i+k in memory; conditioning distance negated (signed), recent distances positive', () => {
    const s = selectMemory({ frameIndex: 7, reverse: true, numFrames: 100, condFrames: [10], tracked: new Set([8, 9]) });
    assert.deepEqual(mem(s), [[10, 6], [9, 1], [8, 0]]);
    // (7 - 10) * -1 = 3 for the conditioning pointer
    assert.deepEqual(ptr(s), [[10, 3], [8, 1], [9, 2]]);
  });

  test('reverse pass right after a forward pass reuses forward outputs beyond the prompt', () => {
    // prompt on 10; forward tracked 11..20; now going backwards at 9
    const s = selectMemory({ frameIndex: 9, reverse: true, numFrames: 40, condFrames: [10], tracked: new Set(range(11, 20)) });
    // 10 is the conditioning frame (not repeated as recent); 11..15 fill rows 1..5
    assert.deepEqual(mem(s), [[10, 6], [15, 5], [14, 4], [13, 3], [12, 2], [11, 1]]);
    assert.deepEqual(s.memories.map((m) => m.kind), ['cond', 'recent', 'recent', 'recent', 'recent', 'recent']);
  });

  test('a missing frame leaves its slot empty: rows are not shifted', () => {
    const s = selectMemory({ frameIndex: 20, reverse: false, numFrames: 100, condFrames: [0], tracked: new Set([19, 17]) });
    assert.deepEqual(mem(s), [[0, 6], [17, 2], [19, 0]]);
  });

  test('several conditioning frames (one per clip) all enter memory; pointers only from those behind', () => {
    const s = selectMemory({ frameIndex: 27, reverse: false, numFrames: 100, condFrames: [5, 25, 60], tracked: new Set([26]) });
    assert.deepEqual(mem(s), [[5, 6], [25, 6], [60, 6], [26, 0]]);
    assert.deepEqual(ptr(s), [[5, 22], [25, 2], [26, 1]]);
    const r = selectMemory({ frameIndex: 24, reverse: true, numFrames: 100, condFrames: [5, 25, 60], tracked: new Set() });
    assert.deepEqual(ptr(r), [[25, 1], [60, 36]]);
  });

  test('a conditioning frame at a recent distance is not repeated; recent pointers skip it', () => {
    const s = selectMemory({ frameIndex: 12, reverse: false, numFrames: 100, condFrames: [5, 10], tracked: new Set([6, 7, 8, 9, 11]) });
    assert.deepEqual(mem(s), [[5, 6], [10, 6], [6, 5], [7, 4], [8, 3], [9, 2], [11, 0]]);
    assert.deepEqual(ptr(s), [[5, 7], [10, 2], [11, 1], [9, 3], [8, 4], [7, 5], [6, 6]]);
  });

  test('pointers stop at the ends of the video', () => {
    const s = selectMemory({ frameIndex: 2, reverse: false, numFrames: 100, condFrames: [0], tracked: new Set([1]) });
    assert.deepEqual(ptr(s), [[0, 2], [1, 1]]);
  });

  test('closest conditioning frames: the one before, the one after, then by distance', () => {
    // 40 (closest before), 55 (closest after), then 10 and 90 tie at distance 40: the earlier wins
    assert.deepEqual(selectClosestCondFrames(50, [0, 10, 40, 55, 90], 3), { selected: [10, 40, 55], unselected: [0, 90] });
    assert.deepEqual(selectClosestCondFrames(50, [0, 10], 5), { selected: [0, 10], unselected: [] });
  });

  test('fixed-length graph: the 6 recent memories stay; the remaining slots go to the conditioning frames closest in time', () => {
    const s = selectMemory({ frameIndex: 30, reverse: false, numFrames: 100, condFrames: [5, 20], tracked: new Set(range(21, 29)), memoryCapacity: 7, pointerCapacity: 16 });
    // the official predictor would attend to 5, 20 and 24..29 (8 memories): 5 is the farthest, it goes
    assert.deepEqual(mem(s), [[20, 6], [24, 5], [25, 4], [26, 3], [27, 2], [28, 1], [29, 0]]);
    assert.deepEqual(s.dropped, { memories: 1, pointers: 0 });
    assert.equal(s.pointers.length, 11); // 2 conditioning + 9 tracked frames 21..29
    // 8 conditioning frames (one per clip): still 6 recent memories, and the closest conditioning frame
    const many = selectMemory({ frameIndex: 41, reverse: false, numFrames: 100, condFrames: [2, 7, 12, 17, 22, 27, 32, 37], tracked: new Set(range(38, 40)), memoryCapacity: 7 });
    assert.deepEqual(mem(many).filter(([, row]) => row !== 6), [[38, 2], [39, 1], [40, 0]]);
    assert.deepEqual(mem(many).filter(([, row]) => row === 6).map(([f]) => f), [22, 27, 32, 37]);
    assert.equal(many.dropped.memories, 4);
    const t = selectMemory({ frameIndex: 60, reverse: false, numFrames: 100, condFrames: [5, 20], tracked: new Set(range(40, 59)), pointerCapacity: 16 });
    assert.equal(t.pointers.length, 16);
    // 15 recent pointers stay; one slot left: the closest conditioning pointer (20)
    assert.deepEqual(ptr(t).slice(0, 2), [[20, 40], [59, 1]]);
    assert.deepEqual(ptr(t)[15], [45, 15]);
    assert.deepEqual(t.dropped, { memories: 0, pointers: 1 });
  });

  test('unsigned pointer distances (SAM 2.0) are |i - t|; with only past pointers they equal the signed ones', () => {
    const q = { frameIndex: 8, reverse: true, numFrames: 20, condFrames: [10], tracked: new Set([9]) };
    assert.deepEqual(ptr(selectMemory({ ...q, signedPointerDistances: false })), ptr(selectMemory(q)));
    assert.deepEqual(ptr(selectMemory({ ...q, signedPointerDistances: false })), [[10, 2], [9, 1]]);
  });
});

suite('models/sam2/memory: memory blocks sliding along the bank', () => {
  /** Blocks (absolute) whose memory is not the one they held on the previous step: what is written. */
  const written = (prev: BankWindow | undefined, next: BankWindow): number[] =>
    next.frames.map((_, k) => next.start + k).filter((b) => !prev || prev.frames[b - prev.start] !== next.frames[b - next.start]);

  test('recent memories stay on their blocks: the run starts one block further along each frame', () => {
    assert.equal(slideStart(undefined, [10, 24, 25, 26], 8), 0);
    assert.equal(slideStart({ start: 0, frames: [10, 24, 25, 26] }, [10, 25, 26, 27], 8), 1);
    // forward through a long video: conditioning frame 10 + the 6 recent ones, in the official order
    for (const reverse of [false, true]) {
      let w: BankWindow | undefined;
      const starts: number[] = [];
      const frames = reverse ? range(11, 59).reverse().map((i) => i - 2) : range(11, 59);
      for (const i of frames) {
        const sel = selectMemory({ frameIndex: i, reverse, numFrames: 100, condFrames: [reverse ? 60 : 10], tracked: new Set(reverse ? range(i + 1, 59) : range(11, i - 1)) });
        const next = { start: slideStart(w, sel.memories.map((m) => m.frameIndex), 8), frames: sel.memories.map((m) => m.frameIndex) };
        if (w && w.frames.length === 7 && next.start > 0) {
          // steady state: the conditioning block before the run and the memory that entered
          assert.deepEqual(written(w, next), [next.start, next.start + 6], `${reverse ? 'reverse' : 'forward'}, frame ${i}`);
          assert.equal(next.start, w.start + 1);
        }
        starts.push(next.start);
        w = next;
      }
      // at the end of the room (start 8) the run starts again at block 0
      assert.ok(starts.includes(8) && starts.lastIndexOf(0) > starts.indexOf(8), `${reverse ? 'reverse' : 'forward'}: starts ${starts.join(',')}`);
      assert.ok(Math.max(...starts) <= 8);
    }
  });

  test('no memory carried over, or only a start outside the room: block 0; ties go to the lower start', () => {
    assert.equal(slideStart({ start: 3, frames: [1, 2, 3] }, [7, 8, 9], 8), 0);
    // 4 and 5 would keep their blocks only with the run at block 9, past the room
    assert.equal(slideStart({ start: 8, frames: [3, 4, 5] }, [3, 5, 6], 8), 8);
    assert.equal(slideStart({ start: 8, frames: [2, 3, 4, 5] }, [4, 5, 6], 8), 0);
    // a start before block 0 is not one
    assert.equal(slideStart({ start: 0, frames: [4, 5] }, [1, 2, 4], 8), 0);
    // one memory each way: the lower start
    assert.equal(slideStart({ start: 2, frames: [10, 24, 25] }, [10, 25, 26], 8), 2);
    assert.equal(slideStart({ start: 2, frames: [10, 24, 25] }, [], 8), 0);
  });
});
