/**
 * Token guessing is limited (issue 11, item 9): failed authentications per client address and per
 * token prefix (the API's bearer header and the dashboard's log-in form share the count), and each
 * partner's API requests. Over a limit the answer is 429 `rate_limited` with `Retry-After`; keys under
 * no limit are untouched. In process (`app.inject`, whose `remoteAddress` is the client address), on
 * each dialect: the tokens are looked up in the store.
 */
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/http/app.js';
import { generateToken, hashToken, TOKEN_PREFIX, tokenPrefix } from '../../src/http/auth.js';
import { expectErrorShape, startService, type TestService } from '../http/harness.js';
import { DIALECTS, skipReason } from '../support/databases.js';

/** The default: failures a minute per address and per prefix. */
const LIMIT = 20;
const A = 'PARTNER_A';
const B = 'PARTNER_B';

/** A GET of partner A's third parties with `token`, from `remoteAddress`. */
function listAs(app: FastifyInstance, token: string, remoteAddress: string, customerId = A) {
  return app.inject({
    method: 'GET',
    url: `/api/v1/customers/${customerId}/third-parties`,
    headers: { authorization: `Bearer ${token}` },
    remoteAddress,
  });
}

function logIn(app: FastifyInstance, token: string, remoteAddress: string) {
  return app.inject({
    method: 'POST',
    url: '/dashboard/login',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    payload: new URLSearchParams({ token }).toString(),
    remoteAddress,
  });
}

/** A 429 in the API's error shape, with a Retry-After of at most the minute counted. */
function expectLimited(res: LightMyRequestResponse): void {
  expect(res.statusCode, res.body).toBe(429);
  expect(expectErrorShape(res).code).toBe('rate_limited');
  const retryAfter = Number(res.headers['retry-after']);
  expect(retryAfter).toBeGreaterThanOrEqual(1);
  expect(retryAfter).toBeLessThanOrEqual(60);
}

/** A wrong partner token that starts like `like` (same kind prefix and first four characters). */
function wrongTokenLike(like: string): string {
  return tokenPrefix(like) + generateToken('partner').slice(tokenPrefix(like).length);
}

for (const dialect of DIALECTS) {
  describe.skipIf(skipReason(dialect) !== undefined)(`auth rate limits (${dialect})`, () => {
    let svc: TestService;
    let tokenA: string;
    let tokenB: string;
    beforeAll(async () => {
      svc = await startService({ dialect });
      tokenA = await svc.partner(A);
      tokenB = await svc.partner(B);
    });
    afterAll(() => svc?.close());

    it('answers 429 with Retry-After after 20 wrong tokens from one address, and only to that address', async () => {
      const guesser = '203.0.113.1';
      // Successes cost nothing.
      for (let i = 0; i < LIMIT + 5; i++)
        expect((await listAs(svc.app, tokenA, guesser)).statusCode).toBe(200);
      for (let i = 0; i < LIMIT; i++) {
        expect((await listAs(svc.app, generateToken('partner'), guesser)).statusCode).toBe(401);
      }
      expectLimited(await listAs(svc.app, generateToken('partner'), guesser));
      // A right token from that address is refused too: its answer must not tell a guess that is right.
      expectLimited(await listAs(svc.app, tokenA, guesser));
      // The dashboard's log-in counts against the same address.
      const login = await logIn(svc.app, tokenA, guesser);
      expect(login.statusCode).toBe(429);
      expect(Number(login.headers['retry-after'])).toBeGreaterThanOrEqual(1);
      expect(login.body).toContain('Too many failed log-ins');
      // Other addresses are untouched.
      expect((await listAs(svc.app, tokenA, '203.0.113.2')).statusCode).toBe(200);
      expect((await listAs(svc.app, generateToken('partner'), '203.0.113.2')).statusCode).toBe(401);
    });

    it('groups IPv6 clients by /64', async () => {
      for (let i = 0; i < LIMIT; i++) {
        const address = `2001:db8:1:2::${(i + 1).toString(16)}`;
        expect((await listAs(svc.app, generateToken('partner'), address)).statusCode).toBe(401);
      }
      expectLimited(await listAs(svc.app, tokenA, '2001:db8:1:2:ffff::1'));
      expect((await listAs(svc.app, tokenA, '2001:db8:1:3::1')).statusCode).toBe(200);
    });

    it('limits wrong tokens sharing a prefix across addresses, and only that prefix', async () => {
      const target = generateToken('partner');
      expect(tokenPrefix(target)).toMatch(new RegExp(`^${TOKEN_PREFIX.partner}[A-Za-z0-9_-]{4}$`));
      for (let i = 0; i < LIMIT; i++) {
        const res = await listAs(svc.app, wrongTokenLike(target), `198.51.100.${i + 1}`);
        expect(res.statusCode).toBe(401);
      }
      expectLimited(await listAs(svc.app, wrongTokenLike(target), '198.51.100.200'));
      // Another prefix from a fresh address is still only a 401; right tokens of other prefixes work.
      const other = generateToken('partner');
      if (tokenPrefix(other) !== tokenPrefix(target)) {
        expect((await listAs(svc.app, other, '198.51.100.201')).statusCode).toBe(401);
      }
      if (tokenPrefix(tokenB) !== tokenPrefix(target)) {
        expect((await listAs(svc.app, tokenB, '198.51.100.202', B)).statusCode).toBe(200);
      }
    });

    it('limits failed dashboard log-ins per address; a right token from elsewhere still logs in', async () => {
      const guesser = '192.0.2.10';
      for (let i = 0; i < LIMIT; i++) {
        const res = await logIn(svc.app, generateToken('partner'), guesser);
        expect(res.statusCode).toBe(401);
        expect(res.body).toContain('That token is not valid.');
      }
      const limited = await logIn(svc.app, tokenA, guesser);
      expect(limited.statusCode).toBe(429);
      expect(limited.headers['set-cookie']).toBeUndefined();
      expect(Number(limited.headers['retry-after'])).toBeLessThanOrEqual(60);
      const elsewhere = await logIn(svc.app, tokenA, '192.0.2.11');
      expect(elsewhere.statusCode).toBe(303);
      expect(elsewhere.headers['set-cookie']).toBeDefined();
    });

    describe('per partner', () => {
      let app: FastifyInstance;
      const PER_MINUTE = 5;
      beforeAll(async () => {
        // The same store, served by an app with a small per-partner limit.
        app = buildApp({
          store: svc.store,
          adminTokenHash: hashToken(svc.adminToken),
          rateLimits: { partnerRequests: PER_MINUTE },
        });
        await app.ready();
      });
      afterAll(() => app?.close());

      it("answers 429 past a partner's requests a minute, from any address; other partners and the operator go on", async () => {
        for (let i = 0; i < PER_MINUTE; i++) {
          const res = await listAs(app, tokenA, `10.0.0.${i + 1}`);
          expect(res.statusCode).toBe(200);
          expect(res.headers['x-ratelimit-limit']).toBe(String(PER_MINUTE));
          expect(res.headers['x-ratelimit-remaining']).toBe(String(PER_MINUTE - i - 1));
        }
        expectLimited(await listAs(app, tokenA, '10.0.0.99'));
        expect((await listAs(app, tokenB, '10.0.0.1', B)).statusCode).toBe(200);
        expect((await listAs(app, svc.adminToken, '10.0.0.1')).statusCode).toBe(200);
      });
    });
  });
}
