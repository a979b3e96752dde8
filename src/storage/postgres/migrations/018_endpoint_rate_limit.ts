/**
 * 018: per-endpoint rate limit, enforced by the claim (issue 14; SQLite: 010; the rule:
 * ../../rate-limit.ts).
 *
 * - endpoints.rate_limit: deliveries per second the partner allows (NULL: no limit); rate_tat: its
 *   theoretical arrival time (GCRA), written only by the claim and cleared when the limit changes.
 * - endpoints_rate_limited: the partial index the claim finds a partner's limited endpoints by; it holds
 *   nothing while no endpoint is limited, so an unlimited deployment pays one empty index probe a claim.
 * - tpcs_rate_room(): an endpoint's budget at a time (the rule, in SQL).
 * - tpcs_claim(): 014's, with an endpoint's room also bounded by its rate. The partners' limited
 *   endpoints are read once; those with a batch due (`limited_due`, from the snapshot) are locked FOR
 *   NO KEY UPDATE SKIP LOCKED and their budget read again (`limited`): the rate_tat read is the one
 *   written back, and a claim never waits on an endpoint row (a PATCH, a DELETE cascading to the
 *   deliveries this claim has locked, a completion setting throttled_until): that endpoint just gets no
 *   room in this claim. An endpoint waiting for its budget (most claims) is not locked: a row lock
 *   writes WAL and dirties the page. Claims of one partner are serialised by its advisory lock
 *   already; the row lock makes the read and the write one step against everything else. After the
 *   leases are written, each limited endpoint's rate_tat moves on by T per delivery leased (`rated`),
 *   in the same statement, so every process claiming next sees the budget spent. Heads only, bounds,
 *   turns, SKIP LOCKED and the leases are 014's; same arguments and result columns, and the planner
 *   settings 014 gave it with ALTER FUNCTION are now part of its definition (CREATE OR REPLACE resets
 *   them).
 */
export const sql = /* sql */ `
ALTER TABLE endpoints ADD COLUMN rate_limit int CHECK (rate_limit >= 1), ADD COLUMN rate_tat timestamptz;

CREATE INDEX endpoints_rate_limited ON endpoints (customer_id) WHERE rate_limit IS NOT NULL;

-- How many deliveries an endpoint limited to \`rate\` a second may start at \`at\` (../../rate-limit.ts
-- rateRoom): due = floor((at + B·T - max(tat, at)) / T) with B = ceil(rate / 10) and T = 1 s / rate,
-- or 0 while that is less than a batch of ceil(B / 2). One expression (due written twice), so that the
-- planner inlines it: a SQL function it cannot inline runs as a query of its own, ~0.1 ms a call.
CREATE FUNCTION tpcs_rate_room(rate int, tat timestamptz, at timestamptz) RETURNS int
LANGUAGE sql IMMUTABLE AS $fn$
  SELECT CASE
    WHEN floor(ceil(rate / 10.0) - greatest(extract(epoch FROM coalesce(tat, at) - at), 0) * rate + 1e-9)
      >= ceil(ceil(rate / 10.0) / 2)
    THEN floor(ceil(rate / 10.0) - greatest(extract(epoch FROM coalesce(tat, at) - at), 0) * rate + 1e-9)::int
    ELSE 0
  END
$fn$;

CREATE OR REPLACE FUNCTION tpcs_claim(per int, at timestamptz, lim int, worker text, lease_ms int,
  per_partner int DEFAULT NULL)
RETURNS TABLE (id text, event_id text, event_seq text, endpoint_id text, customer_id text,
  client_customer_ref text, attempt_count int, retry_round_start int, created_at timestamptz, url text,
  payload text, secrets text[])
LANGUAGE plpgsql VOLATILE SET enable_seqscan = off SET enable_bitmapscan = off
  SET plan_cache_mode = force_generic_plan AS $fn$
#variable_conflict use_column
DECLARE
  parts text[];
BEGIN
  -- partners with an endpoint to send to that no other process is claiming for right now
  parts := ARRAY(
    SELECT p.customer_id FROM (
      SELECT DISTINCT e.customer_id FROM endpoints e
      WHERE e.enabled AND (e.throttled_until IS NULL OR e.throttled_until <= at)
      OFFSET 0
    ) p
    WHERE pg_try_advisory_xact_lock(1953523558, hashtext(p.customer_id))
  );
  IF cardinality(parts) = 0 THEN RETURN; END IF;
  -- a new statement, so a new snapshot: every lease committed by a claim that held the lock is seen
  RETURN QUERY
  WITH
  -- the live leases of the partners claimed for, read once: every endpoint's and partner's room
  lease AS (
    SELECT l.delivery_id, l.endpoint_id, l.customer_id FROM delivery_leases l
    WHERE l.customer_id = ANY (parts) AND l.locked_until > at
  ),
  pr AS (
    SELECT p.customer_id, n.leases,
      CASE WHEN per_partner IS NULL THEN lim ELSE per_partner - n.leases END AS room
    FROM unnest(parts) AS p(customer_id)
    CROSS JOIN LATERAL (SELECT count(*)::int AS leases FROM lease WHERE lease.customer_id = p.customer_id) n
  ),
  -- the leases as one row (each endpoint's count, and the leased deliveries): looked up per endpoint
  -- and per candidate without joining the lease rows again for each
  held AS (
    SELECT coalesce((SELECT jsonb_object_agg(n.endpoint_id, n.leases) FROM (
        SELECT lease.endpoint_id, count(*) AS leases FROM lease GROUP BY lease.endpoint_id) n), '{}') AS by_endpoint,
      ARRAY(SELECT lease.delivery_id FROM lease) AS ids
  ),
  -- the partners' rate-limited endpoints with a batch due, from the snapshot: nothing is locked while
  -- an endpoint waits for its budget, which is most claims
  limited_due AS (
    SELECT e.id FROM endpoints e
    WHERE e.customer_id = ANY (parts) AND e.rate_limit IS NOT NULL
      AND e.enabled AND (e.throttled_until IS NULL OR e.throttled_until <= at)
      AND tpcs_rate_room(e.rate_limit, e.rate_tat, at) > 0
  ),
  -- those locked, so that the rate_tat read is the one rated writes, and their budget read again from
  -- the locked version (SKIP LOCKED: one being changed or deleted sits this claim out rather than wait)
  limited AS (
    SELECT e.id, e.rate_limit, greatest(coalesce(e.rate_tat, at), at) AS tat,
      tpcs_rate_room(e.rate_limit, e.rate_tat, at) AS allowed
    FROM endpoints e
    WHERE e.id IN (SELECT limited_due.id FROM limited_due)
    FOR NO KEY UPDATE OF e SKIP LOCKED
  ),
  -- each endpoint's room: its in-flight bound, and for a limited one also its rate (the subquery runs
  -- only for those, so an unlimited endpoint costs what it did)
  ep AS (
    SELECT e.id, e.customer_id,
      CASE WHEN e.rate_limit IS NULL THEN per - coalesce((held.by_endpoint ->> e.id)::int, 0)
        ELSE least(per - coalesce((held.by_endpoint ->> e.id)::int, 0),
          coalesce((SELECT limited.allowed FROM limited WHERE limited.id = e.id), 0))
      END AS room
    FROM held, endpoints e
    JOIN pr ON pr.customer_id = e.customer_id AND pr.room > 0
    WHERE e.enabled AND (e.throttled_until IS NULL OR e.throttled_until <= at)
  ),
  -- each partner's oldest due heads, whatever their endpoint, in one ordered read of
  -- deliveries_due_by_partner: its room's worth, plus its leased heads (pending heads too, and usually
  -- the oldest), plus as many again for heads of endpoints that are full, throttled or disabled
  scan AS (
    SELECT s.id, s.endpoint_id, s.next_attempt_at, s.event_seq, pr.customer_id
    FROM pr CROSS JOIN LATERAL (
      SELECT d.id, d.endpoint_id, d.next_attempt_at, d.event_seq FROM deliveries d
      WHERE d.customer_id = pr.customer_id AND d.status = 'pending' AND d.head AND d.next_attempt_at <= at
      ORDER BY d.next_attempt_at, d.event_seq
      LIMIT pr.leases + 2 * least(pr.room, lim)
    ) s
    WHERE pr.room > 0
  ),
  -- of those, the ones not leased that their endpoint has room for
  fast AS (
    SELECT t.id, t.customer_id, t.next_attempt_at FROM (
      SELECT scan.id, scan.customer_id, scan.next_attempt_at, ep.room,
        row_number() OVER (PARTITION BY scan.endpoint_id ORDER BY scan.next_attempt_at, scan.event_seq) AS k
      FROM held, scan JOIN ep ON ep.id = scan.endpoint_id
      WHERE scan.id <> ALL (held.ids)
    ) t
    WHERE t.k <= t.room
  ),
  -- partners that read may have shortchanged: it stopped at its limit with less than their room (old
  -- heads of unusable endpoints in the way). They are served endpoint by endpoint instead.
  slow AS (
    SELECT pr.customer_id FROM pr
    WHERE pr.room > 0
      AND (SELECT count(*) FROM scan WHERE scan.customer_id = pr.customer_id) >= pr.leases + 2 * least(pr.room, lim)
      AND (SELECT count(*) FROM fast WHERE fast.customer_id = pr.customer_id) < least(pr.room, lim)
  ),
  -- each endpoint's first due head that is not leased
  first AS (
    SELECT f.id, f.next_attempt_at, f.event_seq, ep.id AS endpoint_id, ep.customer_id, ep.room
    FROM held, ep CROSS JOIN LATERAL (
      SELECT d.id, d.next_attempt_at, d.event_seq FROM deliveries d
      WHERE d.endpoint_id = ep.id AND d.status = 'pending' AND d.head AND d.next_attempt_at <= at
        AND d.id <> ALL (held.ids)
        -- tested before the read (a condition on the endpoint alone): only slow partners are read
        AND ep.customer_id IN (SELECT slow.customer_id FROM slow)
      ORDER BY d.next_attempt_at, d.event_seq
      LIMIT 1
    ) f
    WHERE ep.room > 0
  ),
  -- how many heads of each endpoint to look at: enough for the partner's room spread over its
  -- endpoints with something due, within the endpoint's room and the batch
  share AS (
    SELECT first.customer_id, pr.room, ceil(least(pr.room, lim)::numeric / count(*))::int AS each
    FROM first JOIN pr ON pr.customer_id = first.customer_id
    GROUP BY first.customer_id, pr.room
  ),
  -- the next heads after the first, only where the share is more than one
  more AS (
    SELECT m.id, first.customer_id, m.next_attempt_at
    FROM held, first JOIN share ON share.customer_id = first.customer_id
    CROSS JOIN LATERAL (
      SELECT d.id, d.next_attempt_at FROM deliveries d
      WHERE d.endpoint_id = first.endpoint_id AND d.status = 'pending' AND d.head AND d.next_attempt_at <= at
        AND (d.next_attempt_at, d.event_seq) > (first.next_attempt_at, first.event_seq)
        AND d.id <> ALL (held.ids)
      ORDER BY d.next_attempt_at, d.event_seq
      LIMIT greatest(least(first.room, share.each) - 1, 0)
    ) m
    WHERE share.each > 1 AND first.room > 1
  ),
  due AS (
    SELECT fast.id, fast.customer_id, fast.next_attempt_at FROM fast
    WHERE fast.customer_id NOT IN (SELECT slow.customer_id FROM slow)
    UNION ALL
    SELECT first.id, first.customer_id, first.next_attempt_at FROM first
    UNION ALL
    SELECT more.id, more.customer_id, more.next_attempt_at FROM more
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
  -- locked one by one through the primary key, skipping rows another transaction is writing, then
  -- checked again on their latest version, which is also what is returned (see 013)
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
  -- the lease: a new row, or an expired one taken over (see 013)
  leased AS (
    INSERT INTO delivery_leases AS l (delivery_id, endpoint_id, customer_id, locked_by, locked_until)
    SELECT picked.id, picked.endpoint_id, picked.customer_id, worker, at + lease_ms * interval '1 millisecond'
    FROM picked
    ON CONFLICT (delivery_id) DO UPDATE
      SET endpoint_id = excluded.endpoint_id, customer_id = excluded.customer_id,
        locked_by = excluded.locked_by, locked_until = excluded.locked_until
      WHERE l.locked_until <= at
    RETURNING l.delivery_id
  ),
  -- each limited endpoint's TAT moves on by T for every delivery leased, in this transaction: the next
  -- claim, in any process, sees the budget spent
  rated AS (
    UPDATE endpoints e SET rate_tat = limited.tat + make_interval(secs => n.leased::float8 / limited.rate_limit)
    FROM limited CROSS JOIN LATERAL (
      SELECT count(*) AS leased FROM leased JOIN picked p ON p.id = leased.delivery_id
      WHERE p.endpoint_id = limited.id
    ) n
    WHERE e.id = limited.id AND n.leased > 0
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
