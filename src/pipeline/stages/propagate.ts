import type { StageEvent } from '../events';
import type { StageContext, StageOutcome, StageRequest } from '../types';
import { notAvailable } from './index';

/** The "propagate" stage: not available until issue #4 lands. */
// eslint-disable-next-line require-yield
export async function* runPropagate(_request: StageRequest, _ctx: StageContext): AsyncGenerator<StageEvent, StageOutcome, void> {
  notAvailable('propagate', 4);
}
