/**
 * The per-endpoint rate limit as the claim enforces it, on every dialect (src/storage/rate-limit.ts;
 * PostgreSQL: migration 018's tpcs_claim, SQLite: sqlite/queue.ts). The clock is the claim's `now`,
 * stepped by the test, so the counts are exact whatever the machine's load: a limited endpoint gets at
 * most its rate (plus its burst) over a window, an unlimited endpoint of the same partner all of its
 * deliveries at once, each third party's events go out in order, and two queues on one database share
 * one budget.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ClaimedDelivery, ClaimOptions, Completion, DeliveryQueue } from '../../src/storage/queue.js';
import { rateBatch, rateBurst, rateRoom, rateSlotAt } from '../../src/storage/rate-limit.js';
import {
  DIALECTS,
  openDatabase,
  openTestStorage,
  skipReason,
  type TestDatabase,
} from '../support/databases.js';
import { decide, endpointInput, newEndpoint, newPartner, newThirdParty } from '../support/fixtures.js';

const WINDOW = { workerId: 'w1', failureWindowMs: 5 * 24 * 3600_000 };
const delivered = (c: ClaimedDelivery): Completion => ({
  deliveryId: c.id,
  endpointId: c.endpointId,
  at: new Date(),
  durationMs: 1,
  statusCode: 200,
  error: null,
  responseExcerpt: null,
  next: { status: 'delivered' },
  succeeded: true,
});

describe('the rate limit rule (GCRA)', () => {
  it('allows a burst of a tenth of the rate after a pause, then one per interval, half a burst at a time', () => {
    expect(rateBurst(1)).toBe(1);
    expect(rateBurst(20)).toBe(2);
    expect(rateBurst(200)).toBe(20);
    expect(rateBurst(10_000)).toBe(1000);
    expect(rateRoom(20, null, 1000)).toBe(2);
    expect(rateRoom(20, 500, 1000)).toBe(2); // a TAT in the past is no debt
    expect(rateRoom(20, 1050, 1000)).toBe(1);
    expect(rateRoom(20, 1100, 1000)).toBe(0);
    expect(rateRoom(3, 1000 + 1000 / 3, 1000)).toBe(0); // an interval that is not a whole ms
    expect(rateRoom(3, 1000 + 1000 / 3, 1000 + 1000 / 3)).toBe(1);
    // never less than half a burst at a time: 9 due of a burst of 20 is not yet a batch
    expect(rateBatch(200)).toBe(10);
    expect(rateRoom(200, 1055, 1000)).toBe(0);
    expect(rateRoom(200, 1050, 1000)).toBe(10);
    // the next claim is worth making when half a burst is due again
    expect(rateSlotAt(200, 2000)).toBe(1950);
    expect(rateSlotAt(1, 2000)).toBe(2000);
  });
});

for (const dialect of DIALECTS) {
  describe.skipIf(skipReason(dialect) !== undefined)(`rate-limited endpoints on ${dialect}`, () => {
    let db: TestDatabase;
    beforeEach(async () => {
      db = await openDatabase(dialect);
    });
    afterEach(async () => {
      await db?.dispose();
    });

    /** `customers` third parties with `each` events apiece; each one's event ids, oldest first. */
    async function backlog(partner: string, customers: number, each: number): Promise<Map<string, string[]>> {
      const refs: string[] = [];
      for (let i = 0; i < customers; i++) refs.push(await newThirdParty(db.store, partner));
      const events = new Map<string, string[]>(refs.map((r) => [r, []]));
      for (let round = 0; round < each; round++) {
        for (const ref of refs) {
          const id = await decide(db.store, partner, ref, round % 2 ? 'REJECTED' : 'APPROVED');
          events.get(ref)?.push(id);
        }
      }
      return events;
    }

    /**
     * Claims every `stepMs` of simulated time from `start` for `windowMs` with each queue in turn,
     * completing what it got at once; what each endpoint got, in order, with the claim's time.
     */
    async function drive(
      queues: { queue: DeliveryQueue; workerId: string }[],
      start: number,
      windowMs: number,
      stepMs: number,
      over: Partial<ClaimOptions> = {},
    ): Promise<Map<string, { at: number; c: ClaimedDelivery }[]>> {
      const got = new Map<string, { at: number; c: ClaimedDelivery }[]>();
      for (let at = start; at < start + windowMs; at += stepMs) {
        for (const { queue, workerId } of queues) {
          const claimed = await queue.claim({
            workerId,
            now: new Date(at),
            leaseMs: 60_000,
            limit: 100,
            perEndpoint: 100,
            ...over,
          });
          for (const c of claimed) {
            const list = got.get(c.endpointId) ?? [];
            list.push({ at, c });
            got.set(c.endpointId, list);
          }
          await queue.complete(claimed.map(delivered), { ...WINDOW, workerId });
        }
      }
      return got;
    }

    it('gives a limited endpoint its rate and no more, and its partner’s other endpoint everything', async () => {
      const partner = await newPartner(db.store);
      const limited = (
        await db.store.createEndpoint(
          endpointInput(partner, { url: 'https://slow.example/hook', rateLimit: 20, createdAt: new Date() }),
        )
      ).id;
      const free = await newEndpoint(db.store, partner, 'https://free.example/hook');
      const events = await backlog(partner, 10, 6); // 60 deliveries to each endpoint
      const start = Date.now() + 1000;
      const got = await drive([{ queue: db.queue, workerId: 'w1' }], start, 1000, 10);

      const toLimited = got.get(limited) ?? [];
      // 20 a second: the burst of 2 at once, then one every 50 ms
      expect(toLimited.length).toBeGreaterThanOrEqual(20);
      expect(toLimited.length).toBeLessThanOrEqual(21);
      expect(toLimited.filter((x) => x.at === start)).toHaveLength(2);
      for (const { at: from } of toLimited) {
        // within any 100 ms, at most the burst and 100 ms' worth
        expect(toLimited.filter((x) => x.at >= from && x.at < from + 100).length).toBeLessThanOrEqual(4);
      }
      // the unlimited endpoint got all 60, as fast as heads free up (one event per third party a claim)
      expect(got.get(free)?.length).toBe(60);
      expect(got.get(free)?.filter((x) => x.at === start)).toHaveLength(10);

      // each third party's events, in order, on both endpoints
      for (const endpoint of [limited, free]) {
        const sent = new Map<string, string[]>();
        for (const { c } of got.get(endpoint) ?? []) {
          sent.set(c.clientCustomerRef, [...(sent.get(c.clientCustomerRef) ?? []), c.eventId]);
        }
        for (const [ref, ids] of sent) expect(ids).toEqual(events.get(ref)?.slice(0, ids.length));
      }
    });

    it('shares one budget between two queues on the same database', async () => {
      const other = await openTestStorage(db.url);
      try {
        const partner = await newPartner(db.store);
        const limited = (
          await db.store.createEndpoint(
            endpointInput(partner, {
              url: 'https://slow.example/hook',
              rateLimit: 50,
              createdAt: new Date(),
            }),
          )
        ).id;
        await backlog(partner, 40, 3); // 120 deliveries
        const start = Date.now() + 1000;
        const got = await drive(
          [
            { queue: db.queue, workerId: 'w1' },
            { queue: other.queue, workerId: 'w2' },
          ],
          start,
          1000,
          5,
        );
        const all = got.get(limited) ?? [];
        // 50 a second with a burst of 5, whoever claims
        expect(all.length).toBeGreaterThanOrEqual(50);
        expect(all.length).toBeLessThanOrEqual(55);
        expect(new Set(all.map((x) => x.c.id)).size).toBe(all.length);
      } finally {
        await other.close();
      }
    });

    it('says when a limited endpoint with a backlog next has room, and nothing once it has none', async () => {
      const partner = await newPartner(db.store);
      const limited = (
        await db.store.createEndpoint(
          endpointInput(partner, { url: 'https://slow.example/hook', rateLimit: 200, createdAt: new Date() }),
        )
      ).id;
      await newEndpoint(db.store, partner, 'https://free.example/hook');
      await backlog(partner, 50, 1);
      const start = Date.now() + 1000;
      expect(await db.queue.nextRateSlotAt(new Date(start))).toBeNull(); // never claimed: a whole burst
      const first = await db.queue.claim({
        workerId: 'w1',
        now: new Date(start),
        leaseMs: 60_000,
        limit: 200,
        perEndpoint: 100,
      });
      expect(first.filter((c) => c.endpointId === limited)).toHaveLength(20); // the burst
      // 20 at 5 ms each: the TAT is start + 100 ms; half a burst is due again 50 ms before that
      expect(await db.queue.nextRateSlotAt(new Date(start))).toEqual(new Date(start + 50));
      const claimAt = (ms: number) =>
        db.queue.claim({
          workerId: 'w1',
          now: new Date(start + ms),
          leaseMs: 60_000,
          limit: 200,
          perEndpoint: 100,
        });
      // 9 due 45 ms on: less than a batch of half a burst, so nothing; at the slot, the batch
      expect(await claimAt(45)).toHaveLength(0);
      expect(await claimAt(50)).toHaveLength(10);
      // nothing pending on it any more: no slot to wait for
      await db.store.updateEndpoint(partner, limited, { enabled: false }, new Date());
      expect(await db.queue.nextRateSlotAt(new Date(start))).toBeNull();
    });

    it('starts a changed limit with a whole burst, and a removed one lets everything through', async () => {
      const partner = await newPartner(db.store);
      const ep = (
        await db.store.createEndpoint(
          endpointInput(partner, { url: 'https://slow.example/hook', rateLimit: 1, createdAt: new Date() }),
        )
      ).id;
      await backlog(partner, 30, 1);
      const start = Date.now() + 1000;
      const claim = (at: number) =>
        db.queue.claim({ workerId: 'w1', now: new Date(at), leaseMs: 60_000, limit: 100, perEndpoint: 100 });
      expect(await claim(start)).toHaveLength(1);
      expect(await claim(start + 10)).toHaveLength(0);
      const raised = await db.store.updateEndpoint(partner, ep, { rateLimit: 100 }, new Date());
      expect(raised).toMatchObject({ outcome: 'updated', endpoint: { rateLimit: 100 } });
      expect(await claim(start + 20)).toHaveLength(10);
      await db.store.updateEndpoint(partner, ep, { rateLimit: null }, new Date());
      expect((await db.store.getEndpoint(partner, ep))?.rateLimit).toBeNull();
      expect(await claim(start + 30)).toHaveLength(19);
    });
  });
}
