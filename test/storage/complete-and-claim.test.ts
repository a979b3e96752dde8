/**
 * `completeAndClaim`: a batch of completions and the claim after it in one transaction (issue 13;
 * PostgreSQL migration 028). The claim must see what the completions did, the slots they freed and
 * the heads they promoted, and what each part reports must be what the two calls would have reported.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DIALECTS, openDatabase, skipReason, type TestDatabase } from '../support/databases.js';
import { decide, newEndpoint, newPartner, newThirdParty } from '../support/fixtures.js';
import { claimOptions, completion, later } from '../support/queue.js';

const WINDOW = { workerId: 'w1', failureWindowMs: 5 * 24 * 3600_000 };

for (const dialect of DIALECTS) {
  describe.skipIf(skipReason(dialect) !== undefined)(`completeAndClaim on ${dialect}`, () => {
    let db: TestDatabase;
    beforeEach(async () => {
      db = await openDatabase(dialect);
    });
    afterEach(async () => {
      await db?.dispose();
    });

    it('claims into the slot the completions freed, and the head they promoted', async () => {
      const { store, queue } = db;
      const partner = await newPartner(store);
      const endpoint = await newEndpoint(store, partner, 'https://a.example/hook');
      const first = await newThirdParty(store, partner);
      const second = await newThirdParty(store, partner);
      // first: two events in order; second: one event, decided between them
      const a1 = await decide(store, partner, first, 'APPROVED');
      const b1 = await decide(store, partner, second, 'APPROVED');
      const a2 = await decide(store, partner, first, 'REJECTED');

      const one = claimOptions({ perEndpoint: 1 });
      const [head, ...none] = await queue.claim(one);
      expect(none).toEqual([]);
      expect(head?.eventId).toBe(a1);

      // the endpoint is full until a1's completion frees it; the claim after it sees the slot
      const cycle = await queue.completeAndClaim([completion(head?.id ?? '', endpoint)], WINDOW, one);
      expect(cycle.promoted).toBe(1);
      expect(cycle.disabled).toEqual([]);
      expect(cycle.claimed.map((d) => d.eventId)).toEqual([b1]);
      expect(cycle.claimed.more).toBe(true);
      expect(cycle.claimed[0]?.secrets.length).toBe(1);

      // b1's completion, then the promoted a2 (the head the first completion made)
      const next = await queue.completeAndClaim(
        [completion(cycle.claimed[0]?.id ?? '', endpoint)],
        WINDOW,
        one,
      );
      expect([next.promoted, next.claimed.map((d) => d.eventId), next.claimed.more]).toEqual([
        0,
        [a2],
        false,
      ]);
      const last = await queue.completeAndClaim(
        [completion(next.claimed[0]?.id ?? '', endpoint)],
        WINDOW,
        one,
      );
      expect([last.promoted, last.claimed.length, last.claimed.more]).toEqual([0, 0, false]);

      // every attempt recorded, every delivery settled
      const page = await store.listDeliveries(partner, endpoint, { limit: 10 });
      expect(page.items.map((d) => [d.eventId, d.status, d.attemptCount]).sort()).toEqual(
        [
          [a1, 'delivered', 1],
          [a2, 'delivered', 1],
          [b1, 'delivered', 1],
        ].sort(),
      );
    });

    it('with no completions only claims, and with failures writes them as complete does', async () => {
      const { store, queue } = db;
      const partner = await newPartner(store);
      const endpoint = await newEndpoint(store, partner, 'https://a.example/hook');
      await decide(store, partner, await newThirdParty(store, partner), 'APPROVED');
      await decide(store, partner, await newThirdParty(store, partner), 'APPROVED');

      const first = await queue.completeAndClaim([], WINDOW, claimOptions({ limit: 1 }));
      expect([first.promoted, first.claimed.length, first.claimed.more]).toEqual([0, 1, true]);

      // a 503: retried later, and the endpoint throttled, so the claim after it takes nothing there
      const throttled = await queue.completeAndClaim(
        [
          completion(first.claimed[0]?.id ?? '', endpoint, {
            statusCode: 503,
            succeeded: false,
            error: 'HTTP 503',
            next: { status: 'pending', nextAttemptAt: later(60_000) },
            throttleUntil: later(60_000),
          }),
        ],
        WINDOW,
        claimOptions(),
      );
      expect(throttled.claimed.length).toBe(0);
      const delivery = await store.getDelivery(partner, endpoint, first.claimed[0]?.id ?? '');
      expect([delivery?.status, delivery?.attemptCount]).toEqual(['pending', 1]);
    });
  });
}
