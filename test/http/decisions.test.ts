import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseEvent } from '../../src/contract/index.js';
import { DIALECTS, skipReason } from '../support/databases.js';
import { expectErrorShape, startService, type TestService, validThirdParty } from './harness.js';

const REJECT = {
  status: 'REJECTED',
  reasons: [{ code: 'COMPLIANCE_CHECK_FAILED', reason: 'Compliance check failed' }],
};

for (const dialect of DIALECTS) {
  describe.skipIf(skipReason(dialect) !== undefined)(`compliance decisions (${dialect})`, () => {
    let s: TestService;
    let token: string;
    const decide = (ref: string, body: unknown, t = s.adminToken) =>
      s.call('POST', `/api/v1/admin/customers/DEC/third-parties/${ref}/decision`, { token: t, body });
    const eventCount = async () => (await s.store.listEvents('DEC', { limit: 100 })).items.length;

    beforeAll(async () => {
      s = await startService({ dialect });
      token = await s.partner('DEC');
      for (const ref of ['D1', 'D2', 'D3']) {
        await s.call('POST', '/api/v1/customers/DEC/third-parties', { token, body: validThirdParty(ref) });
      }
    });
    afterAll(() => s.close());

    it('emits one contract-valid event per status change, and none for an unchanged status', async () => {
      const before = Date.now();
      const approved = await decide('D1', { status: 'APPROVED' });
      expect(approved.statusCode).toBe(200);
      const body = approved.json();
      expect(body.third_party).toMatchObject({ client_customer_ref: 'D1', status: 'APPROVED' });
      expect(body.third_party).not.toHaveProperty('reasons');
      expect(body.event).toMatchObject({
        event_type: 'THIRD PARTY CUSTOMER STATUS',
        version: 'v1.0.0',
        data: { customer_id: 'DEC', client_customer_ref: 'D1', status: 'APPROVED' },
      });
      expect(body.event.event_id).toMatch(/^[0-9a-f-]{36}$/);
      expect(body.event.event_timestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
      expect(Date.parse(body.event.event_timestamp)).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000);
      const stored = await s.store.getEvent('DEC', body.event.event_id);
      expect(stored && parseEvent(stored.payload).ok).toBe(true);

      const same = await decide('D1', { status: 'APPROVED' });
      expect(same.statusCode).toBe(200);
      expect(same.json().event).toBeNull();
      expect(await eventCount()).toBe(1);

      const rejected = await decide('D1', REJECT);
      expect(rejected.json().event.data).toEqual({
        customer_id: 'DEC',
        client_customer_ref: 'D1',
        status: 'REJECTED',
        reasons: REJECT.reasons,
      });
      expect(rejected.json().third_party.reasons).toEqual(REJECT.reasons);
      const back = await decide('D1', { status: 'APPROVED' });
      expect(back.json().event.data.status).toBe('APPROVED');
      expect(await eventCount()).toBe(3);
    });

    it('validates the decision: REJECTED needs reasons, APPROVED takes none, codes are UPPER_SNAKE', async () => {
      const cases: unknown[] = [
        { status: 'REJECTED' },
        { status: 'REJECTED', reasons: [] },
        { status: 'APPROVED', reasons: REJECT.reasons },
        { status: 'REJECTED', reasons: [{ code: 'lower case', reason: 'x' }] },
        { status: 'REJECTED', reasons: [{ code: 'OK', reason: '' }] },
        { status: 'PENDING' },
        { status: 'APPROVED', note: 'extra' },
        [],
      ];
      const before = await eventCount();
      for (const body of cases) {
        const res = await decide('D2', body);
        expect(res.statusCode, JSON.stringify(body)).toBe(400);
        expect(expectErrorShape(res).code).toBe('validation_failed');
      }
      expect(await eventCount()).toBe(before);
      expect((await s.store.getThirdParty('DEC', 'D2'))?.status).toBe('PENDING');
    });

    it('answers 404 for an unknown third party or partner, 401 for a partner token', async () => {
      expect((await decide('NOPE', { status: 'APPROVED' })).statusCode).toBe(404);
      const unknownPartner = await s.call(
        'POST',
        '/api/v1/admin/customers/NOBODY/third-parties/D3/decision',
        {
          token: s.adminToken,
          body: { status: 'APPROVED' },
        },
      );
      expect(unknownPartner.statusCode).toBe(404);
      expect((await decide('D3', { status: 'APPROVED' }, token)).statusCode).toBe(401);
    });

    it('stamps back-to-back decisions a second apart, and answers 429 once they run 60 s ahead', async () => {
      await s.call('POST', '/api/v1/customers/DEC/third-parties', { token, body: validThirdParty('BURST') });
      const stamps: number[] = [];
      let refused: Awaited<ReturnType<typeof decide>> | undefined;
      for (let i = 0; i < 300 && refused === undefined; i++) {
        const res = await decide('BURST', i % 2 === 0 ? { status: 'APPROVED' } : REJECT);
        if (res.statusCode === 429) refused = res;
        else stamps.push(Date.parse(res.json().event.event_timestamp));
      }
      if (refused === undefined) throw new Error('never refused');
      // strictly increasing, one second apart while they came faster than one a second
      for (let i = 1; i < stamps.length; i++) expect(stamps[i]).toBeGreaterThan(stamps[i - 1] as number);
      expect(stamps.length).toBeGreaterThanOrEqual(60);
      expect(refused.headers['retry-after']).toMatch(/^[1-9]\d*$/);
      expect(expectErrorShape(refused).code).toBe('rate_limited');
      expect(refused.json().error.message).toContain('faster than one a second');
      // nothing was written for the refused decision
      const events = (await s.store.listEvents('DEC', { limit: 100 })).items;
      const burst = events.filter((e) => e.clientCustomerRef === 'BURST');
      expect(burst).toHaveLength(stamps.length);
      const last = await s.store.getThirdParty('DEC', 'BURST');
      expect(last?.status).toBe(stamps.length % 2 === 1 ? 'APPROVED' : 'REJECTED');
    });

    it('creates one pending delivery per subscribed, enabled endpoint', async () => {
      const create = (url: string) =>
        s.call('POST', '/api/v1/customers/DEC/webhooks', {
          token,
          body: { url, event_types: ['THIRD PARTY CUSTOMER STATUS'] },
        });
      const on = (await create('http://127.0.0.1:9/on')).json();
      const off = (await create('http://127.0.0.1:9/off')).json();
      await s.call('PATCH', `/api/v1/customers/DEC/webhooks/${off.id}`, { token, body: { enabled: false } });
      const res = await decide('D3', REJECT);
      const eventId = res.json().event.event_id;
      const deliveries = await s.call('GET', `/api/v1/customers/DEC/webhooks/${on.id}/deliveries`, { token });
      expect(deliveries.statusCode).toBe(200);
      expect(deliveries.json().deliveries).toEqual([
        expect.objectContaining({ event_id: eventId, status: 'pending', attempts: [] }),
      ]);
      const none = await s.call('GET', `/api/v1/customers/DEC/webhooks/${off.id}/deliveries`, { token });
      expect(none.json().deliveries).toEqual([]);
    });
  });
}
