/**
 * 027: a completion looks for a key's next delivery only when it has one (issue 13).
 *
 * When a completion settles a head, `tpcs_delivery_heads_after` makes the key's next pending delivery
 * its head. It took a per-key advisory lock and probed the key's pending deliveries for every key it
 * settled, although most keys have no next delivery: a third party's status rarely changes twice
 * before its first event is delivered. In a drain of 20,000 deliveries of one event each, that work
 * (and the trigger firing again for its own empty UPDATE) was about a tenth of the time spent in
 * `tpcs_claim` and `tpcs_complete` (bench/queue-ab.ts, docs/benchmarks.md "Session 21").
 *
 * `deliveries.has_successor` now says a pending delivery has a later pending one of its key, and the
 * completion's trigger does that work only for keys whose settled delivery says so. It is written
 * where the successor is: when a delivery becomes pending (inserted, or requeued by retry or recover),
 * under the key's advisory lock, its earlier pending deliveries are flagged, and it is flagged itself
 * when later ones exist. A flag is never cleared: one left on costs the probe it used to cost always.
 *
 * A completion racing the decision that adds a successor: the decision flags the head with an UPDATE,
 * which waits for the completion's row lock on it.
 * - The decision's UPDATE first: the completion locks the head after the decision commits, settles
 *   the flagged version, and promotes the successor (its trigger waits for the key's advisory lock,
 *   so it sees the decision's delivery).
 * - The completion first: the decision's UPDATE finds the head no longer pending once the completion
 *   commits and flags nothing; the decision then looks again with a new snapshot, and its delivery is
 *   the head.
 *
 * ADD COLUMN takes the table's ACCESS EXCLUSIVE lock: every transaction writing deliveries finishes
 * before this migration goes on, and none starts until it commits, so the backfill sees every pending
 * delivery and none is inserted by the old trigger after it.
 */
import { sql as claimReports } from './024_claim_reports.js';

// 024's trigger function, word for word, but for the keys whose settled delivery has a successor only
const HEADS_AFTER_024 = claimReports.slice(
  claimReports.indexOf('CREATE OR REPLACE FUNCTION tpcs_delivery_heads_after()'),
  claimReports.indexOf('$fn$;', claimReports.indexOf('FUNCTION tpcs_delivery_heads_after()')) +
    '$fn$;'.length,
);
const SETTLED = "WHERE o.status = 'pending' AND n.status <> 'pending';";
if (!HEADS_AFTER_024.startsWith('CREATE') || HEADS_AFTER_024.split(SETTLED).length !== 2) {
  throw new Error('027: the heads trigger of 024 is no longer the one this migration changes');
}
const HEADS_AFTER = HEADS_AFTER_024.replace(
  SETTLED,
  "WHERE o.status = 'pending' AND n.status <> 'pending' AND o.has_successor;",
);

export const sql = /* sql */ `
ALTER TABLE deliveries ADD COLUMN has_successor boolean NOT NULL DEFAULT false;

UPDATE deliveries p SET has_successor = true
WHERE p.status = 'pending' AND EXISTS (
  SELECT 1 FROM deliveries q
  WHERE q.endpoint_id = p.endpoint_id AND q.customer_id = p.customer_id
    AND q.client_customer_ref = p.client_customer_ref AND q.status = 'pending' AND q.event_seq > p.event_seq
);

-- before a delivery is inserted, or goes back to pending: its head flag, its successor flag, and the
-- successor flag of the key's earlier pending deliveries
CREATE OR REPLACE FUNCTION tpcs_delivery_head_before() RETURNS trigger
LANGUAGE plpgsql AS $fn$
DECLARE
  earlier boolean;
  later boolean;
BEGIN
  PERFORM tpcs_delivery_key_lock(NEW.customer_id, NEW.client_customer_ref);
  SELECT coalesce(bool_or(p.event_seq < NEW.event_seq), false), coalesce(bool_or(p.event_seq > NEW.event_seq), false)
  INTO earlier, later
  FROM deliveries p
  WHERE p.endpoint_id = NEW.endpoint_id AND p.customer_id = NEW.customer_id
    AND p.client_customer_ref = NEW.client_customer_ref AND p.status = 'pending' AND p.id <> NEW.id;
  NEW.head := NOT earlier;
  NEW.has_successor := later;
  IF earlier AND NEW.status = 'pending' THEN
    -- waits for a completion holding one of them; one it settled meanwhile is no longer pending
    UPDATE deliveries p SET has_successor = true
    WHERE p.endpoint_id = NEW.endpoint_id AND p.customer_id = NEW.customer_id
      AND p.client_customer_ref = NEW.client_customer_ref AND p.status = 'pending'
      AND p.event_seq < NEW.event_seq AND p.id <> NEW.id AND NOT p.has_successor;
    -- a new snapshot: what such a completion committed is seen
    NEW.head := NOT EXISTS (
      SELECT 1 FROM deliveries p
      WHERE p.endpoint_id = NEW.endpoint_id AND p.customer_id = NEW.customer_id
        AND p.client_customer_ref = NEW.client_customer_ref AND p.status = 'pending'
        AND p.event_seq < NEW.event_seq AND p.id <> NEW.id
    );
  END IF;
  RETURN NEW;
END
$fn$;

${HEADS_AFTER}
`;
