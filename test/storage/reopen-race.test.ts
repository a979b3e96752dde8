/**
 * PostgreSQL: a decision and the re-enable of an endpoint it saw disabled, at the same moment. The
 * decision's fan-out did not queue the event for the endpoint (disabled in its snapshot), and the
 * re-enable's backfill cannot see an uncommitted event: without a lock between them the event reaches
 * the endpoint neither way. Each case holds one side's lock on a connection of its own and lets the
 * other run into it (the SQLite writer is one at a time: no such race there).
 */
import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { describe, expect, it } from 'vitest';
import { connectToSchema, settledOrWaitingForLock, skipReason, useDatabases } from '../support/databases.js';
import { decision, EVENT_TYPE, newEndpoint, newPartner, newThirdParty } from '../support/fixtures.js';

describe.skipIf(skipReason('postgres') !== undefined)('re-enable and a decision at once on postgres', () => {
  const db = useDatabases('postgres');

  /** Resolves once `pending` settles or it waits for a lock held on `other`. */
  const waitingOrDone = (other: pg.Client, pending: Promise<unknown>, what: string) =>
    // the batch's write names the endpoints past the 1,024 bytes pg_stat_activity keeps: its start;
    // a batch takes its locks in one function (migration 023)
    settledOrWaitingForLock(
      other,
      pending,
      ['%endpoints%', '%UPDATE third_parties%', '%tpcs_lock_decisions%'],
      what,
    );

  /** A partner with a third party and one endpoint, disabled a minute ago. */
  async function disabledEndpoint() {
    const partner = await newPartner(db.store);
    const ref = await newThirdParty(db.store, partner);
    const endpoint = await newEndpoint(db.store, partner, 'https://partner.example/hook');
    const disabled = await db.store.updateEndpoint(
      partner,
      endpoint,
      { enabled: false, disabledReason: 'test' },
      new Date(Date.now() - 60_000),
    );
    expect(disabled.outcome).toBe('updated');
    return { partner, ref, endpoint };
  }

  /** A re-enable's first statements on `other`, left uncommitted: the endpoint locked and enabled. */
  async function beginReenable(other: pg.Client, endpoint: string) {
    await other.query('BEGIN');
    await other.query('SELECT 1 FROM endpoints WHERE id = $1 FOR UPDATE', [endpoint]);
    await other.query(
      'UPDATE endpoints SET enabled = true, disabled_at = NULL, disabled_reason = NULL WHERE id = $1',
      [endpoint],
    );
  }

  const eventsDeliveredTo = async (partner: string, endpoint: string) =>
    (await db.store.listDeliveries(partner, endpoint, { limit: 100 })).items.map((d) => d.eventId);

  it('a decision waiting for a re-enable to commit queues its event for the endpoint', async () => {
    const { partner, ref, endpoint } = await disabledEndpoint();
    const other = await connectToSchema(db.url);
    try {
      // the re-enable, committed while the decision runs
      await beginReenable(other, endpoint);
      const decided = db.store.recordDecision(decision(partner, ref, 'APPROVED', null, new Date()));
      await waitingOrDone(other, decided, 'the decision waiting for the endpoint');
      await other.query('COMMIT');

      const result = await decided;
      expect(result.outcome).toBe('changed');
      if (result.outcome !== 'changed') return;
      expect(await eventsDeliveredTo(partner, endpoint)).toEqual([result.event.eventId]);
    } finally {
      await other.end();
    }
  });

  it('a re-enable waiting for a decision to commit backfills its event', async () => {
    const { partner, ref, endpoint } = await disabledEndpoint();
    const other = await connectToSchema(db.url);
    try {
      // the decision's write as its fan-out leaves it: the event, and the disabled endpoint locked
      const eventId = randomUUID();
      await other.query('BEGIN');
      await other.query(
        `INSERT INTO events (event_id, customer_id, client_customer_ref, event_type, payload, created_at)
         VALUES ($1, $2, $3, $4, '{}', now())`,
        [eventId, partner, ref, EVENT_TYPE],
      );
      await other.query('SELECT 1 FROM endpoints WHERE id = $1 FOR KEY SHARE', [endpoint]);
      const reopened = db.store.updateEndpoint(partner, endpoint, { enabled: true }, new Date());
      await waitingOrDone(other, reopened, 'the re-enable waiting for the endpoint');
      await other.query('COMMIT');

      const result = await reopened;
      expect(result).toMatchObject({ outcome: 'updated', backfilled: 1 });
      expect(await eventsDeliveredTo(partner, endpoint)).toEqual([eventId]);
    } finally {
      await other.end();
    }
  });

  it('a batch on two third parties and a re-enable at once both succeed, and the events reach the endpoint', async () => {
    const { partner, ref, endpoint } = await disabledEndpoint();
    const second = await newThirdParty(db.store, partner);
    const other = await connectToSchema(db.url);
    try {
      // the re-enable as far as its endpoint lock; its backfill then queues deliveries for `ref`,
      // taking that third party's delivery lock (the deliveries trigger, migration 003)
      await beginReenable(other, endpoint);
      const batch = db.store.recordDecisions([
        decision(partner, ref, 'APPROVED', null, new Date()),
        decision(partner, second, 'APPROVED', null, new Date()),
      ]);
      await waitingOrDone(other, batch, 'the batch waiting for the endpoint');
      // a batch that took the delivery locks before the endpoint's would wait for this session while
      // it waits for the batch: PostgreSQL would fail one of them (deadlock detected)
      await other.query('SELECT tpcs_delivery_key_lock($1, $2)', [partner, ref]);
      await other.query('COMMIT');

      const results = await batch;
      expect(results.map((r) => r.outcome)).toEqual(['changed', 'changed']);
      const events = results.map((r) => (r.outcome === 'changed' ? r.event.eventId : ''));
      expect((await eventsDeliveredTo(partner, endpoint)).sort()).toEqual([...events].sort());
    } finally {
      await other.end();
    }
  });
});
