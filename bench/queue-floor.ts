/**
 * bench/queue-floor: the queue's own cost of a drain, without HTTP, on PostgreSQL and SQLite (issue 13).
 *
 * The same backlog (20,000 deliveries: 200 events × 100 endpoints of one partner) is claimed and
 * completed in batches of 25 on one connection until none is left, three ways, and the database's
 * CPU per delivery is read from /proc (utime + stime of that database's backends):
 *
 * - jobs: graphile-worker's pattern (a sketch, not graphile itself): one jobs table, the claim an
 *   `UPDATE … WHERE id IN (SELECT … FOR UPDATE SKIP LOCKED)`, the completion a `DELETE`. No attempt
 *   log, no status kept, no order, no bounds. The baseline.
 * - slim: what tpcs would keep at least, laid out for few writes: the pending deliveries in a slim
 *   queue table (per-key heads, the lease in the row), the claim a HOT update of it; the completion
 *   deletes the queue row, updates the delivery's status in place (HOT: no index on what it changes,
 *   fillfactor 80), inserts the attempt, and promotes each key's next delivery.
 * - tpcs: the shipped schema and functions (`tpcs_claim`, `tpcs_complete`, the head triggers), through
 *   the queue's own claim and complete, each delivery completed as delivered.
 * - tpcs-sqlite: the same through the SQLite queue, on a file in the system's temporary directory
 *   (WAL, synchronous = NORMAL, checkpoints in a thread of their own, as shipped). SQLite runs in
 *   this process, so its figure is this process's CPU (the queue's JavaScript and the checkpoint
 *   thread included), not a server's: compare it with the others' database CPU plus what their
 *   client would spend.
 *
 * Rounds are interleaved; the table prints medians and each system's ratio to `jobs`. The claim's and
 * the completion's shares are the backends' CPU read before and after each call (10 ms ticks, so
 * only their sums over a drain mean anything). FLOOR_SQL=<file> (PostgreSQL) and FLOOR_SQLITE_SQL=<file>
 * (SQLite) run that file on the tpcs database after its migrations: a change to its functions or
 * indexes, measured before it becomes a migration.
 *
 *   npx tsx bench/queue-floor.ts [--rounds 3] [--deliveries 20000] [--batch 25]
 *     [--only jobs,slim,slim-leases,tpcs,tpcs-sqlite]
 * PostgreSQL at TEST_DATABASE_URL's server (default postgres://postgres@127.0.0.1:5432), on this machine.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import pg from 'pg';
import { openStorage } from '../src/storage/index.js';
import type { Completion } from '../src/storage/queue.js';
import { decide, newEndpoint, newPartner, newThirdParty } from '../test/support/fixtures.js';
import { cpuOf, meterPostgres, postgresBackends, postmasterPid } from './peers/cpu.js';
import { BENCH_SECRETS_KEY, describeMachine, formatInteger, markdownTable, median } from './table.js';

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    deliveries: { type: 'string', default: '20000' },
    batch: { type: 'string', default: '25' },
    only: { type: 'string' },
  },
});
const ROUNDS = Number(values.rounds);
const ENDPOINTS = 100;
const EVENTS = Math.ceil(Number(values.deliveries) / ENDPOINTS);
const TOTAL = EVENTS * ENDPOINTS;
const BATCH = Number(values.batch);
const ADMIN_URL = (process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test').replace(
  /\?.*$/,
  '',
);
const PAYLOAD = JSON.stringify({ type: 'THIRD_PARTY_CUSTOMER_STATUS_UPDATED', data: { status: 'APPROVED' } });

interface Drain {
  /** Queues the backlog (not measured). */
  fill(): Promise<void>;
  /** Claims up to BATCH; returns what the completion needs. */
  claim(): Promise<unknown[]>;
  complete(claimed: unknown[]): Promise<void>;
  close(): Promise<void>;
}

const JOBS_SCHEMA = /* sql */ `
CREATE TABLE jobs (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, task text NOT NULL, payload json NOT NULL,
  run_at timestamptz NOT NULL DEFAULT now(), attempts int NOT NULL DEFAULT 0, locked_at timestamptz, locked_by text);
CREATE INDEX jobs_main ON jobs (run_at, id) WHERE locked_at IS NULL;`;

function jobs(url: string): Drain {
  const db = new pg.Client({ connectionString: url });
  return {
    async fill() {
      await db.connect();
      await db.query(JOBS_SCHEMA);
      await db.query(
        `INSERT INTO jobs (task, payload) SELECT 'deliver', json_build_object('endpoint', 'ep' || (i % $2), 'body', $3::json)
         FROM generate_series(1, $1) i`,
        [TOTAL, ENDPOINTS, PAYLOAD],
      );
      await db.query('ANALYZE jobs');
    },
    async claim() {
      const { rows } = await db.query<{ id: string }>({
        name: 'claim',
        text: `UPDATE jobs SET locked_at = now(), locked_by = $1, attempts = attempts + 1
               WHERE id IN (SELECT id FROM jobs WHERE locked_at IS NULL AND run_at <= now()
                            ORDER BY run_at, id LIMIT $2 FOR UPDATE SKIP LOCKED)
               RETURNING id, payload`,
        values: ['w1', BATCH],
      });
      return rows.map((r) => r.id);
    },
    async complete(ids) {
      await db.query({
        name: 'complete',
        text: 'DELETE FROM jobs WHERE id = ANY ($1::bigint[])',
        values: [ids],
      });
    },
    close: () => db.end(),
  };
}

const SLIM_SCHEMA = /* sql */ `
CREATE TABLE events (event_id text PRIMARY KEY, payload text NOT NULL);
CREATE TABLE deliveries (seq bigint GENERATED ALWAYS AS IDENTITY, id text PRIMARY KEY, event_id text NOT NULL,
  endpoint_id text NOT NULL, customer_id text NOT NULL, ref text NOT NULL, event_seq bigint NOT NULL,
  status text NOT NULL DEFAULT 'pending', attempt_count int NOT NULL DEFAULT 0, last_attempt_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(), updated_at timestamptz NOT NULL DEFAULT now())
  WITH (fillfactor = 80);
CREATE INDEX deliveries_by_endpoint ON deliveries (endpoint_id, seq DESC);
CREATE INDEX deliveries_by_event ON deliveries (event_id);
CREATE TABLE queue (delivery_id text PRIMARY KEY, endpoint_id text NOT NULL, customer_id text NOT NULL,
  ref text NOT NULL, event_seq bigint NOT NULL, next_at timestamptz NOT NULL, head boolean NOT NULL,
  locked_by text, locked_until timestamptz) WITH (fillfactor = 70);
CREATE INDEX queue_by_key ON queue (endpoint_id, customer_id, ref, event_seq);
CREATE INDEX queue_due ON queue (customer_id, next_at, event_seq) WHERE head;
CREATE TABLE attempts (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, delivery_id text NOT NULL,
  at timestamptz NOT NULL, duration_ms int NOT NULL, status_code int);
CREATE INDEX attempts_by_delivery ON attempts (delivery_id, id);`;

/**
 * The sketches' head promotion, as a CTE after `done` (the rows taken out of the queue): each key's next
 * queued delivery becomes its head. One statement, one snapshot: the next is found past the one done.
 */
const PROMOTE_NEXT_HEADS = /* sql */ `promoted AS (
                 UPDATE queue q SET head = true
                 FROM done CROSS JOIN LATERAL (
                   SELECT n.delivery_id FROM queue n
                   WHERE n.endpoint_id = done.endpoint_id AND n.customer_id = done.customer_id
                     AND n.ref = done.ref AND n.event_seq > done.event_seq
                   ORDER BY n.event_seq LIMIT 1
                 ) nxt
                 WHERE q.delivery_id = nxt.delivery_id AND NOT q.head
               )`;

const LEASES_SCHEMA = /* sql */ `
CREATE TABLE delivery_leases (delivery_id text PRIMARY KEY, endpoint_id text NOT NULL, customer_id text NOT NULL,
  locked_by text NOT NULL, locked_until timestamptz NOT NULL);
CREATE INDEX delivery_leases_by_partner ON delivery_leases (customer_id, locked_until);`;

async function slimFill(db: pg.Client): Promise<void> {
  await db.query(`INSERT INTO events SELECT 'ev' || e, $2 FROM generate_series(1, $1) e`, [EVENTS, PAYLOAD]);
  await db.query(
    `INSERT INTO deliveries (id, event_id, endpoint_id, customer_id, ref, event_seq)
     SELECT 'd' || e || '_' || p, 'ev' || e, 'ep' || p, 'P1', 'ref' || e, e
     FROM generate_series(1, $1) e, generate_series(1, $2) p ORDER BY e, p`,
    [EVENTS, ENDPOINTS],
  );
  await db.query(
    `INSERT INTO queue (delivery_id, endpoint_id, customer_id, ref, event_seq, next_at, head)
     SELECT id, endpoint_id, customer_id, ref, event_seq, now(), true FROM deliveries ORDER BY seq`,
  );
  await db.query('ANALYZE');
}

/**
 * A sketch's drain: its tables (SLIM_SCHEMA and `extra`) filled by slimFill, then its claim run with
 * ($1 worker, $2 batch) and its completion with ($1 delivery ids, $2 status codes, $3 worker).
 */
function sketch(extra: string[], claimSql: string, completeSql: string) {
  return (url: string): Drain => {
    const db = new pg.Client({ connectionString: url });
    return {
      async fill() {
        await db.connect();
        for (const schema of [SLIM_SCHEMA, ...extra]) await db.query(schema);
        await slimFill(db);
      },
      async claim() {
        const { rows } = await db.query<{ id: string }>({
          name: 'claim',
          text: claimSql,
          values: ['w1', BATCH],
        });
        return rows;
      },
      async complete(claimed) {
        const ids = (claimed as { id: string }[]).map((r) => r.id);
        await db.query({ name: 'complete', text: completeSql, values: [ids, ids.map(() => 200), 'w1'] });
      },
      close: () => db.end(),
    };
  };
}

/**
 * slim: the partner's oldest due heads not leased, leased in place (HOT: no index holds the lease); the
 * completion deletes the queue row, records the attempt, promotes the next head and settles the
 * delivery in place.
 */
const slim = sketch(
  [],
  /* sql */ `WITH c AS (
                 SELECT q.delivery_id FROM queue q
                 WHERE q.customer_id = 'P1' AND q.head AND q.next_at <= now()
                   AND (q.locked_until IS NULL OR q.locked_until <= now())
                 ORDER BY q.next_at, q.event_seq LIMIT $2 FOR UPDATE SKIP LOCKED
               ),
               leased AS (
                 UPDATE queue q SET locked_by = $1, locked_until = now() + interval '35 s'
                 FROM c WHERE q.delivery_id = c.delivery_id
                 RETURNING q.delivery_id, q.endpoint_id, q.ref, q.event_seq
               )
               SELECT l.delivery_id AS id, l.endpoint_id, l.ref, l.event_seq, d.attempt_count, ev.payload
               FROM leased l JOIN deliveries d ON d.id = l.delivery_id JOIN events ev ON ev.event_id = d.event_id`,
  /* sql */ `WITH c AS (SELECT * FROM unnest($1::text[], $2::int[]) AS c(id, code)),
               done AS (
                 DELETE FROM queue q USING c WHERE q.delivery_id = c.id AND q.locked_by = $3
                 RETURNING q.delivery_id, q.endpoint_id, q.customer_id, q.ref, q.event_seq
               ),
               ins AS (
                 INSERT INTO attempts (delivery_id, at, duration_ms, status_code)
                 SELECT c.id, now(), 3, c.code FROM c
               ),
               ${PROMOTE_NEXT_HEADS}
               UPDATE deliveries d SET status = 'delivered', attempt_count = d.attempt_count + 1,
                 last_attempt_at = now(), updated_at = now()
               FROM done WHERE d.id = done.delivery_id`,
);

/**
 * slim, with the leases kept in their own table as tpcs keeps them (a row per lease, found by partner,
 * so the claim can count each endpoint's and partner's leases): the claim locks the queue rows it
 * picks and inserts their leases; the completion locks them again, deletes its leases and the rows.
 */
const slimLeases = sketch(
  [LEASES_SCHEMA],
  /* sql */ `WITH lease AS (
                 SELECT l.delivery_id, l.endpoint_id FROM delivery_leases l
                 WHERE l.customer_id = 'P1' AND l.locked_until > now()
               ),
               held AS (SELECT ARRAY(SELECT delivery_id FROM lease) AS ids),
               c AS (
                 SELECT q.delivery_id, q.endpoint_id, q.customer_id FROM held, queue q
                 WHERE q.customer_id = 'P1' AND q.head AND q.next_at <= now() AND q.delivery_id <> ALL (held.ids)
                 ORDER BY q.next_at, q.event_seq LIMIT $2 FOR NO KEY UPDATE OF q SKIP LOCKED
               ),
               leased AS (
                 INSERT INTO delivery_leases AS l (delivery_id, endpoint_id, customer_id, locked_by, locked_until)
                 SELECT c.delivery_id, c.endpoint_id, c.customer_id, $1, now() + interval '35 s' FROM c
                 ON CONFLICT (delivery_id) DO UPDATE SET locked_by = excluded.locked_by,
                   locked_until = excluded.locked_until WHERE l.locked_until <= now()
                 RETURNING l.delivery_id
               )
               SELECT l.delivery_id AS id, d.attempt_count, ev.payload
               FROM leased l JOIN deliveries d ON d.id = l.delivery_id JOIN events ev ON ev.event_id = d.event_id`,
  /* sql */ `WITH c AS (SELECT * FROM unnest($1::text[], $2::int[]) AS c(id, code)),
               locked AS (
                 SELECT q.delivery_id FROM queue q WHERE q.delivery_id = ANY ($1) ORDER BY q.delivery_id
                 FOR NO KEY UPDATE
               ),
               mine AS (
                 DELETE FROM delivery_leases l USING locked
                 WHERE l.delivery_id = locked.delivery_id AND l.locked_by = $3
                 RETURNING l.delivery_id
               ),
               done AS (
                 DELETE FROM queue q USING mine WHERE q.delivery_id = mine.delivery_id
                 RETURNING q.delivery_id, q.endpoint_id, q.customer_id, q.ref, q.event_seq
               ),
               upd AS (
                 UPDATE deliveries d SET status = 'delivered', attempt_count = d.attempt_count + 1,
                   last_attempt_at = now(), updated_at = now()
                 FROM c WHERE d.id = c.id
                 RETURNING d.id
               ),
               ${PROMOTE_NEXT_HEADS}
               INSERT INTO attempts (delivery_id, at, duration_ms, status_code)
               SELECT c.id, now(), 3, c.code FROM c JOIN upd ON upd.id = c.id`,
);

function tpcs(url: string): Drain {
  let storage: Awaited<ReturnType<typeof openStorage>> | undefined;
  const postgres = url.startsWith('postgres');
  const now = () => new Date();
  return {
    async fill() {
      // as `tpcs worker` opens it: SQLite's checkpoints in their own thread (counted: same process)
      storage = await openStorage(url, { secrets: { key: BENCH_SECRETS_KEY }, backgroundCheckpoints: true });
      const change = process.env[postgres ? 'FLOOR_SQL' : 'FLOOR_SQLITE_SQL'];
      if (change && postgres) {
        const db = new pg.Client({ connectionString: url });
        await db.connect();
        await db.query(readFileSync(change, 'utf8'));
        await db.end();
      } else if (change) {
        const db = new Database(url.slice('sqlite:'.length));
        db.exec(readFileSync(change, 'utf8'));
        db.close();
      }
      const partner = await newPartner(storage.store);
      for (let i = 0; i < ENDPOINTS; i++)
        await newEndpoint(storage.store, partner, `http://127.0.0.1:9/e${i}`);
      for (let i = 0; i < EVENTS; i++) {
        const ref = await newThirdParty(storage.store, partner, `ref_${i}`);
        await decide(storage.store, partner, ref, 'APPROVED');
      }
    },
    async claim() {
      if (!storage) throw new Error('not filled');
      return storage.queue.claim({
        workerId: 'w1',
        now: now(),
        leaseMs: 35_000,
        limit: BATCH,
        perEndpoint: 8,
        perPartner: 64,
      });
    },
    async complete(claimed) {
      if (!storage) throw new Error('not filled');
      const at = now();
      const cs = (claimed as { id: string; endpointId: string }[]).map(
        (d): Completion => ({
          deliveryId: d.id,
          endpointId: d.endpointId,
          at,
          durationMs: 3,
          statusCode: 200,
          error: null,
          responseExcerpt: null,
          next: { status: 'delivered' },
          succeeded: true,
        }),
      );
      await storage.queue.complete(cs, { workerId: 'w1', failureWindowMs: 5 * 24 * 3600_000 });
    },
    close: async () => storage?.close(),
  };
}

const SYSTEMS = [
  {
    name: 'jobs',
    label: "graphile-worker's pattern: claim UPDATE … SKIP LOCKED, completion DELETE",
    make: jobs,
  },
  { name: 'slim', label: 'slim queue table + delivery status + attempt log (sketch)', make: slim },
  {
    name: 'slim-leases',
    label: 'slim, with the leases in their own table as tpcs keeps them (sketch)',
    make: slimLeases,
  },
  { name: 'tpcs', label: 'tpcs as shipped (tpcs_claim, tpcs_complete)', make: tpcs },
  { name: 'tpcs-sqlite', label: 'tpcs on SQLite, as shipped (in-process CPU)', make: tpcs, sqlite: true },
] as const;

interface Result {
  cpuUs: number;
  wallUs: number;
  /** The claim's and the completion's parts of cpuUs (backend CPU read before and after each call). */
  claimUs: number;
  completeUs: number;
  /** This process's CPU per delivery: the client's side (pg and the queue's JavaScript; SQLite: all). */
  clientUs: number;
}

let databases = 0;
/** This process's CPU seconds so far. */
const ownCpu = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};

async function runOnce(
  system: { make: (url: string) => Drain; sqlite?: boolean },
  postmaster: number,
): Promise<Result> {
  const name = `tpcs_floor_${process.pid}_${++databases}`;
  const admin = new pg.Client({ connectionString: ADMIN_URL });
  await admin.connect();
  const dir = system.sqlite ? mkdtempSync(path.join(tmpdir(), 'tpcs-floor-')) : undefined;
  let url: string;
  if (dir) url = `sqlite:${path.join(dir, 'tpcs.db')}`;
  else {
    await admin.query(`CREATE DATABASE ${name}`);
    const u = new URL(ADMIN_URL);
    u.pathname = `/${name}`;
    url = u.toString();
  }
  const drain = system.make(url);
  try {
    await drain.fill();
    // PostgreSQL: the database's backends (a pool may connect only at the first claim: they are looked
    // up again after it, and that claim is left out of the split, not of the total); SQLite: this process
    const meter = dir ? undefined : meterPostgres(postmaster, name);
    let backends = postgresBackends(postmaster, name);
    const cpuNow = () => (dir ? ownCpu() : cpuOf(backends));
    const cpu0 = ownCpu();
    const t0 = performance.now();
    let done = 0;
    let claiming = 0;
    let completing = 0;
    for (let first = true; ; first = false) {
      const c0 = cpuNow();
      const claimed = await drain.claim();
      if (first && !dir) backends = postgresBackends(postmaster, name);
      const c1 = cpuNow();
      if (!first || dir) claiming += c1 - c0;
      if (claimed.length === 0) break;
      await drain.complete(claimed);
      completing += cpuNow() - c1;
      done += claimed.length;
    }
    const wall = performance.now() - t0;
    const client = ownCpu() - cpu0;
    const cpu = meter ? meter.stop() : client;
    if (process.env.FLOOR_STATS && !dir) {
      // what the drain wrote, table by table: updates, and how many of them were HOT
      const stats = new pg.Client({ connectionString: url });
      await stats.connect();
      await new Promise((r) => setTimeout(r, 700)); // the statistics collector's delay
      const { rows } = await stats.query(
        `SELECT relname, n_tup_ins, n_tup_upd, n_tup_hot_upd, n_tup_del FROM pg_stat_user_tables
         WHERE n_tup_upd + n_tup_del > 0 ORDER BY relname`,
      );
      console.table(rows);
      await stats.end();
    }
    if (done !== TOTAL) throw new Error(`drained ${done} of ${TOTAL}`);
    return {
      cpuUs: (cpu * 1e6) / TOTAL,
      wallUs: (wall * 1000) / TOTAL,
      claimUs: (claiming * 1e6) / TOTAL,
      completeUs: (completing * 1e6) / TOTAL,
      clientUs: (client * 1e6) / TOTAL,
    };
  } finally {
    await drain.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
    else await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.end();
  }
}

async function main() {
  const postmaster = await postmasterPid(ADMIN_URL);
  const only = values.only?.split(',');
  const systems = SYSTEMS.filter((s) => !only || only.includes(s.name));
  if (systems.length === 0) throw new Error(`--only: none of ${SYSTEMS.map((s) => s.name).join(', ')}`);
  const results = new Map<string, Result[]>(systems.map((s) => [s.name, []]));
  for (let round = 1; round <= ROUNDS; round++) {
    for (const s of systems) {
      const r = await runOnce(s, postmaster);
      results.get(s.name)?.push(r);
      console.log(
        `round ${round} ${s.name}: ${Math.round(r.cpuUs)} µs database CPU (claim ${Math.round(r.claimUs)}, completion ${Math.round(r.completeUs)}), client ${Math.round(r.clientUs)} µs, ${Math.round(r.wallUs)} µs wall per delivery`,
      );
    }
  }
  const base = median((results.get(systems[0]?.name ?? '') ?? []).map((r) => r.cpuUs));
  const rows = systems.map((s) => {
    const rs = results.get(s.name) ?? [];
    const cpu = median(rs.map((r) => r.cpuUs));
    const wall = median(rs.map((r) => r.wallUs));
    return [
      s.label,
      `${formatInteger(cpu)} [${formatInteger(Math.min(...rs.map((r) => r.cpuUs)))}–${formatInteger(Math.max(...rs.map((r) => r.cpuUs)))}]`,
      (cpu / base).toFixed(1),
      formatInteger(median(rs.map((r) => r.claimUs))),
      formatInteger(median(rs.map((r) => r.completeUs))),
      formatInteger(median(rs.map((r) => r.clientUs))),
      formatInteger(wall),
      formatInteger(1e6 / wall),
    ];
  });
  console.log(`\n### The queue's own cost of a drain (bench/queue-floor)\n\nMachine: ${describeMachine()}\n`);
  console.log(
    markdownTable(
      [
        'system',
        'µs database CPU / delivery',
        `× ${systems[0]?.name}`,
        'of which claim',
        'completion',
        'µs client CPU / delivery',
        'µs wall / delivery',
        'deliveries/s (one connection)',
      ],
      rows,
      ['left', 'right', 'right', 'right', 'right', 'right', 'right', 'right'],
    ),
  );
  console.log(
    `\n${formatInteger(TOTAL)} deliveries (${EVENTS} events × ${ENDPOINTS} endpoints, one partner), claimed and completed ${BATCH} at a time on one connection, no HTTP; medians of ${ROUNDS} interleaved round(s) [min–max].`,
  );
}

await main();
