/**
 * PostgreSQL LISTEN/NOTIFY: a dispatcher wakes at once on deliveries committed by another connection
 * (another process in production), instead of at its next poll, and takes over released leases at once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDeliveryQueue } from '../../src/storage/queue.js';
import { createDispatcher, type Dispatcher } from '../../src/webhooks/dispatcher/dispatcher.js';
import { createRetryPolicy } from '../../src/webhooks/dispatcher/retry-policy.js';
import {
  decide,
  freshDatabase,
  newEndpoint,
  newPartner,
  newThirdParty,
  skipReason,
  type TestDatabase,
} from './databases.js';
import { type Sink, startSink, waitFor } from './sink.js';

const POLL_MS = 20_000; // far longer than the test waits: only a notification can wake the loop

const skip = await skipReason('postgres');
describe.skipIf(skip !== undefined)('LISTEN/NOTIFY on postgres', () => {
  let db: TestDatabase;
  let sink: Sink;
  let queue: Awaited<ReturnType<typeof openDeliveryQueue>>;
  let dispatcher: Dispatcher;

  beforeAll(async () => {
    db = await freshDatabase('postgres');
    sink = await startSink();
    // its own queue (own pool and LISTEN connection), like a separate tpcs worker
    queue = await openDeliveryQueue(db.url);
    dispatcher = createDispatcher({
      queue,
      allowPrivateEndpoints: true,
      policy: createRetryPolicy({ schedule: [1000], jitter: 'none' }),
      pollIntervalMs: POLL_MS,
    });
    dispatcher.start();
    await dispatcher.idle(); // first claim done: from here on the loop sleeps POLL_MS
  });
  afterAll(async () => {
    await dispatcher?.stop(500);
    await queue?.close();
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
      // the store is not wrapped with the in-process wake-up: only NOTIFY can tell the dispatcher
      const id = await decide(db.store, partner, await newThirdParty(db.store, partner), 'APPROVED');
      await waitFor(() => sink.received.some((r) => r.headers['webhook-id'] === id), 5000, 'delivery');
      lags.push(Date.now() - t);
    }
    expect(Math.max(...lags)).toBeLessThan(1000);
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
    dispatcher = createDispatcher({ queue, allowPrivateEndpoints: true, pollIntervalMs: POLL_MS });
    dispatcher.start();
    await dispatcher.idle(); // nothing claimable: asleep for POLL_MS
    // ...and gives it back on a graceful stop
    const t = Date.now();
    await db.queue.release('elsewhere', [held?.id ?? '']);
    await waitFor(() => sink.received.some((r) => r.headers['webhook-id'] === id), 5000, 'taken over');
    expect(Date.now() - t).toBeLessThan(1000);
  });
});
