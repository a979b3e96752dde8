import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ERROR_STATUS } from '../../src/errors/index.js';
import { hashToken } from '../../src/http/auth.js';
import { HttpError } from '../../src/http/errors.js';
import { DIALECTS, skipReason } from '../support/databases.js';
import { expectErrorShape, startService, type TestService, validThirdParty } from './harness.js';

for (const dialect of DIALECTS) {
  describe.skipIf(skipReason(dialect) !== undefined)(`auth (${dialect})`, () => {
    let s: TestService;
    let alice: string;
    let bob: string;
    beforeAll(async () => {
      s = await startService({ dialect });
      alice = await s.partner('ALICE');
      bob = await s.partner('BOB');
      await s.call('POST', '/api/v1/customers/BOB/third-parties', {
        token: bob,
        body: validThirdParty('BOB_1'),
      });
    });
    afterAll(() => s.close());

    it('gives prefixed tokens and stores only their hash', async () => {
      expect(alice).toMatch(/^tpcs_pk_[A-Za-z0-9_-]{43}$/);
      expect(s.adminToken).toMatch(/^tpcs_adm_/);
      expect((await s.store.findPartnerByTokenHash(hashToken(alice)))?.customerId).toBe('ALICE');
      expect(await s.store.findPartnerByTokenHash(alice)).toBeUndefined();
    });

    it('answers 401 with www-authenticate for a missing or wrong token', async () => {
      for (const headers of [
        {},
        { authorization: 'Bearer tpcs_pk_wrong' },
        { authorization: `Basic ${alice}` },
      ]) {
        const res = await s.call('GET', '/api/v1/customers/ALICE/third-parties', { headers });
        expect(res.statusCode).toBe(401);
        expect(res.headers['www-authenticate']).toBe('Bearer');
        expect(expectErrorShape(res).code).toBe('unauthorized');
      }
    });

    it("answers 404 to a partner asking for another partner's data, existing or not", async () => {
      const existing = await s.call('GET', '/api/v1/customers/BOB/third-parties/BOB_1', { token: alice });
      const missing = await s.call('GET', '/api/v1/customers/NOBODY/third-parties/BOB_1', { token: alice });
      expect(existing.statusCode).toBe(404);
      expect(missing.statusCode).toBe(404);
      expect(existing.body).toBe(missing.body);
      const write = await s.call('POST', '/api/v1/customers/BOB/third-parties', {
        token: alice,
        body: validThirdParty('X'),
      });
      expect(write.statusCode).toBe(404);
      expect((await s.store.listThirdParties('BOB', { limit: 10, offset: 0 })).total).toBe(1);
    });

    it('lets the operator token read any existing partner, and 404s for unknown ones', async () => {
      const res = await s.call('GET', '/api/v1/customers/BOB/third-parties/BOB_1', { token: s.adminToken });
      expect(res.statusCode).toBe(200);
      expect(
        (await s.call('GET', '/api/v1/customers/NOBODY/webhooks', { token: s.adminToken })).statusCode,
      ).toBe(404);
    });

    it('keeps partner tokens off the operator API', async () => {
      const res = await s.call('POST', '/api/v1/admin/partners', {
        token: alice,
        body: { customer_id: 'EVE' },
      });
      expect(res.statusCode).toBe(401);
      expect(await s.store.getPartner('EVE')).toBeUndefined();
    });

    it('refuses a second partner with the same customer_id (409), and resets a token', async () => {
      const again = await s.call('POST', '/api/v1/admin/partners', {
        token: s.adminToken,
        body: { customer_id: 'ALICE' },
      });
      expect(again.statusCode).toBe(409);
      const reset = await s.call('POST', '/api/v1/admin/partners/ALICE/token', { token: s.adminToken });
      expect(reset.statusCode).toBe(200);
      const fresh = reset.json().token as string;
      expect((await s.call('GET', '/api/v1/customers/ALICE/webhooks', { token: alice })).statusCode).toBe(
        401,
      );
      expect((await s.call('GET', '/api/v1/customers/ALICE/webhooks', { token: fresh })).statusCode).toBe(
        200,
      );
      alice = fresh;
    });
  });
}

describe('error handling', () => {
  let s: TestService;
  let token: string;
  const url = '/api/v1/customers/ERR/third-parties';
  beforeAll(async () => {
    s = await startService();
    token = await s.partner('ERR');
  });
  afterAll(() => s.close());

  it('maps every code to one status', () => {
    expect(new HttpError('idempotency_key_reused', 'x').status).toBe(422);
    expect(ERROR_STATUS.unsupported_media_type).toBe(415);
  });

  it('answers malformed JSON with 400', async () => {
    const res = await s.call('POST', url, { token, body: '{"client_customer_details": ' });
    expect(res.statusCode).toBe(400);
    expect(expectErrorShape(res).code).toBe('bad_request');
  });

  it('answers an empty JSON body with 400 and prototype poisoning with 400', async () => {
    expect((await s.call('POST', url, { token, body: '' })).statusCode).toBe(400);
    const res = await s.call('POST', url, { token, body: '{"__proto__": {"admin": true}}' });
    expect(res.statusCode).toBe(400);
    expectErrorShape(res);
  });

  it('answers a wrong content type with 415', async () => {
    for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'application/xml']) {
      const res = await s.call('POST', url, { token, body: 'a=1', headers: { 'content-type': type } });
      expect(res.statusCode, type).toBe(415);
      expect(expectErrorShape(res).code).toBe('unsupported_media_type');
    }
  });

  it('answers a body over 64 KiB with 413', async () => {
    const body = validThirdParty('BIG') as unknown as Record<string, unknown>;
    (body.client_customer_details as Record<string, unknown>).occupation = 'x'.repeat(70_000);
    const res = await s.call('POST', url, { token, body });
    expect(res.statusCode).toBe(413);
    expect(expectErrorShape(res).code).toBe('payload_too_large');
  });

  it('answers unknown routes with a JSON 404', async () => {
    const res = await s.call('GET', '/nope/../../etc/passwd');
    expect(res.statusCode).toBe(404);
    expect(expectErrorShape(res).code).toBe('not_found');
    expect((await s.call('DELETE', '/nope')).statusCode).toBe(404);
  });

  it('answers a known path with another method 405, with Allow listing its methods', async () => {
    const res = await s.call('DELETE', '/healthz');
    expect(res.statusCode).toBe(405);
    expect(res.headers.allow).toBe('GET, HEAD');
    expect(expectErrorShape(res)).toMatchObject({
      code: 'method_not_allowed',
      message: 'DELETE is not allowed on /healthz; use GET or HEAD',
    });
    // Every documented API path, with ids filled in: each method it lacks gets 405 naming the ones it
    // has. (The dashboard's HTML pages keep their own session check and HTML 404 page.)
    const doc = (await s.call('GET', '/openapi.json')).json() as { paths: Record<string, object> };
    const verbs = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'];
    let checked = 0;
    for (const [template, operations] of Object.entries(doc.paths)) {
      if (template.startsWith('/dashboard')) continue;
      const url = template.replace(/\{[^}]+\}/g, 'X_1');
      const documented = Object.keys(operations).map((m) => m.toUpperCase());
      for (const verb of verbs.filter((v) => !documented.includes(v))) {
        const answer = await s.call(verb as 'GET', url, { token });
        expect(answer.statusCode, `${verb} ${url}`).toBe(405);
        const allow = String(answer.headers.allow).split(', ');
        for (const m of documented) expect(allow, `${verb} ${url}`).toContain(m);
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(20);
  });

  it('answers a malformed URL with a JSON 400', async () => {
    const res = await s.call('GET', '/api/v1/customers/%E0%A4%A/webhooks', { token });
    expect(res.statusCode).toBeGreaterThanOrEqual(400);
    expect(res.statusCode).toBeLessThan(500);
    expectErrorShape(res);
  });

  it('answers 500 without internals when the store fails', async () => {
    const broken = await startService();
    const t = await broken.partner('BROKEN');
    await broken.store.close();
    const res = await broken.call('GET', '/api/v1/customers/BROKEN/webhooks', { token: t });
    expect(res.statusCode).toBe(500);
    expect(expectErrorShape(res)).toEqual({ code: 'internal', message: 'Something went wrong on our side' });
    await broken.app.close();
  });
});
