/**
 * Abuse: JSON bodies whose keys appear twice. `JSON.parse` keeps the last copy, so a body could mean
 * one thing to the API and another to whatever else reads it (a proxy, a log, the receiver kit, which
 * refuses duplicates). The API refuses them too, before any route sees the body; bad JSON answers
 * as before.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectErrorShape, startService, type TestService, validThirdParty } from '../http/harness.js';
import { DIALECTS, skipReason } from '../support/databases.js';

const PARTNER = 'JSONKEYS';
const THIRD_PARTIES = `/api/v1/customers/${PARTNER}/third-parties`;
const decisionUrl = (ref: string) => `/api/v1/admin/customers/${PARTNER}/third-parties/${ref}/decision`;

/** A third-party body as JSON text with `"client_customer_ref"` written twice at the top of its details. */
function thirdPartyWithDuplicateRef(first: string, second: string): string {
  const text = JSON.stringify(validThirdParty(second));
  return text.replace(
    '{"client_customer_ref":',
    `{"client_customer_ref":${JSON.stringify(first)},"client_customer_ref":`,
  );
}

for (const dialect of DIALECTS) {
  describe.skipIf(skipReason(dialect) !== undefined)(`duplicate JSON keys (${dialect})`, () => {
    let s: TestService;
    let token: string;
    beforeAll(async () => {
      s = await startService({ dialect });
      token = await s.partner(PARTNER);
      const created = await s.call('POST', THIRD_PARTIES, { token, body: validThirdParty('DUP_1') });
      expect(created.statusCode).toBe(201);
    });
    afterAll(() => s?.close());

    const problemsOf = (res: Awaited<ReturnType<TestService['call']>>) => {
      const error = expectErrorShape(res);
      return {
        error,
        problems: (error.details as { problems: { path: string; message: string }[] }).problems,
      };
    };

    it('refuses a decision whose status is given twice, and records nothing', async () => {
      const res = await s.call('POST', decisionUrl('DUP_1'), {
        token: s.adminToken,
        body: '{"status":"REJECTED","reasons":[{"code":"COMPLIANCE_CHECK_FAILED","reason":"x"}],"status":"APPROVED"}',
      });
      expect(res.statusCode).toBe(400);
      const { error, problems } = problemsOf(res);
      expect(error).toMatchObject({ code: 'validation_failed', details: { in: 'body' } });
      expect(problems).toEqual([
        { path: '$.status', message: expect.stringMatching(/appears more than once/) },
      ]);
      const third = await s.call('GET', `${THIRD_PARTIES}/DUP_1`, { token });
      expect(third.json()).toMatchObject({ status: 'PENDING' });
      expect((await s.store.listEvents(PARTNER, { limit: 10 })).items).toHaveLength(0);
    });

    it('refuses duplicates at any depth, however the key is spelled, in every JSON media type spelling', async () => {
      const cases: [string, string][] = [
        [thirdPartyWithDuplicateRef('DUP_2', 'DUP_3'), '$.client_customer_details.client_customer_ref'],
        [
          JSON.stringify(validThirdParty('DUP_4')).replace(
            '"unit_number":"12B"',
            '"unit_number":"12B","unit_number":"13"',
          ),
          '$.property_details[0].unit_number',
        ],
        // "client_customer_\u0072ef" is "client_customer_ref" once decoded
        [
          thirdPartyWithDuplicateRef('DUP_5', 'DUP_5').replace(
            '"client_customer_ref":"DUP_5",',
            '"client_customer_\\u0072ef":"DUP_5",',
          ),
          '$.client_customer_details.client_customer_ref',
        ],
      ];
      for (const contentType of ['application/json', 'application/json; charset=utf-8', 'Application/JSON']) {
        for (const [body, path] of cases) {
          const res = await s.call('POST', THIRD_PARTIES, {
            token,
            body,
            headers: { 'content-type': contentType },
          });
          expect(res.statusCode, `${contentType} ${path}`).toBe(400);
          expect(problemsOf(res).problems.map((p) => p.path)).toEqual([path]);
        }
      }
      const refs = (await s.call('GET', THIRD_PARTIES, { token })).body;
      for (const ref of ['DUP_2', 'DUP_3', 'DUP_4', 'DUP_5']) expect(refs).not.toContain(ref);
    });

    it('still accepts the same key in different objects', async () => {
      const body = JSON.stringify(validThirdParty('DUP_OK'));
      // "currency" is in income_range, the details and the purchase amount: separate objects
      expect(body.match(/"currency"/g)?.length).toBeGreaterThan(1);
      expect((await s.call('POST', THIRD_PARTIES, { token, body })).statusCode).toBe(201);
    });

    it('answers bad, empty and poisoned JSON as before', async () => {
      const cases: [string, string][] = [
        ['{"status":', 'The body is not valid JSON'],
        ['{"status":"APPROVED",}', 'The body is not valid JSON'],
        ['', 'The body is empty but the content type says JSON'],
        ['{"__proto__":{"admin":true},"status":"APPROVED"}', 'The body is not valid JSON'],
        ['{"constructor":{"prototype":{"admin":true}},"status":"APPROVED"}', 'The body is not valid JSON'],
      ];
      for (const [body, message] of cases) {
        const res = await s.call('POST', decisionUrl('DUP_1'), {
          token: s.adminToken,
          body,
          headers: { 'content-type': 'application/json' },
        });
        expect(res.statusCode, body).toBe(400);
        expect(expectErrorShape(res), body).toEqual({ code: 'bad_request', message });
      }
    });
  });
}
