/**
 * bench/pg-profile: where a PostgreSQL drain spends the database's time.
 *
 * Queues N deliveries (decisions for N / endpoints third parties, each fanned out to every endpoint of
 * one partner), then drains them with one in-process dispatcher into a sink in its own process, and
 * prints deliveries/s, the CPU the PostgreSQL server spent (every backend of the cluster, from /proc)
 * per delivery, the WAL it wrote per delivery (queueing, and the drain), and the statements that took it (pg_stat_statements,
 * when the server preloads it: also buffers and WAL records per delivery). The WAL figures do not
 * depend on what else the machine is doing; the rates and the CPU do.
 *
 * Point it at a cluster of its own so the CPU figure is this drain's only:
 *   PROFILE_PG_URL=postgres://postgres@127.0.0.1:5433/test PROFILE_PG_DATA=/tmp/pgprof/data \
 *     npx tsx bench/pg-profile.ts [--deliveries 20000] [--endpoints 100]
 * PROFILE_SQL=<file> runs that file in the bench's schema after the migrations, before anything is
 * queued: a schema or function change tried before it becomes a migration.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { openStorage } from '../src/storage/index.js';
import { createDispatcher } from '../src/webhooks/dispatcher/index.js';
import { decide, newEndpoint, newPartner, newThirdParty } from '../test/support/fixtures.js';
import { BENCH_SECRETS_KEY } from './table.js';

const { values } = parseArgs({
  options: {
    deliveries: { type: 'string', default: '20000' },
    endpoints: { type: 'string', default: '100' },
    top: { type: 'string', default: '12' },
  },
});
const DELIVERIES = Number(values.deliveries);
const ENDPOINTS = Number(values.endpoints);
const PG_URL = process.env.PROFILE_PG_URL ?? 'postgres://postgres@127.0.0.1:5433/test';
const PG_DATA = process.env.PROFILE_PG_DATA;

const SINK = `
const http = require('node:http');
let n = 0;
http.createServer((req, res) => {
  if (req.url === '/count') return res.end(String(n));
  req.resume();
  req.on('end', () => { n++; res.end(); });
}).listen(0, '127.0.0.1', function () { process.send(this.address().port); });
`;

function startSink(): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn(process.execPath, ['-e', SINK], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  return new Promise((resolve) =>
    child.once('message', (port) => resolve({ url: `http://127.0.0.1:${port}`, child })),
  );
}

/** CPU seconds of every process of the cluster whose data directory is PG_DATA. */
function clusterCpu(): number | undefined {
  if (!PG_DATA) return undefined;
  const postmaster = Number(readFileSync(`${PG_DATA}/postmaster.pid`, 'utf8').split('\n')[0]);
  let ticks = 0;
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const ppid = Number(fields[1]);
      if (Number(pid) !== postmaster && ppid !== postmaster) continue;
      ticks += Number(fields[11]) + Number(fields[12]);
    } catch {
      // gone meanwhile
    }
  }
  return ticks / 100;
}

/** The server's current WAL position (everything written since is this drain's, on a private cluster). */
async function walLsn(db: pg.Client): Promise<string> {
  return (await db.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn')).rows[0]?.lsn ?? '0/0';
}

async function walBytesSince(db: pg.Client, lsn: string): Promise<number> {
  const { rows } = await db.query<{ n: string }>(
    'SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), $1)::text AS n',
    [lsn],
  );
  return Number(rows[0]?.n ?? 0);
}

async function main() {
  const admin = new pg.Client({ connectionString: PG_URL });
  await admin.connect();
  const schema = `prof_${randomBytes(4).toString('hex')}`;
  await admin.query(`CREATE SCHEMA ${schema}`);
  const u = new URL(PG_URL);
  u.searchParams.set('schema', schema);
  const storage = await openStorage(u.toString(), { secrets: { key: BENCH_SECRETS_KEY } });
  if (process.env.PROFILE_SQL) {
    await admin.query(`SET search_path TO ${schema}`);
    await admin.query(readFileSync(process.env.PROFILE_SQL, 'utf8'));
    await admin.query('RESET search_path');
  }
  const sink = await startSink();
  try {
    const partner = await newPartner(storage.store);
    for (let i = 0; i < ENDPOINTS; i++) await newEndpoint(storage.store, partner, `${sink.url}/e${i}`);
    const events = Math.ceil(DELIVERIES / ENDPOINTS);
    const queueWal0 = await walLsn(admin);
    const t0 = performance.now();
    for (let i = 0; i < events; i++) {
      const ref = await newThirdParty(storage.store, partner, `ref_${i}`);
      await decide(storage.store, partner, ref, 'APPROVED');
    }
    const queuedMs = performance.now() - t0;
    const total = events * ENDPOINTS;
    const queueWal = await walBytesSince(admin, queueWal0);
    await admin.query(`ANALYZE ${schema}.deliveries`);
    const hasStatements = await admin
      .query('SELECT pg_stat_statements_reset()')
      .then(() => true)
      .catch(() => false);
    const wal0 = await walLsn(admin);
    const cpu0 = clusterCpu();
    const dispatcher = createDispatcher({
      queue: storage.queue,
      allowPrivateEndpoints: true,
      onError: console.error,
    });
    const start = performance.now();
    dispatcher.start();
    for (;;) {
      const n = Number(await (await fetch(`${sink.url}/count`)).text());
      if (n >= total) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    const seconds = (performance.now() - start) / 1000;
    await dispatcher.stop();
    const cpu1 = clusterCpu();
    const walBytes = await walBytesSince(admin, wal0);
    console.log(
      `queued ${total} deliveries (${events} decisions) in ${(queuedMs / 1000).toFixed(1)} s, ` +
        `WAL ${Math.round(queueWal / total)} bytes per delivery`,
    );
    console.log(`drained in ${seconds.toFixed(2)} s: ${Math.round(total / seconds)} deliveries/s`);
    if (cpu0 !== undefined && cpu1 !== undefined) {
      const cpu = cpu1 - cpu0;
      console.log(`PostgreSQL CPU ${cpu.toFixed(2)} s: ${Math.round((cpu * 1e6) / total)} µs per delivery`);
    }
    console.log(`WAL ${(walBytes / 1e6).toFixed(1)} MB: ${Math.round(walBytes / total)} bytes per delivery`);
    if (hasStatements) {
      // top-level statements only: a function's own statements are counted in its call too
      const sums = await admin.query<{ blocks: string; wal: string }>(
        `SELECT sum(shared_blks_hit + shared_blks_read)::text AS blocks, sum(wal_records)::text AS wal
         FROM pg_stat_statements WHERE toplevel AND dbid = (SELECT oid FROM pg_database WHERE datname = current_database())`,
      );
      const per = (v: string | undefined) => (Number(v ?? 0) / total).toFixed(1);
      console.log(
        `per delivery: ${per(sums.rows[0]?.blocks)} buffers, ${per(sums.rows[0]?.wal)} WAL records`,
      );
      const { rows } = await admin.query(
        `SELECT calls, round(total_exec_time::numeric, 1) AS total_ms, round(mean_exec_time::numeric, 3) AS mean_ms,
           rows, shared_blks_hit + shared_blks_read AS blocks, wal_records, left(regexp_replace(query, '\\s+', ' ', 'g'), 110) AS query
         FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
         ORDER BY total_exec_time DESC LIMIT $1`,
        [Number(values.top)],
      );
      console.table(rows);
      const fns = await admin.query(
        `SELECT funcname, calls, round(total_time::numeric, 1) AS total_ms, round(self_time::numeric, 1) AS self_ms
         FROM pg_stat_user_functions WHERE schemaname = $1 ORDER BY total_time DESC`,
        [schema],
      );
      console.table(fns.rows);
    }
  } finally {
    sink.child.kill();
    await storage.close();
    await admin.query(`DROP SCHEMA ${schema} CASCADE`);
    await admin.end();
  }
}

await main();
