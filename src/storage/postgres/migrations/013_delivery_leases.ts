/**
 * 013: leases in a table of their own, and fewer indexes on deliveries (issue 13; SQLite unchanged).
 *
 * A lease used to be two columns of the delivery (locked_by, locked_until). Setting them wrote a new
 * version of the row and, since deliveries_in_flight indexes locked_until, an entry in each of its
 * ten indexes: ~50 µs and 12 WAL records per claimed delivery, the largest cost of a drain.
 *
 * - delivery_leases: one row per leased delivery (delivery_id, its endpoint and partner, locked_by,
 *   locked_until). A claim inserts it (or takes over an expired one), a completion by its holder
 *   deletes it, a release or a retry deletes it. "Lease free" = no row whose locked_until is later
 *   than now. A row exists only for a pending delivery: whoever settles a delivery holds, and
 *   deletes, its lease. delivery_leases_by_partner finds a partner's live leases, read once per claim
 *   for both bounds (each endpoint's and the partner's), instead of one probe per endpoint and one
 *   per candidate. Leases held now are copied over.
 * - Lock order: a delivery's row, then its lease (the claim, a completion, a release and a retry
 *   all do), so a late completion and the claim taking its expired lease over cannot deadlock.
 * - tpcs_claim(): 011's, with the leases read from and written to the table. The deliveries chosen
 *   are locked FOR NO KEY UPDATE (the claim no longer writes them) and their columns returned from
 *   that latest version. Only a claim holding the partner's lock creates a lease, so the statement's
 *   snapshot, taken after the lock, sees every live lease of the partner.
 * - deliveries.locked_by and locked_until are dropped with deliveries_in_flight; so are deliveries_order
 *   (the same index as 003's deliveries_pending_by_key) and deliveries_due (nextDueAt reads each
 *   enabled endpoint's earliest head from deliveries_heads: only a head can be due).
 * A process of an older build still running during a deploy claims through this function, but its
 * completions fail (they name the dropped columns): those deliveries are sent again once their
 * lease ends, by the new processes.
 */
export const sql = /* sql */ `
CREATE TABLE delivery_leases (
  delivery_id  text PRIMARY KEY REFERENCES deliveries (id) ON DELETE CASCADE,
  endpoint_id  text NOT NULL,
  customer_id  text NOT NULL,
  locked_by    text NOT NULL,
  locked_until timestamptz NOT NULL
);

CREATE INDEX delivery_leases_by_partner ON delivery_leases (customer_id, locked_until);

INSERT INTO delivery_leases (delivery_id, endpoint_id, customer_id, locked_by, locked_until)
SELECT id, endpoint_id, customer_id, locked_by, locked_until FROM deliveries
WHERE status = 'pending' AND locked_by IS NOT NULL AND locked_until IS NOT NULL;

DROP INDEX deliveries_in_flight;
DROP INDEX deliveries_order;
DROP INDEX deliveries_due;
ALTER TABLE deliveries DROP COLUMN locked_by, DROP COLUMN locked_until;

CREATE OR REPLACE FUNCTION tpcs_claim(per int, at timestamptz, lim int, worker text, lease_ms int,
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
  WITH
  -- the live leases of the partners claimed for, read once: every endpoint's and partner's room
  lease AS (
    SELECT l.delivery_id, l.endpoint_id, l.customer_id FROM delivery_leases l
    WHERE l.customer_id IN (SELECT e.customer_id FROM endpoints e WHERE e.id = ANY (eps))
      AND l.locked_until > at
  ),
  ep AS (
    SELECT e.id, e.customer_id, per - coalesce(cardinality(el.leased), 0) AS room,
      coalesce(el.leased, '{}') AS leased
    FROM endpoints e
    LEFT JOIN (SELECT lease.endpoint_id, array_agg(lease.delivery_id) AS leased FROM lease
               GROUP BY lease.endpoint_id) el ON el.endpoint_id = e.id
    WHERE e.id = ANY (eps)
  ),
  pr AS (
    SELECT p.customer_id, CASE WHEN per_partner IS NULL THEN lim ELSE per_partner - (
        SELECT count(*) FROM lease WHERE lease.customer_id = p.customer_id
      )::int END AS room
    FROM (SELECT DISTINCT ep.customer_id FROM ep) p
  ),
  -- each endpoint's due heads up to its room, the partner's and the batch's, not leased: candidates,
  -- read without locking them (only the chosen ones are locked, below)
  due AS (
    SELECT c.id, ep.customer_id, c.next_attempt_at
    FROM ep JOIN pr ON pr.customer_id = ep.customer_id
    CROSS JOIN LATERAL (
      SELECT d.id, d.next_attempt_at, d.event_seq FROM deliveries d
      WHERE d.endpoint_id = ep.id AND d.status = 'pending' AND d.head AND d.next_attempt_at <= at
        AND d.id <> ALL (ep.leased)
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
  -- locked one by one through the primary key, skipping rows another transaction is writing (a
  -- completion, a retry), then checked again on their latest version, which is also what is returned.
  -- The LIMIT keeps the checks out of the lookup (conditions are not pushed into it), so the row is
  -- found by its id whatever the table's statistics say.
  picked AS (
    SELECT x.* FROM chosen CROSS JOIN LATERAL (
      SELECT d.id, d.event_id, d.event_seq, d.endpoint_id, d.customer_id, d.client_customer_ref,
        d.attempt_count, d.retry_round_start, d.created_at, d.status, d.next_attempt_at
      FROM deliveries d
      WHERE d.id = chosen.id
      LIMIT 1
      FOR NO KEY UPDATE OF d SKIP LOCKED
    ) x
    WHERE x.status = 'pending' AND x.next_attempt_at <= at
  ),
  -- the lease: a new row, or an expired one taken over. Whether it was free is the statement's
  -- snapshot's answer (due), enough because only a claim holding the partner's lock creates one; the
  -- WHERE tests the row's latest version all the same, and a row it refuses is not returned.
  leased AS (
    INSERT INTO delivery_leases AS l (delivery_id, endpoint_id, customer_id, locked_by, locked_until)
    SELECT picked.id, picked.endpoint_id, picked.customer_id, worker, at + lease_ms * interval '1 millisecond'
    FROM picked
    ON CONFLICT (delivery_id) DO UPDATE
      SET endpoint_id = excluded.endpoint_id, customer_id = excluded.customer_id,
        locked_by = excluded.locked_by, locked_until = excluded.locked_until
      WHERE l.locked_until <= at
    RETURNING l.delivery_id
  )
  SELECT p.id, p.event_id, p.event_seq::text, p.endpoint_id, p.customer_id, p.client_customer_ref,
    p.attempt_count, p.retry_round_start, p.created_at, e.url, ev.payload,
    (SELECT coalesce(array_agg(s.secret ORDER BY s.created_at DESC, s.id DESC), '{}')
       FROM endpoint_secrets s
       WHERE s.endpoint_id = p.endpoint_id AND (s.expires_at IS NULL OR s.expires_at > at))
  FROM leased
  JOIN picked p ON p.id = leased.delivery_id
  JOIN events ev ON ev.event_id = p.event_id
  JOIN endpoints e ON e.id = p.endpoint_id;
END
$fn$;
`;
