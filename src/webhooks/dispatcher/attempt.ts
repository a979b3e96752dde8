/**
 * Turns one attempt's result into what the queue records: the delivery's next state and the
 * endpoint's (throttle, disable). Pure, so every rule is unit-tested without a socket.
 */
import type { ClaimedDelivery, Completion } from '../../storage/queue.js';
import { type AttemptResult, classifyOutcome } from './outcome.js';
import type { RetryPolicy } from './retry-policy.js';

/** The label an attempt is counted under in metrics. */
export type AttemptLabel = 'delivered' | 'rejected' | 'gone' | 'retry' | 'failed';

export interface CompletionPlan {
  completion: Completion;
  label: AttemptLabel;
}

/**
 * Plans the completion of a claimed delivery after an attempt.
 *
 * @param slowDownMs how long a 429/502/503/504 without `Retry-After` pauses the endpoint
 */
export function planCompletion(
  delivery: ClaimedDelivery,
  result: AttemptResult,
  policy: RetryPolicy,
  slowDownMs: number,
): CompletionPlan {
  const outcome = classifyOutcome(result);
  const at = result.startedAt;
  const end = at.getTime() + result.durationMs;
  const base = {
    deliveryId: delivery.id,
    endpointId: delivery.endpointId,
    at,
    durationMs: result.durationMs,
    statusCode: result.statusCode,
    responseExcerpt: result.responseExcerpt,
  };
  switch (outcome.kind) {
    case 'delivered':
      return {
        label: 'delivered',
        completion: { ...base, error: null, next: { status: 'delivered' }, succeeded: true },
      };
    case 'rejected':
      return {
        label: 'rejected',
        completion: { ...base, error: outcome.reason, next: { status: 'failed' }, succeeded: false },
      };
    case 'gone':
      return {
        label: 'gone',
        completion: {
          ...base,
          error: outcome.reason,
          next: { status: 'failed' },
          succeeded: false,
          disableReason: `${outcome.reason} (disabled at ${new Date(end).toISOString()})`,
        },
      };
    case 'retry': {
      const retryAfter = outcome.retryAfterMs ?? undefined;
      // the schedule counts this retry round's attempts (a recover starts a new round), not all of them
      const roundAttempts = Math.max(0, delivery.attemptCount - delivery.retryRoundStart);
      const decision = policy.next(roundAttempts + 1, retryAfter);
      const completion: Completion = {
        ...base,
        error: outcome.reason,
        next: decision.retry
          ? { status: 'pending', nextAttemptAt: new Date(end + decision.delayMs) }
          : { status: 'failed' },
        succeeded: false,
      };
      if (outcome.slowDown || retryAfter !== undefined) {
        const pause = retryAfter === undefined ? slowDownMs : Math.min(retryAfter, policy.retryAfterCapMs);
        completion.throttleUntil = new Date(end + pause);
      }
      return { label: decision.retry ? 'retry' : 'failed', completion };
    }
  }
}
