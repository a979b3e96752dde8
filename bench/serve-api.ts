/**
 * Driving `tpcs serve` and `tpcs worker` from a benchmark: the built CLI in processes of its own, a
 * fresh database for each run (seeded with a partner and its third parties), and decisions through the
 * operator API (bench/delivery.ts, bench/decisions-http.ts, bench/decisions-paced.ts). The fresh
 * database and its drop also serve bench/noisy-partner.ts and bench/rate-limit.ts.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import type { Pool } from 'undici';
import { openStorage, type Storage } from '../src/storage/index.js';
import { BENCH_SECRETS_KEY } from './table.js';

/** The admin token the benchmarks start `tpcs serve` with. */
export const ADMIN_TOKEN = 'bench-admin-token-0123456789abcdef';
/** The PostgreSQL server the benchmarks use (TEST_DATABASE_URL). */
export const PG_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const BIN = fileURLToPath(new URL('../bin/tpcs.js', import.meta.url));

/**
 * The `n`th decision on a third party through the operator API: APPROVED, then REJECTED (with a
 * reason), alternating. Answers the response body; throws on any status but 200.
 */
export async function postDecision(api: Pool, customerId: string, ref: string, n: number): Promise<string> {
  const status = n % 2 ? 'REJECTED' : 'APPROVED';
  const body = JSON.stringify(
    status === 'REJECTED'
      ? { status, reasons: [{ code: 'COMPLIANCE_CHECK_FAILED', reason: 'bench' }] }
      : { status },
  );
  const r = await api.request({
    method: 'POST',
    path: `/api/v1/admin/customers/${customerId}/third-parties/${ref}/decision`,
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
    body,
  });
  const text = await r.body.text();
  if (r.statusCode !== 200) throw new Error(`decision: ${r.statusCode} ${text}`);
  return text;
}

/** A fresh database: a new SQLite file in `dir`, or a new schema on PG_URL (undefined when it does not answer). */
export async function freshUrl(dialect: 'sqlite' | 'postgres', dir: string): Promise<string | undefined> {
  if (dialect === 'sqlite') return `sqlite:${join(dir, `${randomUUID()}.db`)}`;
  const client = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: 2000 });
  try {
    await client.connect();
    const schema = `tpcs_bench_${randomUUID().replaceAll('-', '').slice(0, 10)}`;
    await client.query(`CREATE SCHEMA ${schema}`);
    const u = new URL(PG_URL);
    u.searchParams.set('schema', schema);
    return u.toString();
  } catch {
    return undefined;
  } finally {
    await client.end().catch(() => {});
  }
}

/** A fresh database with one partner, one endpoint and `count` pending third parties `c0`, `c1`, …. */
export interface Seeded {
  storage: Storage;
  url: string;
  customerId: string;
  refs: string[];
  /** Closes the storage and drops the database. */
  close(): Promise<void>;
}

/**
 * {@link Seeded} on a fresh database (a SQLite file in `dir`, or a schema of its own); undefined when
 * PostgreSQL does not answer. The endpoint is subscribed to the event type and never called.
 */
export async function seedPartner(
  dialect: 'sqlite' | 'postgres',
  count: number,
  dir: string,
): Promise<Seeded | undefined> {
  const url = await freshUrl(dialect, dir);
  if (!url) return undefined;
  const storage = await openStorage(url, { secrets: { key: BENCH_SECRETS_KEY } });
  const customerId = `0201${Math.floor(Math.random() * 1e12)
    .toString()
    .padStart(12, '0')}`;
  const { store } = storage;
  await store.createPartner({ customerId, name: 'bench', tokenHash: randomUUID(), createdAt: new Date() });
  await store.createEndpoint({
    id: `ep_${randomUUID().replaceAll('-', '').slice(0, 16)}`,
    customerId,
    url: 'http://127.0.0.1:9/never-called',
    description: null,
    eventTypes: ['THIRD PARTY CUSTOMER STATUS'],
    secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
    createdAt: new Date(),
  });
  const refs = Array.from({ length: count }, (_, i) => `c${i}`);
  for (let i = 0; i < refs.length; i += 500) {
    await Promise.all(
      refs.slice(i, i + 500).map((ref) =>
        store.createThirdParty({
          customerId,
          clientCustomerRef: ref,
          clientCustomerDetails: {},
          propertyDetails: [],
          createdAt: new Date(),
        }),
      ),
    );
  }
  return {
    storage,
    url,
    customerId,
    refs,
    async close() {
      await storage.close();
      await dropSchema(url);
    },
  };
}

/** Drops the schema a PostgreSQL `freshUrl` made (nothing for SQLite). */
export async function dropSchema(url: string): Promise<void> {
  const schema = new URL(url).searchParams.get('schema');
  if (!schema) return;
  const client = new pg.Client({ connectionString: PG_URL });
  await client.connect();
  await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await client.end();
}

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export interface Proc {
  child: ChildProcess;
  stop(): Promise<void>;
}

/**
 * The built CLI's `command` in a process of its own, with private endpoints allowed, the bench's admin
 * token and secrets key, warnings only, and `env`; resolves once its output matches `ready`.
 * BENCH_PROFILE=<dir>: the process writes a V8 CPU profile there when it exits.
 */
export async function spawnTpcs(
  command: 'serve' | 'worker',
  env: Record<string, string>,
  ready: RegExp,
): Promise<Proc> {
  const profile = process.env.BENCH_PROFILE;
  const nodeFlags = profile ? ['--cpu-prof', `--cpu-prof-dir=${profile}`] : [];
  const child = spawn(process.execPath, [...nodeFlags, BIN, command], {
    env: {
      ...process.env,
      ALLOW_PRIVATE_ENDPOINTS: 'true',
      ADMIN_TOKEN,
      LOG_LEVEL: 'warn',
      SECRETS_KEY: BENCH_SECRETS_KEY,
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let output = '';
  await new Promise<void>((resolve, reject) => {
    const onData = (b: Buffer) => {
      output += b.toString();
      if (ready.test(output)) resolve();
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', (b: Buffer) => (output += b.toString()));
    child.once('exit', (code) => reject(new Error(`tpcs ${command} exited (${code}): ${output}`)));
  });
  return {
    child,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const force = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(force);
    },
  };
}

/** `tpcs serve` on a free port of 127.0.0.1: with its dispatcher, or as an API only. */
export async function startServe(
  databaseUrl: string,
  withDispatcher: boolean,
  env: Record<string, string> = {},
): Promise<Proc & { url: string }> {
  const port = await freePort();
  const proc = await spawnTpcs(
    'serve',
    {
      ...env,
      DATABASE_URL: databaseUrl,
      PORT: String(port),
      HOST: '127.0.0.1',
      ...(withDispatcher ? {} : { DELIVERY_DISPATCHERS: '0' }),
    },
    /listening on/,
  );
  return { ...proc, url: `http://127.0.0.1:${port}` };
}
