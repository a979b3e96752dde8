/**
 * The checkpointer thread behind {@link startCheckpointer}: its own connection to the inbox file runs
 * a PASSIVE checkpoint (copy committed WAL frames into the database file, fsync both) whenever other
 * connections have committed since the last look. PASSIVE never waits for, nor blocks, the writer.
 */
import { createRequire } from 'node:module';
import { parentPort, workerData } from 'node:worker_threads';
import type Database from 'better-sqlite3';
import type { CheckpointerData } from './checkpointer.js';

if (!parentPort) throw new Error('checkpointer-worker.js runs as a worker thread');
const port = parentPort;
const { filename, intervalMs } = workerData as CheckpointerData;
const BetterSqlite3 = createRequire(import.meta.url)('better-sqlite3') as typeof Database;
const db = new BetterSqlite3(filename, { fileMustExist: true });
// Until this arrives, the owner may stop the thread by terminating it: it has not touched the file.
port.postMessage('ready');

let seen: unknown;
const timer = setInterval(() => {
  try {
    // data_version changes when another connection commits; our own checkpoints leave it alone.
    const version = db.pragma('data_version', { simple: true });
    if (version === seen) return;
    seen = version;
    db.pragma('wal_checkpoint(PASSIVE)');
  } catch {
    // Busy (the writer's own checkpoint, another process's): the next tick catches up.
  }
}, intervalMs);

port.on('message', (message: unknown) => {
  if (message !== 'close') return;
  clearInterval(timer);
  db.close();
  port.close();
});
