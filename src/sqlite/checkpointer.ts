/**
 * WAL checkpoints in a thread of their own, so that a commit on the main thread never waits for one.
 * Used by the platform's store (src/storage/sqlite) and by the receiver's inbox (src/receiver/inbox).
 *
 * In WAL mode with `synchronous = NORMAL` a commit appends pages to the WAL without an fsync; the
 * fsyncs come at checkpoints, which copy the WAL's pages into the database file. By default the
 * connection that commits runs one whenever the WAL passes 1,000 pages (4 MB), inside that commit:
 * better-sqlite3 is synchronous, so the event loop stops for the copy and two fsyncs (bench/peers: with
 * no fsync at all, `synchronous = OFF`, the platform's SQLite drain was 20 % faster; the receiver's p99
 * was that checkpoint). Here a worker thread with its own connection runs a PASSIVE checkpoint (it
 * never blocks a writer or reader) every `intervalMs` when another connection has committed since its
 * last look: `data_version` changes on others' commits, never on the thread's own checkpoints, so an
 * idle file costs one cheap read per interval. The main connection keeps its own automatic checkpoint
 * as a backstop, for a thread that lags or dies; when it runs there is little left for it to copy.
 * Durability is that of `synchronous` as set: the thread's connection takes the main one's.
 *
 * The thread is plain JavaScript given as source (`eval`): it needs no TypeScript loader and no file
 * beside this one, so it starts the same from `dist/`, from the sources under tsx or vitest, and from
 * a bundle; it loads the same better-sqlite3 as this module.
 */
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import type Database from 'better-sqlite3';

/** How often the thread looks by default: a drain writes a few MB of WAL in this time. */
export const CHECKPOINT_INTERVAL_MS = 50;
/** SQLite's own default for `wal_autocheckpoint`, given back when the thread stops or dies. */
const SQLITE_DEFAULT_PAGES = 1000;

const THREAD_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.filename, { fileMustExist: true, timeout: 0 });
db.pragma('synchronous = ' + workerData.synchronous);
const dataVersion = db.prepare('PRAGMA data_version').pluck();
const checkpoint = db.prepare('PRAGMA wal_checkpoint(PASSIVE)');
let seen;
let runs = 0;
const timer = setInterval(() => {
  try {
    const version = dataVersion.get();
    if (version === seen) return;
    seen = version;
    checkpoint.get();
    runs++;
  } catch {
    // busy (another checkpoint is running) or closing: the next commit brings it back
    seen = undefined;
  }
}, workerData.intervalMs);
parentPort.on('message', (message) => {
  if (message === 'runs') return parentPort.postMessage(runs);
  if (message !== 'stop') return;
  clearInterval(timer);
  db.close();
  parentPort.postMessage('stopped');
  parentPort.close();
});
// Until this arrives the owner ends the thread without asking: a connection it opened is closed with
// the thread (better-sqlite3 closes a thread's databases when the thread ends).
parentPort.postMessage('ready');
`;

export interface CheckpointerOptions {
  /** How often the thread looks for new commits (default {@link CHECKPOINT_INTERVAL_MS}). */
  intervalMs?: number;
  /**
   * The main connection's own `wal_autocheckpoint` while the thread runs, set once the thread is
   * ready; the value before it is given back when the thread stops or dies. Without it the main
   * connection's setting is left alone (the caller has already raised it to its backstop).
   */
  backstopPages?: number;
  /** Told once when the thread cannot start or dies (default: `console.warn`). */
  warn?: (message: string) => void;
}

export interface Checkpointer {
  /** The thread (tests). */
  readonly thread: Worker;
  /**
   * Resolves once the thread has opened the file (and the main connection's own checkpoints are down
   * to the backstop); never rejects: a thread that cannot start leaves the checkpoints in the commits.
   */
  readonly ready: Promise<void>;
  /** How many checkpoints the thread has run (tests). */
  runs(): Promise<number>;
  /** Stops the thread and closes its connection; the main connection's own setting is given back. */
  stop(): Promise<void>;
}

/** How long stop() waits for the thread to close its connection before it ends the thread anyway. */
const STOP_WAIT_MS = 2000;

/**
 * Starts checkpointing `db`'s file (WAL mode, not `:memory:`) in a worker thread. Returns at once: the
 * thread starts beside whatever the caller does next (a server's start is not held up by it).
 *
 * @example
 * const checkpoints = startCheckpointer(db, { backstopPages: 10_000 });
 * // … writes …
 * await checkpoints.stop(); // before db.close()
 */
export function startCheckpointer(db: Database.Database, options: CheckpointerOptions = {}): Checkpointer {
  const { intervalMs = CHECKPOINT_INTERVAL_MS, backstopPages, warn = console.warn } = options;
  const ownPages = Number(db.pragma('wal_autocheckpoint', { simple: true }));
  const giveBack = () => {
    if (backstopPages !== undefined && db.open)
      db.pragma(`wal_autocheckpoint = ${ownPages || SQLITE_DEFAULT_PAGES}`);
  };
  const worker = new Worker(THREAD_SOURCE, {
    eval: true,
    workerData: {
      // resolved here: code evaluated in a thread would resolve `better-sqlite3` from the process's cwd
      driver: createRequire(import.meta.url).resolve('better-sqlite3'),
      filename: db.name,
      // the main connection's own setting (0–3), so a checkpoint syncs as that connection's would
      synchronous: Number(db.pragma('synchronous', { simple: true })),
      intervalMs,
    },
    // a small heap: the thread allocates almost nothing
    resourceLimits: { maxOldGenerationSizeMb: 16, maxYoungGenerationSizeMb: 4 },
  });
  worker.unref();
  let stopped: Promise<void> | undefined;
  let started = false;
  let exited = false;
  const gone = new Promise<void>((resolve) =>
    worker.once('exit', () => {
      exited = true;
      resolve();
    }),
  );
  const reply = (expected?: string) =>
    new Promise<unknown>((resolve, reject) => {
      const onMessage = (message: unknown) => {
        if (expected !== undefined && message !== expected) return;
        worker.off('message', onMessage);
        resolve(message);
      };
      worker.on('message', onMessage);
      void gone.then(() => reject(new Error('the checkpoint thread has ended')));
    });
  // A thread that dies (out of its small heap, say) hands the checkpoints back to the main connection;
  // an 'error' event without a listener would take the process down with it.
  let failure: unknown;
  worker.on('error', (error) => {
    failure = error;
  });
  void gone.then(() => {
    if (stopped) return;
    giveBack();
    if (started)
      warn(
        `SQLite checkpoints are back in the commits: the checkpoint thread ended (${String(failure ?? 'it exited')})`,
      );
  });
  const ready = reply('ready').then(
    () => {
      started = true;
      if (!stopped && !exited && db.open && backstopPages !== undefined) {
        db.pragma(`wal_autocheckpoint = ${backstopPages}`);
      }
    },
    () => {
      if (stopped) return; // stopped before it was ready: nothing went wrong
      warn(
        `SQLite checkpoints stay in the commits: the checkpoint thread did not start (${String(failure ?? 'it ended')})`,
      );
    },
  );
  return {
    thread: worker,
    ready,
    async runs() {
      const answer = reply();
      worker.postMessage('runs');
      return Number(await answer);
    },
    stop() {
      stopped ??= (async () => {
        if (!exited) {
          // Not started yet (loading better-sqlite3 takes a thread tens of milliseconds): it holds no
          // connection, so there is nothing to wait for.
          if (started) {
            const done = reply('stopped').catch(() => {});
            // referenced while stopping: an unreferenced thread would let the process exit mid-shutdown
            worker.ref();
            worker.postMessage('stop');
            let timer: NodeJS.Timeout | undefined;
            const waited = new Promise<void>((resolve) => {
              timer = setTimeout(resolve, STOP_WAIT_MS);
            });
            await Promise.race([done, gone, waited]);
            clearTimeout(timer);
          }
          await worker.terminate();
        }
        giveBack();
      })();
      return stopped;
    },
  };
}
