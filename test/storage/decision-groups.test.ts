/**
 * Group commit of single decisions (src/storage/decision-groups.ts): decisions that arrive together are
 * written in one transaction, in arrival order, each with the result it would have had alone. SQLite
 * groups every decision; PostgreSQL writes the first few in flight alone (one statement each) and
 * groups the rest.
 */
import { describe, expect, it } from 'vitest';
import type { DecisionResult } from '../../src/storage/store.js';
import { DIALECTS, skipReason, useDatabases } from '../support/databases.js';
import { decision, newEndpoint, newPartner, newThirdParty } from '../support/fixtures.js';

for (const dialect of DIALECTS)
  describe.skipIf(skipReason(dialect) !== undefined)(`group commit of decisions on ${dialect}`, () => {
    const db = useDatabases(dialect);

    it('applies decisions issued together in issue order, each with its own result', async () => {
      const partner = await newPartner(db.store);
      await newEndpoint(db.store, partner, 'https://partner.example/hook');
      const refs = await Promise.all(Array.from({ length: 5 }, () => newThirdParty(db.store, partner)));
      const at = new Date();
      // Decisions on other third parties already in flight, as many as PostgreSQL writes alone at once
      // (2) and more: the twenty below wait for a group, and are written in the order issued.
      const others = await Promise.all(Array.from({ length: 4 }, () => newThirdParty(db.store, partner)));
      const inFlight = others.map((ref) =>
        db.store.recordDecision(decision(partner, ref, 'APPROVED', null, at)),
      );
      // four decisions on each third party, alternating, all issued before any is written
      const issued = Array.from({ length: 20 }, (_, i) => {
        const ref = refs[i % refs.length] as string;
        const status = Math.floor(i / refs.length) % 2 === 0 ? 'APPROVED' : 'REJECTED';
        return { ref, status, result: db.store.recordDecision(decision(partner, ref, status, null, at)) };
      });
      const results: DecisionResult[] = await Promise.all(issued.map((x) => x.result));
      expect(results.map((r) => r.outcome)).toEqual(issued.map(() => 'changed'));
      expect((await Promise.all(inFlight)).map((r) => r.outcome)).toEqual(others.map(() => 'changed'));

      for (const ref of refs) {
        const mine = issued.map((x, i) => ({ ...x, r: results[i] })).filter((x) => x.ref === ref);
        const tp = await db.store.getThirdParty(partner, ref);
        expect(tp?.status).toBe(mine.at(-1)?.status);
        // the events in issue order: seq and event_timestamp both increase
        const events = mine.map((x) => (x.r?.outcome === 'changed' ? x.r.event : undefined));
        const seqs = events.map((e) => e?.seq ?? Number.NaN);
        expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
        const statuses = events.map((e) => JSON.parse(e?.payload ?? '{}').data?.status);
        expect(statuses).toEqual(mine.map((x) => x.status));
      }
    });

    it('writes a group on distinct third parties, each decision with the result it would have had alone', async () => {
      const partner = await newPartner(db.store);
      const endpoint = await newEndpoint(db.store, partner, 'https://partner.example/hook');
      const [fresh, sameSecond, reasonsOnly, unchanged, refusedRef, ...others] = await Promise.all(
        Array.from({ length: 7 }, () => newThirdParty(db.store, partner)),
      );
      const at = new Date('2024-05-02T10:00:00.250Z');
      const r1 = [{ code: 'SANCTIONS_MATCH', reason: 'listed' }];
      const r2 = [{ code: 'ADDRESS_UNVERIFIED', reason: 'no proof of address' }];
      // the state before: an event in the decision's own second; REJECTED with reasons; APPROVED
      await db.store.recordDecision(decision(partner, sameSecond as string, 'APPROVED', null, at));
      await db.store.recordDecision(decision(partner, reasonsOnly as string, 'REJECTED', r1, at));
      await db.store.recordDecision(decision(partner, unchanged as string, 'APPROVED', null, at));

      // PostgreSQL's slots for decisions written alone taken, so that the six below are one group
      const alone = others.map((ref) =>
        db.store.recordDecision(decision(partner, ref, 'APPROVED', null, at)),
      );
      const refusal = new Error('decisions on it run a minute ahead of the clock');
      const issued = [
        db.store.recordDecision(decision(partner, fresh as string, 'APPROVED', null, at)),
        db.store.recordDecision(decision(partner, sameSecond as string, 'REJECTED', r1, at)),
        db.store.recordDecision(decision(partner, reasonsOnly as string, 'REJECTED', r2, at)),
        db.store.recordDecision(decision(partner, unchanged as string, 'APPROVED', null, at)),
        db.store.recordDecision(decision(partner, 'NO_SUCH_REF', 'APPROVED', null, at)),
        db.store.recordDecision({
          ...decision(partner, refusedRef as string, 'APPROVED', null, at),
          buildEvent: () => {
            throw refusal;
          },
        }),
      ];
      const settled = await Promise.allSettled(issued);
      expect((await Promise.all(alone)).map((r) => r.outcome)).toEqual(['changed', 'changed']);
      const [a, b, c, d, e, f] = settled.map((x) => (x.status === 'fulfilled' ? x.value : x.reason));
      expect([a, b, c, d, e].map((r) => (r as DecisionResult).outcome)).toEqual([
        'changed',
        'changed',
        'changed',
        'unchanged',
        'not_found',
      ]);
      expect(f).toBe(refusal);

      const stamp = (r: unknown) =>
        (r as DecisionResult).outcome === 'changed'
          ? JSON.parse((r as Extract<DecisionResult, { outcome: 'changed' }>).event.payload).event_timestamp
          : undefined;
      expect(stamp(a)).toBe('2024-05-02T10:00:00Z');
      // its previous event has this second: stamped a second after it
      expect(stamp(b)).toBe('2024-05-02T10:00:01Z');
      expect(stamp(c)).toBe('2024-05-02T10:00:01Z');
      for (const r of [a, b, c]) {
        const changed = r as Extract<DecisionResult, { outcome: 'changed' }>;
        expect(changed.deliveryIds).toHaveLength(1);
        const delivery = await db.store.getDelivery(partner, endpoint, changed.deliveryIds[0] as string);
        expect(delivery?.eventId).toBe(changed.event.eventId);
      }
      expect((b as Extract<DecisionResult, { outcome: 'changed' }>).thirdParty).toMatchObject({
        status: 'REJECTED',
        reasons: r1,
      });
      expect((c as Extract<DecisionResult, { outcome: 'changed' }>).thirdParty.reasons).toEqual(r2);
      expect((d as Extract<DecisionResult, { outcome: 'unchanged' }>).thirdParty.status).toBe('APPROVED');

      const now = async (ref: string | undefined) => db.store.getThirdParty(partner, ref as string);
      expect(await now(fresh)).toMatchObject({ status: 'APPROVED' });
      expect(await now(sameSecond)).toMatchObject({ status: 'REJECTED', reasons: r1 });
      expect(await now(reasonsOnly)).toMatchObject({ status: 'REJECTED', reasons: r2 });
      expect(await now(unchanged)).toMatchObject({ status: 'APPROVED' });
      expect(await now(refusedRef)).toMatchObject({ status: 'PENDING' });
    });

    it("stamps each event after the third party's last, also when another process wrote it", async () => {
      // Each PostgreSQL store first builds an event after the last one it wrote itself; here the other
      // store's events are later, written in between.
      const other = await db.open(db.url);
      const partner = await newPartner(db.store);
      await newEndpoint(db.store, partner, 'https://partner.example/hook');
      const [single, grouped, ...busy] = await Promise.all(
        Array.from({ length: 4 }, () => newThirdParty(db.store, partner)),
      );
      const at = new Date('2024-05-02T10:00:00.500Z');
      const stampOf = (r: DecisionResult) =>
        r.outcome === 'changed' ? JSON.parse(r.event.payload).event_timestamp : r.outcome;
      for (const ref of [single, grouped] as string[]) {
        expect(stampOf(await db.store.recordDecision(decision(partner, ref, 'APPROVED', null, at)))).toBe(
          '2024-05-02T10:00:00Z',
        );
        await other.recordDecision(decision(partner, ref, 'REJECTED', null, at));
        await other.recordDecision(decision(partner, ref, 'APPROVED', null, at));
      }
      expect(
        stampOf(await db.store.recordDecision(decision(partner, single as string, 'REJECTED', null, at))),
      ).toBe('2024-05-02T10:00:03Z');
      // the same in a group (PostgreSQL's slots for decisions written alone taken)
      const alone = busy.map((ref) => db.store.recordDecision(decision(partner, ref, 'APPROVED', null, at)));
      const inGroup = db.store.recordDecision(decision(partner, grouped as string, 'REJECTED', null, at));
      const inGroupToo = db.store.recordDecision(decision(partner, single as string, 'APPROVED', null, at));
      await Promise.all(alone);
      expect(stampOf(await inGroup)).toBe('2024-05-02T10:00:03Z');
      expect(stampOf(await inGroupToo)).toBe('2024-05-02T10:00:04Z');
    });

    it('refuses one decision of a group alone: the others are written', async () => {
      const partner = await newPartner(db.store);
      const [a, b, c] = await Promise.all([1, 2, 3].map(() => newThirdParty(db.store, partner)));
      const refusal = new Error('decisions on it run a minute ahead of the clock');
      const refused = {
        ...decision(partner, b as string, 'APPROVED', null, new Date()),
        buildEvent: () => {
          throw refusal;
        },
      };
      const outcomes = await Promise.allSettled([
        db.store.recordDecision(decision(partner, a as string, 'APPROVED', null, new Date())),
        db.store.recordDecision(refused),
        db.store.recordDecision(decision(partner, c as string, 'APPROVED', null, new Date())),
      ]);
      expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
      expect(outcomes[1]).toMatchObject({ reason: refusal });
      expect((await db.store.getThirdParty(partner, a as string))?.status).toBe('APPROVED');
      expect((await db.store.getThirdParty(partner, b as string))?.status).toBe('PENDING');
      expect((await db.store.getThirdParty(partner, c as string))?.status).toBe('APPROVED');
    });
  });
