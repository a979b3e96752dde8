/**
 * The successor flag on PostgreSQL (migration 027): a completion promotes a key's next delivery only
 * when the delivery it settles says it has one, so the decision that adds a successor and the
 * completion of the head must never both miss each other, whichever holds the head's row first. A
 * next delivery left behind would never be head: it would wait forever. Each case holds one side open
 * in a transaction on a connection of its own and lets the store run into it.
 */
import pg from 'pg';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parsePostgresUrl } from '../../src/storage/postgres/index.js';
import {
  migrate as migratePostgres,
  migrations as postgresMigrations,
} from '../../src/storage/postgres/migrations.js';
import {
  connectToSchema,
  openDatabase,
  settledOrWaitingForLock,
  skipReason,
  type TestDatabase,
  useDatabases,
} from '../support/databases.js';
import { decide, decision, newEndpoint, newPartner, newThirdParty, REASONS } from '../support/fixtures.js';
import { claimOptions, completion } from '../support/queue.js';

const WINDOW = { workerId: 'w1', failureWindowMs: 5 * 24 * 3600_000 };

const flags = async (c: pg.Client | pg.Pool, ids: string[]) =>
  (
    await c.query<{ id: string; status: string; head: boolean; has_successor: boolean }>(
      'SELECT id, status, head, has_successor FROM deliveries WHERE id = ANY ($1) ORDER BY event_seq',
      [ids],
    )
  ).rows.map((r) => ({ ...r, id: ids.indexOf(r.id) }));

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
    const settled = await other.query<{ promoted: number }>(
      `SELECT tpcs_complete(ARRAY[$1], ARRAY[now()], ARRAY[3], ARRAY[200], ARRAY[NULL], ARRAY['ok'],
         ARRAY['delivered'], ARRAY[NULL::timestamptz], 'w1', ARRAY[$2]) AS promoted`,
      [head.id, endpoint],
    );
    expect(settled.rows[0]?.promoted).toBe(0);

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
      { id: 0, status: 'delivered', head: true, has_successor: false },
      { id: 1, status: 'pending', head: true, has_successor: false },
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
      { id: 0, status: 'pending', head: true, has_successor: true },
      { id: 1, status: 'pending', head: false, has_successor: false },
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

describe.skipIf(skipReason('postgres') !== undefined)('migration 027 on postgres', () => {
  const dbs = useDatabases('postgres');
  const pools: pg.Pool[] = [];
  afterAll(async () => {
    for (const p of pools) await p.end();
  });

  it('flags the pending deliveries that have a later pending one of their key, and no other', async () => {
    const url = await dbs.freshUrl();
    const { config, schema } = parsePostgresUrl(url);
    const pool = new pg.Pool(config);
    pools.push(pool);
    const at = postgresMigrations.findIndex((m) => m.name === '027_successor_flag');
    await migratePostgres(pool, postgresMigrations.slice(0, at), schema);
    // key a: delivered, pending head, pending; key b: a pending head alone; key c: failed, pending head
    const rows: [string, string, number, string][] = [
      ['a1', 'a', 1, 'delivered'],
      ['a2', 'a', 2, 'pending'],
      ['a3', 'a', 3, 'pending'],
      ['b1', 'b', 4, 'pending'],
      ['c1', 'c', 5, 'failed'],
      ['c2', 'c', 6, 'pending'],
    ];
    await pool.query(`
      INSERT INTO partners (customer_id, name, token_hash, created_at) VALUES ('P1', 'P', 'h', now());
      INSERT INTO endpoints (id, customer_id, url, description, event_types, created_at, updated_at)
        VALUES ('ep1', 'P1', 'https://x.example/', NULL, ARRAY['T'], now(), now());
      ${rows
        .map(
          ([id, key, seq, status]) => `
        INSERT INTO events (event_id, customer_id, client_customer_ref, event_type, payload, created_at)
          VALUES ('ev_${id}', 'P1', '${key}', 'T', '{}', now());
        INSERT INTO deliveries (id, event_id, event_seq, endpoint_id, customer_id, client_customer_ref, status,
            next_attempt_at, created_at, updated_at)
          VALUES ('${id}', 'ev_${id}', ${seq}, 'ep1', 'P1', '${key}', '${status}', now(), now(), now());`,
        )
        .join('\n')}`);
    expect(await migratePostgres(pool, postgresMigrations, schema)).toContain('027_successor_flag');
    const { rows: after } = await pool.query<{ id: string; head: boolean; has_successor: boolean }>(
      'SELECT id, head, has_successor FROM deliveries ORDER BY id',
    );
    expect(after).toEqual([
      { id: 'a1', head: true, has_successor: false },
      { id: 'a2', head: true, has_successor: true },
      { id: 'a3', head: false, has_successor: false },
      { id: 'b1', head: true, has_successor: false },
      { id: 'c1', head: true, has_successor: false },
      { id: 'c2', head: true, has_successor: false },
    ]);
  });
});
