/**
 * A third party's next delivery on PostgreSQL: the decision that adds it and the completion that
 * settles the head before it must never both miss each other, whichever goes first (a next delivery
 * left behind would never be head: it would wait forever), and must never wait for each other in a
 * cycle. Each case holds one side open in a transaction on a connection of its own and lets the store
 * run into it.
 *
 * Migration 027 (never shipped) had a decision flag the head with an UPDATE, under the key's advisory
 * lock, while a completion holds the head's row and then takes that lock: the deadlock case below
 * failed on it ("deadlock detected"), as test/dispatcher/isolation.test.ts did once in CI.
 */
import type pg from 'pg';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  connectToSchema,
  openDatabase,
  settledOrWaitingForLock,
  skipReason,
  type TestDatabase,
} from '../support/databases.js';
import { decide, decision, newEndpoint, newPartner, newThirdParty, REASONS } from '../support/fixtures.js';
import { claimOptions, completion } from '../support/queue.js';

const WINDOW = { workerId: 'w1', failureWindowMs: 5 * 24 * 3600_000 };

const flags = async (c: pg.Client | pg.Pool, ids: string[]) =>
  (
    await c.query<{ id: string; status: string; head: boolean }>(
      'SELECT id, status, head FROM deliveries WHERE id = ANY ($1) ORDER BY event_seq',
      [ids],
    )
  ).rows.map((r) => ({ ...r, id: ids.indexOf(r.id) }));

/** `tpcs_complete` of these claimed deliveries as delivered, by w1, on `c`; the heads it promoted. */
async function deliverOn(c: pg.Client, ds: readonly { id: string; endpointId: string }[]): Promise<number> {
  const n = ds.length;
  const { rows } = await c.query<{ promoted: number }>(
    `SELECT tpcs_complete($1, array_fill(now(), ARRAY[$3::int]), array_fill(3, ARRAY[$3::int]),
       array_fill(200, ARRAY[$3::int]), array_fill(NULL::text, ARRAY[$3::int]), array_fill('ok'::text, ARRAY[$3::int]),
       array_fill('delivered'::text, ARRAY[$3::int]), array_fill(NULL::timestamptz, ARRAY[$3::int]), 'w1', $2)
     AS promoted`,
    [ds.map((d) => d.id), ds.map((d) => d.endpointId), n],
  );
  return rows[0]?.promoted ?? -1;
}

describe.skipIf(skipReason('postgres') !== undefined)('a key’s next delivery on postgres', () => {
  let db: TestDatabase;
  let other: pg.Client | undefined;
  beforeEach(async () => {
    db = await openDatabase('postgres');
  });
  afterEach(async () => {
    await other?.query('ROLLBACK').catch(() => {});
    await other?.end();
    other = undefined;
    await db?.dispose();
  });

  /** One delivery of a third party, claimed by w1: the head a completion is about to settle. */
  async function claimedHead() {
    const partner = await newPartner(db.store);
    const endpoint = await newEndpoint(db.store, partner, 'https://a.example/hook');
    const ref = await newThirdParty(db.store, partner);
    await decide(db.store, partner, ref, 'APPROVED');
    const [head] = await db.queue.claim(claimOptions());
    if (!head) throw new Error('nothing claimed');
    return { partner, endpoint, ref, head };
  }

  it('is head when its decision commits behind the completion that settled the one before', async () => {
    const { partner, endpoint, ref, head } = await claimedHead();
    other = await connectToSchema(db.url);
    await other.query('BEGIN');
    expect(await deliverOn(other, [{ id: head.id, endpointId: endpoint }])).toBe(0);

    const next = decide(db.store, partner, ref, 'REJECTED');
    await settledOrWaitingForLock(
      other,
      next,
      ['%third_parties%', '%deliveries%'],
      'the decision to wait for the completion holding the head',
    );
    await other.query('COMMIT');
    await next;

    const [claimed, ...rest] = await db.queue.claim(claimOptions());
    expect(rest).toEqual([]);
    expect(claimed?.customerId).toBe(partner);
    expect(claimed?.clientCustomerRef).toBe(ref);
    expect(claimed?.id).not.toBe(head.id);
    expect(await flags(other, [head.id, claimed?.id ?? ''])).toEqual([
      { id: 0, status: 'delivered', head: true },
      { id: 1, status: 'pending', head: true },
    ]);
  });

  it('is promoted by the completion that settles the one before after its decision commits', async () => {
    const { endpoint, head } = await claimedHead();
    other = await connectToSchema(db.url);
    await other.query('BEGIN');
    // a delivery of the same key, later in its order, written through the same triggers as a decision's
    const inserted = await other.query<{ id: string }>(
      `INSERT INTO deliveries (id, event_id, event_seq, endpoint_id, customer_id, client_customer_ref, status,
         next_attempt_at, created_at, updated_at)
       SELECT tpcs_uuid7(), event_id, event_seq + 1, endpoint_id, customer_id, client_customer_ref, 'pending',
         now(), now(), now()
       FROM deliveries WHERE id = $1
       RETURNING id`,
      [head.id],
    );
    const nextId = inserted.rows[0]?.id ?? '';
    expect(await flags(other, [head.id, nextId])).toEqual([
      { id: 0, status: 'pending', head: true },
      { id: 1, status: 'pending', head: false },
    ]);

    const completed = db.queue.complete([completion(head.id, endpoint)], WINDOW);
    await settledOrWaitingForLock(
      other,
      completed,
      ['%tpcs_complete%'],
      'the completion to wait for the decision holding the head',
    );
    await other.query('COMMIT');
    expect((await completed).promoted).toBe(1);

    const claimed = await db.queue.claim(claimOptions());
    expect(claimed.map((d) => d.id)).toEqual([nextId]);
  });

  it('never deadlocks a decision with a completion holding its key’s heads on two endpoints', async () => {
    // a third party's heads on two endpoints of its partner, the one on `second` with a next delivery
    const partner = await newPartner(db.store);
    const second = await newEndpoint(db.store, partner, 'https://b.example/hook');
    const ref = await newThirdParty(db.store, partner);
    await decide(db.store, partner, ref, 'APPROVED');
    const first = await newEndpoint(db.store, partner, 'https://a.example/hook');
    await decide(db.store, partner, ref, 'REJECTED');
    const heads = await db.queue.claim(claimOptions());
    expect(heads.map((d) => d.endpointId).sort()).toEqual([first, second].sort());

    // a completion of both heads, stopped where tpcs_complete has locked their rows and not yet
    // settled them (its `locked` step)
    other = await connectToSchema(db.url);
    await other.query('BEGIN');
    await other.query('SELECT id FROM deliveries WHERE id = ANY ($1) ORDER BY id FOR NO KEY UPDATE', [
      heads.map((d) => d.id),
    ]);
    const next = decide(db.store, partner, ref, 'APPROVED');
    await settledOrWaitingForLock(
      other,
      next,
      ['%third_parties%', '%deliveries%'],
      'the decision to be written or wait for the completion',
    );
    const promoted = await deliverOn(other, heads);
    await other.query('COMMIT');
    const nextEvent = await next;
    expect(promoted).toBe(2);

    // each endpoint's next delivery, in the third party's order: REJECTED's on `second`, the new
    // decision's on `first`
    const claimed = await db.queue.claim(claimOptions());
    expect(claimed.map((d) => [d.endpointId, d.eventId === nextEvent]).sort()).toEqual(
      [
        [first, true],
        [second, false],
      ].sort(),
    );
  });

  it('keeps a third party’s deliveries in order when two of its decisions are written in one batch', async () => {
    const partner = await newPartner(db.store);
    const endpoint = await newEndpoint(db.store, partner, 'https://a.example/hook');
    const ref = await newThirdParty(db.store, partner);
    const base = Date.now();
    const results = await db.store.recordDecisions([
      decision(partner, ref, 'APPROVED', null, new Date(base)),
      decision(partner, ref, 'REJECTED', REASONS.slice(0, 1), new Date(base + 1)),
      decision(partner, ref, 'APPROVED', null, new Date(base + 2)),
    ]);
    const events = results.map((r) => (r.outcome === 'changed' ? r.event.eventId : r.outcome));
    const seen: string[] = [];
    for (let i = 0; i < 3; i++) {
      const claimed = await db.queue.claim(claimOptions());
      expect(claimed.length).toBe(1);
      const d = claimed[0];
      if (!d) break;
      seen.push(d.eventId);
      await db.queue.complete([completion(d.id, endpoint)], WINDOW);
    }
    expect(seen).toEqual(events);
    expect((await db.queue.claim(claimOptions())).length).toBe(0);
  });
});
