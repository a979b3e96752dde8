/**
 * 026: a claim without rate-limited endpoints or a shortchanged partner runs a smaller statement
 * (issue 13).
 *
 * At a steady rate a claim hands out one or two deliveries, and PostgreSQL spent most of its time on
 * the statement's size, not its rows: a 1-endpoint claim cost 320-370 us at the top level against
 * 100-115 us for the statement's own run (pg_stat_statements), the rest mostly the executor starting
 * and ending a plan of some sixty nodes, every call. The rate-limit branches (the limited endpoints,
 * their locks and their budget's update) and the slow path (each endpoint's first heads, when a
 * partner's ordered read was shortchanged) are most of those nodes, and most claims need neither.
 *
 * `tpcs_claim` now looks for a rate-limited endpoint among the partners it locked (an index probe),
 * and without one runs the lean statement: 024's without those branches. When it finds a partner
 * shortchanged, that statement leases nothing and returns no row (it always returns one otherwise,
 * the NULL-id row that carries `more` when nothing is leased); the function then runs 024's full
 * statement, as it does whenever a limited endpoint is there. The full statement is 024's, unchanged;
 * both are built below from the same pieces, so they cannot drift apart.
 * Arguments, result, locks, bounds and turns are 024's.
 */
// the pieces both statements share, and the full statement's own (024's text)
const HEAD = /* sql */ `  WITH
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
`;
const FULL_LIMITED = /* sql */ `  -- the partners' rate-limited endpoints with a batch due, from the snapshot: nothing is locked while
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
`;
const FULL_EP = /* sql */ `  -- each endpoint's room: its in-flight bound, and for a limited one also its rate (the subquery runs
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
`;
const SCAN = /* sql */ `  -- each partner's oldest due heads, whatever their endpoint, in one ordered read of
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
`;
const FULL_FAST = /* sql */ `  -- of those, the ones not leased that their endpoint has room for
  fast AS (
    SELECT t.id, t.customer_id, t.next_attempt_at FROM (
      SELECT scan.id, scan.customer_id, scan.next_attempt_at, ep.room,
        row_number() OVER (PARTITION BY scan.endpoint_id ORDER BY scan.next_attempt_at, scan.event_seq) AS k
      FROM held, scan JOIN ep ON ep.id = scan.endpoint_id
      WHERE scan.id <> ALL (held.ids)
    ) t
    WHERE t.k <= t.room
  ),
`;
const SLOW = /* sql */ `  -- partners that read may have shortchanged: it stopped at its limit with less than their room (old
  -- heads of unusable endpoints in the way). They are served endpoint by endpoint instead.
  slow AS (
    SELECT pr.customer_id FROM pr
    WHERE pr.room > 0
      AND (SELECT count(*) FROM scan WHERE scan.customer_id = pr.customer_id) >= pr.leases + 2 * least(pr.room, lim)
      AND (SELECT count(*) FROM fast WHERE fast.customer_id = pr.customer_id) < least(pr.room, lim)
  ),
`;
const FULL_SLOWPATH = /* sql */ `  -- each endpoint's first due head that is not leased
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
`;
const FULL_DUE = /* sql */ `  due AS (
    SELECT fast.id, fast.customer_id, fast.next_attempt_at FROM fast
    WHERE fast.customer_id NOT IN (SELECT slow.customer_id FROM slow)
    UNION ALL
    SELECT first.id, first.customer_id, first.next_attempt_at FROM first
    UNION ALL
    SELECT more.id, more.customer_id, more.next_attempt_at FROM more
  ),
`;
const CHOSEN = /* sql */ `  -- in turns: every partner's first (oldest) candidate, then every partner's second, …, each partner
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
`;
const PICKED = /* sql */ `  -- locked one by one through the primary key, skipping rows another transaction is writing, then
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
`;
const LEASED = /* sql */ `  -- the lease: a new row, or an expired one taken over (see 013)
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
`;
const FULL_RATED = /* sql */ `  -- each limited endpoint's TAT moves on by T for every delivery leased, in this transaction: the next
  -- claim, in any process, sees the budget spent
  rated AS (
    UPDATE endpoints e SET rate_tat = limited.tat + make_interval(secs => n.leased::float8 / limited.rate_limit)
    FROM limited CROSS JOIN LATERAL (
      SELECT count(*) AS leased FROM leased JOIN picked p ON p.id = leased.delivery_id
      WHERE p.endpoint_id = limited.id
    ) n
    WHERE e.id = limited.id AND n.leased > 0
  ),
`;
const FULL_LEFT = /* sql */ `  -- whether due heads were left for lack of room: more unleased heads read than leased (a partner's
  -- read stops at its room's worth plus its leases, so a read cut short always leaves some), or a
  -- partner at its bound, or one that another claim held. Unclaimable heads (a throttled endpoint's)
  -- count too: a needless claim, not a missed one.
  left_behind AS (
    SELECT (SELECT count(*) FROM held, scan WHERE scan.id <> ALL (held.ids)) > (SELECT count(*) FROM leased)
      OR EXISTS (SELECT 1 FROM pr WHERE pr.room <= 0) OR others AS more
  )
`;
const FINAL = /* sql */ `  -- one row with a NULL id when nothing was leased, to carry more
  SELECT p.id, p.event_id, p.event_seq::text, p.endpoint_id, p.customer_id, p.client_customer_ref,
    p.attempt_count, p.retry_round_start, p.created_at, e.url, ev.payload,
    (SELECT coalesce(array_agg(s.secret ORDER BY s.created_at DESC, s.id DESC), '{}')
       FROM endpoint_secrets s
       WHERE s.endpoint_id = p.endpoint_id AND (s.expires_at IS NULL OR s.expires_at > at)),
    left_behind.more
  FROM left_behind LEFT JOIN (leased
    JOIN picked p ON p.id = leased.delivery_id
    JOIN events ev ON ev.event_id = p.event_id
    JOIN endpoints e ON e.id = p.endpoint_id) ON true;
`;

// the lean statement's own pieces
const LEAN_EP = /* sql */ `  -- each endpoint's room, its in-flight bound, as one row looked up per candidate (a join of the
  -- two CTEs was planned as a nested loop over every endpoint for each head read). An endpoint
  -- limited since the check above sits this claim out: its heads count as left behind, and the next
  -- claim takes the full path.
  ep AS (
    SELECT coalesce(jsonb_object_agg(e.id, per - coalesce((held.by_endpoint ->> e.id)::int, 0)), '{}') AS room
    FROM held, endpoints e
    JOIN pr ON pr.customer_id = e.customer_id AND pr.room > 0
    WHERE e.enabled AND (e.throttled_until IS NULL OR e.throttled_until <= at) AND e.rate_limit IS NULL
  ),
`;
const LEAN_FAST = /* sql */ `  -- of those, the ones not leased that their endpoint has room for
  fast AS (
    SELECT t.id, t.customer_id, t.next_attempt_at FROM (
      SELECT scan.id, scan.customer_id, scan.next_attempt_at, (ep.room ->> scan.endpoint_id)::int AS room,
        row_number() OVER (PARTITION BY scan.endpoint_id ORDER BY scan.next_attempt_at, scan.event_seq) AS k
      FROM held, ep, scan
      WHERE scan.id <> ALL (held.ids) AND ep.room ? scan.endpoint_id
    ) t
    WHERE t.k <= t.room
  ),
`;
const LEAN_DUE = /* sql */ `  -- nothing is leased when a partner was shortchanged: the full statement serves every partner then
  due AS (
    SELECT fast.id, fast.customer_id, fast.next_attempt_at FROM fast
    WHERE NOT EXISTS (SELECT 1 FROM slow)
  ),
`;

const FULL = [
  HEAD,
  FULL_LIMITED,
  FULL_EP,
  SCAN,
  FULL_FAST,
  SLOW,
  FULL_SLOWPATH,
  FULL_DUE,
  CHOSEN,
  PICKED,
  LEASED,
  FULL_RATED,
  FULL_LEFT,
  FINAL,
].join('');
/** A shared piece with one passage changed, for the lean statement (an error if the passage is gone). */
function changed(piece: string, from: string, to: string): string {
  if (!piece.includes(from)) throw new Error(`026: the lean statement's change no longer applies: ${from}`);
  return piece.replace(from, to);
}
// NULL when a partner was shortchanged (nothing was leased): the caller runs the full statement
const LEAN_LEFT = changed(
  changed(
    FULL_LEFT,
    '    SELECT (SELECT count(*) FROM held, scan',
    '    SELECT CASE WHEN EXISTS (SELECT 1 FROM slow) THEN NULL ELSE (SELECT count(*) FROM held, scan',
  ),
  ' OR others AS more\n',
  ' OR others END AS more\n',
);
// no row at all when a partner was shortchanged (left_behind's NULL): the function sees FOUND false
const LEAN_FINAL = changed(
  FINAL,
  '    JOIN endpoints e ON e.id = p.endpoint_id) ON true;\n',
  '    JOIN endpoints e ON e.id = p.endpoint_id) ON true\n  WHERE left_behind.more IS NOT NULL;\n',
);
const LEAN = [
  HEAD,
  LEAN_EP,
  SCAN,
  LEAN_FAST,
  SLOW,
  LEAN_DUE,
  CHOSEN,
  PICKED,
  LEASED,
  LEAN_LEFT,
  LEAN_FINAL,
].join('');

export const sql = /* sql */ `
CREATE OR REPLACE FUNCTION tpcs_claim(per int, at timestamptz, lim int, worker text, lease_ms int,
  per_partner int DEFAULT NULL)
RETURNS TABLE (id text, event_id text, event_seq text, endpoint_id text, customer_id text,
  client_customer_ref text, attempt_count int, retry_round_start int, created_at timestamptz, url text,
  payload text, secrets text[], more boolean)
LANGUAGE plpgsql VOLATILE SET enable_seqscan = off SET enable_bitmapscan = off
  SET plan_cache_mode = force_generic_plan AS $fn$
#variable_conflict use_column
DECLARE
  parts text[];
  -- a partner that another claim holds: this one cannot tell what it leaves due there
  others boolean;
BEGIN
  -- partners with an endpoint to send to that no other process is claiming for right now
  SELECT coalesce(array_agg(p.customer_id) FILTER (WHERE p.mine), '{}'), coalesce(bool_or(NOT p.mine), false)
  INTO parts, others
  FROM (
    SELECT q.customer_id, pg_try_advisory_xact_lock(1953523558, hashtext(q.customer_id)) AS mine
    FROM (
      SELECT DISTINCT e.customer_id FROM endpoints e
      WHERE e.enabled AND (e.throttled_until IS NULL OR e.throttled_until <= at)
      OFFSET 0
    ) q
    OFFSET 0
  ) p;
  IF cardinality(parts) = 0 THEN
    -- nothing leased: one row with a NULL id if another claim held a partner, else none
    IF others THEN
      more := true;
      RETURN NEXT;
    END IF;
    RETURN;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM endpoints e WHERE e.customer_id = ANY (parts) AND e.rate_limit IS NOT NULL) THEN
    -- a new statement, so a new snapshot: every lease committed by a claim that held the lock is seen.
    -- It returns at least one row (the NULL id one carries more) unless a partner was shortchanged.
    RETURN QUERY
${LEAN}    IF FOUND THEN
      RETURN;
    END IF;
  END IF;
  RETURN QUERY
${FULL}END
$fn$;
`;
