/**
 * The readiness probe behind `/readyz`: ready means this process can do what a request needs, which
 * is to read and to commit. A `SELECT 1` answers while the disk is full (SQLite: every decision fails
 * with SQLITE_FULL; PostgreSQL: 53100) or the server is a read-only standby, so the probe commits a
 * one-row write: the `settings` row `readiness_probe`, set to the time of the probe. One small
 * transaction per probe (a WAL frame; on PostgreSQL one commit), a few per minute under a load balancer.
 */
import type Database from 'better-sqlite3';
import type pg from 'pg';

const KEY = 'readiness_probe';
const UPSERT_SQLITE =
  'INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value';
const UPSERT_POSTGRES =
  'INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value';

/** A probe that commits a write on the store's SQLite connection (the tables must exist: after migrating). */
export function sqliteWriteProbe(db: Database.Database): () => Promise<void> {
  let upsert: Database.Statement<[string, string]> | undefined;
  return async () => {
    upsert ??= db.prepare<[string, string]>(UPSERT_SQLITE);
    upsert.run(KEY, new Date().toISOString());
  };
}

/** A probe that commits a write on the store's pool, within the pool's timeouts. */
export function postgresWriteProbe(pool: pg.Pool): () => Promise<void> {
  return async () => {
    await pool.query({
      name: 'tpcs_readiness_probe',
      text: UPSERT_POSTGRES,
      values: [KEY, new Date().toISOString()],
    });
  };
}
