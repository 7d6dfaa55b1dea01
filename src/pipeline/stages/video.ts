import type { StageEvent } from '../events';
import type { StageContext, StageOutcome, StageRequest } from '../types';
import { notAvailable } from './index';

/** The "video" stage: not available until issue #2 lands. */
// eslint-disable-next-line require-yield
export async function* runVideo(_request: StageRequest, _ctx: StageContext): AsyncGenerator<StageEvent, StageOutcome, void> {
  notAvailable('video', 2);
}
