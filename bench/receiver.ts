/**
 * The durable receiver (`tpcs receive`: verify, validate, SQLite inbox + status table, 200 once the
 * event is committed) against a bare node:http server that answers 200 without work, in the same run.
 *
 *   npm run build && npx tsx bench/receiver.ts
 *
 * Both servers run as child processes; autocannon drives them over loopback from this process with
 * signed, seed-shaped events, each with its own event_id (a pre-generated pool, so signing costs the
 * load generator nothing). Phases: warm-up, maximum throughput in interleaved rounds (medians), then
 * a fixed 2,000 events/s.
 * Targets (issue 2 §5): receiver ≥ 40% of the bare server's events/s; p99 < 10 ms at 2,000/s.
 * The receiver runs twice: with SQLite synchronous=NORMAL (the default: a 200 survives a crash of the
 * process) and FULL (a 200 also waits for an fdatasync of the WAL, so it survives power loss); the
 * fsync cost of the disk is measured in the same run, since it bounds FULL at low concurrency.
 * Total run time about 70 s (BENCH_SCALE multiplies every phase, default 1). BENCH_CONNECTIONS sets the
 * concurrency of the maximum-throughput phase (default 10, autocannon's own default): more connections
 * mean larger group commits for the receiver. BENCH_ROUNDS sets the number of rounds (default 3).
 * BENCH_COMPARE=<path to another build's bin/tpcs.js> adds that build's receiver (NORMAL and FULL) to
 * the same interleaved rounds, for before/after comparisons on a machine whose load keeps changing.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import autocannon from 'autocannon';
import Database from 'better-sqlite3';
import { formatEventTimestamp, parseEvent } from '../src/contract/index.js';
import { generateSecret, signWebhook } from '../src/signing/index.js';
import { describeMachine, formatInteger, markdownTable, median } from './table.js';

const SCALE = Number(process.env.BENCH_SCALE ?? 1);
const WARMUP_SECONDS = 2 * SCALE;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const SLICE_SECONDS = 4 * SCALE;
const FIXED_SECONDS = 6 * SCALE;
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 10);
const FIXED_RATE = 2000;
// Enough unique events for the fastest receiver's every phase: a wrapped pool would turn requests into
// (cheaper) duplicates. The bench says so if it happens.
const POOL_SIZE = Number(process.env.BENCH_POOL ?? 500_000);

const BARE_SERVER = `
const http = require('node:http');
http.createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{"received":true}');
  });
}).listen(0, '127.0.0.1', function () { console.log(JSON.stringify({ msg: 'listening', port: this.address().port })); });
`;

interface Signed {
  headers: Record<string, string>;
  body: string;
}

/**
 * Seed-shaped events (the REJECTED example's envelope), unique ids, 1,000 third parties, time moving
 * forward. Only the signatures are computed ahead (the HMAC is the costly part); each request's body
 * and headers are rebuilt from its index on demand, so the load generator keeps a small heap and its
 * garbage collector does not slow the bare server's rounds more than the receivers'.
 */
class EventPool {
  readonly #now = Math.floor(Date.now() / 1000);
  readonly #signatures: string[] = [];

  constructor(secret: string, size: number) {
    for (let i = 0; i < size; i++) {
      const body = this.#body(i);
      const id = this.#id(i);
      this.#signatures.push(
        signWebhook({ id, timestamp: this.#now, body, secrets: [secret] })['webhook-signature'],
      );
    }
    for (const i of [0, 1]) {
      if (!parseEvent(this.#body(i)).ok) throw new Error(`bench event is invalid: ${this.#body(i)}`);
    }
  }

  get size(): number {
    return this.#signatures.length;
  }

  request(n: number): Signed {
    const i = n % this.#signatures.length;
    const id = this.#id(i);
    return {
      headers: {
        'content-type': 'application/json',
        'webhook-id': id,
        'webhook-timestamp': String(this.#now),
        'webhook-signature': this.#signatures[i] as string,
      },
      body: this.#body(i),
    };
  }

  #id(i: number): string {
    return `bench-${this.#now}-${i}`;
  }

  #body(i: number): string {
    const rejected = i % 2 === 0;
    const reasons = rejected
      ? ',"reasons":[{"reason":"Compliance check failed due to validation or regulatory issues","code":"COMPLIANCE_CHECK_FAILED"}]'
      : '';
    const timestamp = formatEventTimestamp(new Date(START_MS + i * 1000));
    return `{"event_id":"${this.#id(i)}","event_type":"THIRD PARTY CUSTOMER STATUS","version":"v1.0.0","event_timestamp":"${timestamp}","data":{"customer_id":"0201001008132685","client_customer_ref":"CUST_${i % 1000}","status":"${rejected ? 'REJECTED' : 'APPROVED'}"${reasons}}}`;
  }
}

const START_MS = Date.parse('2025-01-01T00:00:00Z');

async function startChild(args: string[], label: string): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${label} did not start`)), 15_000);
    // Keep reading stdout for the whole run (one log line per event): a full pipe would block the server.
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
      if (!line.includes('"listening"')) return;
      clearTimeout(timer);
      resolve((JSON.parse(line) as { port: number }).port);
    });
    child.on('exit', (code) => reject(new Error(`${label} exited with ${code}`)));
  });
  return { child, port };
}

async function stop(child: ChildProcess): Promise<void> {
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
}

interface Run {
  eventsPerSecond: number;
  p50: number;
  p99: number;
  non2xx: number;
  errors: number;
  accepted: number;
}

function load(
  port: number,
  pool: EventPool,
  cursor: { next: number },
  seconds: number,
  rate?: number,
): Promise<Run> {
  return new Promise((resolve, reject) => {
    autocannon(
      {
        url: `http://127.0.0.1:${port}`,
        connections: rate ? 20 : CONNECTIONS,
        duration: seconds,
        ...(rate ? { overallRate: rate } : {}),
        requests: [
          {
            method: 'POST',
            path: '/webhook',
            setupRequest: (request) => {
              const next = pool.request(cursor.next++);
              return { ...request, headers: next.headers, body: next.body };
            },
          },
        ],
      },
      (error, result) => {
        if (error) return reject(error);
        resolve({
          eventsPerSecond: result['2xx'] / result.duration,
          p50: result.latency.p50,
          p99: result.latency.p99,
          non2xx: result.non2xx,
          errors: result.errors,
          accepted: result['2xx'],
        });
      },
    );
  });
}

/** Median time of a one-row FULL commit in `dir`: what one fsync costs on this disk right now. */
function commitLatencyMs(dir: string): number {
  const db = new Database(path.join(dir, 'fsync-probe.db'));
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.exec('CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, body BLOB)');
  const insert = db.prepare('INSERT INTO t (body) VALUES (?)');
  const body = Buffer.alloc(300);
  const times: number[] = [];
  for (let i = 0; i < 200; i++) {
    const t = performance.now();
    insert.run(body);
    times.push(performance.now() - t);
  }
  db.close();
  return median(times);
}

interface Server {
  name: string;
  child: ChildProcess;
  port: number;
  /** Next pool index: each receiver gets every event_id once, so every 200 is a new durable row. */
  cursor: { next: number };
  db?: string;
  rounds: Run[];
  fixed?: Run;
}

async function startServers(secret: string, dir: string): Promise<Server[]> {
  const bare = await startChild(['-e', BARE_SERVER], 'bare server');
  const servers: Server[] = [
    { name: 'bare node:http, 200 without work', ...bare, cursor: { next: 0 }, rounds: [] },
  ];
  const builds: [string, string][] = [['bin/tpcs.js', '']];
  if (process.env.BENCH_COMPARE) builds.push([process.env.BENCH_COMPARE, ' [BENCH_COMPARE build]']);
  for (const [bin, suffix] of builds) {
    for (const mode of ['normal', 'full'] as const) {
      const db = path.join(dir, `receiver-${mode}${suffix ? '-compare' : ''}.db`);
      const args = [bin, 'receive', '--port', '0', '--db', db, '--secret', secret, '--synchronous', mode];
      const name =
        (mode === 'normal'
          ? 'tpcs receive, synchronous=NORMAL (default)'
          : 'tpcs receive, synchronous=FULL (fsync before 200)') + suffix;
      servers.push({ name, ...(await startChild(args, name)), cursor: { next: 0 }, db, rounds: [] });
    }
  }
  return servers;
}

function inboxRows(db: string): number {
  const check = new Database(db, { readonly: true });
  const rows = (check.prepare('SELECT count(*) AS n FROM inbox_events').get() as { n: number }).n;
  check.close();
  return rows;
}

async function main(): Promise<void> {
  if (!fs.existsSync('dist/cli/index.js'))
    throw new Error('run `npm run build` first: the bench starts bin/tpcs.js');
  const secret = generateSecret();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tpcs-bench-'));
  const generated = Date.now();
  const pool = new EventPool(secret, POOL_SIZE);
  console.error(`signed ${formatInteger(pool.size)} events in ${Date.now() - generated} ms`);
  const fsyncBefore = commitLatencyMs(dir);

  // All three run at once (idle when not driven); rounds interleave them so that a noisy neighbour
  // on this shared machine hurts each alike, and each figure is the median over the rounds.
  const servers = await startServers(secret, dir);
  for (const server of servers) await load(server.port, pool, server.cursor, WARMUP_SECONDS);
  for (let round = 0; round < ROUNDS; round++) {
    for (const server of servers)
      server.rounds.push(await load(server.port, pool, server.cursor, SLICE_SECONDS));
  }
  for (const server of servers) {
    const seconds = server.db ? FIXED_SECONDS : FIXED_SECONDS / 2;
    server.fixed = await load(server.port, pool, server.cursor, seconds, FIXED_RATE);
  }
  for (const server of servers) await stop(server.child);
  const fsyncAfter = commitLatencyMs(dir);

  const ms = (v: number) => v.toFixed(2);
  const summary = (runs: Run[]) => ({
    eventsPerSecond: median(runs.map((r) => r.eventsPerSecond)),
    p50: median(runs.map((r) => r.p50)),
    p99: median(runs.map((r) => r.p99)),
    failures: runs.reduce((sum, r) => sum + r.non2xx + r.errors, 0),
  });
  const [bare, ...receivers] = servers as [Server, ...Server[]];
  const bareSummary = summary(bare.rounds);
  const header = ['server', 'accepted events/s', 'vs bare', 'p50 ms', 'p99 ms', 'non-2xx + errors'];
  const align = ['left', 'right', 'right', 'right', 'right', 'right'] as const;

  console.log(
    `\nMachine: ${describeMachine()}; load average ${os
      .loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')}`,
  );
  console.log(
    `SQLite one-row FULL commit (one fsync) on this disk: median ${ms(fsyncBefore)} ms before, ${ms(fsyncAfter)} ms after`,
  );
  console.log(
    `\n### Maximum throughput (${CONNECTIONS} connections, loopback; median of ${ROUNDS} interleaved ${SLICE_SECONDS} s rounds)\n`,
  );
  console.log(
    markdownTable(
      header,
      servers.map((server) => {
        const s = summary(server.rounds);
        const ratio = `${((s.eventsPerSecond / bareSummary.eventsPerSecond) * 100).toFixed(0)}%`;
        return [
          server.name,
          formatInteger(s.eventsPerSecond),
          ratio,
          ms(s.p50),
          ms(s.p99),
          String(s.failures),
        ];
      }),
      [...align],
    ),
  );
  console.log(`\n### Fixed rate ${formatInteger(FIXED_RATE)} events/s (20 connections)\n`);
  console.log(
    markdownTable(
      ['server', 'accepted events/s', 'p50 ms', 'p99 ms', 'non-2xx + errors'],
      servers.map((server) => {
        const r = server.fixed as Run;
        const seconds = server.db ? FIXED_SECONDS : FIXED_SECONDS / 2;
        return [
          `${server.name} (${seconds} s)`,
          formatInteger(r.eventsPerSecond),
          ms(r.p50),
          ms(r.p99),
          String(r.non2xx + r.errors),
        ];
      }),
      ['left', 'right', 'right', 'right', 'right'],
    ),
  );
  console.log('');
  for (const server of receivers) {
    const s = summary(server.rounds);
    const fixed = server.fixed as Run;
    const ratio = s.eventsPerSecond / bareSummary.eventsPerSecond;
    const accepted = server.rounds.reduce((sum, r) => sum + r.accepted, 0) + fixed.accepted;
    const rows = inboxRows(server.db as string);
    console.log(
      `${server.name}: ≥ 40% of bare ${ratio >= 0.4 ? 'met' : 'MISSED'} (${(ratio * 100).toFixed(0)}%); ` +
        `p99 < 10 ms at ${formatInteger(FIXED_RATE)}/s ${fixed.p99 < 10 ? 'met' : 'MISSED'} (${ms(fixed.p99)} ms); ` +
        `inbox rows after shutdown ${formatInteger(rows)} ≥ measured 200s ${formatInteger(accepted)}: ${rows >= accepted ? 'yes' : 'NO'}` +
        `${server.cursor.next > pool.size ? ' (POOL WRAPPED: some requests were duplicates)' : ''}.`,
    );
  }
  fs.rmSync(dir, { recursive: true, force: true });
}

await main();
