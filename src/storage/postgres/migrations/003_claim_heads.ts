/**
 * 003: a claim that costs the same whatever the backlog, and a per-endpoint bound that holds across
 * processes.
 *
 * - deliveries.head: true on the earliest pending delivery of its ordering key (endpoint + customer_id
 *   + client_customer_ref), kept by triggers, so the claim reads due heads straight from an index
 *   instead of testing "no earlier pending delivery" row by row (which walked every queued event of a
 *   customer whose head was in flight: 10,000 queued events cost ~50 ms per claim).
 *   - BEFORE INSERT, or UPDATE of status to pending (retry, recover): head = no earlier pending one.
 *   - AFTER each UPDATE statement that took heads out of pending (delivered, failed): the next pending
 *     delivery of each such key becomes head, set-wise (one trigger call per completion batch).
 *   Both take a transaction-scoped advisory lock on (customer_id, client_customer_ref) before they
 *   look, and plpgsql takes a fresh snapshot per statement, so a decision inserting the next event and
 *   a completion finishing the previous one cannot both miss each other (the second to lock sees the
 *   first's commit). A transaction touching several keys locks them in sorted order (the statement
 *   trigger does; recover calls tpcs_lock_delivery_keys first) so two cannot deadlock.
 * - tpcs_claim(): the whole claim in one round trip. It first try-locks (advisory, transaction-scoped)
 *   each endpoint it wants to claim from, skipping endpoints another process is claiming right now,
 *   then counts in-flight leases in a new statement (a snapshot taken after the lock, so it sees every
 *   lease committed by earlier claims): the per-endpoint bound holds across processes.
 */
export const sql = /* sql */ `
ALTER TABLE deliveries ADD COLUMN head boolean NOT NULL DEFAULT false;

CREATE INDEX deliveries_pending_by_key ON deliveries (endpoint_id, customer_id, client_customer_ref, event_seq)
  WHERE status = 'pending';

UPDATE deliveries d SET head = true
WHERE d.status = 'pending' AND NOT EXISTS (
  SELECT 1 FROM deliveries p
  WHERE p.endpoint_id = d.endpoint_id AND p.customer_id = d.customer_id
    AND p.client_customer_ref = d.client_customer_ref AND p.status = 'pending' AND p.event_seq < d.event_seq
);

DROP INDEX deliveries_due_by_endpoint;
CREATE INDEX deliveries_heads ON deliveries (endpoint_id, next_attempt_at, event_seq)
  WHERE status = 'pending' AND head;

CREATE FUNCTION tpcs_delivery_key_lock(customer text, ref text) RETURNS void
LANGUAGE sql VOLATILE AS $fn$
  SELECT pg_advisory_xact_lock(1953523556, hashtext(customer || '/' || ref))
$fn$;

-- Locks the ordering keys of these deliveries in a fixed order (see above).
CREATE FUNCTION tpcs_lock_delivery_keys(ids text[]) RETURNS void
LANGUAGE plpgsql VOLATILE AS $fn$
BEGIN
  PERFORM pg_advisory_xact_lock(1953523556, k)
  FROM (SELECT DISTINCT hashtext(customer_id || '/' || client_customer_ref) AS k
        FROM deliveries WHERE id = ANY (ids)) s
  ORDER BY k;
END
$fn$;

-- INSERT, or a status set back to pending (retry, recover): head = no earlier pending delivery.
-- (A delivered or failed row may keep head = true: every reader also asks for status = 'pending'.)
CREATE FUNCTION tpcs_delivery_head_before() RETURNS trigger
LANGUAGE plpgsql AS $fn$
BEGIN
  PERFORM tpcs_delivery_key_lock(NEW.customer_id, NEW.client_customer_ref);
  NEW.head := NOT EXISTS (
    SELECT 1 FROM deliveries p
    WHERE p.endpoint_id = NEW.endpoint_id AND p.customer_id = NEW.customer_id
      AND p.client_customer_ref = NEW.client_customer_ref AND p.status = 'pending'
      AND p.event_seq < NEW.event_seq AND p.id <> NEW.id
  );
  RETURN NEW;
END
$fn$;

-- Once per UPDATE statement: for every key whose pending head became delivered or failed, the next
-- pending delivery becomes head (keys locked in sorted order, then a new snapshot).
CREATE FUNCTION tpcs_delivery_heads_after() RETURNS trigger
LANGUAGE plpgsql AS $fn$
DECLARE
  keys text[];
BEGIN
  SELECT array_agg(DISTINCT n.endpoint_id || chr(31) || n.customer_id || chr(31) || n.client_customer_ref)
  INTO keys
  FROM done_new n JOIN done_old o ON o.id = n.id
  WHERE o.status = 'pending' AND n.status <> 'pending';
  IF keys IS NULL THEN RETURN NULL; END IF;
  PERFORM pg_advisory_xact_lock(1953523556, k)
  FROM (SELECT DISTINCT hashtext(split_part(x, chr(31), 2) || '/' || split_part(x, chr(31), 3)) AS k
        FROM unnest(keys) x) s
  ORDER BY k;
  UPDATE deliveries d SET head = true
  FROM (
    SELECT (SELECT p.id FROM deliveries p
            WHERE p.endpoint_id = split_part(x, chr(31), 1) AND p.customer_id = split_part(x, chr(31), 2)
              AND p.client_customer_ref = split_part(x, chr(31), 3) AND p.status = 'pending'
            ORDER BY p.event_seq LIMIT 1) AS id
    FROM unnest(keys) x
  ) nxt
  WHERE d.id = nxt.id AND NOT d.head;
  RETURN NULL;
END
$fn$;

CREATE TRIGGER deliveries_head_insert BEFORE INSERT ON deliveries
  FOR EACH ROW EXECUTE FUNCTION tpcs_delivery_head_before();
CREATE TRIGGER deliveries_head_requeue BEFORE UPDATE OF status ON deliveries
  FOR EACH ROW WHEN (OLD.status <> 'pending' AND NEW.status = 'pending')
  EXECUTE FUNCTION tpcs_delivery_head_before();
CREATE TRIGGER deliveries_heads_after AFTER UPDATE ON deliveries
  REFERENCING OLD TABLE AS done_old NEW TABLE AS done_new
  FOR EACH STATEMENT EXECUTE FUNCTION tpcs_delivery_heads_after();

CREATE FUNCTION tpcs_claim(per int, at timestamptz, lim int, worker text, lease_ms int)
RETURNS TABLE (id text, event_id text, event_seq text, endpoint_id text, customer_id text,
  client_customer_ref text, attempt_count int, created_at timestamptz, url text, payload text,
  secrets text[])
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
    d.client_customer_ref, d.attempt_count, d.created_at, e.url, ev.payload,
    (SELECT coalesce(array_agg(s.secret ORDER BY s.created_at DESC, s.id DESC), '{}')
       FROM endpoint_secrets s
       WHERE s.endpoint_id = d.endpoint_id AND (s.expires_at IS NULL OR s.expires_at > at));
END
$fn$;
`;
