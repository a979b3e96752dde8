/**
 * 011: each partner's share of the dispatchers (issue 11; SQLite's claim is in code and needs no
 * migration).
 *
 * tpcs_claim(…, per_partner): the claim of 006 with these changes.
 *   - A partner's leases are counted through its endpoints (deliveries_in_flight, per endpoint), not
 *     with an index of their own, which would cost every lease and every completion an index write.
 *   - It try-locks partners, not endpoints: the lock covers every endpoint of the partner, so a claim
 *     that holds it sees every lease committed by the earlier claims of both the partner and its
 *     endpoints, and both bounds hold across processes.
 *   - The batch is shared out in turns: each partner's due heads are numbered (oldest first), and the
 *     batch takes every partner's first before any partner's second, and so on, none past its room
 *     (`per_partner` minus its leases; NULL: no bound). A partner with a large backlog can no longer
 *     fill a batch while another partner's deliveries wait.
 *   - Only the deliveries chosen are locked (FOR UPDATE SKIP LOCKED, checked again on their latest
 *     version), not every endpoint's candidates: 006 locked up to `per` rows of every endpoint, 3,200
 *     rows for a batch of 256 over 100 endpoints. No other claim can take the candidates meanwhile:
 *     it would need the partner's lock.
 *   `per_partner` comes last with a default, and the result columns are 006's: a process of an older
 *   build still running during a deploy keeps claiming (without the partner bound) until it is
 *   replaced. The function is dropped and created again because its argument list changes.
 */
export const sql = /* sql */ `
DROP FUNCTION tpcs_claim(int, timestamptz, int, text, int);

CREATE FUNCTION tpcs_claim(per int, at timestamptz, lim int, worker text, lease_ms int,
  per_partner int DEFAULT NULL)
RETURNS TABLE (id text, event_id text, event_seq text, endpoint_id text, customer_id text,
  client_customer_ref text, attempt_count int, retry_round_start int, created_at timestamptz, url text,
  payload text, secrets text[])
LANGUAGE plpgsql VOLATILE AS $fn$
#variable_conflict use_column
DECLARE
  eps text[];
BEGIN
  -- endpoints with due heads, not throttled, of partners no other process is claiming for right now
  -- (a partner with several such endpoints is try-locked once per endpoint: the lock is re-entrant)
  eps := ARRAY(
    SELECT s.id FROM (
      SELECT e.id, e.customer_id FROM endpoints e
      WHERE e.enabled AND (e.throttled_until IS NULL OR e.throttled_until <= at)
        AND EXISTS (SELECT 1 FROM deliveries d
                    WHERE d.endpoint_id = e.id AND d.status = 'pending' AND d.head AND d.next_attempt_at <= at)
      OFFSET 0
    ) s
    WHERE pg_try_advisory_xact_lock(1953523558, hashtext(s.customer_id))
  );
  IF cardinality(eps) = 0 THEN RETURN; END IF;
  -- a new statement, so a new snapshot: every lease committed by a claim that held the lock is seen
  RETURN QUERY
  WITH ep AS (
    SELECT e.id, e.customer_id, per - (
        SELECT count(*) FROM deliveries f
        WHERE f.endpoint_id = e.id AND f.status = 'pending' AND f.locked_until > at
      )::int AS room
    FROM endpoints e WHERE e.id = ANY (eps)
  ),
  pr AS (
    SELECT p.customer_id, CASE WHEN per_partner IS NULL THEN lim ELSE per_partner - (
        SELECT count(*) FROM endpoints pe JOIN deliveries f ON f.endpoint_id = pe.id
        WHERE pe.customer_id = p.customer_id AND f.status = 'pending' AND f.locked_until > at
      )::int END AS room
    FROM (SELECT DISTINCT ep.customer_id FROM ep) p
  ),
  -- each endpoint's due heads up to its room, the partner's and the batch's: candidates, read without
  -- locking them (only the chosen ones are locked, below)
  due AS (
    SELECT c.id, ep.customer_id, c.next_attempt_at
    FROM ep JOIN pr ON pr.customer_id = ep.customer_id
    CROSS JOIN LATERAL (
      SELECT d.id, d.next_attempt_at, d.event_seq FROM deliveries d
      WHERE d.endpoint_id = ep.id AND d.status = 'pending' AND d.head AND d.next_attempt_at <= at
        AND (d.locked_until IS NULL OR d.locked_until <= at)
      ORDER BY d.next_attempt_at, d.event_seq
      LIMIT greatest(least(ep.room, pr.room, lim), 0)
    ) c
    WHERE ep.room > 0 AND pr.room > 0
  ),
  -- in turns: every partner's first (oldest) candidate, then every partner's second, …, each partner
  -- up to its room; partners at the same turn and age in random order
  chosen AS (
    SELECT t.id FROM (
      SELECT due.id, due.customer_id, due.next_attempt_at,
        row_number() OVER (PARTITION BY due.customer_id ORDER BY due.next_attempt_at) AS turn
      FROM due
    ) t JOIN pr ON pr.customer_id = t.customer_id
    WHERE t.turn <= pr.room
    ORDER BY t.turn, t.next_attempt_at, random()
    LIMIT lim
  ),
  -- locked one by one through the primary key, skipping rows another transaction is writing (a late
  -- completion, a retry), then checked again on their latest version. The LIMIT keeps the checks out
  -- of the lookup (conditions are not pushed into it), so the row is found by its id whatever the
  -- table's statistics say (a fresh backlog, not yet analysed, made it scan every due delivery).
  picked AS (
    SELECT x.id FROM chosen CROSS JOIN LATERAL (
      SELECT d.id, d.status, d.next_attempt_at, d.locked_until FROM deliveries d
      WHERE d.id = chosen.id
      LIMIT 1
      FOR UPDATE OF d SKIP LOCKED
    ) x
    WHERE x.status = 'pending' AND x.next_attempt_at <= at AND (x.locked_until IS NULL OR x.locked_until <= at)
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
