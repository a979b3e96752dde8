/**
 * 005: concurrent decisions send their `NOTIFY tpcs_deliveries` after their commits, not inside them.
 *
 * PostgreSQL serialises the commits of notifying transactions on one database-wide lock, held across
 * the commit's WAL flush: with the trigger of 004 firing in every decision, concurrent decisions
 * committed one at a time (16 in flight: 860–900/s with it, 1,250–1,330/s without, bench/api). A
 * decision made while others are in flight now sets `tpcs.notify_after_commit` for its own
 * transaction, the trigger stays quiet, and the store sends one coalesced NOTIFY after the commits
 * (postgres/notify.ts). A decision alone still notifies from its commit, where it costs nothing more,
 * and so does any other insert into deliveries (an older build during a rolling deploy). The
 * trigger also stays quiet when a statement inserted no row: a decision for a partner without a
 * subscribed endpoint used to wake every dispatcher for nothing.
 */
export const sql = /* sql */ `
CREATE OR REPLACE FUNCTION tpcs_deliveries_notify() RETURNS trigger
LANGUAGE plpgsql AS $fn$
BEGIN
  IF current_setting('tpcs.notify_after_commit', true) = 'on' OR NOT EXISTS (SELECT 1 FROM inserted) THEN
    RETURN NULL;
  END IF;
  PERFORM pg_notify('tpcs_deliveries', current_schema());
  RETURN NULL;
END
$fn$;

DROP TRIGGER deliveries_notify ON deliveries;
CREATE TRIGGER deliveries_notify AFTER INSERT ON deliveries
  REFERENCING NEW TABLE AS inserted
  FOR EACH STATEMENT EXECUTE FUNCTION tpcs_deliveries_notify();
`;
