/**
 * The delivery queue's SQL, run against every dialect (kysely-style: the same tests, real databases).
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { ClaimedDelivery, Completion } from '../../src/storage/queue.js';
import { planCompletion } from '../../src/webhooks/dispatcher/attempt.js';
import { createRetryPolicy } from '../../src/webhooks/dispatcher/retry-policy.js';
import { DIALECTS, openDatabase, skipReason, type TestDatabase } from '../support/databases.js';
import { decide, newEndpoint, newPartner, newThirdParty, SECRET } from '../support/fixtures.js';
import { claimOptions as claimOpts, completion as done, later } from '../support/queue.js';

const WINDOW = { workerId: 'w1', failureWindowMs: 5 * 24 * 3600_000 };

for (const dialect of DIALECTS) {
  describe.skipIf(skipReason(dialect) !== undefined)(`delivery queue on ${dialect}`, () => {
    let db: TestDatabase;
    beforeAll(async () => {
      db = await openDatabase(dialect);
    });
    afterAll(async () => {
      await db?.dispose();
    });

    it('claims a due delivery with its payload, URL and secrets, under a lease', async () => {
      const { store, queue } = db;
      const partner = await newPartner(store);
      const ep = await newEndpoint(store, partner, 'https://a.example/hook');
      const ref = await newThirdParty(store, partner);
      const eventId = await decide(store, partner, ref, 'APPROVED');
      const claimed = await queue.claim(claimOpts());
      const mine = claimed.filter((c) => c.endpointId === ep);
      expect(mine).toHaveLength(1);
      expect(mine[0]).toMatchObject({
        eventId,
        url: 'https://a.example/hook',
        secrets: [SECRET],
        attemptCount: 0,
      });
      expect(JSON.parse(mine[0]?.payload ?? '{}')).toMatchObject({ event_id: eventId });
      // leased: nobody else gets it until the lease expires
      expect(
        (await queue.claim(claimOpts({ workerId: 'w2' }))).filter((c) => c.endpointId === ep),
      ).toHaveLength(0);
      const expired = await queue.claim(claimOpts({ workerId: 'w2', now: later(40_000) }));
      expect(expired.filter((c) => c.endpointId === ep).map((c) => c.eventId)).toEqual([eventId]);
      // the first worker lost its lease: its completion is logged and counted as an attempt, but does
      // not settle the delivery
      const id = mine[0]?.id ?? '';
      await queue.complete([done(id, ep)], WINDOW);
      let list = await store.listDeliveries(partner, ep, { limit: 10 });
      expect(list?.items[0]).toMatchObject({ status: 'pending' });
      expect(list?.items[0]?.attempts).toHaveLength(1);
      await queue.complete([done(id, ep)], { ...WINDOW, workerId: 'w2' });
      list = await store.listDeliveries(partner, ep, { limit: 10 });
      expect(list?.items[0]).toMatchObject({ status: 'delivered', attemptCount: 2 });
      expect(list?.items[0]?.attempts).toHaveLength(2);
      expect(list?.items[0]?.attempts[0]).toMatchObject({ statusCode: 200, responseExcerpt: 'ok' });
    });

    it('keeps one customer in order per endpoint, and lets other customers pass', async () => {
      const { store, queue } = db;
      const partner = await newPartner(store);
      const ep = await newEndpoint(store, partner, 'https://b.example/hook');
      const alice = await newThirdParty(store, partner);
      const bob = await newThirdParty(store, partner);
      const a1 = await decide(store, partner, alice, 'REJECTED');
      const a2 = await decide(store, partner, alice, 'APPROVED');
      const b1 = await decide(store, partner, bob, 'APPROVED');
      const first = (await queue.claim(claimOpts())).filter((c) => c.endpointId === ep);
      expect(first.map((c) => c.eventId).sort()).toEqual([a1, b1].sort());
      const a1d = first.find((c) => c.eventId === a1);
      // a1 fails and waits for a retry: a2 must keep waiting behind it
      await queue.complete(
        [
          done(a1d?.id ?? '', ep, {
            statusCode: 500,
            succeeded: false,
            next: { status: 'pending', nextAttemptAt: later(5000) },
          }),
        ],
        WINDOW,
      );
      expect((await queue.claim(claimOpts())).filter((c) => c.endpointId === ep)).toHaveLength(0);
      const retried = (await queue.claim(claimOpts({ now: later(6000) }))).filter((c) => c.endpointId === ep);
      expect(retried.map((c) => [c.eventId, c.attemptCount])).toEqual([[a1, 1]]);
      await queue.complete([done(retried[0]?.id ?? '', ep)], WINDOW);
      const next = (await queue.claim(claimOpts({ now: later(6000) }))).filter((c) => c.endpointId === ep);
      expect(next.map((c) => c.eventId)).toEqual([a2]);
    });

    it('bounds deliveries in flight per endpoint, so a busy endpoint leaves room for others', async () => {
      const { store, queue } = db;
      const partner = await newPartner(store);
      const slow = await newEndpoint(store, partner, 'https://slow.example/hook');
      const fast = await newEndpoint(store, partner, 'https://fast.example/hook');
      for (let i = 0; i < 6; i++)
        await decide(store, partner, await newThirdParty(store, partner), 'APPROVED');
      const opts = claimOpts({ perEndpoint: 4, workerId: 'bound' });
      const first = await queue.claim(opts);
      expect(first.filter((c) => c.endpointId === slow)).toHaveLength(4);
      expect(first.filter((c) => c.endpointId === fast)).toHaveLength(4);
      const second = await queue.claim(opts);
      expect(second.filter((c) => c.endpointId === slow)).toHaveLength(0);
      // complete the fast ones: only the fast endpoint gets more
      await queue.complete(
        first.filter((c) => c.endpointId === fast).map((c) => done(c.id, fast)),
        { ...WINDOW, workerId: 'bound' },
      );
      const third = await queue.claim(opts);
      expect(third.filter((c) => c.endpointId === fast)).toHaveLength(2);
      expect(third.filter((c) => c.endpointId === slow)).toHaveLength(0);
      await queue.release(
        'bound',
        [...first, ...third].filter((c) => c.endpointId === slow).map((c) => c.id),
      );
      expect((await queue.claim(opts)).filter((c) => c.endpointId === slow)).toHaveLength(4);
    });

    it('throttles, disables on 410 and after the failure window, and pauses a disabled endpoint', async () => {
      const { store, queue } = db;
      const partner = await newPartner(store);
      const ep = await newEndpoint(store, partner, 'https://c.example/hook');
      const refs = [await newThirdParty(store, partner), await newThirdParty(store, partner)];
      for (const r of refs) await decide(store, partner, r, 'APPROVED');
      const [c1, c2] = (await queue.claim(claimOpts())).filter((c) => c.endpointId === ep);
      await queue.complete(
        [
          done(c1?.id ?? '', ep, {
            statusCode: 503,
            succeeded: false,
            next: { status: 'pending', nextAttemptAt: later(100) },
            throttleUntil: later(20_000),
          }),
        ],
        WINDOW,
      );
      expect(
        (await queue.claim(claimOpts({ now: later(10_000) }))).filter((c) => c.endpointId === ep),
      ).toHaveLength(0);
      expect(
        (await queue.claim(claimOpts({ now: later(21_000) }))).filter((c) => c.endpointId === ep),
      ).toHaveLength(1);
      const r = await queue.complete(
        [
          done(c2?.id ?? '', ep, {
            statusCode: 410,
            succeeded: false,
            next: { status: 'failed' },
            disableReason: 'HTTP 410',
          }),
        ],
        WINDOW,
      );
      expect(r.disabled).toEqual([{ endpointId: ep, reason: 'HTTP 410' }]);
      expect(await store.getEndpoint(partner, ep)).toMatchObject({
        enabled: false,
        disabledReason: 'HTTP 410',
      });
      expect(
        (await queue.claim(claimOpts({ now: later(60_000) }))).filter((c) => c.endpointId === ep),
      ).toHaveLength(0);
      await store.updateEndpoint(partner, ep, { enabled: true, disabledReason: null }, new Date());
      expect(
        (await queue.claim(claimOpts({ now: later(60_000) }))).filter((c) => c.endpointId === ep),
      ).toHaveLength(1);

      // failure window: first failure starts the clock, a failure past the window disables
      const ep2 = await newEndpoint(store, partner, 'https://d.example/hook');
      await decide(store, partner, await newThirdParty(store, partner), 'APPROVED');
      const [d] = (await queue.claim(claimOpts({ workerId: 'fw' }))).filter((c) => c.endpointId === ep2);
      const fail = (at: Date): Completion =>
        done(d?.id ?? '', ep2, {
          at,
          statusCode: 500,
          succeeded: false,
          next: { status: 'pending', nextAttemptAt: at },
        });
      const opts = { workerId: 'fw', failureWindowMs: 60_000 };
      expect((await queue.complete([fail(new Date())], opts)).disabled).toEqual([]);
      await queue.claim(claimOpts({ workerId: 'fw', now: later(61_000) }));
      const out = await queue.complete([fail(later(61_000))], opts);
      expect(out.disabled.map((x) => x.endpointId)).toEqual([ep2]);
      expect(out.disabled[0]?.reason).toMatch(/failed since/);
    });

    it('retries one delivery and recovers failed ones', async () => {
      const { store, queue } = db;
      const partner = await newPartner(store);
      const other = await newPartner(store);
      const ep = await newEndpoint(store, partner, 'https://e.example/hook');
      const since = new Date(Date.now() - 1000);
      for (let i = 0; i < 3; i++)
        await decide(store, partner, await newThirdParty(store, partner), 'APPROVED');
      const claimed = (await queue.claim(claimOpts())).filter((c) => c.endpointId === ep);
      await queue.complete(
        claimed.map((c) => done(c.id, ep, { statusCode: 400, succeeded: false, next: { status: 'failed' } })),
        WINDOW,
      );
      const id = claimed[0]?.id ?? '';
      expect(await queue.retry(other, ep, id, new Date())).toBeUndefined();
      expect(await queue.retry(partner, ep, id, new Date())).toMatchObject({
        id,
        status: 'pending',
        attemptCount: 1,
      });
      expect(await queue.recover(other, ep, since, new Date())).toBeUndefined();
      expect(await queue.recover(partner, ep, since, new Date())).toBe(2);
      const again = (await queue.claim(claimOpts())).filter((c) => c.endpointId === ep);
      // attempt_count is the total; the recovered ones start a new retry round, the retried one does not
      const round = (c: ClaimedDelivery) => [c.attemptCount, c.id === id ? 'retried' : c.retryRoundStart];
      expect(again.map(round).sort()).toEqual([
        [1, 1],
        [1, 1],
        [1, 'retried'],
      ]);
      expect(again.find((c) => c.id === id)?.retryRoundStart).toBe(0);
      expect((await store.listDeliveries(other, ep, { limit: 10 })).items).toEqual([]);
      const page1 = await store.listDeliveries(partner, ep, { limit: 2 });
      expect(page1?.items).toHaveLength(2);
      const page2 = await store.listDeliveries(partner, ep, { limit: 2, cursor: page1?.nextCursor ?? '' });
      expect(page2?.items).toHaveLength(1);
      expect(page2?.nextCursor).toBeNull();
    });

    it('recovers with a fresh retry schedule while attempt_count stays the number of attempts listed', async () => {
      const { store, queue } = db;
      const partner = await newPartner(store);
      const ep = await newEndpoint(store, partner, 'https://g.example/hook');
      const since = new Date(Date.now() - 1000);
      await decide(store, partner, await newThirdParty(store, partner), 'APPROVED');
      // one retry per round: a round is two attempts
      const policy = createRetryPolicy({ schedule: [1000], jitter: 'none' });
      let clock = Date.now() + 1000;
      const failOnce = async (): Promise<{ claimed: ClaimedDelivery; next: string }> => {
        clock += 2000;
        const [claimed] = (await queue.claim(claimOpts({ now: new Date(clock) }))).filter(
          (c) => c.endpointId === ep,
        );
        if (!claimed) throw new Error('nothing claimed');
        const { completion } = planCompletion(
          claimed,
          {
            startedAt: new Date(clock),
            durationMs: 5,
            statusCode: 500,
            errorKind: null,
            errorMessage: null,
            responseExcerpt: 'down',
            retryAfterMs: null,
          },
          policy,
          1000,
        );
        await queue.complete([completion], WINDOW);
        return { claimed, next: completion.next.status };
      };
      const listed = async () => (await store.listDeliveries(partner, ep, { limit: 10 })).items[0];

      expect((await failOnce()).next).toBe('pending');
      expect((await failOnce()).next).toBe('failed');
      expect(await listed()).toMatchObject({ status: 'failed', attemptCount: 2 });

      expect(await queue.recover(partner, ep, since, new Date())).toBe(1);
      expect(await listed()).toMatchObject({ status: 'pending', attemptCount: 2 });
      // the new round gets the whole schedule again: a retry, not failed after one more failure
      const third = await failOnce();
      expect(third.claimed).toMatchObject({ attemptCount: 2, retryRoundStart: 2 });
      expect(third.next).toBe('pending');
      let d = await listed();
      expect(d).toMatchObject({ status: 'pending', attemptCount: 3 });
      expect(d?.attempts).toHaveLength(3);
      expect((await failOnce()).next).toBe('failed');
      d = await listed();
      expect(d).toMatchObject({ status: 'failed', attemptCount: 4 });
      expect(d?.attempts).toHaveLength(4);

      // a second recover starts another round; a retry of one delivery does not (one more attempt)
      expect(await queue.recover(partner, ep, since, new Date())).toBe(1);
      const fifth = await failOnce();
      expect(fifth.claimed).toMatchObject({ attemptCount: 4, retryRoundStart: 4 });
      expect(fifth.next).toBe('pending');
      await failOnce();
      await queue.retry(partner, ep, d?.id ?? '', new Date(clock));
      expect((await failOnce()).next).toBe('failed');
      d = await listed();
      expect(d).toMatchObject({ status: 'failed', attemptCount: 7 });
      expect(d?.attempts).toHaveLength(7);
    });

    it('says which earlier event a waiting delivery waits for, until that one is delivered or failed', async () => {
      const { store, queue } = db;
      const partner = await newPartner(store);
      const ep = await newEndpoint(store, partner, 'https://h.example/hook');
      const ep2 = await newEndpoint(store, partner, 'https://i.example/hook');
      const alice = await newThirdParty(store, partner);
      const bob = await newThirdParty(store, partner);
      const a1 = await decide(store, partner, alice, 'REJECTED');
      const a2 = await decide(store, partner, alice, 'APPROVED');
      const a3 = await decide(store, partner, alice, 'REJECTED');
      const b1 = await decide(store, partner, bob, 'APPROVED');
      const byEvent = async (endpointId: string) =>
        new Map(
          (await store.listDeliveries(partner, endpointId, { limit: 10 })).items.map((d) => [d.eventId, d]),
        );

      let list = await byEvent(ep);
      const d1 = list.get(a1)?.id ?? '';
      const d2 = list.get(a2)?.id ?? '';
      // every later pending event names the earliest pending one, the one being attempted
      expect(list.get(a1)?.waitingFor).toBeUndefined();
      expect(list.get(a2)?.waitingFor).toEqual({ eventId: a1, deliveryId: d1 });
      expect(list.get(a3)?.waitingFor).toEqual({ eventId: a1, deliveryId: d1 });
      expect(list.get(b1)?.waitingFor).toBeUndefined();
      expect(await store.getDelivery(partner, ep, list.get(a2)?.id ?? '')).toMatchObject({
        waitingFor: { eventId: a1, deliveryId: d1 },
      });
      // per endpoint: on the other endpoint a2 waits for that endpoint's delivery of a1
      const other = await byEvent(ep2);
      expect(other.get(a2)?.waitingFor).toEqual({ eventId: a1, deliveryId: other.get(a1)?.id });
      // the dashboard's timeline shows the same
      const timeline = await store.listThirdPartyEvents(partner, alice, 10);
      expect(
        timeline.map((e) => e.deliveries.find((x) => x.endpointId === ep)?.waitingFor?.eventId ?? null),
      ).toEqual([null, a1, a1]);

      // a1 fails and waits for a retry: the others still wait for it
      const claimed = (await queue.claim(claimOpts())).filter((c) => c.endpointId === ep);
      expect(claimed.map((c) => c.eventId).sort()).toEqual([a1, b1].sort());
      await queue.complete(
        [
          done(d1, ep, {
            statusCode: 500,
            succeeded: false,
            next: { status: 'pending', nextAttemptAt: later(5000) },
          }),
        ],
        WINDOW,
      );
      list = await byEvent(ep);
      expect(list.get(a2)?.waitingFor).toEqual({ eventId: a1, deliveryId: d1 });

      // a1 finally fails: a2 is next and waits for nothing, a3 now waits for a2
      await queue.claim(claimOpts({ now: later(6000) }));
      await queue.complete(
        [done(d1, ep, { statusCode: 400, succeeded: false, next: { status: 'failed' } })],
        WINDOW,
      );
      list = await byEvent(ep);
      expect(list.get(a1)?.waitingFor).toBeUndefined();
      expect(list.get(a2)?.waitingFor).toBeUndefined();
      expect(list.get(a3)?.waitingFor).toEqual({ eventId: a2, deliveryId: d2 });

      // a2 delivered: nothing waits any more
      const next = (await queue.claim(claimOpts({ now: later(6000) }))).filter((c) => c.endpointId === ep);
      expect(next.map((c) => c.eventId)).toEqual([a2]);
      await queue.complete([done(d2, ep)], WINDOW);
      list = await byEvent(ep);
      expect([...list.values()].filter((d) => d.waitingFor !== undefined)).toEqual([]);
    });

    it('reports depth, oldest pending and the next due time', async () => {
      const stats = await db.queue.stats(new Date());
      expect(stats.pending).toBeGreaterThan(0);
      expect(stats.oldestPendingAt).toBeInstanceOf(Date);
      expect(await db.queue.nextDueAt()).toBeInstanceOf(Date);
    });
  });
}

/** A partner with `endpoints` endpoints and `events` decisions (one delivery per endpoint each). */
async function busyPartner(db: TestDatabase, endpoints: number, events: number) {
  const { store } = db;
  const partner = await newPartner(store);
  for (let i = 0; i < endpoints; i++) await newEndpoint(store, partner, `https://p${i}.example/hook`);
  // one third party per event: every delivery is the head of its ordering key
  for (let i = 0; i < events; i++)
    await decide(store, partner, await newThirdParty(store, partner), 'APPROVED');
  return partner;
}

const countBy = (claimed: ClaimedDelivery[], partner: string) =>
  claimed.filter((c) => c.customerId === partner).length;

for (const dialect of DIALECTS) {
  // a database of their own: deliveries other tests leave due would take turns in these claims
  describe.skipIf(skipReason(dialect) !== undefined)(`partner share of the queue on ${dialect}`, () => {
    let db: TestDatabase;
    beforeEach(async () => {
      db = await openDatabase(dialect);
    });
    afterEach(async () => {
      await db?.dispose();
    });

    it('bounds deliveries in flight per partner, across workers claiming at once', async () => {
      const noisy = await busyPartner(db, 6, 3); // 18 due heads, 6 endpoints with room 10 each
      const quiet = await busyPartner(db, 1, 1);
      const opts = (workerId: string) => claimOpts({ workerId, perPartner: 4 });
      // two workers (two connections on PostgreSQL) claiming at the same moment
      const [w1, w2] = await Promise.all([db.queue.claim(opts('w1')), db.queue.claim(opts('w2'))]);
      const both = [...w1, ...w2];
      expect(countBy(both, noisy)).toBe(4);
      expect(countBy(both, quiet)).toBe(1);
      // its leases count until they end: nothing more for it, whoever asks
      expect(countBy(await db.queue.claim(opts('w3')), noisy)).toBe(0);
      // two of them done: room for two more
      const [owner, owned] = countBy(w1, noisy) > 0 ? ['w1', w1] : ['w2', w2];
      const finished = owned.filter((c) => c.customerId === noisy).slice(0, 2);
      await db.queue.complete(
        finished.map((c) => done(c.id, c.endpointId)),
        { ...WINDOW, workerId: owner },
      );
      expect(countBy(await db.queue.claim(opts('w3')), noisy)).toBe(finished.length);
      // without a per-partner bound, only the endpoints bound it
      expect(countBy(await db.queue.claim(claimOpts({ workerId: 'w4' })), noisy)).toBeGreaterThan(0);
    });

    it('hands a batch out across partners in turns, whoever queued first', async () => {
      const backlog = await busyPartner(db, 5, 4); // 20 due heads, queued first (older)
      const second = await busyPartner(db, 1, 1);
      const third = await busyPartner(db, 2, 1);
      const claimed = await db.queue.claim(claimOpts({ limit: 3 }));
      expect([countBy(claimed, backlog), countBy(claimed, second), countBy(claimed, third)]).toEqual([
        1, 1, 1,
      ]);
      // the next batch: the two small partners have one more each (third's second endpoint), the rest
      // goes to the backlog
      const next = await db.queue.claim(claimOpts({ limit: 5 }));
      expect([countBy(next, backlog), countBy(next, second), countBy(next, third)]).toEqual([4, 0, 1]);
    });
  });
}
