import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import type Database from 'better-sqlite3';
import { ensurePrivateFile, restrictSqliteSidecars } from '../../secrets/files.js';
import { startCheckpointer } from '../../sqlite/checkpointer.js';
import { consoleLogger, type ReceiverLogger } from '../core/logger.js';
import { type WriteFailure, WriteHealth } from '../core/write-health.js';
import { supersedes, timestampMs } from './order.js';
import { type InboxRow, toInboxRow } from './row.js';
import { StatusProjection } from './status-projection.js';
import type {
  CustomerStatusRecord,
  HandlerFailure,
  InboxEvent,
  InboxStore,
  PendingEvent,
  RecordOptions,
  RecordOutcome,
} from './store.js';
import { WalSync } from './wal-sync.js';

export interface SqliteInboxOptions {
  /**
   * `NORMAL` (default): a commit reaches the operating system before `record` resolves, so a 200
   * survives a crash of the process (the case the inbox exists for); the last commits can be lost if
   * the machine itself loses power or the kernel crashes before it writes them out (then ask the
   * sender to replay). This is SQLite's own recommendation for WAL mode, and Rails' default.
   * `FULL`: `record` also waits for an fdatasync of the WAL, so a 200 survives power loss as far as the
   * disk honours fsync. The sync runs on libuv's thread pool and serves every commit made before it
   * started, so the event loop keeps working meanwhile; but each answer waits for the disk, which at
   * low concurrency bounds throughput (see docs/benchmarks.md).
   */
  synchronous?: 'FULL' | 'NORMAL';
  /**
   * Where the inbox reports its background writes failing (the status projection, on a full disk),
   * once per episode. Default: stderr. `createReceiver` passes its own logger to a file it opens.
   */
  logger?: ReceiverLogger;
}

/** The SQLite inbox; `database` is there for inspection (tests, ad-hoc queries), not for writing. */
export interface SqliteInbox extends InboxStore {
  readonly database: Database.Database;
  /** The status projection, while its writes fail (they are retried every second); else empty. */
  health(): WriteFailure[];
  /** A small write of its own (and the held-back statuses); rejects while the file takes no writes. */
  probe(): Promise<void>;
}

/** Numbered migrations; `PRAGMA user_version` records how many have run. Append only. */
const MIGRATIONS: readonly string[] = [
  `CREATE TABLE inbox_events (
     seq INTEGER PRIMARY KEY,
     event_id TEXT NOT NULL UNIQUE,
     customer_id TEXT NOT NULL,
     client_customer_ref TEXT NOT NULL,
     status TEXT NOT NULL,
     event_timestamp TEXT NOT NULL,
     body BLOB NOT NULL,
     received_at INTEGER NOT NULL,
     stale INTEGER NOT NULL,
     state TEXT NOT NULL,
     attempts INTEGER NOT NULL DEFAULT 0,
     next_attempt_at INTEGER NOT NULL,
     last_error TEXT,
     handled_at INTEGER
   );
   -- Pending rows in seq order: the worker's query walks this index and stops at its LIMIT, however
   -- large the backlog (an index on next_attempt_at would make it sort every due row).
   CREATE INDEX inbox_events_pending ON inbox_events (seq, next_attempt_at) WHERE state = 'pending';
   CREATE INDEX inbox_events_retry ON inbox_events (next_attempt_at) WHERE state = 'pending';
   CREATE TABLE customer_statuses (
     customer_id TEXT NOT NULL,
     client_customer_ref TEXT NOT NULL,
     status TEXT NOT NULL,
     reasons TEXT,
     event_timestamp TEXT NOT NULL,
     event_ts_ms INTEGER NOT NULL,
     event_id TEXT NOT NULL,
     updated_at INTEGER NOT NULL,
     PRIMARY KEY (customer_id, client_customer_ref)
   ) WITHOUT ROWID;`,
  // customer_statuses is a projection of inbox_events up to projected_seq (status-projection.ts).
  // Every earlier version updated it in the record transaction, so it is complete up to now.
  `CREATE TABLE inbox_meta (projected_seq INTEGER NOT NULL);
   INSERT INTO inbox_meta (projected_seq) SELECT coalesce(max(seq), 0) FROM inbox_events;`,
  // Ties on event_timestamp go to the later arrival (order.ts), so the status row keeps its event's seq.
  `ALTER TABLE customer_statuses ADD COLUMN event_seq INTEGER NOT NULL DEFAULT 0;
   UPDATE customer_statuses SET event_seq = coalesce(
     (SELECT seq FROM inbox_events e WHERE e.event_id = customer_statuses.event_id), 0);`,
];

interface StatusRow {
  customer_id: string;
  client_customer_ref: string;
  status: string;
  reasons: string | null;
  event_timestamp: string;
  event_id: string;
  updated_at: number;
}

interface EventRow {
  seq: number;
  event_id: string;
  customer_id: string;
  client_customer_ref: string;
  status: string;
  event_timestamp: string;
  stale: number;
  state: string;
  attempts: number;
  last_error: string | null;
  received_at: number;
  handled_at: number | null;
}

/**
 * The default inbox: one SQLite file (WAL mode), created with its folder if missing. Writes run on the
 * calling thread, in batches (group commit); the fsync of `FULL` runs on libuv's thread pool, and with
 * `NORMAL` WAL checkpoints run on a thread of their own, so neither stops the event loop. (The default for
 * `createReceiver` with a file path and for `tpcs receive`.)
 *
 * @example
 * ```ts
 * const receiver = createReceiver({ secrets: [secret], inbox: createSqliteInbox('./data/inbox.db') });
 * ```
 */
export function createSqliteInbox(filename: string, options: SqliteInboxOptions = {}): SqliteInbox {
  // FULL is kept by an fdatasync of the WAL on the thread pool after each (NORMAL) commit: the event
  // loop goes on with the next batch meanwhile, instead of stopping for SQLite's own fsync.
  const full = options.synchronous === 'FULL' && filename !== ':memory:';
  const db = openSqliteDatabase(filename);
  let walSync: WalSync | undefined;
  try {
    walSync = full ? new WalSync(`${db.name}-wal`) : undefined;
  } catch (error) {
    db.close();
    throw error;
  }
  // Checkpoints on their own thread, except with FULL: there, the thread's copy into the database file
  // left dirty pages that the next WAL fdatasync had to wait for (ext4 flushes them in the same journal
  // commit), and p99 at 2,000 events/s went from 3–5 ms to 17–22 ms. Inline, each checkpoint runs
  // between two commits, at SQLite's default 1,000 pages.
  // The backstop stays at the 4,000 pages openSqliteDatabase sets.
  const logger = options.logger ?? consoleLogger;
  const checkpointer =
    filename === ':memory:' || full
      ? undefined
      : startCheckpointer(db, {
          intervalMs: 100,
          warn: (message) => logger.warn({ file: db.name }, message),
        });
  if (full) db.pragma('wal_autocheckpoint = 1000');
  const writer = sqliteWriter(db);
  const reader = sqliteReader(db);
  let closed = false;
  // Statuses are written in batches of their own (StatusProjection): soon after a record, at once when
  // many are waiting, and always before a status is read. A write that fails (a full disk) keeps them
  // in memory and is tried again every PROJECT_RETRY_MS: it must never throw out of a timer, which
  // would end the process.
  const projection = new WriteHealth(logger, 'status projection');
  let projectTimer: NodeJS.Timeout | undefined;
  /** Writes the held-back statuses now; throws what the write threw, with a retry scheduled. */
  const project = () => {
    if (projectTimer) clearTimeout(projectTimer);
    projectTimer = undefined;
    if (closed || writer.pendingStatuses === 0) return;
    try {
      writer.projectStatuses();
      projection.succeeded();
    } catch (error) {
      projection.failed(error, 'statuses are kept in memory and status reads answered 503 until it can');
      projectTimer = setTimeout(projectInBackground, PROJECT_RETRY_MS).unref();
      throw error;
    }
  };
  const projectInBackground = () => {
    try {
      project();
    } catch {
      // Noted by `projection`, and tried again.
    }
  };
  const scheduleProjection = () => {
    // While failing, the retry timer (always armed then) writes these too: one more write per record
    // would only fail again.
    if (projection.failure) return;
    if (writer.pendingStatuses >= MAX_PENDING_STATUSES) projectInBackground();
    else if (writer.pendingStatuses > 0 && !projectTimer) {
      projectTimer = setTimeout(projectInBackground, PROJECT_AFTER_MS).unref();
    }
  };
  return {
    ...reader,
    health: () => (projection.failure ? [projection.failure] : []),
    async probe() {
      if (closed) throw new Error('the inbox is closed');
      // After a failed fdatasync nothing written since is known to be durable: only a restart recovers.
      if (walSync?.failure) throw walSync.failure;
      writer.touch();
      project();
    },
    async getStatus(customerId, clientCustomerRef) {
      project();
      return reader.getStatus(customerId, clientCustomerRef);
    },
    async listStatuses(query) {
      project();
      return reader.listStatuses(query);
    },
    // Each batch commits at once and waits for its sync, so batches overlap with the sync before them.
    groupsConcurrentRecords: walSync !== undefined,
    async record(entries, options) {
      if (entries.length === 0) return [];
      const outcomes = writer.record(entries.map(toInboxRow), options);
      scheduleProjection();
      if (walSync) await walSync.durable();
      return outcomes;
    },
    // Handler bookkeeping does not wait for a sync, even with FULL: losing it to a power cut only runs
    // a handler again, which at-least-once allows; a sync per worker batch would halve the events taken.
    async markHandled(seqs, at) {
      writer.markHandled(seqs, at);
    },
    async markFailed(failures) {
      writer.markFailed(failures);
    },
    async close() {
      if (closed) return;
      try {
        project();
      } catch {
        // Not written (disk full): the next open replays them from the inbox rows (StatusProjection.recover).
      }
      closed = true;
      if (projectTimer) clearTimeout(projectTimer);
      await walSync?.close();
      await checkpointer?.stop();
      db.close();
    },
  };
}

/** How long a recorded status may wait to be written with others, and how many may wait. */
const PROJECT_AFTER_MS = 50;
const MAX_PENDING_STATUSES = 2000;
/** How often a failed status write is tried again (a full disk may be freed at any time). */
const PROJECT_RETRY_MS = 1000;

/** Opens (creating if needed) and migrates the inbox file: WAL mode, `synchronous=NORMAL`. */
function openSqliteDatabase(filename: string): Database.Database {
  if (filename !== ':memory:') fs.mkdirSync(path.dirname(path.resolve(filename)), { recursive: true });
  // Loaded on first use, not at import: `tpcs/receiver` then also loads where the native module does
  // not (Bun, a platform without a prebuilt binary), as long as an InboxStore is passed.
  const BetterSqlite3 = createRequire(import.meta.url)('better-sqlite3') as typeof Database;
  // the inbox holds partners' customer data: readable by this user only (0600, and so its -wal/-shm)
  if (filename !== ':memory:') ensurePrivateFile(filename);
  const db = new BetterSqlite3(filename);
  try {
    db.pragma('journal_mode = WAL');
    if (filename !== ':memory:') restrictSqliteSidecars(filename);
    db.pragma('synchronous = NORMAL');
    // SQLite checkpoints inside the commit that crosses this many WAL pages. 4,000 (16 MiB) instead of
    // 1,000: a page written many times (random event_id index leaves, busy status rows) is copied once
    // per checkpoint. With UUID event ids that cut the write from 21 to 17 µs per event (batches of 8).
    db.pragma('wal_autocheckpoint = 4000');
    // Another process (a second receiver, a backup) holding the lock briefly should not fail a request.
    db.pragma('busy_timeout = 5000');
    migrate(db);
  } catch (error) {
    db.close();
    throw error;
  }
  return db;
}

/** The write half of the inbox, synchronous. */
interface SqliteWriter {
  record(rows: readonly InboxRow[], options: RecordOptions): RecordOutcome[];
  /** Writes the statuses held back (see StatusProjection). */
  projectStatuses(): void;
  /** Statuses held back, not yet written. */
  readonly pendingStatuses: number;
  markHandled(seqs: readonly number[], at: number): void;
  markFailed(failures: readonly HandlerFailure[]): void;
  /** A one-row write of its own (no change in value): whether the file takes writes now. */
  touch(): void;
}

function sqliteWriter(db: Database.Database): SqliteWriter {
  const statuses = new StatusProjection(db);
  statuses.recover();
  // Positional parameters: binding by name costs a lookup per column on the hottest statement.
  const insertEvent = db.prepare<
    [string, string, string, string, string, Buffer, number, number, string, number, number | null]
  >(
    `INSERT INTO inbox_events (event_id, customer_id, client_customer_ref, status, event_timestamp, body,
       received_at, stale, state, next_attempt_at, handled_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
     ON CONFLICT (event_id) DO NOTHING`,
  );
  const updateHandled = db.prepare<[number, number]>(
    `UPDATE inbox_events SET state = 'handled', handled_at = ? WHERE seq = ? AND state = 'pending'`,
  );
  const updateFailed = db.prepare<[string, number, number]>(
    `UPDATE inbox_events SET attempts = attempts + 1, last_error = ?, next_attempt_at = ? WHERE seq = ?`,
  );
  // SQLite writes the row's page even though no value changes, so this commits a WAL frame.
  const touchMeta = db.prepare('UPDATE inbox_meta SET projected_seq = projected_seq');
  const updateGaveUp = db.prepare<[string, number]>(
    `UPDATE inbox_events SET attempts = attempts + 1, last_error = ?, state = 'failed' WHERE seq = ?`,
  );

  const recordBatch = db.transaction((rows: readonly InboxRow[], options: RecordOptions) => {
    const outcomes: RecordOutcome[] = [];
    for (const row of rows) {
      const { eventId, customerId, clientCustomerRef: ref, eventTimestamp, body, receivedAt } = row;
      const tsMs = timestampMs(eventTimestamp);
      const stale = !supersedes(tsMs, statuses.current(customerId, ref));
      const state = stale && !options.handleStale ? 'skipped' : options.handlers ? 'pending' : 'handled';
      const inserted = insertEvent.run(
        eventId,
        customerId,
        ref,
        row.status,
        eventTimestamp,
        Buffer.isBuffer(body) ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength),
        receivedAt,
        stale ? 1 : 0,
        state,
        receivedAt,
        state === 'handled' ? receivedAt : null,
      );
      if (inserted.changes === 0) {
        outcomes.push('duplicate');
        continue;
      }
      const seq = Number(inserted.lastInsertRowid);
      if (stale) {
        statuses.skip(seq);
        outcomes.push('stale');
        continue;
      }
      statuses.remember(row, tsMs, seq);
      outcomes.push('recorded');
    }
    return outcomes;
  });
  const markHandledBatch = db.transaction((seqs: readonly number[], at: number) => {
    for (const seq of seqs) updateHandled.run(at, seq);
  });
  const markFailedBatch = db.transaction((failures: readonly HandlerFailure[]) => {
    for (const { seq, error, retryAt } of failures) {
      if (retryAt === null) updateGaveUp.run(error, seq);
      else updateFailed.run(error, retryAt, seq);
    }
  });

  return {
    record(rows, options) {
      if (rows.length === 0) return [];
      let committed = false;
      try {
        // IMMEDIATE: the write lock first (waiting up to busy_timeout). A deferred transaction reads the
        // statuses first, and if another connection on the file (a second process) commits before its
        // first write, SQLite fails it at once with "database is locked".
        const outcomes = recordBatch.immediate(rows, options);
        committed = true;
        return outcomes;
      } finally {
        statuses.settle(committed);
      }
    },
    projectStatuses() {
      statuses.project();
    },
    get pendingStatuses() {
      return statuses.pending;
    },
    markHandled(seqs, at) {
      if (seqs.length > 0) markHandledBatch(seqs, at);
    },
    markFailed(failures) {
      if (failures.length > 0) markFailedBatch(failures);
    },
    touch() {
      touchMeta.run();
    },
  };
}

type SqliteReads = Pick<
  SqliteInbox,
  'database' | 'due' | 'nextDueAt' | 'getEvent' | 'getStatus' | 'listStatuses'
>;

/** The read half of the inbox, on the writes' connection. */
function sqliteReader(db: Database.Database): SqliteReads {
  const selectDue = db.prepare<
    [number, number],
    { seq: number; event_id: string; body: Buffer; stale: number; attempts: number; received_at: number }
  >(
    `SELECT seq, event_id, body, stale, attempts, received_at FROM inbox_events
     WHERE state = 'pending' AND next_attempt_at <= ? ORDER BY seq LIMIT ?`,
  );
  const selectNextDue = db.prepare<[], { at: number | null }>(
    `SELECT min(next_attempt_at) AS at FROM inbox_events WHERE state = 'pending'`,
  );
  const selectEvent = db.prepare<[string], EventRow>(
    `SELECT seq, event_id, customer_id, client_customer_ref, status, event_timestamp, stale, state, attempts,
       last_error, received_at, handled_at FROM inbox_events WHERE event_id = ?`,
  );
  const statusColumns =
    'customer_id, client_customer_ref, status, reasons, event_timestamp, event_id, updated_at';
  const selectStatus = db.prepare<[string, string], StatusRow>(
    `SELECT ${statusColumns} FROM customer_statuses WHERE customer_id = ? AND client_customer_ref = ?`,
  );
  const selectStatusesOf = db.prepare<[string, number], StatusRow>(
    `SELECT ${statusColumns} FROM customer_statuses WHERE customer_id = ? ORDER BY client_customer_ref LIMIT ?`,
  );
  const selectAllStatuses = db.prepare<[number], StatusRow>(
    `SELECT ${statusColumns} FROM customer_statuses ORDER BY customer_id, client_customer_ref LIMIT ?`,
  );

  return {
    database: db,
    async due(now, limit): Promise<PendingEvent[]> {
      return selectDue.all(now, limit).map((r) => ({
        seq: r.seq,
        eventId: r.event_id,
        body: r.body,
        stale: r.stale === 1,
        attempts: r.attempts,
        receivedAt: r.received_at,
      }));
    },
    async nextDueAt() {
      return selectNextDue.get()?.at ?? undefined;
    },
    async getEvent(eventId) {
      const row = selectEvent.get(eventId);
      return row && toInboxEvent(row);
    },
    async getStatus(customerId, clientCustomerRef) {
      const row = selectStatus.get(customerId, clientCustomerRef);
      return row && toStatusRecord(row);
    },
    async listStatuses(query = {}) {
      const limit = query.limit ?? 1000;
      const rows =
        query.customerId === undefined
          ? selectAllStatuses.all(limit)
          : selectStatusesOf.all(query.customerId, limit);
      return rows.map(toStatusRecord);
    },
  };
}

function migrate(db: Database.Database): void {
  db.transaction(() => {
    // Read inside the (IMMEDIATE, write-locked) transaction so two processes opening one file race safely.
    const version = db.pragma('user_version', { simple: true }) as number;
    for (let i = version; i < MIGRATIONS.length; i++) db.exec(MIGRATIONS[i] as string);
    db.pragma(`user_version = ${MIGRATIONS.length}`);
  }).immediate();
}

function toStatusRecord(row: StatusRow): CustomerStatusRecord {
  return {
    customerId: row.customer_id,
    clientCustomerRef: row.client_customer_ref,
    status: row.status as CustomerStatusRecord['status'],
    reasons: row.reasons === null ? null : (JSON.parse(row.reasons) as CustomerStatusRecord['reasons']),
    eventTimestamp: row.event_timestamp,
    eventId: row.event_id,
    updatedAt: new Date(row.updated_at),
  };
}

function toInboxEvent(row: EventRow): InboxEvent {
  return {
    seq: row.seq,
    eventId: row.event_id,
    customerId: row.customer_id,
    clientCustomerRef: row.client_customer_ref,
    status: row.status as InboxEvent['status'],
    eventTimestamp: row.event_timestamp,
    stale: row.stale === 1,
    state: row.state as InboxEvent['state'],
    attempts: row.attempts,
    lastError: row.last_error,
    receivedAt: new Date(row.received_at),
    handledAt: row.handled_at === null ? null : new Date(row.handled_at),
  };
}
