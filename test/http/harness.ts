/**
 * The service in memory for tests: a real store (SQLite in memory; PostgreSQL too, which
 * test/support/postgres.ts decides), the real app, `app.inject()` for requests. No sockets, no mocks.
 */
import { randomBytes } from 'node:crypto';
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';
import pg from 'pg';
import { buildApp } from '../../src/http/app.js';
import { generateToken, hashToken } from '../../src/http/auth.js';
import { openStorage } from '../../src/storage/index.js';
import type { Store } from '../../src/storage/store.js';
import type { HostResolver } from '../../src/webhooks/url-policy.js';
import { PG_URL, postgresSkipReason } from '../support/postgres.js';

export { validThirdParty } from '../customers/fixtures.js';

export interface TestService {
  app: FastifyInstance;
  store: Store;
  adminToken: string;
  close(): Promise<void>;
  /** `app.inject` with a bearer token and a JSON body. */
  call(
    method: NonNullable<InjectOptions['method']>,
    url: string,
    options?: { token?: string | undefined; body?: unknown; headers?: Record<string, string> },
  ): Promise<LightMyRequestResponse>;
  /** Creates a partner and returns its bearer token. */
  partner(customerId: string): Promise<string>;
}

export interface ServiceOptions {
  database?: TestDatabase;
  allowPrivateEndpoints?: boolean;
  resolveHost?: HostResolver;
}

/** A database the route suites run against, kysely-style: the same tests for each. */
export interface TestDatabase {
  name: 'sqlite' | 'postgres';
  /** Why this database's half is skipped (printed), or undefined when it runs. */
  skip: string | undefined;
  /** A URL naming a fresh, empty database, and how to throw it away. */
  fresh(): Promise<{ url: string; drop(): Promise<void> }>;
}

/** PostgreSQL for tests: `TEST_DATABASE_URL`, default the machine's local server, database `test`. */
export { PG_URL };

async function freshPostgres(): Promise<{ url: string; drop(): Promise<void> }> {
  // A schema per service: parallel test files never see each other's rows.
  const schema = `tpcs_http_${randomBytes(6).toString('hex')}`;
  const url = new URL(PG_URL);
  url.searchParams.set('schema', schema);
  return {
    url: url.toString(),
    async drop() {
      const client = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: 3000 });
      await client.connect();
      try {
        await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      } finally {
        await client.end();
      }
    },
  };
}

const pgSkip = await postgresSkipReason();

/** The databases the route suites run against. */
export const TEST_DATABASES: TestDatabase[] = [
  { name: 'sqlite', skip: undefined, fresh: async () => ({ url: 'sqlite::memory:', drop: async () => {} }) },
  { name: 'postgres', skip: pgSkip, fresh: freshPostgres },
];

export async function startService(options: ServiceOptions = {}): Promise<TestService> {
  const db = await (options.database ?? (TEST_DATABASES[0] as TestDatabase)).fresh();
  const storage = await openStorage(db.url);
  const { store } = storage;
  const adminToken = generateToken('admin');
  const app = buildApp({
    store,
    adminTokenHash: hashToken(adminToken),
    allowPrivateEndpoints: options.allowPrivateEndpoints ?? true,
    resolveHost: options.resolveHost,
  });
  await app.ready();

  const call: TestService['call'] = (method, url, o = {}) => {
    const headers: Record<string, string> = {};
    if (o.body !== undefined) headers['content-type'] = 'application/json';
    if (o.token !== undefined) headers.authorization = `Bearer ${o.token}`;
    Object.assign(headers, o.headers);
    const request: InjectOptions = { method, url, headers };
    if (o.body !== undefined) request.payload = typeof o.body === 'string' ? o.body : JSON.stringify(o.body);
    return app.inject(request);
  };

  return {
    app,
    store,
    adminToken,
    call,
    async partner(customerId) {
      const res = await call('POST', '/api/v1/admin/partners', {
        token: adminToken,
        body: { customer_id: customerId, name: `Partner ${customerId}` },
      });
      if (res.statusCode !== 201) throw new Error(`partner creation failed: ${res.statusCode} ${res.body}`);
      return (res.json() as { token: string }).token;
    },
    async close() {
      await app.close();
      await storage.close();
      await db.drop();
    },
  };
}

/** The error body every non-2xx answer must have. */
export function expectErrorShape(res: LightMyRequestResponse): {
  code: string;
  message: string;
  details?: unknown;
} {
  const body = res.json() as { error?: { code?: unknown; message?: unknown } };
  if (typeof body.error?.code !== 'string' || typeof body.error.message !== 'string') {
    throw new Error(`not the error shape: ${res.body}`);
  }
  if (/\bat .+:\d+:\d+/.test(res.body)) throw new Error(`stack trace in body: ${res.body}`);
  return body.error as { code: string; message: string; details?: unknown };
}
