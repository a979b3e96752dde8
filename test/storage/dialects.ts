/**
 * The databases the storage suite runs against, kysely-style: the same tests for every dialect.
 * PostgreSQL: TEST_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/test); each store gets its
 * own fresh schema, dropped afterwards, so parallel runs never collide. Whether the PostgreSQL half runs,
 * skips or fails the run is decided once, in test/support/postgres.ts.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { afterAll, beforeAll } from 'vitest';
import { openStorage, type Storage } from '../../src/storage/index.js';
import type { Store } from '../../src/storage/store.js';
import { PG_URL, postgresSkipReason } from '../support/postgres.js';

export const DIALECTS = ['sqlite', 'postgres'] as const;
export type Dialect = (typeof DIALECTS)[number];

export { PG_URL };

const pgSkip = await postgresSkipReason();

/** Why a dialect's half of the suite is skipped, or undefined when it runs. */
export function skipReason(dialect: Dialect): string | undefined {
  return dialect === 'postgres' ? pgSkip : undefined;
}

export const randomId = (prefix = ''): string => `${prefix}${Math.random().toString(36).slice(2, 12)}`;

/** An attempt row written straight to the table (the dispatcher's write side is not in the Store yet). */
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
  /** A URL naming a fresh, empty database (a new file or a new schema), cleaned up afterwards. */
  freshUrl(): Promise<string>;
  /** Opens a store on a URL and closes it afterwards. */
  open(url: string): Promise<Store>;
  /** Writes an attempt directly with the driver. */
  insertAttempt(url: string, a: RawAttempt): Promise<void>;
  /** Opens (and migrates) a database; closed after the suite. */
  storage(url: string): Promise<Storage>;
  /** The URL `store` was opened on. */
  readonly url: string;
}

/** Registers beforeAll/afterAll hooks that set up and tear down the dialect's databases. */
export function useDatabases(dialect: Dialect): TestDatabases {
  const stores: Storage[] = [];
  const schemas: string[] = [];
  let dir: string | undefined;
  let shared: Store | undefined;
  let sharedUrl = '';
  let admin: pg.Pool | undefined;

  const freshUrl = async (): Promise<string> => {
    if (dialect === 'sqlite') {
      dir ??= mkdtempSync(join(tmpdir(), 'tpcs-store-'));
      return `sqlite:${join(dir, `${randomId()}.db`)}`;
    }
    admin ??= new pg.Pool({ connectionString: PG_URL, max: 2 });
    const schema = randomId('tpcs_test_');
    await admin.query(`CREATE SCHEMA ${schema}`);
    schemas.push(schema);
    const u = new URL(PG_URL);
    u.searchParams.set('schema', schema);
    return u.toString();
  };

  const storage = async (url: string): Promise<Storage> => {
    const opened = await openStorage(url);
    stores.push(opened);
    return opened;
  };
  const open = async (url: string): Promise<Store> => (await storage(url)).store;

  beforeAll(async () => {
    sharedUrl = await freshUrl();
    shared = await open(sharedUrl);
  });

  afterAll(async () => {
    for (const s of stores) await s.close();
    if (admin) {
      for (const schema of schemas) await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await admin.end();
    }
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  return {
    get store(): Store {
      if (!shared) throw new Error('store used outside a test');
      return shared;
    },
    get url(): string {
      return sharedUrl;
    },
    freshUrl,
    open,
    storage,
    async insertAttempt(url: string, a: RawAttempt): Promise<void> {
      if (dialect === 'sqlite') {
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
      const u = new URL(url);
      const schema = u.searchParams.get('schema');
      const client = new pg.Client({ connectionString: PG_URL });
      await client.connect();
      try {
        await client.query(
          `INSERT INTO ${schema}.attempts (delivery_id, at, duration_ms, status_code, error) VALUES ($1, $2, $3, $4, $5)`,
          [a.deliveryId, a.at, a.durationMs, a.statusCode, a.error],
        );
      } finally {
        await client.end();
      }
    },
  };
}
