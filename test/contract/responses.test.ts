/**
 * The service against its own document, on each dialect: every operation of `/openapi.json` is
 * called, by its operationId, with successes and failures, and every answer is checked against what
 * the document says that operation answers (test/contract/openapi-check.ts): a status it does not
 * document fails the test, and so does a content type, body or documented header that does not match.
 *
 * The main app is `buildApp` with a delivery queue and sender on a fresh database (what `tpcs serve`
 * runs), since retry, recover and test need them; `startService` (no delivery) adds their 503s and the
 * readiness 503. A database held by another connection gives the 503 of an outage, and a real socket
 * the event stream's 200. Last, every operation must have been seen.
 */
import { once } from 'node:events';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import Database from 'better-sqlite3';
import type { FastifyInstance, InjectOptions } from 'fastify';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/http/app.js';
import { generateToken, hashToken } from '../../src/http/auth.js';
import { openStorage, type Storage } from '../../src/storage/index.js';
import { createSender, type Sender } from '../../src/webhooks/dispatcher/sender.js';
import { type Sink, startSink } from '../dispatcher/sink.js';
import { startService, type TestService, validThirdParty } from '../http/harness.js';
import {
  DIALECTS,
  type FreshDatabaseUrl,
  freshUrl,
  PG_URL,
  SECRETS_KEY,
  skipReason,
} from '../support/databases.js';
import { type Answer, OpenApiChecker, type OpenApiDocument, operationsOf } from './openapi-check.js';

const PARTNER = '0201001008132685';
const OTHER = 'OTHER_PARTNER';
const EVENT_TYPES = ['THIRD PARTY CUSTOMER STATUS'];
const REASONS = [{ code: 'COMPLIANCE_CHECK_FAILED', reason: 'Compliance check failed' }];
const NO_SUCH_ID = '00000000-0000-4000-8000-000000000000';
const TEXT_BODY = { payload: 'x', type: 'text/plain' };
/** A JSON content type with no body at all. */
const EMPTY_JSON = { payload: '', type: 'application/json' };

/** Operations with nothing a client can get wrong: only their success (or a 5xx) can be seen. */
const NO_CLIENT_ERROR = ['checkLiveness', 'getMetrics', 'getEntryPoints'];
/** What a browser sends when it opens a page. */
const BROWSER_ACCEPT = 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8';

interface Call {
  token?: string | undefined;
  body?: unknown;
  /** The raw body, with its content type (instead of `body`, which is sent as JSON). */
  raw?: { payload: string; type: string };
  headers?: Record<string, string>;
  query?: string;
  remoteAddress?: string;
}

/** A path template's URL: `{name}` replaced by `params[name]`. */
function urlOf(template: string, params: Record<string, string>, query?: string): string {
  const path = template.replace(/\{([^}]+)\}/g, (_m, name: string) => {
    const value = params[name];
    if (value === undefined) throw new Error(`no value for {${name}} in ${template}`);
    return encodeURIComponent(value);
  });
  return query === undefined ? path : `${path}?${query}`;
}

/** Storage on `url` with a short database timeout, so that a held lock answers 503 quickly. */
function openImpatient(url: string): Promise<Storage> {
  const timeoutMs = 300;
  return openStorage(
    url,
    url.startsWith('sqlite:') ? { timeoutMs } : { timeoutMs, secrets: { key: SECRETS_KEY } },
  );
}

/** Another connection holding the database's write lock (SQLite) or the tables' locks (PostgreSQL). */
async function holdDatabase(url: string): Promise<() => Promise<void>> {
  if (url.startsWith('sqlite:')) {
    const db = new Database(url.slice('sqlite:'.length));
    db.exec('BEGIN EXCLUSIVE');
    return async () => {
      db.exec('ROLLBACK');
      db.close();
    };
  }
  const schema = new URL(url).searchParams.get('schema');
  const client = new pg.Client({ connectionString: PG_URL });
  await client.connect();
  await client.query('BEGIN');
  await client.query(`LOCK TABLE ${schema}.partners, ${schema}.third_parties IN ACCESS EXCLUSIVE MODE`);
  return async () => {
    await client.query('ROLLBACK');
    await client.end();
  };
}

/** The status line, headers and first chunk of a streamed answer, from a real socket. */
async function firstChunk(app: FastifyInstance, path: string, token: string): Promise<Answer> {
  const { port } = app.server.address() as AddressInfo;
  const req = httpRequest({ host: '127.0.0.1', port, path, headers: { authorization: `Bearer ${token}` } });
  req.end();
  const [res] = (await once(req, 'response')) as [IncomingMessage];
  const [chunk] = (await once(res, 'data')) as [Buffer];
  req.destroy();
  return { statusCode: res.statusCode ?? 0, headers: res.headers, body: chunk.toString('utf8') };
}

for (const dialect of DIALECTS) {
  describe.skipIf(skipReason(dialect) !== undefined)(
    `every answer matches /openapi.json (${dialect})`,
    () => {
      let db: FreshDatabaseUrl;
      let storage: Storage;
      let sender: Sender;
      let sink: Sink;
      let app: FastifyInstance;
      let checker: OpenApiChecker;
      let doc: OpenApiDocument;
      const admin = generateToken('admin');
      let token: string;
      let otherToken: string;
      let endpointId: string;

      /** Calls operation `id` of the document on `on` and checks the answer against the document. */
      async function call(
        id: string,
        params: Record<string, string> = {},
        options: Call = {},
        on: FastifyInstance = app,
      ) {
        const { method, path } = checker.operation(id);
        const headers: Record<string, string> = { ...options.headers };
        if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
        const request: InjectOptions = {
          method: method as 'GET',
          url: urlOf(path, params, options.query),
          headers,
        };
        if (options.remoteAddress) request.remoteAddress = options.remoteAddress;
        if (options.raw) {
          headers['content-type'] = options.raw.type;
          request.payload = options.raw.payload;
        } else if (options.body !== undefined) {
          headers['content-type'] = 'application/json';
          request.payload = JSON.stringify(options.body);
        }
        const res = await on.inject(request);
        expect(checker.check(id, res)).toEqual([]);
        return res;
      }

      /** The status of each call, made one after another. */
      async function statuses(...calls: Parameters<typeof call>[]): Promise<number[]> {
        const out: number[] = [];
        for (const args of calls) out.push((await call(...args)).statusCode);
        return out;
      }

      beforeAll(async () => {
        db = await freshUrl(dialect);
        storage = await openStorage(db.url, dialect === 'sqlite' ? {} : { secrets: { key: SECRETS_KEY } });
        sender = createSender({ allowPrivateEndpoints: true, timeoutMs: 5000 });
        sink = await startSink();
        app = buildApp({
          store: storage.store,
          adminTokenHash: hashToken(admin),
          allowPrivateEndpoints: true,
          delivery: { queue: storage.queue, sender },
        });
        await app.listen({ host: '127.0.0.1', port: 0 });
        doc = (await app.inject({ method: 'GET', url: '/openapi.json' })).json() as OpenApiDocument;
        checker = new OpenApiChecker(doc);
      });

      afterAll(async () => {
        await app?.close();
        await sender?.close();
        await sink?.close();
        await storage?.close();
        await db?.drop();
      });

      it('the check is not vacuous: it refuses an undocumented status, body, content type or header', () => {
        // a checker of its own, so that these made-up answers do not count as seen
        const strict = new OpenApiChecker(doc);
        const problems = (answer: Answer) => strict.check('getWebhookEndpoint', answer);
        const json = { 'content-type': 'application/json; charset=utf-8' };
        const error = (code: string, details?: unknown) =>
          JSON.stringify({ error: { code, message: 'm', details } });
        const answer = (statusCode: number, body: string, headers: Answer['headers'] = json) => ({
          statusCode,
          headers,
          body,
        });

        expect(problems(answer(418, error('internal')))).toEqual([
          expect.stringContaining('does not document'),
        ]);
        expect(problems(answer(200, '{"id":"x"}'))).toEqual([
          expect.stringContaining("must have required property 'url'"),
        ]);
        expect(problems(answer(404, '<p>', { 'content-type': 'text/html' }))).toEqual([
          expect.stringContaining('content type'),
        ]);
        expect(problems(answer(401, error('unauthorized')))).toEqual([
          expect.stringContaining('WWW-Authenticate is required'),
        ]);
        expect(problems(answer(503, error('unavailable'), { ...json, 'retry-after': 'soon' }))).toEqual([
          expect.stringContaining('header Retry-After'),
        ]);
        // details are typed by code: a validation error without `in`, a wait that is not a number
        const noPart = error('validation_failed', { problems: [{ path: '$.url', message: 'm' }] });
        expect(problems(answer(400, noPart))).toEqual([expect.stringContaining("'in'")]);
        const wait = { ...json, 'retry-after': '5' };
        expect(
          problems(answer(503, error('unavailable', { retry_after_seconds: 'soon' }), wait)),
        ).not.toEqual([]);
        expect(problems(answer(503, error('unavailable'), wait))).toEqual([]);
      });

      it('documents the API only, each operation with a unique operationId and a summary', () => {
        const paths = Object.keys(doc.paths);
        expect(paths.filter((p) => p.startsWith('/dashboard') || p.startsWith('/docs'))).toEqual([]);
        const operations = [...operationsOf(doc).entries()];
        expect(operations.filter(([id]) => !/^[a-z][A-Za-z]+$/.test(id))).toEqual([]);
        const summary = ([, { method, path }]: (typeof operations)[number]) =>
          doc.paths[path]?.[method.toLowerCase()]?.summary;
        expect(operations.filter((op) => typeof summary(op) !== 'string')).toEqual([]);
        expect((doc as unknown as { servers: unknown }).servers).toEqual([
          { url: '/', description: 'This service' },
        ]);
      });

      it('operations: entry points, liveness, readiness and metrics', async () => {
        const json = await call('getEntryPoints');
        expect(json.statusCode).toBe(200);
        expect(json.json()).toMatchObject({
          name: 'tpcs',
          links: { dashboard: '/dashboard', openapi: '/openapi.json' },
        });
        const browser = await call('getEntryPoints', {}, { headers: { accept: BROWSER_ACCEPT } });
        expect([browser.statusCode, browser.headers.location]).toEqual([303, '/dashboard']);
        expect(
          await statuses(
            ['getEntryPoints', {}, { headers: { accept: '*/*' } }],
            ['getEntryPoints', {}, { headers: { accept: 'application/json' } }],
            ['getEntryPoints', {}, { headers: { accept: 'text/html' } }],
          ),
        ).toEqual([200, 200, 303]);
        expect(await statuses(['checkLiveness'], ['checkReadiness'])).toEqual([200, 200]);
        const metrics = await call('getMetrics');
        expect(metrics.statusCode).toBe(200);
        expect(metrics.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
      });

      it('partners: create, conflict, token reset, and the refusals of the operator API', async () => {
        const create = (body: unknown, options: Call = { token: admin }) =>
          call('createPartner', {}, { ...options, body });
        token = (await create({ customer_id: PARTNER })).json().token;
        otherToken = (await create({ customer_id: OTHER })).json().token;
        expect((await create({ customer_id: PARTNER })).statusCode).toBe(409);
        expect(
          await statuses(
            ['createPartner', {}, { token: admin, body: { customer_id: 'a.b' } }],
            ['createPartner', {}, { token: admin }],
            [
              'createPartner',
              {},
              { token: admin, raw: { payload: '{"customer_id":', type: 'application/json' } },
            ],
            ['createPartner', {}, { token: admin, raw: TEXT_BODY }],
            ['createPartner', {}, { token: admin, body: { customer_id: 'BIG', name: 'x'.repeat(70_000) } }],
            ['createPartner', {}, { body: { customer_id: 'NOBODY' } }],
            ['createPartner', {}, { token, body: { customer_id: 'NOBODY' } }],
          ),
        ).toEqual([400, 400, 400, 415, 413, 401, 401]);

        const list = (query?: string, options: Call = { token: admin }) =>
          call('listPartners', {}, { ...options, ...(query === undefined ? {} : { query }) });
        const first = await list('limit=1');
        expect(first.statusCode).toBe(200);
        expect(first.json().partners).toEqual([
          { customer_id: PARTNER, name: null, created_at: expect.any(String), endpoint_count: 0 },
        ]);
        const rest = await list(`limit=200&cursor=${first.json().next_cursor}`);
        expect(rest.json()).toEqual({
          partners: [expect.objectContaining({ customer_id: OTHER })],
          next_cursor: null,
        });
        expect(
          await statuses(
            ['listPartners', {}, { token: admin, query: 'limit=0' }],
            ['listPartners', {}, { token: admin, query: 'limit=201' }],
            ['listPartners', {}, { token: admin, query: 'cursor=made-up' }],
            ['listPartners', {}, { token: admin, query: 'page=2' }],
            ['listPartners', {}, {}],
            ['listPartners', {}, { token }],
          ),
        ).toEqual([400, 400, 400, 400, 401, 401]);

        const reset = await call('resetPartnerToken', { customer_id: OTHER }, { token: admin });
        expect(reset.statusCode).toBe(200);
        otherToken = reset.json().token;
        expect(
          await statuses(
            ['resetPartnerToken', { customer_id: 'NO_SUCH' }, { token: admin }],
            ['resetPartnerToken', { customer_id: 'a.b' }, { token: admin }],
            // longer than the router's 100 characters a path segment
            ['resetPartnerToken', { customer_id: 'x'.repeat(101) }, { token: admin }],
            ['resetPartnerToken', { customer_id: OTHER }, { token: admin, raw: TEXT_BODY }],
          ),
        ).toEqual([404, 400, 400, 415]);

        // portal links: no body, or {ttl_seconds} within [60, 86400]
        const portal = { customer_id: PARTNER };
        expect(
          await statuses(
            ['createPortalLink', portal, { token: admin }],
            ['createPortalLink', portal, { token: admin, body: { ttl_seconds: 60 } }],
            ['createPortalLink', portal, { token: admin, body: { ttl_seconds: 59 } }],
            ['createPortalLink', portal, { token: admin, body: { url: 'x' } }],
            ['createPortalLink', portal, { token: admin, raw: EMPTY_JSON }],
            ['createPortalLink', portal, { token: admin, raw: TEXT_BODY }],
            ['createPortalLink', { customer_id: 'NO_SUCH' }, { token: admin }],
            ['createPortalLink', { customer_id: 'a.b' }, { token: admin }],
            ['createPortalLink', portal, { token }],
            ['createPortalLink', portal, {}],
          ),
        ).toEqual([201, 201, 400, 400, 400, 415, 404, 400, 401, 401]);
      });

      it('third-party customers: submit (idempotent), read, list, and their refusals', async () => {
        const mine = { customer_id: PARTNER };
        const key = { 'idempotency-key': 'submit-cust-001' };
        const submit = (ref: string, options: Call = {}) =>
          call('submitThirdPartyCustomer', mine, { token, body: validThirdParty(ref), ...options });
        expect((await submit('CUST_001', { headers: key })).statusCode).toBe(201);
        expect((await submit('CUST_001', { headers: key })).headers['idempotent-replayed']).toBe('true');
        expect((await submit('CUST_002')).statusCode).toBe(201);
        expect(
          await statuses(
            ['submitThirdPartyCustomer', mine, { token, body: validThirdParty('CUST_003'), headers: key }],
            ['submitThirdPartyCustomer', mine, { token, body: validThirdParty('CUST_001') }],
            ['submitThirdPartyCustomer', mine, { token, body: { ...validThirdParty('CUST_003'), extra: 1 } }],
            ['submitThirdPartyCustomer', mine, { token, body: {}, headers: { 'idempotency-key': '\u0001' } }],
            [
              'submitThirdPartyCustomer',
              { customer_id: OTHER },
              { token, body: validThirdParty('CUST_003') },
            ],
          ),
        ).toEqual([422, 409, 400, 400, 404]);

        const one = { customer_id: PARTNER, client_customer_ref: 'CUST_001' };
        expect(
          await statuses(
            ['getThirdPartyCustomer', one, { token }],
            ['getThirdPartyCustomer', { ...one, client_customer_ref: 'NOPE' }, { token }],
            ['getThirdPartyCustomer', { ...one, client_customer_ref: 'a.b' }, { token }],
            ['getThirdPartyCustomer', one, { token: 'tpcs_pk_wrong' }],
            ['listThirdPartyCustomers', mine, { token, query: 'status=PENDING&limit=1' }],
            ['listThirdPartyCustomers', mine, { token, query: 'limit=0' }],
            ['listThirdPartyCustomers', mine, { token: otherToken }],
          ),
        ).toEqual([200, 404, 400, 401, 200, 400, 404]);
        // by cursor: no meta; a cursor with a page, or one the API did not give out, is refused
        const paged = await call('listThirdPartyCustomers', mine, { token, query: 'limit=1' });
        const cursor = paged.json().next_cursor as string;
        const next = await call('listThirdPartyCustomers', mine, {
          token,
          query: `limit=1&cursor=${cursor}`,
        });
        expect(next.statusCode).toBe(200);
        expect(next.json()).not.toHaveProperty('meta');
        expect(
          await statuses(
            ['listThirdPartyCustomers', mine, { token, query: `cursor=${cursor}&page=1` }],
            ['listThirdPartyCustomers', mine, { token, query: 'cursor=made-up' }],
          ),
        ).toEqual([400, 400]);
      });

      it('webhook endpoints: subscribe, read, change, rotate, delete, and their refusals', async () => {
        const mine = { customer_id: PARTNER };
        const body = { url: sink.url('/hook'), event_types: EVENT_TYPES };
        const created = await call('createWebhookEndpoint', mine, {
          token,
          body,
          headers: { 'idempotency-key': 'ep' },
        });
        expect(created.statusCode).toBe(201);
        endpointId = created.json().id;
        const one = { customer_id: PARTNER, webhook_id: endpointId };
        const missing = { customer_id: PARTNER, webhook_id: NO_SUCH_ID };
        expect(
          await statuses(
            ['createWebhookEndpoint', mine, { token, body: { url: 'nope', event_types: [] } }],
            ['listWebhookEndpoints', mine, { token }],
            ['listWebhookEndpoints', mine, { token, query: 'cursor=made-up' }],
            ['getWebhookEndpoint', one, { token }],
            ['getWebhookEndpoint', missing, { token }],
            ['updateWebhookEndpoint', one, { token, body: { description: 'main' } }],
            ['updateWebhookEndpoint', one, { token, body: { enabled: 'yes' } }],
            ['updateWebhookEndpoint', missing, { token, body: { enabled: true } }],
            ['updateWebhookEndpoint', one, { token, body: { rate_limit: 20 } }],
            ['updateWebhookEndpoint', one, { token, body: { rate_limit: 0 } }],
            ['updateWebhookEndpoint', one, { token, body: { rate_limit: null } }],
            ['createWebhookEndpoint', mine, { token, body: { ...body, rate_limit: 10_001 } }],
          ),
        ).toEqual([400, 200, 400, 200, 404, 200, 400, 404, 200, 400, 200, 400]);

        // rotate-secret takes no body, or {}; anything else, or a JSON content type with no body, is refused
        expect(
          await statuses(
            ['rotateWebhookSecret', one, { token }],
            ['rotateWebhookSecret', one, { token, body: {} }],
            ['rotateWebhookSecret', one, { token, body: { secret: 'mine' } }],
            ['rotateWebhookSecret', one, { token, raw: EMPTY_JSON }],
            ['rotateWebhookSecret', missing, { token }],
          ),
        ).toEqual([200, 200, 400, 400, 404]);

        // one endpoint per URL per partner: 409 endpoint_exists, on create and on a URL change
        const again = await call('createWebhookEndpoint', mine, { token, body });
        expect([again.statusCode, again.json().error.code]).toEqual([409, 'endpoint_exists']);
        expect(again.json().error.details).toEqual({ endpoint_id: endpointId });
        const doomedBody = { ...body, url: sink.url('/doomed') };
        const doomed = {
          customer_id: PARTNER,
          webhook_id: (await call('createWebhookEndpoint', mine, { token, body: doomedBody })).json().id,
        };
        const moved = await call('updateWebhookEndpoint', doomed, { token, body: { url: body.url } });
        expect([moved.statusCode, moved.json().error.details]).toEqual([409, { endpoint_id: endpointId }]);
        // re-enabling answers how many missed events it queued; backlog goes only with enabled: true
        expect(
          await statuses(
            ['updateWebhookEndpoint', doomed, { token, body: { enabled: false } }],
            ['updateWebhookEndpoint', doomed, { token, body: { enabled: false, backlog: 'deliver' } }],
            ['updateWebhookEndpoint', doomed, { token, body: { backlog: 'skip' } }],
            ['updateWebhookEndpoint', doomed, { token, body: { enabled: true, backlog: 'deliver' } }],
          ),
        ).toEqual([200, 400, 400, 200]);
        expect(
          await statuses(
            ['deleteWebhookEndpoint', doomed, { token }],
            ['deleteWebhookEndpoint', doomed, { token }],
          ),
        ).toEqual([204, 404]);
      });

      it('notification settings: read, set (the secret shown once), and their refusals', async () => {
        const mine = { customer_id: PARTNER };
        const other = { customer_id: OTHER };
        const alerts = { webhook_url: sink.url('/alerts'), email: 'ops@partner.example' };
        const first = await call('setNotificationSettings', mine, { token, body: alerts });
        expect([first.statusCode, typeof first.json().secret]).toEqual([200, 'string']);
        const again = await call('setNotificationSettings', mine, {
          token,
          body: { ...alerts, events: ['endpoint.failing'] },
        });
        expect([again.json().secret, again.json().events]).toEqual([null, ['endpoint.failing']]);
        expect(
          await statuses(
            ['getNotificationSettings', mine, { token }],
            ['getNotificationSettings', other, { token }],
            ['getNotificationSettings', mine, {}],
            // the URL of one of the partner's webhook endpoints: alerts are never sent to it
            [
              'setNotificationSettings',
              mine,
              { token, body: { webhook_url: sink.url('/hook'), email: null } },
            ],
            ['setNotificationSettings', mine, { token, body: { webhook_url: null, email: 'nope' } }],
            [
              'setNotificationSettings',
              mine,
              { token, body: { webhook_url: null, email: null, events: ['x'] } },
            ],
            ['setNotificationSettings', mine, { token, raw: TEXT_BODY }],
            ['setNotificationSettings', other, { token, body: { webhook_url: null, email: null } }],
          ),
        ).toEqual([200, 404, 401, 400, 400, 400, 415, 404]);
      });

      it('decisions: APPROVED without reasons, REJECTED with them, and what the document refuses', async () => {
        const one = { customer_id: PARTNER, client_customer_ref: 'CUST_001' };
        const decide = (body: unknown, params = one, as = admin) =>
          call('recordComplianceDecision', params, { token: as, body });
        expect((await decide({ status: 'APPROVED' })).json().event.data.status).toBe('APPROVED');
        const rejected = await decide(
          { status: 'REJECTED', reasons: REASONS },
          { ...one, client_customer_ref: 'CUST_002' },
        );
        expect(rejected.json().event.data.reasons).toEqual(REASONS);
        expect((await decide({ status: 'APPROVED' })).json().event).toBeNull();
        const refused = [
          await decide({ status: 'REJECTED' }),
          await decide({ status: 'APPROVED', reasons: REASONS }),
          await decide({ status: 'PENDING' }),
          await decide({ status: 'APPROVED' }, { ...one, client_customer_ref: 'NOPE' }),
          await decide({ status: 'APPROVED' }, one, token),
        ];
        expect(refused.map((r) => r.statusCode)).toEqual([400, 400, 400, 404, 401]);

        // the documented body schema accepts exactly the bodies the server accepts
        const reason = REASONS[0];
        const bodies = [
          { status: 'APPROVED' },
          { status: 'APPROVED', reasons: REASONS },
          { status: 'APPROVED', reasons: [] },
          { status: 'REJECTED' },
          { status: 'REJECTED', reasons: [] },
          { status: 'REJECTED', reasons: REASONS },
          { status: 'REJECTED', reasons: Array(21).fill(reason) },
          { status: 'REJECTED', reasons: [{ ...reason, code: 'lower case' }] },
          { status: 'PENDING' },
          { status: 'APPROVED', note: 'x' },
          {},
        ];
        for (const body of bodies) {
          const answer = await decide(body);
          expect([200, 400]).toContain(answer.statusCode);
          expect(checker.acceptsBody('recordComplianceDecision', body), JSON.stringify(body)).toBe(
            answer.statusCode === 200,
          );
        }
      });

      it('batch decisions: one result each, and what the request itself gets wrong', async () => {
        const item = (ref: string, status = 'APPROVED') => ({
          customer_id: PARTNER,
          client_customer_ref: ref,
          status,
          ...(status === 'REJECTED' ? { reasons: REASONS } : {}),
        });
        const batch = (body: unknown, as = admin) =>
          call('recordComplianceDecisions', {}, { token: as, body });
        const answered = await batch({
          decisions: [item('CUST_001', 'REJECTED'), item('NOPE'), { status: 'REJECTED' }, item('CUST_001')],
        });
        expect(answered.json().results.map((r: { status: number }) => r.status)).toEqual([
          200, 404, 400, 200,
        ]);
        expect(
          await statuses(
            ['recordComplianceDecisions', {}, { token: admin, body: { decisions: [] } }],
            ['recordComplianceDecisions', {}, { token, body: { decisions: [item('CUST_001')] } }],
            [
              'recordComplianceDecisions',
              {},
              { token: admin, body: { decisions: Array(1001).fill(item('X')) } },
            ],
            ['recordComplianceDecisions', {}, { token: admin, raw: TEXT_BODY }],
          ),
        ).toEqual([400, 401, 413, 415]);
        // a body the document accepts gets a result for each decision, none of them a 400
        const documented = { decisions: [item('CUST_002', 'REJECTED'), item('CUST_002')] };
        expect(checker.acceptsBody('recordComplianceDecisions', documented)).toBe(true);
        const results = (await batch(documented)).json().results as { status: number }[];
        expect(results.map((r) => r.status)).toEqual([200, 200]);
        expect(
          checker.acceptsBody('recordComplianceDecisions', { decisions: [{ status: 'REJECTED' }] }),
        ).toBe(false);
      });

      it('events: list, read, stream, and their refusals', async () => {
        const mine = { customer_id: PARTNER };
        const list = await call('listEvents', mine, { token, query: 'limit=1' });
        const [event] = list.json().events as { event_id: string }[];
        if (!event) throw new Error('no event listed');
        const one = { customer_id: PARTNER, event_id: event.event_id };
        expect(
          await statuses(
            ['listEvents', mine, { token, query: 'limit=abc' }],
            ['getEvent', one, { token }],
            ['getEvent', { ...one, event_id: 'nope' }, { token }],
            ['streamEvents', mine, { token, headers: { 'last-event-id': 'no-such-event' } }],
            ['streamEvents', mine, {}],
          ),
        ).toEqual([400, 200, 404, 400, 401]);

        // the stream itself stays open: read its start from a real socket
        const opened = await firstChunk(app, urlOf(checker.operation('streamEvents').path, mine), token);
        expect(checker.check('streamEvents', opened)).toEqual([]);
        expect(opened.statusCode).toBe(200);
        expect(opened.body).toMatch(/^retry: 1000\n/);
      });

      it('deliveries: list, retry, recover, test, and their refusals', async () => {
        const one = { customer_id: PARTNER, webhook_id: endpointId };
        const list = await call('listDeliveries', one, { token });
        const [delivery] = list.json().deliveries as { id: string }[];
        if (!delivery) throw new Error('no delivery listed');
        const retry = { ...one, delivery_id: delivery.id };
        expect(
          await statuses(
            ['listDeliveries', one, { token, query: 'cursor=x' }],
            ['retryDelivery', retry, { token }],
            ['retryDelivery', { ...retry, delivery_id: 'nope' }, { token }],
            ['retryDelivery', retry, { token, raw: TEXT_BODY }],
            ['recoverDeliveries', one, { token, body: { since: '2020-01-01T00:00:00Z' } }],
            ['recoverDeliveries', one, { token, body: { since: 'yesterday' } }],
          ),
        ).toEqual([400, 202, 404, 415, 202, 400]);

        const sent = await call('sendTestEvent', one, { token });
        expect(sent.json()).toMatchObject({ delivered: true, status_code: 200 });
        // like rotate-secret: no body, or {}
        expect(
          await statuses(
            ['sendTestEvent', one, { token, body: {} }],
            ['sendTestEvent', one, { token, body: { event: 'x' } }],
            ['sendTestEvent', one, { token, raw: EMPTY_JSON }],
            ['sendTestEvent', { ...one, webhook_id: 'nope' }, { token }],
          ),
        ).toEqual([200, 400, 400, 404]);
      });

      it('rate limits: 429 with Retry-After once an address has failed to authenticate 20 times', async () => {
        const guesses = Array.from(
          { length: 21 },
          (_, i): Parameters<typeof call> => [
            'listEvents',
            { customer_id: PARTNER },
            { token: `guess-${i}`, remoteAddress: '198.51.100.7' },
          ],
        );
        expect(await statuses(...guesses)).toEqual([...Array(20).fill(401), 429]);
      });

      it("rate limits: 429 with X-RateLimit-* past the partner's requests a minute", async () => {
        const limited = buildApp({
          store: storage.store,
          adminTokenHash: hashToken(admin),
          rateLimits: { partnerRequests: 1 },
        });
        await limited.ready();
        try {
          const list = () => call('listWebhookEndpoints', { customer_id: PARTNER }, { token }, limited);
          expect((await list()).statusCode).toBe(200);
          const over = await list();
          expect(over.statusCode).toBe(429);
          expect(over.headers['x-ratelimit-limit']).toBe('1');
        } finally {
          await limited.close();
        }
      });

      it('unavailable: 503 with Retry-After while another connection holds the database', async () => {
        const impatient = await openImpatient(db.url);
        const held = buildApp({ store: impatient.store, adminTokenHash: hashToken(admin) });
        await held.ready();
        const release = await holdDatabase(db.url);
        try {
          const submit = { token: admin, body: validThirdParty('CUST_HELD') };
          expect(
            await statuses(
              ['submitThirdPartyCustomer', { customer_id: PARTNER }, submit, held],
              ['createPartner', {}, { token: admin, body: { customer_id: 'HELD' } }, held],
            ),
          ).toEqual([503, 503]);
        } finally {
          await release();
          await held.close();
          await impatient.close();
        }
      });

      describe('without a delivery queue, and with the store closed (startService)', () => {
        let bare: TestService;
        let bareToken: string;

        beforeAll(async () => {
          bare = await startService({ dialect });
          bareToken = await bare.partner(PARTNER);
        });
        afterAll(() => bare?.close());

        it('answers retry, recover and test 503 with Retry-After', async () => {
          const body = { url: sink.url('/bare'), event_types: EVENT_TYPES };
          const created = await call(
            'createWebhookEndpoint',
            { customer_id: PARTNER },
            { token: bareToken, body },
            bare.app,
          );
          const one = { customer_id: PARTNER, webhook_id: created.json().id };
          expect(
            await statuses(
              ['retryDelivery', { ...one, delivery_id: NO_SUCH_ID }, { token: bareToken }, bare.app],
              [
                'recoverDeliveries',
                one,
                { token: bareToken, body: { since: '2020-01-01T00:00:00Z' } },
                bare.app,
              ],
              ['sendTestEvent', one, { token: bareToken }, bare.app],
            ),
          ).toEqual([503, 503, 503]);
        });

        it('answers /readyz 503 once its store is closed', async () => {
          // SQLite in memory whatever the dialect: a closed store cannot be dropped cleanly afterwards
          const gone = await startService();
          try {
            await gone.store.close();
            expect((await call('checkReadiness', {}, {}, gone.app)).statusCode).toBe(503);
          } finally {
            await gone.app.close();
          }
        });
      });

      it('has seen every operation answer: a success, and a client error where there can be one', () => {
        const operations = [...operationsOf(doc).keys()];
        const seen = (id: string) => [...(checker.seen.get(id) ?? [])];
        expect(operations.filter((id) => !seen(id).some((s) => s < 300))).toEqual([]);
        const noError = operations.filter(
          (id) => !NO_CLIENT_ERROR.includes(id) && !seen(id).some((s) => s >= 400),
        );
        expect(noError).toEqual([]);
        const { pairs, answers } = checker.counts;
        console.info(
          `${dialect}: ${answers} answers of ${operations.length} operations (${pairs} operation-status pairs) validated`,
        );
      });
    },
  );
}
