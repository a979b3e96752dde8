import type pg from 'pg';
import type { Migration, MigrationProgress } from '../store.js';
import { withTransaction } from './db.js';
import * as m001 from './migrations/001_initial.js';
import * as m002 from './migrations/002_delivery_queue.js';
import * as m003 from './migrations/003_claim_heads.js';
import * as m004 from './migrations/004_delivery_notify.js';
import * as m005 from './migrations/005_notify_after_commit.js';
import * as m006 from './migrations/006_retry_round.js';
import * as m007 from './migrations/007_event_order.js';
import * as m008 from './migrations/008_notify_after_commit_only.js';
import * as m009 from './migrations/009_encrypted_secrets.js';
import * as m010 from './migrations/010_dashboard_sessions.js';
import * as m011 from './migrations/011_partner_share.js';
import * as m013 from './migrations/013_delivery_leases.js';
import * as m014 from './migrations/014_claim_by_partner.js';
import * as m015 from './migrations/015_portal_links.js';
import * as m016 from './migrations/016_alerts.js';
import * as m017 from './migrations/017_endpoint_disabled_at.js';
import * as m018 from './migrations/018_endpoint_rate_limit.js';
import * as m020 from './migrations/020_alert_recovery.js';
import * as m021 from './migrations/021_lean_completion.js';
import * as m022 from './migrations/022_heads_by_id.js';
import * as m023 from './migrations/023_lock_decisions.js';
import * as m024 from './migrations/024_claim_reports.js';
import * as m025 from './migrations/025_delivery_ids_by_time.js';
import * as m026 from './migrations/026_claim_fast_path.js';
import * as m028 from './migrations/028_complete_and_claim.js';

/** Every PostgreSQL migration, oldest first. Append only: never edit one that has shipped. */
export const migrations: readonly Migration[] = [
  { name: '001_initial', sql: m001.sql },
  { name: '002_delivery_queue', sql: m002.sql },
  { name: '003_claim_heads', sql: m003.sql },
  { name: '004_delivery_notify', sql: m004.sql },
  { name: '005_notify_after_commit', sql: m005.sql },
  { name: '006_retry_round', sql: m006.sql },
  { name: '007_event_order', sql: m007.sql },
  { name: '008_notify_after_commit_only', sql: m008.sql },
  { name: '009_encrypted_secrets', sql: m009.sql },
  { name: '010_dashboard_sessions', sql: m010.sql },
  { name: '011_partner_share', sql: m011.sql },
  { name: '013_delivery_leases', sql: m013.sql },
  { name: '014_claim_by_partner', sql: m014.sql },
  { name: '015_portal_links', sql: m015.sql },
  { name: '016_alerts', sql: m016.sql },
  { name: '017_endpoint_disabled_at', sql: m017.sql },
  { name: '018_endpoint_rate_limit', sql: m018.sql },
  { name: '020_alert_recovery', sql: m020.sql },
  { name: '021_lean_completion', sql: m021.sql },
  { name: '022_heads_by_id', sql: m022.sql },
  { name: '023_lock_decisions', sql: m023.sql },
  { name: '024_claim_reports', sql: m024.sql },
  { name: '025_delivery_ids_by_time', sql: m025.sql },
  { name: '026_claim_fast_path', sql: m026.sql },
  { name: '028_complete_and_claim', sql: m028.sql },
];

/** First key of the two-int advisory lock; the second is a hash of the schema name. */
const MIGRATION_LOCK = 0x7470_6373; // 'tpcs'

/**
 * Applies the migrations not yet recorded, all in one transaction (PostgreSQL DDL is transactional),
 * under a transaction-scoped advisory lock per schema: when several processes start at once, one
 * migrates and the others wait, then find nothing left to do. With `schema`, the schema is created
 * if missing and used. Returns the names it applied.
 */
export async function migrate(
  pool: pg.Pool,
  list: readonly Migration[] = migrations,
  schema?: string,
  onProgress?: MigrationProgress,
): Promise<string[]> {
  return withTransaction(pool, async (client) => {
    await client.query("SELECT pg_advisory_xact_lock($1, hashtext(coalesce($2, current_schema(), '')))", [
      MIGRATION_LOCK,
      schema ?? null,
    ]);
    if (schema !== undefined) {
      await client.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(schema)}`);
      await client.query(`SET LOCAL search_path TO ${quoteIdent(schema)}`);
    }
    await client.query(
      'CREATE TABLE IF NOT EXISTS migrations (name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())',
    );
    const { rows } = await client.query<{ name: string }>('SELECT name FROM migrations');
    const done = new Set(rows.map((r) => r.name));
    const applied: string[] = [];
    const pending = list.filter((m) => !done.has(m.name));
    for (const m of pending) {
      onProgress?.(m.name, applied.length, pending.length);
      await client.query(m.sql); // no parameters: the simple protocol runs every statement in it
      await client.query('INSERT INTO migrations (name) VALUES ($1)', [m.name]);
      applied.push(m.name);
    }
    return applied;
  });
}

/** A validated identifier, double-quoted (schema names come from configuration, not from users). */
export function quoteIdent(name: string): string {
  if (!/^[A-Za-z_][A-Za-z0-9_]{0,62}$/.test(name))
    throw new Error(`Invalid PostgreSQL identifier ${JSON.stringify(name)}`);
  return `"${name}"`;
}
