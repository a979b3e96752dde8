import { setImmediate as nextTurn, setTimeout as sleep } from 'node:timers/promises';
import Database from 'better-sqlite3';

/**
 * Waits between tries while another process holds the write lock: the event loop's next turn twice,
 * then 1, 1, 2, 4 and 8 ms (and 8 ms after that), until the connection's busy_timeout has passed.
 */
const BACKOFF_MS = [0, 0, 1, 1, 2, 4, 8] as const;

/**
 * Takes SQLite's write lock without blocking the event loop while another process holds it.
 *
 * SQLite's own busy handler sleeps inside the call (1, 2, 5, 10 … ms): better-sqlite3 is synchronous,
 * so a `tpcs serve` beside a `tpcs worker` on one file stopped answering requests each time its
 * `BEGIN IMMEDIATE` met the worker's lock, and the worker each time it met serve's. Here the
 * transaction is tried with busy_timeout 0, and on SQLITE_BUSY tried again after an asynchronous wait,
 * until the connection's busy_timeout has passed: then its SQLITE_BUSY is thrown, as before.
 *
 * `run` must fail on SQLITE_BUSY before doing anything else: a `transaction.immediate(…)` call (its
 * BEGIN IMMEDIATE is the only statement that waits for the lock; inside it, nothing does).
 *
 * @example
 * const write = writeLock(db);
 * const result = await write(() => record.immediate(decision));
 */
export function writeLock(db: Database.Database): <R>(run: () => R) => Promise<R> {
  // set by running the pragma, never by a prepared one: SQLite applies busy_timeout when it compiles it
  const busyMs = Number(db.pragma('busy_timeout', { simple: true }));
  return async <R>(run: () => R): Promise<R> => {
    const deadline = performance.now() + busyMs;
    for (let attempt = 0; ; attempt++) {
      db.pragma('busy_timeout = 0');
      try {
        return run();
      } catch (error) {
        if (!isBusy(error) || performance.now() >= deadline) throw error;
      } finally {
        db.pragma(`busy_timeout = ${busyMs}`);
      }
      const ms = BACKOFF_MS[Math.min(attempt, BACKOFF_MS.length - 1)] ?? 8;
      await (ms === 0 ? nextTurn() : sleep(Math.min(ms, Math.max(1, deadline - performance.now()))));
    }
  };
}

function isBusy(error: unknown): boolean {
  return error instanceof Database.SqliteError && error.code.startsWith('SQLITE_BUSY');
}
