/**
 * PostgreSQL LISTEN/NOTIFY: a dispatcher wakes at once on deliveries committed by another connection
 * (another process in production), instead of at its next poll, and takes over released leases at once.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Storage } from '../../src/storage/index.js';
import { createDispatcher, type Dispatcher } from '../../src/webhooks/dispatcher/dispatcher.js';
import { createRetryPolicy } from '../../src/webhooks/dispatcher/retry-policy.js';
import {
  openDatabase,
  openTestStorage,
  PG_URL,
  skipReason,
  type TestDatabase,
} from '../support/databases.js';
import { decide, newEndpoint, newPartner, newThirdParty } from '../support/fixtures.js';
import { waitFor } from '../support/wait-for.js';
import { type Sink, startSink } from './sink.js';

const POLL_MS = 20_000; // far longer than the test waits: only a notification can wake the loop
/** Every wait for a delivery gives up before the next poll: a delivery that came was woken by NOTIFY. */
const WAKE_TIMEOUT_MS = 10_000;

describe.skipIf(skipReason('postgres') !== undefined)('LISTEN/NOTIFY on postgres', () => {
  let db: TestDatabase;
  let sink: Sink;
  let other: Storage;
  let dispatcher: Dispatcher;

  beforeAll(async () => {
    db = await openDatabase('postgres');
    sink = await startSink();
    // storage of its own (own pools and LISTEN connection), like a separate tpcs worker
    other = await openTestStorage(db.url);
    dispatcher = createDispatcher({
      queue: other.queue,
      allowPrivateEndpoints: true,
      policy: createRetryPolicy({ schedule: [1000], jitter: 'none' }),
      pollIntervalMs: POLL_MS,
    });
    dispatcher.start();
    await dispatcher.idle(); // first claim done: from here on the loop sleeps POLL_MS
  });
  afterAll(async () => {
    await dispatcher?.stop(500);
    await other?.close();
    await sink?.close();
    await db?.dispose();
  });

  it('delivers a decision committed elsewhere at once, with polling 20 s apart', async () => {
    const partner = await newPartner(db.store);
    await newEndpoint(db.store, partner, sink.url('/listen'));
    for (let i = 0; i < 5; i++) {
      await dispatcher.idle(); // the last delivery recorded, its claim empty: asleep for POLL_MS
      // decided through another storage: only NOTIFY can tell the dispatcher
      const id = await decide(db.store, partner, await newThirdParty(db.store, partner), 'APPROVED');
      await waitFor(() => sink.received.some((r) => r.headers['webhook-id'] === id), {
        timeout: WAKE_TIMEOUT_MS,
        what: `delivery ${i + 1}, woken by NOTIFY`,
      });
    }
  });

  it('takes over leases another process releases, at once', async () => {
    await dispatcher.stop(500);
    const partner = await newPartner(db.store);
    await newEndpoint(db.store, partner, sink.url('/held'));
    const id = await decide(db.store, partner, await newThirdParty(db.store, partner), 'APPROVED');
    // another process holds the delivery...
    const [held] = await db.queue.claim({
      workerId: 'elsewhere',
      now: new Date(),
      leaseMs: 60_000,
      limit: 10,
      perEndpoint: 8,
    });
    expect(held?.eventId).toBe(id);
    dispatcher = createDispatcher({
      queue: other.queue,
      allowPrivateEndpoints: true,
      pollIntervalMs: POLL_MS,
    });
    dispatcher.start();
    await dispatcher.idle(); // nothing claimable: asleep for POLL_MS
    // ...and gives it back on a graceful stop
    await db.queue.release('elsewhere', [held?.id ?? '']);
    await waitFor(() => sink.received.some((r) => r.headers['webhook-id'] === id), {
      timeout: WAKE_TIMEOUT_MS,
      what: 'the released delivery taken over, woken by NOTIFY',
    });
  });

  describe('the NOTIFY sent after a commit (migration 008)', () => {
    let listener: pg.Client;
    let schema: string;
    /** For each tpcs_deliveries notification of this schema, what `decided` was when it arrived. */
    const heard: number[] = [];
    let decided = 0;
    /** The test's own notifications (see `caughtUp`) that arrived. */
    const markers: string[] = [];
    beforeAll(async () => {
      listener = new pg.Client({ connectionString: PG_URL });
      await listener.connect();
      schema = new URL(db.url).searchParams.get('schema') as string;
      listener.on('notification', (n) => {
        if (n.channel !== 'tpcs_deliveries') return;
        // `<source>:<schema>` (notify.ts)
        if (n.payload?.endsWith(`:${schema}`)) heard.push(decided);
        else if (n.payload?.startsWith(`${schema} marker `)) markers.push(n.payload);
      });
      await listener.query('LISTEN tpcs_deliveries');
      // what is counted here is NOTIFYs: nothing needs delivering, and nothing is to change under the test
      await dispatcher.stop(500);
    });
    afterAll(() => listener?.end());

    /** Runs one statement on a connection of its own, in this test's schema (as any other program could). */
    const byHand = async (sql: string, params: unknown[]) => {
      const client = new pg.Client({ connectionString: db.url.replace(/\?.*$/, '') });
      await client.connect();
      try {
        await client.query(`SET search_path TO ${schema}`);
        await client.query(sql, params);
      } finally {
        await client.end();
      }
    };

    /**
     * Resolves once every notification committed so far has arrived: PostgreSQL delivers notifications
     * in commit order, so one the test sends now (a payload no dispatcher listens for) comes after them.
     */
    const caughtUp = async () => {
      const marker = `${schema} marker ${markers.length + 1}`;
      await listener.query("SELECT pg_notify('tpcs_deliveries', $1)", [marker]);
      await waitFor(() => markers.includes(marker), { what: `the test's own NOTIFY (${marker})` });
    };
    /** Lets earlier notifications arrive, then counts from zero. */
    const startCounting = async () => {
      await caughtUp();
      heard.length = 0;
    };
    /**
     * Runs `work` on a storage of its own and closes it: close() waits for the NOTIFYs it still had to
     * send, so by then every one of them is committed (and `caughtUp` then sees them arrive).
     */
    const onOwnStorage = async (work: (storage: Storage) => Promise<unknown>) => {
      const storage = await openTestStorage(db.url);
      try {
        await work(storage);
      } finally {
        await storage.close();
      }
    };
    /** A partner with an endpoint at `path` and a third party to decide on; counting starts after. */
    const partnerWithEndpoint = async (path: string) => {
      const partner = await newPartner(db.store);
      await newEndpoint(db.store, partner, sink.url(path));
      const ref = await newThirdParty(db.store, partner);
      await startCounting();
      return { partner, ref };
    };

    it('comes once after a decision, also one without deliveries (event streams elsewhere want it)', async () => {
      const { partner, ref } = await partnerWithEndpoint('/notify');
      await onOwnStorage(({ store }) => decide(store, partner, ref, 'APPROVED'));
      await caughtUp();
      expect(heard).toHaveLength(1);
      // A decision that queues no delivery (a partner without endpoints) still recorded an event.
      const lonely = await newPartner(db.store);
      const lonelyRef = await newThirdParty(db.store, lonely);
      await startCounting();
      await onOwnStorage(({ store }) => decide(store, lonely, lonelyRef, 'APPROVED'));
      await caughtUp();
      expect(heard).toHaveLength(1);
    });

    it('coalesces a burst of concurrent decisions into a few, sent after their commits', async () => {
      const partner = await newPartner(db.store);
      await newEndpoint(db.store, partner, sink.url('/burst'));
      const refs = await Promise.all(Array.from({ length: 40 }, () => newThirdParty(db.store, partner)));
      await startCounting();
      decided = 0;
      await onOwnStorage(({ store }) =>
        Promise.all(
          refs.map(async (ref) => {
            await decide(store, partner, ref, 'REJECTED');
            decided++;
          }),
        ),
      );
      await caughtUp();
      expect(heard.length).toBeGreaterThanOrEqual(1);
      expect(heard.length).toBeLessThan(40);
      // The last came after every commit: sent once the store has seen the last one commit, it arrives
      // after all 40 decisions have returned. (NOTIFYs sent before their commits arrive with fewer.)
      expect(heard.at(-1)).toBe(40);
    });

    it('comes after a retry and a recover, and never from inside a transaction', async () => {
      const { partner, ref } = await partnerWithEndpoint('/retry');
      await onOwnStorage(({ store }) => decide(store, partner, ref, 'APPROVED'));
      const [endpoint] = await db.store.listEndpoints(partner);
      const endpointId = endpoint?.id as string;
      const delivery = (await db.store.listDeliveries(partner, endpointId, { limit: 1 })).items[0];
      const deliveryId = delivery?.id as string;
      await startCounting();
      await onOwnStorage(({ queue }) => queue.retry(partner, endpointId, deliveryId, new Date()));
      await caughtUp();
      expect(heard).toHaveLength(1);
      // a recover of the delivery once failed (by hand: nothing delivers here)
      await byHand(`UPDATE deliveries SET status = 'failed' WHERE id = $1`, [deliveryId]);
      await startCounting();
      await onOwnStorage(async ({ queue }) => {
        expect(await queue.recover(partner, endpointId, new Date(0), new Date())).toBe(1);
      });
      await caughtUp();
      expect(heard).toHaveLength(1);
      // deliveries written by hand (as a build older than 008 would): no trigger speaks any more
      await startCounting();
      await byHand(
        `INSERT INTO deliveries (id, event_id, event_seq, endpoint_id, customer_id, client_customer_ref,
           next_attempt_at, created_at, updated_at)
         SELECT gen_random_uuid()::text, event_id, event_seq, endpoint_id, customer_id, client_customer_ref,
           now(), now(), now()
         FROM deliveries WHERE id = $1`,
        [deliveryId],
      );
      // committed before the test's own NOTIFY: anything it said has arrived by then
      await caughtUp();
      expect(heard).toHaveLength(0);
    });
  });
});
