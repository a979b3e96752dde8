/**
 * The one database harness: every suite that needs storage runs the same tests on each dialect.
 *
 * - SQLite: a fresh file in a temp folder (or `sqlite::memory:` where the test asks for it).
 * - PostgreSQL: `TEST_DATABASE_URL` (default postgres://postgres@127.0.0.1:5432/test); each database is
 *   a fresh schema, dropped afterwards, so parallel test files never see each other's rows.
 *
 * Whether the PostgreSQL half runs, skips (with a printed reason) or fails the run is decided once, in
 * test/support/postgres.ts.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll } from 'vitest';
import { openStorage, type Storage } from '../../src/storage/index.js';
import type { DeliveryQueue } from '../../src/storage/queue.js';
import type { Store } from '../../src/storage/store.js';
import { PG_URL, postgresSkipReason } from './postgres.js';
import { waitFor } from './wait-for.js';

export const DIALECTS = ['sqlite', 'postgres'] as const;
export type Dialect = (typeof DIALECTS)[number];
export { PG_URL };

const pgSkip = await postgresSkipReason();

/** Why a dialect's half of a suite is skipped, or undefined when it runs. */
export function skipReason(dialect: Dialect): string | undefined {
  return dialect === 'postgres' ? pgSkip : undefined;
}

/**
 * The key endpoint secrets are encrypted under in PostgreSQL test databases (`SECRETS_KEY` for a child
 * process). SQLite makes its own: `<database file>.key`, or a random one in memory.
 */
export const SECRETS_KEY = Buffer.alloc(32, 'tpcs test key').toString('base64');

/**
 * Opens (and migrates) a database the way every test does: the one place for options the tests give
 * `openStorage`.
 */
export function openTestStorage(url: string): Promise<Storage> {
  return openStorage(url, url.startsWith('sqlite:') ? {} : { secrets: { key: SECRETS_KEY } });
}

/** The environment a `tpcs` child process needs to open the same database as {@link openTestStorage}. */
export function databaseEnv(url: string): Record<string, string> {
  return url.startsWith('sqlite:') ? { DATABASE_URL: url } : { DATABASE_URL: url, SECRETS_KEY };
}

/** A URL naming a fresh, empty database, and how to throw it away. */
export interface FreshDatabaseUrl {
  url: string;
  drop(): Promise<void>;
}

/** A fresh, empty database of that dialect (not migrated: `openStorage` migrates). */
export async function freshUrl(
  dialect: Dialect,
  { memory = false }: { memory?: boolean } = {},
): Promise<FreshDatabaseUrl> {
  if (dialect === 'sqlite') {
    if (memory) return { url: 'sqlite::memory:', drop: async () => {} };
    const dir = mkdtempSync(join(tmpdir(), 'tpcs-test-'));
    return {
      url: `sqlite:${join(dir, 'tpcs.db')}`,
      drop: async () => rmSync(dir, { recursive: true, force: true }),
    };
  }
  const schema = `tpcs_test_${randomBytes(6).toString('hex')}`;
  await withClient((c) => c.query(`CREATE SCHEMA ${schema}`));
  const u = new URL(PG_URL);
  u.searchParams.set('schema', schema);
  return {
    url: u.toString(),
    drop: () => withClient((c) => c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`)).then(() => {}),
  };
}

/**
 * A connection of its own to a PostgreSQL test database (a `freshUrl`), on its `?schema=`: for a test
 * that reads the tables directly or holds a lock in a transaction beside the store. The caller ends it.
 */
export async function connectToSchema(url: string): Promise<pg.Client> {
  const schema = new URL(url).searchParams.get('schema') ?? 'public';
  const client = new pg.Client({ connectionString: PG_URL, options: `-c search_path=${schema}` });
  await client.connect();
  return client;
}

/**
 * Resolves once `pending` settles, or once a session other than `observer`'s waits for a lock while
 * running a statement whose text matches one of `patterns` (SQL LIKE; pg_stat_activity keeps a
 * statement's first 1,024 bytes). For a test that holds a lock on `observer` and lets the store run
 * into it; on timeout it fails naming `what`.
 */
export async function settledOrWaitingForLock(
  observer: pg.Client,
  pending: Promise<unknown>,
  patterns: string[],
  what: string,
): Promise<void> {
  let settled = false;
  void pending.then(
    () => {
      settled = true;
    },
    () => {
      settled = true;
    },
  );
  await waitFor(
    async () => {
      if (settled) return true;
      // `observer` is usually in a transaction (holding the lock), and a transaction keeps the first
      // pg_stat_activity it read: cleared, each check sees the statements running now
      await observer.query('SELECT pg_stat_clear_snapshot()');
      const { rows } = await observer.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
         WHERE NOT l.granted AND a.pid <> pg_backend_pid() AND a.query LIKE ANY ($1::text[])`,
        [patterns],
      );
      return (rows[0]?.n ?? 0) > 0;
    },
    { timeout: 30_000, what },
  );
}

async function withClient<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: 5000 });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** A fresh, migrated database with the store and the queue open on it. */
export interface TestDatabase {
  dialect: Dialect;
  url: string;
  storage: Storage;
  store: Store;
  queue: DeliveryQueue;
  /** Closes the storage and drops the database. */
  dispose(): Promise<void>;
}

export async function openDatabase(
  dialect: Dialect,
  options: { memory?: boolean } = {},
): Promise<TestDatabase> {
  const fresh = await freshUrl(dialect, options);
  const storage = await openTestStorage(fresh.url);
  return {
    dialect,
    url: fresh.url,
    storage,
    store: storage.store,
    queue: storage.queue,
    async dispose() {
      await storage.close();
      await fresh.drop();
    },
  };
}

/** An attempt row written straight to the table with the driver (tests of what the store reads back). */
export interface RawAttempt {
  deliveryId: string;
  at: Date;
  durationMs: number;
  statusCode: number | null;
  error: string | null;
}

export interface TestDatabases {
  /** A migrated store shared by the tests of one describe block (tests use their own partner ids). */
  readonly store: Store;
  /** The URL `store` was opened on. */
  readonly url: string;
  /** A URL naming a fresh, empty database, dropped after the suite. */
  freshUrl(): Promise<string>;
  /** Opens (and migrates) a database; closed after the suite. */
  storage(url: string): Promise<Storage>;
  /** Opens a store on a URL; closed after the suite. */
  open(url: string): Promise<Store>;
  /** Writes an attempt directly with the driver. */
  insertAttempt(url: string, a: RawAttempt): Promise<void>;
}

/** Registers beforeAll/afterAll hooks that set up and tear down the dialect's databases. */
export function useDatabases(dialect: Dialect): TestDatabases {
  const opened: Storage[] = [];
  const fresh: FreshDatabaseUrl[] = [];
  let shared: Store | undefined;
  let sharedUrl = '';

  const newUrl = async (): Promise<string> => {
    const f = await freshUrl(dialect);
    fresh.push(f);
    return f.url;
  };
  const storage = async (url: string): Promise<Storage> => {
    const s = await openTestStorage(url);
    opened.push(s);
    return s;
  };
  const open = async (url: string): Promise<Store> => (await storage(url)).store;

  beforeAll(async () => {
    sharedUrl = await newUrl();
    shared = await open(sharedUrl);
  });
  afterAll(async () => {
    for (const s of opened) await s.close();
    for (const f of fresh) await f.drop();
  });

  return {
    get store(): Store {
      if (!shared) throw new Error('store used outside a test');
      return shared;
    },
    get url(): string {
      return sharedUrl;
    },
    freshUrl: newUrl,
    storage,
    open,
    insertAttempt: (url, a) => insertAttempt(dialect, url, a),
  };
}

async function insertAttempt(dialect: Dialect, url: string, a: RawAttempt): Promise<void> {
  if (dialect === 'sqlite') {
    const { default: Database } = await import('better-sqlite3');
    const db = new Database(url.slice('sqlite:'.length));
    try {
      db.prepare(
        'INSERT INTO attempts (delivery_id, at, duration_ms, status_code, error) VALUES (?, ?, ?, ?, ?)',
      ).run(a.deliveryId, a.at.getTime(), a.durationMs, a.statusCode, a.error);
    } finally {
      db.close();
    }
    return;
  }
  const schema = new URL(url).searchParams.get('schema');
  await withClient((c) =>
    c.query(
      `INSERT INTO ${schema}.attempts (delivery_id, at, duration_ms, status_code, error) VALUES ($1, $2, $3, $4, $5)`,
      [a.deliveryId, a.at, a.durationMs, a.statusCode, a.error],
    ),
  );
}
