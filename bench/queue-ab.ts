/**
 * bench/queue-ab: one queue change measured against the queue without it, in alternation, in one
 * process (issue 13).
 *
 * This machine's speed drifts by a third within minutes, so two runs one after the other (even
 * alternated, as bench/peers does) cannot show a change of 10 %. Here two copies of the queue (A: as
 * shipped; B: with the variant) are filled the same way and then used in turns, one step on A, the
 * same step on B, so that both see the same machine at the same moments:
 *
 * - drain: 20,000 deliveries (200 decisions × 100 endpoints of one partner), claimed and completed 25
 *   at a time;
 * - trickle: one endpoint; a decision, a claim, a completion, 1,000 times (a steady rate's claims).
 *
 * It prints each copy's wall time per step and this process's CPU per step (SQLite: the database's
 * own, as it runs here), and on PostgreSQL the time spent in `tpcs_claim` and `tpcs_complete` when the
 * server tracks functions (`track_functions = pl`; the figure is left out otherwise).
 *
 * Variants:
 * - random-ids: B's delivery ids are random UUIDs (v4), as before migration 025 (SQLite: the same
 *   change in its id function);
 * - claim-024: B's `tpcs_claim` is migration 024's, one statement for every claim (PostgreSQL);
 * - sql:<file>: B runs that file after its migrations (PostgreSQL: in its schema; SQLite: on its file);
 * - separate: a step completes the previous step's claim and claims the next, A in one transaction
 *   (`completeAndClaim`), B as a completion and then a claim, as before migration 028.
 *
 *   npx tsx bench/queue-ab.ts --dialect sqlite|postgres --variant random-ids [--mode drain|trickle] [--runs 3]
 * PostgreSQL at TEST_DATABASE_URL's server (default postgres://postgres@127.0.0.1:5432/test).
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type Database from 'better-sqlite3';
import pg from 'pg';
import { openStorage, type Storage } from '../src/storage/index.js';
import { sql as claim024 } from '../src/storage/postgres/migrations/024_claim_reports.js';
import type { Completion } from '../src/storage/queue.js';
import { decide, newEndpoint, newPartner, newThirdParty } from '../test/support/fixtures.js';
import { completion } from '../test/support/queue.js';
import { BENCH_SECRETS_KEY, describeMachine, markdownTable, median } from './table.js';

const { values } = parseArgs({
  options: {
    dialect: { type: 'string', default: 'sqlite' },
    variant: { type: 'string', default: 'random-ids' },
    mode: { type: 'string', default: 'drain' },
    runs: { type: 'string', default: '3' },
  },
});
const DIALECT = values.dialect === 'postgres' ? 'postgres' : 'sqlite';
const VARIANT = values.variant ?? 'random-ids';
const MODE = values.mode === 'trickle' ? 'trickle' : 'drain';
const RUNS = Number(values.runs);
const PG_URL = (process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test').replace(
  /\?.*$/,
  '',
);
if (VARIANT === 'claim-024' && DIALECT !== 'postgres') throw new Error('claim-024 is a PostgreSQL variant');
if (!['random-ids', 'claim-024', 'separate'].includes(VARIANT) && !VARIANT.startsWith('sql:'))
  throw new Error(`unknown variant ${VARIANT}: random-ids, claim-024, separate or sql:<file>`);

/** 024's tpcs_claim, as a statement that puts it back. */
function claim024Sql(): string {
  const start = claim024.indexOf('CREATE FUNCTION tpcs_claim');
  const end = claim024.indexOf('$fn$;', start) + '$fn$;'.length;
  return claim024.slice(start, end).replace('CREATE FUNCTION', 'CREATE OR REPLACE FUNCTION');
}

interface Copy {
  storage: Storage;
  partner: string;
  schema?: string;
  dir?: string;
}

async function openCopy(admin: pg.Client, tag: string): Promise<Copy> {
  if (DIALECT === 'sqlite') {
    const dir = mkdtempSync(path.join(tmpdir(), 'tpcs-queue-ab-'));
    // as `tpcs worker` opens it: checkpoints in a thread of their own
    const storage = await openStorage(`sqlite:${path.join(dir, 'tpcs.db')}`, { backgroundCheckpoints: true });
    return { storage, dir, partner: await newPartner(storage.store) };
  }
  const schema = `tpcs_queue_ab_${tag}_${process.pid}`;
  await admin.query(`CREATE SCHEMA ${schema}`);
  const storage = await openStorage(`${PG_URL}?schema=${schema}`, { secrets: { key: BENCH_SECRETS_KEY } });
  return { storage, schema, partner: await newPartner(storage.store) };
}

/** Applies the variant to B, after its migrations; `ready` runs once B's store has prepared its statements. */
async function applyVariant(admin: pg.Client, b: Copy): Promise<() => void> {
  const db = (b.storage.store as unknown as { database?: Database.Database }).database;
  if (VARIANT === 'random-ids') {
    if (DIALECT === 'postgres') {
      await admin.query(
        `CREATE OR REPLACE FUNCTION ${b.schema}.tpcs_uuid7() RETURNS text LANGUAGE sql AS 'SELECT gen_random_uuid()::text'`,
      );
      return () => {};
    }
    // the store registers its own id function when it first prepares its statements: replaced after
    return () => db?.function('tpcs_uuid', { deterministic: false }, () => randomUUID());
  }
  if (VARIANT === 'separate') return () => {};
  const sql = VARIANT === 'claim-024' ? claim024Sql() : readFileSync(VARIANT.slice('sql:'.length), 'utf8');
  if (DIALECT === 'postgres') {
    const c = new pg.Client({ connectionString: PG_URL, options: `-c search_path=${b.schema}` });
    await c.connect();
    await c.query(sql);
    await c.end();
  } else db?.exec(sql);
  return () => {};
}

const CLAIM = { workerId: 'ab', leaseMs: 35_000, perEndpoint: 8, perPartner: 64 };
/** Every claimed delivery delivered, at one moment (as bench/queue-floor completes them). */
const delivered = (cl: { id: string; endpointId: string }[]): Completion[] => {
  const at = new Date();
  return cl.map((d) => completion(d.id, d.endpointId, { at, responseExcerpt: null }));
};

/** One claim and its completion; the number of deliveries. */
async function claimAndComplete(c: Copy, limit: number): Promise<number> {
  const cl = await c.storage.queue.claim({ ...CLAIM, now: new Date(), limit });
  if (cl.length > 0) await c.storage.queue.complete(delivered(cl), { workerId: 'ab', failureWindowMs: 1e9 });
  return cl.length;
}

/** Each copy's completions of its last claim, written with its next one (variant `separate`). */
const carried: Completion[][] = [[], []];

/**
 * The previous claim's completion and the next claim: A in one transaction, B in two; the number of
 * deliveries completed and claimed.
 */
async function cycle(k: number, c: Copy, limit: number): Promise<number> {
  const done = carried[k] ?? [];
  const options = { workerId: 'ab', failureWindowMs: 1e9 };
  const claim = { ...CLAIM, now: new Date(), limit };
  let cl: { id: string; endpointId: string }[];
  if (k === 0) cl = (await c.storage.queue.completeAndClaim(done, options, claim)).claimed;
  else {
    if (done.length > 0) await c.storage.queue.complete(done, options);
    cl = await c.storage.queue.claim(claim);
  }
  carried[k] = delivered(cl);
  return done.length + cl.length;
}

interface Side {
  wallUs: number;
  cpuUs: number;
  /** tpcs_claim + tpcs_complete, µs per step; undefined when the server does not track functions. */
  functionsUs: number | undefined;
}

async function functionTimes(admin: pg.Client, copies: Copy[]): Promise<(number | undefined)[]> {
  if (DIALECT !== 'postgres') return copies.map(() => undefined);
  await new Promise((r) => setTimeout(r, 800)); // the statistics collector's delay
  const { rows } = await admin.query<{ schemaname: string; ms: number }>(
    `SELECT schemaname, sum(total_time)::float8 AS ms FROM pg_stat_user_functions
     WHERE funcname IN ('tpcs_claim', 'tpcs_complete') AND schemaname = ANY ($1) GROUP BY schemaname`,
    [copies.map((c) => c.schema)],
  );
  return copies.map((c) => rows.find((r) => r.schemaname === c.schema)?.ms);
}

async function runOnce(admin: pg.Client): Promise<[Side, Side]> {
  carried.fill([]);
  const a = await openCopy(admin, 'a');
  const b = await openCopy(admin, 'b');
  try {
    const ready = await applyVariant(admin, b);
    const endpoints = MODE === 'drain' ? 100 : 1;
    for (const c of [a, b])
      for (let i = 0; i < endpoints; i++)
        await newEndpoint(c.storage.store, c.partner, `http://127.0.0.1:9/e${i}`);
    const refs: string[][] = [[], []];
    const thirdParties = MODE === 'drain' ? 200 : 50;
    for (let i = 0; i < thirdParties; i++) {
      for (const [k, c] of [a, b].entries()) {
        const ref = await newThirdParty(c.storage.store, c.partner, `ref_${i}`);
        refs[k]?.push(ref);
        if (MODE === 'drain') await decide(c.storage.store, c.partner, ref, 'APPROVED');
      }
      if (i === 0) ready();
    }
    if (DIALECT === 'postgres') await admin.query('SELECT pg_stat_reset()');
    const wall = [0, 0];
    const cpu = [0, 0];
    let steps = 0;
    const step = async (k: number, c: Copy, i: number) => {
      const t = performance.now();
      const u = process.cpuUsage();
      if (MODE === 'trickle') {
        const ref = refs[k]?.[i % thirdParties] ?? '';
        await decide(
          c.storage.store,
          c.partner,
          ref,
          Math.floor(i / thirdParties) % 2 ? 'APPROVED' : 'REJECTED',
        );
        await (VARIANT === 'separate' ? cycle(k, c, 256) : claimAndComplete(c, 256));
      } else if ((await (VARIANT === 'separate' ? cycle(k, c, 25) : claimAndComplete(c, 25))) === 0)
        return false;
      const used = process.cpuUsage(u);
      wall[k] = (wall[k] ?? 0) + performance.now() - t;
      cpu[k] = (cpu[k] ?? 0) + (used.user + used.system) / 1000;
      return true;
    };
    for (let i = 0; MODE === 'drain' || i < 1000; i++) {
      const more = [await step(0, a, i), await step(1, b, i)];
      if (!more.some(Boolean)) break;
      steps++;
    }
    const fn = await functionTimes(admin, [a, b]);
    const side = (k: number): Side => ({
      wallUs: ((wall[k] ?? 0) * 1000) / steps,
      cpuUs: ((cpu[k] ?? 0) * 1000) / steps,
      functionsUs: fn[k] === undefined ? undefined : ((fn[k] ?? 0) * 1000) / steps,
    });
    return [side(0), side(1)];
  } finally {
    for (const c of [a, b]) {
      await c.storage.close();
      if (c.dir) rmSync(c.dir, { recursive: true, force: true });
      if (c.schema) await admin.query(`DROP SCHEMA IF EXISTS ${c.schema} CASCADE`);
    }
  }
}

async function main() {
  const admin = new pg.Client({ connectionString: PG_URL });
  if (DIALECT === 'postgres') await admin.connect();
  const results: [Side, Side][] = [];
  try {
    for (let r = 1; r <= RUNS; r++) {
      const [a, b] = await runOnce(admin);
      results.push([a, b]);
      console.log(
        `run ${r}: A ${a.wallUs.toFixed(0)} µs wall, ${a.cpuUs.toFixed(0)} µs CPU; B ${b.wallUs.toFixed(0)} µs wall, ${b.cpuUs.toFixed(0)} µs CPU per step` +
          (a.functionsUs === undefined
            ? ''
            : `; functions A ${a.functionsUs.toFixed(0)} B ${b.functionsUs?.toFixed(0)} µs`),
      );
    }
  } finally {
    if (DIALECT === 'postgres') await admin.end();
  }
  const med = (pick: (s: [Side, Side]) => number | undefined) => {
    const xs = results.map(pick).filter((x): x is number => x !== undefined);
    return xs.length === 0 ? undefined : median(xs);
  };
  const row = (label: string, k: 0 | 1) => {
    const wall = med((s) => s[k].wallUs) ?? 0;
    const fn = med((s) => s[k].functionsUs);
    return [
      label,
      wall.toFixed(0),
      (med((s) => s[k].cpuUs) ?? 0).toFixed(0),
      fn === undefined ? '–' : fn.toFixed(0),
      (wall / (med((s) => s[0].wallUs) ?? wall)).toFixed(2),
    ];
  };
  console.log(`\n### Queue A/B: ${VARIANT} (${DIALECT}, ${MODE}; bench/queue-ab)\n`);
  console.log(`Machine: ${describeMachine()}\n`);
  console.log(
    markdownTable(
      [
        'copy',
        'µs wall / step',
        'µs process CPU / step',
        'µs in tpcs_claim + tpcs_complete / step',
        'wall × A',
      ],
      [row('A: as shipped', 0), row(`B: ${VARIANT}`, 1)],
      ['left', 'right', 'right', 'right', 'right'],
    ),
  );
  const step =
    MODE === 'drain'
      ? 'a claim of up to 25 of 20,000 queued deliveries (200 decisions × 100 endpoints) and its completion'
      : 'a decision on one endpoint, a claim and a completion';
  console.log(`\nA step: ${step}; the copies take turns, step by step. Medians of ${RUNS} run(s).`);
}

await main();
