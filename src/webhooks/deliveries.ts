/** Deliveries as partners read them: what was sent where, every attempt and its outcome. */
import type { z } from 'zod';
import type { Delivery } from '../storage/store.js';
import type { deliveryViewSchema } from './schema.js';

/**
 * The API view of a delivery; `error` and `response_excerpt` appear only when there is one, and
 * `waiting_for` only while the delivery waits behind an earlier event of the same third party.
 */
export function toDeliveryView(d: Delivery): z.output<typeof deliveryViewSchema> {
  return {
    id: d.id,
    event_id: d.eventId,
    status: d.status,
    attempt_count: d.attemptCount,
    next_attempt_at: d.nextAttemptAt?.toISOString() ?? null,
    ...(d.waitingFor === undefined
      ? {}
      : { waiting_for: { event_id: d.waitingFor.eventId, delivery_id: d.waitingFor.deliveryId } }),
    created_at: d.createdAt.toISOString(),
    attempts: d.attempts.map((a) => ({
      at: a.at.toISOString(),
      status_code: a.statusCode,
      duration_ms: a.durationMs,
      ...(a.error === null ? {} : { error: a.error }),
      ...(a.responseExcerpt === null ? {} : { response_excerpt: a.responseExcerpt }),
    })),
  };
}
