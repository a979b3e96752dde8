/**
 * The durable receiver (`tpcs receive`: verify, validate, SQLite inbox + status table, fsync before
 * 200) against a bare node:http server that answers 200 without work, in the same run.
 *
 *   npm run build && npx tsx bench/receiver.ts
 *
 * Both servers run as child processes; autocannon drives them over loopback from this process with
 * signed, seed-shaped events, each with its own event_id (a pre-generated pool, so signing costs the
 * load generator nothing). Phases: warm-up, maximum throughput, then a fixed 2,000 events/s.
 * Targets (issue 2 §5): receiver ≥ 40% of the bare server's events/s; p99 < 10 ms at 2,000/s.
 * The receiver runs twice, with SQLite synchronous=FULL (the default: fsync before every 200) and
 * NORMAL, and the fsync cost of the disk is measured in the same run, since it bounds FULL.
 * Total run time about 60 s (BENCH_SECONDS scales the measured phases, default 8).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import autocannon from 'autocannon';
import Database from 'better-sqlite3';
import { parseEvent } from '../src/contract/index.js';
import { generateSecret, signWebhook } from '../src/signing/index.js';
import { describeMachine, formatInteger, markdownTable, median } from './table.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 8);
const WARMUP_SECONDS = 3;
const CONNECTIONS = 10;
const FIXED_RATE = 2000;
const POOL_SIZE = 250_000;

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

/** Seed-shaped events (the REJECTED example's envelope), unique ids, 1,000 third parties, time moving forward. */
function signedPool(secret: string, size: number): Signed[] {
  const now = Math.floor(Date.now() / 1000);
  const start = Date.parse('2025-01-01T00:00:00Z');
  const pool: Signed[] = [];
  for (let i = 0; i < size; i++) {
    const id = `bench-${now}-${i}`;
    const rejected = i % 2 === 0;
    const reasons = rejected
      ? ',"reasons":[{"reason":"Compliance check failed due to validation or regulatory issues","code":"COMPLIANCE_CHECK_FAILED"}]'
      : '';
    const timestamp = new Date(start + i * 1000).toISOString().replace('.000Z', 'Z');
    const body = `{"event_id":"${id}","event_type":"THIRD PARTY CUSTOMER STATUS","version":"v1.0.0","event_timestamp":"${timestamp}","data":{"customer_id":"0201001008132685","client_customer_ref":"CUST_${i % 1000}","status":"${rejected ? 'REJECTED' : 'APPROVED'}"${reasons}}}`;
    const headers = {
      'content-type': 'application/json',
      ...signWebhook({ id, timestamp: now, body, secrets: [secret] }),
    };
    pool.push({ headers, body });
  }
  for (const sample of pool.slice(0, 2)) {
    if (!parseEvent(sample.body).ok) throw new Error(`bench event is invalid: ${sample.body}`);
  }
  return pool;
}

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
  pool: Signed[],
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
              const next = pool[cursor.next++ % pool.length] as Signed;
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

interface ReceiverResult {
  mode: 'full' | 'normal';
  max: Run;
  fixed: Run;
  rows: number;
  sent: number;
}

async function benchReceiver(
  mode: 'full' | 'normal',
  secret: string,
  pool: Signed[],
  dir: string,
): Promise<ReceiverResult> {
  const db = path.join(dir, `receiver-${mode}.db`);
  const args = [
    'bin/tpcs.js',
    'receive',
    '--port',
    '0',
    '--db',
    db,
    '--secret',
    secret,
    '--synchronous',
    mode,
  ];
  const receiver = await startChild(args, `tpcs receive (${mode})`);
  const cursor = { next: 0 }; // unique event_ids: every 200 is a new durable row
  await load(receiver.port, pool, cursor, WARMUP_SECONDS);
  const max = await load(receiver.port, pool, cursor, SECONDS);
  const fixed = await load(receiver.port, pool, cursor, SECONDS, FIXED_RATE);
  await stop(receiver.child);
  // Every 200 must be a row in the inbox after the receiver stopped.
  const check = new Database(db, { readonly: true });
  const rows = (check.prepare('SELECT count(*) AS n FROM inbox_events').get() as { n: number }).n;
  check.close();
  return { mode, max, fixed, rows, sent: cursor.next };
}

async function main(): Promise<void> {
  if (!fs.existsSync('dist/cli/index.js'))
    throw new Error('run `npm run build` first: the bench starts bin/tpcs.js');
  const secret = generateSecret();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tpcs-bench-'));
  const generated = Date.now();
  const pool = signedPool(secret, POOL_SIZE);
  console.error(`signed ${formatInteger(pool.length)} events in ${Date.now() - generated} ms`);
  const fsyncBefore = commitLatencyMs(dir);

  const bare = await startChild(['-e', BARE_SERVER], 'bare server');
  const bareCursor = { next: 0 };
  await load(bare.port, pool, bareCursor, WARMUP_SECONDS);
  const bareMax = await load(bare.port, pool, bareCursor, SECONDS);
  const bareFixed = await load(bare.port, pool, bareCursor, SECONDS / 2, FIXED_RATE);
  await stop(bare.child);

  const full = await benchReceiver('full', secret, pool, dir);
  const normal = await benchReceiver('normal', secret, pool, dir);
  const fsyncAfter = commitLatencyMs(dir);
  fs.rmSync(dir, { recursive: true, force: true });

  const ms = (v: number) => v.toFixed(2);
  const pct = (r: Run) => `${((r.eventsPerSecond / bareMax.eventsPerSecond) * 100).toFixed(0)}%`;
  const row = (name: string, r: Run, ratio: string) => [
    name,
    formatInteger(r.eventsPerSecond),
    ratio,
    ms(r.p50),
    ms(r.p99),
    String(r.non2xx + r.errors),
  ];
  const header = ['server', 'accepted events/s', 'vs bare', 'p50 ms', 'p99 ms', 'non-2xx + errors'];
  const align = ['left', 'right', 'right', 'right', 'right', 'right'] as const;
  const FULL_NAME = 'tpcs receive, synchronous=FULL (fsync before 200)';
  const NORMAL_NAME = 'tpcs receive, synchronous=NORMAL';
  console.log(
    `\nMachine: ${describeMachine()}; load average ${os
      .loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')}`,
  );
  console.log(
    `SQLite one-row FULL commit (one fsync) on this disk: median ${ms(fsyncBefore)} ms before, ${ms(fsyncAfter)} ms after the run`,
  );
  console.log(`\n### Maximum throughput (${CONNECTIONS} connections, ${SECONDS} s each, loopback)\n`);
  console.log(
    markdownTable(
      header,
      [
        row('bare node:http, 200 without work', bareMax, '100%'),
        row(FULL_NAME, full.max, pct(full.max)),
        row(NORMAL_NAME, normal.max, pct(normal.max)),
      ],
      [...align],
    ),
  );
  console.log(`\n### Fixed rate ${formatInteger(FIXED_RATE)} events/s (20 connections)\n`);
  console.log(
    markdownTable(
      header,
      [
        row(`bare node:http (${SECONDS / 2} s)`, bareFixed, ''),
        row(`${FULL_NAME} (${SECONDS} s)`, full.fixed, ''),
        row(`${NORMAL_NAME} (${SECONDS} s)`, normal.fixed, ''),
      ],
      [...align],
    ),
  );
  console.log('');
  for (const r of [full, normal]) {
    const ratio = r.max.eventsPerSecond / bareMax.eventsPerSecond;
    console.log(
      `${r.mode.toUpperCase()}: throughput ≥ 40% of bare: ${ratio >= 0.4 ? 'met' : 'MISSED'} (${(ratio * 100).toFixed(0)}%); ` +
        `p99 < 10 ms at ${formatInteger(FIXED_RATE)}/s: ${r.fixed.p99 < 10 ? 'met' : 'MISSED'} (${ms(r.fixed.p99)} ms); ` +
        `inbox rows after shutdown ${formatInteger(r.rows)} for ${formatInteger(r.max.accepted + r.fixed.accepted)} measured 200s ` +
        `(${formatInteger(r.sent)} requests incl. warm-up${r.sent > pool.length ? '; POOL WRAPPED: some were duplicates' : ', all event_ids unique'}).`,
    );
  }
}

await main();
