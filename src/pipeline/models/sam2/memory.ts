/**
 * Which earlier frames and object pointers SAM 2 attends to when it segments a frame: the host-loop
 * rules of the official video predictor (SAM 2.1 configs), as a pure function.
 *
 * Rules (num_maskmem = 7, max 16 object pointers):
 * - Every conditioning (prompted) frame enters memory, with temporal row `numMaskmem - 1` (6).
 * - Up to `numMaskmem - 1` (6) recent frames in the direction of travel: frame i-k (reverse: i+k),
 *   k = 1..6, enters with row k-1 when it has a tracked (non-conditioning) output. A conditioning frame
 *   at that distance is not repeated; a missing frame leaves its slot empty (rows are not shifted).
 * - Object pointers: one per conditioning frame at or behind the current frame in the direction of
 *   travel, with temporal distance (i - t), negated when tracking in reverse (signed, SAM 2.1;
 *   `signedPointerDistances: false` gives |i - t| as SAM 2.0); then
 *   up to min(numFrames, 16) - 1 recent frames t = i-d (reverse: i+d), d = 1.., stopping at the video
 *   ends, with distance d. Distances are divided by min(numFrames, 16) - 1.
 * - With a limit on conditioning frames (`maxCondFrames`), the closest one before, the closest one at
 *   or after, then the rest by distance are kept; the others act as ordinary tracked frames.
 * - Fixed-size graphs bound how many memories / pointers fit (`memoryCapacity`, `pointerCapacity`).
 *   The official predictor keeps ALL conditioning frames plus the recent ones, so a capped graph keeps
 *   the recent memories (up to 6) and fills the remaining slots with the conditioning frames closest in
 *   time to the current frame; likewise for pointers (recent ones first, then the closest
 *   conditioning ones). What was left out is counted in `dropped` so that callers can say so.
 */

export interface MemoryQuery {
  frameIndex: number;
  /** Tracking towards lower frame indices. */
  reverse: boolean;
  numFrames: number;
  /** Conditioning (prompted) frames of the object. */
  condFrames: readonly number[];
  /** Frames that already have a tracked (non-conditioning) output for the object. */
  tracked: ReadonlySet<number>;
  /** Default 7. */
  numMaskmem?: number;
  /** Default 16. */
  maxObjPtrs?: number;
  /** Cap on conditioning frames in attention; default no cap (SAM 2 `max_cond_frames_in_attn = -1`). */
  maxCondFrames?: number;
  /** Most memory frames the memory-attention graph takes (fixed-length exports); default unbounded. */
  memoryCapacity?: number;
  /** Most object pointers the graph takes; default unbounded. */
  pointerCapacity?: number;
  /** Sign conditioning pointers' distances by the direction of travel (SAM 2.1, default true). */
  signedPointerDistances?: boolean;
}

export interface MemoryRef {
  frameIndex: number;
  kind: 'cond' | 'recent';
  /** Row of the temporal position table added to this memory's position encoding. */
  tposRow: number;
}

export interface PointerRef {
  frameIndex: number;
  kind: 'cond' | 'recent';
  /** Temporal distance as SAM 2 defines it (signed for conditioning pointers). */
  diff: number;
  /** `diff / (min(numFrames, maxObjPtrs) - 1)`: the input of `pointer_tpos`. */
  normalized: number;
}

export interface MemorySelection {
  memories: MemoryRef[];
  pointers: PointerRef[];
  /** Entries the official predictor would attend to that a capacity left out. */
  dropped: { memories: number; pointers: number };
}

/** SAM 2's `select_closest_cond_frames`: which conditioning frames are attended to. */
export function selectClosestCondFrames(frameIndex: number, condFrames: readonly number[], max?: number): { selected: number[]; unselected: number[] } {
  const all = [...new Set(condFrames)].sort((a, b) => a - b);
  if (max === undefined || max < 0 || all.length <= max) {
    return { selected: all, unselected: [] };
  }
  const selected = new Set<number>();
  const before = all.filter((t) => t < frameIndex);
  const after = all.filter((t) => t >= frameIndex);
  if (before.length > 0) {
    selected.add(before[before.length - 1]);
  }
  if (after.length > 0 && selected.size < max) {
    selected.add(after[0]);
  }
  const rest = all.filter((t) => !selected.has(t)).sort((a, b) => Math.abs(a - frameIndex) - Math.abs(b - frameIndex) || a - b);
  for (const t of rest) {
    if (selected.size >= max) {
      break;
    }
    selected.add(t);
  }
  return { selected: all.filter((t) => selected.has(t)), unselected: all.filter((t) => !selected.has(t)) };
}

/**
 * The memories and object pointers for one frame (see the module comment for the rules).
 *
 * @example
 * // forward from a prompt on frame 10, now at frame 13 (11 and 12 tracked)
 * selectMemory({ frameIndex: 13, reverse: false, numFrames: 50, condFrames: [10], tracked: new Set([11, 12]) });
 * // memories: 10 (row 6), 11 (row 1), 12 (row 0); pointers: 10 (diff 3), 12 (1), 11 (2)
 */
export function selectMemory(q: MemoryQuery): MemorySelection {
  const numMaskmem = q.numMaskmem ?? 7;
  const maxObjPtrs = q.maxObjPtrs ?? 16;
  const i = q.frameIndex;
  const { selected, unselected } = selectClosestCondFrames(i, q.condFrames, q.maxCondFrames);
  const selectedSet = new Set(selected);
  const unselectedSet = new Set(unselected);
  const hasOutput = (t: number) => !selectedSet.has(t) && (q.tracked.has(t) || unselectedSet.has(t));

  const cond: MemoryRef[] = selected.filter((t) => t !== i).map((t) => ({ frameIndex: t, kind: 'cond', tposRow: numMaskmem - 1 }));
  const recent: MemoryRef[] = [];
  // nearest first, so that a capacity cut drops the farthest
  for (let k = 1; k < numMaskmem; k++) {
    const t = q.reverse ? i + k : i - k;
    if (t >= 0 && t < q.numFrames && hasOutput(t)) {
      recent.push({ frameIndex: t, kind: 'recent', tposRow: k - 1 });
    }
  }
  const memCap = q.memoryCapacity ?? Infinity;
  // recent memories first (nearest first), then the conditioning frames closest in time
  const recentKept = recent.slice(0, Math.max(0, memCap));
  const condKept = closest(cond, i, Math.max(0, memCap - recentKept.length));
  // SAM 2 order: conditioning memories, then recent ones from the farthest (t_pos 1) to the nearest
  const memories = [...condKept, ...recentKept.reverse()];

  const maxPtrs = Math.min(q.numFrames, maxObjPtrs);
  const denom = Math.max(1, maxPtrs - 1);
  const sign = q.reverse ? -1 : 1;
  const signed = q.signedPointerDistances !== false;
  const condPtrs: PointerRef[] = selected
    .filter((t) => (q.reverse ? t >= i : t <= i))
    .map((t) => {
      const diff = signed ? (i - t) * sign : Math.abs(i - t);
      return { frameIndex: t, kind: 'cond', diff, normalized: diff / denom };
    });
  const recentPtrs: PointerRef[] = [];
  for (let d = 1; d < maxPtrs; d++) {
    const t = q.reverse ? i + d : i - d;
    if (t < 0 || t >= q.numFrames) {
      break;
    }
    if (hasOutput(t)) {
      recentPtrs.push({ frameIndex: t, kind: 'recent', diff: d, normalized: d / denom });
    }
  }
  const ptrCap = q.pointerCapacity ?? Infinity;
  const recentPtrKept = recentPtrs.slice(0, Math.max(0, ptrCap));
  const condPtrKept = closest(condPtrs, i, Math.max(0, ptrCap - recentPtrKept.length));
  const pointers = [...condPtrKept, ...recentPtrKept];
  return {
    memories,
    pointers,
    dropped: { memories: cond.length + recent.length - memories.length, pointers: condPtrs.length + recentPtrs.length - pointers.length },
  };
}

/** The `n` entries closest in time to frame `i` (ties: the earlier frame), in frame order. */
function closest<T extends { frameIndex: number }>(list: T[], i: number, n: number): T[] {
  if (list.length <= n) {
    return list;
  }
  return [...list]
    .sort((a, b) => Math.abs(a.frameIndex - i) - Math.abs(b.frameIndex - i) || a.frameIndex - b.frameIndex)
    .slice(0, n)
    .sort((a, b) => a.frameIndex - b.frameIndex);
}

/** Where an object's memories stood in the memory bank on its previous step: block `start + k` held `frames[k]`. */
export interface BankWindow {
  start: number;
  frames: readonly number[];
}

/**
 * The block (of `hw` rows each) of the memory bank's token buffer where this step's run of memory
 * blocks starts. The memories are laid out in the official order (conditioning memories first, then
 * the recent ones farthest first, as SAM 2 concatenates them), so the feed is the official one to the
 * bit. Tracking adds one recent memory per frame and drops the farthest (in either direction), so the
 * recent memories of this step are those of the previous step moved down one place: with the run
 * starting one block further along, each of them is on the block it already occupies, and only the
 * memory that entered and the conditioning blocks before the run are written (the graph is fed a view
 * that starts at the run). The start that most of the memories agree on (their block last step minus
 * their place now) wins; when it is outside `0..maxStart` (the buffer's end reached), or no memory
 * carried over, the run starts at block 0 again.
 *
 * @example
 * slideStart(undefined, [10, 24, 25, 26], 8); // 0
 * // one frame later: 24 left, 27 entered; 25 and 26 stay on blocks 2 and 3, so the run starts at block 1
 * slideStart({ start: 0, frames: [10, 24, 25, 26] }, [10, 25, 26, 27], 8); // 1
 */
export function slideStart(previous: BankWindow | undefined, frames: readonly number[], maxStart: number): number {
  if (!previous) {
    return 0;
  }
  const votes = new Map<number, number>();
  frames.forEach((f, k) => {
    const j = previous.frames.indexOf(f);
    if (j >= 0) {
      const start = previous.start + j - k;
      votes.set(start, (votes.get(start) ?? 0) + 1);
    }
  });
  // ties (as many blocks kept either way) go to the lower start, which leaves more room to slide; a
  // start past the room is not traded for one that keeps fewer blocks (that would rewrite nearly all
  // of them on every frame from then on): the run starts again at block 0
  let best = 0;
  let most = 0;
  for (const [start, n] of votes) {
    if (n > most || (n === most && start < best)) {
      best = start;
      most = n;
    }
  }
  return best >= 0 && best <= maxStart ? best : 0;
}
