/**
 * bench/noisy-partner: how long one partner's deliveries take while another partner's endpoints hold
 * their requests, against a clean run (issue 11).
 *
 * - clean: partner B's decisions, B_RATE a second for B_SECONDS, to B's one endpoint, which answers
 *   200 at once; latency from the decision's commit to the sink's first receipt of the event.
 * - noisy: the same, while partner A has A_ENDPOINTS endpoints that answer only after A_ANSWER_MS
 *   (longer than the attempt timeout, so each of A's attempts holds its slot for the whole timeout)
 *   and A_EVENTS × A_ENDPOINTS deliveries queued before B's first decision.
 *
 * The dispatcher runs in this process as `tpcs serve` runs it: createDispatcher with the shipped
 * defaults (256 slots, 8 per endpoint, a 15 s attempt timeout, the default per-partner share). The sink
 * runs in a process of its own. Clean and noisy runs are interleaved (ROUNDS each, on fresh databases)
 * and the medians of their p50 and p99 shown, since the machine is shared; the ratio is noisy over
 * clean.
 *
 * Usage: npx tsx bench/noisy-partner.ts [--quick] (or npm run bench -- noisy-partner). PostgreSQL rows
 * appear when the server answers (TEST_DATABASE_URL); BENCH_DIALECTS=sqlite (or postgres) runs one.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { recordComplianceDecision } from '../src/customers/decisions.js';
import { openStorage, type Storage } from '../src/storage/index.js';
import type { Store } from '../src/storage/store.js';
import { createDispatcher } from '../src/webhooks/dispatcher/dispatcher.js';
import { createRetryPolicy } from '../src/webhooks/dispatcher/retry-policy.js';
import { dropSchema, freshUrl } from './serve-api.js';
import { BENCH_SECRETS_KEY, describeMachine, markdownTable, median } from './table.js';

const QUICK = process.argv.includes('--quick');
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? (QUICK ? 1 : 3));
const A_ENDPOINTS = 40;
const A_EVENTS = 10; // × 40 endpoints: 400 deliveries queued
const A_ANSWER_MS = 60_000;
const B_RATE = 50;
const B_SECONDS = QUICK ? 2 : 4;
const TYPE = 'THIRD PARTY CUSTOMER STATUS';

// ---- the sink, in its own process: B's paths answer at once, A's after A_ANSWER_MS ----
const SINK = `
import http from 'node:http';
const first = new Map();
let toA = 0;
const server = http.createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    if (req.url.startsWith('/a')) {
      toA++;
      const timer = setTimeout(() => res.writeHead(200).end(), ${A_ANSWER_MS});
      res.on('close', () => clearTimeout(timer));
      return;
    }
    const id = req.headers['webhook-id'];
    if (!first.has(id)) first.set(id, performance.timeOrigin + performance.now());
    res.writeHead(200).end();
  });
});
server.keepAliveTimeout = 60000;
server.listen(0, '127.0.0.1', () => process.send({ port: server.address().port }));
process.on('message', (m) => {
  if (m === 'dump') process.send({ toA, first: [...first] });
  if (m === 'reset') { first.clear(); toA = 0; server.closeAllConnections(); process.send({ reset: true }); }
});
`;

interface SinkHandle {
  url: string;
  dump(): Promise<{ toA: number; first: Map<string, number> }>;
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
    async dump() {
      const m = await ask<{ toA: number; first: [string, number][] }>('dump');
      return { toA: m.toA, first: new Map(m.first) };
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
const ms = (n: number) => (Number.isNaN(n) ? '–' : n.toFixed(1));
const sleep = (n: number) => new Promise((r) => setTimeout(r, n));

/** A partner with endpoints posting to `urls` and `customers` third parties; its id and their refs. */
async function partnerWith(store: Store, urls: string[], customers: number) {
  const customerId = `0201${Math.floor(Math.random() * 1e12)
    .toString()
    .padStart(12, '0')}`;
  await store.createPartner({ customerId, name: 'bench', tokenHash: randomUUID(), createdAt: new Date() });
  for (const url of urls) {
    await store.createEndpoint({
      id: randomUUID(),
      customerId,
      url,
      description: null,
      eventTypes: [TYPE],
      secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
      createdAt: new Date(),
    });
  }
  const refs = Array.from({ length: customers }, (_, i) => `c${i}`);
  for (const ref of refs) {
    await store.createThirdParty({
      customerId,
      clientCustomerRef: ref,
      clientCustomerDetails: {},
      propertyDetails: [],
      createdAt: new Date(),
    });
  }
  return { customerId, refs };
}

/** One decision (APPROVED; each third party is decided once); its event id. */
async function decide(store: Store, customerId: string, ref: string): Promise<string> {
  const r = await recordComplianceDecision(store, {
    customerId,
    clientCustomerRef: ref,
    decision: { status: 'APPROVED' },
  });
  if (r.outcome !== 'changed') throw new Error(`decision: ${r.outcome}`);
  return r.event.eventId;
}

/** One run on a fresh database: B's latencies in ms, and how many of A's requests the sink got. */
async function run(
  dialect: 'sqlite' | 'postgres',
  dir: string,
  sink: SinkHandle,
  noisy: boolean,
): Promise<{ latencies: number[]; toA: number; missing: number } | undefined> {
  const url = await freshUrl(dialect, dir);
  if (!url) return undefined;
  const storage: Storage = await openStorage(url, { secrets: { key: BENCH_SECRETS_KEY } });
  const { store, queue } = storage;
  await sink.reset();
  const b = await partnerWith(store, [`${sink.url}/b`], B_RATE * B_SECONDS);
  if (noisy) {
    const urls = Array.from({ length: A_ENDPOINTS }, (_, i) => `${sink.url}/a${i}`);
    const a = await partnerWith(store, urls, A_EVENTS);
    for (const ref of a.refs) await decide(store, a.customerId, ref);
  }
  const dispatcher = createDispatcher({
    queue,
    allowPrivateEndpoints: true,
    policy: createRetryPolicy({ schedule: [1000], jitter: 'none' }),
    onError: (err) => console.error(`${dialect}: dispatcher:`, err),
  });
  dispatcher.start();
  // A's first attempts go out before B's first decision
  if (noisy) while ((await sink.dump()).toA === 0) await sleep(10);
  await sleep(200);

  const committed = new Map<string, number>();
  const t0 = now();
  const sent: Promise<void>[] = [];
  for (let i = 0; i < b.refs.length; i++) {
    const wait = t0 + (i * 1000) / B_RATE - now();
    if (wait > 1) await sleep(wait);
    const ref = b.refs[i] ?? '';
    sent.push(decide(store, b.customerId, ref).then((id) => void committed.set(id, now())));
  }
  await Promise.all(sent);
  // every event of B, or 60 s: the old claim made B wait for A's attempts to time out
  const deadline = now() + 60_000;
  let dump = await sink.dump();
  while ([...committed.keys()].some((id) => !dump.first.has(id)) && now() < deadline) {
    await sleep(50);
    dump = await sink.dump();
  }
  await dispatcher.stop(0);
  await storage.close();
  if (dialect === 'postgres') await dropSchema(url);
  const latencies = [...committed]
    .map(([id, at]) => (dump.first.get(id) ?? Number.NaN) - at)
    .filter((x) => !Number.isNaN(x));
  return { latencies, toA: dump.toA, missing: committed.size - latencies.length };
}

interface Row {
  dialect: string;
  p50: { clean: number; noisy: number };
  p99: { clean: number; noisy: number };
  toA: number;
}

async function main() {
  const started = now();
  const dir = mkdtempSync(join(tmpdir(), 'tpcs-bench-noisy-'));
  const sink = await startSink(dir);
  const rows: Row[] = [];
  try {
    const only = process.env.BENCH_DIALECTS?.split(',');
    for (const dialect of ['sqlite', 'postgres'] as const) {
      if (only && !only.includes(dialect)) continue;
      const runs = {
        clean: { p50: [] as number[], p99: [] as number[] },
        noisy: { p50: [] as number[], p99: [] as number[] },
      };
      let toA = 0;
      let reachable = true;
      for (let round = 0; round < ROUNDS && reachable; round++) {
        for (const noisy of [false, true]) {
          const r = await run(dialect, dir, sink, noisy);
          if (!r) {
            console.error(`${dialect}: unreachable, skipped`);
            reachable = false;
            break;
          }
          const k = noisy ? 'noisy' : 'clean';
          runs[k].p50.push(pct(r.latencies, 50));
          runs[k].p99.push(pct(r.latencies, 99));
          if (noisy) toA = Math.max(toA, r.toA);
          console.error(
            `${dialect} ${k} round ${round + 1}: B p50 ${ms(pct(r.latencies, 50))} p99 ${ms(pct(r.latencies, 99))} ms` +
              `${noisy ? `, requests A got ${r.toA}` : ''}${r.missing ? `, ${r.missing} of B's missing` : ''}`,
          );
        }
      }
      if (!reachable) continue;
      rows.push({
        dialect,
        p50: { clean: median(runs.clean.p50), noisy: median(runs.noisy.p50) },
        p99: { clean: median(runs.clean.p99), noisy: median(runs.noisy.p99) },
        toA,
      });
    }
  } finally {
    sink.close();
    rmSync(dir, { recursive: true, force: true });
  }
  console.log(`\n### A noisy partner (bench/noisy-partner${QUICK ? ' --quick' : ''})\n`);
  console.log(`Machine: ${describeMachine()}\n`);
  console.log(
    markdownTable(
      [
        'db',
        'requests A got (none answered)',
        'B p50 clean',
        'B p50 noisy',
        'B p99 clean',
        'B p99 noisy',
        'p99 noisy / clean',
      ],
      rows.map((r) => [
        r.dialect,
        String(r.toA),
        ms(r.p50.clean),
        ms(r.p50.noisy),
        ms(r.p99.clean),
        ms(r.p99.noisy),
        `${(r.p99.noisy / r.p99.clean).toFixed(2)}×`,
      ]),
      ['left', 'right', 'right', 'right', 'right', 'right', 'right'],
    ),
  );
  console.log(
    `\nPartner B: ${B_RATE} decisions/s for ${B_SECONDS} s to one endpoint answering at once; latency (ms) from the ` +
      `decision's commit to the sink's first receipt, median of ${ROUNDS} round(s). Noisy: partner A has ${A_ENDPOINTS} ` +
      `endpoints answering after ${A_ANSWER_MS / 1000} s and ${A_EVENTS * A_ENDPOINTS} deliveries queued first. One ` +
      `dispatcher with the shipped defaults (256 slots, 8 per endpoint, 15 s attempt timeout). ` +
      `Run took ${Math.round((now() - started) / 1000)} s.`,
  );
  process.exit(0);
}

await main();
