/**
 * Leases in their own table on PostgreSQL (migration 013) and SQLite (012): what one process's claim writes, another
 * process's claim sees; a lease that ended is taken over, and its old holder's late completion is
 * counted without settling the delivery; a lease held when the database is migrated is kept.
 * (The queue's behaviour on both dialects is test/dispatcher/queue.test.ts; this is about leases seen
 * across connections and across the migration.)
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStorage, type Storage } from '../../src/storage/index.js';
import { parsePostgresUrl } from '../../src/storage/postgres/index.js';
import { migrate, migrations } from '../../src/storage/postgres/migrations.js';
import type { ClaimOptions } from '../../src/storage/queue.js';
import {
  migrate as migrateSqlite,
  migrations as sqliteMigrations,
} from '../../src/storage/sqlite/migrations.js';
import { type FreshDatabaseUrl, freshUrl, openTestStorage, skipReason } from '../support/databases.js';
import { decide, newEndpoint, newPartner, newThirdParty } from '../support/fixtures.js';
import { claimOptions, completion, later } from '../support/queue.js';

const claimOpts = (workerId: string, over: Partial<ClaimOptions> = {}): ClaimOptions =>
  claimOptions({ workerId, perEndpoint: 2, ...over });
const delivered = (deliveryId: string, endpointId: string) => completion(deliveryId, endpointId);
const WINDOW = { failureWindowMs: 5 * 24 * 3600_000 };

describe.skipIf(skipReason('postgres') !== undefined)('delivery leases on postgres', () => {
  let fresh: FreshDatabaseUrl;
  let one: Storage; // two processes' storages on the same database
  let two: Storage;
  beforeAll(async () => {
    fresh = await freshUrl('postgres');
    one = await openTestStorage(fresh.url);
    two = await openTestStorage(fresh.url);
  });
  afterAll(async () => {
    await one?.close();
    await two?.close();
    await fresh?.drop();
  });

  /** An endpoint with `n` due heads (one third party each). */
  async function endpointWithBacklog(n: number) {
    const partner = await newPartner(one.store);
    const ep = await newEndpoint(one.store, partner, 'https://leases.example/hook');
    for (let i = 0; i < n; i++)
      await decide(one.store, partner, await newThirdParty(one.store, partner), 'APPROVED');
    return { partner, ep };
  }

  it('keeps the per-endpoint bound across two claimers', async () => {
    const { ep } = await endpointWithBacklog(5);
    const mine = <C extends { endpointId: string }>(cs: C[]) => cs.filter((c) => c.endpointId === ep);
    // at the same moment, on two pools
    const [a, b] = await Promise.all([one.queue.claim(claimOpts('w1')), two.queue.claim(claimOpts('w2'))]);
    expect(mine(a).length + mine(b).length).toBe(2);
    // one after the other: the leases are in flight for both
    expect(mine(await one.queue.claim(claimOpts('w3')))).toHaveLength(0);
    expect(mine(await two.queue.claim(claimOpts('w4')))).toHaveLength(0);
    // a release by someone else gives nothing back; the holder's release does
    const [holder, held] = mine(a).length > 0 ? ['w1', mine(a)] : ['w2', mine(b)];
    await two.queue.release('w9', [held[0]?.id ?? '']);
    expect(mine(await two.queue.claim(claimOpts('w5')))).toHaveLength(0);
    await one.queue.release(holder, [held[0]?.id ?? '']);
    expect(mine(await two.queue.claim(claimOpts('w6')))).toHaveLength(1);
  });

  it('lets another worker take an ended lease over; the old holder is counted, not obeyed', async () => {
    const { partner, ep } = await endpointWithBacklog(1);
    const [first] = (await one.queue.claim(claimOpts('old'))).filter((c) => c.endpointId === ep);
    if (!first) throw new Error('nothing claimed');
    expect((await two.queue.claim(claimOpts('new'))).filter((c) => c.endpointId === ep)).toHaveLength(0);
    // the lease has ended: the other process takes it over
    const takeover = (await two.queue.claim(claimOpts('new', { now: later(40_000) }))).filter(
      (c) => c.endpointId === ep,
    );
    expect(takeover.map((c) => c.id)).toEqual([first.id]);
    // the old holder finishes late: its attempt is listed and counted, the delivery stays pending
    await one.queue.complete([delivered(first.id, ep)], { ...WINDOW, workerId: 'old' });
    let d = await one.store.getDelivery(partner, ep, first.id);
    expect(d).toMatchObject({ status: 'pending', attemptCount: 1 });
    expect(d?.attempts).toHaveLength(1);
    // and the new holder's lease still stands
    expect(
      (await one.queue.claim(claimOpts('third', { now: later(41_000) }))).filter((c) => c.endpointId === ep),
    ).toHaveLength(0);
    await two.queue.complete([delivered(first.id, ep)], { ...WINDOW, workerId: 'new' });
    d = await one.store.getDelivery(partner, ep, first.id);
    expect(d).toMatchObject({ status: 'delivered', attemptCount: 2 });
  });

  it('ends the lease of a delivery sent again by hand', async () => {
    const { partner, ep } = await endpointWithBacklog(1);
    const [c] = (await one.queue.claim(claimOpts('w1'))).filter((x) => x.endpointId === ep);
    if (!c) throw new Error('nothing claimed');
    expect(await two.queue.retry(partner, ep, c.id, new Date())).toMatchObject({ status: 'pending' });
    const again = (await two.queue.claim(claimOpts('w2'))).filter((x) => x.endpointId === ep);
    expect(again.map((x) => x.id)).toEqual([c.id]);
    // w1 no longer holds it: its result is counted, w2's settles it
    await one.queue.complete([delivered(c.id, ep)], { ...WINDOW, workerId: 'w1' });
    expect(await one.store.getDelivery(partner, ep, c.id)).toMatchObject({ status: 'pending' });
    await two.queue.complete([delivered(c.id, ep)], { ...WINDOW, workerId: 'w2' });
    expect(await one.store.getDelivery(partner, ep, c.id)).toMatchObject({
      status: 'delivered',
      attemptCount: 2,
    });
  });

  it('deletes the attempts and leases of an endpoint it deletes, and only those (021)', async () => {
    const { partner, ep } = await endpointWithBacklog(2);
    const other = await endpointWithBacklog(1);
    const mine = (await one.queue.claim(claimOpts('w1'))).filter((x) =>
      [ep, other.ep].includes(x.endpointId),
    );
    expect(mine).toHaveLength(3);
    // an attempt for each (one leased delivery of `ep` stays leased: completed by another worker)
    const [kept, ...rest] = mine.filter((x) => x.endpointId === ep);
    if (!kept) throw new Error('nothing claimed');
    await one.queue.complete(
      [...rest, ...mine.filter((x) => x.endpointId === other.ep)].map((x) => delivered(x.id, x.endpointId)),
      { ...WINDOW, workerId: 'w1' },
    );
    await one.queue.complete([delivered(kept.id, ep)], { ...WINDOW, workerId: 'w9' });
    const pool = new pg.Pool({ ...parsePostgresUrl(fresh.url).config, max: 1 });
    try {
      const count = async (endpointId: string) => {
        const { rows } = await pool.query<{ attempts: number; leases: number }>(
          `SELECT (SELECT count(*)::int FROM attempts a JOIN deliveries d ON d.id = a.delivery_id
                   WHERE d.endpoint_id = $1) AS attempts,
                  (SELECT count(*)::int FROM delivery_leases WHERE endpoint_id = $1) AS leases`,
          [endpointId],
        );
        return rows[0];
      };
      expect(await count(ep)).toEqual({ attempts: 2, leases: 1 });
      const ids = mine.filter((x) => x.endpointId === ep).map((x) => x.id);
      expect(await one.store.deleteEndpoint(partner, ep)).toBe(true);
      const { rows } = await pool.query<{ attempts: number; leases: number }>(
        `SELECT (SELECT count(*)::int FROM attempts WHERE delivery_id = ANY ($1)) AS attempts,
                (SELECT count(*)::int FROM delivery_leases WHERE delivery_id = ANY ($1)) AS leases`,
        [ids],
      );
      expect(rows[0]).toEqual({ attempts: 0, leases: 0 });
      expect(await count(other.ep)).toEqual({ attempts: 1, leases: 0 });
    } finally {
      await pool.end();
    }
  });
});

describe.skipIf(skipReason('postgres') !== undefined)('lease table migration on postgres', () => {
  const pools: pg.Pool[] = [];
  const drops: (() => Promise<void>)[] = [];
  afterAll(async () => {
    for (const p of pools) await p.end();
    for (const drop of drops) await drop();
  });

  it('keeps a lease held while the database is migrated', async () => {
    const fresh = await freshUrl('postgres');
    drops.push(fresh.drop);
    const { config, schema } = parsePostgresUrl(fresh.url);
    const pool = new pg.Pool(config);
    pools.push(pool);
    const at = migrations.findIndex((m) => m.name === '013_delivery_leases');
    await migrate(pool, migrations.slice(0, at), schema);
    await pool.query(`
      INSERT INTO partners (customer_id, name, token_hash, created_at) VALUES ('P1', 'P', 'h', now());
      INSERT INTO endpoints (id, customer_id, url, description, event_types, created_at, updated_at)
        VALUES ('ep1', 'P1', 'https://x.example/', NULL, ARRAY['T'], now(), now());
      INSERT INTO events (event_id, customer_id, client_customer_ref, event_type, payload, created_at)
        VALUES ('ev1', 'P1', 'ref1', 'T', '{}', now()), ('ev2', 'P1', 'ref2', 'T', '{}', now());
      INSERT INTO deliveries (id, event_id, event_seq, endpoint_id, customer_id, client_customer_ref,
          next_attempt_at, locked_by, locked_until, created_at, updated_at)
        VALUES ('leased', 'ev1', 1, 'ep1', 'P1', 'ref1', now(), 'w1', now() + interval '1 hour', now(), now()),
          ('free', 'ev2', 2, 'ep1', 'P1', 'ref2', now(), NULL, NULL, now(), now());`);
    expect(await migrate(pool, migrations, schema)).toContain('013_delivery_leases');
    const { rows } = await pool.query('SELECT delivery_id, endpoint_id, locked_by FROM delivery_leases');
    expect(rows).toEqual([{ delivery_id: 'leased', endpoint_id: 'ep1', locked_by: 'w1' }]);
    const claim = async (worker: string, inMs: number) =>
      (
        await pool.query<{ id: string }>(
          `SELECT id FROM tpcs_claim(10, now() + $2 * interval '1 millisecond', 10, $1, 1000) ORDER BY id`,
          [worker, inMs],
        )
      ).rows.map((r) => r.id);
    // the lease still holds: only the free delivery is claimed, and it counts toward the bound
    expect(await claim('w2', 0)).toEqual(['free']);
    // once it has ended, it is taken over
    expect(await claim('w3', 2 * 3600_000)).toEqual(['free', 'leased']);
  });
});

describe('lease table migration on sqlite', () => {
  it('keeps a lease held while the database is migrated, and drops the columns it moved from', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tpcs-leases-'));
    try {
      const file = join(dir, 'tpcs.db');
      const db = new Database(file);
      const at = sqliteMigrations.findIndex((m) => m.name === '012_delivery_leases');
      migrateSqlite(db, sqliteMigrations.slice(0, at));
      const now = Date.now();
      db.exec(`
        INSERT INTO partners (customer_id, name, token_hash, created_at) VALUES ('P1', 'P', 'h', ${now});
        INSERT INTO endpoints (id, customer_id, url, description, event_types, created_at, updated_at)
          VALUES ('ep1', 'P1', 'https://x.example/', NULL, '["T"]', ${now}, ${now});
        INSERT INTO events (event_id, customer_id, client_customer_ref, event_type, payload, created_at)
          VALUES ('ev1', 'P1', 'ref1', 'T', '{}', ${now}), ('ev2', 'P1', 'ref2', 'T', '{}', ${now});
        INSERT INTO deliveries (id, event_id, event_seq, endpoint_id, customer_id, client_customer_ref,
            next_attempt_at, locked_by, locked_until, created_at, updated_at)
          VALUES ('leased', 'ev1', 1, 'ep1', 'P1', 'ref1', ${now}, 'w1', ${now + 3600_000}, ${now}, ${now}),
            ('free', 'ev2', 2, 'ep1', 'P1', 'ref2', ${now}, NULL, NULL, ${now}, ${now});`);
      expect(migrateSqlite(db)).toContain('012_delivery_leases');
      expect(
        db.prepare('SELECT delivery_id, endpoint_id, customer_id, locked_by FROM delivery_leases').all(),
      ).toEqual([{ delivery_id: 'leased', endpoint_id: 'ep1', customer_id: 'P1', locked_by: 'w1' }]);
      const columns = db
        .prepare<[], { name: string }>("SELECT name FROM pragma_table_info('deliveries')")
        .all();
      expect(columns.map((c) => c.name)).not.toContain('locked_until');
      const indexes = db
        .prepare<[], { name: string }>("SELECT name FROM pragma_index_list('deliveries')")
        .all();
      expect(indexes.map((i) => i.name)).not.toContain('deliveries_in_flight');
      expect(indexes.map((i) => i.name)).not.toContain('deliveries_due');
      db.close();

      const storage = await openStorage(`sqlite:${file}`);
      try {
        const claim = async (workerId: string, inMs: number) =>
          (await storage.queue.claim(claimOpts(workerId, { now: later(inMs), perEndpoint: 10 })))
            .map((d) => d.id)
            .sort();
        // the lease still holds: only the free delivery is claimed
        expect(await claim('w2', 0)).toEqual(['free']);
        // once it has ended, it is taken over (w2's lease on the other too), and its old holder's
        // completion no longer settles it
        expect(await claim('w3', 2 * 3600_000)).toEqual(['free', 'leased']);
        await storage.queue.complete([delivered('leased', 'ep1')], { workerId: 'w1', ...WINDOW });
        const leased = await storage.store.getDelivery('P1', 'ep1', 'leased');
        expect(leased).toMatchObject({ status: 'pending', attemptCount: 1 });
        await storage.queue.complete([delivered('leased', 'ep1')], { workerId: 'w3', ...WINDOW });
        expect(await storage.store.getDelivery('P1', 'ep1', 'leased')).toMatchObject({
          status: 'delivered',
          attemptCount: 2,
        });
      } finally {
        await storage.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
