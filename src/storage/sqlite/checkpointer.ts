/**
 * WAL checkpoints in a thread of their own, so that a commit on the main thread never waits for one.
 *
 * In WAL mode with `synchronous = NORMAL` a commit appends pages to the WAL without an fsync; the
 * fsyncs come at checkpoints, which copy the WAL's pages into the database file. By default the
 * connection that commits runs one whenever the WAL passes 1,000 pages (4 MB), inside that commit:
 * better-sqlite3 is synchronous, so the event loop stopped for the copy and two fsyncs, every few
 * hundred deliveries during a drain (bench/peers: with no fsync at all, `synchronous = OFF`, the SQLite
 * drain was 20 % faster). Here a worker thread with its own connection runs a PASSIVE checkpoint
 * every {@link CHECKPOINT_INTERVAL_MS} (it never blocks a writer or reader), and the main connection
 * checkpoints only as a backstop, when the WAL passes {@link BACKSTOP_PAGES} because the thread fell
 * behind. Durability is that of `synchronous` as set: the thread's connection takes the main one's.
 *
 * The thread is plain JavaScript given as source (`eval`), so it runs the same from the TypeScript
 * sources (tests) and from the build; it loads the same better-sqlite3 as this module.
 */
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import type Database from 'better-sqlite3';

/** How often the thread checkpoints: a drain writes a few MB of WAL in this time. */
export const CHECKPOINT_INTERVAL_MS = 50;
/** The main connection's own checkpoint, when the thread has not kept the WAL below this (40 MB). */
export const BACKSTOP_PAGES = 10_000;

const THREAD_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.filename, { fileMustExist: true });
db.pragma('busy_timeout = 0');
db.pragma('synchronous = ' + workerData.synchronous);
const checkpoint = db.prepare('PRAGMA wal_checkpoint(PASSIVE)');
let runs = 0;
const timer = setInterval(() => {
  try {
    checkpoint.get();
    runs++;
  } catch {
    // busy (another checkpoint is running) or closing: the next interval tries again
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
parentPort.postMessage('ready');
`;

export interface Checkpointer {
  /** The thread (tests). */
  readonly thread: Worker;
  /**
   * Resolves once the thread has opened the file and the main connection's own checkpoints are down
   * to the backstop; never rejects (a thread that cannot start leaves SQLite's default, with a warning).
   */
  readonly ready: Promise<void>;
  /** How many checkpoints the thread has run (tests). */
  runs(): Promise<number>;
  /** Stops the thread and closes its connection; the main connection checkpoints as SQLite does by default again. */
  stop(): Promise<void>;
}

/** How long stop() waits for the thread to close its connection before it ends the thread anyway. */
const STOP_WAIT_MS = 2000;

/**
 * Starts checkpointing `db`'s file (WAL mode, not `:memory:`) in a worker thread. Returns at once: the
 * thread starts beside whatever the caller does next (a server's start is not held up by it), and
 * lowers the main connection's own checkpoints to a backstop once it has opened the file (`ready`).
 *
 * @example
 * const checkpoints = startCheckpointer(db);
 * // … writes …
 * await checkpoints.stop(); // before db.close()
 */
export function startCheckpointer(db: Database.Database, intervalMs = CHECKPOINT_INTERVAL_MS): Checkpointer {
  const worker = new Worker(THREAD_SOURCE, {
    eval: true,
    workerData: {
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
  // A thread that dies (out of its small heap, say) hands the checkpoints back to the main connection
  // at SQLite's default; an 'error' event without a listener would take the process down with it.
  let failure: unknown;
  worker.on('error', (error) => {
    failure = error;
  });
  void gone.then(() => {
    if (!stopped && db.open) db.pragma('wal_autocheckpoint = 1000');
  });
  const ready = reply('ready').then(
    () => {
      if (!stopped && !exited && db.open) db.pragma(`wal_autocheckpoint = ${BACKSTOP_PAGES}`);
    },
    () => {
      if (stopped) return; // stopped before it was ready: nothing went wrong
      console.warn(
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
          const done = reply('stopped').catch(() => {});
          worker.postMessage('stop');
          let timer: NodeJS.Timeout | undefined;
          const waited = new Promise<void>((resolve) => {
            timer = setTimeout(resolve, STOP_WAIT_MS);
          });
          await Promise.race([done, gone, waited]);
          clearTimeout(timer);
          await worker.terminate();
        }
        if (db.open) db.pragma('wal_autocheckpoint = 1000');
      })();
      return stopped;
    },
  };
}
