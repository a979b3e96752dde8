/**
 * The dashboard in memory (`app.inject()`), on each dialect (test/support/databases.ts): log-in and the
 * session cookie, what the operator and a partner may see, escaping of everything a partner
 * submitted, the review queue's decision (the same transaction as the API's), CSRF and cross-site
 * refusals, security headers, and the chart's JSON.
 */
import { readFileSync } from 'node:fs';
import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { csrfToken } from '../../src/dashboard/session.js';
import { startService, type TestService, validThirdParty } from '../http/harness.js';
import { DIALECTS, skipReason } from '../support/databases.js';

const A = 'PARTNER_A';
const B = 'PARTNER_B';
const XSS = '<script>alert("x")</script>';

function cookieOf(res: LightMyRequestResponse): string {
  const header = res.headers['set-cookie'];
  const value = Array.isArray(header) ? header[0] : header;
  if (!value) throw new Error(`no set-cookie: ${res.statusCode} ${res.body}`);
  return value.split(';')[0] as string;
}

/** The session id a `name=value` cookie carries: what the CSRF token is derived from. */
const sessionIdOf = (cookie: string): string => cookie.slice(cookie.indexOf('=') + 1);

for (const dialect of DIALECTS) {
  describe.skipIf(skipReason(dialect) !== undefined)(`dashboard (${dialect})`, () => {
    let svc: TestService;
    let tokenA: string;
    let adminCookie: string;
    let partnerCookie: string;

    const login = async (token: string) =>
      svc.app.inject({
        method: 'POST',
        url: '/dashboard/login',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        payload: new URLSearchParams({ token }).toString(),
      });
    const get = (url: string, cookie: string | undefined) =>
      svc.app.inject({ method: 'GET', url, headers: cookie ? { cookie } : {} });
    const post = (url: string, cookie: string, fields: Record<string, string>, headers = {}) =>
      svc.app.inject({
        method: 'POST',
        url,
        headers: { cookie, 'content-type': 'application/x-www-form-urlencoded', ...headers },
        payload: new URLSearchParams(fields).toString(),
      });

    beforeAll(async () => {
      svc = await startService({ dialect });
      tokenA = await svc.partner(A);
      const tokenB = await svc.partner(B);
      const hostile = validThirdParty('CUST_XSS');
      hostile.client_customer_details.first_name = XSS;
      hostile.client_customer_details.occupation = `"><img src=x onerror=alert(1)>`;
      for (const [token, customerId, body] of [
        [tokenA, A, validThirdParty('CUST_A1')],
        [tokenA, A, hostile],
        [tokenB, B, validThirdParty('CUST_B1')],
      ] as const) {
        const res = await svc.call('POST', `/api/v1/customers/${customerId}/third-parties`, { token, body });
        expect(res.statusCode).toBe(201);
      }
      const endpoint = await svc.call('POST', `/api/v1/customers/${A}/webhooks`, {
        token: tokenA,
        body: { url: 'http://127.0.0.1:9/hook', event_types: ['THIRD PARTY CUSTOMER STATUS'] },
      });
      expect(endpoint.statusCode).toBe(201);
      adminCookie = cookieOf(await login(svc.adminToken));
      partnerCookie = cookieOf(await login(tokenA));
    });

    afterAll(async () => {
      await svc?.close();
    });

    it('sends a visitor without a session to the log-in form, and refuses a wrong token', async () => {
      const res = await get('/dashboard/customers?status=PENDING', undefined);
      expect(res.statusCode).toBe(303);
      expect(res.headers.location).toBe(
        `/dashboard/login?next=${encodeURIComponent('/dashboard/customers?status=PENDING')}`,
      );
      const form = await get('/dashboard/login', undefined);
      expect(form.statusCode).toBe(200);
      expect(form.body).toContain('<label for="token">Token</label>');
      expect(form.body).toContain('<meta name="viewport"');

      const wrong = await login('tpcs_pk_not-a-token');
      expect(wrong.statusCode).toBe(401);
      expect(wrong.headers['set-cookie']).toBeUndefined();
      expect(wrong.body).toContain('That token is not valid.');
      expect((await get('/dashboard/customers', 'tpcs_dashboard=tpcs_pk_forged')).statusCode).toBe(303);
    });

    it('keeps the token in an HttpOnly, SameSite=Strict cookie and redirects only within the dashboard', async () => {
      const res = await login(svc.adminToken);
      expect(res.statusCode).toBe(303);
      expect(res.headers.location).toBe('/dashboard/customers');
      const setCookie = String(res.headers['set-cookie']);
      expect(setCookie).toMatch(/HttpOnly/);
      expect(setCookie).toMatch(/SameSite=Strict/);
      expect(setCookie).toMatch(/Path=\/dashboard/);
      for (const next of [
        'https://evil.example/',
        '//evil.example/',
        '/dashboard//evil.example',
        '/\\evil',
      ]) {
        const r = await svc.app.inject({
          method: 'POST',
          url: '/dashboard/login',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          payload: new URLSearchParams({ token: svc.adminToken, next }).toString(),
        });
        expect(r.headers.location).toBe('/dashboard/customers');
      }
    });

    it('sends security headers and no inline script on every page', async () => {
      for (const url of [
        '/dashboard/login',
        '/dashboard/customers',
        '/dashboard/endpoints',
        '/dashboard/review',
      ]) {
        const res = await get(url, adminCookie);
        expect(res.statusCode, url).toBe(200);
        expect(res.headers['content-security-policy']).toMatch(/default-src 'self'/);
        expect(res.headers['content-security-policy']).not.toMatch(/unsafe-inline/);
        expect(res.headers['x-frame-options']).toBe('DENY');
        expect(res.headers['content-type']).toMatch(/^text\/html/);
        // the only script is the served file
        expect(res.body.match(/<script\b[^>]*>/g)).toEqual([
          '<script type="module" src="/dashboard/assets/app.js">',
        ]);
        // no event handler attribute in any tag (escaped text such as `onerror=` in a name is no tag)
        expect(res.body).not.toMatch(/<[^>]*\son[a-z]+=/i);
      }
      // the files in src/dashboard/assets/, served as they are, revalidated on each use
      const css = await get('/dashboard/assets/app.css', undefined);
      expect(css.statusCode).toBe(200);
      expect(css.headers['content-type']).toMatch(/^text\/css/);
      expect(css.headers['cache-control']).toBe('no-cache');
      expect(css.body).toBe(
        readFileSync(new URL('../../src/dashboard/assets/app.css', import.meta.url), 'utf8'),
      );
      const js = await get('/dashboard/assets/app.js', undefined);
      expect(js.headers['content-type']).toMatch(/^text\/javascript/);
      expect(js.headers['cache-control']).toBe('no-cache');
      expect(js.body).toBe(
        readFileSync(new URL('../../src/dashboard/assets/app.js', import.meta.url), 'utf8'),
      );
      // it draws with DOM calls: nothing it reads is parsed as markup
      expect(js.body).not.toMatch(/\.(innerHTML|outerHTML)\s*=|insertAdjacentHTML|document\.write/);
    });

    it('reads a field sent twice as its first value, in a query string and in a form', async () => {
      const res = await get(
        '/dashboard/customers?status=APPROVED&status=PENDING&q=nobody&q=xss',
        adminCookie,
      );
      expect(res.statusCode).toBe(200);
      expect(res.body).toContain('<option value="APPROVED" selected>');
      expect(res.body).toContain('No third-party customers match.');
      expect((await get('/dashboard/customers?page=x&status=NONE', adminCookie)).statusCode).toBe(200);

      const csrf = csrfToken(sessionIdOf(adminCookie));
      const url = `/dashboard/review/${A}/CUST_NOBODY/decision`;
      const twice = await svc.app.inject({
        method: 'POST',
        url,
        headers: { cookie: adminCookie, 'content-type': 'application/x-www-form-urlencoded' },
        payload: `csrf=${encodeURIComponent(csrf)}&csrf=forged&status=MAYBE&status=APPROVED`,
      });
      expect(twice.statusCode).toBe(400);
      expect(twice.body).toContain('No decision recorded for CUST_NOBODY. status:');
    });

    it('escapes everything a partner submitted', async () => {
      for (const cookie of [adminCookie, partnerCookie]) {
        for (const url of ['/dashboard/customers', `/dashboard/customers/${A}/CUST_XSS`]) {
          const res = await get(url, cookie);
          expect(res.statusCode).toBe(200);
          expect(res.body).not.toContain(XSS);
          expect(res.body).not.toContain('<img src=x');
          expect(res.body).toContain('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;');
        }
      }
      const review = await get('/dashboard/review', adminCookie);
      expect(review.body).not.toContain(XSS);
      expect(review.body).toContain('&lt;script&gt;');
    });

    it('shows the operator every partner (or the one picked) and a partner only its own data', async () => {
      const all = await get('/dashboard/customers', adminCookie);
      expect(all.body).toContain('CUST_A1');
      expect(all.body).toContain('CUST_B1');
      expect(all.body).toContain(`<option value="${B}">`);
      const picked = await get(`/dashboard/customers?partner=${B}`, adminCookie);
      expect(picked.body).toContain('CUST_B1');
      expect(picked.body).not.toContain('CUST_A1');

      const own = await get(`/dashboard/customers?partner=${B}`, partnerCookie);
      expect(own.body).toContain('CUST_A1');
      expect(own.body).not.toContain('CUST_B1');
      expect(own.body).not.toContain('Review queue');
      expect((await get(`/dashboard/customers/${B}/CUST_B1`, partnerCookie)).statusCode).toBe(404);
      expect((await get('/dashboard/review', partnerCookie)).statusCode).toBe(404);
      const chart = await get(`/dashboard/api/deliveries-per-minute?partner=${B}`, partnerCookie);
      expect(chart.statusCode).toBe(200);
    });

    it('filters by status and by a part of the reference, with pagination', async () => {
      const res = await get('/dashboard/customers?status=PENDING&q=xss', adminCookie);
      expect(res.body).toContain('CUST_XSS');
      expect(res.body).not.toContain('CUST_A1');
      expect(res.body).toContain('Page 1 of 1 · 1 in all');
      const none = await get('/dashboard/customers?status=APPROVED', adminCookie);
      expect(none.body).toContain('No third-party customers match.');
    });

    it('records a decision from the review queue through the domain code: status, event and delivery', async () => {
      const queue = await get(`/dashboard/review?partner=${A}`, adminCookie);
      expect(queue.body).toContain('CUST_A1');
      expect(queue.body).not.toContain('CUST_B1');
      const url = `/dashboard/review/${A}/CUST_A1/decision`;

      const noCsrf = await post(url, adminCookie, { status: 'APPROVED' });
      expect(noCsrf.statusCode).toBe(403);
      const csrf = csrfToken(sessionIdOf(adminCookie));
      const foreign = await post(
        url,
        adminCookie,
        { status: 'APPROVED', csrf },
        { origin: 'https://evil.example' },
      );
      expect(foreign.statusCode).toBe(403);
      const partnerTry = await post(url, partnerCookie, {
        status: 'APPROVED',
        csrf: csrfToken(sessionIdOf(partnerCookie)),
      });
      expect(partnerTry.statusCode).toBe(404);
      expect((await svc.store.getThirdParty(A, 'CUST_A1'))?.status).toBe('PENDING');

      const incomplete = await post(url, adminCookie, { status: 'REJECTED', csrf, code: '', reason: '' });
      expect(incomplete.statusCode).toBe(400);
      expect(incomplete.body).toContain('REJECTED needs one or more reasons');

      const rejected = await post(url, adminCookie, {
        status: 'REJECTED',
        code: 'COMPLIANCE_CHECK_FAILED',
        reason: 'Compliance <b>check</b> failed',
        csrf,
        back: `/dashboard/review?partner=${A}`,
      });
      expect(rejected.statusCode).toBe(303);
      expect(rejected.headers.location).toBe(
        `/dashboard/review?partner=${A}&decided=CUST_A1&status=REJECTED`,
      );
      const stored = await svc.store.getThirdParty(A, 'CUST_A1');
      expect(stored?.status).toBe('REJECTED');
      expect(stored?.reasons).toEqual([
        { code: 'COMPLIANCE_CHECK_FAILED', reason: 'Compliance <b>check</b> failed' },
      ]);
      const events = await svc.store.listThirdPartyEvents(A, 'CUST_A1', 10);
      expect(events).toHaveLength(1);
      expect(events[0]?.deliveries).toHaveLength(1);
      expect(events[0]?.deliveries[0]?.status).toBe('pending');

      const timeline = await get(`/dashboard/customers/${A}/CUST_A1`, partnerCookie);
      expect(timeline.body).toContain('COMPLIANCE_CHECK_FAILED');
      expect(timeline.body).toContain('Compliance &lt;b&gt;check&lt;/b&gt; failed');
      expect(timeline.body).toContain(events[0]?.event.eventId);
      expect(timeline.body).toContain(`id="delivery-${events[0]?.deliveries[0]?.id}"`);

      // a second decision at once: stamped a second later, so the timeline shows the order receivers keep
      const approved = await post(url, adminCookie, { status: 'APPROVED', csrf });
      expect(approved.statusCode).toBe(303);
      const both = await get(`/dashboard/customers/${A}/CUST_A1`, partnerCookie);
      const stamps = [...both.body.matchAll(/class="event-timestamp">([^<]+)</g)].map((m) => m[1] as string);
      expect(stamps).toHaveLength(2);
      expect(Date.parse(stamps[1] as string) - Date.parse(stamps[0] as string)).toBeGreaterThanOrEqual(1000);
      expect([...both.body.matchAll(/· Decision <span[^>]*>(\w+)</g)].map((m) => m[1])).toEqual([
        'REJECTED',
        'APPROVED',
      ]);
      expect((await svc.store.getThirdParty(A, 'CUST_A1'))?.status).toBe('APPROVED');

      const after = await get(rejected.headers.location as string, adminCookie);
      expect(after.body).toContain('Recorded REJECTED for CUST_A1.');
      expect(after.body).not.toMatch(/<h2><a href="\/dashboard\/customers\/PARTNER_A\/CUST_A1">/);
    });

    it('lists endpoints with their health and deliveries, and answers 503 to a retry when delivery is off', async () => {
      const list = await get('/dashboard/endpoints', partnerCookie);
      expect(list.body).toContain('http://127.0.0.1:9/hook');
      expect(list.body).toContain('data-chart-src="/dashboard/api/deliveries-per-minute"');
      const [endpoint] = await svc.store.listEndpoints(A);
      if (!endpoint) throw new Error('no endpoint');
      const page = await get(`/dashboard/endpoints/${A}/${endpoint.id}`, partnerCookie);
      expect(page.statusCode).toBe(200);
      // the one delivery is due now (in flight as soon as a dispatcher runs): no retry offered
      expect(page.body).toContain('data-status="pending"');
      expect(page.body).not.toContain('Retry now');
      const deliveryId = /id="delivery-([^"]+)"/.exec(page.body)?.[1] as string;
      const retry = await post(
        `/dashboard/endpoints/${A}/${endpoint.id}/deliveries/${deliveryId}/retry`,
        partnerCookie,
        { csrf: csrfToken(sessionIdOf(partnerCookie)) },
      );
      expect(retry.statusCode).toBe(503);
      expect((await get(`/dashboard/endpoints/${B}/${endpoint.id}`, partnerCookie)).statusCode).toBe(404);
      expect((await get(`/dashboard/endpoints/${A}/not-an-id`, adminCookie)).statusCode).toBe(404);
    });

    it('serves the chart data as JSON and logs out', async () => {
      const res = await get('/dashboard/api/deliveries-per-minute', adminCookie);
      expect(res.statusCode).toBe(200);
      const body = res.json() as { now: string; minutes: unknown[] };
      expect(Array.isArray(body.minutes)).toBe(true);
      expect((await get('/dashboard/api/deliveries-per-minute', undefined)).statusCode).toBe(401);

      const out = await post('/dashboard/logout', partnerCookie, {
        csrf: csrfToken(sessionIdOf(partnerCookie)),
      });
      expect(out.statusCode).toBe(303);
      expect(String(out.headers['set-cookie'])).toMatch(/Max-Age=0/);
    });
  });
}
