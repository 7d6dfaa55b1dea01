/**
 * GroundingDINO thresholds per task and source (docs/PIPELINE.md "Detection thresholds"): the paper's values are the default, the
 * reference code's are one setting away.
 */
export type DetectionTask = 'rvos' | 'avs' | 'fallback';
export type ThresholdSource = 'paper' | 'reference-code';

export interface DetectionThresholds {
  boxThreshold: number;
  textThreshold: number;
  /** Candidates kept (by score). */
  topK: number;
}

const TABLE: Record<DetectionTask, Record<ThresholdSource, DetectionThresholds>> = {
  rvos: {
    paper: { boxThreshold: 0.15, textThreshold: 0.2, topK: 3 },
    'reference-code': { boxThreshold: 0.25, textThreshold: 0.2, topK: 3 },
  },
  avs: {
    paper: { boxThreshold: 0.25, textThreshold: 0.25, topK: 3 },
    'reference-code': { boxThreshold: 0.25, textThreshold: 0.25, topK: 3 },
  },
  // no clip gave a valid pivot: frame 0 with very low thresholds, the top box
  fallback: {
    paper: { boxThreshold: 0.001, textThreshold: 0.1, topK: 1 },
    'reference-code': { boxThreshold: 0.001, textThreshold: 0.1, topK: 1 },
  },
};

/**
 * Thresholds for a task.
 * @example detectionThresholds('rvos') // { boxThreshold: 0.15, textThreshold: 0.2, topK: 3 }
 */
export function detectionThresholds(task: DetectionTask, source: ThresholdSource = 'paper'): DetectionThresholds {
  return { ...TABLE[task][source] };
}

/**
 * Thresholds of the RVOS frame-0 fallback (no clip gave a valid pivot): box 0.001 / text 0.1, the top
 * box; the reference code's Ref-DAVIS17 script uses box 0.1 / text 0.1 (docs/PIPELINE.md "Clips (RVOS)"), so
 * the `ref-davis17` video preset selects those. AVS has no such fallback.
 *
 * @example fallbackThresholds('ref-davis17') // { boxThreshold: 0.1, textThreshold: 0.1, topK: 1 }
 */
export function fallbackThresholds(preset: string | null, source: ThresholdSource = 'paper'): DetectionThresholds {
  return preset === 'ref-davis17' ? { boxThreshold: 0.1, textThreshold: 0.1, topK: 1 } : detectionThresholds('fallback', source);
}
