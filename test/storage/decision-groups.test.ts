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
