/**
 * What a typed query builder (Kysely) would cost on the reads every API request makes, against our
 * hand-written statements, on SQLite and on PostgreSQL.
 *
 *   npx tsx bench/query-builder.ts      (PostgreSQL from BENCH_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/test)
 *
 * Issue 10 asked whether Kysely should write the plain CRUD once for both dialects. Decisions and the
 * claim stay hand-written either way, so `bench/api` (decisions per second) cannot move; what would
 * move is every read below. Each operation runs on the same database, the same rows, the same driver:
 *
 * - `store`: our store (better-sqlite3 statements prepared once; pg named prepared statements);
 * - `kysely`: the same query built with Kysely's query builder on each call and mapped to the same
 *   domain object (Kysely's SQLite driver prepares the statement on every call; its pg driver sends
 *   unnamed statements, parsed and planned every time);
 * - `floor`: the driver alone with a statement prepared once, no mapping.
 *
 * Rounds interleave the three so a noisy neighbour hurts all alike; figures are medians over rounds.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { Kysely, PostgresDialect, SqliteDialect } from 'kysely';
import pg from 'pg';
import { openStorage } from '../src/storage/index.js';
import type { Store } from '../src/storage/store.js';
import { describeMachine, formatInteger, markdownTable, median } from './table.js';

const ROUNDS = 5;
const SLICE_MS = Number(process.env.BENCH_SLICE_MS ?? 500);
const PG_URL = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const CUSTOMER_ID = '0201001008132685';
const TOKEN_HASH = 'bench-token-hash';
const THIRD_PARTIES = 500;

/** The tables as Kysely sees them: SQLite stores times as epoch ms, PostgreSQL as timestamptz. */
interface Tables {
  partners: { customer_id: string; name: string | null; token_hash: string; created_at: number | Date };
  third_parties: {
    customer_id: string;
    client_customer_ref: string;
    status: string;
    reasons: unknown;
    client_customer_details: unknown;
    property_details: unknown;
    created_at: number | Date;
    updated_at: number | Date;
  };
  events: {
    seq: number | string;
    event_id: string;
    customer_id: string;
    client_customer_ref: string;
    event_type: string;
    payload: string;
    created_at: number | Date;
  };
}

const toDate = (v: number | Date): Date => (v instanceof Date ? v : new Date(v));
const json = (v: unknown): unknown => (typeof v === 'string' ? JSON.parse(v) : v);

/** The three reads, written once with Kysely for both dialects: what adopting it would look like. */
function kyselyReads(db: Kysely<Tables>) {
  return {
    async partnerByToken(tokenHash: string) {
      const r = await db
        .selectFrom('partners')
        .select(['customer_id', 'name', 'created_at'])
        .where('token_hash', '=', tokenHash)
        .executeTakeFirst();
      return r && { customerId: r.customer_id, name: r.name, createdAt: toDate(r.created_at) };
    },
    async thirdParty(customerId: string, ref: string) {
      const r = await db
        .selectFrom('third_parties')
        .selectAll()
        .where('customer_id', '=', customerId)
        .where('client_customer_ref', '=', ref)
        .executeTakeFirst();
      return (
        r && {
          customerId: r.customer_id,
          clientCustomerRef: r.client_customer_ref,
          status: r.status,
          reasons: r.reasons === null ? null : json(r.reasons),
          clientCustomerDetails: json(r.client_customer_details),
          propertyDetails: json(r.property_details),
          createdAt: toDate(r.created_at),
          updatedAt: toDate(r.updated_at),
        }
      );
    },
    async eventPage(customerId: string, limit: number) {
      const rows = await db
        .selectFrom('events')
        .select([
          'seq',
          'event_id',
          'customer_id',
          'client_customer_ref',
          'event_type',
          'payload',
          'created_at',
        ])
        .where('customer_id', '=', customerId)
        .where('seq', '<', Number.MAX_SAFE_INTEGER)
        .orderBy('seq', 'desc')
        .limit(limit + 1)
        .execute();
      return rows.slice(0, limit).map((r) => ({
        eventId: r.event_id,
        customerId: r.customer_id,
        clientCustomerRef: r.client_customer_ref,
        eventType: r.event_type,
        payload: r.payload,
        createdAt: toDate(r.created_at),
        seq: Number(r.seq),
      }));
    },
  };
}

type Op = () => Promise<unknown>;
interface Row {
  operation: string;
  impl: string;
  op: Op;
  samples: number[];
}

async function measure(op: Op, ms: number): Promise<number> {
  const end = performance.now() + ms;
  let n = 0;
  while (performance.now() < end) {
    for (let i = 0; i < 20; i++) await op();
    n += 20;
  }
  return n / (ms / 1000);
}

async function run(rows: Row[]): Promise<void> {
  for (const r of rows) await measure(r.op, 100); // warm-up: JIT, plan caches
  for (let round = 0; round < ROUNDS; round++) {
    for (const r of rows) r.samples.push(await measure(r.op, SLICE_MS));
  }
}

function report(database: string, rows: Row[]): void {
  const table = rows.map((r) => {
    const store = rows.find((s) => s.operation === r.operation && s.impl === 'store');
    const ops = median(r.samples);
    const ratio = store ? ops / median(store.samples) : 1;
    return [r.operation, r.impl, formatInteger(ops), (1e6 / ops).toFixed(1), `${ratio.toFixed(2)}×`];
  });
  console.log(`\n### ${database}\n`);
  console.log(
    markdownTable(['read', 'implementation', 'ops/s', 'µs/op', 'vs store'], table, [
      'left',
      'left',
      'right',
      'right',
      'right',
    ]),
  );
}

async function seed(store: Store): Promise<void> {
  const at = new Date('2024-05-01T10:00:00Z');
  await store.createPartner({ customerId: CUSTOMER_ID, name: 'Bench', tokenHash: TOKEN_HASH, createdAt: at });
  for (let i = 0; i < THIRD_PARTIES; i++) {
    await store.createThirdParty({
      customerId: CUSTOMER_ID,
      clientCustomerRef: `ref-${i}`,
      clientCustomerDetails: { client_customer_ref: `ref-${i}`, first_name: 'Ada', last_name: 'Lovelace' },
      propertyDetails: [{ property_ref: 'P1', property_purchase_amount: { currency: 'USD', value: 250000 } }],
      createdAt: at,
    });
  }
}

async function seedEvents(insert: (i: number) => Promise<unknown> | unknown): Promise<void> {
  for (let i = 0; i < 200; i++) await insert(i);
}

function cases(
  store: Store,
  k: ReturnType<typeof kyselyReads>,
  floor: { partner: Op; thirdParty: Op; events: Op },
): Row[] {
  const row = (operation: string, impl: string, op: Op): Row => ({ operation, impl, op, samples: [] });
  let i = 0;
  const ref = () => `ref-${i++ % THIRD_PARTIES}`;
  return [
    row('partner by token (every request)', 'store', () => store.findPartnerByTokenHash(TOKEN_HASH)),
    row('partner by token (every request)', 'kysely', () => k.partnerByToken(TOKEN_HASH)),
    row('partner by token (every request)', 'floor', floor.partner),
    row('third party by ref', 'store', () => store.getThirdParty(CUSTOMER_ID, ref())),
    row('third party by ref', 'kysely', () => k.thirdParty(CUSTOMER_ID, ref())),
    row('third party by ref', 'floor', floor.thirdParty),
    row('events page of 50', 'store', () => store.listEvents(CUSTOMER_ID, { limit: 50 })),
    row('events page of 50', 'kysely', () => k.eventPage(CUSTOMER_ID, 50)),
    row('events page of 50', 'floor', floor.events),
  ];
}

async function benchSqlite(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'tpcs-bench-qb-'));
  const file = join(dir, 'store.db');
  const storage = await openStorage(`sqlite:${file}`);
  try {
    await seed(storage.store);
    const raw = new Database(file);
    const insertEvent = raw.prepare(
      `INSERT INTO events (event_id, customer_id, client_customer_ref, event_type, payload, created_at)
       VALUES (?, ?, 'ref-0', 'THIRD PARTY CUSTOMER STATUS', ?, ?)`,
    );
    await seedEvents((i) => insertEvent.run(`ev-${i}`, CUSTOMER_ID, '{"x":1}'.padEnd(400, ' '), Date.now()));
    const db = new Kysely<Tables>({ dialect: new SqliteDialect({ database: raw }) });
    const p = raw.prepare('SELECT customer_id, name, created_at FROM partners WHERE token_hash = ?');
    const t = raw.prepare('SELECT * FROM third_parties WHERE customer_id = ? AND client_customer_ref = ?');
    const e = raw.prepare('SELECT * FROM events WHERE customer_id = ? AND seq < ? ORDER BY seq DESC LIMIT ?');
    const rows = cases(storage.store, kyselyReads(db), {
      partner: async () => p.get(TOKEN_HASH),
      thirdParty: async () => t.get(CUSTOMER_ID, 'ref-1'),
      events: async () => e.all(CUSTOMER_ID, Number.MAX_SAFE_INTEGER, 51),
    });
    await run(rows);
    report('SQLite (better-sqlite3, one connection)', rows);
    await db.destroy();
  } finally {
    await storage.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function benchPostgres(): Promise<void> {
  const schema = `tpcs_bench_qb_${process.pid}`;
  const admin = new pg.Client({ connectionString: PG_URL });
  try {
    await admin.connect();
  } catch (err) {
    console.log(`\nPostgreSQL at ${PG_URL} unreachable (${(err as Error).message}): its half is skipped.`);
    return;
  }
  await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE; CREATE SCHEMA ${schema}`);
  const url = new URL(PG_URL);
  url.searchParams.set('schema', schema);
  const storage = await openStorage(url.toString());
  const pool = new pg.Pool({ connectionString: PG_URL, max: 1, options: `-c search_path=${schema}` });
  try {
    await seed(storage.store);
    await seedEvents((i) =>
      pool.query(
        `INSERT INTO events (event_id, customer_id, client_customer_ref, event_type, payload, created_at)
         VALUES ($1, $2, 'ref-0', 'THIRD PARTY CUSTOMER STATUS', $3, now())`,
        [`ev-${i}`, CUSTOMER_ID, '{"x":1}'.padEnd(400, ' ')],
      ),
    );
    const db = new Kysely<Tables>({
      dialect: new PostgresDialect({
        pool: new pg.Pool({ connectionString: PG_URL, max: 1, options: `-c search_path=${schema}` }),
      }),
    });
    const named = (name: string, text: string, values: unknown[]) => () => pool.query({ name, text, values });
    const rows = cases(storage.store, kyselyReads(db), {
      partner: named('p', 'SELECT customer_id, name, created_at FROM partners WHERE token_hash = $1', [
        TOKEN_HASH,
      ]),
      thirdParty: named(
        't',
        'SELECT * FROM third_parties WHERE customer_id = $1 AND client_customer_ref = $2',
        [CUSTOMER_ID, 'ref-1'],
      ),
      events: named(
        'e',
        'SELECT * FROM events WHERE customer_id = $1 AND seq < $2 ORDER BY seq DESC LIMIT $3',
        [CUSTOMER_ID, Number.MAX_SAFE_INTEGER, 51],
      ),
    });
    await run(rows);
    report('PostgreSQL (pg, one connection each, sequential)', rows);
    await db.destroy();
  } finally {
    await pool.end();
    await storage.close();
    await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await admin.end();
  }
}

console.log(`# Query builder: Kysely against our statements\n\n${describeMachine()}`);
await benchSqlite();
await benchPostgres();
