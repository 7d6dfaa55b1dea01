/**
 * What the propagate stage keeps of a SAM 2 run, per object (COCO RLE masks, optional sparse logits at
 * video size, the capped-memory counts), and a cache of such tracks keyed by everything that decides
 * them. An object's results depend only on its own prompts, the frames and the model (objects of a
 * frame-outer run share nothing but the frame features, see {@link Sam2VideoTracker.trackObjects}), so
 * a host that tracks the objects of several notebooks of one video in ONE run (`alref eval`: the
 * expressions of a video) can hand each notebook's propagate stage its tracks, bit for bit those of
 * tracking them there.
 */
import type { RleMask } from '../../domain';
import { DAVIS_BACKGROUND_LOGIT, type SparseLogits, toSparse } from '../../masks/logits';
import { hashJson } from '../../run/hash';
import { resizeBilinear } from './maskOps';
import { cappedNote, type CappedCounts, type Sam2Prompt, type Sam2VideoTracker } from './video';

/** The video and settings of a run: equal ones (and equal prompts) give equal tracks. */
export interface TrackedVideo {
  modelId: string;
  framesDir: string;
  frameCount: number;
  width: number;
  height: number;
  fillHoleArea?: number;
  /** Keep each frame's logits at video size (sparse; Ref-DAVIS17 composition). */
  keepLogits: boolean;
}

/** One object of a run: its prompts and start frame. */
export interface TrackedObject {
  prompts: Sam2Prompt[];
  start: number;
}

/** One object's stored results: a mask for every frame that got one (else undefined), logits when kept. */
export interface StoredTrack {
  masks: Array<RleMask | undefined>;
  logits: Array<SparseLogits | null>;
  capped: CappedCounts;
  /** The capped-memory note of this object (see {@link cappedNote}), undefined when nothing was left out. */
  note(objectId: number): string | undefined;
}

/** The cache key of an object tracked on a video. */
export function trackKey(video: TrackedVideo, object: TrackedObject): string {
  return hashJson({ ...video, fillHoleArea: video.fillHoleArea ?? null, keepLogits: video.keepLogits === true, prompts: object.prompts, start: object.start });
}

/**
 * Runs `objects` through the tracker in one frame-outer run and keeps each object's RLE masks (and
 * logits). A frame that comes twice for an object (an unprompted start: forward, then backward) keeps
 * its later result, mask and logits alike. Yields each (object, frame) result as it comes.
 */
export async function* trackToStore(tracker: Sam2VideoTracker, video: TrackedVideo, objects: readonly TrackedObject[], frameSource: (i: number) => string, signal?: AbortSignal): AsyncGenerator<{ object: number; frameIndex: number }, StoredTrack[], void> {
  const { width, height, frameCount } = video;
  const masks = objects.map(() => new Array<RleMask | undefined>(frameCount));
  const logits = objects.map(() => new Array<SparseLogits | null>(frameCount).fill(null));
  for await (const { object, result: r } of tracker.trackObjects({
    numFrames: frameCount,
    width,
    height,
    frameSource,
    objects: objects.map((o) => ({ prompts: o.prompts, startFrame: o.start })),
    signal,
    fillHoleArea: video.fillHoleArea,
  })) {
    masks[object][r.frameIndex] = r.rle;
    if (video.keepLogits) {
      // object score <= 0: the mask is empty and so are the stored logits (null: all background)
      const low = r.lowRes;
      logits[object][r.frameIndex] = r.objectScore > 0 ? toSparse(resizeBilinear(low.logits, low.width, low.height, width, height), width, height, DAVIS_BACKGROUND_LOGIT) : null;
    }
    yield { object, frameIndex: r.frameIndex };
  }
  const limits = { geometry: tracker.geometry, modelId: tracker.modelId };
  return objects.map((_, k) => {
    const capped = tracker.cappedOf(k);
    return { masks: masks[k], logits: logits[k], capped, note: (objectId: number) => cappedNote(limits, capped, objectId) };
  });
}

/**
 * Tracks computed ahead of the propagate stages that use them (see the module comment), with the
 * model notes the run that computed them produced (handed to the first stage that takes a track, as
 * the first stage to open the model would have reported them).
 */
export class Sam2TrackCache {
  private readonly _tracks = new Map<string, StoredTrack>();
  private _notes: string[] = [];

  get(key: string): StoredTrack | undefined {
    return this._tracks.get(key);
  }

  set(key: string, track: StoredTrack): void {
    this._tracks.set(key, track);
  }

  get size(): number {
    return this._tracks.size;
  }

  addNotes(notes: readonly string[]): void {
    this._notes.push(...notes);
  }

  /** The pending model notes, once. */
  takeNotes(): string[] {
    return this._notes.splice(0);
  }
}
