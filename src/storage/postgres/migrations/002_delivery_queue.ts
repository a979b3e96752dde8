/**
 * 002: what the dispatcher's queue needs beyond 001 (the same as SQLite's 002).
 * - endpoints.throttled_until: set after 429/502/503/504 (or Retry-After); not claimed before it.
 * - deliveries_due_by_endpoint: the claim walks each endpoint's due pending deliveries in order.
 * - deliveries_in_flight: counting leased deliveries per endpoint (the per-endpoint bound).
 * - deliveries_failed_by_endpoint: recover {since}.
 */
export const sql = /* sql */ `
ALTER TABLE endpoints ADD COLUMN throttled_until timestamptz;

CREATE INDEX deliveries_due_by_endpoint ON deliveries (endpoint_id, next_attempt_at, event_seq)
  WHERE status = 'pending';
CREATE INDEX deliveries_in_flight ON deliveries (endpoint_id, locked_until)
  WHERE status = 'pending' AND locked_until IS NOT NULL;
CREATE INDEX deliveries_failed_by_endpoint ON deliveries (endpoint_id, created_at)
  WHERE status = 'failed';
`;
