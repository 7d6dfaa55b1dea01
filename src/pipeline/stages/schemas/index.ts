import type { StageKind } from '../../types';
import video from './video.schema.json';
import reference from './reference.schema.json';
import lbru from './lbru.schema.json';
import pivotFrame from './pivot-frame.schema.json';
import pivotBox from './pivot-box.schema.json';
import propagate from './propagate.schema.json';
import evaluate from './evaluate.schema.json';

/**
 * JSON Schemas (draft-07) of each stage kind's parameters: the YAML fields of a stage cell other
 * than `stage`, `id` and `uses`. One file per kind (`<kind>.schema.json`), owned by the stage's
 * subsystem; the cell parser validates with them and the editor offers their properties and enum
 * values as completions.
 */
export const STAGE_SCHEMAS: Record<StageKind, Record<string, unknown>> = {
  video,
  reference,
  lbru,
  'pivot-frame': pivotFrame,
  'pivot-box': pivotBox,
  propagate,
  evaluate,
};
