import type { StageEvent } from '../events';
import type { StageContext, StageOutcome, StageRequest } from '../types';
import { notAvailable } from './index';

/** The "pivot-box" stage: not available until issue #3 lands. */
// eslint-disable-next-line require-yield
export async function* runPivotBox(_request: StageRequest, _ctx: StageContext): AsyncGenerator<StageEvent, StageOutcome, void> {
  notAvailable('pivot-box', 3);
}
