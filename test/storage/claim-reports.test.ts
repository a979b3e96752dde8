/**
 * What a claim and a completion report beyond their work (issue 13): a claim's `more` (it left due
 * heads behind for lack of room) and a completion's `promoted` (it made the next delivery of a key its
 * head). The dispatcher claims again after a completion only when one of them says that can find
 * something, so a `false` or a `0` that should not be would leave deliveries waiting for the next poll.
 * Each test has a database of its own: `more` speaks of every partner's due heads.
 */
import pg from 'pg';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Completion } from '../../src/storage/queue.js';
import { DIALECTS, openDatabase, PG_URL, skipReason, type TestDatabase } from '../support/databases.js';
import { decide, newEndpoint, newPartner, newThirdParty } from '../support/fixtures.js';
import { claimOptions as claimOpts, completion as done, later } from '../support/queue.js';

const WINDOW = { workerId: 'w1', failureWindowMs: 5 * 24 * 3600_000 };

const failedAttempt = (next: Completion['next']): Partial<Completion> => ({
  statusCode: 500,
  succeeded: false,
  responseExcerpt: null,
  next,
});

for (const dialect of DIALECTS) {
  describe.skipIf(skipReason(dialect) !== undefined)(`claim and completion reports on ${dialect}`, () => {
    let db: TestDatabase;
    beforeEach(async () => {
      db = await openDatabase(dialect);
    });
    afterEach(async () => {
      await db?.dispose();
    });

    it('says nothing is left when a claim hands out every due head, or finds none', async () => {
      const { store, queue } = db;
      const empty = await queue.claim(claimOpts());
      expect([empty.length, empty.more]).toEqual([0, false]);
      const partner = await newPartner(store);
      await newEndpoint(store, partner, 'https://a.example/hook');
      for (let i = 0; i < 3; i++)
        await decide(store, partner, await newThirdParty(store, partner), 'APPROVED');
      const all = await queue.claim(claimOpts());
      expect([all.length, all.more]).toEqual([3, false]);
      // everything due is leased now
      const none = await queue.claim(claimOpts({ workerId: 'w2' }));
      expect([none.length, none.more]).toEqual([0, false]);
    });

    it("says due heads were left when an endpoint's bound stopped the claim", async () => {
      const { store, queue } = db;
      const partner = await newPartner(store);
      const ep = await newEndpoint(store, partner, 'https://a.example/hook');
      for (let i = 0; i < 3; i++)
        await decide(store, partner, await newThirdParty(store, partner), 'APPROVED');
      const first = await queue.claim(claimOpts({ perEndpoint: 2 }));
      expect([first.length, first.more]).toEqual([2, true]);
      // the endpoint is full: nothing handed out, and the third head still waits for room
      const full = await queue.claim(claimOpts({ perEndpoint: 2 }));
      expect([full.length, full.more]).toEqual([0, true]);
      // a completion on other third parties promotes nothing: it only frees a slot
      const r = await queue.complete([done(first[0]?.id ?? '', ep)], WINDOW);
      expect(r.promoted).toBe(0);
      const last = await queue.claim(claimOpts({ perEndpoint: 2 }));
      expect([last.length, last.more]).toEqual([1, false]);
    });

    it("says due heads were left when the partner's bound or the batch limit stopped the claim", async () => {
      const { store, queue } = db;
      const partner = await newPartner(store);
      await newEndpoint(store, partner, 'https://a.example/hook');
      await newEndpoint(store, partner, 'https://b.example/hook');
      await decide(store, partner, await newThirdParty(store, partner), 'APPROVED');
      await decide(store, partner, await newThirdParty(store, partner), 'APPROVED');
      // four deliveries: two third parties on two endpoints
      const one = await queue.claim(claimOpts({ limit: 1 }));
      expect([one.length, one.more]).toEqual([1, true]);
      const bounded = await queue.claim(claimOpts({ perPartner: 2 }));
      expect([bounded.length, bounded.more]).toEqual([1, true]);
      const atBound = await queue.claim(claimOpts({ perPartner: 2 }));
      expect([atBound.length, atBound.more]).toEqual([0, true]);
      const rest = await queue.claim(claimOpts());
      expect([rest.length, rest.more]).toEqual([2, false]);
    });

    it.skipIf(dialect !== 'postgres')(
      "says there may be more when another claim holds a partner's lock (several workers)",
      async () => {
        const { store, queue } = db;
        const partner = await newPartner(store);
        await newEndpoint(store, partner, 'https://a.example/hook');
        await decide(store, partner, await newThirdParty(store, partner), 'APPROVED');
        // another worker's claim in progress for this partner: its advisory lock (migration 011)
        const other = new pg.Client({ connectionString: PG_URL });
        await other.connect();
        try {
          await other.query('BEGIN');
          await other.query('SELECT pg_advisory_xact_lock(1953523558, hashtext($1))', [partner]);
          const skipped = await queue.claim(claimOpts());
          expect([skipped.length, skipped.more]).toEqual([0, true]);
          await other.query('COMMIT');
        } finally {
          await other.end();
        }
        const all = await queue.claim(claimOpts());
        expect([all.length, all.more]).toEqual([1, false]);
      },
    );

    it('counts the next delivery of a key made head by a completion that settles the one before', async () => {
      const { store, queue } = db;
      const partner = await newPartner(store);
      const ep = await newEndpoint(store, partner, 'https://a.example/hook');
      const alice = await newThirdParty(store, partner);
      const events = [
        await decide(store, partner, alice, 'APPROVED'),
        await decide(store, partner, alice, 'REJECTED'),
        await decide(store, partner, alice, 'APPROVED'),
        await decide(store, partner, alice, 'REJECTED'),
      ];
      const claimOne = async (expected: string) => {
        const c = await queue.claim(claimOpts({ now: later(60_000) }));
        // the later events wait behind their head: not due, so not left behind either
        expect([c.map((d) => d.eventId), c.more]).toEqual([[expected], false]);
        return c[0]?.id ?? '';
      };
      // delivered: the second becomes head
      let id = await claimOne(events[0] ?? '');
      expect((await queue.complete([done(id, ep)], WINDOW)).promoted).toBe(1);
      // a retry keeps its place as head: nothing promoted
      id = await claimOne(events[1] ?? '');
      const retry = failedAttempt({ status: 'pending', nextAttemptAt: later(30_000) });
      expect((await queue.complete([done(id, ep, retry)], WINDOW)).promoted).toBe(0);
      // failed for good: the third becomes head
      id = await claimOne(events[1] ?? '');
      expect(
        (await queue.complete([done(id, ep, failedAttempt({ status: 'failed' }))], WINDOW)).promoted,
      ).toBe(1);
      id = await claimOne(events[2] ?? '');
      // a completion whose lease another worker took over settles nothing, so promotes nothing
      const takeover = await queue.claim(claimOpts({ workerId: 'w2', now: later(200_000) }));
      expect(takeover.map((d) => d.id)).toEqual([id]);
      expect((await queue.complete([done(id, ep)], WINDOW)).promoted).toBe(0);
      expect((await queue.complete([done(id, ep)], { ...WINDOW, workerId: 'w2' })).promoted).toBe(1);
      id = await claimOne(events[3] ?? '');
      // the last of its key: nothing left to promote
      expect((await queue.complete([done(id, ep)], WINDOW)).promoted).toBe(0);
    });

    it('counts every key a batch of completions promotes, once each', async () => {
      const { store, queue } = db;
      const partner = await newPartner(store);
      const ep = await newEndpoint(store, partner, 'https://a.example/hook');
      const keys = [await newThirdParty(store, partner), await newThirdParty(store, partner)];
      const lone = await newThirdParty(store, partner);
      for (const ref of keys) {
        await decide(store, partner, ref, 'APPROVED');
        await decide(store, partner, ref, 'REJECTED');
      }
      await decide(store, partner, lone, 'APPROVED');
      const heads = await queue.claim(claimOpts());
      expect([heads.length, heads.more]).toEqual([3, false]);
      const r = await queue.complete(
        heads.map((d) => done(d.id, ep)),
        WINDOW,
      );
      expect(r.promoted).toBe(2);
      const next = await queue.claim(claimOpts());
      expect([next.length, next.more]).toEqual([2, false]);
    });
  });
}
