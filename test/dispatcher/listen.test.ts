/**
 * PostgreSQL LISTEN/NOTIFY: a dispatcher wakes at once on deliveries committed by another connection
 * (another process in production), instead of at its next poll, and takes over released leases at once.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStorage, type Storage } from '../../src/storage/index.js';
import { createDispatcher, type Dispatcher } from '../../src/webhooks/dispatcher/dispatcher.js';
import { createRetryPolicy } from '../../src/webhooks/dispatcher/retry-policy.js';
import {
  decide,
  freshDatabase,
  newEndpoint,
  newPartner,
  newThirdParty,
  PG_URL,
  skipReason,
  type TestDatabase,
} from './databases.js';
import { type Sink, startSink, waitFor } from './sink.js';

const POLL_MS = 20_000; // far longer than the test waits: only a notification can wake the loop

const skip = await skipReason('postgres');
describe.skipIf(skip !== undefined)('LISTEN/NOTIFY on postgres', () => {
  let db: TestDatabase;
  let sink: Sink;
  let other: Storage;
  let dispatcher: Dispatcher;

  beforeAll(async () => {
    db = await freshDatabase('postgres');
    sink = await startSink();
    // storage of its own (own pools and LISTEN connection), like a separate tpcs worker
    other = await openStorage(db.url);
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

  it('delivers within moments of a decision committed elsewhere, with polling 20 s apart', async () => {
    const partner = await newPartner(db.store);
    await newEndpoint(db.store, partner, sink.url('/listen'));
    const lags: number[] = [];
    for (let i = 0; i < 5; i++) {
      await new Promise((r) => setTimeout(r, 100));
      const t = Date.now();
      // decided through another storage: only NOTIFY can tell the dispatcher
      const id = await decide(db.store, partner, await newThirdParty(db.store, partner), 'APPROVED');
      await waitFor(() => sink.received.some((r) => r.headers['webhook-id'] === id), 5000, 'delivery');
      lags.push(Date.now() - t);
    }
    // far under the 20 s poll: only a NOTIFY can have woken it (loose for a loaded machine)
    expect(Math.max(...lags)).toBeLessThan(3000);
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
    const t = Date.now();
    await db.queue.release('elsewhere', [held?.id ?? '']);
    await waitFor(() => sink.received.some((r) => r.headers['webhook-id'] === id), 5000, 'taken over');
    expect(Date.now() - t).toBeLessThan(3000);
  });

  describe('the NOTIFY sent after a commit (migration 008)', () => {
    let listener: pg.Client;
    const heard: number[] = [];
    beforeAll(async () => {
      listener = new pg.Client({ connectionString: PG_URL });
      await listener.connect();
      const schema = new URL(db.url).searchParams.get('schema');
      listener.on('notification', (n) => {
        if (n.channel === 'tpcs_deliveries' && n.payload === schema) heard.push(Date.now());
      });
      await listener.query('LISTEN tpcs_deliveries');
    });
    afterAll(() => listener?.end());

    const quiet = () => new Promise((r) => setTimeout(r, 300));
    /** Lets earlier notifications arrive, then counts from zero. */
    const startCounting = async () => {
      await quiet();
      heard.length = 0;
    };
    // Under load a notification may take a while: wait for the first before counting any more.
    const heardOne = () => expect.poll(() => heard.length, { timeout: 5000 }).toBeGreaterThanOrEqual(1);
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
      await decide(db.store, partner, ref, 'APPROVED');
      await heardOne();
      await quiet();
      expect(heard).toHaveLength(1);
      // A decision that queues no delivery (a partner without endpoints) still recorded an event.
      const lonely = await newPartner(db.store);
      await startCounting();
      await decide(db.store, lonely, await newThirdParty(db.store, lonely), 'APPROVED');
      await heardOne();
      await quiet();
      expect(heard).toHaveLength(1);
    });

    it('coalesces a burst of concurrent decisions into a few, sent after their commits', async () => {
      const partner = await newPartner(db.store);
      await newEndpoint(db.store, partner, sink.url('/burst'));
      const refs = await Promise.all(Array.from({ length: 40 }, () => newThirdParty(db.store, partner)));
      await startCounting();
      await Promise.all(refs.map((ref) => decide(db.store, partner, ref, 'REJECTED')));
      const committed = Date.now();
      await heardOne();
      await quiet();
      expect(heard.length).toBeLessThan(40);
      // the last one comes after the commits (the margin: the last commit's own, if it came last)
      expect(Math.max(...heard)).toBeGreaterThanOrEqual(committed - 500);
    });

    it('comes after a retry and a recover, and never from inside a transaction', async () => {
      const { partner, ref } = await partnerWithEndpoint('/retry');
      await decide(db.store, partner, ref, 'APPROVED');
      await heardOne();
      const [endpoint] = await db.store.listEndpoints(partner);
      const page = await db.store.listDeliveries(partner, endpoint?.id as string, { limit: 1 });
      const delivery = page.items[0];
      await startCounting();
      await db.queue.retry(partner, endpoint?.id as string, delivery?.id as string, new Date());
      await heardOne();
      // deliveries written by hand (as a build older than 008 would): no trigger speaks any more
      await startCounting();
      const client = new pg.Client({ connectionString: db.url.replace(/\?.*$/, '') });
      await client.connect();
      try {
        const schema = new URL(db.url).searchParams.get('schema') as string;
        await client.query(`SET search_path TO ${schema}`);
        await client.query(
          `INSERT INTO deliveries (id, event_id, event_seq, endpoint_id, customer_id, client_customer_ref,
             next_attempt_at, created_at, updated_at)
           SELECT gen_random_uuid()::text, event_id, event_seq, endpoint_id, customer_id, client_customer_ref,
             now(), now(), now()
           FROM deliveries WHERE id = $1`,
          [delivery?.id],
        );
      } finally {
        await client.end();
      }
      await quiet();
      expect(heard).toHaveLength(0);
    });
  });
});
