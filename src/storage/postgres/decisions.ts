import type pg from 'pg';
import type {
  BatchDecisionResult,
  ComplianceDecisionInput,
  DecisionResult,
  ThirdPartyCustomer,
} from '../store.js';
import { statement, withTransaction } from './db.js';
import { THIRD_PARTY_COLUMNS, type ThirdPartyRow, toThirdParty } from './third-parties.js';

/** A third party as the decision paths read it: with its last `event_timestamp`. */
type CurrentThirdPartyRow = ThirdPartyRow & { last_event_at: Date | null };
/** A third party as a write left it, with its event's seq and the event's deliveries. */
type WrittenRow = ThirdPartyRow & { seq: string; delivery_ids: string[] };
type BuiltEvent = ReturnType<ComplianceDecisionInput['buildEvent']>;

/**
 * The last `event_timestamp` this process wrote for each of the third parties it decided on most
 * recently (at most `max`, the oldest forgotten first). A decision's event is first built after it
 * rather than after nothing: a third party decided again within the same second (or whose events
 * already run ahead of the clock) is then written in the first round trip instead of the second. Only
 * a hint: a third party's last event_timestamp only ever moves forward, so the one remembered is never
 * later than the stored one, and the statements still compare the event with the stored one. A stamp
 * is remembered only after its commit.
 */
export class EventStamps {
  readonly #last = new Map<string, number>();
  readonly #max: number;

  constructor(max = 10_000) {
    this.#max = max;
  }

  /** The decision's event, built after the last one remembered for its third party (if any). */
  firstBuild(d: ComplianceDecisionInput): BuiltEvent {
    const last = this.#last.get(keyOf(d.customerId, d.clientCustomerRef));
    if (last !== undefined) {
      try {
        return d.buildEvent(new Date(last));
      } catch {
        // too far ahead by this process's count: built as if nothing were known, decided by the store
      }
    }
    return d.buildEvent(null);
  }

  remember(d: ComplianceDecisionInput, eventAt: Date): void {
    const key = keyOf(d.customerId, d.clientCustomerRef);
    this.#last.delete(key); // re-inserted: the most recent last
    this.#last.set(key, eventAt.getTime());
    if (this.#last.size > this.#max) {
      const oldest = this.#last.keys().next();
      if (!oldest.done) this.#last.delete(oldest.value);
    }
  }
}

const keyOf = (customerId: string, ref: string): string => `${customerId}\u0000${ref}`;

/**
 * The fan-out from the CTE `ev` (one event, or many ordered by seq): one delivery per enabled endpoint
 * of the partner subscribed to the event's type, in one INSERT … SELECT. Inserted in event order, so
 * the deliveries trigger sees a third party's earlier delivery before its later one (migration 003).
 *
 * An endpoint this statement's snapshot shows disabled may be re-enabled while it runs, and the
 * re-enable's backfill (endpoints.ts) cannot see this uncommitted event: it would reach neither. So the
 * snapshot's disabled endpoints of the partner (usually none: no lock then) are locked FOR KEY SHARE
 * and read as they are now: a re-enable that committed meanwhile is seen here (the lock waits for it
 * and returns the newest version), and one that comes later waits for this commit (it locks the
 * endpoint FOR UPDATE before its backfill reads the events), so it backfills this event.
 */
const FAN_OUT = `INSERT INTO deliveries (id, event_id, event_seq, endpoint_id, customer_id, client_customer_ref,
       next_attempt_at, created_at, updated_at)
     WITH reopened AS (
       SELECT r.id, r.customer_id, r.enabled, r.event_types, r.created_at FROM endpoints r
       WHERE r.id = ANY (ARRAY(
         SELECT d.id FROM (SELECT DISTINCT ev.customer_id FROM ev) c
         JOIN endpoints d ON d.customer_id = c.customer_id AND NOT d.enabled))
       FOR KEY SHARE OF r
     )
     SELECT tpcs_uuid7(), x.event_id, x.seq, x.endpoint_id, x.customer_id, x.client_customer_ref,
       x.created_at, x.created_at, x.created_at
     FROM (
       SELECT ev.event_id, ev.seq, e.id AS endpoint_id, e.customer_id, ev.client_customer_ref, ev.created_at,
         e.created_at AS endpoint_created_at
       FROM ev JOIN endpoints e
         ON e.customer_id = ev.customer_id AND e.enabled AND ev.event_type = ANY (e.event_types)
       UNION ALL
       SELECT ev.event_id, ev.seq, e.id, e.customer_id, ev.client_customer_ref, ev.created_at, e.created_at
       FROM ev JOIN reopened e
         ON e.customer_id = ev.customer_id AND e.enabled AND ev.event_type = ANY (e.event_types)
     ) x
     ORDER BY x.seq, x.endpoint_created_at, x.endpoint_id
     RETURNING id, event_id, seq`;

// The common case in one autocommit statement: the status, the event and its fan-out, written only if
// the status really changes and the third party's previous event is older than this one (the UPDATE
// takes the row lock and, after a concurrent commit, checks the newest version again). Otherwise it
// writes nothing and answers the third party as this statement's snapshot holds it: enough to answer
// not_found without a lock, never unchanged (a concurrent decision may be missing from that snapshot).
// The event is inserted from `tp`, so its seq is drawn after the row lock: in status-change order.
const writeIfLater = statement<
  CurrentThirdPartyRow & { written: boolean; seq: string | null; delivery_ids: string[] | null }
>(
  'decision_write_if_later',
  `WITH tp AS (
     UPDATE third_parties SET status = $3, reasons = $4::jsonb, updated_at = $5, last_event_at = $9
     WHERE customer_id = $1 AND client_customer_ref = $2
       AND status <> $3 AND (last_event_at IS NULL OR last_event_at < $9)
     RETURNING ${THIRD_PARTY_COLUMNS}
   ), ev AS (
     INSERT INTO events (event_id, customer_id, client_customer_ref, event_type, payload, created_at)
     SELECT $6::text, tp.customer_id, tp.client_customer_ref, $7::text, $8::text, $5 FROM tp
     RETURNING seq, event_id, customer_id, client_customer_ref, event_type, created_at
   ), fan_out AS (
     ${FAN_OUT}
   )
   SELECT true AS written, tp.*, NULL::timestamptz AS last_event_at, ev.seq,
     ARRAY(SELECT id FROM fan_out) AS delivery_ids
   FROM tp CROSS JOIN ev
   UNION ALL
   SELECT false, ${THIRD_PARTY_COLUMNS}, last_event_at, NULL, NULL
   FROM third_parties
   WHERE customer_id = $1 AND client_customer_ref = $2 AND NOT EXISTS (SELECT 1 FROM tp)`,
);

// FOR UPDATE: concurrent decisions on one third party queue here, so each compares against the status
// the previous one committed, stamps its event after the previous one's, and events are numbered
// (seq) in the order the statuses changed.
const lockCurrent = statement<CurrentThirdPartyRow>(
  'decision_lock',
  `SELECT ${THIRD_PARTY_COLUMNS}, last_event_at
   FROM third_parties
   WHERE customer_id = $1 AND client_customer_ref = $2
   FOR UPDATE`,
);

// One round trip for the whole outbox write under the lock: the status, the event and its fan-out.
const write = statement<WrittenRow>(
  'decision_write',
  `WITH tp AS (
     UPDATE third_parties SET status = $3, reasons = $4::jsonb, updated_at = $5, last_event_at = $9
     WHERE customer_id = $1 AND client_customer_ref = $2
     RETURNING ${THIRD_PARTY_COLUMNS}
   ), ev AS (
     INSERT INTO events (event_id, customer_id, client_customer_ref, event_type, payload, created_at)
     VALUES ($6, $1, $2, $7, $8, $5)
     RETURNING seq, event_id, customer_id, client_customer_ref, event_type, created_at
   ), fan_out AS (
     ${FAN_OUT}
   )
   SELECT tp.*, ev.seq, ARRAY(SELECT id FROM fan_out) AS delivery_ids
   FROM tp CROSS JOIN ev`,
);

/** The parameters $1–$9 of both writes. */
function writeValues(d: ComplianceDecisionInput, built: BuiltEvent): unknown[] {
  return [
    d.customerId,
    d.clientCustomerRef,
    d.status,
    d.reasons === null ? null : JSON.stringify(d.reasons),
    d.decidedAt,
    built.eventId,
    built.eventType,
    built.payload,
    built.eventAt,
  ];
}

function changed(
  d: ComplianceDecisionInput,
  built: BuiltEvent,
  thirdParty: ThirdPartyCustomer,
  written: { seq: string; delivery_ids: string[] },
): DecisionResult {
  return {
    outcome: 'changed',
    thirdParty,
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
}

/**
 * The outbox write; see {@link DecisionResult}. One round trip when the status changes and the third
 * party's previous event is from an earlier second than this decision (the common case), and for
 * not_found; two when it is from the same second; otherwise (unchanged, REJECTED again with other
 * reasons, a concurrent decision on the same third party) four more, under the row lock:
 * {@link recordDecisionLocked}. The caller tells other processes after the commit
 * (`DeliveryNotifier`).
 */
export async function recordDecision(
  pool: pg.Pool,
  d: ComplianceDecisionInput,
  stamps?: EventStamps,
): Promise<DecisionResult> {
  const built = stamps ? stamps.firstBuild(d) : d.buildEvent(null);
  const row = (await writeIfLater.run(pool, writeValues(d, built))).rows[0];
  if (!row) return { outcome: 'not_found' };
  if (row.written) {
    stamps?.remember(d, built.eventAt);
    return changed(d, built, toThirdParty(row), row as WrittenRow);
  }
  // Not written: never answered from this row. It is the statement's snapshot, which a decision on the
  // same third party that committed while this one waited for the row lock is missing: "unchanged"
  // against the status before it would drop a real change (APPROVED, then REJECTED a moment later, in
  // the same second). The locked path reads the latest status and decides.
  //
  // A status change in the same second as the previous event (the snapshot's) tries once more first,
  // stamped after that event: one round trip instead of the locked path's four. The statement checks
  // the status and the timestamp again on the latest row, under its lock, so a snapshot that a
  // concurrent decision made stale writes nothing and goes to the locked path as before.
  if (row.status !== d.status && row.last_event_at !== null) {
    let again: BuiltEvent | undefined;
    try {
      again = d.buildEvent(row.last_event_at);
    } catch {
      again = undefined; // too far ahead by the snapshot: the locked path decides on the latest row
    }
    if (again !== undefined) {
      const retried = (await writeIfLater.run(pool, writeValues(d, again))).rows[0];
      if (retried?.written) {
        stamps?.remember(d, again.eventAt);
        return changed(d, again, toThirdParty(retried), retried as WrittenRow);
      }
    }
  }
  return recordDecisionLocked(pool, d, stamps);
}

/**
 * The outbox write under the third party's row lock, in four round trips: BEGIN, lock, write, COMMIT.
 * The lock also reads the third party's last `event_timestamp`, which `buildEvent` orders the new event
 * after. The whole write before the one-statement path; now its fallback.
 */
export async function recordDecisionLocked(
  pool: pg.Pool,
  d: ComplianceDecisionInput,
  stamps?: EventStamps,
): Promise<DecisionResult> {
  let eventAt: Date | undefined;
  const result = await withTransaction(pool, async (client): Promise<DecisionResult> => {
    const row = (await lockCurrent.run(client, [d.customerId, d.clientCustomerRef])).rows[0];
    if (!row) return { outcome: 'not_found' };
    const before = toThirdParty(row);
    if (!d.changes(before)) return { outcome: 'unchanged', thirdParty: before };
    const built = d.buildEvent(row.last_event_at);
    const written = (await write.run(client, writeValues(d, built))).rows[0];
    if (!written) throw new Error('the locked third party was not updated');
    eventAt = built.eventAt;
    return changed(d, built, toThirdParty(written), written);
  });
  if (eventAt) stamps?.remember(d, eventAt); // committed
  return result;
}

// The batch's locks, in one round trip (migration 023): every third party it names, FOR UPDATE in one
// sorted order (so two batches, or a batch and a single decision, cannot deadlock), answered with its
// last event_timestamp; then, when there are several, their partners' endpoints FOR KEY SHARE and the
// deliveries' per-third-party advisory locks in hash order.
//
// The endpoints before those advisory locks: a re-enable takes its endpoint FOR UPDATE, then its
// backfill takes delivery locks, and the fan-out below waits for that endpoint. Taken after the delivery
// locks, a batch and a re-enable could each wait for the other. All of the partners' endpoints, not
// only those disabled now: one disabled and re-enabled while the batch runs is covered too. KEY SHARE
// does not stop updates of other columns (a disable, `failing_since`).
//
// The advisory locks: the deliveries trigger takes one per third party as it inserts (migration 003),
// and a completion takes them in hash order; a batch touching several third parties takes them first,
// in that same order, so neither can wait for the other in a cycle.
const lockMany = statement<CurrentThirdPartyRow>(
  'decisions_lock_all',
  'SELECT * FROM tpcs_lock_decisions($1::text[], $2::text[])',
);

// The batch's whole write: each third party's final status, then every event in the order given (seq
// follows it) and their fan-out, in one statement. Answers each event's seq and delivery ids.
const writeMany = statement<{ event_id: string; seq: string; delivery_ids: string[]; updated: number }>(
  'decisions_write',
  `WITH tp AS (
     UPDATE third_parties t SET status = u.status, reasons = u.reasons::jsonb, updated_at = u.updated_at,
       last_event_at = u.last_event_at
     FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::timestamptz[], $6::timestamptz[])
       AS u(customer_id, ref, status, reasons, updated_at, last_event_at)
     WHERE t.customer_id = u.customer_id AND t.client_customer_ref = u.ref
     RETURNING 1
   ), ev AS (
     INSERT INTO events (event_id, customer_id, client_customer_ref, event_type, payload, created_at)
     SELECT x.event_id, x.customer_id, x.ref, x.event_type, x.payload, x.created_at
     FROM unnest($7::text[], $8::text[], $9::text[], $10::text[], $11::text[], $12::timestamptz[])
       WITH ORDINALITY AS x(event_id, customer_id, ref, event_type, payload, created_at, n)
     ORDER BY x.n
     RETURNING seq, event_id, customer_id, client_customer_ref, event_type, created_at
   ), fan_out AS (
     ${FAN_OUT}
   )
   SELECT ev.event_id, ev.seq, coalesce(f.ids, '{}') AS delivery_ids, (SELECT count(*) FROM tp)::int AS updated
   FROM ev LEFT JOIN (
     SELECT event_id, array_agg(id ORDER BY seq) AS ids FROM fan_out GROUP BY event_id
   ) f ON f.event_id = ev.event_id`,
);

// A group of single decisions on distinct third parties in one autocommit statement (decision-groups.ts):
// the batch's locks first (`tpcs_lock_decisions`, migration 023: the same locks in the same order as a
// batch, so neither can wait for the other in a cycle; its plpgsql function runs to the end at the first
// row the join asks of it, before the UPDATE locks anything), then, as `writeIfLater` does for one, each
// status and its event and fan-out written only where the status really changes and the previous event
// is older than this one. The UPDATE re-checks its conditions on the latest version of each row (which
// this statement has locked). Answers one row per decision whose third party exists, `n` its place in
// the input: `written`, or the row as locked (the latest, so "unchanged" can be answered from it) with
// its last event_timestamp.
const writeGroupIfLater = statement<
  CurrentThirdPartyRow & { n: string; written: boolean; seq: string | null; delivery_ids: string[] }
>(
  'decisions_write_if_later',
  `WITH u AS (
     SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::timestamptz[], $6::text[],
       $7::text[], $8::text[], $9::timestamptz[])
       WITH ORDINALITY AS u(customer_id, ref, status, reasons, decided_at, event_id, event_type, payload,
         event_at, n)
   ), locked AS MATERIALIZED (
     SELECT * FROM tpcs_lock_decisions($1::text[], $2::text[])
   ), tp AS (
     UPDATE third_parties t SET status = u.status, reasons = u.reasons::jsonb, updated_at = u.decided_at,
       last_event_at = u.event_at
     FROM u JOIN locked l ON l.customer_id = u.customer_id AND l.client_customer_ref = u.ref
     WHERE t.customer_id = u.customer_id AND t.client_customer_ref = u.ref
       AND t.status <> u.status AND (t.last_event_at IS NULL OR t.last_event_at < u.event_at)
     RETURNING u.n
   ), ev AS (
     INSERT INTO events (event_id, customer_id, client_customer_ref, event_type, payload, created_at)
     SELECT u.event_id, u.customer_id, u.ref, u.event_type, u.payload, u.decided_at
     FROM tp JOIN u ON u.n = tp.n
     ORDER BY u.n
     RETURNING seq, event_id, customer_id, client_customer_ref, event_type, created_at
   ), fan_out AS (
     ${FAN_OUT}
   )
   SELECT u.n, ev.seq IS NOT NULL AS written, ${THIRD_PARTY_COLUMNS.split(', ')
     .map((c) => `l.${c}`)
     .join(', ')}, l.last_event_at, ev.seq,
     coalesce(f.ids, '{}') AS delivery_ids
   FROM u JOIN locked l ON l.customer_id = u.customer_id AND l.client_customer_ref = u.ref
   LEFT JOIN ev ON ev.event_id = u.event_id
   LEFT JOIN (SELECT event_id, array_agg(id ORDER BY seq) AS ids FROM fan_out GROUP BY event_id) f
     ON f.event_id = u.event_id`,
);

/** One decision of a group, with the event built for it this round. */
interface Pending {
  index: number;
  d: ComplianceDecisionInput;
  built: BuiltEvent;
}

/**
 * Single decisions that arrived together (decision-groups.ts), each with its own result, in one round
 * trip when they are on distinct third parties and change their status in a later second than the
 * previous event (the common case): {@link writeGroupIfLater}. A change in the same second as the
 * previous event is built again after that event and written in a second round trip, for all of them
 * at once. What is left (REJECTED again with other reasons, or a decision on the same third party
 * committed between the two) is written as a batch ({@link recordDecisions}, under the row locks, each
 * decision with its own result), and so is a group that names a third party twice.
 */
export async function recordDecisionGroup(
  pool: pg.Pool,
  list: readonly ComplianceDecisionInput[],
  stamps?: EventStamps,
): Promise<BatchDecisionResult[]> {
  if (new Set(list.map((d) => keyOf(d.customerId, d.clientCustomerRef))).size !== list.length) {
    return recordDecisions(pool, list, stamps);
  }
  const results: BatchDecisionResult[] = list.map(() => ({ outcome: 'not_found' }));
  const locked: Pending[] = [];
  let round: Pending[] = [];
  for (const [index, d] of list.entries()) {
    try {
      round.push({ index, d, built: stamps ? stamps.firstBuild(d) : d.buildEvent(null) });
    } catch (error) {
      results[index] = { outcome: 'refused', error };
    }
  }
  for (let attempt = 0; attempt < 2 && round.length > 0; attempt++) {
    // writeIfLater's parameters, each as the array of its values over the round
    const values = round.map((p) => writeValues(p.d, p.built));
    const { rows } = await writeGroupIfLater.run(
      pool,
      (values[0] ?? []).map((_, i) => values.map((v) => v[i])),
    );
    const again: Pending[] = [];
    for (const row of rows) {
      const p = round[Number(row.n) - 1];
      if (!p) throw new Error(`the group's statement answered for decision ${row.n} of ${round.length}`);
      const { index, d, built } = p;
      const current = toThirdParty(row);
      if (row.written) {
        const thirdParty = { ...current, status: d.status, reasons: d.reasons, updatedAt: d.decidedAt };
        results[index] = changed(d, built, thirdParty, {
          seq: row.seq as string,
          delivery_ids: row.delivery_ids,
        });
        stamps?.remember(d, built.eventAt); // committed: the statement was its own transaction
      } else if (!d.changes(current)) {
        results[index] = { outcome: 'unchanged', thirdParty: current };
      } else if (current.status === d.status || attempt > 0) {
        locked.push(p); // a change this statement cannot write, or stale again: under the row lock
      } else {
        try {
          again.push({ index, d, built: d.buildEvent(row.last_event_at) });
        } catch (error) {
          results[index] = { outcome: 'refused', error };
        }
      }
    }
    round = again;
  }
  // what is left, under the row locks: the batch path, one transaction for all of them, in order
  if (locked.length > 0) {
    locked.sort((a, b) => a.index - b.index);
    const written = await recordDecisions(
      pool,
      locked.map((p) => p.d),
      stamps,
    );
    for (const [i, { index }] of locked.entries()) results[index] = written[i] as BatchDecisionResult;
  }
  return results;
}

/** A third party as the batch has it so far: as locked, then as each of its decisions left it. */
interface Current {
  thirdParty: ThirdPartyCustomer;
  lastEventAt: Date | null;
}

/**
 * {@link Store.recordDecisions}: one transaction of four round trips whatever the batch's size (BEGIN,
 * lock, write, COMMIT). The decisions are decided in order in between, against the locked rows as the
 * batch's earlier decisions left them.
 */
export async function recordDecisions(
  pool: pg.Pool,
  list: readonly ComplianceDecisionInput[],
  stamps?: EventStamps,
): Promise<BatchDecisionResult[]> {
  if (list.length === 0) return [];
  const stamped: { d: ComplianceDecisionInput; eventAt: Date }[] = [];
  const results = await withTransaction(pool, async (client) => {
    const locked = await lockMany.run(client, [
      list.map((d) => d.customerId),
      list.map((d) => d.clientCustomerRef),
    ]);
    const current = new Map<string, Current>(
      locked.rows.map((r) => [
        keyOf(r.customer_id, r.client_customer_ref),
        { thirdParty: toThirdParty(r), lastEventAt: r.last_event_at },
      ]),
    );

    const results: BatchDecisionResult[] = [];
    const written: {
      index: number;
      d: ComplianceDecisionInput;
      built: BuiltEvent;
      thirdParty: ThirdPartyCustomer;
    }[] = [];
    for (const d of list) {
      const key = keyOf(d.customerId, d.clientCustomerRef);
      const now = current.get(key);
      if (!now) {
        results.push({ outcome: 'not_found' });
        continue;
      }
      if (!d.changes(now.thirdParty)) {
        results.push({ outcome: 'unchanged', thirdParty: now.thirdParty });
        continue;
      }
      let built: BuiltEvent;
      try {
        built = d.buildEvent(now.lastEventAt);
      } catch (error) {
        results.push({ outcome: 'refused', error });
        continue;
      }
      const thirdParty = { ...now.thirdParty, status: d.status, reasons: d.reasons, updatedAt: d.decidedAt };
      current.set(key, { thirdParty, lastEventAt: built.eventAt });
      written.push({ index: results.length, d, built, thirdParty });
      results.push({ outcome: 'not_found' }); // replaced below, once written
    }
    if (written.length === 0) return results;

    // each third party's final state, once
    const finals = new Map<string, Current>();
    for (const w of written) {
      const key = keyOf(w.d.customerId, w.d.clientCustomerRef);
      finals.set(key, current.get(key) as Current);
    }
    const states = [...finals.values()];
    const { rows } = await writeMany.run(client, [
      states.map((s) => s.thirdParty.customerId),
      states.map((s) => s.thirdParty.clientCustomerRef),
      states.map((s) => s.thirdParty.status),
      states.map((s) => (s.thirdParty.reasons === null ? null : JSON.stringify(s.thirdParty.reasons))),
      states.map((s) => s.thirdParty.updatedAt),
      states.map((s) => s.lastEventAt),
      written.map((w) => w.built.eventId),
      written.map((w) => w.d.customerId),
      written.map((w) => w.d.clientCustomerRef),
      written.map((w) => w.built.eventType),
      written.map((w) => w.built.payload),
      written.map((w) => w.d.decidedAt),
    ]);
    if (rows.length !== written.length || rows[0]?.updated !== states.length) {
      throw new Error('the locked third parties were not all updated');
    }
    const byEvent = new Map(rows.map((r) => [r.event_id, r]));
    for (const { index, d, built, thirdParty } of written) {
      const row = byEvent.get(built.eventId);
      if (!row) throw new Error(`event ${built.eventId} was not written`);
      results[index] = changed(d, built, thirdParty, row);
      stamped.push({ d, eventAt: built.eventAt });
    }
    return results;
  });
  for (const { d, eventAt } of stamped) stamps?.remember(d, eventAt); // committed, in order
  return results;
}
