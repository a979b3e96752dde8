/**
 * Validation problems that teach: each says what was expected and what was given, "Required" only
 * for a field that is absent, every problem of a body at once, and the same wording for the body,
 * the query string and the path, each at its JSON path. Against the real app (app.inject).
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Problem } from '../../src/errors/index.js';
import { startService, type TestService, validThirdParty } from './harness.js';

const CUSTOMER = 'MSG';

describe('validation messages', () => {
  let s: TestService;
  let token: string;
  let webhookId: string;

  beforeAll(async () => {
    s = await startService();
    token = await s.partner(CUSTOMER);
    const created = await s.call('POST', `/api/v1/customers/${CUSTOMER}/webhooks`, {
      token,
      body: { url: 'http://127.0.0.1:4000/hook', event_types: ['THIRD PARTY CUSTOMER STATUS'] },
    });
    webhookId = (created.json() as { id: string }).id;
    const submitted = await s.call('POST', `/api/v1/customers/${CUSTOMER}/third-parties`, {
      token,
      body: validThirdParty('CUST_1'),
    });
    expect(submitted.statusCode).toBe(201);
  });
  afterAll(() => s.close());

  /** The problems of a 400 answer, and which part of the request they are in. */
  async function problemsOf(
    method: 'GET' | 'POST' | 'PATCH',
    url: string,
    options: { body?: unknown; admin?: boolean } = {},
  ): Promise<{ in: string; problems: Problem[] }> {
    const res = await s.call(method, url, {
      token: options.admin ? s.adminToken : token,
      ...(options.body === undefined ? {} : { body: options.body }),
    });
    expect(res.statusCode, res.body).toBe(400);
    const error = (res.json() as { error: { code: string; details: { in: string; problems: Problem[] } } })
      .error;
    expect(error.code).toBe('validation_failed');
    return error.details;
  }
  const messages = (problems: Problem[]) => Object.fromEntries(problems.map((p) => [p.path, p.message]));

  it('names a wrong type as such, never as missing (the examples of issue 12)', async () => {
    const partner = await problemsOf('POST', '/api/v1/admin/partners', {
      admin: true,
      body: { customer_id: 1234 },
    });
    expect(partner.problems).toEqual([{ path: '$.customer_id', message: 'expected a string, got a number' }]);

    const body = validThirdParty('CUST_2');
    const details = body.client_customer_details as Record<string, unknown>;
    details.first_name = 42;
    details.occupation = null;
    (details.income_range as Record<string, unknown>).min_value = '100000';
    delete details.email;
    const submitted = await problemsOf('POST', `/api/v1/customers/${CUSTOMER}/third-parties`, { body });
    expect(messages(submitted.problems)).toEqual({
      '$.client_customer_details.first_name': 'expected a string, got a number',
      '$.client_customer_details.occupation': 'expected a string, got null',
      '$.client_customer_details.income_range.min_value': 'expected a number, got a string',
      '$.client_customer_details.email': 'Required',
    });
  });

  it('words query and path parameters like the body, quoting short values', async () => {
    const page = await problemsOf('GET', `/api/v1/customers/${CUSTOMER}/third-parties?page=abc&limit=0`);
    expect(page.in).toBe('querystring');
    expect(messages(page.problems)).toEqual({
      '$.page': 'expected a number, got "abc"',
      '$.limit': 'expected at least 1, got "0"',
    });
    const status = await problemsOf('GET', `/api/v1/customers/${CUSTOMER}/third-parties?status=DONE&x=1`);
    expect(messages(status.problems)).toEqual({
      '$.status': 'expected one of "PENDING", "APPROVED", "REJECTED", got "DONE"',
      '$.x': 'Unknown parameter',
    });
    const long = 'a'.repeat(120);
    const events = await problemsOf('GET', `/api/v1/customers/${CUSTOMER}/events?limit=${long}`);
    expect(events.problems).toEqual([
      { path: '$.limit', message: 'expected a number, got text of 120 characters' },
    ]);
    const path = await problemsOf('GET', `/api/v1/customers/${CUSTOMER}/third-parties/bad.ref`);
    expect(path.in).toBe('params');
    expect(path.problems).toEqual([
      { path: '$.client_customer_ref', message: 'Use only letters, digits, "_" and "-"' },
    ]);
    // Nothing in the answer is zod's own wording.
    const all = [...page.problems, ...status.problems, ...events.problems, ...path.problems];
    expect(all.map((p) => p.message).join('\n')).not.toMatch(
      /Too small|Too big|Invalid input|Invalid option/,
    );
  });

  it('reports every problem of a body at once, the endpoint URL included', async () => {
    const patch = await problemsOf('PATCH', `/api/v1/customers/${CUSTOMER}/webhooks/${webhookId}`, {
      body: { url: 'nope', enabled: 'yes' },
    });
    expect(messages(patch.problems)).toEqual({
      '$.url': 'Must be an absolute URL',
      '$.enabled': 'expected true or false, got a string',
    });
    const created = await problemsOf('POST', `/api/v1/customers/${CUSTOMER}/webhooks`, {
      body: { url: 'ftp://example.com/x', event_types: [], description: 7 },
    });
    expect(messages(created.problems)).toEqual({
      '$.url': 'Must be an http or https URL',
      '$.event_types': 'Subscribe to at least one event type, got an empty array',
      '$.description': 'expected a string, got a number',
    });
  });

  it('says what a rule expected and what size was given', async () => {
    const body = validThirdParty('CUST_3');
    const details = body.client_customer_details as Record<string, unknown>;
    details.last_name = 'x'.repeat(101);
    details.first_name = '   ';
    const submitted = await problemsOf('POST', `/api/v1/customers/${CUSTOMER}/third-parties`, { body });
    expect(messages(submitted.problems)).toEqual({
      '$.client_customer_details.last_name': 'Must be at most 100 characters, got 101 characters',
      '$.client_customer_details.first_name': 'Must not be empty',
    });
    const decision = await problemsOf(
      'POST',
      `/api/v1/admin/customers/${CUSTOMER}/third-parties/CUST_1/decision`,
      { admin: true, body: { status: 'PENDING' } },
    );
    expect(decision.problems).toEqual([
      { path: '$.status', message: 'expected "APPROVED" or "REJECTED", got "PENDING"' },
    ]);
  });
});

/** A JSON value of each type, for putting where another type belongs. */
const JSON_TYPES = ['string', 'number', 'boolean', 'null', 'array', 'object'] as const;
type JsonType = (typeof JSON_TYPES)[number];
const sampleOf: Record<JsonType, fc.Arbitrary<unknown>> = {
  string: fc.string({ maxLength: 300 }),
  number: fc.oneof(fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true })),
  boolean: fc.boolean(),
  null: fc.constant(null),
  array: fc.array(fc.oneof(fc.integer(), fc.string()), { maxLength: 3 }),
  object: fc.dictionary(fc.string({ minLength: 1, maxLength: 8 }), fc.integer(), { maxKeys: 3 }),
};

/** The known keys of a body, each with the JSON type it takes. */
type KnownKeys = ReadonlyArray<readonly [path: readonly (string | number)[], type: JsonType]>;

const THIRD_PARTY_KEYS: KnownKeys = [
  [['client_customer_details'], 'object'],
  ...(
    [
      'client_customer_ref',
      'first_name',
      'last_name',
      'email',
      'mobile_phone',
      'country',
      'date_of_birth',
      'currency',
      'occupation',
      'employer_name',
    ] as const
  ).map((key) => [['client_customer_details', key], 'string'] as const),
  [['client_customer_details', 'address'], 'object'],
  ...(['address_line', 'city', 'state', 'post_code', 'country'] as const).map(
    (key) => [['client_customer_details', 'address', key], 'string'] as const,
  ),
  [['client_customer_details', 'income_range'], 'object'],
  [['client_customer_details', 'income_range', 'currency'], 'string'],
  [['client_customer_details', 'income_range', 'min_value'], 'number'],
  [['client_customer_details', 'income_range', 'max_value'], 'number'],
  [['property_details'], 'array'],
  [['property_details', 0], 'object'],
  ...(['property_ref', 'unit_number', 'building_name', 'project_name'] as const).map(
    (key) => [['property_details', 0, key], 'string'] as const,
  ),
  [['property_details', 0, 'property_purchase_amount'], 'object'],
  [['property_details', 0, 'property_purchase_amount', 'currency'], 'string'],
  [['property_details', 0, 'property_purchase_amount', 'value'], 'number'],
];

const DECISION_KEYS: KnownKeys = [
  [['status'], 'string'],
  [['reasons'], 'array'],
  [['reasons', 0], 'object'],
  [['reasons', 0, 'code'], 'string'],
  [['reasons', 0, 'reason'], 'string'],
];

const jsonPathOf = (path: readonly (string | number)[]) =>
  `$${path.map((k) => (typeof k === 'number' ? `[${k}]` : `.${k}`)).join('')}`;

/** A copy of `body` with `value` at `path`. */
function withValue(body: unknown, path: readonly (string | number)[], value: unknown): unknown {
  const copy = structuredClone(body) as Record<string | number, unknown>;
  let at = copy;
  for (const key of path.slice(0, -1)) at = at[key] as Record<string | number, unknown>;
  at[path.at(-1) as string | number] = value;
  return copy;
}

/** Several keys of `keys`, each given a value of a type it does not take (none inside another). */
function wrongTypedValues(keys: KnownKeys) {
  const one = fc
    .constantFrom(...keys)
    .chain(([path, type]) =>
      fc
        .constantFrom(...JSON_TYPES.filter((t) => t !== type))
        .chain((wrong) => sampleOf[wrong].map((value) => ({ path, value }))),
    );
  return fc
    .uniqueArray(one, { minLength: 1, maxLength: 4, selector: (c) => jsonPathOf(c.path) })
    .filter((changes) =>
      // a change inside a key that is itself changed would not be there to report
      changes.every((a) =>
        changes.every((b) => {
          const inner = jsonPathOf(a.path);
          const outer = jsonPathOf(b.path);
          return a === b || !(inner.startsWith(`${outer}.`) || inner.startsWith(`${outer}[`));
        }),
      ),
    );
}

describe('validation messages, for any wrong-typed values at known keys', () => {
  let s: TestService;
  let token: string;
  beforeAll(async () => {
    s = await startService();
    token = await s.partner(CUSTOMER);
    await s.call('POST', `/api/v1/customers/${CUSTOMER}/third-parties`, {
      token,
      body: validThirdParty('CUST_1'),
    });
  });
  afterAll(() => s.close());

  const cases = [
    {
      name: 'a third-party submission',
      keys: THIRD_PARTY_KEYS,
      valid: () => validThirdParty('CUST_P'),
      url: `/api/v1/customers/${CUSTOMER}/third-parties`,
      admin: false,
    },
    {
      name: 'a decision',
      keys: DECISION_KEYS,
      valid: () => ({ status: 'REJECTED', reasons: [{ code: 'COMPLIANCE_CHECK_FAILED', reason: 'No' }] }),
      url: `/api/v1/admin/customers/${CUSTOMER}/third-parties/CUST_1/decision`,
      admin: true,
    },
  ];

  for (const c of cases) {
    it(`names each key's path and what it expected, never "Required" for a present key: ${c.name}`, async () => {
      await fc.assert(
        fc.asyncProperty(wrongTypedValues(c.keys), async (changes) => {
          let body = c.valid() as unknown;
          for (const { path, value } of changes) body = withValue(body, path, value);
          const res = await s.call('POST', c.url, { token: c.admin ? s.adminToken : token, body });
          expect(res.statusCode, res.body).toBe(400);
          const { problems } = (res.json() as { error: { details: { problems: Problem[] } } }).error.details;
          for (const { path } of changes) {
            const at = problems.filter((p) => p.path === jsonPathOf(path));
            expect(at.length, `${jsonPathOf(path)} in ${res.body}`).toBeGreaterThan(0);
            for (const p of at) expect(p.message, res.body).toMatch(/^expected .+, got .+/);
          }
          // no key of the body is missing, so nothing may be called missing
          for (const p of problems) expect(p.message, res.body).not.toMatch(/Required/);
        }),
        { numRuns: 150 },
      );
    });
  }
});
