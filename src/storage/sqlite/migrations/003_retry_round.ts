/**
 * 003: `attempt_count` is the total number of attempts, as many as the delivery lists, also after a
 * recover; the retry schedule counts from `retry_round_start` instead.
 *
 * - deliveries.retry_round_start: the attempt_count when the current retry round began. 0 until a
 *   recover starts a new round (it sets it to attempt_count); the dispatcher's retry policy counts
 *   `attempt_count - retry_round_start`, so a recovered delivery gets the full schedule again.
 * - Backfill: recover used to reset attempt_count to 0, and an attempt completed after its lease had
 *   expired was logged without being counted. Such rows get attempt_count = their attempts, and
 *   retry_round_start the difference, so each keeps its place in its retry schedule.
 */
export const sql = /* sql */ `
ALTER TABLE deliveries ADD COLUMN retry_round_start INTEGER NOT NULL DEFAULT 0;

UPDATE deliveries SET retry_round_start = a.n - deliveries.attempt_count, attempt_count = a.n
FROM (SELECT delivery_id, count(*) AS n FROM attempts GROUP BY delivery_id) a
WHERE a.delivery_id = deliveries.id AND a.n > deliveries.attempt_count;
`;
