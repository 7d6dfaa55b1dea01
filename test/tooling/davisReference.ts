/**
 * Reference values of the official DAVIS 2017 code (db_eval_iou / db_eval_boundary) on the bundled
 * car-shadow annotations (media/samples/davis-car-shadow/Annotations, 854x480, bound_pix 8), one
 * annotation scored against another: frame 00000 vs 00001, 00000 vs 00005, 00000 vs 00010, 00010 vs
 * 00039. J and F are symmetric in prediction and ground truth.
 */
export const CAR_SHADOW_REFERENCE = {
  f0v1: { j: 0.891165, f: 0.799147 },
  f0v5: { j: 0.606916, f: 0.369138 },
  f0v10: { j: 0.454492, f: 0.204149 },
  f10v39: { j: 0.362025, f: 0.15433 },
} as const;
