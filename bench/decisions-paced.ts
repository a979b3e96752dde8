/**
 * bench/decisions-paced: how long `store.recordDecision` takes to answer when decisions arrive on a
 * schedule (issue 13's paced goal, without HTTP or delivery around it), on SQLite and PostgreSQL.
 *
 * Decisions (the domain's own, `recordComplianceDecision`: the contract's event builder, UUIDv7 ids)
 * are started at `--rate` a second for `--seconds`, on schedule whatever the answers, each on the next
 * third party in turn: over 5,000 third parties each is decided once, over 200 each is decided 2.5
 * times a second at 500/s, so most decisions fall in the same second as the third party's previous
 * event (as bench/delivery's paced rows do). Baseline in the same run, on the same schedule: the
 * cheapest durable write of the same database, a one-row INSERT in a transaction of its own.
 * Rounds interleave the rows; medians of the rounds' percentiles, with [min–max] of the p99.
 *
 *   npx tsx bench/decisions-paced.ts [--rounds 3] [--seconds 4] [--rate 500]
 * PostgreSQL at TEST_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/test): throwaway schemas,
 * dropped after; its rows are skipped, with the reason, when the server does not answer.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import pg from 'pg';
import { recordComplianceDecision } from '../src/customers/decisions.js';
import { PG_URL, type Seeded, seedPartner } from './serve-api.js';
import { describeMachine, formatInteger, markdownTable, median } from './table.js';

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    seconds: { type: 'string', default: '4' },
    rate: { type: 'string', default: '500' },
  },
});
const ROUNDS = Number(values.rounds);
const SECONDS = Number(values.seconds);
const RATE = Number(values.rate);
for (const [name, n] of [
  ['--rounds', ROUNDS],
  ['--seconds', SECONDS],
  ['--rate', RATE],
] as const) {
  if (!Number.isSafeInteger(n) || n < 1) throw new Error(`${name} must be a whole number >= 1`);
}

type Dialect = 'sqlite' | 'postgres';
interface Row {
  label: string;
  dialect: Dialect;
  /** third parties decided in turn; 0: the baseline's one-row INSERTs */
  thirdParties: number;
}

const ROWS: Row[] = [
  { label: 'baseline: one-row INSERT, SQLite', dialect: 'sqlite', thirdParties: 0 },
  { label: 'SQLite, 5,000 third parties', dialect: 'sqlite', thirdParties: 5000 },
  { label: 'SQLite, 200 third parties (same second)', dialect: 'sqlite', thirdParties: 200 },
  { label: 'baseline: one-row INSERT, PostgreSQL', dialect: 'postgres', thirdParties: 0 },
  { label: 'PostgreSQL, 5,000 third parties', dialect: 'postgres', thirdParties: 5000 },
  { label: 'PostgreSQL, 200 third parties (same second)', dialect: 'postgres', thirdParties: 200 },
];

/** One write of a row, answered when it has committed. */
type Write = (k: number) => Promise<void>;

interface Target {
  write: Write;
  close(): Promise<void>;
}

/** Decisions on the seeded third parties in turn, each flipping its status (every one a change). */
function decisions(seeded: Seeded): Write {
  const { store } = seeded.storage;
  const n = seeded.refs.length;
  let next = 0;
  return async () => {
    const k = next++;
    const status = Math.floor(k / n) % 2 === 0 ? 'APPROVED' : 'REJECTED';
    const r = await recordComplianceDecision(store, {
      customerId: seeded.customerId,
      clientCustomerRef: seeded.refs[k % n] as string,
      decision:
        status === 'APPROVED'
          ? { status }
          : { status, reasons: [{ code: 'COMPLIANCE_CHECK_FAILED', reason: 'bench' }] },
    });
    if (r.outcome !== 'changed') throw new Error(`decision ${k} was ${r.outcome}`);
  };
}

/** The baseline: a one-row INSERT in a transaction of its own (SQLite file in `dir`, or a pool of 10). */
async function baseline(dialect: Dialect, dir: string): Promise<Target | undefined> {
  // a key the database assigns, as the store's tables have
  const sql = (table: string, key: string) =>
    `CREATE TABLE ${table} (id ${key} PRIMARY KEY, at text NOT NULL)`;
  if (dialect === 'sqlite') {
    const db = new Database(join(dir, 'floor.db'));
    db.pragma('journal_mode = WAL'); // as the store opens its file (its default synchronous too)
    db.pragma('synchronous = NORMAL');
    db.exec(sql('bench_floor', 'integer'));
    const insert = db.prepare('INSERT INTO bench_floor (at) VALUES (?)');
    return {
      write: async () => void insert.run(new Date().toISOString()),
      close: async () => {
        db.close();
      },
    };
  }
  const pool = new pg.Pool({ connectionString: PG_URL, max: 10, connectionTimeoutMillis: 2000 });
  try {
    await pool.query('SELECT 1'); // answers, or throws
  } catch {
    await pool.end();
    return undefined;
  }
  const table = `bench_floor_${process.pid}_${Date.now()}`;
  await pool.query(sql(table, 'bigint GENERATED ALWAYS AS IDENTITY'));
  return {
    write: async () => {
      await pool.query(`INSERT INTO ${table} (at) VALUES ($1)`, [new Date().toISOString()]);
    },
    close: async () => {
      await pool.query(`DROP TABLE ${table}`);
      await pool.end();
    },
  };
}

/** RATE writes a second for SECONDS, started on schedule; each one's time to its answer, in ms. */
async function paced(write: Write): Promise<number[]> {
  const total = RATE * SECONDS;
  const times: number[] = [];
  const started: Promise<void>[] = [];
  const t0 = performance.now();
  for (let k = 0; k < total; k++) {
    const wait = t0 + (k * 1000) / RATE - performance.now();
    if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait));
    const at = performance.now();
    started.push(write(k).then(() => void times.push(performance.now() - at)));
  }
  await Promise.all(started);
  return times.sort((a, b) => a - b);
}

const at = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? 0;

async function main() {
  const started = performance.now();
  const dir = mkdtempSync(join(tmpdir(), 'tpcs-bench-paced-'));
  const targets = new Map<Row, Target>();
  const results = new Map<Row, { p50: number[]; p90: number[]; p99: number[] }>();
  try {
    for (const row of ROWS) {
      if (row.thirdParties === 0) {
        const t = await baseline(row.dialect, dir);
        if (t) targets.set(row, t);
      } else {
        const seeded = await seedPartner(row.dialect, row.thirdParties, dir);
        if (seeded) targets.set(row, { write: decisions(seeded), close: () => seeded.close() });
      }
      if (!targets.has(row)) console.error(`${row.label}: skipped, no PostgreSQL at ${PG_URL}`);
      results.set(row, { p50: [], p90: [], p99: [] });
      // warm-up: connections, statements, JIT
      const t = targets.get(row);
      if (t) for (let k = 0; k < 50; k++) await t.write(-1 - k);
    }
    for (let round = 0; round < ROUNDS; round++) {
      for (const row of ROWS) {
        const t = targets.get(row);
        if (!t) continue;
        const times = await paced(t.write);
        const r = results.get(row);
        r?.p50.push(at(times, 0.5));
        r?.p90.push(at(times, 0.9));
        r?.p99.push(at(times, 0.99));
        console.error(
          `round ${round + 1} ${row.label}: p50 ${at(times, 0.5).toFixed(2)} p90 ${at(times, 0.9).toFixed(2)} p99 ${at(times, 0.99).toFixed(2)} ms`,
        );
      }
    }
  } finally {
    for (const t of targets.values()) await t.close();
    rmSync(dir, { recursive: true, force: true });
  }
  const ms = (n: number) => n.toFixed(2);
  const table = ROWS.filter((r) => targets.has(r)).map((row) => {
    const r = results.get(row) ?? { p50: [], p90: [], p99: [] };
    const base = results.get(ROWS.find((b) => b.dialect === row.dialect && b.thirdParties === 0) as Row);
    return [
      row.label,
      ms(median(r.p50)),
      ms(median(r.p90)),
      `${ms(median(r.p99))} [${ms(Math.min(...r.p99))}–${ms(Math.max(...r.p99))}]`,
      base ? (median(r.p50) / median(base.p50)).toFixed(1) : '–',
    ];
  });
  console.log(
    `\n### Decisions at a steady ${formatInteger(RATE)}/s through the store (bench/decisions-paced)\n`,
  );
  console.log(`Machine: ${describeMachine()}\n`);
  console.log(
    markdownTable(['writes', 'p50 ms', 'p90 ms', 'p99 ms [min–max]', 'p50 × baseline'], table, [
      'left',
      'right',
      'right',
      'right',
      'right',
    ]),
  );
  console.log(
    `\n${formatInteger(RATE)} a second for ${SECONDS} s per row, started on schedule; medians of ${ROUNDS} interleaved rounds. Run took ${Math.round((performance.now() - started) / 1000)} s.`,
  );
}

await main();
