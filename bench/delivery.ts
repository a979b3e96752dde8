/**
 * bench/delivery: how fast the dispatcher delivers, against a bare undici loop in the same run.
 *
 * Three kinds of process, as in production: a sink in its own process answers 200 at once (or never,
 * on /hang) and notes when each webhook-id first arrived; the service runs as `tpcs serve` (the built
 * CLI) and takes every decision through its API; the bench process only sends the decisions (undici)
 * and reads the results, so its own work never competes with the dispatcher's event loop.
 *
 * - backlog: N decisions POSTed to `tpcs serve` running as an API only (DELIVERY_DISPATCHERS=0), then
 *   one `tpcs worker` started to drain them; deliveries/s from the sink's first to its last receipt.
 * - 100 endpoints: the same with 100 endpoints per partner (fan-out).
 * - paced: 500 decisions/s (BENCH_PACED_RATE) POSTed on schedule to `tpcs serve` with its dispatcher
 *   beside the API (the in-process wake-up, as shipped); latency from the decision's commit (the event's created_at,
 *   stamped by the API inside the decision's transaction) to the sink's first receipt.
 * - paced + dead: the same with one more endpoint that never answers. Clean and dead runs are
 *   interleaved (ROUNDS each) and the medians shown, since the machine is shared.
 * - baseline: the same signed POSTs to the same sink from a bare undici Pool loop.
 *
 * Usage: npm run build && npx tsx bench/delivery.ts [--quick]. PostgreSQL rows appear when the server
 * answers (TEST_DATABASE_URL); BENCH_DIALECTS=sqlite (or postgres) runs one of the two;
 * BENCH_PACED_RATE sets the paced rate and BENCH_PACED_SECONDS its length (2 s with --quick, else 3),
 * BENCH_PACED_ONLY=1 runs the paced rows alone, BENCH_ROUNDS their rounds, BENCH_PACED_WORKER=0 (or 1)
 * only those with serve's own dispatcher (or with a separate worker); BENCH_PROFILE=<dir> writes
 * each tpcs process's CPU profile.
 */
import { fork } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Pool } from 'undici';
import { signWebhook } from '../src/signing/sign.js';
import { openStorage } from '../src/storage/index.js';
import type { Store } from '../src/storage/store.js';
import { type CpuMeter, meterPostgresServer, meterProcess, meterSelf, postmasterPid } from './peers/cpu.js';
import { dropSchema, freshUrl, PG_URL, postDecision, spawnTpcs, startServe } from './serve-api.js';
import { BENCH_SECRETS_KEY, describeMachine, markdownTable } from './table.js';

const QUICK = process.argv.includes('--quick');
const BACKLOG = QUICK ? 2000 : 5000;
const FANOUT_EVENTS = QUICK ? 30 : 100;
/** BENCH_PACED_RATE=2000 paces the decisions faster (500 a second by default). */
const PACED_RATE = Number(process.env.BENCH_PACED_RATE ?? 500);
if (!Number.isInteger(PACED_RATE) || PACED_RATE < 1 || PACED_RATE > 20_000) {
  throw new Error(`BENCH_PACED_RATE must be a whole number of decisions a second, 1 to 20000`);
}
const PACED_SECONDS = Number(process.env.BENCH_PACED_SECONDS ?? (QUICK ? 2 : 3));
if (!Number.isInteger(PACED_SECONDS) || PACED_SECONDS < 1 || PACED_SECONDS > 600) {
  throw new Error(`BENCH_PACED_SECONDS must be a whole number of seconds, 1 to 600`);
}
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? (QUICK ? 1 : 2));
/** BENCH_PACED_WORKER=0 runs the paced rows with serve's own dispatcher only, =1 with a worker only. */
const PACED_WORKER = { '0': false, '1': true }[process.env.BENCH_PACED_WORKER ?? ''];
const PER_ENDPOINT = 32;
const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const TYPE = 'THIRD PARTY CUSTOMER STATUS';

// ---- the sink, in its own process ----
const SINK = `
import http from 'node:http';
const first = new Map();
let requests = 0;
let last = 0;
const server = http.createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    if (req.url === '/hang') return;
    requests++;
    last = performance.timeOrigin + performance.now();
    const id = req.headers['webhook-id'];
    if (!first.has(id)) first.set(id, performance.timeOrigin + performance.now());
    res.writeHead(200).end();
  });
});
server.keepAliveTimeout = 60000;
server.listen(0, '127.0.0.1', () => process.send({ port: server.address().port }));
process.on('message', (m) => {
  if (m === 'dump') process.send({ requests, last, first: [...first] });
  if (m === 'reset') { first.clear(); requests = 0; process.send({ reset: true }); }
});
`;

interface SinkHandle {
  url: string;
  pid: number;
  dump(): Promise<{ requests: number; last: number; first: Map<string, number> }>;
  reset(): Promise<void>;
  close(): void;
}

async function startSink(dir: string): Promise<SinkHandle> {
  const file = join(dir, 'sink.mjs');
  writeFileSync(file, SINK);
  const child = fork(file, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const port = await new Promise<number>((resolve) =>
    child.once('message', (m: { port: number }) => resolve(m.port)),
  );
  const ask = <T>(msg: string) =>
    new Promise<T>((resolve) => {
      child.once('message', (m) => resolve(m as T));
      child.send(msg);
    });
  return {
    url: `http://127.0.0.1:${port}`,
    pid: child.pid as number,
    async dump() {
      const m = await ask<{ requests: number; last: number; first: [string, number][] }>('dump');
      return { requests: m.requests, last: m.last, first: new Map(m.first) };
    },
    async reset() {
      await ask('reset');
    },
    close: () => child.kill(),
  };
}

const now = () => performance.timeOrigin + performance.now();
const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? Number.NaN;
};
const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
const ms = (n: number) => (Number.isNaN(n) ? '–' : n.toFixed(1));

// ---- baseline: bare undici loop ----
async function baseline(sinkUrl: string, n: number): Promise<number> {
  const pool = new Pool(sinkUrl, { connections: 32 });
  const body = JSON.stringify({ event_id: 'x', event_type: TYPE, data: { status: 'APPROVED' } });
  let next = 0;
  const t0 = now();
  await Promise.all(
    Array.from({ length: 64 }, async () => {
      while (next < n) {
        const id = `base-${next++}`;
        const headers = {
          ...signWebhook({ id, timestamp: Math.floor(Date.now() / 1000), body, secrets: [SECRET] }),
          'content-type': 'application/json',
        };
        const r = await pool.request({ path: '/base', method: 'POST', headers, body });
        await r.body.dump();
      }
    }),
  );
  const rate = n / ((now() - t0) / 1000);
  await pool.close();
  return rate;
}

// ---- tpcs serve / tpcs worker, as real processes (serve-api.ts), with the dispatcher's settings ----
const TPCS_ENV = { RETRY_SCHEDULE: '1s', RETRY_JITTER: 'none', DELIVERY_PER_ENDPOINT: String(PER_ENDPOINT) };

// ---- the platform side: partner, endpoints and customers set up in the store, decisions by the API ----
async function setup(store: Store, endpoints: string[], customers: number) {
  const customerId = `0201${Math.floor(Math.random() * 1e12)
    .toString()
    .padStart(12, '0')}`;
  await store.createPartner({ customerId, name: 'bench', tokenHash: randomUUID(), createdAt: new Date() });
  for (const url of endpoints) {
    await store.createEndpoint({
      id: `ep_${randomUUID().replaceAll('-', '').slice(0, 16)}`,
      customerId,
      url,
      description: null,
      eventTypes: [TYPE],
      secret: SECRET,
      createdAt: new Date(),
    });
  }
  const refs: string[] = [];
  for (let i = 0; i < customers; i++) {
    refs.push(`c${i}`);
    await store.createThirdParty({
      customerId,
      clientCustomerRef: `c${i}`,
      clientCustomerDetails: {},
      propertyDetails: [],
      createdAt: new Date(),
    });
  }
  const flips = new Map<string, number>();
  return {
    customerId,
    refs,
    /**
     * One decision POSTed to the API (alternating APPROVED/REJECTED per customer); whether it emitted an
     * event (two decisions for one customer in flight at once may arrive swapped, and one then changes nothing).
     */
    async decide(api: Pool, ref: string): Promise<boolean> {
      const n = flips.get(ref) ?? 0;
      flips.set(ref, n + 1);
      const text = await postDecision(api, customerId, ref, n);
      return (JSON.parse(text) as { event: unknown }).event != null;
    },
  };
}

/** Every event's created_at (stamped inside the decision's transaction), by event id. */
async function commitTimes(store: Store, customerId: string): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  let cursor: string | undefined;
  do {
    const page = await store.listEvents(customerId, { limit: 500, ...(cursor ? { cursor } : {}) });
    for (const e of page.items) out.set(e.eventId, e.createdAt.getTime());
    cursor = page.nextCursor ?? undefined;
  } while (cursor);
  return out;
}

async function waitForSink(sink: SinkHandle, expected: number, timeoutMs = 60_000) {
  const deadline = now() + timeoutMs;
  let dump = await sink.dump();
  while (dump.requests < expected && now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
    dump = await sink.dump();
  }
  return dump;
}

interface Row {
  scenario: string;
  dialect: string;
  deliveries: number;
  perSecond: number;
  p50: number;
  p99: number;
  /** paced rows: the decision API's answer times */
  apiP50?: number;
  apiP99?: number;
  /** paced rows: each process's CPU per decision (medians of the rounds) */
  cpu?: PacedCpu;
}

/** Decisions through `tpcs serve` (API only), then one `tpcs worker` drains them. */
async function backlog(
  name: string,
  dialect: 'sqlite' | 'postgres',
  dir: string,
  sink: SinkHandle,
  events: number,
  endpoints: string[],
): Promise<Row | undefined> {
  const url = await freshUrl(dialect, dir);
  if (!url) return undefined;
  const store = (await openStorage(url, { secrets: { key: BENCH_SECRETS_KEY } })).store; // migrated; the queue it opens is not used here
  const ctx = await setup(store, endpoints, Math.min(events, 1000));
  const serve = await startServe(url, false, TPCS_ENV);
  const api = new Pool(serve.url, { connections: 16 });
  let next = 0;
  let emitted = 0;
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (next < events) if (await ctx.decide(api, ctx.refs[next++ % ctx.refs.length] ?? '')) emitted++;
    }),
  );
  await api.close();
  await serve.stop();
  await sink.reset();
  const expected = emitted * endpoints.length;
  const worker = await spawnTpcs('worker', { ...TPCS_ENV, DATABASE_URL: url }, /delivering/);
  const dump = await waitForSink(sink, expected);
  await worker.stop();
  await store.close();
  if (dialect === 'postgres') await dropSchema(url);
  const times = [...dump.first.values()];
  const first = Math.min(...times);
  return {
    scenario: name,
    dialect,
    deliveries: dump.requests,
    perSecond: dump.requests / ((dump.last - first) / 1000),
    p50: Number.NaN,
    p99: Number.NaN,
  };
}

/** PACED_RATE decisions/s POSTed on schedule to `tpcs serve` (API + dispatcher); latencies in ms. */
async function paced(
  dialect: 'sqlite' | 'postgres',
  dir: string,
  sink: SinkHandle,
  dead: boolean,
  withWorker: boolean,
): Promise<{ latencies: number[]; requests: number; answers: number[]; cpu: PacedCpu } | undefined> {
  const url = await freshUrl(dialect, dir);
  if (!url) return undefined;
  const store = (await openStorage(url, { secrets: { key: BENCH_SECRETS_KEY } })).store; // migrated; the queue it opens is not used here
  const ctx = await setup(
    store,
    dead ? [`${sink.url}/paced`, `${sink.url}/hang`] : [`${sink.url}/paced`],
    // 2.5 decisions a second on each third party, at any rate (200 of them at 500/s)
    Math.max(200, Math.round(PACED_RATE * 0.4)),
  );
  const serve = await startServe(url, !withWorker, TPCS_ENV);
  const worker = withWorker
    ? await spawnTpcs('worker', { ...TPCS_ENV, DATABASE_URL: url }, /delivering/)
    : undefined;
  const api = new Pool(serve.url, { connections: 32 });
  // Warm-up, as a service that has been running would be: its first requests after start pay for the
  // connections, the JIT and the first statements (measured: the first ~40 answers took 100-390 ms,
  // which alone made the API's p99). Their deliveries are received before the sink is reset.
  const warm = (await Promise.all(ctx.refs.slice(0, 64).map((ref) => ctx.decide(api, ref)))).filter(Boolean);
  await waitForSink(sink, warm.length, 15_000);
  await sink.reset();
  const total = PACED_RATE * PACED_SECONDS;
  // CPU from the first decision until the sink has every delivery: each process's, per decision
  const meters: Record<keyof PacedCpu, CpuMeter | undefined> = {
    serve: meterProcess(serve.child.pid as number),
    worker: worker && meterProcess(worker.child.pid as number),
    postgres: dialect === 'postgres' ? meterPostgresServer(await postmasterPid(PG_URL)) : undefined,
    sink: meterProcess(sink.pid),
    client: meterSelf(),
  };
  const t0 = now();
  // sent on schedule, not one after the other, so a slow answer does not lower the rate
  const sent: Promise<boolean>[] = [];
  const answers: number[] = [];
  for (let i = 0; i < total; i++) {
    const wait = t0 + (i * 1000) / PACED_RATE - now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    const postedAt = now();
    sent.push(
      ctx.decide(api, ctx.refs[i % ctx.refs.length] ?? '').then((emitted) => {
        answers.push(now() - postedAt);
        return emitted;
      }),
    );
  }
  const emitted = (await Promise.all(sent)).filter(Boolean).length;
  const dump = await waitForSink(sink, emitted, 15_000);
  const cpu = Object.fromEntries(
    Object.entries(meters).map(([k, m]) => [k, m ? (m.stop() * 1e6) / total : Number.NaN]),
  ) as unknown as PacedCpu;
  if (dump.requests < emitted) {
    const storage = await openStorage(url, { secrets: { key: BENCH_SECRETS_KEY } });
    console.error(
      `${dialect}: ${emitted - dump.requests} deliveries missing`,
      await storage.queue.stats(new Date()),
    );
    await storage.close();
  }
  await api.close();
  await serve.stop();
  await worker?.stop();
  const committed = await commitTimes(store, ctx.customerId);
  await store.close();
  if (dialect === 'postgres') await dropSchema(url);
  const latencies = [...committed]
    .map(([id, at]) => (dump.first.get(id) ?? Number.NaN) - at)
    .filter((x) => !Number.isNaN(x));
  return { latencies, requests: dump.requests, answers, cpu };
}

/** CPU µs per decision of each process in a paced run (NaN: no such process in this row). */
interface PacedCpu {
  serve: number;
  worker: number;
  postgres: number;
  sink: number;
  client: number;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = (s.length - 1) / 2;
  return ((s[Math.floor(m)] ?? Number.NaN) + (s[Math.ceil(m)] ?? Number.NaN)) / 2;
};

const CPU_PARTS = ['serve', 'worker', 'postgres', 'sink', 'client'] as const;
const medianCpu = (runs: PacedCpu[]): PacedCpu =>
  Object.fromEntries(CPU_PARTS.map((k) => [k, median(runs.map((r) => r[k]))])) as unknown as PacedCpu;
/** "serve 180, PostgreSQL 400, …": the processes of the row, rounded. */
const cpuText = (cpu: PacedCpu): string =>
  CPU_PARTS.filter((k) => !Number.isNaN(cpu[k]))
    .map((k) => `${k === 'postgres' ? 'PostgreSQL' : k} ${Math.round(cpu[k])}`)
    .join(', ');

async function main() {
  const started = now();
  const dir = mkdtempSync(join(tmpdir(), 'tpcs-bench-delivery-'));
  const sink = await startSink(dir);
  const rows: Row[] = [];
  try {
    const pacedOnly = process.env.BENCH_PACED_ONLY === '1';
    const baseN = QUICK ? 5000 : 20_000;
    const baseRate = await baseline(sink.url, baseN);
    rows.push({
      scenario: 'baseline: bare undici loop, signed POSTs',
      dialect: '–',
      deliveries: baseN,
      perSecond: baseRate,
      p50: Number.NaN,
      p99: Number.NaN,
    });
    const only = process.env.BENCH_DIALECTS?.split(',');
    for (const dialect of ['sqlite', 'postgres'] as const) {
      if (only && !only.includes(dialect)) continue;
      const one = pacedOnly
        ? undefined
        : await backlog(`backlog ${BACKLOG} events, 1 endpoint`, dialect, dir, sink, BACKLOG, [
            `${sink.url}/one`,
          ]);
      if (!one && !pacedOnly) {
        console.error(`${dialect}: unreachable, skipped`);
        continue;
      }
      if (one) rows.push(one);
      const fan = pacedOnly
        ? undefined
        : await backlog(
            `backlog ${FANOUT_EVENTS} events × 100 endpoints`,
            dialect,
            dir,
            sink,
            FANOUT_EVENTS,
            Array.from({ length: 100 }, (_, i) => `${sink.url}/fan${i}`),
          );
      if (fan) rows.push(fan);
      // clean and dead interleaved, medians of the rounds' p50 and p99; on PostgreSQL also with the
      // dispatcher in a separate tpcs worker (woken by LISTEN/NOTIFY on PostgreSQL, by the file's
      // data_version on SQLite) and serve as an API only
      const kinds = PACED_WORKER === undefined ? [false, true] : [PACED_WORKER];
      for (const withWorker of kinds) {
        type Runs = {
          p50: number[];
          p99: number[];
          apiP50: number[];
          apiP99: number[];
          cpu: PacedCpu[];
          requests: number;
        };
        const runs: Record<'clean' | 'dead', Runs> = {
          clean: { p50: [], p99: [], apiP50: [], apiP99: [], cpu: [], requests: 0 },
          dead: { p50: [], p99: [], apiP50: [], apiP99: [], cpu: [], requests: 0 },
        };
        const where = withWorker ? 'serve (API) + worker' : 'serve';
        for (let round = 0; round < ROUNDS; round++) {
          for (const dead of [false, true]) {
            const r = await paced(dialect, dir, sink, dead, withWorker);
            if (!r) continue;
            const k = dead ? 'dead' : 'clean';
            runs[k].p50.push(pct(r.latencies, 50));
            runs[k].p99.push(pct(r.latencies, 99));
            runs[k].apiP50.push(pct(r.answers, 50));
            runs[k].apiP99.push(pct(r.answers, 99));
            runs[k].cpu.push(r.cpu);
            runs[k].requests += r.requests;
            console.error(
              `${dialect} ${where} paced ${k} round ${round + 1}: p50 ${ms(pct(r.latencies, 50))} p99 ${ms(pct(r.latencies, 99))} ms (API answers p50 ${ms(pct(r.answers, 50))} p99 ${ms(pct(r.answers, 99))} ms); CPU µs per decision: ${cpuText(r.cpu)}`,
            );
          }
        }
        for (const k of ['clean', 'dead'] as const) {
          rows.push({
            scenario: `${where}: ${PACED_RATE} events/s for ${PACED_SECONDS} s, 1 endpoint${k === 'dead' ? ' + 1 never answering' : ''} (median of ${ROUNDS})`,
            dialect,
            deliveries: runs[k].requests,
            perSecond: PACED_RATE,
            p50: median(runs[k].p50),
            p99: median(runs[k].p99),
            apiP50: median(runs[k].apiP50),
            apiP99: median(runs[k].apiP99),
            cpu: medianCpu(runs[k].cpu),
          });
        }
      }
    }
  } finally {
    sink.close();
    rmSync(dir, { recursive: true, force: true });
  }
  console.log(`\n### Delivery (bench/delivery${QUICK ? ' --quick' : ''})\n`);
  console.log(`Machine: ${describeMachine()}\n`);
  console.log(
    markdownTable(
      [
        'scenario',
        'db',
        'requests',
        'deliveries/s',
        'p50 ms',
        'p99 ms',
        'API p50 ms',
        'API p99 ms',
        'CPU µs per decision',
      ],
      rows.map((r) => [
        r.scenario,
        r.dialect,
        fmt(r.deliveries),
        fmt(r.perSecond),
        ms(r.p50),
        ms(r.p99),
        r.apiP50 === undefined ? '–' : ms(r.apiP50),
        r.apiP99 === undefined ? '–' : ms(r.apiP99),
        r.cpu === undefined ? '–' : cpuText(r.cpu),
      ]),
      ['left', 'left', 'right', 'right', 'right', 'right', 'right', 'right', 'left'],
    ),
  );
  console.log(
    `\nDecisions are POSTed to \`tpcs serve\` (its own process). Backlog rows: serve as an API only, then one \`tpcs worker\` ` +
      `drains the queue (deliveries/s from the sink's first to last receipt). Paced rows: serve with its dispatcher beside ` +
      `the API (per-endpoint bound ${PER_ENDPOINT}); latency from the decision's commit to the sink's first receipt; ` +
      `deliveries/s is the offered rate; CPU is each process's from the first decision until the sink has every delivery ` +
      `(PostgreSQL: the whole server, so nothing else should use it), divided by the decisions. Run took ${Math.round((now() - started) / 1000)} s.`,
  );
  process.exit(0);
}

await main();
