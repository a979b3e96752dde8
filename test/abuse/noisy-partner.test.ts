/**
 * One partner must not delay the others (issue 11): partner A has many endpoints that never answer
 * (the sink holds every request until the test ends) and hundreds of deliveries queued, enough to fill
 * every slot of the dispatcher; partner B's deliveries, queued after A's have taken their slots, must
 * all arrive while A's endpoints are still holding every request they got, and A must never have more
 * than its share in flight. Attempts time out only after TIMEOUT_MS, far beyond this test's own
 * timeout, so a B that waited for A's slots would fail the test, not slow it down. How fast B is
 * meanwhile (p50/p99 against a clean run) is measured by `npm run bench -- noisy-partner`.
 *
 * The real dispatcher (createDispatcher) on the real queue of each dialect, real HTTP to a local sink.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDispatcher, type Dispatcher } from '../../src/webhooks/dispatcher/dispatcher.js';
import { createRetryPolicy } from '../../src/webhooks/dispatcher/retry-policy.js';
import { type Sink, startSink } from '../dispatcher/sink.js';
import { DIALECTS, openDatabase, skipReason, type TestDatabase } from '../support/databases.js';
import { decide, newEndpoint, newPartner, newThirdParty } from '../support/fixtures.js';
import { waitFor } from '../support/wait-for.js';

/** Slots of the dispatcher; its default per-partner share is a quarter of them. */
const CONCURRENCY = 16;
const PARTNER_SHARE = CONCURRENCY / 4;
const PER_ENDPOINT = 4;
/** A's endpoints alone could hold 10 × 4 = 40 attempts: more than every slot. */
const A_ENDPOINTS = 10;
/** Each of A's decisions is one delivery per endpoint: 300 queued. */
const A_EVENTS = 30;
const B_EVENTS = 20;
/** Ten minutes: longer than any wait of this file, so no attempt to A ends by itself. */
const TIMEOUT_MS = 600_000;

for (const dialect of DIALECTS) {
  describe.skipIf(skipReason(dialect) !== undefined)(`a noisy partner on ${dialect}`, () => {
    let db: TestDatabase;
    let sink: Sink;
    let dispatcher: Dispatcher;
    const errors: unknown[] = [];

    beforeAll(async () => {
      db = await openDatabase(dialect);
      sink = await startSink();
    });
    afterAll(async () => {
      await dispatcher?.stop(100);
      await sink?.close();
      await db?.dispose();
    });

    it("delivers B's events while A's endpoints hold every request, A never past its share", async () => {
      const { store } = db;
      const a = await newPartner(store);
      const aPaths = Array.from({ length: A_ENDPOINTS }, (_, i) => `/a${i}`);
      for (const path of aPaths) {
        sink.on(path, () => 'hang');
        await newEndpoint(store, a, sink.url(path));
      }
      for (let i = 0; i < A_EVENTS; i++) await decide(store, a, await newThirdParty(store, a), 'APPROVED');
      const b = await newPartner(store);
      await newEndpoint(store, b, sink.url('/b'));
      const bRefs = await Promise.all(Array.from({ length: B_EVENTS }, () => newThirdParty(store, b)));

      const toA = () => sink.received.filter((r) => aPaths.includes(r.path)).length;
      const heldByA = () => aPaths.reduce((n, path) => n + sink.hanging(path), 0);

      // the default share (a quarter of the slots): nothing here sets perPartner
      dispatcher = createDispatcher({
        queue: db.queue,
        allowPrivateEndpoints: true,
        policy: createRetryPolicy({ schedule: [1000], jitter: 'none' }),
        timeoutMs: TIMEOUT_MS,
        concurrency: CONCURRENCY,
        perEndpoint: PER_ENDPOINT,
        onError: (err) => errors.push(err),
      });
      dispatcher.start();
      // A takes what it may: its share, not every slot
      await waitFor(() => heldByA() >= PARTNER_SHARE, { what: "A's endpoints holding its share" });

      // B's events are queued now, behind A's 300
      const bEvents = await Promise.all(bRefs.map((ref) => decide(store, b, ref, 'APPROVED')));
      await waitFor(
        () => {
          const got = new Set(
            sink.received.filter((r) => r.path === '/b').map((r) => r.headers['webhook-id']),
          );
          return bEvents.every((id) => got.has(id));
        },
        { what: "every one of B's events at B's endpoint" },
      );
      // ...while every request A got is still held: B did not wait for any of A's slots to free up
      expect(heldByA()).toBe(toA());
      expect(toA()).toBeLessThanOrEqual(PARTNER_SHARE);
      expect(errors).toEqual([]);
    });
  });
}
