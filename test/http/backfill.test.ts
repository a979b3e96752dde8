/**
 * Re-enabling an endpoint with its backlog (issue 14): `PATCH …/webhooks/{id}` with `enabled: true`
 * queues the events emitted while it was disabled (`backlog: deliver`, the default) or skips them, on
 * both databases, with the dispatcher delivering to a real local receiver.
 */
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { csrfToken } from '../../src/dashboard/session.js';
import { buildApp } from '../../src/http/app.js';
import { generateToken, hashToken } from '../../src/http/auth.js';
import { createDispatcher, type Dispatcher } from '../../src/webhooks/dispatcher/dispatcher.js';
import { type Sink, startSink } from '../dispatcher/sink.js';
import { DIALECTS, openDatabase, skipReason, type TestDatabase } from '../support/databases.js';
import { decide, decision, EVENT_TYPE, newThirdParty, REASONS } from '../support/fixtures.js';
import { waitFor } from '../support/wait-for.js';
import { expectErrorShape } from './harness.js';

/** An event type no endpoint here subscribes to (the API knows one type; the store takes any). */
const OTHER_TYPE = 'SOMETHING ELSE';

for (const dialect of DIALECTS) {
  describe.skipIf(skipReason(dialect) !== undefined)(`re-enable with backfill (${dialect})`, () => {
    let db: TestDatabase;
    let app: FastifyInstance;
    let sink: Sink;
    let dispatcher: Dispatcher;
    const adminToken = generateToken('admin');

    beforeAll(async () => {
      db = await openDatabase(dialect, { memory: true });
      app = buildApp({ store: db.store, adminTokenHash: hashToken(adminToken), allowPrivateEndpoints: true });
      await app.ready();
      sink = await startSink();
      // polls once a minute: only a wake-up (a decision, a backfill) makes it claim within a test
      dispatcher = createDispatcher({ queue: db.queue, allowPrivateEndpoints: true, pollIntervalMs: 60_000 });
      dispatcher.start();
      await dispatcher.idle();
    });
    afterAll(async () => {
      await dispatcher?.stop(1000);
      await sink?.close();
      await app?.close();
      await db?.dispose();
    });

    const call = (method: 'POST' | 'PATCH', url: string, token: string, body: unknown) =>
      app.inject({
        method,
        url,
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        payload: JSON.stringify(body),
      });

    /** A partner with one endpoint posting to `path` on the sink. */
    async function partnerWithEndpoint(customerId: string, path: string) {
      const p = await call('POST', '/api/v1/admin/partners', adminToken, {
        customer_id: customerId,
        name: `Partner ${customerId}`,
      });
      expect(p.statusCode).toBe(201);
      const token = (p.json() as { token: string }).token;
      const created = await call('POST', `/api/v1/customers/${customerId}/webhooks`, token, {
        url: sink.url(path),
        event_types: [EVENT_TYPE],
      });
      expect(created.statusCode).toBe(201);
      const id = (created.json() as { id: string }).id;
      const patch = (body: unknown) =>
        call('PATCH', `/api/v1/customers/${customerId}/webhooks/${id}`, token, body);
      return { token, id, patch };
    }

    const received = (path: string) =>
      sink.received.filter((r) => r.path === path).map((r) => String(r.headers['webhook-id']));
    const deliveriesOf = async (customerId: string, endpointId: string) =>
      (await db.store.listDeliveries(customerId, endpointId, { limit: 100 })).items;

    it('delivers the backlog in event order, once, and only the subscribed types', async () => {
      const partner = '0201000000000141';
      const ep = await partnerWithEndpoint(partner, '/deliver');
      // a slow answer: a later event of a third party would overtake an earlier one without the heads
      sink.on('/deliver', () => ({ status: 200, delayMs: 50 }));
      const a = await newThirdParty(db.store, partner);
      const b = await newThirdParty(db.store, partner);
      const before = await decide(db.store, partner, a, 'APPROVED');
      await waitFor(async () => (await deliveriesOf(partner, ep.id))[0]?.status === 'delivered', {
        what: 'the event before the disable delivered',
      });

      const off = await ep.patch({ enabled: false });
      expect(off.statusCode).toBe(200);
      expect(off.json()).toMatchObject({ enabled: false, backfilled: 0 });
      expect((await db.store.getEndpoint(partner, ep.id))?.disabledAt).toBeInstanceOf(Date);

      const a1 = await decide(db.store, partner, a, 'REJECTED');
      const b1 = await decide(db.store, partner, b, 'APPROVED');
      const a2 = await decide(db.store, partner, a, 'APPROVED');
      const other = await db.store.recordDecision({
        ...decision(partner, b, 'REJECTED', REASONS.slice(0, 1), new Date()),
        buildEvent: (previousEventAt) => {
          const built = decision(partner, b, 'REJECTED', REASONS.slice(0, 1)).buildEvent(previousEventAt);
          return { ...built, eventType: OTHER_TYPE };
        },
      });
      expect(other.outcome).toBe('changed');
      expect(await deliveriesOf(partner, ep.id)).toHaveLength(1);

      const on = await ep.patch({ enabled: true });
      expect(on.statusCode).toBe(200);
      expect(on.json()).toMatchObject({ enabled: true, disabled_reason: null, backfilled: 3 });
      expect((await db.store.getEndpoint(partner, ep.id))?.disabledAt).toBeNull();

      // one delivery per missed event of the subscribed type, none for the other type
      const queued = await deliveriesOf(partner, ep.id);
      expect(queued.map((d) => d.eventId).sort()).toEqual([before, a1, b1, a2].sort());

      // the dispatcher was woken by the enable (it polls once a minute) and sends each third party's in order
      await waitFor(() => received('/deliver').length >= 4, { what: 'the backlog delivered' });
      await waitFor(async () => (await deliveriesOf(partner, ep.id)).every((d) => d.status === 'delivered'), {
        what: 'every delivery recorded',
      });
      const got = received('/deliver');
      expect(got).toHaveLength(4); // the event delivered before the disable is not sent again
      expect(got.filter((id) => [before, a1, a2].includes(id))).toEqual([before, a1, a2]);
      expect(got).toContain(b1);
    });

    it('skips the backlog when asked: nothing queued, later events delivered', async () => {
      const partner = '0201000000000142';
      const ep = await partnerWithEndpoint(partner, '/skip');
      const a = await newThirdParty(db.store, partner);
      const b = await newThirdParty(db.store, partner);
      expect((await ep.patch({ enabled: false })).statusCode).toBe(200);
      await decide(db.store, partner, a, 'APPROVED');
      await decide(db.store, partner, b, 'APPROVED');
      await decide(db.store, partner, a, 'REJECTED');

      const on = await ep.patch({ enabled: true, backlog: 'skip' });
      expect(on.statusCode).toBe(200);
      expect(on.json()).toMatchObject({ enabled: true, backfilled: 0 });
      expect(await deliveriesOf(partner, ep.id)).toHaveLength(0);

      const after = await decide(db.store, partner, b, 'REJECTED');
      await waitFor(() => received('/skip').length >= 1, { what: 'the event after the enable' });
      expect(received('/skip')).toEqual([after]);
    });

    it('refuses backlog without enabled: true (400), changing nothing', async () => {
      const partner = '0201000000000143';
      const ep = await partnerWithEndpoint(partner, '/refused');
      for (const body of [
        { backlog: 'deliver' },
        { enabled: false, backlog: 'skip' },
        { enabled: true, backlog: 'later' },
      ]) {
        const res = await ep.patch(body);
        expect(res.statusCode, JSON.stringify(body)).toBe(400);
        expect(expectErrorShape(res).code).toBe('validation_failed');
      }
      expect((await db.store.getEndpoint(partner, ep.id))?.enabled).toBe(true);
      // on an endpoint already enabled, enabled: true queues nothing
      const again = await ep.patch({ enabled: true, backlog: 'deliver' });
      expect(again.statusCode).toBe(200);
      expect(again.json()).toMatchObject({ backfilled: 0 });
    });

    it('records when the dispatcher disabled an endpoint (410) and backfills from then', async () => {
      const partner = '0201000000000144';
      const ep = await partnerWithEndpoint(partner, '/gone');
      let gone = true;
      sink.on('/gone', () => ({ status: gone ? 410 : 200 }));
      const a = await newThirdParty(db.store, partner);
      const refused = await decide(db.store, partner, a, 'APPROVED');
      const endpoint = await waitFor(
        async () => {
          const e = await db.store.getEndpoint(partner, ep.id);
          return e && !e.enabled ? e : undefined;
        },
        { what: 'the endpoint disabled on 410' },
      );
      expect(endpoint.disabledAt).toBeInstanceOf(Date);
      expect(endpoint.disabledReason).toMatch(/410/);

      const missed = await decide(db.store, partner, a, 'REJECTED');
      gone = false;
      const on = await ep.patch({ enabled: true });
      expect(on.json()).toMatchObject({ enabled: true, backfilled: 1 });
      await waitFor(() => received('/gone').includes(missed), { what: 'the missed event delivered' });
      // the event answered 410 keeps its one (failed) delivery: it is not queued again
      expect(received('/gone')).toEqual([refused, missed]);
    });

    it('offers the same choice in the dashboard and says how many were queued', async () => {
      const partner = '0201000000000145';
      const ep = await partnerWithEndpoint(partner, '/dash');
      const login = await app.inject({
        method: 'POST',
        url: '/dashboard/login',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        payload: new URLSearchParams({ token: ep.token }).toString(),
      });
      const cookie = String(login.headers['set-cookie']).split(';')[0] ?? '';
      const page = `/dashboard/endpoints/${partner}/${ep.id}`;
      const post = (fields: Record<string, string>) =>
        app.inject({
          method: 'POST',
          url: `${page}/enabled`,
          headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' },
          payload: new URLSearchParams({
            ...fields,
            csrf: csrfToken(cookie.slice(cookie.indexOf('=') + 1)),
          }).toString(),
        });
      const show = async (location: unknown) =>
        (await app.inject({ method: 'GET', url: String(location), headers: { cookie } })).body;

      expect((await post({ enabled: 'false' })).statusCode).toBe(303);
      const disabledPage = await show(page);
      expect(disabledPage).toContain('<input type="radio" name="backlog" value="deliver" checked>');
      expect(disabledPage).toContain('<input type="radio" name="backlog" value="skip">');
      const [a, b] = [await newThirdParty(db.store, partner), await newThirdParty(db.store, partner)];
      const missed = [
        await decide(db.store, partner, a, 'APPROVED'),
        await decide(db.store, partner, b, 'APPROVED'),
      ];

      const delivered = await post({ enabled: 'true', backlog: 'deliver' });
      expect(delivered.statusCode).toBe(303);
      expect(await show(delivered.headers.location)).toContain(
        '2 deliveries of the events emitted while it was disabled queued, in order.',
      );
      await waitFor(() => received('/dash').length >= 2, { what: 'the backlog delivered' });
      expect(received('/dash').sort()).toEqual(missed.sort());

      expect((await post({ enabled: 'false' })).statusCode).toBe(303);
      await decide(db.store, partner, a, 'REJECTED');
      const skipped = await post({ enabled: 'true', backlog: 'skip' });
      expect(skipped.statusCode).toBe(303);
      expect(await show(skipped.headers.location)).toContain(
        'The events emitted while it was disabled were skipped.',
      );
      expect(await deliveriesOf(partner, ep.id)).toHaveLength(2);
      expect((await post({ enabled: 'true', backlog: 'later' })).statusCode).toBe(400);
    });
  });
}
