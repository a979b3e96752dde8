import { once } from 'node:events';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';

export interface CheckpointerData {
  filename: string;
  intervalMs: number;
}

export interface Checkpointer {
  /** Stops the thread (after the checkpoint it may be running). */
  stop(): Promise<void>;
}

/**
 * Moves WAL checkpoints off the event loop. SQLite runs its automatic checkpoint inside the commit
 * that crosses `wal_autocheckpoint` pages: that request, and every one queued behind it, waits for
 * the copy of each changed page and two fsyncs (the tail of the receiver's latency). A thread with its
 * own connection copies the frames every `intervalMs` while commits come in. The writer keeps its
 * automatic checkpoint as a backstop, so a thread that lags or dies cannot let the WAL grow without
 * bound; when the backstop runs there is little left for it to copy.
 */
export function startCheckpointer(filename: string, intervalMs = 100): Checkpointer {
  const workerData: CheckpointerData = { filename, intervalMs };
  const worker = entry().startsWith('import(')
    ? new Worker(entry(), { eval: true, workerData })
    : new Worker(new URL(entry()), { workerData });
  worker.unref();
  // A failed checkpointer only means the writer's backstop does all the work again.
  worker.on('error', () => {});
  let stopping: Promise<void> | undefined;
  return {
    stop() {
      stopping ??= (async () => {
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

let cachedEntry: string | undefined;

/**
 * The built `checkpointer-worker.js` beside this file. Run from TypeScript sources (vitest, tsx) only
 * the `.ts` exists, and a worker does not inherit the parent's loader: it registers tsx itself first.
 */
function entry(): string {
  if (cachedEntry) return cachedEntry;
  const js = new URL('./checkpointer-worker.js', import.meta.url);
  if (fs.existsSync(fileURLToPath(js))) {
    cachedEntry = js.href;
    return cachedEntry;
  }
  const ts = new URL('./checkpointer-worker.ts', import.meta.url);
  const tsxPackage = createRequire(import.meta.url).resolve('tsx/package.json');
  const tsxApi = new URL('./dist/esm/api/index.mjs', pathToFileURL(tsxPackage));
  cachedEntry = `import(${JSON.stringify(tsxApi.href)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(ts.href)}); });`;
  return cachedEntry;
}
