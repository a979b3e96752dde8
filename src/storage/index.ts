import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { UnsupportedDatabaseUrlError } from './errors.js';
import { openSqliteStore, type SqliteStoreOptions } from './sqlite/index.js';
import type { Store } from './store.js';

export { decodeCursor, encodeCursor } from './cursor.js';
export { InvalidCursorError, UnsupportedDatabaseUrlError } from './errors.js';
export type * from './store.js';

/**
 * Opens the store a `DATABASE_URL` names. It does not migrate: call `store.migrate()` on start.
 *
 * - `sqlite:PATH` (relative to the working directory; the parent folder is created), `sqlite::memory:`
 *   for tests. `?synchronous=full` makes every commit fsync (see {@link SqliteStoreOptions}).
 * - `postgres://…` or `postgresql://…` (node-postgres connection string). `?schema=NAME` sets the
 *   `search_path` (created by `migrate()` if missing); the server is contacted once to fail fast.
 *
 * @example
 * const store = await createStore(process.env.DATABASE_URL ?? 'sqlite:./data/tpcs.db');
 * await store.migrate();
 */
export async function createStore(databaseUrl: string): Promise<Store> {
  if (databaseUrl.startsWith('sqlite:')) return openSqlite(databaseUrl.slice('sqlite:'.length));
  if (/^postgres(ql)?:\/\//.test(databaseUrl)) {
    const { createPostgresStore } = await import('./postgres/index.js');
    return createPostgresStore(databaseUrl);
  }
  throw new UnsupportedDatabaseUrlError(
    `Unsupported DATABASE_URL ${JSON.stringify(redact(databaseUrl))}: expected sqlite:PATH (e.g. sqlite:./data/tpcs.db), sqlite::memory:, or postgres://user@host:5432/db`,
  );
}

function openSqlite(spec: string): Store {
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
  if (path === ':memory:') return openSqliteStore(':memory:', options);
  const file = resolve(path.startsWith('file:') ? path.slice('file:'.length) : path);
  mkdirSync(dirname(file), { recursive: true });
  return openSqliteStore(file, options);
}

/** The URL without its password, for error messages. */
function redact(url: string): string {
  return url.replace(/(\/\/[^:/@]*:)[^@]*@/, '$1***@');
}
