import assert from 'node:assert/strict';
import fc from 'fast-check';
import { boxIoU } from '../../../../src/common/boxes';
import { lineDiff, pairClips } from '../../../../src/renderers/sweepMatrix/diff';
import { detailRef, sweepFixture } from '../../../tooling/sweepFixture';

const sides = (d: ReturnType<typeof lineDiff>): [string, string] => [
  d.filter((l) => l.kind !== 'add').map((l) => l.text).join('\n'),
  d.filter((l) => l.kind !== 'del').map((l) => l.text).join('\n'),
];

suite('sweep matrix: trace diff and clip comparison', () => {
  test('line diff marks the changed lines and keeps the common ones', () => {
    const a = 'Frame 1 shows the road.\nFrame 3 shows the car.\nThe best view is frame 3.\n[3]';
    const b = 'Frame 1 shows the road.\nFrame 2 shows the car.\nThe best view is frame 2.\n[2]';
    assert.deepEqual(lineDiff(a, b), [
      { kind: 'same', text: 'Frame 1 shows the road.' },
      { kind: 'del', text: 'Frame 3 shows the car.' },
      { kind: 'del', text: 'The best view is frame 3.' },
      { kind: 'del', text: '[3]' },
      { kind: 'add', text: 'Frame 2 shows the car.' },
      { kind: 'add', text: 'The best view is frame 2.' },
      { kind: 'add', text: '[2]' },
    ]);
    assert.deepEqual(lineDiff('x\r\ny', 'x\ny'), [{ kind: 'same', text: 'x' }, { kind: 'same', text: 'y' }]);
    assert.deepEqual(lineDiff('a\nb\nc', 'a\nc'), [{ kind: 'same', text: 'a' }, { kind: 'del', text: 'b' }, { kind: 'same', text: 'c' }]);
    // An inserted line in the middle of common ones is one addition, not a rewrite.
    assert.deepEqual(lineDiff('p\nq\nr\ns', 'p\nq\nNEW\nr\ns').filter((l) => l.kind !== 'same'), [{ kind: 'add', text: 'NEW' }]);
  });

  test('line diff rebuilds both texts and keeps a longest common subsequence (property)', () => {
    const lines = fc.array(fc.constantFrom('a', 'b', 'c', 'd', '[1]', ''), { maxLength: 12 });
    const lcsLength = (x: string[], y: string[]): number => {
      const t = Array.from({ length: x.length + 1 }, () => new Array<number>(y.length + 1).fill(0));
      for (let i = 1; i <= x.length; i++) {
        for (let j = 1; j <= y.length; j++) {
          t[i][j] = x[i - 1] === y[j - 1] ? t[i - 1][j - 1] + 1 : Math.max(t[i - 1][j], t[i][j - 1]);
        }
      }
      return t[x.length][y.length];
    };
    fc.assert(
      fc.property(lines, lines, (x, y) => {
        const a = x.join('\n');
        const b = y.join('\n');
        const d = lineDiff(a, b);
        assert.deepEqual(sides(d), [a, b]);
        assert.equal(d.filter((l) => l.kind === 'same').length, lcsLength(a.split('\n'), b.split('\n')));
      }),
    );
  });

  test('box IoU', () => {
    const a = { x0: 0, y0: 0, x1: 10, y1: 10 };
    assert.equal(boxIoU(a, a), 1);
    assert.equal(boxIoU(a, { x0: 5, y0: 0, x1: 15, y1: 10 }), 50 / 150);
    assert.equal(boxIoU(a, { x0: 20, y0: 20, x1: 30, y1: 30 }), 0);
    assert.equal(boxIoU({ x0: 1, y0: 1, x1: 1, y1: 1 }, { x0: 1, y0: 1, x1: 1, y1: 1 }), 0);
  });

  test('clips are paired by object and clip number; the summary says what differs, agreeing clips say so', () => {
    const { details } = sweepFixture();
    const left = details[detailRef('cot-v1', 'car-shadow#0')];
    const right = details[detailRef('cot-v2', 'car-shadow#0')];
    const pairs = pairClips(left, right);
    assert.deepEqual(pairs.map((p) => [p.clip, p.agree, p.summary]), [
      [1, false, 'clip 1: [3] -> [2], box on another frame (12 -> 8)'],
      [2, true, 'clip 2: same answer [2], [1]'],
    ]);
    // Same frame, box moved: IoU of the two boxes.
    const moved = structuredClone(right);
    moved.objects[0].clips[0].pivotFrame = { ...left.objects[0].clips[0].pivotFrame };
    moved.objects[0].clips[0].pivotBox!.frameIndex = left.objects[0].clips[0].pivotBox!.frameIndex;
    assert.equal(pairClips(left, moved)[0].summary, 'clip 1: box moved (IoU 0.50)');
    // A clip only one side ran.
    const fewer = structuredClone(right);
    fewer.objects[0].clips.pop();
    assert.deepEqual(pairClips(left, fewer).map((p) => [p.agree, p.summary]).at(-1), [false, 'clip 2: [2] -> not run, box [1] -> not run']);
  });
});
