import { problemAt } from '../../contract/problems.js';
import type { Problem } from '../../errors/index.js';
import { timestampMs } from '../inbox/order.js';

/** How far ahead of the receiver's clock an `event_timestamp` may be, by default: 5 minutes. */
export const DEFAULT_FUTURE_TOLERANCE_SECONDS = 300;

/**
 * Why an event dated too far ahead is refused, or undefined when it is not. The newest
 * `event_timestamp` wins, so a validly signed event dated years ahead would pin its third party's
 * status for good; refusing it (400, the seed's "invalid payload") keeps it out of the inbox, and the
 * sender shows it as failed instead of retrying it.
 *
 * @example
 * futureProblem('2099-01-01T00:00:00Z', Date.now(), 300); // { path: '$.event_timestamp', message: '…' }
 */
export function futureProblem(
  eventTimestamp: string,
  nowMs: number,
  toleranceSeconds: number,
): Problem | undefined {
  const aheadSeconds = Math.floor((timestampMs(eventTimestamp) - nowMs) / 1000);
  if (aheadSeconds <= toleranceSeconds) return undefined;
  return problemAt(
    '$.event_timestamp',
    `is ${aheadSeconds} s ahead of this receiver's clock, more than the ${toleranceSeconds} s allowed ` +
      '(an event from the future would hold its status until that time)',
  );
}
