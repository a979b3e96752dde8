import { describe, expect, it } from 'vitest';
import { DIALECTS, skipReason, useDatabases } from '../support/databases.js';
import { EVENT_TYPE, endpointInput, newPartner, newThirdParty, randomId } from '../support/fixtures.js';

for (const dialect of DIALECTS) {
  describe.skipIf(skipReason(dialect) !== undefined)(`Store on ${dialect}`, () => {
    const db = useDatabases(dialect);

    describe('migrate', () => {
      it('applies every migration once, then nothing', async () => {
        const storage = await db.storage(await db.freshUrl());
        expect(storage.applied[0]).toBe('001_initial');
        expect(await storage.store.migrate()).toEqual([]);
        await storage.store.ping();
      });

      it('is safe when two processes open and migrate the same database at once', async () => {
        const url = await db.freshUrl();
        const [a, b] = await Promise.all([db.storage(url), db.storage(url)]);
        expect([...a.applied, ...b.applied].filter((n) => n === '001_initial')).toHaveLength(1);
        expect(await b.store.migrate()).toEqual([]);
        expect(
          await a.store.createPartner({ customerId: 'x', name: null, tokenHash: 'h', createdAt: new Date() }),
        ).toBe('created');
        expect((await b.store.getPartner('x'))?.customerId).toBe('x');
      });
    });

    describe('settings', () => {
      it('sets a value only when absent', async () => {
        const key = randomId('setting_');
        expect(await db.store.getSetting(key)).toBeUndefined();
        expect(await db.store.setSettingIfAbsent(key, 'first')).toBe(true);
        expect(await db.store.setSettingIfAbsent(key, 'second')).toBe(false);
        expect(await db.store.getSetting(key)).toBe('first');
      });
    });

    describe('partners', () => {
      it('creates, finds by id and token hash, lists, and refuses a duplicate', async () => {
        const at = new Date('2024-01-02T03:04:05.678Z');
        const customerId = randomId('cust_');
        const tokenHash = randomId('hash_');
        const p = { customerId, name: 'Acme Homes', tokenHash, createdAt: at };
        expect(await db.store.createPartner(p)).toBe('created');
        expect(await db.store.createPartner({ ...p, tokenHash: randomId('hash_') })).toBe('exists');
        const expected = { customerId, name: 'Acme Homes', createdAt: at };
        expect(await db.store.getPartner(customerId)).toEqual(expected);
        expect(await db.store.findPartnerByTokenHash(tokenHash)).toEqual(expected);
        expect(await db.store.listPartners()).toContainEqual(expected);
        expect(await db.store.getPartner(randomId())).toBeUndefined();
        expect(await db.store.findPartnerByTokenHash(randomId())).toBeUndefined();
      });

      it('lists partners a page at a time, oldest first, with their endpoint counts', async () => {
        const store = await db.open(await db.freshUrl());
        const at = (day: number) => new Date(Date.UTC(2024, 0, day));
        const a = await newPartner(store, at(1));
        // two partners created at the same time: the customer_id breaks the tie
        const [b = '', c = ''] = [await newPartner(store, at(2)), await newPartner(store, at(2))].sort();
        await store.createEndpoint(endpointInput(b));
        await store.createEndpoint(endpointInput(b, { url: 'https://example.com/2' }));
        const first = await store.listPartnerPage({ limit: 2 });
        expect(first.items).toEqual([
          { customerId: a, name: 'Acme', createdAt: at(1), endpointCount: 0 },
          { customerId: b, name: 'Acme', createdAt: at(2), endpointCount: 2 },
        ]);
        // a partner created meanwhile comes last: it does not shift the next page
        const late = await newPartner(store, at(3));
        const second = await store.listPartnerPage({ limit: 2, cursor: first.nextCursor ?? '' });
        expect(second.items.map((p) => p.customerId)).toEqual([c, late]);
        expect(second.nextCursor).toBeNull();
        expect((await store.listPartnerPage({ limit: 10 })).items.map((p) => p.customerId)).toEqual([
          a,
          b,
          c,
          late,
        ]);
        await expect(store.listPartnerPage({ limit: 2, cursor: 'MTIz' })).rejects.toThrow(/cursor/i);
      });

      it('replaces the token', async () => {
        const customerId = await newPartner(db.store);
        const next = randomId('hash_');
        expect(await db.store.setPartnerToken(customerId, next)).toBe(true);
        expect((await db.store.findPartnerByTokenHash(next))?.customerId).toBe(customerId);
        expect(await db.store.setPartnerToken(randomId(), randomId())).toBe(false);
      });
    });

    describe('third parties', () => {
      it('creates PENDING, refuses the same ref, and reads it back as given', async () => {
        const customerId = await newPartner(db.store);
        const at = new Date('2024-03-04T05:06:07.089Z');
        const details = {
          client_customer_ref: 'ref-1',
          first_name: 'Zoë',
          address: { address_line: '1 Main St', city: 'Austin', country: 'USA' },
          income_range: { currency: 'USD', min_value: 1000, max_value: 2000 },
        };
        const property = [{ property_ref: 'P1', property_purchase_amount: { currency: 'USD', value: 1.5 } }];
        const t = {
          customerId,
          clientCustomerRef: 'ref-1',
          clientCustomerDetails: details,
          propertyDetails: property,
          createdAt: at,
        };
        expect(await db.store.createThirdParty(t)).toBe('created');
        expect(await db.store.createThirdParty(t)).toBe('exists');
        expect(await db.store.getThirdParty(customerId, 'ref-1')).toEqual({
          customerId,
          clientCustomerRef: 'ref-1',
          status: 'PENDING',
          reasons: null,
          clientCustomerDetails: details,
          propertyDetails: property,
          createdAt: at,
          updatedAt: at,
        });
      });

      it('keeps partners apart: the same ref under another partner is another customer', async () => {
        const a = await newPartner(db.store);
        const b = await newPartner(db.store);
        await newThirdParty(db.store, a, 'shared-ref');
        expect(await db.store.getThirdParty(b, 'shared-ref')).toBeUndefined();
        await newThirdParty(db.store, b, 'shared-ref');
        expect((await db.store.getThirdParty(b, 'shared-ref'))?.customerId).toBe(b);
      });

      it('lists newest first with total, filter and page', async () => {
        const customerId = await newPartner(db.store);
        for (let i = 0; i < 7; i++) {
          await newThirdParty(db.store, customerId, `ref-${i}`, new Date(Date.UTC(2024, 0, 1, 0, 0, i)));
        }
        const first = await db.store.listThirdParties(customerId, { limit: 3, offset: 0 });
        expect(first.total).toBe(7);
        expect(first.items.map((t) => t.clientCustomerRef)).toEqual(['ref-6', 'ref-5', 'ref-4']);
        const last = await db.store.listThirdParties(customerId, { limit: 3, offset: 6 });
        expect(last.items.map((t) => t.clientCustomerRef)).toEqual(['ref-0']);
        expect(last.total).toBe(7);
        const pending = await db.store.listThirdParties(customerId, {
          status: 'PENDING',
          limit: 10,
          offset: 0,
        });
        expect(pending.total).toBe(7);
        const approved = await db.store.listThirdParties(customerId, {
          status: 'APPROVED',
          limit: 10,
          offset: 0,
        });
        expect(approved).toEqual({ items: [], total: 0, nextCursor: null });
        const other = await db.store.listThirdParties(await newPartner(db.store), { limit: 10, offset: 0 });
        expect(other).toEqual({ items: [], total: 0, nextCursor: null });
      });

      it('pages by key, newest first, continuing from an offset page, unshifted by new third parties', async () => {
        const customerId = await newPartner(db.store);
        const at = (s: number) => new Date(Date.UTC(2024, 0, 1, 0, 0, s));
        // two pairs share a created_at: the ref breaks the tie
        for (const [ref, second] of [
          ['a', 1],
          ['b', 2],
          ['c', 2],
          ['d', 3],
          ['e', 4],
          ['f', 4],
        ] as const) {
          await newThirdParty(db.store, customerId, ref, at(second));
        }
        const refs = (items: { clientCustomerRef: string }[]) => items.map((t) => t.clientCustomerRef);
        const byOffset = await db.store.listThirdParties(customerId, { limit: 2, offset: 0 });
        expect(refs(byOffset.items)).toEqual(['e', 'f']);
        expect(byOffset.nextCursor).toEqual(expect.any(String));

        // a newer third party and one as old as the cursor's, but sorting before it: neither shifts a page
        await newThirdParty(db.store, customerId, 'g', at(9));
        await newThirdParty(db.store, customerId, 'd0', at(4));
        const cursor = byOffset.nextCursor ?? '';
        const second = await db.store.listThirdPartyPage(customerId, { limit: 2, cursor });
        expect(refs(second.items)).toEqual(['d', 'b']);
        const third = await db.store.listThirdPartyPage(customerId, {
          limit: 2,
          cursor: second.nextCursor ?? '',
        });
        expect(third).toMatchObject({ nextCursor: null });
        expect(refs(third.items)).toEqual(['c', 'a']);

        const first = await db.store.listThirdPartyPage(customerId, { limit: 10 });
        expect(refs(first.items)).toEqual(['g', 'd0', 'e', 'f', 'd', 'b', 'c', 'a']);
        expect(first.nextCursor).toBeNull();
        const lastByOffset = await db.store.listThirdParties(customerId, { limit: 4, offset: 4 });
        expect(lastByOffset.nextCursor).toBeNull();

        await db.store.recordDecision({
          customerId,
          clientCustomerRef: 'b',
          status: 'APPROVED',
          reasons: null,
          decidedAt: at(20),
          changes: () => true,
          buildEvent: () => ({
            eventId: randomId('evt_'),
            eventType: EVENT_TYPE,
            payload: '{}',
            eventAt: at(20),
          }),
        });
        const approved = await db.store.listThirdPartyPage(customerId, { status: 'APPROVED', limit: 5 });
        expect(refs(approved.items)).toEqual(['b']);
        await expect(
          db.store.listThirdPartyPage(customerId, { limit: 2, cursor: 'nonsense!' }),
        ).rejects.toThrow(/cursor/i);
      });
    });

    describe('endpoints', () => {
      it('creates with one current secret and reads it back', async () => {
        const customerId = await newPartner(db.store);
        const e = endpointInput(customerId, { description: 'main' });
        const created = await db.store.createEndpoint(e);
        const expected = {
          id: e.id,
          customerId,
          url: e.url,
          description: 'main',
          eventTypes: [EVENT_TYPE],
          enabled: true,
          disabledReason: null,
          disabledAt: null,
          rateLimit: null,
          secrets: [{ secret: e.secret, createdAt: e.createdAt, expiresAt: null }],
          createdAt: e.createdAt,
          updatedAt: e.createdAt,
        };
        expect(created).toEqual(expected);
        expect(await db.store.getEndpoint(customerId, e.id)).toEqual(expected);
        expect(await db.store.getEndpoint(await newPartner(db.store), e.id)).toBeUndefined();
        expect(await db.store.getEndpoint(customerId, randomId())).toBeUndefined();
      });

      it('lists a partner’s endpoints oldest first, each with its secrets', async () => {
        const customerId = await newPartner(db.store);
        const a = endpointInput(customerId, { createdAt: new Date('2024-01-01T00:00:00Z') });
        const b = endpointInput(customerId, { createdAt: new Date('2024-01-02T00:00:00Z') });
        await db.store.createEndpoint(b);
        await db.store.createEndpoint(a);
        await db.store.createEndpoint(endpointInput(await newPartner(db.store)));
        const list = await db.store.listEndpoints(customerId);
        expect(list.map((e) => e.id)).toEqual([a.id, b.id]);
        expect(list.map((e) => e.secrets.map((s) => s.secret))).toEqual([[a.secret], [b.secret]]);
        expect(await db.store.listEndpoints(await newPartner(db.store))).toEqual([]);
      });

      it('updates only the fields given; disabling keeps a reason, enabling clears it', async () => {
        const customerId = await newPartner(db.store);
        const e = await db.store.createEndpoint(endpointInput(customerId, { description: 'd' }));
        const t1 = new Date('2024-06-01T00:00:00Z');
        const moved = await db.store.updateEndpoint(customerId, e.id, { url: 'https://example.org/new' }, t1);
        expect(moved).toEqual({
          outcome: 'updated',
          endpoint: { ...e, url: 'https://example.org/new', updatedAt: t1 },
          backfilled: 0,
        });

        const t2 = new Date('2024-06-02T00:00:00Z');
        const disabled = await db.store.updateEndpoint(
          customerId,
          e.id,
          { enabled: false, disabledReason: 'endpoint answered 410 Gone' },
          t2,
        );
        expect(disabled).toMatchObject({
          endpoint: {
            enabled: false,
            disabledReason: 'endpoint answered 410 Gone',
            disabledAt: t2,
            updatedAt: t2,
          },
        });

        const t3 = new Date('2024-06-03T00:00:00Z');
        const patched = await db.store.updateEndpoint(
          customerId,
          e.id,
          { description: null, eventTypes: [EVENT_TYPE, 'OTHER'] },
          t3,
        );
        expect(patched).toMatchObject({
          endpoint: {
            enabled: false,
            disabledReason: 'endpoint answered 410 Gone',
            disabledAt: t2, // still when it was disabled
            description: null,
            eventTypes: [EVENT_TYPE, 'OTHER'],
            url: 'https://example.org/new',
          },
        });

        const enabled = await db.store.updateEndpoint(customerId, e.id, { enabled: true }, t3);
        expect(enabled).toMatchObject({
          outcome: 'updated',
          endpoint: { enabled: true, disabledReason: null, disabledAt: null },
        });
        if (enabled.outcome !== 'updated') throw new Error('not updated');
        expect(await db.store.getEndpoint(customerId, e.id)).toEqual(enabled.endpoint);

        const notFound = { outcome: 'not_found' };
        expect(await db.store.updateEndpoint(customerId, randomId(), { enabled: false }, t3)).toEqual(
          notFound,
        );
        expect(
          await db.store.updateEndpoint(await newPartner(db.store), e.id, { url: 'https://x.y' }, t3),
        ).toEqual(notFound);
      });

      it('keeps one endpoint per URL per partner, on create and on a URL change', async () => {
        const customerId = await newPartner(db.store);
        const url = 'https://example.com/one';
        const first = await db.store.createEndpointWithinLimit(endpointInput(customerId, { url }), 20);
        if (first.outcome !== 'created') throw new Error(`not created: ${first.outcome}`);
        const existing = { outcome: 'url_taken', endpointId: first.endpoint.id };
        expect(await db.store.createEndpointWithinLimit(endpointInput(customerId, { url }), 20)).toEqual(
          existing,
        );
        // the URL is checked before the cap: the answer names the endpoint that has it
        expect(await db.store.createEndpointWithinLimit(endpointInput(customerId, { url }), 1)).toEqual(
          existing,
        );
        expect(await db.store.createEndpointWithinLimit(endpointInput(customerId), 1)).toEqual({
          outcome: 'limit_reached',
        });
        // another partner may use the URL
        const other = await db.store.createEndpointWithinLimit(
          endpointInput(await newPartner(db.store), { url }),
          20,
        );
        expect(other.outcome).toBe('created');

        const second = await db.store.createEndpointWithinLimit(
          endpointInput(customerId, { url: 'https://example.com/two' }),
          20,
        );
        if (second.outcome !== 'created') throw new Error(`not created: ${second.outcome}`);
        const at = new Date('2024-07-01T00:00:00Z');
        expect(
          await db.store.updateEndpoint(customerId, second.endpoint.id, { url, enabled: false }, at),
        ).toEqual(existing);
        expect(await db.store.getEndpoint(customerId, second.endpoint.id)).toEqual(second.endpoint);
        // its own URL again is no conflict; a missing endpoint is not found whatever its URL
        const same = await db.store.updateEndpoint(customerId, first.endpoint.id, { url }, at);
        expect(same).toMatchObject({ outcome: 'updated', endpoint: { url } });
        expect(await db.store.updateEndpoint(customerId, randomId(), { url }, at)).toEqual({
          outcome: 'not_found',
        });
      });

      it('lets one of many concurrent creates of one URL through', async () => {
        const customerId = await newPartner(db.store);
        const url = 'https://example.com/race';
        const outcomes = await Promise.all(
          Array.from({ length: 10 }, () =>
            db.store.createEndpointWithinLimit(endpointInput(customerId, { url }), 20),
          ),
        );
        expect(outcomes.filter((o) => o.outcome === 'created')).toHaveLength(1);
        expect(outcomes.filter((o) => o.outcome === 'url_taken')).toHaveLength(9);
        expect(await db.store.listEndpoints(customerId)).toHaveLength(1);
      });

      it('deletes, once, and only the owner’s', async () => {
        const customerId = await newPartner(db.store);
        const e = await db.store.createEndpoint(endpointInput(customerId));
        expect(await db.store.deleteEndpoint(await newPartner(db.store), e.id)).toBe(false);
        expect(await db.store.deleteEndpoint(customerId, e.id)).toBe(true);
        expect(await db.store.getEndpoint(customerId, e.id)).toBeUndefined();
        expect(await db.store.deleteEndpoint(customerId, e.id)).toBe(false);
      });

      it('rotates: the new secret is current and first, the old one lasts until its expiry', async () => {
        const customerId = await newPartner(db.store);
        const e = await db.store.createEndpoint(endpointInput(customerId));
        const at = new Date();
        const until = new Date(at.getTime() + 24 * 3600_000);
        const rotated = await db.store.rotateEndpointSecret(customerId, e.id, 'whsec_new', at, until);
        expect(rotated?.secrets).toEqual([
          { secret: 'whsec_new', createdAt: at, expiresAt: null },
          { secret: e.secrets[0]?.secret, createdAt: e.createdAt, expiresAt: until },
        ]);
        expect(rotated?.updatedAt).toEqual(at);
        expect((await db.store.listEndpoints(customerId))[0]?.secrets).toHaveLength(2);

        // a second rotation whose previous secret expires at once: only the newest is left
        const later = new Date(at.getTime() + 1000);
        const again = await db.store.rotateEndpointSecret(
          customerId,
          e.id,
          'whsec_newer',
          later,
          new Date(0),
        );
        expect(again?.secrets.map((s) => s.secret)).toEqual(['whsec_newer', e.secrets[0]?.secret]);
        expect((await db.store.getEndpoint(customerId, e.id))?.secrets[0]?.secret).toBe('whsec_newer');
      });

      it('omits secrets that have expired', async () => {
        const customerId = await newPartner(db.store);
        const e = await db.store.createEndpoint(endpointInput(customerId));
        const past = new Date(Date.now() - 1000);
        const rotated = await db.store.rotateEndpointSecret(customerId, e.id, 'whsec_only', new Date(), past);
        expect(rotated?.secrets.map((s) => s.secret)).toEqual(['whsec_only']);
        expect((await db.store.listEndpoints(customerId))[0]?.secrets.map((s) => s.secret)).toEqual([
          'whsec_only',
        ]);
      });

      it('does not rotate what is not there', async () => {
        const customerId = await newPartner(db.store);
        const e = await db.store.createEndpoint(endpointInput(customerId));
        const now = new Date();
        expect(
          await db.store.rotateEndpointSecret(customerId, randomId(), 'whsec_x', now, now),
        ).toBeUndefined();
        expect(
          await db.store.rotateEndpointSecret(await newPartner(db.store), e.id, 'whsec_x', now, now),
        ).toBe(undefined);
        expect((await db.store.getEndpoint(customerId, e.id))?.secrets).toEqual(e.secrets);
      });
    });

    describe('idempotency keys', () => {
      it('stores the first response per (partner, key) and returns it to later requests', async () => {
        const a = await newPartner(db.store);
        const b = await newPartner(db.store);
        const key = randomId('idem_');
        const first = { requestHash: 'h1', statusCode: 201, body: '{"client_customer_ref":"r"}' };
        expect(await db.store.getIdempotentResponse(a, key)).toBeUndefined();
        expect(await db.store.saveIdempotentResponse(a, key, first, new Date())).toEqual(first);
        const second = { requestHash: 'h2', statusCode: 409, body: '{}' };
        expect(await db.store.saveIdempotentResponse(a, key, second, new Date())).toEqual(first);
        expect(await db.store.getIdempotentResponse(a, key)).toEqual(first);
        expect(await db.store.getIdempotentResponse(b, key)).toBeUndefined();
        expect(await db.store.saveIdempotentResponse(b, key, second, new Date())).toEqual(second);
      });

      it('keeps one answer when the same key is saved concurrently', async () => {
        const a = await newPartner(db.store);
        const key = randomId('idem_');
        const saved = await Promise.all(
          Array.from({ length: 8 }, (_, i) =>
            db.store.saveIdempotentResponse(
              a,
              key,
              { requestHash: `h${i}`, statusCode: 201, body: `${i}` },
              new Date(),
            ),
          ),
        );
        expect(new Set(saved.map((r) => r.requestHash)).size).toBe(1);
      });

      it('prunes keys saved before a cutoff, oldest first, a batch at a time; a pruned key is free again', async () => {
        const a = await newPartner(db.store);
        const b = await newPartner(db.store);
        // Years back, so that the other tests' keys (saved now, in the same store) are never in range.
        const at = (day: number) => new Date(Date.UTC(2001, 0, day));
        const answer = (n: number) => ({ requestHash: `h${n}`, statusCode: 201, body: `${n}` });
        const keys: [string, string, Date][] = [];
        for (let day = 1; day <= 5; day++) {
          keys.push([day % 2 ? a : b, randomId('idem_'), at(day)]);
        }
        // Saved out of order: the oldest first is about created_at, not insertion.
        for (const i of [3, 0, 4, 1, 2]) {
          const [partner, key, created] = keys[i] as [string, string, Date];
          await db.store.saveIdempotentResponse(partner, key, answer(i), created);
        }
        const kept = async () => {
          const present: number[] = [];
          for (const [i, [partner, key]] of keys.entries())
            if (await db.store.getIdempotentResponse(partner, key)) present.push(i);
          return present;
        };
        // Before day 5: days 1-4, at most 3 now (the oldest three, whichever partner), then the rest.
        expect(await db.store.pruneIdempotencyKeys(at(5), 3)).toBe(3);
        expect(await kept()).toEqual([3, 4]);
        expect(await db.store.pruneIdempotencyKeys(at(5), 3)).toBe(1);
        expect(await db.store.pruneIdempotencyKeys(at(5), 3)).toBe(0);
        expect(await kept()).toEqual([4]);
        // A pruned key takes a new answer.
        const [partner, key] = keys[0] as [string, string, Date];
        expect(await db.store.saveIdempotentResponse(partner, key, answer(9), new Date())).toEqual(answer(9));
      });
    });
  });
}
