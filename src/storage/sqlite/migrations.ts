import type { Database } from 'better-sqlite3';
import type { Migration, MigrationProgress } from '../store.js';
import * as m001 from './migrations/001_initial.js';
import * as m002 from './migrations/002_delivery_queue.js';
import * as m003 from './migrations/003_retry_round.js';
import * as m004 from './migrations/004_event_order.js';
import * as m005 from './migrations/005_encrypted_secrets.js';
import * as m006 from './migrations/006_dashboard_sessions.js';
import * as m007 from './migrations/007_portal_links.js';
import * as m008 from './migrations/008_alerts.js';
import * as m009 from './migrations/009_endpoint_disabled_at.js';
import * as m010 from './migrations/010_endpoint_rate_limit.js';
import * as m011 from './migrations/011_alert_recovery.js';
import * as m012 from './migrations/012_delivery_leases.js';

/** Every SQLite migration, oldest first. Append only: never edit one that has shipped. */
export const migrations: readonly Migration[] = [
  { name: '001_initial', sql: m001.sql },
  { name: '002_delivery_queue', sql: m002.sql },
  { name: '003_retry_round', sql: m003.sql },
  { name: '004_event_order', sql: m004.sql },
  { name: '005_encrypted_secrets', sql: m005.sql },
  { name: '006_dashboard_sessions', sql: m006.sql },
  { name: '007_portal_links', sql: m007.sql },
  { name: '008_alerts', sql: m008.sql },
  { name: '009_endpoint_disabled_at', sql: m009.sql },
  { name: '010_endpoint_rate_limit', sql: m010.sql },
  { name: '011_alert_recovery', sql: m011.sql },
  { name: '012_delivery_leases', sql: m012.sql },
];

/**
 * Applies the migrations not yet recorded, in one `BEGIN IMMEDIATE` transaction: a second process
 * starting at the same time waits on the write lock (busy_timeout), then finds them applied.
 * Returns the names it applied.
 */
export function migrate(
  db: Database,
  list: readonly Migration[] = migrations,
  onProgress?: MigrationProgress,
): string[] {
  const run = db.transaction((): string[] => {
    db.exec(
      'CREATE TABLE IF NOT EXISTS migrations (name TEXT PRIMARY KEY, applied_at INTEGER NOT NULL) STRICT',
    );
    const done = new Set(db.prepare<[], string>('SELECT name FROM migrations').pluck().all());
    const record = db.prepare<[string, number]>('INSERT INTO migrations (name, applied_at) VALUES (?, ?)');
    const applied: string[] = [];
    const pending = list.filter((m) => !done.has(m.name));
    for (const m of pending) {
      onProgress?.(m.name, applied.length, pending.length);
      db.exec(m.sql);
      record.run(m.name, Date.now());
      applied.push(m.name);
    }
    return applied;
  });
  return run.immediate();
}
