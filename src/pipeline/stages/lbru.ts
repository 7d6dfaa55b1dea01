import type { StageEvent } from '../events';
import type { StageContext, StageOutcome, StageRequest } from '../types';
import { notAvailable } from './index';

/** The "lbru" stage: not available until issue #5 lands. */
// eslint-disable-next-line require-yield
export async function* runLbru(_request: StageRequest, _ctx: StageContext): AsyncGenerator<StageEvent, StageOutcome, void> {
  notAvailable('lbru', 5);
}
