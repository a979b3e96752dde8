import type { Worker } from 'node:worker_threads';
import {
  createSqliteInbox,
  openSqliteDatabase,
  type SqliteInbox,
  type SqliteInboxOptions,
  sqliteReader,
} from './sqlite.js';
import type { RecordOutcome } from './store.js';
import { startInboxThread } from './thread.js';
import {
  HANDLE_STALE,
  HAS_HANDLERS,
  OUTCOME_CODES,
  RECORD_COLUMNS,
  type WriterData,
  type WriterReply,
  type WriterRequest,
} from './writer-protocol.js';

/**
 * The SQLite inbox with its writes on a worker thread (opt-in). The writer thread owns the only write
 * connection and commits each batch (calls that arrive while a commit runs share the next one), fsync
 * and checkpoints included; `record` resolves once that commit is done, so "durable before 200" holds
 * exactly as with {@link createSqliteInbox}. Reads run on the calling thread on their own connection:
 * in WAL mode they never wait for the writer and see every commit that has resolved. On two cores
 * shared with the load it measured slower than {@link createSqliteInbox}, whose commits cost the event
 * loop less than the messages to a thread (bench/receiver); it is kept for machines with cores to spare.
 *
 * Close it (`close()`) to end the thread; an unclosed inbox does not keep the process alive while idle.
 * If the thread fails, every pending and later write rejects (the receiver answers 503).
 *
 * @example
 * ```ts
 * const receiver = createReceiver({ secrets: [secret], inbox: createSqliteWorkerInbox('./data/inbox.db') });
 * ```
 */
export function createSqliteWorkerInbox(filename: string, options: SqliteInboxOptions = {}): SqliteInbox {
  // A memory database belongs to one connection, so it cannot be shared with a thread.
  if (filename === ':memory:') return createSqliteInbox(filename, options);
  // The same default as createSqliteInbox: NORMAL (a 200 survives a crash of the process).
  const synchronous = options.synchronous === 'FULL' ? 'FULL' : 'NORMAL';
  // Opened here first, synchronously: a bad path or a corrupt file fails the caller now, and migrations
  // have run before the writer starts.
  const db = openSqliteDatabase(filename, synchronous);
  const reader = sqliteReader(db);

  let worker: Worker;
  try {
    worker = startInboxThread('writer-worker', { filename, synchronous } satisfies WriterData);
  } catch (error) {
    db.close();
    throw error;
  }
  worker.unref();
  const waiting = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();
  let nextId = 1;
  let failure: Error | undefined;
  let closing: Promise<void> | undefined;

  const failAll = (error: Error) => {
    failure ??= error;
    for (const w of waiting.values()) w.reject(failure);
    waiting.clear();
  };
  worker.on('message', (reply: WriterReply) => {
    const [ids, ok, result] = reply;
    const error = ok ? undefined : new Error(result as string);
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i] as number;
      const w = waiting.get(id);
      if (!w) continue;
      waiting.delete(id);
      if (error) w.reject(error);
      else w.resolve((result as unknown[])[i]);
    }
    if (waiting.size === 0) worker.unref();
  });
  worker.on('error', (error) => failAll(new Error(`the inbox writer thread failed: ${error.message}`)));
  worker.on('exit', (code) => failAll(new Error(`the inbox writer thread exited (code ${code})`)));

  function call(message: WriterRequest, transfer?: ArrayBuffer[]): Promise<unknown> {
    if (failure) return Promise.reject(failure);
    return new Promise((resolve, reject) => {
      // Referenced only while an answer is awaited, so an idle inbox never holds the process open.
      if (waiting.size === 0) worker.ref();
      waiting.set(message[0], { resolve, reject });
      worker.postMessage(message, transfer);
    });
  }

  return {
    ...reader,
    groupsConcurrentRecords: true,
    async record(entries, recordOptions) {
      const n = entries.length;
      if (n === 0) return [];
      const columns: (string | number | null)[] = new Array(n * RECORD_COLUMNS);
      let total = 0;
      for (const entry of entries) total += entry.body.byteLength;
      // One fresh buffer (never a pooled one: transferring detaches it) holding every body of the batch.
      const bodies = new Uint8Array(total);
      let offset = 0;
      for (let i = 0, c = 0; i < n; i++, c += RECORD_COLUMNS) {
        const { event, body, receivedAt } = entries[i] as (typeof entries)[number];
        const data = event.data;
        columns[c] = event.event_id;
        columns[c + 1] = data.customer_id;
        columns[c + 2] = data.client_customer_ref;
        columns[c + 3] = data.status;
        columns[c + 4] = event.event_timestamp;
        columns[c + 5] = data.reasons === undefined ? null : JSON.stringify(data.reasons);
        columns[c + 6] = receivedAt;
        bodies.set(body, offset);
        offset += body.byteLength;
        columns[c + 7] = offset;
      }
      const flags =
        (recordOptions.handlers ? HAS_HANDLERS : 0) | (recordOptions.handleStale ? HANDLE_STALE : 0);
      const message: WriterRequest = [nextId++, 'record', JSON.stringify(columns), bodies.buffer, flags];
      const codes = (await call(message, [bodies.buffer])) as string;
      const outcomes: RecordOutcome[] = new Array(n);
      for (let i = 0; i < n; i++) outcomes[i] = OUTCOMES[codes.charCodeAt(i)] as RecordOutcome;
      return outcomes;
    },
    async markHandled(seqs, at) {
      if (seqs.length > 0) await call([nextId++, 'handled', [...seqs], at]);
    },
    async markFailed(failures) {
      if (failures.length > 0) await call([nextId++, 'failed', [...failures]]);
    },
    close() {
      closing ??= (async () => {
        try {
          // Never written to: the thread has nothing to flush, and may still be starting.
          if (!failure && nextId > 1) await call([nextId++, 'close']);
        } catch {
          // The thread already failed; there is nothing left to flush.
        } finally {
          await worker.terminate();
          db.close();
        }
      })();
      return closing;
    },
  };
}

const OUTCOMES: Record<number, RecordOutcome> = {};
for (const [outcome, code] of Object.entries(OUTCOME_CODES))
  OUTCOMES[code.charCodeAt(0)] = outcome as RecordOutcome;
