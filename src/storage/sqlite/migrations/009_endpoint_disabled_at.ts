/**
 * 009: re-enable with backfill (issue 14). `endpoints.disabled_at`: when the endpoint last went from
 * enabled to disabled (by its partner, the dispatcher or the dashboard), NULL while enabled. Re-enabling
 * with `backlog: deliver` queues the events emitted since then. An endpoint disabled before this
 * migration takes its `updated_at`, the best record of when that happened.
 */
export const sql = /* sql */ `
ALTER TABLE endpoints ADD COLUMN disabled_at INTEGER;
UPDATE endpoints SET disabled_at = updated_at WHERE enabled = 0;
`;
