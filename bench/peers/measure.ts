/**
 * What every system in bench/peers shares: the run's context, a throwaway database, and one way to
 * time a run (the sink's first to its last receipt) and meter the CPU spent on it.
 */
import pg from 'pg';
import { type CpuMeter, meterPostgres } from './cpu.js';
import type { Sink } from './sink.js';
import type { Webhook } from './webhooks.js';

export interface RunContext {
  sink: Sink;
  /** Every delivery of the run, as the job queues hold them (tpcs builds its own from decisions). */
  webhooks: Webhook[];
  events: number;
  endpoints: number;
  /** Requests in flight for the ceiling and the job queues (tpcs keeps its defaults). */
  concurrency: number;
  /** A PostgreSQL URL to create and drop the throwaway databases from. */
  adminUrl: string;
  /** The PostgreSQL server's postmaster pid, for the CPU meter. */
  postmaster: number;
  /** Bound on one run, after which it counts as failed. */
  timeoutMs: number;
}

/** One system's run. */
export interface Measurement {
  perSecond: number;
  /** CPU seconds of the database the system keeps its jobs in; undefined when it keeps none. */
  dbCpu?: { store: 'PostgreSQL' | 'Redis'; seconds: number };
  /** CPU seconds of the process(es) running the jobs. */
  workerCpuSeconds: number;
  /** Requests beyond one per delivery (a job run twice). */
  duplicates: number;
}

/** The system, started: its CPU meter and how to stop it. */
export interface Running {
  cpu: CpuMeter;
  stop(): Promise<void>;
}

/** After the last delivery arrives, how long completions (batched by some queues) may still take. */
const SETTLE_MS = 1000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Resets the sink, starts the system with the database meter running, waits until every delivery
 * has arrived and the completions have settled, then stops both meters and the system.
 */
export async function measure(
  ctx: RunContext,
  start: () => Promise<Running>,
  dbMeter?: () => { store: 'PostgreSQL' | 'Redis'; meter: CpuMeter },
): Promise<Measurement> {
  const expected = ctx.webhooks.length;
  await ctx.sink.reset();
  const received = ctx.sink.received(expected, ctx.timeoutMs);
  const db = dbMeter?.();
  const running = await start();
  try {
    const report = await received;
    await sleep(SETTLE_MS);
    const dbSeconds = db?.meter.stop();
    const workerCpuSeconds = running.cpu.stop();
    return {
      perSecond: expected / ((report.last - report.first) / 1000),
      ...(db && dbSeconds !== undefined ? { dbCpu: { store: db.store, seconds: dbSeconds } } : {}),
      workerCpuSeconds,
      duplicates: report.requests - report.distinct,
    };
  } finally {
    db?.meter.stop();
    await running.stop();
  }
}

let databases = 0;

/**
 * Runs `use` on a fresh database `tpcs_peers_<n>`, dropped afterwards (with its connections).
 * `url` connects to it; `meter` measures its backends' CPU.
 */
export async function withDatabase<T>(
  ctx: RunContext,
  use: (db: { url: string; meter: () => { store: 'PostgreSQL'; meter: CpuMeter } }) => Promise<T>,
): Promise<T> {
  const name = `tpcs_peers_${++databases}`;
  const admin = new pg.Client({ connectionString: ctx.adminUrl });
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.query(`CREATE DATABASE ${name}`);
    const url = new URL(ctx.adminUrl);
    url.pathname = `/${name}`;
    return await use({
      url: url.toString(),
      meter: () => ({ store: 'PostgreSQL', meter: meterPostgres(ctx.postmaster, name) }),
    });
  } finally {
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch(() => {});
    await admin.end();
  }
}
