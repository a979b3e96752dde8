/** `POST /api/v1/admin/decisions`: up to 1,000 compliance decisions, each with its own result. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseEvent } from '../../src/contract/index.js';
import { DIALECTS, skipReason } from '../support/databases.js';
import { newThirdParty } from '../support/fixtures.js';
import { expectErrorShape, startService, type TestService, validThirdParty } from './harness.js';

const PARTNER = 'BATCH';
const REASONS = [{ code: 'COMPLIANCE_CHECK_FAILED', reason: 'Compliance check failed' }];
const approve = (ref: string, customer_id = PARTNER) => ({
  customer_id,
  client_customer_ref: ref,
  status: 'APPROVED',
});
const reject = (ref: string, reasons: unknown = REASONS) => ({
  customer_id: PARTNER,
  client_customer_ref: ref,
  status: 'REJECTED',
  reasons,
});

// biome-ignore lint/suspicious/noExplicitAny: JSON answers, checked by the assertions
type Json = any;

for (const dialect of DIALECTS) {
  describe.skipIf(skipReason(dialect) !== undefined)(`batch compliance decisions (${dialect})`, () => {
    let s: TestService;
    let token: string;
    let webhookId: string;
    const batch = (decisions: unknown, t = s.adminToken) =>
      s.call('POST', '/api/v1/admin/decisions', { token: t, body: { decisions } });
    const events = async () => (await s.store.listEvents(PARTNER, { limit: 100 })).items;
    const latestSeq = async () => (await s.store.listEvents(PARTNER, { limit: 1 })).items[0]?.seq ?? 0;

    beforeAll(async () => {
      s = await startService({ dialect });
      token = await s.partner(PARTNER);
      for (const ref of ['B1', 'B2', 'B3', 'BURST']) {
        await s.call('POST', `/api/v1/customers/${PARTNER}/third-parties`, {
          token,
          body: validThirdParty(ref),
        });
      }
      const hook = await s.call('POST', `/api/v1/customers/${PARTNER}/webhooks`, {
        token,
        body: { url: 'http://127.0.0.1:9/hook', event_types: ['THIRD PARTY CUSTOMER STATUS'] },
      });
      webhookId = hook.json().id;
    });
    afterAll(() => s.close());

    it('answers each decision in order: recorded, unknown, invalid, and one third party decided twice', async () => {
      const res = await batch([
        approve('B1'),
        approve('NOPE'),
        { customer_id: PARTNER, client_customer_ref: 'B2', status: 'REJECTED' },
        reject('B2'),
        approve('B2'),
        approve('B1'),
        { status: 'APPROVED' },
        approve('B3', 'NOBODY'),
        42,
      ]);
      expect(res.statusCode).toBe(200);
      const { results } = res.json() as { results: Json[] };
      expect(results.map((r) => [r.index, r.status])).toEqual([
        [0, 200],
        [1, 404],
        [2, 400],
        [3, 200],
        [4, 200],
        [5, 200],
        [6, 400],
        [7, 404],
        [8, 400],
      ]);
      // a recorded decision answers what the single decision route answers
      expect(results[0].third_party).toMatchObject({ client_customer_ref: 'B1', status: 'APPROVED' });
      expect(results[0].event.data).toEqual({
        customer_id: PARTNER,
        client_customer_ref: 'B1',
        status: 'APPROVED',
      });
      expect(results[5]).toEqual({
        index: 5,
        status: 200,
        third_party: expect.objectContaining({ status: 'APPROVED' }),
        event: null,
      });
      expect(results[1].error).toEqual({
        code: 'not_found',
        message: `No third party customer NOPE for customer ${PARTNER}`,
      });
      // an invalid decision says what is wrong, at its path in the request
      expect(results[2].error).toMatchObject({
        code: 'validation_failed',
        details: { in: 'body', problems: [{ path: '$.decisions[2].reasons', message: expect.any(String) }] },
      });
      expect(results[6].error.details.problems.map((p: Json) => p.path)).toEqual([
        '$.decisions[6].customer_id',
        '$.decisions[6].client_customer_ref',
      ]);
      expect(results[8].error.details.problems).toEqual([
        { path: '$.decisions[8]', message: expect.any(String) },
      ]);

      // B2: REJECTED then APPROVED, in that order, a second apart, both contract-valid events
      const b2 = (await events()).filter((e) => e.clientCustomerRef === 'B2').reverse();
      expect(b2.map((e) => e.eventId)).toEqual([results[3].event.event_id, results[4].event.event_id]);
      const [first, second] = b2.map((e) => parseEvent(e.payload));
      if (!first?.ok || !second?.ok) throw new Error('not contract-valid');
      expect([first.event.data.status, second.event.data.status]).toEqual(['REJECTED', 'APPROVED']);
      expect(Date.parse(second.event.event_timestamp)).toBeGreaterThan(
        Date.parse(first.event.event_timestamp),
      );
      expect((await s.store.getThirdParty(PARTNER, 'B2'))?.status).toBe('APPROVED');
      expect(await events()).toHaveLength(3);

      // each event fanned out to the subscribed endpoint
      const deliveries = await s.call(
        'GET',
        `/api/v1/customers/${PARTNER}/webhooks/${webhookId}/deliveries`,
        {
          token,
        },
      );
      expect(
        deliveries
          .json()
          .deliveries.map((d: Json) => d.event_id)
          .sort(),
      ).toEqual([results[0], results[3], results[4]].map((r) => r.event.event_id).sort());
    });

    it('refuses one third party’s decisions once they run a minute ahead, and records the rest', async () => {
      const decisions = Array.from({ length: 70 }, (_, i) =>
        i % 2 === 0 ? approve('BURST') : reject('BURST'),
      );
      const res = await batch([...decisions, reject('B3')]);
      const { results } = res.json() as { results: Json[] };
      const statuses = results.map((r) => r.status);
      const refused = statuses.indexOf(429);
      expect(refused).toBeGreaterThanOrEqual(60);
      expect(statuses.slice(0, refused).every((x) => x === 200)).toBe(true);
      // after it, each decision that would change the status is refused too; the others hold already
      const after = results.slice(refused, 70).map((r) => [r.status, r.event ?? null]);
      expect(after).toEqual(after.map((_, i) => (i % 2 === 0 ? [429, null] : [200, null])));
      expect(results[refused].error).toMatchObject({
        code: 'rate_limited',
        details: { retry_after_seconds: expect.any(Number) },
      });
      expect(results[70]).toMatchObject({ status: 200, event: { data: { client_customer_ref: 'B3' } } });
      const burst = await s.store.getThirdParty(PARTNER, 'BURST');
      expect(burst?.status).toBe(refused % 2 === 1 ? 'APPROVED' : 'REJECTED');
    });

    it('takes 1,000 decisions, and refuses 1,001 with 413 writing nothing', async () => {
      const refs: string[] = [];
      for (let i = 0; i < 500; i++) refs.push(await newThirdParty(s.store, PARTNER, `MANY_${i}`));
      const before = await latestSeq();
      const thousand = [...refs.map((ref) => approve(ref)), ...refs.map((ref) => reject(ref))];
      const res = await batch(thousand);
      expect(res.statusCode).toBe(200);
      const { results } = res.json() as { results: Json[] };
      expect(results).toHaveLength(1000);
      expect(results.every((r, i) => r.index === i && r.status === 200 && r.event !== null)).toBe(true);
      expect((await s.store.getThirdParty(PARTNER, 'MANY_499'))?.status).toBe('REJECTED');

      const tooMany = await batch([...thousand, approve('B1')]);
      expect(tooMany.statusCode).toBe(413);
      expect(expectErrorShape(tooMany)).toMatchObject({
        code: 'payload_too_large',
        message: expect.stringContaining('at most 1,000 decisions; this one has 1,001'),
      });
      expect(await latestSeq()).toBe(before + 1000);
    });

    it('refuses a malformed request as a whole: 400, 401, 413, 415', async () => {
      const before = await latestSeq();
      for (const body of [
        {},
        { decisions: [] },
        { decisions: {} },
        { decisions: [approve('B1')], extra: 1 },
        [],
      ]) {
        const res = await s.call('POST', '/api/v1/admin/decisions', { token: s.adminToken, body });
        expect(res.statusCode, JSON.stringify(body)).toBe(400);
        expect(expectErrorShape(res).code).toBe('validation_failed');
      }
      expect((await batch([approve('B1')], token)).statusCode).toBe(401);
      const huge = await batch(
        Array.from({ length: 900 }, () => reject('B1', [{ code: 'X', reason: 'y'.repeat(4800) }])),
      );
      expect(huge.statusCode).toBe(413);
      const text = await s.call('POST', '/api/v1/admin/decisions', {
        token: s.adminToken,
        body: 'decisions',
        headers: { 'content-type': 'text/plain' },
      });
      expect(text.statusCode).toBe(415);
      expect(await latestSeq()).toBe(before);
    });
  });
}
