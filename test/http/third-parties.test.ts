import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IDEMPOTENCY_KEY_RETENTION_MS, pruneIdempotencyKeys } from '../../src/http/idempotency.js';
import { DIALECTS, skipReason } from '../support/databases.js';
import { expectErrorShape, startService, type TestService, validThirdParty } from './harness.js';

function firstProperty(body: ReturnType<typeof validThirdParty>) {
  const [first] = body.property_details;
  if (!first) throw new Error('no property');
  return first;
}

for (const dialect of DIALECTS) {
  describe.skipIf(skipReason(dialect) !== undefined)(`third-party customers (${dialect})`, () => {
    let s: TestService;
    let token: string;
    const base = '/api/v1/customers/0201001008132685/third-parties';
    beforeAll(async () => {
      s = await startService({ dialect });
      token = await s.partner('0201001008132685');
    });
    afterAll(() => s.close());

    it('creates a PENDING third party, reads it back, and refuses the same ref with 409', async () => {
      const created = await s.call('POST', base, { token, body: validThirdParty('TP_CREATE') });
      expect(created.statusCode).toBe(201);
      const body = created.json();
      expect(body).toMatchObject({
        customer_id: '0201001008132685',
        client_customer_ref: 'TP_CREATE',
        status: 'PENDING',
        client_customer_details: { email: 'ada@example.com', country: 'USA' },
      });
      expect(body).not.toHaveProperty('reasons');

      const got = await s.call('GET', `${base}/TP_CREATE`, { token });
      expect(got.statusCode).toBe(200);
      expect(got.json()).toEqual(body);

      const again = await s.call('POST', base, { token, body: validThirdParty('TP_CREATE') });
      expect(again.statusCode).toBe(409);
      expect(expectErrorShape(again).code).toBe('conflict');
    });

    it('answers 404 for an unknown ref', async () => {
      const res = await s.call('GET', `${base}/NOPE`, { token });
      expect(res.statusCode).toBe(404);
      expect(expectErrorShape(res).code).toBe('not_found');
    });

    it('lists with status filter, page and limit, with meta', async () => {
      const p = await s.partner('LISTER');
      const b = '/api/v1/customers/LISTER/third-parties';
      for (const ref of ['L1', 'L2', 'L3']) {
        expect((await s.call('POST', b, { token: p, body: validThirdParty(ref) })).statusCode).toBe(201);
      }
      await s.call('POST', '/api/v1/admin/customers/LISTER/third-parties/L2/decision', {
        token: s.adminToken,
        body: { status: 'APPROVED' },
      });
      const all = await s.call('GET', `${b}?limit=2&page=1`, { token: p });
      expect(all.statusCode).toBe(200);
      expect(all.json().meta).toEqual({ page: 1, limit: 2, total_records: 3, total_pages: 2 });
      expect(all.json().third_parties).toHaveLength(2);
      const page2 = await s.call('GET', `${b}?limit=2&page=2`, { token: p });
      expect(page2.json().third_parties).toHaveLength(1);
      const approved = await s.call('GET', `${b}?status=APPROVED`, { token: p });
      expect(
        approved.json().third_parties.map((t: { client_customer_ref: string }) => t.client_customer_ref),
      ).toEqual(['L2']);
      expect(approved.json().meta).toEqual({ page: 1, limit: 20, total_records: 1, total_pages: 1 });

      const bad = await s.call('GET', `${b}?status=MAYBE&limit=0&page=x&extra=1`, { token: p });
      expect(bad.statusCode).toBe(400);
      const err = expectErrorShape(bad);
      expect(err.details).toMatchObject({ in: 'querystring' });
      const paths = (err.details as { problems: { path: string }[] }).problems.map((x) => x.path);
      expect(paths).toEqual(expect.arrayContaining(['$.status', '$.limit', '$.page', '$.extra']));
    });

    it('pages by cursor, newest first, unshifted by new submissions; page and meta still work', async () => {
      const p = await s.partner('CURSOR');
      const b = '/api/v1/customers/CURSOR/third-parties';
      const submit = async (ref: string) =>
        expect((await s.call('POST', b, { token: p, body: validThirdParty(ref) })).statusCode).toBe(201);
      for (const ref of ['C1', 'C2', 'C3', 'C4', 'C5']) await submit(ref);
      const list = async (query: string) => {
        const res = await s.call('GET', `${b}?${query}`, { token: p });
        expect(res.statusCode, res.body).toBe(200);
        const body = res.json<{
          third_parties: { client_customer_ref: string; created_at: string }[];
          next_cursor: string | null;
          meta?: unknown;
        }>();
        const created = body.third_parties.map((t) => t.created_at);
        expect(created, 'newest first').toEqual([...created].sort().reverse());
        return {
          refs: body.third_parties.map((t) => t.client_customer_ref),
          next: body.next_cursor,
          meta: body.meta,
        };
      };
      const everything = await list('limit=100');
      expect([...everything.refs].sort()).toEqual(['C1', 'C2', 'C3', 'C4', 'C5']);
      expect(everything.next).toBeNull();

      // today's clients: page and meta as before, with next_cursor beside them
      const first = await list('limit=2');
      expect(first.meta).toEqual({ page: 1, limit: 2, total_records: 5, total_pages: 3 });
      expect(first.refs).toEqual(everything.refs.slice(0, 2));
      expect(first.next).toEqual(expect.any(String));
      expect((await list('limit=2&page=2')).refs).toEqual(everything.refs.slice(2, 4));

      // a submission after the first page shifts page 2, not the page after the cursor
      await submit('C6');
      expect((await list('limit=2&page=2')).refs).toEqual(everything.refs.slice(1, 3));
      const second = await list(`limit=2&cursor=${first.next}`);
      expect(second.refs).toEqual(everything.refs.slice(2, 4));
      expect(second.meta).toBeUndefined();
      const third = await list(`limit=2&cursor=${second.next}`);
      expect(third.refs).toEqual(everything.refs.slice(4));
      expect(third.next).toBeNull();
      // the cursor of a page-mode answer continues it
      const fromPage = await list('limit=2&page=2');
      expect((await list(`limit=10&cursor=${fromPage.next}`)).refs).toEqual(everything.refs.slice(3));

      // cursor and page together, a made-up cursor: 400
      const both = await s.call('GET', `${b}?cursor=${first.next}&page=2`, { token: p });
      expect(both.statusCode).toBe(400);
      const err = expectErrorShape(both);
      expect(err.code).toBe('validation_failed');
      expect(err.details).toMatchObject({ in: 'querystring', problems: [{ path: '$.page' }] });
      for (const bad of ['cursor=nonsense', 'cursor=MTIz', 'cursor=']) {
        const res = await s.call('GET', `${b}?${bad}`, { token: p });
        expect(res.statusCode, bad).toBe(400);
        expectErrorShape(res);
      }
    });

    it('answers 400 listing every compliance problem with its path, and writes nothing', async () => {
      const body = validThirdParty('TP_BAD');
      const d = body.client_customer_details as Record<string, unknown>;
      d.country = 'XYZ';
      d.currency = 'usd';
      d.mobile_phone = '+1415555267';
      d.date_of_birth = new Date(Date.now() - 10 * 365 * 86400_000).toISOString().slice(0, 10);
      d.email = 'not-an-email';
      d.first_name = 'x'.repeat(101);
      d.nickname = 'Ada';
      d.income_range = { currency: 'XAU', min_value: 500, max_value: 100 };
      (d.address as Record<string, unknown>).country = 'US';
      body.property_details.push({ ...structuredClone(firstProperty(body)) });
      firstProperty(body).property_purchase_amount = { currency: 'JPY', value: 100.5 };

      const res = await s.call('POST', base, { token, body });
      expect(res.statusCode).toBe(400);
      const err = expectErrorShape(res);
      expect(err.code).toBe('validation_failed');
      const problems = (err.details as { problems: { path: string; message: string }[] }).problems;
      const paths = problems.map((p) => p.path);
      for (const path of [
        '$.client_customer_details.country',
        '$.client_customer_details.currency',
        '$.client_customer_details.mobile_phone',
        '$.client_customer_details.date_of_birth',
        '$.client_customer_details.email',
        '$.client_customer_details.first_name',
        '$.client_customer_details.nickname',
        '$.client_customer_details.income_range.currency',
        '$.client_customer_details.address.country',
        '$.property_details[1].property_ref',
      ]) {
        expect(paths, path).toContain(path);
      }
      expect(problems.find((p) => p.path === '$.client_customer_details.date_of_birth')?.message).toMatch(
        /18/,
      );
      expect((await s.call('GET', `${base}/TP_BAD`, { token })).statusCode).toBe(404);
    });

    it('checks min <= max and decimals once the fields themselves are valid', async () => {
      const body = validThirdParty('TP_RANGE');
      body.client_customer_details.income_range = { currency: 'USD', min_value: 500, max_value: 100 };
      firstProperty(body).property_purchase_amount = { currency: 'JPY', value: 100.5 };
      const res = await s.call('POST', base, { token, body });
      expect(res.statusCode).toBe(400);
      const paths = (expectErrorShape(res).details as { problems: { path: string }[] }).problems.map(
        (p) => p.path,
      );
      expect(paths).toEqual(
        expect.arrayContaining([
          '$.client_customer_details.income_range.min_value',
          '$.property_details[0].property_purchase_amount.value',
        ]),
      );
    });

    it('refuses impossible dates and empty property lists', async () => {
      const body = validThirdParty('TP_DATE') as {
        client_customer_details: Record<string, unknown>;
        property_details: unknown[];
      };
      body.client_customer_details.date_of_birth = '1990-02-30';
      body.property_details = [];
      const res = await s.call('POST', base, { token, body });
      const paths = (expectErrorShape(res).details as { problems: { path: string }[] }).problems.map(
        (p) => p.path,
      );
      expect(paths).toEqual(['$.client_customer_details.date_of_birth', '$.property_details']);
    });

    it('replays the first answer for a retried Idempotency-Key, and refuses the key with another body', async () => {
      const headers = { 'idempotency-key': 'retry-123' };
      const first = await s.call('POST', base, { token, body: validThirdParty('TP_IDEM'), headers });
      expect(first.statusCode).toBe(201);
      expect(first.headers['idempotent-replayed']).toBeUndefined();
      const second = await s.call('POST', base, { token, body: validThirdParty('TP_IDEM'), headers });
      expect(second.statusCode).toBe(201);
      expect(second.headers['idempotent-replayed']).toBe('true');
      expect(second.body).toBe(first.body);

      const other = await s.call('POST', base, { token, body: validThirdParty('TP_OTHER'), headers });
      expect(other.statusCode).toBe(422);
      expect(expectErrorShape(other).code).toBe('idempotency_key_reused');
      expect((await s.call('GET', `${base}/TP_OTHER`, { token })).statusCode).toBe(404);

      // Without a key the same body is a new request: 409.
      expect((await s.call('POST', base, { token, body: validThirdParty('TP_IDEM') })).statusCode).toBe(409);
    });

    it('replays concurrent requests with one key as one write', async () => {
      const headers = { 'idempotency-key': 'race-1' };
      const answers = await Promise.all(
        [1, 2, 3].map(() => s.call('POST', base, { token, body: validThirdParty('TP_RACE'), headers })),
      );
      expect(answers.map((a) => a.statusCode)).toEqual([201, 201, 201]);
      expect(answers.filter((a) => a.headers['idempotent-replayed'] === 'true')).toHaveLength(2);
      expect(new Set(answers.map((a) => a.body)).size).toBe(1);
    });

    it('scopes idempotency keys to the partner, and refuses a malformed key', async () => {
      const other = await s.partner('IDEM_OTHER');
      const headers = { 'idempotency-key': 'shared-key' };
      const a = await s.call('POST', base, { token, body: validThirdParty('TP_K1'), headers });
      const b = await s.call('POST', '/api/v1/customers/IDEM_OTHER/third-parties', {
        token: other,
        body: validThirdParty('TP_K2'),
        headers,
      });
      expect([a.statusCode, b.statusCode]).toEqual([201, 201]);
      const bad = await s.call('POST', base, {
        token,
        body: validThirdParty('TP_K3'),
        headers: { 'idempotency-key': 'é'.repeat(3) },
      });
      expect(bad.statusCode).toBe(400);
    });

    // Last: pruning as of a day from now forgets every key of this store.
    it('forgets a key once it is pruned a day later: the same request then runs again', async () => {
      const headers = { 'idempotency-key': 'next-day' };
      const first = await s.call('POST', base, { token, body: validThirdParty('TP_DAY'), headers });
      expect(first.statusCode).toBe(201);
      const replay = await s.call('POST', base, { token, body: validThirdParty('TP_DAY'), headers });
      expect(replay.headers['idempotent-replayed']).toBe('true');

      const justBefore = new Date(Date.now() + IDEMPOTENCY_KEY_RETENTION_MS - 60_000);
      expect(await pruneIdempotencyKeys(s.store, justBefore)).toBe(0);
      const dayLater = new Date(Date.now() + IDEMPOTENCY_KEY_RETENTION_MS + 60_000);
      expect(await pruneIdempotencyKeys(s.store, dayLater)).toBeGreaterThanOrEqual(1);

      // The handler runs again: the ref exists now, so the answer is a fresh 409, not a replay.
      const again = await s.call('POST', base, { token, body: validThirdParty('TP_DAY'), headers });
      expect(again.statusCode).toBe(409);
      expect(again.headers['idempotent-replayed']).toBeUndefined();
    });
  });
}
