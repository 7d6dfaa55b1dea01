/**
 * Candidate boxes for the `pivot-box` stage (and the propagate fallback): GroundingDINO on one frame.
 */
import type { Candidate } from '../domain';
import type { StageContext } from '../types';
import { detectWithGroundingDino } from './groundingDino';
import { requireModels } from './service';

export interface CandidateOptions {
  /** Absolute path of the frame image (e.g. `framePath(video.framesDir, i)`). */
  imagePath: string;
  /** The referring expression (or several phrases); lowercased, trimmed and ended with "." here. */
  caption: string;
  boxThreshold: number;
  textThreshold: number;
  topK: number;
  /** Model id; default: the configured detector (`alref.models.detector`), else `grounding-dino-tiny`. */
  modelId?: string;
}

/**
 * GroundingDINO candidates on one image, best first, at most `topK`, boxes in pixels of the image and
 * clipped to it, each with its phrase and score (`source: 'grounding-dino'`). An empty array means no
 * query passed the box threshold. Model notes (a CUDA fallback) are logged as warnings on `ctx.log`.
 *
 * @example
 * const t = detectionThresholds('rvos');
 * const cands = await detectCandidates(ctx, { imagePath: framePath(video.framesDir, 12), caption: 'the dog on the left', ...t });
 */
export async function detectCandidates(ctx: StageContext, opts: CandidateOptions): Promise<Candidate[]> {
  const models = requireModels(ctx.services, 'pivot-box');
  const modelId = opts.modelId ?? models.modelFor('grounding-dino');
  try {
    return await detectWithGroundingDino(models, modelId, { ...opts, signal: ctx.signal });
  } finally {
    for (const note of models.takeNotes()) {
      ctx.log.warn(note);
    }
  }
}
