/**
 * Delivery ids are UUIDv7, in time order (PostgreSQL migration 025, SQLite src/storage/ids.ts): a
 * decision's fan-out and a re-enabled endpoint's backlog both write them, on both dialects, so that
 * the indexes keyed by them take new entries at their right-hand end.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newDeliveryId } from '../../src/storage/ids.js';
import type { Storage } from '../../src/storage/index.js';
import {
  DIALECTS,
  type FreshDatabaseUrl,
  freshUrl,
  openTestStorage,
  skipReason,
} from '../support/databases.js';
import { decide, newEndpoint, newPartner, newThirdParty } from '../support/fixtures.js';
import { claimOptions } from '../support/queue.js';

const V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
/** The Unix time in milliseconds in a UUIDv7's first 48 bits. */
const msOf = (id: string) => Number.parseInt(id.replaceAll('-', '').slice(0, 12), 16);
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('newDeliveryId', () => {
  it('makes UUIDv7s stamped with the current millisecond, in order across milliseconds', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 20 }), async (n) => {
        const before = Date.now();
        const first = Array.from({ length: n }, newDeliveryId);
        const after = Date.now();
        for (const id of first) {
          expect(id).toMatch(V7);
          expect(msOf(id)).toBeGreaterThanOrEqual(before);
          expect(msOf(id)).toBeLessThanOrEqual(after);
        }
        expect(new Set(first).size).toBe(n);
        await pause(2);
        const later = newDeliveryId();
        for (const id of first) expect(later > id).toBe(true);
      }),
      { numRuns: 20 },
    );
  });
});

for (const dialect of DIALECTS) {
  describe.skipIf(skipReason(dialect) !== undefined)(`delivery ids on ${dialect}`, () => {
    let fresh: FreshDatabaseUrl;
    let db: Storage;
    beforeAll(async () => {
      fresh = await freshUrl(dialect);
      db = await openTestStorage(fresh.url);
    });
    afterAll(async () => {
      await db?.close();
      await fresh?.drop();
    });

    /** Every claimable delivery's id, by event. */
    async function idsByEvent(): Promise<Map<string, string[]>> {
      const claimed = await db.queue.claim(claimOptions({ workerId: 'ids', limit: 100, perEndpoint: 100 }));
      const byEvent = new Map<string, string[]>();
      for (const d of claimed) byEvent.set(d.eventId, [...(byEvent.get(d.eventId) ?? []), d.id]);
      return byEvent;
    }

    it('gives a decision’s deliveries and a backlog’s UUIDv7s that sort by the time they were written', async () => {
      const partner = await newPartner(db.store);
      const endpoints = [];
      for (let i = 0; i < 3; i++)
        endpoints.push(await newEndpoint(db.store, partner, `https://ids.example/${i}`));
      const [paused] = endpoints;
      if (paused === undefined) throw new Error('no endpoint');
      await db.store.updateEndpoint(partner, paused, { enabled: false }, new Date(Date.now() - 60_000));

      // each write between two readings of the clock, the readings of different writes apart
      const t0 = Date.now();
      await decide(db.store, partner, await newThirdParty(db.store, partner), 'APPROVED');
      const t1 = Date.now();
      await pause(3);
      const t2 = Date.now();
      await decide(db.store, partner, await newThirdParty(db.store, partner), 'APPROVED');
      const t3 = Date.now();
      await pause(3);
      const t4 = Date.now();
      const enabled = await db.store.updateEndpoint(partner, paused, { enabled: true }, new Date());
      expect(enabled.outcome === 'updated' && enabled.backfilled).toBe(2);
      const t5 = Date.now();

      const byEvent = [...(await idsByEvent()).values()];
      // two events: two deliveries each from the fan-out, one each from the backlog
      expect(byEvent.map((ids) => ids.length)).toEqual([3, 3]);
      const all = byEvent.flat();
      for (const id of all) expect(id).toMatch(V7);
      // stamped when written (PostgreSQL by its clock_timestamp: this machine's clock too)
      const between = (from: number, to: number) => all.filter((id) => msOf(id) >= from && msOf(id) <= to);
      const first = between(t0, t1);
      const second = between(t2, t3);
      const backlog = between(t4, t5);
      expect([first.length, second.length, backlog.length]).toEqual([2, 2, 2]);
      // written later, sorted later: the second decision's after the first's, the backlog's last
      for (const a of first) for (const b of second) expect(b > a).toBe(true);
      for (const a of second) for (const b of backlog) expect(b > a).toBe(true);
    });
  });
}
