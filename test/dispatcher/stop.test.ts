/**
 * A graceful stop in the middle of a drain writes every completion before it returns: a caller closes
 * the storage next, and a completion written after that is lost (its delivery is sent again once its
 * lease ends: a duplicate the stop was there to avoid). Completions that finish while a batch is being
 * written go in the next batch, which starts when the first one ends; the stop must wait for that one
 * too (it did not before session 22: stop() returned with that batch still being written). The real
 * queue's writes are slowed here (each takes 30 ms more) so that batches follow each other while the
 * stop runs, and counted, to see none still running when stop() returns.
 */
import { describe, expect, it } from 'vitest';
import type { DeliveryQueue } from '../../src/storage/queue.js';
import { createDispatcher } from '../../src/webhooks/dispatcher/dispatcher.js';
import { DIALECTS, skipReason } from '../support/databases.js';
import { decide, newEndpoint, newPartner, newThirdParty } from '../support/fixtures.js';
import { waitFor } from '../support/wait-for.js';
import { useDatabaseAndSink } from './sink.js';

const EVENTS = 60;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

for (const dialect of DIALECTS) {
  describe.skipIf(skipReason(dialect) !== undefined)(`graceful stop on ${dialect}`, () => {
    const env = useDatabaseAndSink(dialect);

    it('returns only once every completion of an answered attempt is written', async () => {
      const partner = await newPartner(env.db.store);
      const paths = ['/stop/a', '/stop/b', '/stop/c'];
      const endpoints: string[] = [];
      for (const path of paths) endpoints.push(await newEndpoint(env.db.store, partner, env.sink.url(path)));
      for (let i = 0; i < EVENTS; i++)
        await decide(env.db.store, partner, await newThirdParty(env.db.store, partner), 'APPROVED');

      let writing = 0;
      const slowly = async <T>(write: () => Promise<T>): Promise<T> => {
        writing++;
        try {
          await sleep(30);
          return await write();
        } finally {
          writing--;
        }
      };
      const slowed: DeliveryQueue = {
        ...env.db.queue,
        complete: (cs, o) => slowly(() => env.db.queue.complete(cs, o)),
        completeAndClaim: (cs, o, c) => slowly(() => env.db.queue.completeAndClaim(cs, o, c)),
      };
      const dispatcher = createDispatcher({
        queue: slowed,
        allowPrivateEndpoints: true,
        pollIntervalMs: 60_000,
        perEndpoint: 4,
        batchSize: 4,
      });
      dispatcher.start();
      // some delivered, most still to go: batches of completions follow each other
      await waitFor(() => env.sink.received.length >= 24, { timeout: 10_000, what: 'the first deliveries' });
      await dispatcher.stop(2000);
      const stillWriting = writing;
      const answered = env.sink.received.map((r) => `${r.path} ${String(r.headers['webhook-id'])}`);

      expect(stillWriting).toBe(0);
      const delivered = new Set<string>();
      for (const [i, endpoint] of endpoints.entries()) {
        const page = await env.db.store.listDeliveries(partner, endpoint, { limit: 200 });
        for (const d of page.items) if (d.status === 'delivered') delivered.add(`${paths[i]} ${d.eventId}`);
      }
      expect(answered.length).toBeLessThan(EVENTS * endpoints.length);
      expect(answered.filter((a) => !delivered.has(a))).toEqual([]);
    });
  });
}
