/**
 * 022: the completion's head-of-line step looks up each next head by id (issue 13).
 *
 * `tpcs_delivery_heads_after` (migration 003) joined `deliveries` to the next pending delivery of each
 * key it had just completed. Planned generically inside `tpcs_complete` (sequential scans off), that
 * join was a hash join whose hash side read every delivery not marked head through the id index: the
 * whole table, on every completion (auto_explain in a paced run: 1,000 to 3,600 rows read, 0.5 to
 * 3.5 ms, to update none). The next heads are now collected first and updated by `id = ANY (…)`,
 * which can only be index lookups: one per key completed.
 */
export const sql = /* sql */ `
CREATE OR REPLACE FUNCTION tpcs_delivery_heads_after() RETURNS trigger
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
  WHERE d.id = ANY (ARRAY(
    SELECT (SELECT p.id FROM deliveries p
            WHERE p.endpoint_id = split_part(x, chr(31), 1) AND p.customer_id = split_part(x, chr(31), 2)
              AND p.client_customer_ref = split_part(x, chr(31), 3) AND p.status = 'pending'
            ORDER BY p.event_seq LIMIT 1)
    FROM unnest(keys) x
  )) AND NOT d.head;
  RETURN NULL;
END
$fn$;
`;
