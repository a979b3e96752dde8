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
 * CPU column counts the whole server (its postmaster and every process it started, bench/peers/cpu.ts):
 * run it where nothing else uses that server.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Pool } from 'undici';
import { type CpuMeter, meterPostgresServer, meterProcess, meterSelf, postmasterPid } from './peers/cpu.js';
import { PG_URL, type Proc, postDecision, type Seeded, seedPartner, startServe } from './serve-api.js';
import { describeMachine, formatInteger, markdownTable, median } from './table.js';

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
const WARMUP_MS = 2000;

/** A seeded database, and how many decisions each third party has had. */
type Target = Seeded & { flips: Map<string, number> };

async function target(
  dialect: 'sqlite' | 'postgres',
  count: number,
  dir: string,
): Promise<Target | undefined> {
  const seeded = await seedPartner(dialect, count, dir);
  if (!seeded) console.error(`postgres rows skipped: no PostgreSQL at ${PG_URL}`);
  return seeded && { ...seeded, flips: new Map() };
}

interface Serve {
  proc: Proc;
  api: Pool;
  stop(): Promise<void>;
}

/** `tpcs serve` as an API only, and a client pool of CONCURRENCY connections to it. */
async function startApi(databaseUrl: string): Promise<Serve> {
  const proc = await startServe(databaseUrl, false);
  const api = new Pool(proc.url, { connections: CONCURRENCY });
  return {
    proc,
    api,
    async stop() {
      await api.close();
      await proc.stop();
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

/** One row's closed loop after its warm-up, with the CPU of serve, of PostgreSQL (when given) and of this process. */
async function measure(serve: Serve, request: Request, postmaster: number | undefined): Promise<Measured> {
  await closedLoop(serve.api, request, WARMUP_MS);
  const meters: [CpuMeter, CpuMeter | undefined, CpuMeter] = [
    meterProcess(serve.proc.child.pid as number),
    postmaster === undefined ? undefined : meterPostgresServer(postmaster),
    meterSelf(),
  ];
  const started = performance.now();
  const { count, times } = await closedLoop(serve.api, request, SECONDS * 1000);
  const elapsed = (performance.now() - started) / 1000;
  const [serveCpu, postgresCpu, benchCpu] = meters.map((m) => m?.stop() ?? Number.NaN) as number[];
  times.sort((a, b) => a - b);
  const perDecisionUs = (seconds = Number.NaN) => (seconds * 1e6) / count;
  return {
    rate: count / elapsed,
    p50: times[Math.floor(times.length / 2)] ?? Number.NaN,
    p99: times[Math.floor(times.length * 0.99)] ?? Number.NaN,
    serveUs: perDecisionUs(serveCpu),
    postgresUs: perDecisionUs(postgresCpu),
    benchUs: perDecisionUs(benchCpu),
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
  const dir = mkdtempSync(join(tmpdir(), 'tpcs-bench-decisions-'));
  const targets = new Map<Row, Target>();
  for (const row of ROWS) {
    const t = await target(row.dialect, row.thirdParties, dir);
    if (t) targets.set(row, t);
  }
  const postmaster = [...targets.keys()].some((r) => r.dialect === 'postgres')
    ? await postmasterPid(PG_URL)
    : undefined;
  const results = new Map<Row, Measured[]>(ROWS.map((r) => [r, []]));
  try {
    for (let round = 0; round < ROUNDS; round++) {
      for (const row of ROWS) {
        const t = targets.get(row);
        if (!t) continue;
        const serve = await startApi(t.url);
        try {
          const m = await measure(serve, row.baseline ? health : decide(t), postmaster);
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
    rmSync(dir, { recursive: true, force: true });
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
