/**
 * bench/decisions-http: single decisions through `tpcs serve`'s API at saturation, and what each one
 * costs in CPU on both sides of the database socket (issue 13).
 *
 * The built CLI runs as `tpcs serve` with its API only (DELIVERY_DISPATCHERS=0: nothing is delivered,
 * so only the decision path is measured). This process keeps `--concurrency` decisions in flight
 * (`POST …/third-parties/{ref}/decision`, undici, alternating APPROVED and REJECTED per third party)
 * for `--seconds` after a 2 s warm-up, and reads from /proc the CPU time of the serve process, of every
 * PostgreSQL server process on the machine, and of itself, over the measured seconds.
 *
 * Rows: the baseline is `GET /healthz` through the same serve at the same concurrency (HTTP and
 * Fastify, no database); SQLite and PostgreSQL decide over 10,000 third parties (each decided again
 * seconds later); "2,000 third parties" decides each about once a second, so many decisions fall in
 * the same second as the previous one on that third party (bench/delivery's paced rows decide each
 * 2.5 times a second; in a closed loop that would run the events a minute ahead of the clock, which
 * the API refuses with 429).
 * Rounds interleave the rows; medians with [min–max].
 *
 *   npm run build && npx tsx bench/decisions-http.ts [--rounds 3] [--seconds 4] [--concurrency 32]
 * PostgreSQL at TEST_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/test): a throwaway schema,
 * dropped after; its rows are skipped, with the reason, when the server does not answer. The PostgreSQL
 * CPU column counts the whole server: run it on a machine where nothing else uses PostgreSQL.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { Pool } from 'undici';
import { openStorage, type Storage } from '../src/storage/index.js';
import { ADMIN_TOKEN, postDecision } from './decide.js';
import { BENCH_SECRETS_KEY, describeMachine, formatInteger, markdownTable, median } from './table.js';

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    seconds: { type: 'string', default: '4' },
    concurrency: { type: 'string', default: '32' },
  },
});
const ROUNDS = Number(values.rounds);
const SECONDS = Number(values.seconds);
const CONCURRENCY = Number(values.concurrency);
for (const [name, n] of [
  ['--rounds', ROUNDS],
  ['--seconds', SECONDS],
  ['--concurrency', CONCURRENCY],
] as const) {
  if (!Number.isSafeInteger(n) || n < 1) throw new Error(`${name} must be a whole number >= 1`);
}
const PG_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const TYPE = 'THIRD PARTY CUSTOMER STATUS';
const BIN = fileURLToPath(new URL('../bin/tpcs.js', import.meta.url));
const WARMUP_MS = 2000;

/** utime + stime of a process, in ms (0 once it is gone). */
function cpuMs(pid: number): number {
  try {
    const fields = (readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1] ?? '').split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10; // clock ticks of 10 ms
  } catch {
    return 0;
  }
}

/** Every PostgreSQL server process's CPU on this machine, in ms. */
function postgresCpuMs(): number {
  let total = 0;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/comm`, 'utf8').trim() === 'postgres') total += cpuMs(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return total;
}

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

interface Target {
  storage: Storage;
  url: string;
  customerId: string;
  refs: string[];
  flips: Map<string, number>;
  close(): Promise<void>;
}

/** A database with one partner, one endpoint and `count` third parties; undefined when unreachable. */
async function target(dialect: 'sqlite' | 'postgres', count: number): Promise<Target | undefined> {
  let url: string;
  let drop = async () => {};
  if (dialect === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), 'tpcs-bench-decisions-'));
    url = `sqlite:${join(dir, 'bench.db')}`;
    drop = async () => rmSync(dir, { recursive: true, force: true });
  } else {
    const admin = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: 2000 });
    try {
      await admin.connect();
    } catch (error) {
      console.error(`postgres rows skipped: ${(error as Error).message}`);
      return undefined;
    }
    const schema = `tpcs_bench_${randomUUID().replaceAll('-', '').slice(0, 10)}`;
    await admin.query(`CREATE SCHEMA ${schema}`);
    await admin.end();
    const u = new URL(PG_URL);
    u.searchParams.set('schema', schema);
    url = u.toString();
    drop = async () => {
      const c = new pg.Client({ connectionString: PG_URL });
      await c.connect();
      await c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await c.end();
    };
  }
  const storage = await openStorage(url, { secrets: { key: BENCH_SECRETS_KEY } });
  const customerId = `0201${Math.floor(Math.random() * 1e12)
    .toString()
    .padStart(12, '0')}`;
  const { store } = storage;
  await store.createPartner({ customerId, name: 'bench', tokenHash: randomUUID(), createdAt: new Date() });
  await store.createEndpoint({
    id: `ep_${randomUUID().replaceAll('-', '').slice(0, 16)}`,
    customerId,
    url: 'http://127.0.0.1:9/never-called',
    description: null,
    eventTypes: [TYPE],
    secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
    createdAt: new Date(),
  });
  const refs = Array.from({ length: count }, (_, i) => `c${i}`);
  for (let i = 0; i < refs.length; i += 500) {
    await Promise.all(
      refs.slice(i, i + 500).map((ref) =>
        store.createThirdParty({
          customerId,
          clientCustomerRef: ref,
          clientCustomerDetails: {},
          propertyDetails: [],
          createdAt: new Date(),
        }),
      ),
    );
  }
  return {
    storage,
    url,
    customerId,
    refs,
    flips: new Map(),
    async close() {
      await storage.close();
      await drop();
    },
  };
}

interface Serve {
  child: ChildProcess;
  api: Pool;
  stop(): Promise<void>;
}

async function startServe(databaseUrl: string): Promise<Serve> {
  const port = await freePort();
  const child = spawn(process.execPath, [BIN, 'serve'], {
    env: {
      ...process.env,
      DATABASE_URL: databaseUrl,
      PORT: String(port),
      HOST: '127.0.0.1',
      DELIVERY_DISPATCHERS: '0',
      ADMIN_TOKEN,
      LOG_LEVEL: 'warn',
      SECRETS_KEY: BENCH_SECRETS_KEY,
      ALLOW_PRIVATE_ENDPOINTS: 'true',
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    let out = '';
    child.stdout?.on('data', (b: Buffer) => {
      out += b.toString();
      if (/listening on/.test(out)) resolve();
    });
    child.once('exit', (code) => reject(new Error(`tpcs serve exited (${code}): ${out}`)));
  });
  const api = new Pool(`http://127.0.0.1:${port}`, { connections: CONCURRENCY });
  return {
    child,
    api,
    async stop() {
      await api.close();
      child.kill('SIGTERM');
      await exited;
    },
  };
}

/** One request of a row: a decision on the next third party, or the baseline's health check. */
type Request = (api: Pool) => Promise<void>;

function decide(t: Target): Request {
  let next = 0;
  return async (api) => {
    const ref = t.refs[next++ % t.refs.length] as string;
    const n = t.flips.get(ref) ?? 0;
    t.flips.set(ref, n + 1);
    await postDecision(api, t.customerId, ref, n);
  };
}

const health: Request = async (api) => {
  const r = await api.request({ method: 'GET', path: '/healthz' });
  await r.body.dump();
  if (r.statusCode !== 200) throw new Error(`healthz: ${r.statusCode}`);
};

interface Measured {
  rate: number;
  p50: number;
  p99: number;
  serveUs: number;
  postgresUs: number;
  benchUs: number;
}

async function closedLoop(
  api: Pool,
  request: Request,
  ms: number,
): Promise<{ count: number; times: number[] }> {
  const times: number[] = [];
  const end = performance.now() + ms;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (performance.now() < end) {
        const t = performance.now();
        await request(api);
        times.push(performance.now() - t);
      }
    }),
  );
  return { count: times.length, times };
}

async function measure(serve: Serve, request: Request): Promise<Measured> {
  await closedLoop(serve.api, request, WARMUP_MS);
  const pid = serve.child.pid as number;
  const [serve0, pg0, bench0] = [cpuMs(pid), postgresCpuMs(), process.cpuUsage()];
  const started = performance.now();
  const { count, times } = await closedLoop(serve.api, request, SECONDS * 1000);
  const elapsed = (performance.now() - started) / 1000;
  const bench = process.cpuUsage(bench0);
  times.sort((a, b) => a - b);
  const per = (ms: number) => (ms * 1000) / count;
  return {
    rate: count / elapsed,
    p50: times[Math.floor(times.length / 2)] ?? Number.NaN,
    p99: times[Math.floor(times.length * 0.99)] ?? Number.NaN,
    serveUs: per(cpuMs(pid) - serve0),
    postgresUs: per(postgresCpuMs() - pg0),
    benchUs: (bench.user + bench.system) / count,
  };
}

interface Row {
  label: string;
  dialect: 'sqlite' | 'postgres';
  thirdParties: number;
  /** the baseline: health checks instead of decisions */
  baseline?: boolean;
}

const ROWS: Row[] = [
  { label: 'baseline: GET /healthz (no database)', dialect: 'sqlite', thirdParties: 1, baseline: true },
  { label: 'SQLite, 10,000 third parties', dialect: 'sqlite', thirdParties: 10_000 },
  { label: 'PostgreSQL, 10,000 third parties', dialect: 'postgres', thirdParties: 10_000 },
  {
    label: 'PostgreSQL, 2,000 third parties (some decided twice a second)',
    dialect: 'postgres',
    thirdParties: 2000,
  },
];

async function main() {
  const started = performance.now();
  const targets = new Map<Row, Target>();
  for (const row of ROWS) {
    const t = await target(row.dialect, row.thirdParties);
    if (t) targets.set(row, t);
  }
  const results = new Map<Row, Measured[]>(ROWS.map((r) => [r, []]));
  try {
    for (let round = 0; round < ROUNDS; round++) {
      for (const row of ROWS) {
        const t = targets.get(row);
        if (!t) continue;
        const serve = await startServe(t.url);
        try {
          const m = await measure(serve, row.baseline ? health : decide(t));
          results.get(row)?.push(m);
          console.error(
            `round ${round + 1} ${row.label}: ${Math.round(m.rate)}/s, p50 ${m.p50.toFixed(1)} p99 ${m.p99.toFixed(1)} ms`,
          );
        } finally {
          await serve.stop();
        }
      }
    }
  } finally {
    for (const t of targets.values()) await t.close();
  }
  const base = median((results.get(ROWS[0] as Row) ?? []).map((m) => m.rate));
  const range = (xs: number[], f: (n: number) => string) =>
    xs.length === 0 ? '–' : `${f(median(xs))} [${f(Math.min(...xs))}–${f(Math.max(...xs))}]`;
  const table = ROWS.filter((r) => (results.get(r) ?? []).length > 0).map((row) => {
    const ms = results.get(row) ?? [];
    const pick = (k: keyof Measured) => ms.map((m) => m[k]);
    const us = (k: keyof Measured) => formatInteger(median(pick(k)));
    return [
      row.label,
      range(pick('rate'), formatInteger),
      (median(pick('rate')) / base).toFixed(2),
      median(pick('p50')).toFixed(1),
      median(pick('p99')).toFixed(1),
      us('serveUs'),
      row.dialect === 'postgres' ? us('postgresUs') : '–',
      us('benchUs'),
    ];
  });
  console.log(`\n### Decisions through the API at saturation (bench/decisions-http)\n`);
  console.log(`Machine: ${describeMachine()}\n`);
  console.log(
    markdownTable(
      [
        'requests',
        'per second',
        '× baseline',
        'p50 ms',
        'p99 ms',
        'serve CPU µs each',
        'PostgreSQL CPU µs each',
        'client CPU µs each',
      ],
      table,
      ['left', 'right', 'right', 'right', 'right', 'right', 'right', 'right'],
    ),
  );
  console.log(
    `\n${CONCURRENCY} in flight, ${SECONDS} s per row after ${WARMUP_MS / 1000} s of warm-up, medians of ${ROUNDS} interleaved rounds [min–max]. Run took ${Math.round((performance.now() - started) / 1000)} s.`,
  );
}

await main();
