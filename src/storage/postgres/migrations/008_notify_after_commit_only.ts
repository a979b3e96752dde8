/**
 * 008: one way to wake other processes. Every commit that records an event or makes deliveries
 * claimable (a decision, a retry, a recover, a released lease) is followed by one coalesced
 * `NOTIFY tpcs_deliveries` sent by the storage after the commit (postgres/notify.ts). The trigger of
 * 004/005, which notified from inside the inserting transaction unless told not to, is dropped: a
 * NOTIFY inside a commit takes a database-wide lock until the commit is flushed (005 says why), and
 * two modes chosen by an in-flight counter were one too many. Deliveries written by a build older
 * than this one wake other processes at their next poll instead.
 */
export const sql = /* sql */ `
DROP TRIGGER IF EXISTS deliveries_notify ON deliveries;
DROP FUNCTION IF EXISTS tpcs_deliveries_notify();
`;
