/**
 * bench/delivery: how fast the dispatcher delivers, against a bare undici loop in the same run.
 *
 * A sink in its own process answers 200 at once (or never, on /hang) and notes when each webhook-id
 * first arrived. Decisions come in through the API: the Fastify app (`buildApp`, as `tpcs serve` runs
 * it, with the in-process wake-up) listens on a loopback port and the bench POSTs each decision with
 * undici; the dispatcher runs beside it in the same process, as inside `tpcs serve`. Latency runs from
 * sending the decision POST (an upper bound on the commit time: the 200 can arrive after the sink
 * already has the webhook) to the sink first seeing the webhook-id.
 *
 * - backlog: N events already committed, dispatcher started, time to drain → deliveries/s
 * - 100 endpoints: the same with 100 endpoints per partner (fan-out)
 * - paced: 500 events/s for a few seconds, latency from commit to the sink's receipt (p50/p99)
 * - paced + dead: the same with one more endpoint that never answers
 * - baseline: the same signed POSTs to the same sink from a bare undici Pool loop
 *
 * Usage: npx tsx bench/delivery.ts [--quick]. PostgreSQL rows appear when the server answers.
 */
import { fork } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { Pool } from 'undici';
import { buildApp } from '../src/http/app.js';
import { hashToken } from '../src/http/auth.js';
import { signWebhook } from '../src/signing/sign.js';
import { createStore } from '../src/storage/index.js';
import { openDeliveryQueue } from '../src/storage/queue.js';
import type { Store } from '../src/storage/store.js';
import { createDispatcher } from '../src/webhooks/dispatcher/dispatcher.js';
import { withDeliveryNotify } from '../src/webhooks/dispatcher/notify.js';
import { createRetryPolicy } from '../src/webhooks/dispatcher/retry-policy.js';
import { describeMachine, markdownTable } from './table.js';

const QUICK = process.argv.includes('--quick');
const BACKLOG = QUICK ? 2000 : 5000;
const FANOUT_EVENTS = QUICK ? 30 : 100;
const PACED_RATE = 500;
const PACED_SECONDS = QUICK ? 2 : 4;
const ADMIN_TOKEN = 'bench-admin-token';
const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const TYPE = 'THIRD PARTY CUSTOMER STATUS';
const PG_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

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

// ---- the platform side: partner, endpoints and customers set up in the store, decisions by the API ----
async function setup(store: Store, endpoints: string[], api: Pool) {
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
  let refs = 0;
  const flips = new Map<string, number>();
  return {
    customerId,
    /** One decision POSTed to the API; returns the event id and when the POST was sent. */
    async decide(ref = `c${refs++}`): Promise<{ eventId: string; postedAt: number }> {
      if (!flips.has(ref)) {
        flips.set(ref, 0);
        await store.createThirdParty({
          customerId,
          clientCustomerRef: ref,
          clientCustomerDetails: {},
          propertyDetails: [],
          createdAt: new Date(),
        });
      }
      const n = flips.get(ref) ?? 0;
      flips.set(ref, n + 1);
      const status = n % 2 ? 'REJECTED' : 'APPROVED';
      const body = JSON.stringify(
        status === 'REJECTED'
          ? { status, reasons: [{ code: 'COMPLIANCE_CHECK_FAILED', reason: 'bench' }] }
          : { status },
      );
      const postedAt = now();
      const r = await api.request({
        method: 'POST',
        path: `/api/v1/admin/customers/${customerId}/third-parties/${ref}/decision`,
        headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
        body,
      });
      const text = await r.body.text();
      if (r.statusCode !== 200) throw new Error(`decision: ${r.statusCode} ${text}`);
      const eventId = (JSON.parse(text) as { event: { event_id: string } | null }).event?.event_id;
      if (!eventId) throw new Error('decision emitted no event');
      return { eventId, postedAt };
    },
  };
}

async function freshUrl(dialect: 'sqlite' | 'postgres', dir: string): Promise<string | undefined> {
  if (dialect === 'sqlite') return `sqlite:${join(dir, `${randomUUID()}.db`)}`;
  const client = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: 2000 });
  try {
    await client.connect();
    const schema = `tpcs_bench_${randomUUID().replaceAll('-', '').slice(0, 10)}`;
    await client.query(`CREATE SCHEMA ${schema}`);
    const u = new URL(PG_URL);
    u.searchParams.set('schema', schema);
    return u.toString();
  } catch {
    return undefined;
  } finally {
    await client.end().catch(() => {});
  }
}

/** n decisions by 8 concurrent API clients (each on its own customers). */
async function writeConcurrently(n: number, one: () => Promise<unknown>) {
  let next = 0;
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (next++ < n) await one();
    }),
  );
}

interface Row {
  scenario: string;
  dialect: string;
  deliveries: number;
  perSecond: number;
  p50: number;
  p99: number;
}

async function scenario(
  name: string,
  dialect: 'sqlite' | 'postgres',
  dir: string,
  sink: SinkHandle,
  run: (
    ctx: Awaited<ReturnType<typeof setup>>,
    start: () => void,
  ) => Promise<{ committed: Map<string, number>; expected: number }>,
  endpoints: string[],
): Promise<Row | undefined> {
  const url = await freshUrl(dialect, dir);
  if (!url) return undefined;
  const store = await createStore(url);
  await store.migrate();
  const app = buildApp({
    store: withDeliveryNotify(store),
    adminTokenHash: hashToken(ADMIN_TOKEN),
    allowPrivateEndpoints: true,
  });
  const address = await app.listen({ host: '127.0.0.1', port: 0 });
  const api = new Pool(address, { connections: 16 });
  const queue = await openDeliveryQueue(url);
  const dispatcher = createDispatcher({
    queue,
    policy: createRetryPolicy({ schedule: [1000], jitter: 'none' }),
    allowPrivateEndpoints: true,
    perEndpoint: 32,
    pollIntervalMs: 200,
    onError: () => {},
  });
  await sink.reset();
  const ctx = await setup(store, endpoints, api);
  let t0 = 0;
  const { committed, expected } = await run(ctx, () => {
    t0 = now();
    dispatcher.start();
  });
  // wait until the sink has seen every expected id
  let seen = 0;
  const deadline = now() + 120_000;
  let dump = await sink.dump();
  while (now() < deadline) {
    dump = await sink.dump();
    seen = dump.requests;
    if (seen >= expected) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  const lastAt = dump.last;
  const latencies = [...committed]
    .map(([id, at]) => (dump.first.get(id) ?? Number.NaN) - at)
    .filter((x) => !Number.isNaN(x));
  await dispatcher.stop(100);
  await api.close();
  await app.close();
  await queue.close();
  await store.close();
  return {
    scenario: name,
    dialect,
    deliveries: dump.requests,
    perSecond: dump.requests / ((lastAt - t0) / 1000),
    p50: pct(latencies, 50),
    p99: pct(latencies, 99),
  };
}

async function main() {
  const dir = mkdtempSync(join(tmpdir(), 'tpcs-bench-delivery-'));
  const sink = await startSink(dir);
  const rows: Row[] = [];
  try {
    const baseRate = await baseline(sink.url, QUICK ? 5000 : 20_000);
    rows.push({
      scenario: 'baseline: bare undici loop, signed POSTs',
      dialect: '–',
      deliveries: QUICK ? 5000 : 20_000,
      perSecond: baseRate,
      p50: Number.NaN,
      p99: Number.NaN,
    });
    for (const dialect of ['sqlite', 'postgres'] as const) {
      const backlog = await scenario(
        `backlog ${BACKLOG} events, 1 endpoint`,
        dialect,
        dir,
        sink,
        async (ctx, start) => {
          await writeConcurrently(BACKLOG, () => ctx.decide());
          start();
          return { committed: new Map(), expected: BACKLOG };
        },
        [`${sink.url}/one`],
      );
      if (!backlog) {
        console.error(`${dialect}: unreachable, skipped`);
        continue;
      }
      rows.push(backlog);
      const fan = await scenario(
        `backlog ${FANOUT_EVENTS} events × 100 endpoints`,
        dialect,
        dir,
        sink,
        async (ctx, start) => {
          await writeConcurrently(FANOUT_EVENTS, () => ctx.decide());
          start();
          return { committed: new Map(), expected: FANOUT_EVENTS * 100 };
        },
        Array.from({ length: 100 }, (_, i) => `${sink.url}/fan${i}`),
      );
      if (fan) rows.push(fan);
      for (const dead of [false, true]) {
        const paced = await scenario(
          `${PACED_RATE} events/s for ${PACED_SECONDS} s, 1 endpoint${dead ? ' + 1 never answering' : ''}`,
          dialect,
          dir,
          sink,
          async (ctx, start) => {
            start();
            const committed = new Map<string, number>();
            const total = PACED_RATE * PACED_SECONDS;
            const t0 = now();
            // decisions are sent on schedule, not one after the other, so a slow answer does not lower the rate
            const sent: Promise<void>[] = [];
            for (let i = 0; i < total; i++) {
              const due = t0 + (i * 1000) / PACED_RATE;
              const wait = due - now();
              if (wait > 1) await new Promise((r) => setTimeout(r, wait));
              sent.push(
                ctx.decide(`p${i % 200}`).then(({ eventId, postedAt }) => {
                  committed.set(eventId, postedAt);
                }),
              );
            }
            await Promise.all(sent);
            return { committed, expected: total };
          },
          dead ? [`${sink.url}/paced`, `${sink.url}/hang`] : [`${sink.url}/paced`],
        );
        if (paced) rows.push(paced);
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
      ['scenario', 'db', 'requests', 'deliveries/s', 'p50 ms', 'p99 ms'],
      rows.map((r) => [r.scenario, r.dialect, fmt(r.deliveries), fmt(r.perSecond), ms(r.p50), ms(r.p99)]),
      ['left', 'left', 'right', 'right', 'right', 'right'],
    ),
  );
  console.log(
    '\nDecisions are POSTed to the API (Fastify app on a loopback port, as in tpcs serve); the dispatcher runs in the ' +
      'same process (per-endpoint bound 32); latency is from sending the decision POST (so it includes the API call and the commit) to the sink first seeing the webhook-id. ' +
      'For "paced" rows deliveries/s is the offered rate, not a maximum.',
  );
  process.exit(0);
}

await main();
