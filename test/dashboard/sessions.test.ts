/**
 * Dashboard sessions are server-side (issue 11, item 11): the cookie holds a random id, not the token;
 * log-out, a partner's token reset and an operator token change end sessions for good; sessions
 * expire and are pruned; `Secure` and the client address follow `X-Forwarded-*` only from proxies
 * that `TRUST_PROXY` names. In process (`app.inject`), on each dialect.
 */
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/index.js';
import { csrfToken, pruneDashboardSessions } from '../../src/dashboard/session.js';
import { type AppOptions, buildApp } from '../../src/http/app.js';
import { generateToken, hashToken } from '../../src/http/auth.js';
import { startService, type TestService } from '../http/harness.js';
import { DIALECTS, skipReason } from '../support/databases.js';
import { waitFor } from '../support/wait-for.js';

const A = 'PARTNER_A';
const B = 'PARTNER_B';
const FORM = { 'content-type': 'application/x-www-form-urlencoded' };

function logIn(
  app: FastifyInstance,
  token: string,
  o: { remoteAddress?: string; headers?: Record<string, string> } = {},
) {
  return app.inject({
    method: 'POST',
    url: '/dashboard/login',
    headers: { ...FORM, ...o.headers },
    payload: new URLSearchParams({ token }).toString(),
    ...(o.remoteAddress ? { remoteAddress: o.remoteAddress } : {}),
  });
}

/** The Set-Cookie header of a log-in, and the session id it holds. */
function sessionOf(res: LightMyRequestResponse): { setCookie: string; id: string; cookie: string } {
  expect(res.statusCode, res.body).toBe(303);
  const setCookie = String(res.headers['set-cookie']);
  const cookie = setCookie.split(';')[0] as string;
  return { setCookie, cookie, id: cookie.slice(cookie.indexOf('=') + 1) };
}

const page = (app: FastifyInstance, cookie: string) =>
  app.inject({ method: 'GET', url: '/dashboard/customers', headers: { cookie } });

/** Whether the cookie still opens a page (200), rather than being sent to the log-in form (303). */
async function opens(app: FastifyInstance, cookie: string): Promise<boolean> {
  const res = await page(app, cookie);
  if (res.statusCode === 303) {
    expect(res.headers.location).toMatch(/^\/dashboard\/login\?next=/);
    return false;
  }
  expect(res.statusCode, res.body).toBe(200);
  return true;
}

describe('TRUST_PROXY', () => {
  it('reads TRUST_PROXY as false, true, a hop count or a list of proxies, and refuses anything else', () => {
    const trustProxy = (value: string | undefined) => {
      const result = loadConfig({ TRUST_PROXY: value });
      return result.ok ? result.config.trustProxy : result.problems.join('\n');
    };
    expect(trustProxy(undefined)).toBe(false);
    expect(trustProxy('true')).toBe(true);
    expect(trustProxy('2')).toBe(2);
    expect(trustProxy('10.0.0.0/8, loopback,fd00::1')).toEqual(['10.0.0.0/8', 'loopback', 'fd00::1']);
    expect(trustProxy('proxy.internal')).toMatch(/^TRUST_PROXY='proxy.internal' is invalid/);
    expect(trustProxy('123')).toMatch(/is invalid/);
  });
});

for (const dialect of DIALECTS) {
  describe.skipIf(skipReason(dialect) !== undefined)(`dashboard sessions (${dialect})`, () => {
    let svc: TestService;
    let tokenA: string;
    let tokenB: string;
    /** Other apps over the same store, with other options; closed after the suite. */
    const others: FastifyInstance[] = [];
    const appWith = async (options: Partial<AppOptions>) => {
      const app = buildApp({ store: svc.store, adminTokenHash: hashToken(svc.adminToken), ...options });
      others.push(app);
      await app.ready();
      return app;
    };

    beforeAll(async () => {
      svc = await startService({ dialect });
      tokenA = await svc.partner(A);
      tokenB = await svc.partner(B);
    });
    afterAll(async () => {
      for (const app of others) await app.close();
      await svc?.close();
    });

    it('sets a cookie holding a random session id, not the token, and stores only its hash', async () => {
      const { setCookie, id, cookie } = sessionOf(await logIn(svc.app, tokenA));
      expect(id).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(setCookie).not.toContain(tokenA);
      expect(setCookie).toMatch(/HttpOnly/);
      expect(setCookie).toMatch(/SameSite=Strict/);
      expect(setCookie).toMatch(/Path=\/dashboard/);
      expect(setCookie).toMatch(/Max-Age=43200/);
      expect(setCookie).not.toMatch(/Secure/);
      expect(await opens(svc.app, cookie)).toBe(true);

      const stored = await svc.store.getDashboardSession(hashToken(id), new Date());
      expect(stored).toMatchObject({ customerId: A, tokenHash: hashToken(tokenA) });
      expect(await svc.store.getDashboardSession(id, new Date())).toBeUndefined();
      // The token itself is no session (the cookie held it before sessions were server-side).
      expect(await opens(svc.app, `tpcs_dashboard=${tokenA}`)).toBe(false);
    });

    it('ends the session server-side at log-out: the old cookie value opens nothing afterwards', async () => {
      const first = sessionOf(await logIn(svc.app, tokenA));
      const second = sessionOf(await logIn(svc.app, tokenA));
      const out = await svc.app.inject({
        method: 'POST',
        url: '/dashboard/logout',
        headers: { ...FORM, cookie: first.cookie },
        payload: new URLSearchParams({ csrf: csrfToken(first.id) }).toString(),
      });
      expect(out.statusCode).toBe(303);
      expect(String(out.headers['set-cookie'])).toMatch(/Max-Age=0/);

      // A browser that kept the cookie (or a thief who copied it) gets the log-in form, and a POST 401.
      expect(await opens(svc.app, first.cookie)).toBe(false);
      const replay = await svc.app.inject({
        method: 'POST',
        url: '/dashboard/logout',
        headers: { ...FORM, cookie: first.cookie },
        payload: new URLSearchParams({ csrf: csrfToken(first.id) }).toString(),
      });
      expect(replay.statusCode).toBe(401);
      expect(await svc.store.getDashboardSession(hashToken(first.id), new Date())).toBeUndefined();
      // Only that session ended.
      expect(await opens(svc.app, second.cookie)).toBe(true);
    });

    it("ends every session of a partner when its token is reset, and only that partner's", async () => {
      const reset = 'PARTNER_RESET';
      const token = await svc.partner(reset);
      const sessions = [sessionOf(await logIn(svc.app, token)), sessionOf(await logIn(svc.app, token))];
      const otherPartner = sessionOf(await logIn(svc.app, tokenB));
      const operator = sessionOf(await logIn(svc.app, svc.adminToken));
      for (const s of sessions) expect(await opens(svc.app, s.cookie)).toBe(true);

      const res = await svc.call('POST', `/api/v1/admin/partners/${reset}/token`, { token: svc.adminToken });
      expect(res.statusCode).toBe(200);
      for (const s of sessions) {
        expect(await opens(svc.app, s.cookie)).toBe(false);
        expect(await svc.store.deleteDashboardSession(hashToken(s.id))).toBe(false); // the row is gone
      }
      expect(await opens(svc.app, otherPartner.cookie)).toBe(true);
      expect(await opens(svc.app, operator.cookie)).toBe(true);

      // Bound to the token: one replaced without the route (another process, the CLI) ends it as well.
      const fresh = sessionOf(await logIn(svc.app, (res.json() as { token: string }).token));
      expect(await opens(svc.app, fresh.cookie)).toBe(true);
      expect(await svc.store.setPartnerToken(reset, hashToken(generateToken('partner')))).toBe(true);
      expect(await opens(svc.app, fresh.cookie)).toBe(false);
    });

    it("ends the operator's sessions when the operator token changes", async () => {
      const operator = sessionOf(await logIn(svc.app, svc.adminToken));
      const partner = sessionOf(await logIn(svc.app, tokenB));
      // The service started again with another ADMIN_TOKEN, on the same database.
      const restarted = await appWith({ adminTokenHash: hashToken(generateToken('admin')) });
      expect(await opens(restarted, operator.cookie)).toBe(false);
      expect(await opens(restarted, partner.cookie)).toBe(true);
      expect(await opens(svc.app, operator.cookie)).toBe(true);
    });

    it('expires sessions after their time to live; the pruner deletes expired ones only', async () => {
      const app = await appWith({ dashboardSessionTtlMs: 2000 });
      const loggedInAt = new Date();
      const { setCookie, cookie, id } = sessionOf(await logIn(app, tokenA));
      expect(setCookie).toMatch(/Max-Age=2;/);
      expect(await opens(app, cookie)).toBe(true);
      await waitFor(async () => !(await opens(app, cookie)), { what: 'the session to expire' });

      // Expired, but its row stays until pruned; a live session survives the prune.
      const live = sessionOf(await logIn(svc.app, tokenA));
      expect(await svc.store.getDashboardSession(hashToken(id), loggedInAt)).toBeDefined();
      expect(await pruneDashboardSessions(svc.store)).toBeGreaterThanOrEqual(1);
      expect(await svc.store.getDashboardSession(hashToken(id), loggedInAt)).toBeUndefined();
      expect(await opens(svc.app, live.cookie)).toBe(true);
    });

    it('prunes expired sessions when the app starts', async () => {
      const createdAt = new Date(Date.now() - 3_600_000);
      await svc.store.createDashboardSession(hashToken('expired-session'), {
        customerId: A,
        tokenHash: hashToken(tokenA),
        createdAt,
        expiresAt: new Date(createdAt.getTime() + 1000),
      });
      expect(await svc.store.getDashboardSession(hashToken('expired-session'), createdAt)).toBeDefined();
      await appWith({});
      await waitFor(
        async () =>
          (await svc.store.getDashboardSession(hashToken('expired-session'), createdAt)) === undefined,
        { what: 'the pruner started with the app' },
      );
    });

    describe('behind a proxy', () => {
      const httpsLogIn = (app: FastifyInstance, remoteAddress: string) =>
        logIn(app, tokenA, { remoteAddress, headers: { 'x-forwarded-proto': 'https' } });

      it('marks the cookie Secure only when a trusted proxy says https', async () => {
        // No TRUST_PROXY: the header is anyone's to send, and is ignored.
        expect(sessionOf(await httpsLogIn(svc.app, '127.0.0.1')).setCookie).not.toMatch(/Secure/);

        const trustAll = await appWith({ trustProxy: true });
        expect(sessionOf(await httpsLogIn(trustAll, '127.0.0.1')).setCookie).toMatch(/; Secure/);
        expect(sessionOf(await logIn(trustAll, tokenA)).setCookie).not.toMatch(/Secure/);

        const trustNetwork = await appWith({ trustProxy: ['10.0.0.0/8'] });
        expect(sessionOf(await httpsLogIn(trustNetwork, '10.1.2.3')).setCookie).toMatch(/; Secure/);
        expect(sessionOf(await httpsLogIn(trustNetwork, '203.0.113.9')).setCookie).not.toMatch(/Secure/);

        const oneHop = await appWith({ trustProxy: 1 });
        expect(sessionOf(await httpsLogIn(oneHop, '203.0.113.9')).setCookie).toMatch(/; Secure/);
      });

      it('keys the failed-log-in limit on the peer unless the proxy is trusted: a forged X-Forwarded-For changes nothing', async () => {
        const wrong = (app: FastifyInstance, remoteAddress: string, forwardedFor: string) =>
          logIn(app, generateToken('partner'), {
            remoteAddress,
            headers: { 'x-forwarded-for': forwardedFor },
          });

        // Untrusted: twenty failures from one peer, each claiming another client, are one client.
        const direct = await appWith({ rateLimits: { authFailures: 20 } });
        for (let i = 0; i < 20; i++) {
          expect((await wrong(direct, '192.0.2.50', `198.51.100.${i + 1}`)).statusCode).toBe(401);
        }
        expect((await wrong(direct, '192.0.2.50', '198.51.100.99')).statusCode).toBe(429);

        // Trusted: the forwarded address is the client; another client behind the proxy goes on.
        const proxied = await appWith({ trustProxy: ['192.0.2.50'], rateLimits: { authFailures: 20 } });
        for (let i = 0; i < 20; i++) {
          expect((await wrong(proxied, '192.0.2.50', '198.51.100.1')).statusCode).toBe(401);
        }
        expect((await wrong(proxied, '192.0.2.50', '198.51.100.1')).statusCode).toBe(429);
        expect((await wrong(proxied, '192.0.2.50', '198.51.100.2')).statusCode).toBe(401);
      });
    });
  });
}
