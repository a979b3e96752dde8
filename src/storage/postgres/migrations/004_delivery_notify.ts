/**
 * 004: new deliveries wake every dispatcher at once, in every process.
 *
 * A statement-level trigger sends `NOTIFY tpcs_deliveries` with the schema as payload whenever rows
 * are inserted into deliveries (a decision's fan-out). PostgreSQL delivers it at commit, only if the
 * transaction commits, and folds identical notifications of one transaction into one. Each queue
 * LISTENs on a dedicated connection and wakes its dispatchers; polling stays as the fallback.
 */
export const sql = /* sql */ `
CREATE FUNCTION tpcs_deliveries_notify() RETURNS trigger
LANGUAGE plpgsql AS $fn$
BEGIN
  PERFORM pg_notify('tpcs_deliveries', current_schema());
  RETURN NULL;
END
$fn$;

CREATE TRIGGER deliveries_notify AFTER INSERT ON deliveries
  FOR EACH STATEMENT EXECUTE FUNCTION tpcs_deliveries_notify();
`;
