import type { StageEvent } from '../events';
import type { StageContext, StageOutcome, StageRequest } from '../types';
import { notAvailable } from './index';

/** The "evaluate" stage: not available until issue #6 lands. */
// eslint-disable-next-line require-yield
export async function* runEvaluate(_request: StageRequest, _ctx: StageContext): AsyncGenerator<StageEvent, StageOutcome, void> {
  notAvailable('evaluate', 6);
}
