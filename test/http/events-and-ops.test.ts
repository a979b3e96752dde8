import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS, skipReason } from '../support/databases.js';
import { expectErrorShape, startService, type TestService, validThirdParty } from './harness.js';

for (const dialect of DIALECTS) {
  describe.skipIf(skipReason(dialect) !== undefined)(`events (${dialect})`, () => {
    let s: TestService;
    let token: string;
    const ids: string[] = [];
    const base = '/api/v1/customers/EVT/events';
    beforeAll(async () => {
      s = await startService({ dialect });
      token = await s.partner('EVT');
      await s.partner('EVT_OTHER');
      for (const ref of ['E1', 'E2', 'E3']) {
        await s.call('POST', '/api/v1/customers/EVT/third-parties', { token, body: validThirdParty(ref) });
        const res = await s.call('POST', `/api/v1/admin/customers/EVT/third-parties/${ref}/decision`, {
          token: s.adminToken,
          body: { status: 'APPROVED' },
        });
        ids.push(res.json().event.event_id);
      }
    });
    afterAll(() => s.close());

    it('lists events newest first with cursor pagination', async () => {
      const first = await s.call('GET', `${base}?limit=2`, { token });
      expect(first.statusCode).toBe(200);
      const page1 = first.json();
      expect(page1.events.map((e: { event_id: string }) => e.event_id)).toEqual([ids[2], ids[1]]);
      expect(page1.next_cursor).toEqual(expect.any(String));
      const second = await s.call('GET', `${base}?limit=2&cursor=${encodeURIComponent(page1.next_cursor)}`, {
        token,
      });
      expect(second.json()).toEqual({
        events: [expect.objectContaining({ event_id: ids[0] })],
        next_cursor: null,
      });
    });

    it('gets one event as delivered, and 404s for others', async () => {
      const res = await s.call('GET', `${base}/${ids[0]}`, { token });
      expect(res.statusCode).toBe(200);
      expect(res.json()).toMatchObject({
        event_id: ids[0],
        data: { client_customer_ref: 'E1', status: 'APPROVED' },
      });
      const stored = await s.store.getEvent('EVT', ids[0] as string);
      expect(res.json()).toEqual(JSON.parse(stored?.payload ?? ''));
      expect((await s.call('GET', `${base}/not-a-uuid`, { token })).statusCode).toBe(404);
      expect(
        (await s.call('GET', `${base}/00000000-0000-4000-8000-000000000000`, { token })).statusCode,
      ).toBe(404);
      const foreign = await s.call('GET', `/api/v1/customers/EVT_OTHER/events/${ids[0]}`, {
        token: s.adminToken,
      });
      expect(foreign.statusCode).toBe(404);
    });

    it('answers 400 to a cursor it did not give out', async () => {
      for (const cursor of ['garbage!!', 'AAAA', 'x'.repeat(501)]) {
        const res = await s.call('GET', `${base}?cursor=${cursor}`, { token });
        expect(res.statusCode, cursor).toBe(400);
        expectErrorShape(res);
      }
    });
  });
}

describe('operations', () => {
  let s: TestService;
  beforeAll(async () => {
    s = await startService();
  });
  afterAll(() => s.close());

  it('answers /healthz and /readyz', async () => {
    expect((await s.call('GET', '/healthz')).json()).toEqual({ status: 'ok' });
    expect((await s.call('GET', '/readyz')).json()).toEqual({ status: 'ready', database: 'sqlite' });
  });

  it('counts requests by route pattern and status in /metrics', async () => {
    await s.call('GET', '/api/v1/customers/SOMEONE/webhooks');
    await s.call('GET', '/no/such/route');
    const res = await s.call('GET', '/metrics');
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain/);
    expect(res.body).toContain('process_cpu_user_seconds_total');
    expect(res.body).toMatch(
      /http_requests_total\{method="GET",route="\/api\/v1\/customers\/:customer_id\/webhooks",status_code="401"\} 1/,
    );
    expect(res.body).toMatch(/http_requests_total\{method="GET",route="unmatched",status_code="404"\} 1/);
    expect(res.body).toContain('http_request_duration_seconds_bucket');
  });

  it('publishes the OpenAPI 3.1 document with every pinned path and the contract webhooks', async () => {
    const res = await s.call('GET', '/openapi.json');
    expect(res.statusCode).toBe(200);
    const doc = res.json();
    expect(doc.openapi).toBe('3.1.0');
    expect(Object.keys(doc.webhooks ?? {})).not.toHaveLength(0);
    expect(JSON.stringify(doc.webhooks)).toContain('THIRD PARTY CUSTOMER STATUS');
    for (const path of [
      '/api/v1/admin/partners',
      '/api/v1/admin/customers/{customer_id}/third-parties/{client_customer_ref}/decision',
      '/api/v1/customers/{customer_id}/third-parties',
      '/api/v1/customers/{customer_id}/third-parties/{client_customer_ref}',
      '/api/v1/customers/{customer_id}/webhooks',
      '/api/v1/customers/{customer_id}/webhooks/{webhook_id}',
      '/api/v1/customers/{customer_id}/webhooks/{webhook_id}/rotate-secret',
      '/api/v1/customers/{customer_id}/webhooks/{webhook_id}/deliveries',
      '/api/v1/customers/{customer_id}/events',
      '/api/v1/customers/{customer_id}/events/{event_id}',
      '/healthz',
      '/readyz',
      '/metrics',
    ]) {
      expect(doc.paths, path).toHaveProperty([path]);
    }
    const create = doc.paths['/api/v1/customers/{customer_id}/third-parties'].post;
    const ref: string = create.requestBody.content['application/json'].schema.$ref;
    const schema = doc.components.schemas[ref.replace('#/components/schemas/', '')];
    expect(Object.keys(schema.properties)).toEqual(['client_customer_details', 'property_details']);
    expect(doc.components.securitySchemes).toHaveProperty('partnerToken');
    expect(Object.keys(doc.paths).some((p: string) => p.startsWith('/docs'))).toBe(false);
  });

  it('serves the API reference page at /docs with local assets', async () => {
    const page = await s.app.inject({ method: 'GET', url: '/docs/' });
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toMatch(/text\/html/);
    expect(page.body).not.toMatch(/https?:\/\/(cdn|unpkg)/);
    const asset = await s.app.inject({ method: 'GET', url: '/docs/static/swagger-ui-bundle.js' });
    expect(asset.statusCode).toBe(200);
  });

  it('answers /readyz with 503 when the store is gone', async () => {
    const t = await startService();
    await t.store.close();
    const res = await t.call('GET', '/readyz');
    expect(res.statusCode).toBe(503);
    expect(expectErrorShape(res).code).toBe('unavailable');
    await t.app.close();
  });
});
