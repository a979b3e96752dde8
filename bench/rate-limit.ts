/**
 * bench/rate-limit: the rate a limited endpoint gets against its limit, and what the limit costs its
 * partner's other endpoints, against a run without it (issue 14).
 *
 * - limited: partner A has one endpoint limited to LIMIT deliveries a second and UNLIMITED endpoints
 *   with no limit; partner B has UNLIMITED endpoints; all on one sink (a process of its own, answering
 *   200 at once). LIMIT × SECONDS decisions of each partner queued, each fanned out to every endpoint
 *   of its partner, then one dispatcher started (in this process, with the shipped defaults: 256
 *   slots, 8 per endpoint, a 500 ms poll) to drain them. The limited endpoint's rate is (deliveries −
 *   burst) / (last − first receipt): under GCRA the i-th delivery after the burst goes out i intervals
 *   after the first. The busiest second is the most receipts in any 1 s window.
 * - baseline: the same, without the limited endpoint. Each partner's unlimited endpoints' throughput is
 *   their deliveries over the time from their first receipt to their last, in both runs.
 * Baseline and limited runs are interleaved (ROUNDS each, on fresh databases, each first in turn) and
 * medians shown, since the machine is shared; the busiest second is the worst round's.
 *
 * Usage: npx tsx bench/rate-limit.ts [--quick] (or npm run bench -- rate-limit). PostgreSQL rows appear
 * when the server answers (TEST_DATABASE_URL); BENCH_DIALECTS=sqlite (or postgres) runs one.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { recordComplianceDecision } from '../src/customers/decisions.js';
import { openStorage } from '../src/storage/index.js';
import { rateBurst } from '../src/storage/rate-limit.js';
import type { Store } from '../src/storage/store.js';
import { createDispatcher } from '../src/webhooks/dispatcher/dispatcher.js';
import { createRetryPolicy } from '../src/webhooks/dispatcher/retry-policy.js';
import { dropSchema, freshUrl } from './serve-api.js';
import { BENCH_SECRETS_KEY, describeMachine, formatInteger, markdownTable, median } from './table.js';

const QUICK = process.argv.includes('--quick');
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? (QUICK ? 1 : 3));
const LIMITS = [50, 200];
const SECONDS = QUICK ? 3 : 4;
const UNLIMITED = 4;
const TYPE = 'THIRD PARTY CUSTOMER STATUS';
const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';

// ---- the sink, in its own process: every receipt's time, by path (the first of each webhook-id there) ----
const SINK = `
import http from 'node:http';
const seen = new Set();
let times = {};
const server = http.createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    // an event goes to every endpoint with the same webhook-id: one receipt per endpoint and id
    const key = req.url + ' ' + req.headers['webhook-id'];
    if (!seen.has(key)) {
      seen.add(key);
      (times[req.url] ??= []).push(performance.timeOrigin + performance.now());
    }
    res.writeHead(200).end();
  });
});
server.keepAliveTimeout = 60000;
server.listen(0, '127.0.0.1', () => process.send({ port: server.address().port }));
process.on('message', (m) => {
  if (m === 'dump') process.send({ times });
  if (m === 'reset') { seen.clear(); times = {}; server.closeAllConnections(); process.send({ reset: true }); }
});
`;

interface SinkHandle {
  url: string;
  dump(): Promise<Record<string, number[]>>;
  reset(): Promise<void>;
  close(): void;
}

async function startSink(dir: string): Promise<SinkHandle> {
  const file = join(dir, 'sink.mjs');
  writeFileSync(file, SINK);
  const child: ChildProcess = fork(file, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
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
    dump: async () => (await ask<{ times: Record<string, number[]> }>('dump')).times,
    reset: async () => void (await ask('reset')),
    close: () => child.kill(),
  };
}

const sleep = (n: number) => new Promise((r) => setTimeout(r, n));

/** A partner with these endpoints (path and rate limit) and `decisions` decisions queued to all of them. */
async function backlog(
  store: Store,
  sinkUrl: string,
  endpoints: { path: string; rateLimit: number | null }[],
  decisions: number,
): Promise<void> {
  const customerId = `0201${Math.floor(Math.random() * 1e12)
    .toString()
    .padStart(12, '0')}`;
  await store.createPartner({ customerId, name: 'bench', tokenHash: randomUUID(), createdAt: new Date() });
  for (const e of endpoints) {
    await store.createEndpoint({
      id: randomUUID(),
      customerId,
      url: `${sinkUrl}${e.path}`,
      description: null,
      eventTypes: [TYPE],
      secret: SECRET,
      createdAt: new Date(),
      rateLimit: e.rateLimit,
    });
  }
  const refs = Array.from({ length: decisions }, (_, i) => `c${i}`);
  for (const ref of refs) {
    await store.createThirdParty({
      customerId,
      clientCustomerRef: ref,
      clientCustomerDetails: {},
      propertyDetails: [],
      createdAt: new Date(),
    });
  }
  // four writers, so that queueing takes less time than the drain
  await Promise.all(
    [0, 1, 2, 3].map(async (w) => {
      for (let i = w; i < refs.length; i += 4) {
        const r = await recordComplianceDecision(store, {
          customerId,
          clientCustomerRef: refs[i] ?? '',
          decision: { status: 'APPROVED' },
        });
        if (r.outcome !== 'changed') throw new Error(`decision: ${r.outcome}`);
      }
    }),
  );
}

interface Run {
  /** Receipt times of the limited endpoint's deliveries (empty in a baseline run). */
  limited: number[];
  /** The unlimited endpoints' deliveries per second, first receipt to last: partner A's, partner B's. */
  same: number;
  other: number;
}

/** One run on a fresh database: with an endpoint limited to `limit`, or (null) the baseline. */
async function run(
  dialect: 'sqlite' | 'postgres',
  dir: string,
  sink: SinkHandle,
  limit: number | null,
  decisions: number,
): Promise<Run | undefined> {
  const url = await freshUrl(dialect, dir);
  if (!url) return undefined;
  const storage = await openStorage(url, { secrets: { key: BENCH_SECRETS_KEY } });
  await sink.reset();
  const unlimited = (prefix: string) =>
    Array.from({ length: UNLIMITED }, (_, i): { path: string; rateLimit: number | null } => ({
      path: `/${prefix}${i}`,
      rateLimit: null,
    }));
  const a = unlimited('a');
  if (limit !== null) a.push({ path: '/limited', rateLimit: limit });
  const b = unlimited('b');
  await Promise.all([
    backlog(storage.store, sink.url, a, decisions),
    backlog(storage.store, sink.url, b, decisions),
  ]);
  const dispatcher = createDispatcher({
    queue: storage.queue,
    allowPrivateEndpoints: true,
    policy: createRetryPolicy({ schedule: [1000], jitter: 'none' }),
    onError: (err) => console.error(`${dialect}: dispatcher:`, err),
  });
  dispatcher.start();
  const expected = decisions * (a.length + b.length);
  const deadline = Date.now() + 60_000;
  let times = await sink.dump();
  const count = () => Object.values(times).reduce((n, t) => n + t.length, 0);
  while (count() < expected && Date.now() < deadline) {
    await sleep(100);
    times = await sink.dump();
  }
  await dispatcher.stop(0);
  await storage.close();
  if (dialect === 'postgres') await dropSchema(url);
  if (count() < expected) console.error(`${dialect}: only ${count()} of ${expected} deliveries arrived`);
  const rate = (prefix: string) => {
    const all = Object.entries(times)
      .filter(([path]) => path.startsWith(prefix))
      .flatMap(([, t]) => t)
      .sort((x, y) => x - y);
    const span = ((all.at(-1) ?? 0) - (all[0] ?? 0)) / 1000;
    return span > 0 ? all.length / span : Number.NaN;
  };
  return {
    limited: [...(times['/limited'] ?? [])].sort((x, y) => x - y),
    same: rate('/a'),
    other: rate('/b'),
  };
}

/** The most receipts within any one second. */
function busiestSecond(times: number[]): number {
  let most = 0;
  let start = 0;
  for (let end = 0; end < times.length; end++) {
    while ((times[end] ?? 0) - (times[start] ?? 0) >= 1000) start++;
    most = Math.max(most, end - start + 1);
  }
  return most;
}

interface Row {
  dialect: string;
  limit: number;
  deliveries: number;
  achieved: number;
  /** The lowest and highest round's achieved rate. */
  range: [number, number];
  busiest: number;
  same: { with: number; without: number };
  other: { with: number; without: number };
}

const rate = (n: number) => formatInteger(n);
const ratio = (x: { with: number; without: number }) => `${(x.with / x.without).toFixed(2)}×`;

async function main() {
  const started = Date.now();
  const dir = mkdtempSync(join(tmpdir(), 'tpcs-bench-rate-'));
  const sink = await startSink(dir);
  const rows: Row[] = [];
  try {
    const only = process.env.BENCH_DIALECTS?.split(',');
    for (const dialect of ['sqlite', 'postgres'] as const) {
      if (only && !only.includes(dialect)) continue;
      let reachable = true;
      for (const limit of LIMITS) {
        const decisions = limit * SECONDS;
        const r = {
          achieved: [] as number[],
          busiest: 0,
          deliveries: 0,
          same: { with: [] as number[], without: [] as number[] },
          other: { with: [] as number[], without: [] as number[] },
        };
        for (let round = 0; round < ROUNDS && reachable; round++) {
          // which goes first alternates, so that neither always runs on a cold process
          const first = await run(dialect, dir, sink, round % 2 ? limit : null, decisions);
          const second = first && (await run(dialect, dir, sink, round % 2 ? null : limit, decisions));
          const [baseline, limited] = round % 2 ? [second, first] : [first, second];
          if (!baseline || !limited) {
            console.error(`${dialect}: unreachable, skipped`);
            reachable = false;
            break;
          }
          const t = limited.limited;
          const achieved = (t.length - rateBurst(limit)) / (((t.at(-1) ?? 0) - (t[0] ?? 0)) / 1000);
          r.achieved.push(achieved);
          r.busiest = Math.max(r.busiest, busiestSecond(t));
          r.deliveries = t.length;
          r.same.with.push(limited.same);
          r.same.without.push(baseline.same);
          r.other.with.push(limited.other);
          r.other.without.push(baseline.other);
          console.error(
            `${dialect} ${limit}/s round ${round + 1}: achieved ${achieved.toFixed(1)}/s, busiest second ` +
              `${busiestSecond(t)}; same partner ${rate(limited.same)}/s with, ${rate(baseline.same)}/s without; ` +
              `other partner ${rate(limited.other)}/s with, ${rate(baseline.other)}/s without`,
          );
        }
        if (!reachable) break;
        rows.push({
          dialect,
          limit,
          deliveries: r.deliveries,
          achieved: median(r.achieved),
          range: [Math.min(...r.achieved), Math.max(...r.achieved)],
          busiest: r.busiest,
          same: { with: median(r.same.with), without: median(r.same.without) },
          other: { with: median(r.other.with), without: median(r.other.without) },
        });
      }
    }
  } finally {
    sink.close();
    rmSync(dir, { recursive: true, force: true });
  }
  console.log(`\n### Per-endpoint rate limit (bench/rate-limit${QUICK ? ' --quick' : ''})\n`);
  console.log(`Machine: ${describeMachine()}\n`);
  console.log(
    markdownTable(
      [
        'db',
        'limit (/s)',
        'deliveries to it',
        'achieved (/s)',
        'vs limit',
        'rounds',
        'busiest second',
        'same partner: with / without (/s)',
        'ratio',
        'other partner: with / without (/s)',
        'ratio',
      ],
      rows.map((r) => [
        r.dialect,
        String(r.limit),
        String(r.deliveries),
        r.achieved.toFixed(1),
        `${(((r.achieved - r.limit) / r.limit) * 100).toFixed(1)}%`,
        `${r.range[0].toFixed(1)}–${r.range[1].toFixed(1)}`,
        String(r.busiest),
        `${rate(r.same.with)} / ${rate(r.same.without)}`,
        ratio(r.same),
        `${rate(r.other.with)} / ${rate(r.other.without)}`,
        ratio(r.other),
      ]),
      ['left', 'right', 'right', 'right', 'right', 'right', 'right', 'right', 'right', 'right', 'right'],
    ),
  );
  console.log(
    `\nPartner A: an endpoint limited to the rate shown and ${UNLIMITED} unlimited endpoints; partner B: ${UNLIMITED} ` +
      `unlimited endpoints; one sink answering 200 at once. limit × ${SECONDS} decisions of each partner queued, each ` +
      `to every endpoint of its partner, then drained by one dispatcher with the shipped defaults; medians of ` +
      `${ROUNDS} round(s). Achieved: (deliveries − burst) / (last − first receipt), burst = ceil(limit / 10); ` +
      `rounds: the lowest and highest round. Busiest second: most receipts in any 1 s window (at most the limit ` +
      `plus its burst). With / without: the unlimited endpoints' deliveries per second, first receipt to last, ` +
      `with the limited endpoint and in a run without it (same decisions). ` +
      `Run took ${Math.round((Date.now() - started) / 1000)} s.`,
  );
  process.exit(0);
}

await main();
