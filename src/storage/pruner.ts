/**
 * Housekeeping of rows that expire (idempotency keys, dashboard sessions): delete in batches so no
 * statement holds a lock for long, now and then every hour, never keeping the process alive.
 */

/** How often a pruner runs. */
export const PRUNE_INTERVAL_MS = 60 * 60 * 1000;
/** Rows deleted per statement. */
export const PRUNE_BATCH = 1000;

/** Calls `deleteBatch(PRUNE_BATCH)` until it deletes fewer than a batch; returns how many in all. */
export async function pruneInBatches(deleteBatch: (limit: number) => Promise<number>): Promise<number> {
  let total = 0;
  for (;;) {
    const pruned = await deleteBatch(PRUNE_BATCH);
    total += pruned;
    if (pruned < PRUNE_BATCH) return total;
  }
}

/** A running pruner; `stop()` waits for a prune under way, so the store can be closed after it. */
export interface Pruner {
  stop(): Promise<void>;
}

export interface PrunerHooks {
  onPruned?: (count: number) => void;
  onError?: (error: Error) => void;
}

/**
 * Runs `prune` now and then every `intervalMs` (the timer never keeps the process alive), one run
 * at a time. A failed prune is reported to `onError` and tried again at the next interval.
 */
export function startPruner(
  prune: () => Promise<number>,
  hooks: PrunerHooks = {},
  intervalMs: number = PRUNE_INTERVAL_MS,
): Pruner {
  let running: Promise<void> | undefined;
  let stopped = false;
  const tick = () => {
    if (stopped || running) return;
    running = prune()
      .then(
        (count) => {
          if (count > 0) hooks.onPruned?.(count);
        },
        (error: unknown) => hooks.onError?.(error as Error),
      )
      .finally(() => {
        running = undefined;
      });
  };
  tick();
  const timer = setInterval(tick, intervalMs);
  timer.unref();
  return {
    async stop() {
      stopped = true;
      clearInterval(timer);
      await running;
    },
  };
}
