/**
 * Decisions, claims and completions at once, on each database: what production does, without the
 * HTTP around it. Third parties' decisions arrive together (so the store writes them as groups) while
 * two workers claim and complete, some completions riding a claim along (`completeAndClaim`), some
 * sending a delivery back to retry. Every write must succeed (no deadlock, no serialization failure
 * left to the caller) and each endpoint must receive each third party's events once each, in the
 * order they were decided.
 *
 * Written after migration 027 (never shipped): its decisions waited for a row a completion held while
 * holding a lock that completion needed next, which only one CI run in several hit. This test fails
 * with "deadlock detected" on 027 in most runs.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { ClaimedDelivery, Completion } from '../../src/storage/queue.js';
import { DIALECTS, openDatabase, skipReason, type TestDatabase } from '../support/databases.js';
import { decide, newEndpoint, newPartner, newThirdParty } from '../support/fixtures.js';
import { claimOptions, completion } from '../support/queue.js';

const THIRD_PARTIES = 6;
const DECISIONS_EACH = 20;
const WINDOW = 5 * 24 * 3600_000;

const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

describe.each(DIALECTS)('decisions, claims and completions at once on %s', (dialect) => {
  let db: TestDatabase | undefined;
  afterEach(async () => {
    await db?.dispose();
    db = undefined;
  });

  it.skipIf(skipReason(dialect) !== undefined)(
    'writes every one and delivers each third party’s events in order to both endpoints',
    async () => {
      const t = await openDatabase(dialect);
      db = t;
      const partner = await newPartner(t.store);
      const endpoints = [
        await newEndpoint(t.store, partner, 'https://a.example/hook'),
        await newEndpoint(t.store, partner, 'https://b.example/hook'),
      ];
      const refs: string[] = [];
      for (let i = 0; i < THIRD_PARTIES; i++) refs.push(await newThirdParty(t.store, partner));

      // one failure stops the others: a worker that died would leave its leases to expire
      let failed = false;
      const stopOnFailure = <T>(p: Promise<T>) =>
        p.catch((err: unknown) => {
          failed = true;
          throw err;
        });

      // each third party's events, in the order decided (one decider each, one decision at a time)
      const decided = new Map<string, string[]>(refs.map((r) => [r, []]));
      let deciding = THIRD_PARTIES;
      const deciders = refs.map(async (ref, i) => {
        try {
          for (let n = 0; n < DECISIONS_EACH && !failed; n++) {
            const status = (n + i) % 2 === 0 ? 'REJECTED' : 'APPROVED';
            decided.get(ref)?.push(await decide(t.store, partner, ref, status));
            if (n % 3 === i % 3) await tick();
          }
        } finally {
          deciding--;
        }
      });

      // what each endpoint received for each third party, in the order its attempts succeeded
      const received = new Map<string, string[]>();
      const retried = new Set<string>();
      const worker = async (workerId: string, ride: boolean) => {
        const options = (limit: number) => claimOptions({ workerId, now: new Date(), limit, perEndpoint: 4 });
        const outcome = (d: ClaimedDelivery): Completion => {
          // the first attempt of one delivery in five fails and is due again at once
          if (!retried.has(d.id) && d.eventSeq % 5 === 0) {
            retried.add(d.id);
            return completion(d.id, d.endpointId, {
              statusCode: 500,
              responseExcerpt: 'no',
              next: { status: 'pending', nextAttemptAt: new Date() },
              succeeded: false,
            });
          }
          const key = `${d.endpointId}/${d.clientCustomerRef}`;
          received.set(key, [...(received.get(key) ?? []), d.eventId]);
          return completion(d.id, d.endpointId);
        };
        let batch = await t.queue.claim(options(8));
        while (!failed) {
          if (batch.length === 0) {
            if (deciding === 0 && (await t.queue.stats(new Date(Date.now() + 60_000))).pending === 0) return;
            await new Promise((resolve) => setTimeout(resolve, 2));
            batch = await t.queue.claim(options(8));
            continue;
          }
          const completions = batch.map(outcome);
          const o = { workerId, failureWindowMs: WINDOW };
          if (ride) batch = (await t.queue.completeAndClaim(completions, o, options(8))).claimed;
          else {
            await t.queue.complete(completions, o);
            batch = await t.queue.claim(options(8));
          }
        }
      };

      const results = await Promise.allSettled(
        [...deciders, worker('w1', true), worker('w2', false)].map(stopOnFailure),
      );
      const errors = results.flatMap((r) => (r.status === 'rejected' ? [String(r.reason)] : []));
      expect(errors).toEqual([]);
      for (const ref of refs) {
        for (const endpoint of endpoints) {
          expect(received.get(`${endpoint}/${ref}`), `${endpoint}/${ref}`).toEqual(decided.get(ref));
        }
      }
      expect(retried.size).toBeGreaterThan(0);
    },
    60_000,
  );
});
