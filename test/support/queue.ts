/**
 * What the queue tests claim and complete with: a claim due a second from now, and a successful
 * attempt's completion, each changed by `over` where a test needs something else.
 */
import type { ClaimOptions, Completion } from '../../src/storage/queue.js';

/** A time `ms` from now. */
export const later = (ms: number): Date => new Date(Date.now() + ms);

/** Worker `w1` claims at most 100, 10 per endpoint, with a 30 s lease, a second from now. */
export const claimOptions = (over: Partial<ClaimOptions> = {}): ClaimOptions => ({
  workerId: 'w1',
  now: later(1000),
  leaseMs: 30_000,
  limit: 100,
  perEndpoint: 10,
  ...over,
});

/** The completion of an attempt answered 200 now, which delivers the delivery. */
export const completion = (
  deliveryId: string,
  endpointId: string,
  over: Partial<Completion> = {},
): Completion => ({
  deliveryId,
  endpointId,
  at: new Date(),
  durationMs: 3,
  statusCode: 200,
  error: null,
  responseExcerpt: 'ok',
  next: { status: 'delivered' },
  succeeded: true,
  ...over,
});
