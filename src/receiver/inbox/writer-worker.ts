/**
 * The SQLite writer thread behind `createSqliteWorkerInbox`: it owns the only write connection, commits
 * each batch it is sent in one transaction (fsynced with synchronous=FULL) and answers once the commit
 * is done. Record requests that arrive while a commit (and its fsync) runs are queued by the port and
 * committed together in the next transaction: group commit without a round trip through the main
 * thread. WAL checkpoints run here too, between batches and never on the main thread: automatic
 * checkpoints are off on this connection and a PASSIVE checkpoint runs every CHECKPOINT_COMMITS commits
 * or CHECKPOINT_MS, whichever comes first, after the batch's answer has been posted.
 */
import { type MessagePort, parentPort, workerData } from 'node:worker_threads';
import type { InboxRow } from './row.js';
import { openSqliteDatabase, sqliteWriter } from './sqlite.js';
import {
  HANDLE_STALE,
  HAS_HANDLERS,
  OUTCOME_CODES,
  RECORD_COLUMNS,
  type WriterData,
  type WriterReply,
  type WriterRequest,
} from './writer-protocol.js';

const CHECKPOINT_COMMITS = 500;
const CHECKPOINT_MS = 250;

if (!parentPort) throw new Error('writer-worker.js runs as a worker thread');
const port: MessagePort = parentPort;
const { filename, synchronous } = workerData as WriterData;
const db = openSqliteDatabase(filename, synchronous);
db.pragma('wal_autocheckpoint = 0');
const writer = sqliteWriter(db, synchronous);

let commits = 0;
let lastCheckpoint = Date.now();
let checkpointQueued = false;
let idleTimer: NodeJS.Timeout | undefined;
let closed = false;

function checkpoint(): void {
  checkpointQueued = false;
  if (closed || commits === 0) return;
  commits = 0;
  lastCheckpoint = Date.now();
  try {
    db.pragma('wal_checkpoint(PASSIVE)');
  } catch {
    // Busy (another process reading or checkpointing): the next one catches up.
  }
}

function committed(): void {
  commits++;
  if (!checkpointQueued && (commits >= CHECKPOINT_COMMITS || Date.now() - lastCheckpoint >= CHECKPOINT_MS)) {
    checkpointQueued = true;
    // After the answers already posted, before the next batch is taken.
    setImmediate(checkpoint);
  }
  // When the load stops, the WAL is folded back soon rather than at the next busy period.
  if (!idleTimer) {
    idleTimer = setTimeout(() => {
      idleTimer = undefined;
      checkpoint();
    }, CHECKPOINT_MS);
    idleTimer.unref();
  }
}

type RecordRequest = Extract<WriterRequest, { 1: 'record' }>;

/** Record requests received since the last commit; committed together on the next turn. */
let queued: RecordRequest[] = [];
let commitQueued = false;

function toRows(message: RecordRequest, rows: InboxRow[]): number {
  const [, , json, bodies] = message;
  const columns = JSON.parse(json) as (string | number | null)[];
  let start = 0;
  for (let c = 0; c < columns.length; c += RECORD_COLUMNS) {
    const end = columns[c + 7] as number;
    rows.push({
      eventId: columns[c] as string,
      customerId: columns[c + 1] as string,
      clientCustomerRef: columns[c + 2] as string,
      status: columns[c + 3] as string,
      eventTimestamp: columns[c + 4] as string,
      reasons: (columns[c + 5] as string | null) ?? null,
      body: Buffer.from(bodies, start, end - start),
      receivedAt: columns[c + 6] as number,
    });
    start = end;
  }
  return columns.length / RECORD_COLUMNS;
}

function commitQueuedRecords(): void {
  commitQueued = false;
  const batch = queued;
  queued = [];
  if (batch.length === 0) return;
  // Requests with different flags (a handler subscribed in between) cannot share one transaction.
  for (let from = 0; from < batch.length; ) {
    const flags = (batch[from] as RecordRequest)[4];
    let to = from + 1;
    while (to < batch.length && (batch[to] as RecordRequest)[4] === flags) to++;
    commitRecords(batch.slice(from, to), flags);
    from = to;
  }
}

function commitRecords(batch: RecordRequest[], flags: number): void {
  const ids = batch.map((m) => m[0]);
  let reply: WriterReply;
  try {
    const rows: InboxRow[] = [];
    const counts = batch.map((message) => toRows(message, rows));
    const outcomes = writer.record(rows, {
      handlers: (flags & HAS_HANDLERS) !== 0,
      handleStale: (flags & HANDLE_STALE) !== 0,
    });
    committed();
    let codes = '';
    for (const outcome of outcomes) codes += OUTCOME_CODES[outcome];
    const results: string[] = [];
    let at = 0;
    for (const n of counts) {
      results.push(codes.slice(at, at + n));
      at += n;
    }
    reply = [ids, true, results];
  } catch (error) {
    reply = [ids, false, error instanceof Error ? error.message : String(error)];
  }
  port.postMessage(reply);
}

function run(message: Exclude<WriterRequest, RecordRequest>): unknown {
  switch (message[1]) {
    case 'handled':
      writer.markHandled(message[2], message[3]);
      committed();
      return undefined;
    case 'failed':
      writer.markFailed(message[2]);
      committed();
      return undefined;
    case 'close':
      closed = true;
      if (idleTimer) clearTimeout(idleTimer);
      db.close();
      return undefined;
  }
}

port.on('message', (message: WriterRequest) => {
  if (message[1] === 'record') {
    queued.push(message);
    if (!commitQueued) {
      commitQueued = true;
      // After every message the port already holds: they all join this transaction.
      setImmediate(commitQueuedRecords);
    }
    return;
  }
  // Anything else keeps its place in the order: records queued before it are committed first.
  commitQueuedRecords();
  let reply: WriterReply;
  try {
    reply = [[message[0]], true, [run(message)]];
  } catch (error) {
    reply = [[message[0]], false, error instanceof Error ? error.message : String(error)];
  }
  port.postMessage(reply);
  if (closed) port.close();
});
