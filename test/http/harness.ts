/**
 * The service in memory for tests: a real store on a fresh database of the dialect asked for (SQLite
 * in memory by default), the real app, `app.inject()` for requests. No sockets, no mocks. Route suites
 * run once per dialect of test/support/databases.ts.
 */
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';
import { buildApp } from '../../src/http/app.js';
import { generateToken, hashToken } from '../../src/http/auth.js';
import type { Store } from '../../src/storage/store.js';
import type { HostResolver } from '../../src/webhooks/url-policy.js';
import { type Dialect, freshUrl, openTestStorage } from '../support/databases.js';

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
  /** The database's dialect; default `'sqlite'` (in memory). */
  dialect?: Dialect;
  allowPrivateEndpoints?: boolean;
  resolveHost?: HostResolver;
}

export async function startService(options: ServiceOptions = {}): Promise<TestService> {
  const db = await freshUrl(options.dialect ?? 'sqlite', { memory: true });
  const storage = await openTestStorage(db.url).catch(async (err: unknown) => {
    await db.drop();
    throw err;
  });
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
