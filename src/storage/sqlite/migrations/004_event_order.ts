/**
 * 004: the order of a third party's events, kept on its row (issue 9).
 * - third_parties.last_event_at: the `event_timestamp` (epoch ms, whole seconds) of its newest event.
 *   The decision transaction reads it under the write lock and stamps the next event at least one
 *   second later, so `event_timestamp` alone orders one third party's events. Filled from the events
 *   already stored.
 */
export const sql = /* sql */ `
ALTER TABLE third_parties ADD COLUMN last_event_at INTEGER;

UPDATE third_parties SET last_event_at = (
  SELECT max(unixepoch(json_extract(e.payload, '$.event_timestamp'))) * 1000 FROM events e
  WHERE e.customer_id = third_parties.customer_id AND e.client_customer_ref = third_parties.client_customer_ref
);
`;
