import { describe, expect, it } from 'vitest';
import { recordComplianceDecision } from '../../src/customers/decisions.js';
import { InvalidCursorError } from '../../src/storage/errors.js';
import type { StoredEvent } from '../../src/storage/store.js';
import { DIALECTS, skipReason, useDatabases } from '../support/databases.js';
import {
  decision,
  EVENT_TYPE,
  endpointInput,
  newPartner,
  newThirdParty,
  REASONS,
  randomId,
} from '../support/fixtures.js';

const statusOf = (e: StoredEvent): string =>
  (JSON.parse(e.payload) as { data: { status: string } }).data.status;

for (const dialect of DIALECTS) {
  describe.skipIf(skipReason(dialect) !== undefined)(
    `Store decisions, events and deliveries on ${dialect}`,
    () => {
      const db = useDatabases(dialect);

      describe('recordDecision', () => {
        it('answers not_found for an unknown third party, or another partner’s', async () => {
          const a = await newPartner(db.store);
          const ref = await newThirdParty(db.store, a);
          expect(await db.store.recordDecision(decision(a, 'nobody', 'APPROVED'))).toEqual({
            outcome: 'not_found',
          });
          const b = await newPartner(db.store);
          expect(await db.store.recordDecision(decision(b, ref, 'APPROVED'))).toEqual({
            outcome: 'not_found',
          });
          expect((await db.store.listEvents(b, { limit: 10 })).items).toEqual([]);
        });

        it('writes status, event and one delivery per enabled subscribed endpoint', async () => {
          const customerId = await newPartner(db.store);
          const ref = await newThirdParty(db.store, customerId);
          const subscribed = await db.store.createEndpoint(endpointInput(customerId));
          const alsoSubscribed = await db.store.createEndpoint(
            endpointInput(customerId, { eventTypes: ['X', EVENT_TYPE] }),
          );
          const disabled = await db.store.createEndpoint(endpointInput(customerId));
          await db.store.updateEndpoint(customerId, disabled.id, { enabled: false }, new Date());
          const otherType = await db.store.createEndpoint(
            endpointInput(customerId, { eventTypes: ['SOMETHING ELSE'] }),
          );
          const otherPartner = await newPartner(db.store);
          const foreign = await db.store.createEndpoint(endpointInput(otherPartner));

          const d = decision(customerId, ref, 'APPROVED');
          const r = await db.store.recordDecision(d);
          if (r.outcome !== 'changed') throw new Error(`expected changed, got ${r.outcome}`);
          expect(r.thirdParty).toMatchObject({ status: 'APPROVED', reasons: null, updatedAt: d.decidedAt });
          expect(r.event).toMatchObject({
            customerId,
            clientCustomerRef: ref,
            eventType: EVENT_TYPE,
            createdAt: d.decidedAt,
          });
          expect(statusOf(r.event)).toBe('APPROVED');
          expect(r.deliveryIds).toHaveLength(2);

          expect(await db.store.getThirdParty(customerId, ref)).toEqual(r.thirdParty);
          expect(await db.store.getEvent(customerId, r.event.eventId)).toEqual(r.event);
          expect(await db.store.getEvent(otherPartner, r.event.eventId)).toBeUndefined();

          for (const ep of [subscribed, alsoSubscribed]) {
            const page = await db.store.listDeliveries(customerId, ep.id, { limit: 10 });
            expect(page.nextCursor).toBeNull();
            expect(page.items).toEqual([
              {
                id: expect.any(String),
                eventId: r.event.eventId,
                endpointId: ep.id,
                status: 'pending',
                attemptCount: 0,
                nextAttemptAt: d.decidedAt,
                createdAt: d.decidedAt,
                attempts: [],
              },
            ]);
            expect(r.deliveryIds).toContain(page.items[0]?.id);
          }
          for (const ep of [disabled, otherType]) {
            expect((await db.store.listDeliveries(customerId, ep.id, { limit: 10 })).items).toEqual([]);
          }
          expect((await db.store.listDeliveries(otherPartner, foreign.id, { limit: 10 })).items).toEqual([]);
        });

        it('emits nothing for a decision equal to the current one', async () => {
          const customerId = await newPartner(db.store);
          const ref = await newThirdParty(db.store, customerId);
          expect((await db.store.recordDecision(decision(customerId, ref, 'APPROVED'))).outcome).toBe(
            'changed',
          );
          const again = await db.store.recordDecision(decision(customerId, ref, 'APPROVED'));
          expect(again.outcome).toBe('unchanged');
          if (again.outcome === 'unchanged') expect(again.thirdParty.status).toBe('APPROVED');
          expect((await db.store.listEvents(customerId, { limit: 10 })).items).toHaveLength(1);
        });

        it('treats REJECTED with other reasons as a change, and the same reasons in any order as none', async () => {
          const customerId = await newPartner(db.store);
          const ref = await newThirdParty(db.store, customerId);
          const first = await db.store.recordDecision(decision(customerId, ref, 'REJECTED', REASONS));
          expect(first.outcome).toBe('changed');
          expect((await db.store.getThirdParty(customerId, ref))?.reasons).toEqual(REASONS);

          const reordered = [...REASONS].reverse();
          expect(
            (await db.store.recordDecision(decision(customerId, ref, 'REJECTED', reordered))).outcome,
          ).toBe('unchanged');
          const other = [{ code: 'OTHER', reason: 'Different' }];
          const changed = await db.store.recordDecision(decision(customerId, ref, 'REJECTED', other));
          expect(changed.outcome).toBe('changed');
          expect((await db.store.getThirdParty(customerId, ref))?.reasons).toEqual(other);

          // REJECTED → APPROVED drops the reasons, even if some were passed
          const approved = await db.store.recordDecision(decision(customerId, ref, 'APPROVED', REASONS));
          expect(approved.outcome).toBe('changed');
          expect((await db.store.getThirdParty(customerId, ref))?.reasons).toBeNull();
          expect((await db.store.listEvents(customerId, { limit: 10 })).items.map(statusOf)).toEqual([
            'APPROVED',
            'REJECTED',
            'REJECTED',
          ]);
        });

        it('writes nothing when buildEvent throws', async () => {
          const customerId = await newPartner(db.store);
          const ref = await newThirdParty(db.store, customerId);
          const ep = await db.store.createEndpoint(endpointInput(customerId));
          const d = {
            ...decision(customerId, ref, 'APPROVED'),
            buildEvent: () => {
              throw new Error('builder failed');
            },
          };
          await expect(db.store.recordDecision(d)).rejects.toThrow('builder failed');
          expect((await db.store.getThirdParty(customerId, ref))?.status).toBe('PENDING');
          expect((await db.store.listEvents(customerId, { limit: 10 })).items).toEqual([]);
          expect((await db.store.listDeliveries(customerId, ep.id, { limit: 10 })).items).toEqual([]);
        });

        it('writes nothing when the event cannot be stored (duplicate event_id)', async () => {
          const customerId = await newPartner(db.store);
          const refA = await newThirdParty(db.store, customerId);
          const refB = await newThirdParty(db.store, customerId);
          const ep = await db.store.createEndpoint(endpointInput(customerId));
          const first = await db.store.recordDecision(decision(customerId, refA, 'APPROVED'));
          if (first.outcome !== 'changed') throw new Error('expected changed');
          const clash = decision(customerId, refB, 'REJECTED', REASONS);
          const d = {
            ...clash,
            buildEvent: (previous: Date | null) => ({
              ...clash.buildEvent(previous),
              eventId: first.event.eventId,
            }),
          };
          await expect(db.store.recordDecision(d)).rejects.toThrow();
          expect((await db.store.getThirdParty(customerId, refB))?.status).toBe('PENDING');
          expect((await db.store.listEvents(customerId, { limit: 10 })).items).toHaveLength(1);
          expect((await db.store.listDeliveries(customerId, ep.id, { limit: 10 })).items).toHaveLength(1);
          // and the store is still usable afterwards
          expect((await db.store.recordDecision(decision(customerId, refB, 'APPROVED'))).outcome).toBe(
            'changed',
          );
        });

        it('stores the payload byte for byte', async () => {
          const customerId = await newPartner(db.store);
          const ref = await newThirdParty(db.store, customerId);
          const payload = '{"z":1,  "a":"Zoë \\u00e9 ✓",\n"event_id":"x","n":1.50,"e":{}}';
          const r = await db.store.recordDecision({
            ...decision(customerId, ref, 'APPROVED'),
            buildEvent: () => ({
              eventId: crypto.randomUUID(),
              eventType: EVENT_TYPE,
              payload,
              eventAt: new Date(),
            }),
          });
          if (r.outcome !== 'changed') throw new Error('expected changed');
          expect(r.event.payload).toBe(payload);
          expect((await db.store.getEvent(customerId, r.event.eventId))?.payload).toBe(payload);
          expect((await db.store.listEvents(customerId, { limit: 1 })).items[0]?.payload).toBe(payload);
        });

        it('serialises concurrent decisions on one customer into a consistent event sequence', async () => {
          const customerId = await newPartner(db.store);
          const ref = await newThirdParty(db.store, customerId);
          await db.store.createEndpoint(endpointInput(customerId));
          const results = await Promise.all(
            Array.from({ length: 20 }, (_, i) =>
              db.store.recordDecision(
                i % 2 === 0
                  ? decision(customerId, ref, 'APPROVED')
                  : decision(customerId, ref, 'REJECTED', REASONS),
              ),
            ),
          );
          const changed = results.filter((r) => r.outcome === 'changed');
          const events = (await db.store.listEvents(customerId, { limit: 100 })).items.reverse();
          expect(events).toHaveLength(changed.length);
          let previous = 'PENDING';
          for (const e of events) {
            expect(statusOf(e)).not.toBe(previous);
            previous = statusOf(e);
          }
          expect((await db.store.getThirdParty(customerId, ref))?.status).toBe(previous);
        });

        it('orders one third party’s events by event_timestamp and event_id, even within one second', async () => {
          const customerId = await newPartner(db.store);
          const refs = [await newThirdParty(db.store, customerId), await newThirdParty(db.store, customerId)];
          // 24 concurrent decisions, all dated in the same second, on two third parties
          const decidedAt = new Date('2030-06-01T12:00:00.900Z');
          await Promise.all(
            Array.from({ length: 24 }, (_, i) =>
              recordComplianceDecision(db.store, {
                customerId,
                clientCustomerRef: refs[i % 2] as string,
                decision: i % 4 < 2 ? { status: 'APPROVED' } : { status: 'REJECTED', reasons: [...REASONS] },
                decidedAt,
              }),
            ),
          );
          const events = (await db.store.listEvents(customerId, { limit: 100 })).items.reverse(); // by seq
          for (const ref of refs) {
            const own = events
              .filter((e) => e.clientCustomerRef === ref)
              .map((e) => JSON.parse(e.payload) as { event_id: string; event_timestamp: string });
            expect(own.length).toBeGreaterThan(1);
            // the first is the decision's own second, each later one a second after the one before
            own.forEach((e, i) => {
              expect(e.event_timestamp).toBe(
                new Date(Date.UTC(2030, 5, 1, 12, 0, i)).toISOString().replace('.000', ''),
              );
              if (i > 0) expect(e.event_id > (own[i - 1]?.event_id as string)).toBe(true);
            });
          }
          // a later decision in an earlier second (the clock stepped back) still comes after
          const ref = refs[0] as string;
          const before = events.filter((e) => e.clientCustomerRef === ref).length;
          const last = await recordComplianceDecision(db.store, {
            customerId,
            clientCustomerRef: ref,
            decision: { status: 'REJECTED', reasons: [{ code: 'LATE', reason: 'Clock stepped back' }] },
            decidedAt: new Date('2030-06-01T11:59:58Z'),
          });
          if (last.outcome !== 'changed') throw new Error(`expected changed, got ${last.outcome}`);
          const stamped = (JSON.parse(last.event.payload) as { event_timestamp: string }).event_timestamp;
          expect(stamped).toBe(
            new Date(Date.UTC(2030, 5, 1, 12, 0, before)).toISOString().replace('.000', ''),
          );
        });
      });

      describe('events', () => {
        it('pages newest first with an opaque cursor over many events', async () => {
          const customerId = await newPartner(db.store);
          const ref = await newThirdParty(db.store, customerId);
          const ids: string[] = [];
          for (let i = 0; i < 25; i++) {
            const r = await db.store.recordDecision(
              i % 2 === 0
                ? decision(customerId, ref, 'APPROVED')
                : decision(customerId, ref, 'REJECTED', REASONS),
            );
            if (r.outcome === 'changed') ids.push(r.event.eventId);
          }
          expect(ids).toHaveLength(25);
          // another partner's events never show
          const other = await newPartner(db.store);
          await db.store.recordDecision(decision(other, await newThirdParty(db.store, other), 'APPROVED'));

          const seen: StoredEvent[] = [];
          let cursor: string | undefined;
          const sizes: number[] = [];
          do {
            const page = await db.store.listEvents(
              customerId,
              cursor === undefined ? { limit: 10 } : { limit: 10, cursor },
            );
            sizes.push(page.items.length);
            seen.push(...page.items);
            cursor = page.nextCursor ?? undefined;
          } while (cursor !== undefined);
          expect(sizes).toEqual([10, 10, 5]);
          expect(seen.map((e) => e.eventId)).toEqual([...ids].reverse());
          const seqs = seen.map((e) => e.seq);
          expect([...seqs].sort((a, b) => b - a)).toEqual(seqs);
          expect(new Set(seqs).size).toBe(25);

          const exact = await db.store.listEvents(customerId, { limit: 25 });
          expect(exact.nextCursor).toBeNull();
        });

        it('refuses a cursor it did not make', async () => {
          const customerId = await newPartner(db.store);
          for (const cursor of ['not a cursor!', Buffer.from('-1').toString('base64url'), 'abc', '']) {
            await expect(db.store.listEvents(customerId, { limit: 10, cursor })).rejects.toBeInstanceOf(
              InvalidCursorError,
            );
          }
        });

        it('answers undefined for an unknown event', async () => {
          expect(await db.store.getEvent(await newPartner(db.store), crypto.randomUUID())).toBeUndefined();
        });
      });

      describe('deliveries', () => {
        it('lists an endpoint’s deliveries newest first with their attempts, and gets one', async () => {
          const customerId = await newPartner(db.store);
          const ref = await newThirdParty(db.store, customerId);
          const ep = await db.store.createEndpoint(endpointInput(customerId));
          const deliveryIds: string[] = [];
          for (let i = 0; i < 5; i++) {
            const r = await db.store.recordDecision(
              i % 2 === 0
                ? decision(customerId, ref, 'APPROVED')
                : decision(customerId, ref, 'REJECTED', REASONS),
            );
            if (r.outcome === 'changed') deliveryIds.push(...r.deliveryIds);
          }
          const [firstId] = deliveryIds;
          if (!firstId) throw new Error('no delivery');
          const t0 = new Date('2024-07-01T00:00:00Z');
          await db.insertAttempt(db.url, {
            deliveryId: firstId,
            at: t0,
            durationMs: 12,
            statusCode: 503,
            error: null,
          });
          const t1 = new Date('2024-07-01T00:01:00Z');
          await db.insertAttempt(db.url, {
            deliveryId: firstId,
            at: t1,
            durationMs: 0,
            statusCode: null,
            error: 'timeout',
          });

          const p1 = await db.store.listDeliveries(customerId, ep.id, { limit: 3 });
          expect(p1.items.map((d) => d.id)).toEqual(deliveryIds.slice(2).reverse());
          if (!p1.nextCursor) throw new Error('expected a next page');
          const p2 = await db.store.listDeliveries(customerId, ep.id, { limit: 3, cursor: p1.nextCursor });
          expect(p2.items.map((d) => d.id)).toEqual(deliveryIds.slice(0, 2).reverse());
          expect(p2.nextCursor).toBeNull();
          const expectedAttempts = [
            { at: t0, durationMs: 12, statusCode: 503, error: null, responseExcerpt: null },
            { at: t1, durationMs: 0, statusCode: null, error: 'timeout', responseExcerpt: null },
          ];
          expect(p2.items.at(-1)?.attempts).toEqual(expectedAttempts);

          const one = await db.store.getDelivery(customerId, ep.id, firstId);
          expect(one).toMatchObject({
            id: firstId,
            endpointId: ep.id,
            status: 'pending',
            attempts: expectedAttempts,
          });
          expect(await db.store.getDelivery(customerId, ep.id, randomId())).toBeUndefined();
          expect(await db.store.getDelivery(await newPartner(db.store), ep.id, firstId)).toBeUndefined();
          await expect(
            db.store.listDeliveries(customerId, ep.id, { limit: 3, cursor: '!!' }),
          ).rejects.toBeInstanceOf(InvalidCursorError);

          // deleting the endpoint takes its deliveries and their attempts with it
          expect(await db.store.deleteEndpoint(customerId, ep.id)).toBe(true);
          expect(await db.store.getDelivery(customerId, ep.id, firstId)).toBeUndefined();
          expect((await db.store.listDeliveries(customerId, ep.id, { limit: 10 })).items).toEqual([]);
          expect((await db.store.listEvents(customerId, { limit: 10 })).items).toHaveLength(5);
        });
      });
    },
  );
}
