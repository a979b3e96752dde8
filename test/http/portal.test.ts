/**
 * The partner portal (issue 14): the operator makes a one-time, short-lived link; opening it starts a
 * session scoped to that partner (its pages work, the operator's do not); a second opening, an
 * expired link or one voided by a token reset gets a 410 page; the dashboard may be framed only by the
 * origins of DASHBOARD_FRAME_ANCESTORS, and then its cookie is SameSite=None; Secure; Partitioned.
 * In process (`app.inject`), on each dialect.
 */
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/index.js';
import { prunePortalLinks } from '../../src/dashboard/portal.js';
import { type AppOptions, buildApp } from '../../src/http/app.js';
import { hashToken } from '../../src/http/auth.js';
import { DIALECTS, skipReason } from '../support/databases.js';
import { expectErrorShape, startService, type TestService, validThirdParty } from './harness.js';

const A = 'PORTAL_A';
const B = 'PORTAL_B';
const LINK = /^http:\/\/localhost:80\/dashboard\/portal\/([A-Za-z0-9_-]{43})$/;

describe('portal settings', () => {
  const read = (env: Record<string, string>) => {
    const result = loadConfig(env);
    return result.ok ? result.config.portal : result.problems.join('\n');
  };

  it('defaults to 15-minute links, no public URL and no framing', () => {
    expect(read({})).toEqual({ linkTtlMs: 900_000, publicUrl: undefined, frameAncestors: [] });
  });

  it('reads PORTAL_LINK_TTL, PUBLIC_URL and DASHBOARD_FRAME_ANCESTORS, and refuses what is not an origin', () => {
    expect(
      read({
        PORTAL_LINK_TTL: '5m',
        PUBLIC_URL: 'https://tpcs.example/',
        DASHBOARD_FRAME_ANCESTORS:
          'https://Partner.example, https://*.other.example:8443 http://localhost:3000',
      }),
    ).toEqual({
      linkTtlMs: 300_000,
      publicUrl: 'https://tpcs.example',
      frameAncestors: ['https://partner.example', 'https://*.other.example:8443', 'http://localhost:3000'],
    });
    expect(read({ DASHBOARD_FRAME_ANCESTORS: "'none'" })).toMatchObject({ frameAncestors: [] });
    expect(read({ DASHBOARD_FRAME_ANCESTORS: 'partner.example' })).toMatch(
      /^DASHBOARD_FRAME_ANCESTORS='partner.example' is invalid.*origins such as https:\/\/partner.example/,
    );
    expect(read({ DASHBOARD_FRAME_ANCESTORS: "https://a.example 'unsafe-inline'" })).toMatch(/is invalid/);
    expect(read({ PORTAL_LINK_TTL: '2d' })).toMatch(/^PORTAL_LINK_TTL='2d' is invalid/);
    expect(read({ PUBLIC_URL: 'tpcs.example' })).toMatch(/^PUBLIC_URL='tpcs.example' is invalid/);
  });
});

for (const dialect of DIALECTS) {
  describe.skipIf(skipReason(dialect) !== undefined)(`partner portal links (${dialect})`, () => {
    let svc: TestService;
    let tokenA: string;
    const others: FastifyInstance[] = [];
    const appWith = async (options: Partial<AppOptions>) => {
      const app = buildApp({ store: svc.store, adminTokenHash: hashToken(svc.adminToken), ...options });
      others.push(app);
      await app.ready();
      return app;
    };

    const createLink = (
      customerId: string,
      o: { body?: unknown; token?: string; on?: FastifyInstance } = {},
    ) =>
      (o.on ?? svc.app).inject({
        method: 'POST',
        url: `/api/v1/admin/partners/${customerId}/portal-links`,
        headers: {
          authorization: `Bearer ${o.token ?? svc.adminToken}`,
          ...(o.body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(o.body === undefined ? {} : { payload: JSON.stringify(o.body) }),
      });
    /** A new link's path (/dashboard/portal/…). */
    const newLink = async (customerId = A, on?: FastifyInstance): Promise<string> => {
      const res = await createLink(customerId, on ? { on } : {});
      expect(res.statusCode, res.body).toBe(201);
      return new URL(res.json().url).pathname;
    };
    const open = (path: string, on: FastifyInstance = svc.app) => on.inject({ method: 'GET', url: path });
    const get = (url: string, cookie: string, on: FastifyInstance = svc.app) =>
      on.inject({ method: 'GET', url, headers: { cookie } });
    /** The cookie a successful opening set. */
    const cookieOf = (res: LightMyRequestResponse): string => {
      expect(res.statusCode, res.body).toBe(303);
      return String(res.headers['set-cookie']).split(';')[0] as string;
    };
    const expectGone = (res: LightMyRequestResponse) => {
      expect(res.statusCode).toBe(410);
      expect(res.headers['content-type']).toMatch(/^text\/html/);
      expect(res.body).toContain('Link no longer valid');
      expect(res.body).toContain('has expired or has already been used');
      expect(res.body).not.toMatch(/\bat .+:\d+:\d+/);
      expect(res.headers['set-cookie']).toBeUndefined();
    };

    beforeAll(async () => {
      svc = await startService({ dialect });
      tokenA = await svc.partner(A);
      const tokenB = await svc.partner(B);
      for (const [id, token, ref] of [
        [A, tokenA, 'ALPHA_1'],
        [B, tokenB, 'BRAVO_1'],
      ] as const) {
        const res = await svc.call('POST', `/api/v1/customers/${id}/third-parties`, {
          token,
          body: validThirdParty(ref),
        });
        expect(res.statusCode, res.body).toBe(201);
      }
    });
    afterAll(async () => {
      for (const app of others) await app.close();
      await svc?.close();
    });

    it("answers 201 with an absolute, one-time URL that opens the partner's own pages only", async () => {
      const before = Date.now();
      const res = await createLink(A);
      expect(res.statusCode, res.body).toBe(201);
      const { url, expires_at: expiresAt } = res.json() as { url: string; expires_at: string };
      const token = LINK.exec(url)?.[1] as string;
      expect(token).toBeDefined();
      // 15 minutes by default
      const ttl = Date.parse(expiresAt) - before;
      expect(ttl).toBeGreaterThanOrEqual(900_000 - 1000);
      expect(ttl).toBeLessThanOrEqual(900_000 + 1000);

      const opened = await open(new URL(url).pathname);
      expect(opened.headers.location).toBe('/dashboard/customers');
      const setCookie = String(opened.headers['set-cookie']);
      expect(setCookie).toMatch(/HttpOnly/);
      expect(setCookie).toMatch(/SameSite=Strict/);
      expect(setCookie).toMatch(/Max-Age=43200/); // as long as a log-in (DASHBOARD_SESSION_TTL)
      expect(setCookie).not.toContain(token);
      const cookie = cookieOf(opened);

      const home = await get('/dashboard/customers', cookie);
      expect(home.statusCode).toBe(200);
      expect(home.body).toContain('ALPHA_1');
      expect(home.body).not.toContain('BRAVO_1');
      expect((await get(`/dashboard/customers/${A}/ALPHA_1`, cookie)).statusCode).toBe(200);
      // another partner's page, and the operator's review queue: not found
      expect((await get(`/dashboard/customers/${B}/BRAVO_1`, cookie)).statusCode).toBe(404);
      expect((await get('/dashboard/review', cookie)).statusCode).toBe(404);
      expect((await get(`/dashboard/customers?partner=${B}`, cookie)).body).not.toContain('BRAVO_1');

      // the link is used up: only its hash was stored, and its row is gone
      expectGone(await open(new URL(url).pathname));
      expect(await svc.store.consumePortalLink(hashToken(token), new Date(0))).toBeUndefined();
    });

    it('opens once when opened twice at the same moment', async () => {
      const path = await newLink();
      const answers = await Promise.all([open(path), open(path), open(path)]);
      expect(answers.map((r) => r.statusCode).sort()).toEqual([303, 410, 410]);
    });

    it('refuses an expired link, a made-up one, and one made before a token reset, with a 410 page', async () => {
      // made already expired, through the store (no clock to wind on)
      const token = 'E'.repeat(43);
      const past = new Date(Date.now() - 60_000);
      expect(
        await svc.store.createPortalLink(hashToken(token), {
          customerId: A,
          createdAt: new Date(past.getTime() - 60_000),
          expiresAt: past,
        }),
      ).toBe(true);
      expectGone(await open(`/dashboard/portal/${token}`));
      expectGone(await open(`/dashboard/portal/${'x'.repeat(43)}`));
      expectGone(await open('/dashboard/portal/short'));

      // a reset of the partner's token voids its links, and the sessions they started
      const path = await newLink();
      const cookie = cookieOf(await open(await newLink()));
      const reset = await svc.call('POST', `/api/v1/admin/partners/${A}/token`, { token: svc.adminToken });
      expect(reset.statusCode).toBe(200);
      tokenA = reset.json().token;
      expectGone(await open(path));
      expect((await get('/dashboard/customers', cookie)).statusCode).toBe(303);
      // a link made after the reset opens
      expect((await open(await newLink())).statusCode).toBe(303);
    });

    it('is not used up by a HEAD request (a link checker)', async () => {
      const path = await newLink();
      // no HEAD route: the session hook answers it (401), as any other page without a session
      expect((await svc.app.inject({ method: 'HEAD', url: path })).statusCode).toBe(401);
      expect((await open(path)).statusCode).toBe(303);
    });

    it('takes ttl_seconds within [60, 86400], and refuses other bodies, other tokens and unknown partners', async () => {
      const before = Date.now();
      const short = await createLink(A, { body: { ttl_seconds: 60 } });
      expect(short.statusCode).toBe(201);
      expect(Date.parse(short.json().expires_at) - before).toBeLessThanOrEqual(61_000);
      expect((await createLink(A, { body: {} })).statusCode).toBe(201);
      expect((await createLink(A, { body: { ttl_seconds: 86_400 } })).statusCode).toBe(201);

      for (const body of [{ ttl_seconds: 59 }, { ttl_seconds: 86_401 }, { ttl_seconds: '60' }, { ttl: 60 }]) {
        const res = await createLink(A, { body });
        expect(res.statusCode, JSON.stringify(body)).toBe(400);
        expect(expectErrorShape(res).code).toBe('validation_failed');
      }
      const unknown = await createLink('NO_SUCH_PARTNER');
      expect(unknown.statusCode).toBe(404);
      expect(expectErrorShape(unknown).code).toBe('not_found');
      for (const token of [tokenA, 'tpcs_ak_wrong']) {
        const res = await createLink(A, { token });
        expect(res.statusCode).toBe(401);
        expect(expectErrorShape(res).code).toBe('unauthorized');
      }
    });

    it('builds the URL from PUBLIC_URL, or from a trusted proxy’s X-Forwarded-Proto and -Host', async () => {
      const withUrl = await appWith({ portal: { publicUrl: 'https://tpcs.example' } });
      const res = await createLink(A, { on: withUrl });
      expect(res.json().url).toMatch(/^https:\/\/tpcs\.example\/dashboard\/portal\/[A-Za-z0-9_-]{43}$/);

      const proxied = await appWith({ trustProxy: true });
      const forwarded = await proxied.inject({
        method: 'POST',
        url: `/api/v1/admin/partners/${A}/portal-links`,
        headers: {
          authorization: `Bearer ${svc.adminToken}`,
          'x-forwarded-proto': 'https',
          'x-forwarded-host': 'portal.example',
        },
      });
      expect(forwarded.json().url).toMatch(/^https:\/\/portal\.example\/dashboard\/portal\//);
      // an untrusted peer's headers are ignored
      const direct = await svc.app.inject({
        method: 'POST',
        url: `/api/v1/admin/partners/${A}/portal-links`,
        headers: { authorization: `Bearer ${svc.adminToken}`, 'x-forwarded-host': 'evil.example' },
      });
      expect(direct.json().url).toMatch(LINK);

      // PORTAL_LINK_TTL
      const shortLived = await appWith({ portal: { linkTtlMs: 120_000 } });
      const before = Date.now();
      const made = await createLink(A, { on: shortLived });
      expect(Date.parse(made.json().expires_at) - before).toBeLessThanOrEqual(121_000);
    });

    it('refuses every frame by default, and allows the origins of DASHBOARD_FRAME_ANCESTORS', async () => {
      const closed = await open('/dashboard/login');
      expect(closed.headers['content-security-policy']).toMatch(/frame-ancestors 'none'/);
      expect(closed.headers['x-frame-options']).toBe('DENY');

      const framed = await appWith({
        portal: { frameAncestors: ['https://partner-platform.example', 'https://*.partner.example'] },
      });
      const page = await open('/dashboard/login', framed);
      expect(page.headers['content-security-policy']).toMatch(
        /frame-ancestors https:\/\/partner-platform\.example https:\/\/\*\.partner\.example$/,
      );
      expect(page.headers['x-frame-options']).toBeUndefined();
      // the cookie a frame keeps: SameSite=None needs Secure, Partitioned survives third-party blocking
      const opened = await open(await newLink(A, framed), framed);
      const setCookie = String(opened.headers['set-cookie']);
      expect(setCookie).toMatch(/SameSite=None; Secure; Partitioned/);
      expect((await get('/dashboard/customers', cookieOf(opened), framed)).statusCode).toBe(200);
      // so does a log-in's (a session that ends inside the frame logs in again there)
      const login = await framed.inject({
        method: 'POST',
        url: '/dashboard/login',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        payload: new URLSearchParams({ token: tokenA }).toString(),
      });
      expect(String(login.headers['set-cookie'])).toMatch(/SameSite=None; Secure; Partitioned/);
    });

    it('prunes expired links, and only those', async () => {
      const path = await newLink();
      // everything made so far has expired a day from now
      expect(await prunePortalLinks(svc.store, new Date(Date.now() + 86_400_000 + 1000))).toBeGreaterThan(0);
      expectGone(await open(path));
      const kept = await newLink();
      expect(await prunePortalLinks(svc.store)).toBe(0);
      expect((await open(kept)).statusCode).toBe(303);
    });
  });
}
