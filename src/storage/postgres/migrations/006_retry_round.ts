/**
 * 006: `attempt_count` is the total number of attempts, as many as the delivery lists, also after a
 * recover; the retry schedule counts from `retry_round_start` instead (the same as SQLite's 003).
 *
 * - deliveries.retry_round_start: the attempt_count when the current retry round began. 0 until a
 *   recover starts a new round (it sets it to attempt_count); the dispatcher's retry policy counts
 *   `attempt_count - retry_round_start`, so a recovered delivery gets the full schedule again.
 * - Backfill: recover used to reset attempt_count to 0, and an attempt completed after its lease had
 *   expired was logged without being counted. Such rows get attempt_count = their attempts, and
 *   retry_round_start the difference, so each keeps its place in its retry schedule.
 * - tpcs_claim() also returns retry_round_start. A function's result columns cannot be changed in
 *   place, so it is dropped and created again; its body is 003's, unchanged but for that column. A
 *   process of an older build still running during a deploy fails its claims ("cached plan must not
 *   change result type") until it is replaced; the new processes claim meanwhile.
 */
export const sql = /* sql */ `
ALTER TABLE deliveries ADD COLUMN retry_round_start integer NOT NULL DEFAULT 0;

UPDATE deliveries d SET retry_round_start = a.n - d.attempt_count, attempt_count = a.n
FROM (SELECT delivery_id, count(*)::int AS n FROM attempts GROUP BY delivery_id) a
WHERE a.delivery_id = d.id AND a.n > d.attempt_count;

DROP FUNCTION tpcs_claim(int, timestamptz, int, text, int);

CREATE FUNCTION tpcs_claim(per int, at timestamptz, lim int, worker text, lease_ms int)
RETURNS TABLE (id text, event_id text, event_seq text, endpoint_id text, customer_id text,
  client_customer_ref text, attempt_count int, retry_round_start int, created_at timestamptz, url text,
  payload text, secrets text[])
LANGUAGE plpgsql VOLATILE AS $fn$
#variable_conflict use_column
DECLARE
  eps text[];
BEGIN
  -- endpoints with due heads, not throttled, that no other process is claiming from right now
  eps := ARRAY(
    SELECT s.id FROM (
      SELECT e.id FROM endpoints e
      WHERE e.enabled AND (e.throttled_until IS NULL OR e.throttled_until <= at)
        AND EXISTS (SELECT 1 FROM deliveries d
                    WHERE d.endpoint_id = e.id AND d.status = 'pending' AND d.head AND d.next_attempt_at <= at)
      OFFSET 0
    ) s
    WHERE pg_try_advisory_xact_lock(1953523557, hashtext(s.id))
  );
  IF cardinality(eps) = 0 THEN RETURN; END IF;
  -- a new statement, so a new snapshot: every lease committed by a claim that held the lock is seen
  RETURN QUERY
  WITH ep AS (
    SELECT e.id, per - (
        SELECT count(*) FROM deliveries f
        WHERE f.endpoint_id = e.id AND f.status = 'pending' AND f.locked_until > at
      )::int AS room
    FROM endpoints e WHERE e.id = ANY (eps)
  ),
  picked AS (
    SELECT c.id, c.next_attempt_at FROM ep CROSS JOIN LATERAL (
      SELECT d.id, d.next_attempt_at, d.event_seq FROM deliveries d
      WHERE d.endpoint_id = ep.id AND d.status = 'pending' AND d.head AND d.next_attempt_at <= at
        AND (d.locked_until IS NULL OR d.locked_until <= at)
      ORDER BY d.next_attempt_at, d.event_seq
      LIMIT greatest(ep.room, 0)
      FOR UPDATE OF d SKIP LOCKED
    ) c
    WHERE ep.room > 0
    ORDER BY c.next_attempt_at, random()
    LIMIT lim
  )
  UPDATE deliveries d SET locked_by = worker, locked_until = at + lease_ms * interval '1 millisecond'
  FROM picked, events ev, endpoints e
  WHERE d.id = picked.id AND ev.event_id = d.event_id AND e.id = d.endpoint_id
  RETURNING d.id, d.event_id, d.event_seq::text, d.endpoint_id, d.customer_id,
    d.client_customer_ref, d.attempt_count, d.retry_round_start, d.created_at, e.url, ev.payload,
    (SELECT coalesce(array_agg(s.secret ORDER BY s.created_at DESC, s.id DESC), '{}')
       FROM endpoint_secrets s
       WHERE s.endpoint_id = d.endpoint_id AND (s.expires_at IS NULL OR s.expires_at > at));
END
$fn$;
`;
