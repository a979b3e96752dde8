import type { Database } from 'better-sqlite3';
import { newDeliveryId } from '../ids.js';
import type { BatchDecisionResult, ComplianceDecisionInput } from '../store.js';
import { toEvent } from './events.js';
import type { Row } from './tables.js';
import { toThirdParty } from './third-parties.js';

/**
 * The outbox write: a compliance decision that changes the status stores the status, the event and one
 * delivery per enabled subscribed endpoint in one `BEGIN IMMEDIATE` transaction (the write lock is
 * taken up front, so a concurrent writer in another process waits instead of failing on upgrade). A
 * batch is one such transaction for all its decisions, each decided in turn as a single one would be:
 * one commit (one WAL sync) instead of one per decision. Single decisions go through it too, grouped
 * by the store (SqliteStore.recordDecision).
 */
export function decisionQueries(db: Database) {
  // delivery ids are made per row inside the fan-out INSERT … SELECT, in time order (../ids.ts)
  db.function('tpcs_uuid', { deterministic: false }, newDeliveryId);

  const current = db.prepare<[string, string], Row<'third_parties'>>(
    'SELECT * FROM third_parties WHERE customer_id = ? AND client_customer_ref = ?',
  );
  // The written rows are not read back: the third party is the one read, as changed; the event is
  // what was inserted, with its seq (each row read back cost a decode, and JSON parses, per decision).
  const update = db.prepare<
    Pick<
      Row<'third_parties'>,
      'customer_id' | 'client_customer_ref' | 'status' | 'reasons' | 'updated_at' | 'last_event_at'
    >
  >(
    `UPDATE third_parties SET status = @status, reasons = @reasons, updated_at = @updated_at,
       last_event_at = @last_event_at
     WHERE customer_id = @customer_id AND client_customer_ref = @client_customer_ref`,
  );
  const insertEvent = db
    .prepare<Omit<Row<'events'>, 'seq'>, number>(
      `INSERT INTO events (event_id, customer_id, client_customer_ref, event_type, payload, created_at)
       VALUES (@event_id, @customer_id, @client_customer_ref, @event_type, @payload, @created_at)
       RETURNING seq`,
    )
    .pluck();
  const fanOut = db
    .prepare<
      Pick<
        Row<'events'>,
        'event_id' | 'customer_id' | 'client_customer_ref' | 'event_type' | 'created_at'
      > & { event_seq: number },
      string
    >(
      `INSERT INTO deliveries (id, event_id, event_seq, endpoint_id, customer_id, client_customer_ref,
         next_attempt_at, created_at, updated_at)
       SELECT tpcs_uuid(), @event_id, @event_seq, e.id, e.customer_id, @client_customer_ref,
         @created_at, @created_at, @created_at
       FROM endpoints e
       WHERE e.customer_id = @customer_id AND e.enabled = 1
         AND EXISTS (SELECT 1 FROM json_each(e.event_types) WHERE value = @event_type)
       ORDER BY e.created_at, e.id
       RETURNING id`,
    )
    .pluck();

  // one decision, inside the caller's transaction; a throwing buildEvent refuses it before any write
  const decide = (d: ComplianceDecisionInput): BatchDecisionResult => {
    const row = current.get(d.customerId, d.clientCustomerRef);
    if (!row) return { outcome: 'not_found' };
    const before = toThirdParty(row);
    if (!d.changes(before)) return { outcome: 'unchanged', thirdParty: before };

    let built: ReturnType<ComplianceDecisionInput['buildEvent']>;
    try {
      built = d.buildEvent(row.last_event_at === null ? null : new Date(row.last_event_at));
    } catch (error) {
      return { outcome: 'refused', error };
    }
    const at = d.decidedAt.getTime();
    const updated = update.run({
      customer_id: d.customerId,
      client_customer_ref: d.clientCustomerRef,
      status: d.status,
      reasons: d.reasons === null ? null : JSON.stringify(d.reasons),
      updated_at: at,
      last_event_at: built.eventAt.getTime(),
    });
    if (updated.changes !== 1) throw new Error('third party vanished inside its own transaction');

    const event = {
      event_id: built.eventId,
      customer_id: d.customerId,
      client_customer_ref: d.clientCustomerRef,
      event_type: built.eventType,
      payload: built.payload,
      created_at: at,
    };
    const seq = insertEvent.get(event);
    if (seq === undefined) throw new Error('INSERT … RETURNING returned no row');

    const deliveryIds = fanOut.all({
      event_id: event.event_id,
      event_seq: seq,
      customer_id: d.customerId,
      client_customer_ref: d.clientCustomerRef,
      event_type: event.event_type,
      created_at: at,
    });
    return {
      outcome: 'changed',
      thirdParty: { ...before, status: d.status, reasons: d.reasons, updatedAt: d.decidedAt },
      event: toEvent({ ...event, seq }),
      deliveryIds,
    };
  };

  const recordMany = db.transaction((list: readonly ComplianceDecisionInput[]) => list.map(decide));

  return {
    recordMany: (list: readonly ComplianceDecisionInput[]): BatchDecisionResult[] =>
      recordMany.immediate(list),
  };
}
