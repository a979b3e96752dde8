import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { SecretBox } from '../secrets/box.js';
import { resealAll, type SecretCounts, type StoredSecrets } from '../secrets/stored.js';
import {
  type KeyHome,
  type SecretsKeySource,
  type SecretsStatus,
  unlockStoredSecrets,
} from '../secrets/unlock.js';
import { UnsupportedDatabaseUrlError } from './errors.js';
import type { DeliveryQueue } from './queue.js';
import { QueueSignal } from './signal.js';
import { openSqliteStore, type SqliteStoreOptions } from './sqlite/index.js';
import { sqliteDeliveryQueue } from './sqlite/queue.js';
import { sqliteStoredSecrets } from './sqlite/secrets.js';
import type { MigrationProgress, Store } from './store.js';

export { decodeCursor, encodeCursor } from './cursor.js';
export { InvalidCursorError, isStorageUnavailable, UnsupportedDatabaseUrlError } from './errors.js';
export type * from './queue.js';
export { QueueSignal } from './signal.js';
export type * from './store.js';

/** A `DATABASE_URL`, understood once for the store and the queue. */
export type DatabaseLocation =
  | { dialect: 'sqlite'; file: string; options: SqliteStoreOptions }
  | { dialect: 'postgres'; url: string };

/**
 * Reads a `DATABASE_URL`; throws {@link UnsupportedDatabaseUrlError} for one it cannot use.
 *
 * - `sqlite:PATH` (relative to the working directory), `sqlite::memory:` for tests;
 *   `?synchronous=full` makes every commit fsync (see {@link SqliteStoreOptions}).
 * - `postgres://…` or `postgresql://…` (node-postgres connection string); `?schema=NAME` sets the
 *   `search_path` (created by the migrations if missing), `?max=N` sizes the pool.
 *
 * @example
 * parseDatabaseUrl('sqlite:./data/tpcs.db?synchronous=full'); // {dialect: 'sqlite', file: '/…/data/tpcs.db', options: {synchronous: 'FULL'}}
 */
export function parseDatabaseUrl(databaseUrl: string): DatabaseLocation {
  if (/^postgres(ql)?:\/\//.test(databaseUrl)) return { dialect: 'postgres', url: databaseUrl };
  if (!databaseUrl.startsWith('sqlite:')) {
    throw new UnsupportedDatabaseUrlError(
      `Unsupported DATABASE_URL ${JSON.stringify(redact(databaseUrl))}: expected sqlite:PATH (e.g. sqlite:./data/tpcs.db), sqlite::memory:, or postgres://user@host:5432/db`,
    );
  }
  const spec = databaseUrl.slice('sqlite:'.length);
  const q = spec.indexOf('?');
  const path = q === -1 ? spec : spec.slice(0, q);
  const params = new URLSearchParams(q === -1 ? '' : spec.slice(q + 1));
  if (path === '') {
    throw new UnsupportedDatabaseUrlError('DATABASE_URL sqlite: needs a path, e.g. sqlite:./data/tpcs.db');
  }
  const options: SqliteStoreOptions = {};
  const sync = params.get('synchronous')?.toUpperCase();
  if (sync !== undefined) {
    if (sync !== 'NORMAL' && sync !== 'FULL') {
      throw new UnsupportedDatabaseUrlError(`DATABASE_URL synchronous=${sync}: expected normal or full`);
    }
    options.synchronous = sync;
  }
  const file =
    path === ':memory:' ? path : resolve(path.startsWith('file:') ? path.slice('file:'.length) : path);
  return { dialect: 'sqlite', file, options };
}

/** An opened, migrated database: the store, the delivery queue, and the migrations this opening applied. */
export interface Storage {
  readonly dialect: 'sqlite' | 'postgres';
  readonly store: Store;
  readonly queue: DeliveryQueue;
  /** Names of the migrations applied while opening (empty when the schema was up to date). */
  readonly applied: string[];
  /** The key that encrypts endpoint secrets at rest: where it came from, what this opening did. */
  readonly secrets: SecretsStatus;
  /**
   * Re-encrypts every stored secret that is not under the current key, reading it with the key it
   * names (`SECRETS_OLD_KEYS`); `tpcs secrets rotate-key`. Running it again finds nothing to do.
   */
  rotateSecretsKey(): Promise<SecretCounts>;
  /** Closes the queue, then the store. */
  close(): Promise<void>;
}

/**
 * Opens the database a `DATABASE_URL` names (see {@link parseDatabaseUrl}), applies the migrations not
 * yet applied, and returns the store and the delivery queue sharing one {@link QueueSignal}: a
 * decision, a retry or a recover wakes whoever listens on `queue.onQueued` (the dispatcher, the event
 * stream). SQLite: one connection for both (the parent folder is created). PostgreSQL: a pool for
 * the store and a smaller one for the queue, with a LISTEN connection for other processes' commits;
 * the server is contacted at once, so a wrong URL fails at start.
 *
 * Endpoint secrets are stored encrypted under the key `secrets` names (see src/secrets/unlock.ts):
 * when none is given, SQLite uses (and on first start generates) `<database file>.key`, and
 * `sqlite::memory:` a random key; PostgreSQL then opens without a key, and reading or writing a
 * secret throws. Opening fails when the database holds secrets under a key that is not configured,
 * and encrypts any secret still stored in plaintext by an earlier version.
 *
 * @example
 * const storage = await openStorage(process.env.DATABASE_URL ?? 'sqlite:./data/tpcs.db');
 * await storage.store.getPartner('0201001008132685');
 * await storage.close();
 */
export async function openStorage(
  databaseUrl: string,
  options: {
    onMigration?: MigrationProgress;
    /**
     * `DATABASE_TIMEOUT`: PostgreSQL, the bound on getting a connection and on each statement
     * (migrations excepted); SQLite, how long a write waits for another process's lock. Absent: no
     * bound on PostgreSQL, 5 s on SQLite.
     */
    timeoutMs?: number | undefined;
    /** `SECRETS_KEY`, `SECRETS_KEY_FILE`, `SECRETS_OLD_KEYS`; see above for what happens without them. */
    secrets?: SecretsKeySource | undefined;
    /**
     * SQLite file: WAL checkpoints in a thread of their own (src/sqlite/checkpointer.ts) instead of inside
     * a commit now and then; the long-running processes (`tpcs serve`, `tpcs worker`) ask for it.
     */
    backgroundCheckpoints?: boolean;
  } = {},
): Promise<Storage> {
  const location = parseDatabaseUrl(databaseUrl);
  const signal = new QueueSignal();
  const { timeoutMs } = options;
  const box = new SecretBox(
    undefined,
    'No secrets key is configured: with PostgreSQL, set SECRETS_KEY or SECRETS_KEY_FILE (32 bytes, base64 or hex: openssl rand -base64 32)',
  );
  const unlock = (stored: StoredSecrets, home: KeyHome) =>
    unlockStoredSecrets(box, stored, options.secrets ?? {}, home);
  const rotateSecretsKey = (stored: StoredSecrets) => () => resealAll(box, stored);
  if (location.dialect === 'sqlite') {
    if (location.file !== ':memory:') mkdirSync(dirname(location.file), { recursive: true });
    const sqliteOptions =
      timeoutMs === undefined ? location.options : { ...location.options, busyTimeoutMs: timeoutMs };
    const store = openSqliteStore(location.file, sqliteOptions, signal, box);
    try {
      const applied = await store.migrate(options.onMigration);
      const stored = sqliteStoredSecrets(store.database);
      const home: KeyHome =
        location.file === ':memory:'
          ? { kind: 'sqlite-memory' }
          : { kind: 'sqlite-file', file: location.file };
      const secrets = await unlock(stored, home);
      const queue = sqliteDeliveryQueue(store.database, signal, box);
      // started, not awaited: the thread opens the file while the caller goes on
      if (options.backgroundCheckpoints) void store.checkpointInBackground();
      return {
        dialect: 'sqlite',
        store,
        queue,
        applied,
        secrets,
        rotateSecretsKey: rotateSecretsKey(stored),
        close: () => store.close(),
      };
    } catch (error) {
      await store.close();
      throw error;
    }
  }
  const { createPostgresStore } = await import('./postgres/index.js');
  const { openPostgresQueue } = await import('./postgres/queue.js');
  const { postgresStoredSecrets } = await import('./postgres/secrets.js');
  const store = await createPostgresStore(location.url, signal, { timeoutMs, box });
  try {
    const applied = await store.migrate(options.onMigration);
    const stored = postgresStoredSecrets(store.pool);
    const secrets = await unlock(stored, { kind: 'postgres' });
    const queue = openPostgresQueue(location.url, signal, { timeoutMs, box });
    return {
      dialect: 'postgres',
      store,
      queue,
      applied,
      secrets,
      rotateSecretsKey: rotateSecretsKey(stored),
      async close() {
        await queue.close();
        await store.close();
      },
    };
  } catch (error) {
    await store.close();
    throw error;
  }
}

/** The URL without its password, for error messages. */
function redact(url: string): string {
  return url.replace(/(\/\/[^:/@]*:)[^@]*@/, '$1***@');
}
