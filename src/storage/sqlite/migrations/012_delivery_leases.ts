/**
 * 012: leases in a table of their own, as PostgreSQL keeps them since its 013 (issue 13).
 *
 * A claim wrote its lease into each delivery's row (`locked_by`, `locked_until`) and into the partial
 * index `deliveries_in_flight`; the completion wrote the row and that index again. The rows a claim
 * leases lie on as many pages as there are events among them (a delivery's row sits with its event's
 * other deliveries), and every page a transaction changes is one more WAL frame (two writes) at its
 * commit. `delivery_leases` holds only the deliveries in flight, a few pages: a claim now writes those,
 * not the deliveries, and a completion deletes its lease there. `deliveries.locked_by` and
 * `locked_until` are dropped; the leases live at this migration move over.
 *
 * `deliveries_due` goes too: no claim reads it any more (they read `deliveries_due_by_endpoint`), and
 * every completion deleted its entry. `nextDueAt` reads each endpoint's first due head instead.
 */
export const sql = /* sql */ `
CREATE TABLE delivery_leases (
  delivery_id  TEXT PRIMARY KEY,
  endpoint_id  TEXT NOT NULL,
  customer_id  TEXT NOT NULL,
  locked_by    TEXT NOT NULL,
  locked_until INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
CREATE INDEX delivery_leases_by_endpoint ON delivery_leases (endpoint_id, locked_until);

INSERT INTO delivery_leases (delivery_id, endpoint_id, customer_id, locked_by, locked_until)
SELECT id, endpoint_id, customer_id, locked_by, locked_until FROM deliveries
WHERE status = 'pending' AND locked_by IS NOT NULL AND locked_until IS NOT NULL;

DROP INDEX deliveries_in_flight;
DROP INDEX deliveries_due;
ALTER TABLE deliveries DROP COLUMN locked_by;
ALTER TABLE deliveries DROP COLUMN locked_until;

-- a deleted endpoint's deliveries go with it (ON DELETE CASCADE), and so do their leases
CREATE TRIGGER endpoints_leases_gone AFTER DELETE ON endpoints BEGIN
  DELETE FROM delivery_leases WHERE endpoint_id = old.id;
END;
`;
