import { once } from 'node:events';
import { startInboxThread } from './thread.js';

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
  const worker = startInboxThread('checkpointer-worker', { filename, intervalMs } satisfies CheckpointerData);
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
        // Still starting (a thread loads its modules in tens of milliseconds, far more from TypeScript
        // sources): it holds no connection yet, so there is no checkpoint to wait for.
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
