import { once } from 'node:events';
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

export interface Checkpointer {
  /** Stops the thread (after the checkpoint it may be running). */
  stop(): Promise<void>;
}

/**
 * The thread's whole program, plain CommonJS evaluated by the worker: it needs no TypeScript loader
 * and no file beside this one, so it starts the same from `dist/`, from sources under tsx or vitest,
 * and from a bundle. Its own connection to the inbox file runs a PASSIVE checkpoint (copy committed
 * WAL frames into the database file, fsync both) whenever another connection has committed since the
 * last look: `data_version` changes on others' commits, never on our own checkpoints. PASSIVE never
 * waits for, nor blocks, the writer.
 */
const THREAD_PROGRAM = `
const { parentPort, workerData } = require('node:worker_threads');
const { betterSqlite3, filename, intervalMs } = workerData;
const db = new (require(betterSqlite3))(filename, { fileMustExist: true });
// Until this arrives, the owner may stop the thread by terminating it: it has not touched the file.
parentPort.postMessage('ready');
let seen;
const timer = setInterval(() => {
  try {
    const version = db.pragma('data_version', { simple: true });
    if (version === seen) return;
    seen = version;
    db.pragma('wal_checkpoint(PASSIVE)');
  } catch {
    // Busy (the writer's own checkpoint, another process's): the next tick catches up.
  }
}, intervalMs);
parentPort.on('message', (message) => {
  if (message !== 'close') return;
  clearInterval(timer);
  db.close();
  parentPort.close();
});
`;

/**
 * Moves WAL checkpoints off the event loop. SQLite runs its automatic checkpoint inside the commit
 * that crosses `wal_autocheckpoint` pages: that request, and every one queued behind it, waits for
 * the copy of each changed page and two fsyncs (the tail of the receiver's latency). A thread with its
 * own connection copies the frames every `intervalMs` while commits come in. The writer keeps its
 * automatic checkpoint as a backstop, so a thread that lags or dies cannot let the WAL grow without
 * bound; when the backstop runs there is little left for it to copy.
 */
export function startCheckpointer(filename: string, intervalMs = 100): Checkpointer {
  // Resolved here: code evaluated in a worker would resolve `better-sqlite3` from the process's cwd.
  const betterSqlite3 = createRequire(import.meta.url).resolve('better-sqlite3');
  const worker = new Worker(THREAD_PROGRAM, {
    eval: true,
    workerData: { betterSqlite3, filename, intervalMs },
  });
  worker.unref();
  // A failed checkpointer only means the writer's backstop does all the work again.
  worker.on('error', () => {});
  let ready = false;
  worker.once('message', () => {
    ready = true;
  });
  let stopping: Promise<void> | undefined;
  return {
    stop() {
      stopping ??= (async () => {
        // Still starting (loading better-sqlite3 takes a thread tens of milliseconds): it holds no
        // connection yet, so there is no checkpoint to wait for.
        if (!ready) {
          await worker.terminate();
          return;
        }
        // Referenced again while stopping: an unreferenced worker would let the process exit mid-shutdown.
        worker.ref();
        const exited = once(worker, 'exit');
        worker.postMessage('close');
        let timer: NodeJS.Timeout | undefined;
        const timeout = new Promise((resolve) => {
          timer = setTimeout(resolve, 2000);
        });
        await Promise.race([exited, timeout]);
        clearTimeout(timer);
        await worker.terminate();
      })();
      return stopping;
    },
  };
}
