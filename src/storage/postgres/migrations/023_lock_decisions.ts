/**
 * 023: a batch of decisions takes its locks in one round trip (issue 13).
 *
 * `recordDecisions` (decisions.ts) locked in up to three statements before its write: the third parties
 * (FOR UPDATE, one sorted order), then, when several get events, their partners' endpoints (FOR KEY
 * SHARE) and the deliveries' per-third-party advisory locks in hash order. Single decisions that arrive
 * together are now written as such batches (decision-groups.ts), and at a paced 500 decisions/s a
 * group's latency was mostly round trips: each one wakes the server and then the service on a busy
 * machine. `tpcs_lock_decisions` takes the same locks, in the same order, in one call: the third parties
 * first (RETURN QUERY runs its query to the end before the next statement), then, when it locked more
 * than one, the endpoints and the advisory locks of all of them (a superset of those that get events:
 * one more lock for a decision that changes nothing costs nothing a completion could wait on long).
 */
export const sql = /* sql */ `
CREATE FUNCTION tpcs_lock_decisions(customers text[], refs text[]) RETURNS SETOF third_parties
LANGUAGE plpgsql VOLATILE AS $fn$
DECLARE
  n int;
BEGIN
  RETURN QUERY
    SELECT t.* FROM third_parties t
    WHERE (t.customer_id, t.client_customer_ref) IN (SELECT * FROM unnest(customers, refs))
    ORDER BY t.customer_id, t.client_customer_ref
    FOR UPDATE;
  GET DIAGNOSTICS n = ROW_COUNT;
  IF n > 1 THEN
    PERFORM count(*) FROM (
      SELECT 1 FROM endpoints
      WHERE customer_id = ANY (ARRAY(SELECT DISTINCT c FROM unnest(customers) c))
      ORDER BY id FOR KEY SHARE
    ) s;
    PERFORM count(tpcs_delivery_key_lock(c, r))
    FROM (SELECT c, r FROM unnest(customers, refs) AS k(c, r)
          GROUP BY c, r ORDER BY hashtext(c || '/' || r)) s;
  END IF;
END
$fn$;
`;
