/**
 * 007: the order of a third party's events, kept on its row (issue 9).
 * - third_parties.last_event_at: the `event_timestamp` of its newest event. The decision reads it
 *   under the row lock and stamps the next event at least one second later, so `event_timestamp`
 *   alone orders one third party's events, whatever the number of API processes. Filled from the
 *   events already stored.
 */
export const sql = /* sql */ `
ALTER TABLE third_parties ADD COLUMN last_event_at timestamptz;

UPDATE third_parties tp SET last_event_at = m.at
FROM (
  SELECT customer_id, client_customer_ref, max((payload::jsonb ->> 'event_timestamp')::timestamptz) AS at
  FROM events GROUP BY customer_id, client_customer_ref
) m
WHERE m.customer_id = tp.customer_id AND m.client_customer_ref = tp.client_customer_ref;
`;
