/**
 * Isolation under load: decisions committed at a steady rate while an endpoint that never answers holds
 * all its slots, on the same origin as a live one. Every event must reach the live endpoint while those
 * slots are still held: attempts time out only after TIMEOUT_MS, far beyond this test's own timeout, so
 * a live endpoint that waited for them would fail the test, not slow it down. How fast the live one is
 * meanwhile (p50/p99 against a clean run) is measured by `npm run bench -- delivery` ("paced + dead").
 * Then a graceful stop with those attempts still hanging: it must not wait for the attempt timeout, nor
 * record anything for them.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDispatcher, type Dispatcher } from '../../src/webhooks/dispatcher/dispatcher.js';
import { createRetryPolicy } from '../../src/webhooks/dispatcher/retry-policy.js';
import { DIALECTS, openDatabase, skipReason, type TestDatabase } from '../support/databases.js';
import { decide, newEndpoint, newPartner, newThirdParty } from '../support/fixtures.js';
import { waitFor } from '../support/wait-for.js';
import { type Sink, startSink } from './sink.js';

const RATE = 200; // decisions per second
const EVENTS = 200;
const PER_ENDPOINT = 4;
/** Ten minutes: longer than any timeout of this file, so no attempt to the dead endpoint ends by itself. */
const TIMEOUT_MS = 600_000;

for (const dialect of DIALECTS) {
  describe.skipIf(skipReason(dialect) !== undefined)(`isolation on ${dialect}`, () => {
    let db: TestDatabase;
    let sink: Sink;
    let dispatcher: Dispatcher;
    const errors: unknown[] = [];
    let partner: string;
    let dead: string;

    beforeAll(async () => {
      db = await openDatabase(dialect);
      sink = await startSink();
      sink.on('/dead', () => 'hang');
      dispatcher = createDispatcher({
        queue: db.queue,
        allowPrivateEndpoints: true,
        policy: createRetryPolicy({ schedule: [1000], jitter: 'none' }),
        timeoutMs: TIMEOUT_MS,
        perEndpoint: PER_ENDPOINT,
        onError: (err) => errors.push(err),
      });
      dispatcher.start();
    });
    afterAll(async () => {
      await dispatcher?.stop(100);
      await sink?.close();
      await db?.dispose();
    });

    let decided = 0;
    /**
     * `count` decisions at RATE/s, each on schedule, taking turns over `refs` and flipping each one's
     * status every time (a decision that changes nothing records no event); their event ids. One third
     * party's next decision waits for its previous one: on a loaded machine a decision can take longer
     * than the turn (refs.length / RATE), and one that overtook the previous would change nothing.
     */
    async function paced(count: number, refs: string[]): Promise<string[]> {
      const store = db.store; // its decisions wake db.queue's listeners
      const sent: Promise<string>[] = [];
      const previous = new Map<string, Promise<unknown>>();
      const t0 = performance.now();
      for (let i = 0; i < count; i++) {
        const wait = t0 + (i * 1000) / RATE - performance.now();
        // always yield, so the writer never starves the dispatcher's I/O when it runs late
        await new Promise((r) => (wait > 1 ? setTimeout(r, wait) : setImmediate(r)));
        const n = decided++;
        const ref = refs[n % refs.length] ?? '';
        const status = Math.floor(n / refs.length) % 2 ? 'REJECTED' : 'APPROVED';
        const after = previous.get(ref) ?? Promise.resolve();
        const id = after.then(() => decide(store, partner, ref, status));
        previous.set(
          ref,
          id.catch(() => {}),
        );
        sent.push(id);
      }
      return Promise.all(sent);
    }

    it('delivers every event to the live endpoint while a dead one holds all its slots', async () => {
      partner = await newPartner(db.store);
      dead = await newEndpoint(db.store, partner, sink.url('/dead'));
      await newEndpoint(db.store, partner, sink.url('/live'));
      const refs = await Promise.all(Array.from({ length: 20 }, () => newThirdParty(db.store, partner)));
      // first the dead endpoint takes all its slots...
      await paced(PER_ENDPOINT, refs);
      await waitFor(() => sink.hanging('/dead') === PER_ENDPOINT, {
        what: `${PER_ENDPOINT} attempts hanging at the dead endpoint`,
      });
      // ...then the load: every event reaches the live endpoint
      const ids = await paced(EVENTS, refs);
      const live = () => sink.received.filter((r) => r.path === '/live');
      await waitFor(() => live().length >= PER_ENDPOINT + EVENTS, {
        timeout: 30_000,
        what: `${PER_ENDPOINT + EVENTS} deliveries to /live`,
      });
      const arrived = new Set(live().map((r) => String(r.headers['webhook-id'])));
      expect(ids.filter((id) => !arrived.has(id))).toEqual([]);
      // all the while the dead endpoint held every slot: none answered, none timed out, none freed
      expect(sink.hanging('/dead')).toBe(PER_ENDPOINT);
      expect(sink.received.filter((r) => r.path === '/dead')).toHaveLength(PER_ENDPOINT);
      const deadDeliveries = (await db.store.listDeliveries(partner, dead, { limit: 1000 })).items;
      expect(deadDeliveries).toHaveLength(PER_ENDPOINT + EVENTS);
      expect(deadDeliveries.flatMap((d) => d.attempts)).toEqual([]);
    }, 60_000);

    it('stops at once with attempts to a dead endpoint still hanging, and records nothing for them', async () => {
      expect(sink.hanging('/dead')).toBe(PER_ENDPOINT);
      // returns although those attempts would run for TIMEOUT_MS, far past this test's timeout
      await dispatcher.stop(100);
      // the stop ended them (their connections closed): anything they were to write is written by now
      await waitFor(() => sink.hanging('/dead') === 0, { what: 'the hanging attempts aborted' });
      expect(errors).toEqual([]);
      const deadDeliveries = (await db.store.listDeliveries(partner, dead, { limit: 1000 })).items;
      expect(deadDeliveries.flatMap((d) => d.attempts)).toEqual([]);
      expect(deadDeliveries.every((d) => d.status === 'pending' && d.attemptCount === 0)).toBe(true);
    });
  });
}
