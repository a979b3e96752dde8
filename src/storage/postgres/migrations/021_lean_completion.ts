/**
 * 021: fewer writes and checks per completed delivery (issue 13), measured with bench/pg-profile.ts
 * (docs/benchmarks.md, "PostgreSQL completion, round 3").
 *
 * - The foreign keys attempts → deliveries and delivery_leases → deliveries go. Each attempt and each
 *   lease inserted ran a `SELECT … FOR KEY SHARE` on its delivery (40,000 checks, ~10 buffers a
 *   delivery, in a drain of 20,000), although every writer already holds that delivery's row lock:
 *   the claim leases only deliveries it locked, the completion inserts attempts only for deliveries
 *   it locked. Their one use, deleting a deleted delivery's attempts and lease with it (an endpoint
 *   deleted cascades to its deliveries), is now a statement trigger on deliveries. A delete waits
 *   for the row locks of a claim or completion in flight, and the trigger's statements see what
 *   they committed, so nothing is left behind.
 * - The primary key on deliveries.seq goes: every read by seq also names the endpoint
 *   (deliveries_by_endpoint), and deliveries are found by id (deliveries_id_key). One index entry
 *   fewer at every insert and every non-HOT update of a delivery.
 */
export const sql = /* sql */ `
ALTER TABLE attempts DROP CONSTRAINT attempts_delivery_id_fkey;
ALTER TABLE delivery_leases DROP CONSTRAINT delivery_leases_delivery_id_fkey;

CREATE FUNCTION tpcs_delivery_deleted() RETURNS trigger
LANGUAGE plpgsql AS $fn$
BEGIN
  DELETE FROM attempts a USING gone g WHERE a.delivery_id = g.id;
  DELETE FROM delivery_leases l USING gone g WHERE l.delivery_id = g.id;
  RETURN NULL;
END
$fn$;

CREATE TRIGGER deliveries_deleted AFTER DELETE ON deliveries REFERENCING OLD TABLE AS gone
  FOR EACH STATEMENT EXECUTE FUNCTION tpcs_delivery_deleted();

ALTER TABLE deliveries DROP CONSTRAINT deliveries_pkey;
`;
