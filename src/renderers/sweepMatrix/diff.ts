import { boxIoU } from '../../common/boxes';
import type { SweepDetailPayload } from '../../common/payloads';

/**
 * What differs between two variants' answers on one input: a line diff of two traces (longest common
 * subsequence), the IoU of two boxes, and a one-line summary per clip (`clip 4: [2] -> [3]`). Pure.
 */

/** One line of a diff: kept (`same`), only in the left text (`del`) or only in the right (`add`). */
export interface DiffLine {
  kind: 'same' | 'del' | 'add';
  text: string;
}

/** Above this many line pairs the diff gives up on alignment and shows left then right. */
const MAX_CELLS = 4_000_000;

/** Line diff of `a` (left) against `b` (right) by longest common subsequence; common prefix/suffix trimmed first. */
export function lineDiff(a: string, b: string): DiffLine[] {
  const x = a.split(/\r?\n/);
  const y = b.split(/\r?\n/);
  let start = 0;
  while (start < x.length && start < y.length && x[start] === y[start]) {
    start++;
  }
  let endX = x.length;
  let endY = y.length;
  while (endX > start && endY > start && x[endX - 1] === y[endY - 1]) {
    endX--;
    endY--;
  }
  const head: DiffLine[] = x.slice(0, start).map((text) => ({ kind: 'same', text }));
  const tail: DiffLine[] = x.slice(endX).map((text) => ({ kind: 'same', text }));
  const xs = x.slice(start, endX);
  const ys = y.slice(start, endY);
  const n = xs.length;
  const m = ys.length;
  if (n * m > MAX_CELLS) {
    return [...head, ...xs.map((text): DiffLine => ({ kind: 'del', text })), ...ys.map((text): DiffLine => ({ kind: 'add', text })), ...tail];
  }
  // lcs[i][j] = LCS length of xs[i..] and ys[j..], one flat array of (n+1) x (m+1).
  const w = m + 1;
  const lcs = new Uint32Array((n + 1) * w);
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      lcs[i * w + j] = xs[i] === ys[j] ? lcs[(i + 1) * w + j + 1] + 1 : Math.max(lcs[(i + 1) * w + j], lcs[i * w + j + 1]);
    }
  }
  const body: DiffLine[] = [];
  let i = 0;
  let j = 0;
  while (i < n && j < m) {
    if (xs[i] === ys[j]) {
      body.push({ kind: 'same', text: xs[i] });
      i++;
      j++;
    } else if (lcs[(i + 1) * w + j] >= lcs[i * w + j + 1]) {
      body.push({ kind: 'del', text: xs[i++] });
    } else {
      body.push({ kind: 'add', text: ys[j++] });
    }
  }
  while (i < n) {
    body.push({ kind: 'del', text: xs[i++] });
  }
  while (j < m) {
    body.push({ kind: 'add', text: ys[j++] });
  }
  return [...head, ...body, ...tail];
}

export type DetailObject = SweepDetailPayload['objects'][number];
export type DetailClip = DetailObject['clips'][number];

/** One clip of one object on both sides (either may be missing when the variants sampled differently). */
export interface ClipPair {
  objectId: number;
  text: string;
  clip: number;
  left?: DetailClip;
  right?: DetailClip;
  /** True when both sides chose the same frame and box (nothing to look at). */
  agree: boolean;
  /** `clip 4: [2] -> [3], box moved (IoU 0.42)`, or `clip 4: same answer [2]`. */
  summary: string;
}

const frameAnswer = (c: DetailClip | undefined): string => {
  if (!c) {
    return 'not run';
  }
  const f = c.pivotFrame;
  if (!f.valid) {
    return 'invalid';
  }
  return f.answer ?? (f.frameIndex === null ? 'none' : `frame ${f.frameIndex}`);
};

const boxAnswer = (c: DetailClip | undefined): string => {
  const b = c?.pivotBox;
  if (!b) {
    return '';
  }
  if (!b.valid) {
    return 'invalid';
  }
  return b.answer ?? (b.chosen === null ? 'none' : `box ${b.chosen + 1}`);
};

/** Pairs the two sides' clips by object and clip number and says what differs, in the left side's order. */
export function pairClips(left: SweepDetailPayload, right: SweepDetailPayload): ClipPair[] {
  const key = (objectId: number, clip: number): string => `${objectId}/${clip}`;
  const rights = new Map<string, { obj: DetailObject; clip: DetailClip }>();
  for (const obj of right.objects) {
    for (const clip of obj.clips) {
      rights.set(key(obj.objectId, clip.clip), { obj, clip });
    }
  }
  const out: ClipPair[] = [];
  const seen = new Set<string>();
  for (const obj of left.objects) {
    for (const clip of obj.clips) {
      const k = key(obj.objectId, clip.clip);
      seen.add(k);
      out.push(describe(obj.objectId, obj.text, clip.clip, clip, rights.get(k)?.clip));
    }
  }
  for (const [k, r] of rights) {
    if (!seen.has(k)) {
      out.push(describe(r.obj.objectId, r.obj.text, r.clip.clip, undefined, r.clip));
    }
  }
  return out;
}

function describe(objectId: number, text: string, clip: number, left: DetailClip | undefined, right: DetailClip | undefined): ClipPair {
  const parts: string[] = [];
  const fl = frameAnswer(left);
  const fr = frameAnswer(right);
  const sameFrame = fl === fr && left?.pivotFrame.frameIndex === right?.pivotFrame.frameIndex;
  if (!sameFrame) {
    parts.push(`${fl} -> ${fr}`);
  }
  const bl = left?.pivotBox;
  const br = right?.pivotBox;
  let sameBox = true;
  if (bl || br) {
    if (bl?.box && br?.box && bl.frameIndex === br.frameIndex) {
      const iou = boxIoU(bl.box, br.box);
      sameBox = iou > 0.999;
      if (!sameBox) {
        parts.push(`box moved (IoU ${iou.toFixed(2)})`);
      }
    } else if (bl?.box && br?.box) {
      sameBox = false;
      parts.push(`box on another frame (${bl.frameIndex} -> ${br.frameIndex})`);
    } else {
      const al = boxAnswer(left);
      const ar = boxAnswer(right);
      sameBox = al === ar;
      if (!sameBox) {
        parts.push(`box ${al || 'not run'} -> ${ar || 'not run'}`);
      }
    }
  }
  const agree = sameFrame && sameBox && left !== undefined && right !== undefined;
  const summary = agree ? `clip ${clip}: same answer ${fl}${boxAnswer(left) ? `, ${boxAnswer(left)}` : ''}` : `clip ${clip}: ${parts.join(', ') || 'traces differ'}`;
  return { objectId, text, clip, left, right, agree, summary };
}
