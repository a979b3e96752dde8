/**
 * A batch of decisions reaches the partner: its deliveries are queued and the dispatcher is woken at
 * once (here, and on PostgreSQL in another process through NOTIFY), not at its next poll, and one
 * third party's events arrive in the order the batch gave them.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recordComplianceDecisions } from '../../src/customers/decisions.js';
import type { Storage } from '../../src/storage/index.js';
import { createDispatcher, type Dispatcher } from '../../src/webhooks/dispatcher/dispatcher.js';
import { createRetryPolicy } from '../../src/webhooks/dispatcher/retry-policy.js';
import {
  DIALECTS,
  openDatabase,
  openTestStorage,
  skipReason,
  type TestDatabase,
} from '../support/databases.js';
import { newEndpoint, newPartner, newThirdParty, REASONS } from '../support/fixtures.js';
import { waitFor } from '../support/wait-for.js';
import { type Sink, startSink } from './sink.js';

const POLL_MS = 20_000; // far longer than the test waits: only being told can wake the loop

for (const dialect of DIALECTS) {
  describe.skipIf(skipReason(dialect) !== undefined)(`a batch of decisions, delivered (${dialect})`, () => {
    let db: TestDatabase;
    let sink: Sink;
    let worker: Storage | undefined;
    let dispatcher: Dispatcher;

    beforeAll(async () => {
      db = await openDatabase(dialect);
      sink = await startSink();
      // PostgreSQL: a storage of its own, like a separate tpcs worker; SQLite: the same storage
      if (dialect === 'postgres') worker = await openTestStorage(db.url);
      dispatcher = createDispatcher({
        queue: (worker ?? db.storage).queue,
        allowPrivateEndpoints: true,
        policy: createRetryPolicy({ schedule: [1000], jitter: 'none' }),
        pollIntervalMs: POLL_MS,
      });
      dispatcher.start();
      await dispatcher.idle(); // first claim done: from here on the loop sleeps POLL_MS
    });
    afterAll(async () => {
      await dispatcher?.stop(500);
      await worker?.close();
      await sink?.close();
      await db?.dispose();
    });

    it('wakes the dispatcher and delivers every event, each third party’s in the order given', async () => {
      const customerId = await newPartner(db.store);
      await newEndpoint(db.store, customerId, sink.url('/batch'));
      const refs = [await newThirdParty(db.store, customerId), await newThirdParty(db.store, customerId)];
      const results = await recordComplianceDecisions(
        db.store,
        [0, 1, 2].flatMap((i) =>
          refs.map((ref) => ({
            customerId,
            clientCustomerRef: ref,
            decision:
              i % 2 === 0
                ? ({ status: 'APPROVED' } as const)
                : ({ status: 'REJECTED', reasons: REASONS } as const),
          })),
        ),
      );
      const ids = results.map((r) => (r.outcome === 'changed' ? r.event.eventId : ''));
      expect(ids.every(Boolean)).toBe(true);
      await waitFor(() => ids.every((id) => sink.received.some((r) => r.headers['webhook-id'] === id)), {
        timeout: 10_000,
        what: 'the batch’s deliveries, woken by the store (polling is 20 s apart)',
      });
      for (const ref of refs) {
        const arrived = sink.received
          .map((r) => JSON.parse(r.body) as { event_id: string; data: { client_customer_ref: string } })
          .filter((e) => e.data.client_customer_ref === ref)
          .map((e) => e.event_id);
        expect(arrived).toEqual(ids.filter((_, i) => i % 2 === refs.indexOf(ref)));
      }
    });
  });
}
