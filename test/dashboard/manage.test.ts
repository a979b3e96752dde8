/**
 * Doing real work in the dashboard, in memory (`app.inject()`) on each dialect, with the delivery queue
 * and sender on the same database and a real local receiver for the test event: endpoints subscribed
 * (the secret shown once), edited, disabled and enabled, rotated, tested and recovered, forms that keep
 * their values and show each error under its field; deliveries with their third party and searchable;
 * retries only where they make sense; the review queue's whole submission and its form kept on an
 * error; and the customer search by name.
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { csrfToken } from '../../src/dashboard/session.js';
import { buildApp } from '../../src/http/app.js';
import { generateToken, hashToken } from '../../src/http/auth.js';
import type { DeliveryQueue } from '../../src/storage/queue.js';
import type { Store } from '../../src/storage/store.js';
import { createSender } from '../../src/webhooks/dispatcher/sender.js';
import { validThirdParty } from '../customers/fixtures.js';
import { DIALECTS, openDatabase, skipReason, type TestDatabase } from '../support/databases.js';

const A = 'PARTNER_A';
const B = 'PARTNER_B';
const TYPE = 'THIRD PARTY CUSTOMER STATUS';
const WORKER = { workerId: 'dashboard-test', failureWindowMs: 5 * 24 * 3600_000 };

function cookieOf(res: LightMyRequestResponse): string {
  const value = String(res.headers['set-cookie']).split(';')[0];
  if (!value || res.statusCode !== 303) throw new Error(`log-in failed: ${res.statusCode}`);
  return value;
}

for (const dialect of DIALECTS) {
  describe.skipIf(skipReason(dialect) !== undefined)(`dashboard management (${dialect})`, () => {
    let db: TestDatabase;
    let store: Store;
    let queue: DeliveryQueue;
    let app: FastifyInstance;
    let receiver: Server;
    let receiverUrl: string;
    const received: IncomingHttpHeaders[] = [];
    const adminToken = generateToken('admin');
    let tokenA: string;
    let partnerCookie: string;
    let adminCookie: string;
    let partnerBCookie: string;
    let clock = Date.now() + 1000;

    const api = async (method: 'POST', url: string, token: string, body: unknown) => {
      const res = await app.inject({
        method,
        url,
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        payload: JSON.stringify(body),
      });
      if (res.statusCode >= 300) throw new Error(`${url}: ${res.statusCode} ${res.body}`);
      return res.json() as Record<string, unknown>;
    };
    const login = async (token: string) =>
      cookieOf(
        await app.inject({
          method: 'POST',
          url: '/dashboard/login',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          payload: new URLSearchParams({ token }).toString(),
        }),
      );
    const get = (url: string, cookie: string) => app.inject({ method: 'GET', url, headers: { cookie } });
    /** A form post as the browser sends it, with the session's CSRF token unless `csrf: false`. */
    const post = (url: string, cookie: string, fields: [string, string][], csrf = true) => {
      const form = new URLSearchParams(fields);
      if (csrf) form.set('csrf', csrfToken(cookie.slice(cookie.indexOf('=') + 1)));
      return app.inject({
        method: 'POST',
        url,
        headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' },
        payload: form.toString(),
      });
    };
    const endpointFields = (url: string, description = ''): [string, string][] => [
      ['url', url],
      ['event_types', TYPE],
      ['description', description],
    ];
    /** Claims the endpoint's due deliveries and records one attempt for `deliveryId`. */
    const attempt = async (
      endpointId: string,
      deliveryId: string,
      status: number,
      next: 'failed' | 'pending',
    ) => {
      clock += 60_000;
      const claimed = await queue.claim({
        workerId: WORKER.workerId,
        now: new Date(clock),
        leaseMs: 30_000,
        limit: 100,
        perEndpoint: 10,
      });
      const c = claimed.find((x) => x.id === deliveryId);
      if (!c) throw new Error(`not claimed: ${deliveryId}`);
      await queue.complete(
        [
          {
            deliveryId,
            endpointId,
            at: new Date(clock),
            durationMs: 4,
            statusCode: status,
            error: `HTTP ${status}`,
            responseExcerpt: 'down',
            next:
              next === 'pending'
                ? { status: 'pending', nextAttemptAt: new Date(clock + 3600_000) }
                : { status: next },
            succeeded: false,
          },
        ],
        WORKER,
      );
      await queue.release(
        WORKER.workerId,
        claimed.filter((x) => x.id !== deliveryId).map((x) => x.id),
      );
    };

    beforeAll(async () => {
      db = await openDatabase(dialect);
      ({ store, queue } = db);
      receiver = createServer((req, res) => {
        received.push(req.headers);
        req.resume();
        req.on('end', () => res.writeHead(204).end());
      });
      await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
      const address = receiver.address();
      receiverUrl = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/hook`;
      app = buildApp({
        store,
        adminTokenHash: hashToken(adminToken),
        allowPrivateEndpoints: true,
        endpointsPerPartner: 3,
        delivery: { queue, sender: createSender({ allowPrivateEndpoints: true }) },
      });
      await app.ready();
      tokenA = (await api('POST', '/api/v1/admin/partners', adminToken, { customer_id: A })).token as string;
      const tokenB = (await api('POST', '/api/v1/admin/partners', adminToken, { customer_id: B }))
        .token as string;
      for (const [ref, first, last] of [
        ['CUST_1', 'Ada', 'Lovelace'],
        ['CUST_2', 'Grace', 'Hopper'],
      ] as const) {
        const body = validThirdParty(ref);
        body.client_customer_details.first_name = first;
        body.client_customer_details.last_name = last;
        await api('POST', `/api/v1/customers/${A}/third-parties`, tokenA, body);
      }
      partnerCookie = await login(tokenA);
      partnerBCookie = await login(tokenB);
      adminCookie = await login(adminToken);
    });

    afterAll(async () => {
      await app?.close();
      await new Promise<void>((resolve) => (receiver ? receiver.close(() => resolve()) : resolve()));
      await db?.dispose();
    });

    let endpointId: string;
    let page: string;

    it('subscribes an endpoint, shows its secret once, and keeps the form with its errors in place', async () => {
      const form = await get('/dashboard/endpoints/new', partnerCookie);
      expect(form.statusCode).toBe(200);
      expect(form.body).toContain('<label for="ep-url">URL</label>');

      const bad = await post(
        '/dashboard/endpoints/new',
        partnerCookie,
        endpointFields('ftp://x.example/h', 'Mine'),
      );
      expect(bad.statusCode).toBe(400);
      expect(bad.body).toContain('value="ftp://x.example/h"');
      expect(bad.body).toContain('value="Mine"');
      expect(bad.body).toMatch(/<p class="field-error" id="ep-url-error" role="alert">[^<]+<\/p>/);
      expect(bad.body).toContain('aria-describedby="ep-url-error"');
      const noTypes = await post('/dashboard/endpoints/new', partnerCookie, [['url', receiverUrl]]);
      expect(noTypes.statusCode).toBe(400);
      expect(noTypes.body).toContain('Subscribe to at least one event type');
      expect(noTypes.body).toContain(`value="${receiverUrl}"`);
      expect(
        (await post('/dashboard/endpoints/new', partnerCookie, endpointFields(receiverUrl), false))
          .statusCode,
      ).toBe(403);
      expect(await store.listEndpoints(A)).toEqual([]);

      const created = await post(
        '/dashboard/endpoints/new',
        partnerCookie,
        endpointFields(receiverUrl, 'Main'),
      );
      expect(created.statusCode).toBe(201);
      const [endpoint] = await store.listEndpoints(A);
      if (!endpoint) throw new Error('not created');
      endpointId = endpoint.id;
      page = `/dashboard/endpoints/${A}/${endpointId}`;
      const secret = (await store.getEndpoint(A, endpointId))?.secrets[0]?.secret as string;
      expect(secret).toMatch(/^whsec_/);
      expect(created.body).toContain('store it now');
      expect(created.body).toContain(`<code class="secret-value" data-secret>${secret}</code>`);
      expect(created.headers['cache-control']).toBe('no-store');
      expect((await get(page, partnerCookie)).body).not.toContain(secret);

      // the same URL again: the API's 409 endpoint_exists, in place
      const again = await post(
        '/dashboard/endpoints/new',
        partnerCookie,
        endpointFields(receiverUrl, 'Twice'),
      );
      expect(again.statusCode).toBe(409);
      expect(again.body).toContain(`Another endpoint of this partner (${endpointId}) already has this URL`);
      expect(again.body).toContain('value="Twice"');
      // the cap (ENDPOINTS_PER_PARTNER = 3)
      for (const n of [2, 3]) {
        const r = await post(
          '/dashboard/endpoints/new',
          partnerCookie,
          endpointFields(`http://127.0.0.1:9/h${n}`),
        );
        expect(r.statusCode).toBe(201);
      }
      const over = await post(
        '/dashboard/endpoints/new',
        partnerCookie,
        endpointFields('http://127.0.0.1:9/h4'),
      );
      expect(over.statusCode).toBe(409);
      expect(over.body).toContain('A partner may have 3 webhook endpoints');
      expect(over.body).toContain('value="http://127.0.0.1:9/h4"');

      // the operator chooses the partner; a partner cannot subscribe for another
      const adminForm = await get(`/dashboard/endpoints/new?partner=${B}`, adminCookie);
      expect(adminForm.body).toContain(`<option value="${B}" selected>`);
      const noPartner = await post(
        '/dashboard/endpoints/new',
        adminCookie,
        endpointFields('http://127.0.0.1:9/b'),
      );
      expect(noPartner.statusCode).toBe(400);
      expect(noPartner.body).toContain('Choose the partner the endpoint is for.');
      const forB = await post('/dashboard/endpoints/new', adminCookie, [
        ['customer_id', B],
        ...endpointFields('http://127.0.0.1:9/b'),
      ]);
      expect(forB.statusCode).toBe(201);
      expect(await store.listEndpoints(B)).toHaveLength(1);
      const sneaky = await post('/dashboard/endpoints/new', partnerBCookie, [
        ['customer_id', A],
        ...endpointFields('http://127.0.0.1:9/sneaky'),
      ]);
      expect(sneaky.statusCode).toBe(201);
      expect((await store.listEndpoints(B)).map((e) => e.url)).toContain('http://127.0.0.1:9/sneaky');
      expect((await store.listEndpoints(A)).map((e) => e.url)).not.toContain('http://127.0.0.1:9/sneaky');
    });

    it('edits the URL and event types in place, refusing a bad or taken URL with the values kept', async () => {
      const bad = await post(`${page}/edit`, partnerCookie, endpointFields('not a url', 'Edited'));
      expect(bad.statusCode).toBe(400);
      expect(bad.body).toContain('value="not a url"');
      expect(bad.body).toContain('id="ep-url-error"');
      const taken = await post(`${page}/edit`, partnerCookie, endpointFields('http://127.0.0.1:9/h2'));
      expect(taken.statusCode).toBe(409);
      expect(taken.body).toContain('already has this URL');
      expect((await store.getEndpoint(A, endpointId))?.url).toBe(receiverUrl);
      const noTypes = await post(`${page}/edit`, partnerCookie, [['url', receiverUrl]]);
      expect(noTypes.statusCode).toBe(400);

      const saved = await post(`${page}/edit`, partnerCookie, endpointFields(`${receiverUrl}?v=2`, 'Edited'));
      expect(saved.statusCode).toBe(303);
      expect(saved.headers.location).toBe(`${page}?done=updated`);
      const e = await store.getEndpoint(A, endpointId);
      expect([e?.url, e?.description, e?.eventTypes]).toEqual([`${receiverUrl}?v=2`, 'Edited', [TYPE]]);
      expect((await get(`${page}?done=updated`, partnerCookie)).body).toContain('Endpoint saved.');
      expect(
        (await post(`${page}/edit`, partnerBCookie, endpointFields('http://127.0.0.1:9/x'))).statusCode,
      ).toBe(404);
    });

    it('sets and removes the rate limit in the form, shown in the table, a bad one refused in place', async () => {
      const fields = (rate: string) => [
        ...endpointFields(`${receiverUrl}?v=2`, 'Edited'),
        ['rate_limit', rate],
      ];
      for (const wrong of ['0', '-3', '2.5', '10001', 'fast']) {
        const bad = await post(`${page}/edit`, partnerCookie, fields(wrong) as [string, string][]);
        expect(bad.statusCode, wrong).toBe(400);
        expect(bad.body).toContain(`value="${wrong}"`);
        expect(bad.body).toMatch(
          /<p class="field-error" id="ep-rate-limit-error" role="alert">Must be a whole number of deliveries per second from 1 to 10000, or null for no limit<\/p>/,
        );
      }
      expect((await store.getEndpoint(A, endpointId))?.rateLimit).toBeNull();
      const saved = await post(`${page}/edit`, partnerCookie, fields('25') as [string, string][]);
      expect(saved.statusCode).toBe(303);
      expect((await store.getEndpoint(A, endpointId))?.rateLimit).toBe(25);
      expect((await get(page, partnerCookie)).body).toMatch(/<dt>Rate limit<\/dt><dd>25\/s<\/dd>/);
      expect((await get(page, partnerCookie)).body).toContain('name="rate_limit" type="number"');
      const table = (await get('/dashboard/endpoints', partnerCookie)).body;
      expect(table).toContain('<th scope="col">Rate limit</th>');
      expect(table).toContain('<td data-label="Rate limit">25/s</td>');
      // subscribed with a limit
      const limited = await post('/dashboard/endpoints/new', adminCookie, [
        ['customer_id', B],
        ...endpointFields('http://127.0.0.1:9/b-limited'),
        ['rate_limit', '7'],
      ]);
      expect(limited.statusCode).toBe(201);
      expect((await store.listEndpoints(B)).find((e) => e.url.endsWith('/b-limited'))?.rateLimit).toBe(7);
      // emptied: no limit
      expect((await post(`${page}/edit`, partnerCookie, fields('') as [string, string][])).statusCode).toBe(
        303,
      );
      expect((await store.getEndpoint(A, endpointId))?.rateLimit).toBeNull();
    });

    it('disables (after a confirmation) and enables, and rotates the secret, shown once', async () => {
      const before = (await get(page, partnerCookie)).body;
      expect(before).toMatch(/<details class="confirm danger">\s*<summary>Disable…<\/summary>/);
      expect(before).toMatch(/<summary>Rotate the secret…<\/summary>/);
      const off = await post(`${page}/enabled`, partnerCookie, [['enabled', 'false']]);
      expect(off.statusCode).toBe(303);
      expect((await store.getEndpoint(A, endpointId))?.enabled).toBe(false);
      const disabled = (await get(off.headers.location as string, partnerCookie)).body;
      expect(disabled).toContain('Endpoint disabled');
      expect(disabled).toContain('>Enable</button>');
      expect((await post(`${page}/enabled`, partnerCookie, [['enabled', 'maybe']])).statusCode).toBe(400);
      expect((await post(`${page}/enabled`, partnerCookie, [['enabled', 'true']])).statusCode).toBe(303);
      expect((await store.getEndpoint(A, endpointId))?.enabled).toBe(true);

      const rotated = await post(`${page}/rotate`, partnerCookie, []);
      expect(rotated.statusCode).toBe(200);
      const secrets = (await store.getEndpoint(A, endpointId))?.secrets ?? [];
      expect(secrets).toHaveLength(2);
      expect(rotated.body).toContain('New signing secret: store it now');
      expect(rotated.body).toContain(`data-secret>${secrets[0]?.secret}</code>`);
      expect(rotated.body).not.toContain(secrets[1]?.secret as string);
      expect((await post(`${page}/rotate`, partnerBCookie, [])).statusCode).toBe(404);
    });

    it('sends a signed test event to the receiver and says how it answered', async () => {
      const res = await post(`${page}/test`, partnerCookie, []);
      expect(res.statusCode).toBe(200);
      expect(res.body.match(/Test event [^<]+/)?.[0]).toMatch(
        /^Test event [0-9a-f-]{36} delivered: HTTP 204 in \d+ ms\.$/,
      );
      expect(received).toHaveLength(1);
      expect(received[0]?.['webhook-signature']).toMatch(/^v1,/);
    });

    it('shows each delivery with its third party and status, searches them, and retries only where it makes sense', async () => {
      for (const [ref, status] of [
        ['CUST_1', 'APPROVED'],
        ['CUST_2', 'REJECTED'],
      ] as const) {
        await api('POST', `/api/v1/admin/customers/${A}/third-parties/${ref}/decision`, adminToken, {
          status,
          ...(status === 'REJECTED' ? { reasons: [{ code: 'DOCUMENTS_MISSING', reason: 'No ID' }] } : {}),
        });
      }
      const all = await store.listDeliveries(A, endpointId, { limit: 10 });
      const byRef = async (ref: string) =>
        (await store.searchDeliveries({ customerId: A, endpointId, refContains: ref, limit: 10 })).items[0];
      const one = await byRef('cust_1');
      const two = await byRef('CUST_2');
      expect(all.items).toHaveLength(2);
      if (!one || !two) throw new Error('deliveries missing');
      expect([one.clientCustomerRef, one.eventStatus, two.eventStatus]).toEqual([
        'CUST_1',
        'APPROVED',
        'REJECTED',
      ]);
      await attempt(endpointId, one.id, 500, 'failed');

      const list = (await get(page, partnerCookie)).body;
      expect(list).toContain(`data-ref="CUST_1"`);
      expect(list).toMatch(
        /<a class="ref" href="\/dashboard\/customers\/PARTNER_A\/CUST_2">CUST_2<\/a>\s*→ <span class="badge badge-rejected">REJECTED<\/span>/,
      );
      // the failed one has a retry behind a confirmation; the due pending one (in flight soon) has none
      const card = (id: string) =>
        list.slice(list.indexOf(`id="delivery-${id}"`)).split('</article>')[0] as string;
      expect(card(one.id)).toMatch(/<summary>Retry now<\/summary>[\s\S]*Yes, send it again now/);
      expect(card(two.id)).not.toContain('Retry now');

      const found = (await get(`${page}?ref=cust_2`, partnerCookie)).body;
      expect(found).toContain(`id="delivery-${two.id}"`);
      expect(found).not.toContain(`id="delivery-${one.id}"`);
      expect(found).toContain('value="cust_2"');
      const failed = (await get(`${page}?status=failed`, partnerCookie)).body;
      expect(failed).toContain(`id="delivery-${one.id}"`);
      expect(failed).not.toContain(`id="delivery-${two.id}"`);
      const later = new Date(Date.now() + 3600_000).toISOString().slice(0, 16);
      expect((await get(`${page}?from=${later}`, partnerCookie)).body).toContain('No deliveries match.');
      const earlier = new Date(Date.now() - 3600_000).toISOString().slice(0, 16);
      const ranged = (await get(`${page}?from=${earlier}&to=${later}&status=pending`, partnerCookie)).body;
      expect(ranged).toContain(`id="delivery-${two.id}"`);
      expect(ranged).toContain(`value="${earlier}"`);
      expect((await get(`${page}?from=garbage`, partnerCookie)).statusCode).toBe(200);

      const retryOf = (id: string) => `${page}/deliveries/${id}/retry`;
      expect((await post(retryOf(two.id), partnerCookie, [])).statusCode).toBe(409);
      const retried = await post(retryOf(one.id), partnerCookie, [['back', `${page}?status=failed`]]);
      expect(retried.statusCode).toBe(303);
      expect(retried.headers.location).toBe(`${page}?status=failed&retried=${one.id}#delivery-${one.id}`);
      expect((await store.getDelivery(A, endpointId, one.id))?.status).toBe('pending');
      expect((await post(retryOf(one.id), partnerBCookie, [])).statusCode).toBe(404);
    });

    it('re-queues failed deliveries since a time, and says what is wrong with the time in place', async () => {
      const [d] = (
        await store.searchDeliveries({ customerId: A, endpointId, refContains: 'CUST_1', limit: 1 })
      ).items;
      if (!d) throw new Error('no delivery');
      await attempt(endpointId, d.id, 500, 'failed');
      const bad = await post(`${page}/recover`, partnerCookie, [['since', 'yesterday']]);
      expect(bad.statusCode).toBe(400);
      expect(bad.body).toContain('value="yesterday"');
      expect(bad.body).toContain('id="recover-error"');
      const since = new Date(Date.now() - 3600_000).toISOString().slice(0, 16);
      const ok = await post(`${page}/recover`, partnerCookie, [['since', since]]);
      expect(ok.statusCode).toBe(303);
      expect(ok.headers.location).toBe(`${page}?requeued=1`);
      expect((await get(ok.headers.location as string, partnerCookie)).body).toContain(
        '1 failed delivery queued to be sent again.',
      );
      expect((await store.getDelivery(A, endpointId, d.id))?.status).toBe('pending');
    });

    it('shows the whole submission in the review queue and keeps a REJECT without reason on its card', async () => {
      const body = validThirdParty('CUST_3');
      body.client_customer_details.first_name = 'Katherine';
      body.client_customer_details.last_name = 'Johnson';
      await api('POST', `/api/v1/customers/${A}/third-parties`, tokenA, body);
      const queue = (await get('/dashboard/review', adminCookie)).body;
      const card = queue.slice(queue.indexOf('data-ref="CUST_3"')).split('</form>')[0] as string;
      for (const text of [
        'Katherine Johnson',
        '1985-04-12',
        'ada@example.com',
        '+14155552671',
        '1 Market Street',
        'San Francisco CA 94105',
        'Engineer',
        'Analytical Engines Inc',
        'USD 100,000 – USD 200,000 a year',
        'PROP_1',
        '12B, Harbour View, Bayside',
        'USD 750,000.5',
      ]) {
        expect(card, text).toContain(text);
      }

      const res = await post(`/dashboard/review/${A}/CUST_3/decision`, adminCookie, [
        ['status', 'REJECTED'],
        ['code', 'DOCUMENTS_MISSING'],
        ['reason', ''],
        ['back', '/dashboard/review'],
      ]);
      expect(res.statusCode).toBe(400);
      const kept = res.body.slice(res.body.indexOf('data-ref="CUST_3"')).split('</form>')[0] as string;
      expect(kept).toContain('data-failed');
      expect(kept.match(/role="alert" id="d\d+-error">[^<]+/)?.[0]).toContain(
        'No decision recorded for CUST_3.',
      );
      expect(kept).toContain('value="REJECTED" checked');
      expect(kept).toContain('value="DOCUMENTS_MISSING"');
      expect((await store.getThirdParty(A, 'CUST_3'))?.status).toBe('PENDING');
    });

    it('finds customers by name as well as by reference', async () => {
      const names = async (q: string) => {
        const res = await get(`/dashboard/customers?q=${encodeURIComponent(q)}`, adminCookie);
        return [...res.body.matchAll(/<td data-label="Name">([^<]+)<\/td>/g)].map((m) => m[1]).sort();
      };
      expect(await names('lovelace')).toEqual(['Ada Lovelace']);
      expect(await names('GRACE H')).toEqual(['Grace Hopper']);
      expect(await names('cust_3')).toEqual(['Katherine Johnson']);
      expect(await names('nobody')).toEqual([]);
      const page1 = await store.searchThirdParties({
        customerId: A,
        nameOrRefContains: 'a',
        limit: 10,
        offset: 0,
      });
      expect(page1.total).toBe(3);
    });
  });
}
