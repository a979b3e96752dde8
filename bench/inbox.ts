/**
 * The receiver inbox's write path in-process, µs per event: `inbox.record(batch)` on a fresh
 * createSqliteInbox file (synchronous NORMAL, the default) against a bare better-sqlite3 table in the
 * same run (WAL, synchronous NORMAL, one `INSERT … ON CONFLICT (event_id) DO NOTHING` per event, one
 * transaction per batch): the floor for "durably keep the bytes, deduped by id".
 *
 *   npx tsx bench/inbox.ts
 *
 * Batches of 1, 5 and 20 events, with sequential event ids (`bench-000001`, …) and random UUIDs (what
 * the platform sends), plus the inbox with synchronous FULL at batches of 5 (each record waits for an
 * fdatasync of the WAL). Events are seed-shaped, made by the contract's builder before timing. The
 * loop yields to the event loop every 10 ms, as a server would, so the inbox's 50 ms status-projection
 * timer runs; the statuses still waiting at the end are written (a status read) inside the timed span.
 * Opening and closing are not timed. Three interleaved rounds, medians. BENCH_EVENTS sets the events per
 * measurement (default 60,000). Total run time about a minute.
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import Database from 'better-sqlite3';
import { buildEvent } from '../src/contract/index.js';
import { createSqliteInbox } from '../src/receiver/inbox/sqlite.js';
import type { InboxEntry } from '../src/receiver/inbox/store.js';
import { describeMachine, markdownTable, median } from './table.js';

const EVENTS = Number(process.env.BENCH_EVENTS ?? 60_000);
const ROUNDS = 3;
const BATCH_SIZES = [1, 5, 20];
const ID_KINDS = ['sequential', 'uuid'] as const;
type IdKind = (typeof ID_KINDS)[number];
const REASON = 'Compliance check failed due to validation or regulatory issues';

/** What a measurement drives: the inbox or the bare table. */
interface Target {
  record(batch: readonly InboxEntry[]): unknown;
  /** Finishes deferred work inside the timed span (the inbox's status projection). */
  finish(): unknown;
  close(): unknown;
}

function buildEntries(ids: IdKind): InboxEntry[] {
  const start = Date.parse('2025-01-01T00:00:00Z');
  return Array.from({ length: EVENTS }, (_, i) => {
    // The sender's own builder: a valid, seed-shaped event and its exact text.
    const { event, json } = buildEvent({
      eventId: ids === 'uuid' ? randomUUID() : `bench-${String(i).padStart(6, '0')}`,
      timestamp: new Date(start + i * 1000),
      customerId: '0201001008132685',
      clientCustomerRef: `CUST_${i % 1000}`,
      status: 'REJECTED',
      reasons: [{ reason: REASON, code: 'COMPLIANCE_CHECK_FAILED' }],
    });
    return { event, body: Buffer.from(json), receivedAt: start };
  });
}

function openInbox(file: string, synchronous: 'NORMAL' | 'FULL'): Target {
  const inbox = createSqliteInbox(file, { synchronous });
  return {
    async record(batch) {
      const outcomes = await inbox.record(batch, { handlers: false, handleStale: false });
      if (outcomes.some((outcome) => outcome !== 'recorded')) throw new Error('an event was not recorded');
    },
    finish: () => inbox.getStatus('0201001008132685', 'CUST_0'),
    close: () => inbox.close(),
  };
}

function openBaseline(file: string): Target {
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.exec('CREATE TABLE events (seq INTEGER PRIMARY KEY, event_id TEXT NOT NULL UNIQUE, body BLOB NOT NULL)');
  const insert = db.prepare<[string, Uint8Array]>(
    'INSERT INTO events (event_id, body) VALUES (?, ?) ON CONFLICT (event_id) DO NOTHING',
  );
  const recordBatch = db.transaction((batch: readonly InboxEntry[]) => {
    for (const { event, body } of batch) insert.run(event.event_id, body);
  });
  return { record: recordBatch, finish: () => {}, close: () => db.close() };
}

interface Config {
  /** `inbox`, `baseline` or `inbox FULL`, with the batch size and ids: the key of its samples. */
  key: string;
  open: (file: string) => Target;
  batches: InboxEntry[][];
  samples: number[];
}

/** µs per event for one configuration, on a fresh database file. */
async function measure(config: Config): Promise<number> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tpcs-bench-inbox-'));
  const target = config.open(path.join(dir, 'inbox.db'));
  await sleep(200); // lets the inbox's checkpointer thread start before the clock does
  const start = performance.now();
  let yielded = start;
  for (const batch of config.batches) {
    await target.record(batch);
    if (performance.now() - yielded > 10) {
      await new Promise((resolve) => setImmediate(resolve));
      yielded = performance.now();
    }
  }
  await target.finish();
  const elapsed = performance.now() - start;
  await target.close();
  fs.rmSync(dir, { recursive: true, force: true });
  return (elapsed * 1000) / EVENTS;
}

const started = Date.now();
const entries = { sequential: buildEntries('sequential'), uuid: buildEntries('uuid') };
const configs = new Map<string, Config>();
const add = (label: string, batch: number, ids: IdKind, open: (file: string) => Target) => {
  const all = entries[ids];
  const batches = Array.from({ length: Math.ceil(all.length / batch) }, (_, i) =>
    all.slice(i * batch, (i + 1) * batch),
  );
  const key = `${label} ${batch} ${ids}`;
  configs.set(key, { key, open, batches, samples: [] });
};
for (const batch of BATCH_SIZES) {
  for (const ids of ID_KINDS) {
    add('inbox', batch, ids, (file) => openInbox(file, 'NORMAL'));
    add('baseline', batch, ids, openBaseline);
  }
}
add('inbox FULL', 5, 'sequential', (file) => openInbox(file, 'FULL'));

for (let round = 0; round < ROUNDS; round++) {
  for (const config of configs.values()) config.samples.push(await measure(config));
}

const result = (key: string) => median(configs.get(key)?.samples ?? []);
const rows: string[][] = [];
const row = (batch: number, ids: IdKind, label: string, idsCell: string) => {
  const inbox = result(`${label} ${batch} ${ids}`);
  const baseline = result(`baseline ${batch} ${ids}`);
  const ratio = `${(inbox / baseline).toFixed(2)}×`;
  rows.push([String(batch), idsCell, inbox.toFixed(1), baseline.toFixed(1), ratio]);
};
for (const batch of BATCH_SIZES) for (const ids of ID_KINDS) row(batch, ids, 'inbox', ids);
row(5, 'sequential', 'inbox FULL', 'sequential, inbox synchronous FULL');

console.log(`Machine: ${describeMachine()}`);
console.log(
  `${EVENTS.toLocaleString('en-US')} events per measurement; median of ${ROUNDS} interleaved rounds.\n`,
);
const header = ['batch', 'ids', 'inbox µs/event', 'baseline µs/event', 'inbox/baseline'];
console.log(markdownTable(header, rows, ['right', 'left', 'right', 'right', 'right']));
console.log(`\n(${((Date.now() - started) / 1000).toFixed(1)} s)`);
