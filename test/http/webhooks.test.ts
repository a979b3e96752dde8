import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/http/app.js';
import { generateToken, hashToken } from '../../src/http/auth.js';
import type { HostResolver } from '../../src/webhooks/url-policy.js';
import { DIALECTS, openTestStorage, skipReason } from '../support/databases.js';
import { expectErrorShape, startService, type TestService } from './harness.js';

const TYPE = 'THIRD PARTY CUSTOMER STATUS';

/** A resolver with fixed answers, so tests never touch real DNS. */
const resolver: HostResolver = async (host) => {
  const table: Record<string, string[]> = {
    'partner.example': ['93.184.216.34'],
    'mixed.example': ['93.184.216.34', '10.1.2.3'],
    'metadata.example': ['169.254.169.254'],
    localhost: ['127.0.0.1', '::1'],
  };
  const answer = table[host];
  if (!answer) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' });
  return answer;
};

for (const dialect of DIALECTS) {
  describe.skipIf(skipReason(dialect) !== undefined)(`webhook endpoints (${dialect})`, () => {
    let s: TestService;
    let token: string;
    const base = '/api/v1/customers/HOOKS/webhooks';
    beforeAll(async () => {
      s = await startService({ dialect, allowPrivateEndpoints: false, resolveHost: resolver });
      token = await s.partner('HOOKS');
    });
    afterAll(() => s.close());

    it('creates, lists, gets, updates and deletes an endpoint; the secret is shown only on create', async () => {
      const created = await s.call('POST', base, {
        token,
        body: { url: 'https://partner.example/hooks', event_types: [TYPE], description: 'main' },
      });
      expect(created.statusCode).toBe(201);
      const ep = created.json();
      expect(ep).toMatchObject({
        url: 'https://partner.example/hooks',
        event_types: [TYPE],
        description: 'main',
        enabled: true,
        disabled_reason: null,
      });
      expect(ep.secret).toMatch(/^whsec_/);

      const list = await s.call('GET', base, { token });
      expect(list.json().webhooks).toHaveLength(1);
      expect(list.body).not.toContain('whsec_');
      const got = await s.call('GET', `${base}/${ep.id}`, { token });
      expect(got.statusCode).toBe(200);
      expect(got.json()).not.toHaveProperty('secret');

      const patched = await s.call('PATCH', `${base}/${ep.id}`, {
        token,
        body: { description: null, enabled: false },
      });
      expect(patched.json()).toMatchObject({
        description: null,
        enabled: false,
        disabled_reason: expect.any(String),
      });
      const reenabled = await s.call('PATCH', `${base}/${ep.id}`, { token, body: { enabled: true } });
      expect(reenabled.json()).toMatchObject({ enabled: true, disabled_reason: null });

      expect((await s.call('DELETE', `${base}/${ep.id}`, { token })).statusCode).toBe(204);
      expect((await s.call('GET', `${base}/${ep.id}`, { token })).statusCode).toBe(404);
      expect((await s.call('DELETE', `${base}/${ep.id}`, { token })).statusCode).toBe(404);
    });

    it('rotates the secret, keeping the previous one for 24 hours', async () => {
      const ep = (
        await s.call('POST', base, { token, body: { url: 'https://partner.example/r', event_types: [TYPE] } })
      ).json();
      const rotated = await s.call('POST', `${base}/${ep.id}/rotate-secret`, { token });
      expect(rotated.statusCode).toBe(200);
      const body = rotated.json();
      expect(body.secret).toMatch(/^whsec_/);
      expect(body.secret).not.toBe(ep.secret);
      // 24 hours from the rotation, which is when the endpoint was last updated
      expect(Date.parse(body.previous_secret_expires_at) - Date.parse(body.updated_at)).toBe(24 * 3600_000);
      const stored = await s.store.getEndpoint('HOOKS', ep.id);
      expect(stored?.secrets.map((x) => x.secret)).toEqual([body.secret, ep.secret]);
      expect(stored?.updatedAt.toISOString()).toBe(body.updated_at);
      expect(stored?.secrets[0]?.createdAt.toISOString()).toBe(body.updated_at);
      expect(stored?.secrets[1]?.expiresAt?.toISOString()).toBe(body.previous_secret_expires_at);
      expect((await s.call('POST', `${base}/not-an-id/rotate-secret`, { token })).statusCode).toBe(404);
    });

    it('refuses unknown event types, non-http schemes and non-public addresses', async () => {
      const cases: [unknown, string][] = [
        [{ url: 'https://partner.example/x', event_types: ['SOMETHING ELSE'] }, '$.event_types[0]'],
        [{ url: 'https://partner.example/x', event_types: [] }, '$.event_types'],
        [{ url: 'ftp://partner.example/x', event_types: [TYPE] }, '$.url'],
        [{ url: 'https://user:pw@partner.example/x', event_types: [TYPE] }, '$.url'],
        [{ url: 'not a url', event_types: [TYPE] }, '$.url'],
        [{ url: 'http://127.0.0.1:8080/x', event_types: [TYPE] }, '$.url'],
        [{ url: 'http://localhost/x', event_types: [TYPE] }, '$.url'],
        [{ url: 'http://10.0.0.5/x', event_types: [TYPE] }, '$.url'],
        [{ url: 'http://[::1]/x', event_types: [TYPE] }, '$.url'],
        [{ url: 'http://[::ffff:192.168.1.1]/x', event_types: [TYPE] }, '$.url'],
        [{ url: 'http://2130706433/x', event_types: [TYPE] }, '$.url'],
        [{ url: 'http://100.64.0.1/x', event_types: [TYPE] }, '$.url'],
        [{ url: 'http://metadata.example/x', event_types: [TYPE] }, '$.url'],
        [{ url: 'http://mixed.example/x', event_types: [TYPE] }, '$.url'],
        [{ url: 'http://nowhere.example/x', event_types: [TYPE] }, '$.url'],
      ];
      const before = (await s.store.listEndpoints('HOOKS')).length;
      for (const [body, path] of cases) {
        const res = await s.call('POST', base, { token, body });
        expect(res.statusCode, JSON.stringify(body)).toBe(400);
        const err = expectErrorShape(res);
        expect((err.details as { problems: { path: string }[] }).problems.map((p) => p.path)).toContain(path);
      }
      expect((await s.store.listEndpoints('HOOKS')).length).toBe(before);
    });

    it('sets a rate limit on create and PATCH, shows it, removes it with null, and refuses a wrong one', async () => {
      const created = await s.call('POST', base, {
        token,
        body: { url: 'https://partner.example/limited', event_types: [TYPE], rate_limit: 50 },
      });
      expect(created.statusCode).toBe(201);
      const ep = created.json();
      expect(ep.rate_limit).toBe(50);
      expect((await s.call('GET', `${base}/${ep.id}`, { token })).json().rate_limit).toBe(50);
      const listed = (await s.call('GET', base, { token })).json().webhooks as {
        id: string;
        rate_limit: unknown;
      }[];
      expect(listed.find((w) => w.id === ep.id)?.rate_limit).toBe(50);
      expect((await s.store.getEndpoint('HOOKS', ep.id))?.rateLimit).toBe(50);

      const lowered = await s.call('PATCH', `${base}/${ep.id}`, { token, body: { rate_limit: 10_000 } });
      expect(lowered.json()).toMatchObject({ rate_limit: 10_000, url: 'https://partner.example/limited' });
      // another change leaves the limit alone
      const described = await s.call('PATCH', `${base}/${ep.id}`, { token, body: { description: 'x' } });
      expect(described.json().rate_limit).toBe(10_000);
      const removed = await s.call('PATCH', `${base}/${ep.id}`, { token, body: { rate_limit: null } });
      expect(removed.json().rate_limit).toBeNull();

      const RULE = 'Must be a whole number of deliveries per second from 1 to 10000, or null for no limit';
      const wrongs: [unknown, string][] = [
        [0, `${RULE}, got 0`],
        [-1, `${RULE}, got -1`],
        [10_001, `${RULE}, got 10001`],
        [1.5, 'expected an integer, got 1.5'],
        ['20', 'expected a number, got a string'],
        [true, 'expected a number, got a boolean'],
      ];
      for (const [wrong, message] of wrongs) {
        for (const [method, url, body] of [
          ['POST', base, { url: 'https://partner.example/wrong', event_types: [TYPE], rate_limit: wrong }],
          ['PATCH', `${base}/${ep.id}`, { rate_limit: wrong }],
        ] as const) {
          const res = await s.call(method, url, { token, body });
          expect(res.statusCode, `${method} ${JSON.stringify(wrong)}`).toBe(400);
          const problems = (
            expectErrorShape(res).details as { problems: { path: string; message: string }[] }
          ).problems;
          expect(problems).toEqual([{ path: '$.rate_limit', message }]);
        }
      }
      expect((await s.store.getEndpoint('HOOKS', ep.id))?.rateLimit).toBeNull();
      expect((await s.store.listEndpoints('HOOKS')).map((e) => e.url)).not.toContain(
        'https://partner.example/wrong',
      );
      // an endpoint created without one has none
      const plain = await s.call('POST', base, {
        token,
        body: { url: 'https://partner.example/plain', event_types: [TYPE] },
      });
      expect(plain.json().rate_limit).toBeNull();
    });

    it('checks the URL on PATCH too', async () => {
      const ep = (
        await s.call('POST', base, { token, body: { url: 'https://partner.example/p', event_types: [TYPE] } })
      ).json();
      const res = await s.call('PATCH', `${base}/${ep.id}`, {
        token,
        body: { url: 'http://169.254.169.254/latest' },
      });
      expect(res.statusCode).toBe(400);
      expect((await s.store.getEndpoint('HOOKS', ep.id))?.url).toBe('https://partner.example/p');
      expect((await s.call('PATCH', `${base}/${ep.id}`, { token, body: {} })).statusCode).toBe(400);
    });

    it('replays create with the same Idempotency-Key (same secret, one endpoint)', async () => {
      const headers = { 'idempotency-key': 'ep-1' };
      const body = { url: 'https://partner.example/idem', event_types: [TYPE] };
      const a = await s.call('POST', base, { token, body, headers });
      const b = await s.call('POST', base, { token, body, headers });
      expect(b.headers['idempotent-replayed']).toBe('true');
      expect(b.json()).toEqual(a.json());
      const urls = (await s.store.listEndpoints('HOOKS')).map((e) => e.url);
      expect(urls.filter((u) => u === body.url)).toHaveLength(1);
    });

    it('caps a partner at 20 endpoints, also when the creates race: 409 endpoint_limit_reached', async () => {
      const capToken = await s.partner('CAP');
      const capBase = '/api/v1/customers/CAP/webhooks';
      const create = (i: number) =>
        s.call('POST', capBase, {
          token: capToken,
          body: { url: `https://partner.example/cap/${i}`, event_types: [TYPE] },
        });
      // sent together: on PostgreSQL they run on several connections at once
      const answers = await Promise.all(Array.from({ length: 25 }, (_, i) => create(i)));
      const statuses = answers.map((r) => r.statusCode).sort();
      expect(statuses).toEqual([...Array(20).fill(201), ...Array(5).fill(409)]);
      for (const refused of answers.filter((r) => r.statusCode === 409)) {
        const err = expectErrorShape(refused);
        expect(err.code).toBe('endpoint_limit_reached');
        expect(err.message).toContain('20');
      }
      expect(await s.store.listEndpoints('CAP')).toHaveLength(20);
      // other partners are not affected, and deleting one makes room again
      expect(
        (
          await s.call('POST', base, {
            token,
            body: { url: 'https://partner.example/o', event_types: [TYPE] },
          })
        ).statusCode,
      ).toBe(201);
      const victim = answers.find((r) => r.statusCode === 201)?.json<{ id: string }>().id;
      expect((await s.call('DELETE', `${capBase}/${victim}`, { token: capToken })).statusCode).toBe(204);
      expect((await create(99)).statusCode).toBe(201);
      expect((await create(100)).statusCode).toBe(409);
    });

    it('refuses a URL another endpoint of the partner has, on create and PATCH: 409 endpoint_exists', async () => {
      const dupToken = await s.partner('DUP');
      const dupBase = '/api/v1/customers/DUP/webhooks';
      const create = (url: string, as = dupToken, on = dupBase) =>
        s.call('POST', on, { token: as, body: { url, event_types: [TYPE] } });
      const first = await create('https://partner.example/dup');
      expect(first.statusCode).toBe(201);
      const existing = first.json<{ id: string }>().id;

      // the same URL as stored: the host is compared after normalisation
      for (const url of ['https://partner.example/dup', 'https://PARTNER.example:443/dup']) {
        const again = await create(url);
        expect(again.statusCode, url).toBe(409);
        const err = expectErrorShape(again);
        expect(err).toEqual({
          code: 'endpoint_exists',
          message: expect.stringContaining(existing),
          details: { endpoint_id: existing },
        });
        expect(err.message).toContain('https://partner.example/dup');
      }
      // another path is another URL; another partner may use the same one
      const other = await create('https://partner.example/dup2');
      expect(other.statusCode).toBe(201);
      expect((await create('https://partner.example/dup', token, base)).statusCode).toBe(201);

      const otherId = other.json<{ id: string }>().id;
      const moved = await s.call('PATCH', `${dupBase}/${otherId}`, {
        token: dupToken,
        body: { url: 'https://partner.example/dup', description: 'never written' },
      });
      expect(moved.statusCode).toBe(409);
      expect(expectErrorShape(moved).details).toEqual({ endpoint_id: existing });
      const unchanged = await s.call('GET', `${dupBase}/${otherId}`, { token: dupToken });
      expect(unchanged.json()).toMatchObject({ url: 'https://partner.example/dup2', description: null });
      // an endpoint's own URL is no conflict, and a freed URL can be taken
      const own = await s.call('PATCH', `${dupBase}/${existing}`, {
        token: dupToken,
        body: { url: 'https://partner.example/dup' },
      });
      expect(own.statusCode).toBe(200);
      expect((await s.call('DELETE', `${dupBase}/${existing}`, { token: dupToken })).statusCode).toBe(204);
      const taken = await s.call('PATCH', `${dupBase}/${otherId}`, {
        token: dupToken,
        body: { url: 'https://partner.example/dup' },
      });
      expect(taken.json()).toMatchObject({ url: 'https://partner.example/dup' });
      expect((await s.store.listEndpoints('DUP')).map((e) => e.url).sort()).toEqual([
        'https://partner.example/dup',
      ]);
    });

    it('lets exactly one of 10 concurrent creates of one URL through: one 201, nine 409', async () => {
      const raceToken = await s.partner('RACE');
      const answers = await Promise.all(
        Array.from({ length: 10 }, () =>
          s.call('POST', '/api/v1/customers/RACE/webhooks', {
            token: raceToken,
            body: { url: 'https://partner.example/race', event_types: [TYPE] },
          }),
        ),
      );
      const statuses = answers.map((r) => r.statusCode).sort();
      expect(statuses).toEqual([201, ...Array(9).fill(409)]);
      const winner = answers.find((r) => r.statusCode === 201)?.json<{ id: string }>().id;
      for (const refused of answers.filter((r) => r.statusCode === 409)) {
        expect(expectErrorShape(refused)).toMatchObject({
          code: 'endpoint_exists',
          details: { endpoint_id: winner },
        });
      }
      expect(await s.store.listEndpoints('RACE')).toHaveLength(1);
    });

    it('lists endpoints oldest first, a page at a time, all of them by default', async () => {
      const pageToken = await s.partner('PAGED');
      const pageBase = '/api/v1/customers/PAGED/webhooks';
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) {
        const res = await s.call('POST', pageBase, {
          token: pageToken,
          body: { url: `https://partner.example/page/${i}`, event_types: [TYPE] },
        });
        ids.push((res.json() as { id: string }).id);
      }
      const list = async (query: string) => {
        const res = await s.call('GET', `${pageBase}${query}`, { token: pageToken });
        expect(res.statusCode, res.body).toBe(200);
        const body = res.json<{
          webhooks: { id: string; created_at: string }[];
          next_cursor: string | null;
        }>();
        const created = body.webhooks.map((w) => w.created_at);
        expect(created, 'oldest first').toEqual([...created].sort());
        return { ids: body.webhooks.map((w) => w.id), next: body.next_cursor };
      };
      // today's clients pass nothing: every endpoint in one page
      const all = await list('');
      expect(all.next).toBeNull();
      expect([...all.ids].sort()).toEqual([...ids].sort());

      const first = await list('?limit=2');
      expect(first.ids).toEqual(all.ids.slice(0, 2));
      expect(first.next).toEqual(expect.any(String));
      // deleting the endpoint the cursor points after does not shift the next page
      expect((await s.call('DELETE', `${pageBase}/${first.ids[1]}`, { token: pageToken })).statusCode).toBe(
        204,
      );
      const second = await list(`?limit=2&cursor=${first.next}`);
      expect(second.ids).toEqual(all.ids.slice(2, 4));
      const third = await list(`?limit=2&cursor=${second.next}`);
      expect(third).toEqual({ ids: all.ids.slice(4), next: null });

      for (const bad of ['?cursor=nonsense', '?cursor=MTIz', '?limit=0', '?limit=101', '?limit=x']) {
        const res = await s.call('GET', `${pageBase}${bad}`, { token: pageToken });
        expect(res.statusCode, bad).toBe(400);
        expectErrorShape(res);
      }
    });
  });
}

describe('webhook endpoints with ALLOW_PRIVATE_ENDPOINTS', () => {
  it('accepts loopback URLs', async () => {
    const s = await startService({ allowPrivateEndpoints: true });
    const token = await s.partner('DEV');
    const res = await s.call('POST', '/api/v1/customers/DEV/webhooks', {
      token,
      body: { url: 'http://127.0.0.1:4000/webhooks', event_types: [TYPE] },
    });
    expect(res.statusCode).toBe(201);
    await s.close();
  });
});

describe('webhook endpoints with ENDPOINTS_PER_PARTNER', () => {
  it('caps a partner at the configured number', async () => {
    const storage = await openTestStorage('sqlite::memory:');
    const adminToken = generateToken('admin');
    const app = buildApp({
      store: storage.store,
      adminTokenHash: hashToken(adminToken),
      allowPrivateEndpoints: true,
      endpointsPerPartner: 2,
    });
    try {
      const partner = await app.inject({
        method: 'POST',
        url: '/api/v1/admin/partners',
        headers: { authorization: `Bearer ${adminToken}` },
        payload: { customer_id: 'TWO' },
      });
      const token = partner.json<{ token: string }>().token;
      const create = (i: number) =>
        app.inject({
          method: 'POST',
          url: '/api/v1/customers/TWO/webhooks',
          headers: { authorization: `Bearer ${token}` },
          payload: { url: `http://127.0.0.1:4000/webhooks/${i}`, event_types: [TYPE] },
        });
      expect([(await create(1)).statusCode, (await create(2)).statusCode]).toEqual([201, 201]);
      const refused = await create(3);
      expect(refused.statusCode).toBe(409);
      expect(expectErrorShape(refused)).toMatchObject({ code: 'endpoint_limit_reached' });
      expect(expectErrorShape(refused).message).toContain('2 webhook endpoints');
    } finally {
      await app.close();
      await storage.close();
    }
  });
});
