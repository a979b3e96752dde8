import type pg from 'pg';
import type { ComplianceDecisionInput, DecisionResult } from '../store.js';
import { statement, withTransaction } from './db.js';
import { THIRD_PARTY_COLUMNS, type ThirdPartyRow, toThirdParty } from './third-parties.js';

// FOR UPDATE: concurrent decisions on one third party queue here, so each compares against the status
// the previous one committed, stamps its event after the previous one's, and events are numbered
// (seq) in the order the statuses changed.
const lockCurrent = statement<ThirdPartyRow & { last_event_at: Date | null }>(
  'decision_lock',
  `SELECT ${THIRD_PARTY_COLUMNS}, last_event_at
   FROM third_parties
   WHERE customer_id = $1 AND client_customer_ref = $2
   FOR UPDATE`,
);

// One round trip for the whole outbox write: the status, the event, and the fan-out to every enabled
// endpoint of the partner subscribed to the event type (one INSERT … SELECT for any number of them).
const write = statement<ThirdPartyRow & { seq: string; delivery_ids: string[] }>(
  'decision_write',
  `WITH tp AS (
     UPDATE third_parties SET status = $3, reasons = $4::jsonb, updated_at = $5, last_event_at = $9
     WHERE customer_id = $1 AND client_customer_ref = $2
     RETURNING ${THIRD_PARTY_COLUMNS}
   ), ev AS (
     INSERT INTO events (event_id, customer_id, client_customer_ref, event_type, payload, created_at)
     VALUES ($6, $1, $2, $7, $8, $5)
     RETURNING seq, event_id
   ), fan_out AS (
     INSERT INTO deliveries (id, event_id, event_seq, endpoint_id, customer_id, client_customer_ref,
       next_attempt_at, created_at, updated_at)
     SELECT gen_random_uuid()::text, ev.event_id, ev.seq, e.id, e.customer_id, $2, $5, $5, $5
     FROM ev CROSS JOIN endpoints e
     WHERE e.customer_id = $1 AND e.enabled AND $7 = ANY (e.event_types)
     ORDER BY e.created_at, e.id
     RETURNING id
   )
   SELECT tp.*, ev.seq, ARRAY(SELECT id FROM fan_out) AS delivery_ids
   FROM tp CROSS JOIN ev`,
);

/**
 * The outbox write; see {@link DecisionResult}. Four round trips: BEGIN, lock, write, COMMIT. The lock
 * also reads the third party's last `event_timestamp`, which `buildEvent` orders the new event after.
 * The caller tells other processes after the commit (`DeliveryNotifier`).
 */
export async function recordDecision(pool: pg.Pool, d: ComplianceDecisionInput): Promise<DecisionResult> {
  return withTransaction(pool, async (client): Promise<DecisionResult> => {
    const row = (await lockCurrent.run(client, [d.customerId, d.clientCustomerRef])).rows[0];
    if (!row) return { outcome: 'not_found' };
    const before = toThirdParty(row);
    if (!d.changes(before)) return { outcome: 'unchanged', thirdParty: before };

    const built = d.buildEvent(row.last_event_at);
    const written = (
      await write.run(client, [
        d.customerId,
        d.clientCustomerRef,
        d.status,
        d.reasons === null ? null : JSON.stringify(d.reasons),
        d.decidedAt,
        built.eventId,
        built.eventType,
        built.payload,
        built.eventAt,
      ])
    ).rows[0];
    if (!written) throw new Error('the locked third party was not updated');
    return {
      outcome: 'changed',
      thirdParty: toThirdParty(written),
      event: {
        eventId: built.eventId,
        customerId: d.customerId,
        clientCustomerRef: d.clientCustomerRef,
        eventType: built.eventType,
        payload: built.payload,
        createdAt: d.decidedAt,
        seq: Number(written.seq),
      },
      deliveryIds: written.delivery_ids,
    };
  });
}
