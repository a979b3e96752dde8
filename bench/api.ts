/**
 * Compliance decisions per second through `store.recordDecision` and `store.recordDecisions` (batches
 * of 100 and 1,000), on SQLite and on PostgreSQL.
 *
 *   npx tsx bench/api.ts            (PostgreSQL from BENCH_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/test)
 *
 * Every decision commits a status change, one event (the outbox row) and one delivery. Baseline in the
 * same run: the same rows written directly with the driver in the same kind of transaction (read the
 * third party, update it, insert the event, insert the delivery), hand-written, no store in between.
 * Floor: a single-row INSERT in its own transaction, the cheapest durable write the database offers.
 * On PostgreSQL, the row-lock path (BEGIN, SELECT … FOR UPDATE, one CTE, COMMIT) that was the whole
 * decision before the one-statement path, and is now its fallback, runs beside it, with the same
 * NOTIFY after each commit.
 *
 * Rounds interleave the implementations so a noisy neighbour hurts all of them alike; each figure is
 * the median over the rounds. SQLite runs sequentially (one connection, synchronous underneath, so
 * "in flight" adds nothing); PostgreSQL runs sequentially and with 16 single decisions in flight
 * (batches sequentially). Decisions cycle over 10,000 third parties, so one third party is decided
 * again seconds later, not within the same second (which would take the row-lock path). Total run time
 * is about 2 minutes. Each database gets fresh tables (a temp file, a throwaway schema), removed after.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { nextEventTimestamp } from '../src/customers/decisions.js';
import { isStatusChange } from '../src/customers/status-change.js';
import { openStorage } from '../src/storage/index.js';
import { recordDecisionLocked } from '../src/storage/postgres/decisions.js';
import { PostgresStore } from '../src/storage/postgres/index.js';
import { DeliveryNotifier } from '../src/storage/postgres/notify.js';
import type { ComplianceDecisionInput, DecisionStatus, Store } from '../src/storage/store.js';
import { BENCH_SECRETS_KEY, describeMachine, formatInteger, markdownTable, median } from './table.js';

const ROUNDS = 5;
const SLICE_MS = Number(process.env.BENCH_SLICE_MS ?? 1000);
const WARMUP_MS = 300;
const THIRD_PARTIES = 10_000;
const IN_FLIGHT = 16;
const PG_URL = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const EVENT_TYPE = 'THIRD PARTY CUSTOMER STATUS';
const CUSTOMER_ID = '0201001008132685';

/** One write of the kind measured: each third party `refs[i]` gets `statuses[i]`, a change from its current one. */
type Op = (refs: string[], statuses: DecisionStatus[]) => Promise<unknown> | unknown;

/**
 * Third parties of their own for the cases that write them: a case's decisions go to `${prefix}-0`,
 * `${prefix}-1`, … in turn, so a third party is decided again only THIRD_PARTIES decisions later.
 */
interface Lane {
  prefix: string;
  /** Decisions started so far: decision i goes to third party i mod THIRD_PARTIES. */
  next: number;
  /** Each third party's status, flipped by every decision. */
  state: DecisionStatus[];
}

const newLane = (prefix: string): Lane => ({ prefix, next: 0, state: [] });

interface Case {
  name: string;
  op: Op;
  lane: Lane;
  /** Decisions per op: 1, or a batch's size. */
  size: number;
  samples: number[];
}

const newCase = (name: string, op: Op, lane: Lane, size = 1): Case => ({ name, op, lane, size, samples: [] });

const refOf = (prefix: string, i: number): string => `${prefix}-${i % THIRD_PARTIES}`;
const REASONS = [{ code: 'COMPLIANCE_CHECK_FAILED', reason: 'Sanctions list match' }];
function payloadFor(eventId: string, ref: string, status: DecisionStatus, at: Date): string {
  return JSON.stringify({
    event_id: eventId,
    event_type: EVENT_TYPE,
    version: 'v1.0.0',
    event_timestamp: at.toISOString().replace(/\.\d{3}Z$/, 'Z'),
    data: {
      customer_id: CUSTOMER_ID,
      client_customer_ref: ref,
      status,
      ...(status === 'REJECTED' ? { reasons: REASONS } : {}),
    },
  });
}

function decisionFor(ref: string, status: DecisionStatus): ComplianceDecisionInput {
  const decidedAt = new Date();
  return {
    customerId: CUSTOMER_ID,
    clientCustomerRef: ref,
    status,
    reasons: status === 'REJECTED' ? REASONS : null,
    decidedAt,
    changes: (current) =>
      isStatusChange(current, { status, reasons: status === 'REJECTED' ? REASONS : null }),
    buildEvent: (previousEventAt) => {
      const eventId = randomUUID();
      const eventAt = nextEventTimestamp(decidedAt, previousEventAt);
      return { eventId, eventType: EVENT_TYPE, payload: payloadFor(eventId, ref, status, eventAt), eventAt };
    },
  };
}

/** One decision through the store; every one must commit a change, or the figure would flatter it. */
async function decide(store: Store, ref: string, status: DecisionStatus): Promise<void> {
  expectChanged([await store.recordDecision(decisionFor(ref, status))]);
}

/** A batch through the store, each decision a change as above. */
async function decideMany(store: Store, refs: string[], statuses: DecisionStatus[]): Promise<void> {
  expectChanged(
    await store.recordDecisions(refs.map((ref, i) => decisionFor(ref, statuses[i] as DecisionStatus))),
  );
}

function expectChanged(results: Awaited<ReturnType<Store['recordDecisions']>>): void {
  for (const r of results) {
    if (r.outcome !== 'changed' || r.deliveryIds.length !== 1) throw new Error(`decision was ${r.outcome}`);
  }
}

/** The batch cases of a store, on one lane: 100 and 1,000 decisions per call, sequentially. */
const batchCases = (store: Store, lane: Lane): Case[] =>
  [100, 1000].map((size) =>
    newCase(
      `\`store.recordDecisions\`, ${formatInteger(size)} per call`,
      (refs, statuses) => decideMany(store, refs, statuses),
      lane,
      size,
    ),
  );

/** A partner with THIRD_PARTIES pending third parties per lane and one subscribed endpoint. */
async function seed(store: Store, lanes: Lane[]): Promise<string> {
  const at = new Date();
  await store.createPartner({
    customerId: CUSTOMER_ID,
    name: 'Bench',
    tokenHash: randomUUID(),
    createdAt: at,
  });
  const endpointId = randomUUID();
  await store.createEndpoint({
    id: endpointId,
    customerId: CUSTOMER_ID,
    url: 'https://example.com/hook',
    description: null,
    eventTypes: [EVENT_TYPE],
    secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
    createdAt: at,
  });
  const create = (ref: string) =>
    store.createThirdParty({
      customerId: CUSTOMER_ID,
      clientCustomerRef: ref,
      clientCustomerDetails: {
        client_customer_ref: ref,
        first_name: 'Ada',
        last_name: 'Lovelace',
        country: 'USA',
      },
      propertyDetails: [{ property_ref: 'P1', property_purchase_amount: { currency: 'USD', value: 250000 } }],
      createdAt: at,
    });
  const refs = lanes.flatMap((lane) =>
    Array.from({ length: THIRD_PARTIES }, (_, i) => refOf(lane.prefix, i)),
  );
  for (let i = 0; i < refs.length; i += IN_FLIGHT)
    await Promise.all(refs.slice(i, i + IN_FLIGHT).map(create));
  return endpointId;
}

/** Runs `c.op` for `ms` with `inFlight` concurrent callers; returns decisions per second. */
async function measure(c: Case, ms: number, inFlight: number): Promise<number> {
  const end = performance.now() + ms;
  let done = 0;
  const start = performance.now();
  const worker = async (): Promise<void> => {
    while (performance.now() < end) {
      // ops in flight never touch one third party twice: decisions on a ref are THIRD_PARTIES apart
      const refs: string[] = [];
      const statuses: DecisionStatus[] = [];
      for (let k = 0; k < c.size; k++) {
        const { lane } = c;
        const i = lane.next++;
        const status = lane.state[i % THIRD_PARTIES] === 'APPROVED' ? 'REJECTED' : 'APPROVED';
        lane.state[i % THIRD_PARTIES] = status;
        refs.push(refOf(lane.prefix, i));
        statuses.push(status);
      }
      await c.op(refs, statuses);
      done += c.size;
    }
  };
  await Promise.all(Array.from({ length: inFlight }, worker));
  return done / ((performance.now() - start) / 1000);
}

async function runCases(cases: Case[], inFlight: number): Promise<void> {
  for (const c of cases) await measure(c, WARMUP_MS, inFlight);
  for (let round = 0; round < ROUNDS; round++) {
    for (const c of cases) c.samples.push(await measure(c, SLICE_MS, inFlight));
  }
}

const rows: string[][] = [];
function report(database: string, mode: string, cases: Case[]): void {
  const [, baseline] = cases;
  const base = baseline ? median(baseline.samples) : Number.NaN;
  for (const c of cases) {
    const opsPerSecond = median(c.samples);
    rows.push([
      database,
      c.size > 1 ? 'sequential batches' : mode,
      c.name,
      formatInteger(opsPerSecond),
      `${(opsPerSecond / base).toFixed(2)}×`,
    ]);
  }
}

async function benchSqlite(): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'tpcs-bench-'));
  try {
    const store = (
      await openStorage(`sqlite:${join(dir, 'store.db')}`, { secrets: { key: BENCH_SECRETS_KEY } })
    ).store; // migrated; the queue it opens is not used here
    const lanes = { single: newLane('single'), batch: newLane('batch'), baseline: newLane('ref') };
    await seed(store, [lanes.single, lanes.batch]);

    // the baseline: the same schema and rows in another file, written with better-sqlite3 directly
    const seeded = (
      await openStorage(`sqlite:${join(dir, 'baseline.db')}`, { secrets: { key: BENCH_SECRETS_KEY } })
    ).store; // migrated; the queue it opens is not used here
    const endpointId = await seed(seeded, [lanes.baseline]);
    await seeded.close();
    const db = new Database(join(dir, 'baseline.db'));
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = ON');
    db.exec('CREATE TABLE floor (id INTEGER PRIMARY KEY, payload TEXT NOT NULL)');
    const read = db.prepare(
      'SELECT status, reasons FROM third_parties WHERE customer_id = ? AND client_customer_ref = ?',
    );
    const update = db.prepare(
      'UPDATE third_parties SET status = ?, reasons = ?, updated_at = ? WHERE customer_id = ? AND client_customer_ref = ?',
    );
    const insertEvent = db
      .prepare(
        `INSERT INTO events (event_id, customer_id, client_customer_ref, event_type, payload, created_at)
         VALUES (?, ?, ?, ?, ?, ?) RETURNING seq`,
      )
      .pluck();
    const insertDelivery = db.prepare(
      `INSERT INTO deliveries (id, event_id, event_seq, endpoint_id, customer_id, client_customer_ref, next_attempt_at,
         created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    const write = db.transaction((ref: string, status: DecisionStatus) => {
      const at = new Date();
      const ms = at.getTime();
      read.get(CUSTOMER_ID, ref);
      update.run(status, status === 'REJECTED' ? JSON.stringify(REASONS) : null, ms, CUSTOMER_ID, ref);
      const eventId = randomUUID();
      const seq = insertEvent.get(
        eventId,
        CUSTOMER_ID,
        ref,
        EVENT_TYPE,
        payloadFor(eventId, ref, status, at),
        ms,
      );
      insertDelivery.run(randomUUID(), eventId, seq, endpointId, CUSTOMER_ID, ref, ms, ms, ms);
    });
    const floor = db.prepare('INSERT INTO floor (payload) VALUES (?)');
    const payload = payloadFor(randomUUID(), 'ref-0', 'APPROVED', new Date());

    const cases: Case[] = [
      newCase(
        '`store.recordDecision`',
        ([ref], [status]) => decide(store, ref as string, status as DecisionStatus),
        lanes.single,
      ),
      newCase(
        'baseline: better-sqlite3, same transaction',
        ([ref], [status]) => write.immediate(ref as string, status as DecisionStatus),
        lanes.baseline,
      ),
      newCase('floor: one-row INSERT', () => floor.run(payload), lanes.baseline),
      ...batchCases(store, lanes.batch),
    ];
    await runCases(cases, 1);
    report('SQLite (WAL, synchronous=NORMAL)', 'sequential', cases);
    const version = (db.prepare('SELECT sqlite_version() AS v').get() as { v: string }).v;
    db.close();
    await store.close();
    return version;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function benchPostgres(): Promise<string> {
  const schema = `tpcs_bench_${randomUUID().replaceAll('-', '').slice(0, 12)}`;
  const storeSchema = `${schema}_store`;
  const admin = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: 3000 });
  await admin.connect();
  const version =
    (await admin.query<{ server_version: string }>('SHOW server_version')).rows[0]?.server_version ?? '?';
  const urlFor = (s: string): string => {
    const u = new URL(PG_URL);
    u.searchParams.set('schema', s);
    u.searchParams.set('max', String(IN_FLIGHT));
    return u.toString();
  };
  try {
    const store = (await openStorage(urlFor(storeSchema), { secrets: { key: BENCH_SECRETS_KEY } })).store; // migrated; the queue it opens is not used here
    const lanes = {
      single: newLane('single'),
      locked: newLane('locked'),
      batch: newLane('batch'),
      baseline: newLane('ref'),
    };
    await seed(store, [lanes.single, lanes.locked, lanes.batch]);
    const seeded = (await openStorage(urlFor(schema), { secrets: { key: BENCH_SECRETS_KEY } })).store; // migrated; the queue it opens is not used here
    const endpointId = await seed(seeded, [lanes.baseline]);
    await seeded.close();
    const pool = new pg.Pool({
      connectionString: PG_URL,
      options: `-c search_path=${schema}`,
      max: IN_FLIGHT,
    });
    await pool.query(
      'CREATE TABLE floor (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, payload text NOT NULL)',
    );

    const write = async (ref: string, status: DecisionStatus): Promise<void> => {
      const at = new Date();
      const eventId = randomUUID();
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        await client.query(
          'SELECT status, reasons FROM third_parties WHERE customer_id = $1 AND client_customer_ref = $2 FOR UPDATE',
          [CUSTOMER_ID, ref],
        );
        await client.query(
          'UPDATE third_parties SET status = $1, reasons = $2, updated_at = $3 WHERE customer_id = $4 AND client_customer_ref = $5',
          [status, status === 'REJECTED' ? JSON.stringify(REASONS) : null, at, CUSTOMER_ID, ref],
        );
        const { rows } = await client.query<{ seq: string }>(
          `INSERT INTO events (event_id, customer_id, client_customer_ref, event_type, payload, created_at)
           VALUES ($1, $2, $3, $4, $5, $6) RETURNING seq`,
          [eventId, CUSTOMER_ID, ref, EVENT_TYPE, payloadFor(eventId, ref, status, at), at],
        );
        await client.query(
          `INSERT INTO deliveries (id, event_id, event_seq, endpoint_id, customer_id, client_customer_ref,
             next_attempt_at, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $7, $7)`,
          [randomUUID(), eventId, rows[0]?.seq, endpointId, CUSTOMER_ID, ref, at],
        );
        await client.query('COMMIT');
      } catch (err) {
        await client.query('ROLLBACK');
        throw err;
      } finally {
        client.release();
      }
    };
    const payload = payloadFor(randomUUID(), 'ref-0', 'APPROVED', new Date());
    const floor = (): Promise<unknown> => pool.query('INSERT INTO floor (payload) VALUES ($1)', [payload]);

    // the row-lock path on the store's own pool, told to other processes after each commit as the store does
    if (!(store instanceof PostgresStore)) throw new Error('expected the PostgreSQL store');
    const notifier = new DeliveryNotifier(store.pool, 'bench');
    const locked = async (ref: string, status: DecisionStatus): Promise<void> => {
      const r = await recordDecisionLocked(store.pool, decisionFor(ref, status));
      if (r.outcome !== 'changed' || r.deliveryIds.length !== 1) throw new Error(`decision was ${r.outcome}`);
      notifier.request();
    };

    const single: Case[] = [
      newCase(
        '`store.recordDecision` (one statement)',
        ([ref], [status]) => decide(store, ref as string, status as DecisionStatus),
        lanes.single,
      ),
      newCase(
        'baseline: node-postgres, same transaction',
        ([ref], [status]) => write(ref as string, status as DecisionStatus),
        lanes.baseline,
      ),
      newCase(
        'before: the row-lock path (BEGIN, FOR UPDATE, CTE, COMMIT)',
        ([ref], [status]) => locked(ref as string, status as DecisionStatus),
        lanes.locked,
      ),
      newCase('floor: one-row INSERT', floor, lanes.baseline),
    ];
    const batches = batchCases(store, lanes.batch);
    for (const inFlight of [1, IN_FLIGHT]) {
      const cases = inFlight === 1 ? [...single, ...batches] : single;
      for (const c of cases) c.samples = [];
      await runCases(cases, inFlight);
      report('PostgreSQL (pg.Pool)', inFlight === 1 ? 'sequential' : `${inFlight} in flight`, cases);
    }
    await notifier.idle();
    await pool.end();
    await store.close();
  } finally {
    await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await admin.query(`DROP SCHEMA IF EXISTS ${storeSchema} CASCADE`);
    await admin.end();
  }
  return version;
}

const started = performance.now();
const sqliteVersion = await benchSqlite();
let postgresVersion = 'not measured';
try {
  postgresVersion = await benchPostgres();
} catch (err) {
  console.warn(`PostgreSQL at ${PG_URL} skipped: ${(err as Error).message}`);
}

console.log('## Decisions per second (bench/api.ts)\n');
console.log(
  'Each decision commits a status change, one event and one delivery; baseline = the same rows written with the driver directly in the same kind of transaction; floor = a one-row INSERT per transaction; batches: decisions per second through `store.recordDecisions`. Median of',
  `${ROUNDS} rounds of ${SLICE_MS} ms.\n`,
);
console.log(
  markdownTable(['database', 'mode', 'implementation', 'decisions/s', 'vs baseline'], rows, [
    'left',
    'left',
    'left',
    'right',
    'right',
  ]),
);
console.log(
  `\nMachine: ${describeMachine()}; SQLite ${sqliteVersion} (better-sqlite3); PostgreSQL ${postgresVersion} on 127.0.0.1. Run time ${((performance.now() - started) / 1000).toFixed(0)} s.`,
);
