/**
 * `store.recordDecisions` (a batch in one transaction) on each dialect, and the order of one third
 * party's events when single decisions (PostgreSQL: one statement, or the row lock when that cannot
 * apply) and batches race on it.
 */
import { describe, expect, it } from 'vitest';
import {
  type ComplianceDecisionRequest,
  recordComplianceDecision,
  recordComplianceDecisions,
} from '../../src/customers/decisions.js';
import type {
  BatchDecisionResult,
  ComplianceDecisionInput,
  Reason,
  StoredEvent,
} from '../../src/storage/store.js';
import { DIALECTS, skipReason, useDatabases } from '../support/databases.js';
import { decision, endpointInput, newPartner, newThirdParty, REASONS } from '../support/fixtures.js';
import { waitFor } from '../support/wait-for.js';

interface Payload {
  event_id: string;
  event_timestamp: string;
  data: { client_customer_ref: string; status: string; reasons?: Reason[] };
}
const payloadOf = (e: StoredEvent): Payload => JSON.parse(e.payload) as Payload;
const outcomes = (rs: BatchDecisionResult[]) => rs.map((r) => r.outcome);

/** A decision whose event builder throws: the batch refuses it and goes on. */
function refusing(d: ComplianceDecisionInput, error: Error): ComplianceDecisionInput {
  return {
    ...d,
    buildEvent: () => {
      throw error;
    },
  };
}

for (const dialect of DIALECTS) {
  describe.skipIf(skipReason(dialect) !== undefined)(`Store.recordDecisions on ${dialect}`, () => {
    const db = useDatabases(dialect);

    /** A partner's events, oldest first (by seq). */
    const eventsOf = async (customerId: string): Promise<StoredEvent[]> =>
      (await db.store.listEvents(customerId, { limit: 100 })).items.reverse();

    it('decides each in order with its own result, as single decisions one after another would', async () => {
      const refusal = new Error('no event for this one');
      const plan = (customerId: string, refs: string[]): ComplianceDecisionInput[] => {
        const [r1, r2] = refs as [string, string];
        return [
          decision(customerId, r1, 'APPROVED'),
          decision(customerId, 'nobody', 'APPROVED'),
          decision(customerId, r1, 'REJECTED', REASONS),
          refusing(decision(customerId, r2, 'REJECTED', REASONS), refusal),
          decision(customerId, r2, 'APPROVED'),
          decision(customerId, r2, 'APPROVED'),
          decision(customerId, r1, 'REJECTED', [...REASONS].reverse()),
          decision(customerId, r1, 'APPROVED'),
        ];
      };
      const batched = await newPartner(db.store);
      const refs = [await newThirdParty(db.store, batched), await newThirdParty(db.store, batched)];
      const endpoint = await db.store.createEndpoint(endpointInput(batched));
      await db.store.createEndpoint(endpointInput(batched, { eventTypes: ['SOMETHING ELSE'] }));
      const results = await db.store.recordDecisions(plan(batched, refs));
      expect(outcomes(results)).toEqual([
        'changed',
        'not_found',
        'changed',
        'refused',
        'changed',
        'unchanged',
        'unchanged',
        'changed',
      ]);
      expect(results[3]).toEqual({ outcome: 'refused', error: refusal });

      // the same decisions one by one on another partner: the same outcomes and events
      const single = await newPartner(db.store);
      const singleRefs = [await newThirdParty(db.store, single), await newThirdParty(db.store, single)];
      const one: string[] = [];
      for (const d of plan(single, singleRefs)) {
        one.push(
          await db.store.recordDecision(d).then(
            (r) => r.outcome,
            () => 'refused',
          ),
        );
      }
      expect(outcomes(results)).toEqual(one);
      const shape = (events: StoredEvent[], names: string[]) =>
        events.map(payloadOf).map((p) => ({
          ref: names.indexOf(p.data.client_customer_ref),
          status: p.data.status,
          reasons: p.data.reasons,
          at: p.event_timestamp,
        }));
      const events = await eventsOf(batched);
      expect(shape(events, refs)).toEqual(shape(await eventsOf(single), singleRefs));
      // r1's three events a second apart (all decided in one second), in the order given
      expect(shape(events, refs).filter((e) => e.ref === 0)).toEqual([
        { ref: 0, status: 'APPROVED', reasons: undefined, at: '2024-05-02T10:00:00Z' },
        { ref: 0, status: 'REJECTED', reasons: REASONS, at: '2024-05-02T10:00:01Z' },
        { ref: 0, status: 'APPROVED', reasons: undefined, at: '2024-05-02T10:00:02Z' },
      ]);

      // each result says what was written; the last one per third party is its state now
      for (const [i, r] of results.entries()) {
        if (r.outcome !== 'changed') continue;
        expect(await db.store.getEvent(batched, r.event.eventId)).toEqual(r.event);
        expect(r.deliveryIds).toHaveLength(1);
        expect(r.thirdParty).toMatchObject({
          status: plan(batched, refs)[i]?.status,
          updatedAt: r.event.createdAt,
        });
      }
      expect(results[7]).toMatchObject({
        thirdParty: await db.store.getThirdParty(batched, refs[0] as string),
      });
      expect(results[4]).toMatchObject({
        thirdParty: await db.store.getThirdParty(batched, refs[1] as string),
      });
      expect(results[2]).toMatchObject({ thirdParty: { status: 'REJECTED', reasons: REASONS } });
      expect(results[6]).toMatchObject({
        outcome: 'unchanged',
        thirdParty: { status: 'REJECTED', reasons: REASONS },
      });

      // one delivery per event to the subscribed endpoint, oldest event first
      const deliveries = (await db.store.listDeliveries(batched, endpoint.id, { limit: 10 })).items.reverse();
      expect(deliveries.map((d) => d.eventId)).toEqual(events.map((e) => e.eventId));
      expect(deliveries.map((d) => d.id)).toEqual(
        results.flatMap((r) => (r.outcome === 'changed' ? r.deliveryIds : [])),
      );
    });

    it('writes none of the batch when the database refuses one decision (duplicate event_id)', async () => {
      const customerId = await newPartner(db.store);
      const [a, b] = [await newThirdParty(db.store, customerId), await newThirdParty(db.store, customerId)];
      const first = await db.store.recordDecision(decision(customerId, a, 'APPROVED'));
      if (first.outcome !== 'changed') throw new Error('expected changed');
      const clash = decision(customerId, b, 'APPROVED');
      await expect(
        db.store.recordDecisions([
          decision(customerId, b, 'REJECTED', REASONS),
          decision(customerId, a, 'REJECTED', REASONS),
          { ...clash, buildEvent: (at) => ({ ...clash.buildEvent(at), eventId: first.event.eventId }) },
        ]),
      ).rejects.toThrow();
      expect((await db.store.getThirdParty(customerId, a))?.status).toBe('APPROVED');
      expect((await db.store.getThirdParty(customerId, b))?.status).toBe('PENDING');
      expect(await eventsOf(customerId)).toHaveLength(1);
      // and the store goes on
      expect(outcomes(await db.store.recordDecisions([decision(customerId, b, 'APPROVED')]))).toEqual([
        'changed',
      ]);
    });

    it('records 1,000 decisions in one call, two per third party in the order given', async () => {
      const customerId = await newPartner(db.store);
      const endpoint = await db.store.createEndpoint(endpointInput(customerId));
      const refs: string[] = [];
      for (let i = 0; i < 500; i++) refs.push(await newThirdParty(db.store, customerId));
      const results = await db.store.recordDecisions([
        ...refs.map((ref) => decision(customerId, ref, 'APPROVED')),
        ...refs.map((ref) => decision(customerId, ref, 'REJECTED', REASONS)),
      ]);
      expect(results.filter((r) => r.outcome === 'changed')).toHaveLength(1000);
      const seqs = results.map((r) => (r.outcome === 'changed' ? r.event.seq : Number.NaN));
      expect([...seqs].sort((x, y) => x - y)).toEqual(seqs); // numbered in the order given
      for (const ref of refs.slice(0, 20)) {
        expect((await db.store.getThirdParty(customerId, ref))?.status).toBe('REJECTED');
      }
      const page = await db.store.listDeliveries(customerId, endpoint.id, { limit: 100 });
      expect(page.items).toHaveLength(100);
      expect(await db.store.recordDecisions([])).toEqual([]);
    });

    it('tells the queue’s listeners after the commit, here and (PostgreSQL) in other processes', async () => {
      const here = await db.storage(db.url);
      const elsewhere = await db.storage(db.url);
      let heardHere = 0;
      let heardElsewhere = 0;
      here.queue.onQueued(() => heardHere++);
      elsewhere.queue.onQueued(() => heardElsewhere++);
      const customerId = await newPartner(here.store);
      const ref = await newThirdParty(here.store, customerId);
      await here.store.createEndpoint(endpointInput(customerId));
      const results = await here.store.recordDecisions([
        decision(customerId, ref, 'APPROVED'),
        decision(customerId, 'nobody', 'APPROVED'),
      ]);
      expect(outcomes(results)).toEqual(['changed', 'not_found']);
      expect(heardHere).toBeGreaterThan(0); // told synchronously, before the call returns
      if (dialect === 'postgres') await waitFor(() => heardElsewhere > 0, { what: 'the NOTIFY' });
    });

    it('serialises concurrent batches over the same third parties in any order, without deadlock', async () => {
      const customerId = await newPartner(db.store);
      await db.store.createEndpoint(endpointInput(customerId));
      const refs: string[] = [];
      for (let i = 0; i < 6; i++) refs.push(await newThirdParty(db.store, customerId));
      const at = new Date();
      const batch = (order: string[], round: number): ComplianceDecisionRequest[] =>
        order.map((ref) => ({
          customerId,
          clientCustomerRef: ref,
          decision:
            round % 2 === 0
              ? { status: 'APPROVED' }
              : { status: 'REJECTED', reasons: [{ code: `R${round}`, reason: 'Round' }] },
          decidedAt: at,
        }));
      const runs = await Promise.all(
        Array.from({ length: 12 }, (_, round) =>
          recordComplianceDecisions(db.store, batch(round % 3 === 0 ? [...refs].reverse() : refs, round)),
        ),
      );
      expect(runs.flat().every((r) => r.outcome === 'changed' || r.outcome === 'unchanged')).toBe(true);
      await expectConsistent(customerId, refs);
    });

    it('races single decisions and batches on one third party: the last event holds, seq order is timestamp order', async () => {
      const customerId = await newPartner(db.store);
      await db.store.createEndpoint(endpointInput(customerId));
      for (let round = 0; round < 3; round++) {
        const ref = await newThirdParty(db.store, customerId);
        const base = Math.floor(Date.now() / 1000) * 1000;
        const request = (i: number): ComplianceDecisionRequest => ({
          customerId,
          clientCustomerRef: ref,
          decision:
            i % 3 === 0
              ? { status: 'APPROVED' }
              : { status: 'REJECTED', reasons: [{ code: `R${i % 2}`, reason: 'Reason' }] },
          // half in seconds of their own (shuffled: each may find a later one already written), half
          // in one second with many others
          decidedAt: new Date(i % 2 === 0 ? base + ((i * 7) % 15) * 1000 + 500 : base + 250),
        });
        // at most 36 decisions, stamped at most ~50 s ahead: none is refused as too fast
        const calls = Array.from({ length: 30 }, (_, i) =>
          i % 10 === 9
            ? recordComplianceDecisions(db.store, [request(i), request(i + 1000), request(i + 2001)])
            : recordComplianceDecision(db.store, request(i)),
        );
        const results = (await Promise.all(calls)).flat();
        expect(results.every((r) => r.outcome === 'changed' || r.outcome === 'unchanged')).toBe(true);
        expect(results.filter((r) => r.outcome === 'changed').length).toBeGreaterThan(1);
        await expectConsistent(customerId, [ref]);
      }
    });

    /**
     * For each third party: its events by seq have strictly increasing timestamps and event ids, each
     * one changes what the one before said, and the third party holds what the last one says.
     */
    async function expectConsistent(customerId: string, refs: string[]): Promise<void> {
      const all = (await db.store.listEvents(customerId, { limit: 1000 })).items.reverse();
      for (const ref of refs) {
        const own = all.filter((e) => e.clientCustomerRef === ref).map(payloadOf);
        expect(own.length).toBeGreaterThan(0);
        for (let i = 1; i < own.length; i++) {
          const [before, after] = [own[i - 1] as Payload, own[i] as Payload];
          expect(Date.parse(after.event_timestamp)).toBeGreaterThan(Date.parse(before.event_timestamp));
          expect(after.event_id > before.event_id).toBe(true);
          expect(after.data).not.toEqual(before.data);
        }
        const last = own.at(-1) as Payload;
        const now = await db.store.getThirdParty(customerId, ref);
        expect({ status: now?.status, reasons: now?.reasons ?? undefined }).toEqual({
          status: last.data.status,
          reasons: last.data.reasons,
        });
      }
    }
  });
}
