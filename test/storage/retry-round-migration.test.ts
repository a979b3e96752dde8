/**
 * The retry-round migration (SQLite 003, PostgreSQL 006) on a database written by the previous
 * schema: a delivery whose attempt_count a recover had reset, or that logged an attempt completed
 * after its lease expired, gets attempt_count = its attempts and keeps its place in its retry
 * schedule (attempt_count - retry_round_start unchanged); other deliveries are left as they were.
 */
import Database from 'better-sqlite3';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { parsePostgresUrl } from '../../src/storage/postgres/index.js';
import {
  migrate as migratePostgres,
  migrations as postgresMigrations,
} from '../../src/storage/postgres/migrations.js';
import {
  migrate as migrateSqlite,
  migrations as sqliteMigrations,
} from '../../src/storage/sqlite/migrations.js';
import { DIALECTS, skipReason, useDatabases } from '../support/databases.js';

const MIGRATION = { sqlite: '003_retry_round', postgres: '006_retry_round' } as const;

/** Deliveries: [id, attempt_count before, attempts logged]. */
const ROWS: [string, number, number][] = [
  ['recovered', 1, 3], // failed after 2, recovered (count reset to 0), one more attempt
  ['lease_lost', 2, 3], // one of its 3 attempts completed after its lease had expired
  ['plain', 2, 2],
  ['new', 0, 0],
];

/** The seed rows, in SQL both dialects accept (times as the dialect's literal). */
function seed(now: string, eventTypes: string): string {
  const rows = ROWS.map(
    ([id, count], i) => `
      INSERT INTO events (event_id, customer_id, client_customer_ref, event_type, payload, created_at)
        VALUES ('ev_${id}', 'P1', 'ref_${id}', 'T', '{}', ${now});
      INSERT INTO deliveries (id, event_id, event_seq, endpoint_id, customer_id, client_customer_ref, status,
          attempt_count, next_attempt_at, created_at, updated_at)
        VALUES ('${id}', 'ev_${id}', ${i + 1}, 'ep1', 'P1', 'ref_${id}', 'pending', ${count}, ${now}, ${now}, ${now});`,
  );
  const attempts = ROWS.flatMap(([id, , n]) =>
    Array.from(
      { length: n },
      () =>
        `INSERT INTO attempts (delivery_id, at, duration_ms, status_code) VALUES ('${id}', ${now}, 1, 500);`,
    ),
  );
  return `
    INSERT INTO partners (customer_id, name, token_hash, created_at) VALUES ('P1', 'P', 'h', ${now});
    INSERT INTO endpoints (id, customer_id, url, description, event_types, created_at, updated_at)
      VALUES ('ep1', 'P1', 'https://x.example/', NULL, ${eventTypes}, ${now}, ${now});
    ${rows.join('\n')}
    ${attempts.join('\n')}`;
}

const EXPECTED = [
  { id: 'lease_lost', attempt_count: 3, retry_round_start: 1 },
  { id: 'new', attempt_count: 0, retry_round_start: 0 },
  { id: 'plain', attempt_count: 2, retry_round_start: 0 },
  { id: 'recovered', attempt_count: 3, retry_round_start: 2 },
];
const QUERY = 'SELECT id, attempt_count, retry_round_start FROM deliveries ORDER BY id';

for (const dialect of DIALECTS) {
  describe.skipIf(skipReason(dialect) !== undefined)(`retry-round migration on ${dialect}`, () => {
    const dbs = useDatabases(dialect);
    const pools: pg.Pool[] = [];
    afterAll(async () => {
      for (const p of pools) await p.end();
    });

    it('counts every logged attempt and keeps each delivery where it was in its retry schedule', async () => {
      const url = await dbs.freshUrl();
      if (dialect === 'sqlite') {
        const db = new Database(url.slice('sqlite:'.length));
        try {
          const at = sqliteMigrations.findIndex((m) => m.name === MIGRATION.sqlite);
          migrateSqlite(db, sqliteMigrations.slice(0, at));
          db.exec(seed(String(Date.now()), `'["T"]'`));
          expect(migrateSqlite(db)).toContain(MIGRATION.sqlite);
          expect(db.prepare(QUERY).all()).toEqual(EXPECTED);
        } finally {
          db.close();
        }
        return;
      }
      const { config, schema } = parsePostgresUrl(url);
      const pool = new pg.Pool(config);
      pools.push(pool);
      const at = postgresMigrations.findIndex((m) => m.name === MIGRATION.postgres);
      await migratePostgres(pool, postgresMigrations.slice(0, at), schema);
      await pool.query(seed('now()', `ARRAY['T']`));
      expect(await migratePostgres(pool, postgresMigrations, schema)).toContain(MIGRATION.postgres);
      expect((await pool.query(QUERY)).rows).toEqual(EXPECTED);
      // the claim function returns the new column
      const { rows } = await pool.query(
        `SELECT id, attempt_count, retry_round_start FROM tpcs_claim(10, now() + interval '1 minute', 10, 'w', 1000)
         ORDER BY id`,
      );
      expect(rows).toEqual(EXPECTED);
    });
  });
}
