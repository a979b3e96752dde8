/**
 * How a claim shares a partner's room among its endpoints, on every dialect: the partner's oldest due
 * heads first, within each endpoint's bound, and old heads of an endpoint that cannot be sent to
 * (disabled, throttled) never keep its other endpoints waiting. (PostgreSQL's claim reads a partner's
 * heads in one ordered pass and falls back to one read per endpoint when that pass is crowded out:
 * migration 014.)
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ClaimOptions } from '../../src/storage/queue.js';
import { DIALECTS, openDatabase, skipReason, type TestDatabase } from '../support/databases.js';
import { decide, newEndpoint, newPartner, newThirdParty } from '../support/fixtures.js';
import { claimOptions, completion, later } from '../support/queue.js';

const claimOpts = (over: Partial<ClaimOptions> = {}): ClaimOptions =>
  claimOptions({ perEndpoint: 2, perPartner: 4, ...over });
const WINDOW = { workerId: 'w1', failureWindowMs: 5 * 24 * 3600_000 };
const delivered = (deliveryId: string, endpointId: string) => completion(deliveryId, endpointId);

for (const dialect of DIALECTS) {
  describe.skipIf(skipReason(dialect) !== undefined)(`a partner's share of a claim on ${dialect}`, () => {
    let db: TestDatabase;
    beforeEach(async () => {
      db = await openDatabase(dialect);
    });
    afterEach(async () => {
      await db?.dispose();
    });

    /** `n` decisions of the partner, one second apart, oldest first; their event ids. */
    async function decisions(partner: string, n: number, from: number): Promise<string[]> {
      const ids: string[] = [];
      for (let i = 0; i < n; i++) {
        const ref = await newThirdParty(db.store, partner);
        ids.push(
          await decide(
            db.store,
            partner,
            ref,
            'APPROVED',
            new Date(Date.now() - 600_000 + (from + i) * 1000),
          ),
        );
      }
      return ids;
    }

    it('hands out the room over many endpoints until every delivery is sent', async () => {
      const partner = await newPartner(db.store);
      for (let i = 0; i < 10; i++) await newEndpoint(db.store, partner, `https://s${i}.example/hook`);
      const events = await decisions(partner, 3, 0);
      const sent = new Set<string>();
      for (let round = 0; round < 20; round++) {
        const claimed = await db.queue.claim(claimOpts());
        if (claimed.length === 0) break;
        // the partner's room (4), within each endpoint's bound (2)
        expect(claimed.length).toBeLessThanOrEqual(4);
        const perEndpoint = new Map<string, number>();
        for (const c of claimed) perEndpoint.set(c.endpointId, (perEndpoint.get(c.endpointId) ?? 0) + 1);
        expect(Math.max(...perEndpoint.values())).toBeLessThanOrEqual(2);
        // the room is full until something completes
        if (claimed.length === 4) expect(await db.queue.claim(claimOpts({ workerId: 'w2' }))).toHaveLength(0);
        for (const c of claimed) sent.add(c.id);
        await db.queue.complete(
          claimed.map((c) => delivered(c.id, c.endpointId)),
          WINDOW,
        );
      }
      expect(sent.size).toBe(30);
      expect(events).toHaveLength(3);
    });

    it('does not let one endpoint take more than its bound of the room', async () => {
      const partner = await newPartner(db.store);
      const a = await newEndpoint(db.store, partner, 'https://a.example/hook');
      await decisions(partner, 6, 0); // six heads on a alone, the oldest
      const b = await newEndpoint(db.store, partner, 'https://b.example/hook');
      await decisions(partner, 3, 10); // three more on each
      const claimed = await db.queue.claim(claimOpts());
      const on = (ep: string) => claimed.filter((c) => c.endpointId === ep).length;
      expect(on(a)).toBe(2);
      expect(on(b)).toBe(2);
    });

    for (const blocked of ['disabled', 'throttled'] as const) {
      it(`sends to the partner's other endpoints while a ${blocked} one holds its oldest heads`, async () => {
        const partner = await newPartner(db.store);
        const stuck = await newEndpoint(db.store, partner, 'https://stuck.example/hook');
        await decisions(partner, 30, 0); // 30 old heads on `stuck` alone
        const ok = await newEndpoint(db.store, partner, 'https://ok.example/hook');
        await decisions(partner, 3, 100);
        if (blocked === 'disabled') {
          await db.store.updateEndpoint(
            partner,
            stuck,
            { enabled: false, disabledReason: 'HTTP 410' },
            new Date(),
          );
        } else {
          // a 429 with Retry-After on one of its deliveries
          const [one] = (await db.queue.claim(claimOpts({ perEndpoint: 1, perPartner: 1 }))).filter(
            (c) => c.endpointId === stuck,
          );
          expect(one).toBeDefined();
          await db.queue.complete(
            [
              {
                deliveryId: one?.id ?? '',
                endpointId: stuck,
                at: new Date(),
                durationMs: 1,
                statusCode: 429,
                error: null,
                responseExcerpt: null,
                next: { status: 'pending', nextAttemptAt: later(3_600_000) },
                succeeded: false,
                throttleUntil: later(3_600_000),
              },
            ],
            WINDOW,
          );
        }
        const claimed = await db.queue.claim(claimOpts({ workerId: 'w2', perEndpoint: 8 }));
        expect(claimed.map((c) => c.endpointId)).toEqual([ok, ok, ok]);
      });
    }
  });
}
