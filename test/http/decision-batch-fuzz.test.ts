/**
 * Random and mutated bodies for `POST /api/v1/admin/decisions`: whatever a client sends, the answer
 * is a 4xx with the error shape (and nothing written), or a 200 with one result per decision, each a
 * 200, 400, 404 or 429, never a 5xx.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectErrorShape, startService, type TestService, validThirdParty } from './harness.js';

const PARTNER = 'FUZZ_BATCH';
const REASONS = [{ code: 'COMPLIANCE_CHECK_FAILED', reason: 'Failed' }];

const VALID = {
  decisions: [
    { customer_id: PARTNER, client_customer_ref: 'F1', status: 'APPROVED' },
    { customer_id: PARTNER, client_customer_ref: 'F1', status: 'REJECTED', reasons: REASONS },
    { customer_id: PARTNER, client_customer_ref: 'F2', status: 'REJECTED', reasons: REASONS },
    { customer_id: PARTNER, client_customer_ref: 'NOPE', status: 'APPROVED' },
  ],
};

/** Values that break naive code: injections, wrong types, odd numbers and strings, deep nesting. */
const nasty: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(
    "'; DROP TABLE third_parties; --",
    '__proto__',
    'constructor',
    '\u0000',
    '𝕳𝖊𝖑𝖑𝖔 👩‍👩‍👧‍👦',
    null,
    true,
    0,
    -1,
    1e308,
    Number.MAX_SAFE_INTEGER + 2,
    '',
    [],
    {},
    'APPROVED',
    'REJECTED',
  ),
  fc.string({ unit: 'binary', maxLength: 50 }),
  fc.integer({ min: 1, max: 5000 }).map((n) => 'x'.repeat(n)),
  fc.jsonValue({ maxDepth: 4 }),
  fc.array(fc.jsonValue({ maxDepth: 2 }), { maxLength: 30 }),
);

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

/** The valid body with one to three values replaced, deleted, or joined by an unknown field. */
const mutated: fc.Arbitrary<unknown> = fc
  .array(fc.tuple(fc.constantFrom(...paths(VALID)), nasty, fc.constantFrom('replace', 'delete', 'add')), {
    minLength: 1,
    maxLength: 3,
  })
  .map((edits) => {
    let body: unknown = structuredClone(VALID);
    for (const [path, v, op] of edits) {
      if (path.length === 0) {
        if (op === 'replace') body = v;
        continue;
      }
      let parent: unknown = body;
      for (const key of path.slice(0, -1)) {
        parent =
          parent !== null && typeof parent === 'object'
            ? (parent as Record<string, unknown>)[key]
            : undefined;
      }
      if (parent === null || typeof parent !== 'object') continue;
      const target = parent as Record<string | number, unknown>;
      const last = path[path.length - 1] as string | number;
      if (op === 'replace') target[last] = v;
      else if (op === 'delete') delete target[last];
      else if (!Array.isArray(target)) target[`extra_${String(last)}`] = v;
    }
    return body;
  });

const bodies: fc.Arbitrary<string> = fc.oneof(
  { weight: 6, arbitrary: mutated.map((v) => JSON.stringify(v) ?? 'null') },
  { weight: 2, arbitrary: fc.jsonValue().map((v) => JSON.stringify({ decisions: [v] })) },
  { weight: 1, arbitrary: fc.jsonValue().map((v) => JSON.stringify(v)) },
  { weight: 1, arbitrary: fc.string({ maxLength: 200 }) },
);

describe('fuzz: the batch decisions body', () => {
  let s: TestService;

  beforeAll(async () => {
    s = await startService();
    const token = await s.partner(PARTNER);
    for (const ref of ['F1', 'F2']) {
      await s.call('POST', `/api/v1/customers/${PARTNER}/third-parties`, {
        token,
        body: validThirdParty(ref),
      });
    }
  });
  afterAll(() => s.close());

  const latestSeq = async () => (await s.store.listEvents(PARTNER, { limit: 1 })).items[0]?.seq ?? 0;

  it('answers 4xx writing nothing, or 200 with one 200/400/404/429 result per decision', async () => {
    await fc.assert(
      fc.asyncProperty(bodies, async (raw) => {
        const before = await latestSeq();
        const res = await s.call('POST', '/api/v1/admin/decisions', {
          token: s.adminToken,
          body: raw,
          headers: { 'content-type': 'application/json' },
        });
        expect(res.statusCode, res.body).toBeLessThan(500);
        if (res.statusCode !== 200) {
          expect(res.statusCode).toBeGreaterThanOrEqual(400);
          expectErrorShape(res);
          expect(await latestSeq()).toBe(before);
          return;
        }
        const sent = (JSON.parse(raw) as { decisions: unknown[] }).decisions;
        const { results } = res.json() as { results: { index: number; status: number; error?: unknown }[] };
        expect(results.map((r) => r.index)).toEqual(sent.map((_, i) => i));
        for (const r of results) {
          expect([200, 400, 404, 429]).toContain(r.status);
          if (r.status !== 200)
            expect(r.error).toMatchObject({ code: expect.any(String), message: expect.any(String) });
        }
      }),
      { numRuns: 300 },
    );
  });
});
