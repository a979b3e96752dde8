/**
 * Alert retention: the outbox keeps every alert the partner was sent (the dashboard lists them) for
 * `ALERT_RETENTION`, then the housekeeping loop of `tpcs serve` deletes them in batches
 * (src/storage/pruner.ts), as it does expired idempotency keys. An alert still being sent is kept
 * until it is settled.
 */

import { type Pruner, type PrunerHooks, pruneInBatches, startPruner } from '../storage/pruner.js';
import type { Store } from '../storage/store.js';

/** `ALERT_RETENTION`'s default: 30 days. */
export const ALERT_RETENTION_MS = 30 * 24 * 60 * 60 * 1000;

/**
 * Deletes every settled alert older than `retentionMs` at `now`, in batches; returns how many.
 *
 * @example
 * const pruned = await pruneAlerts(store, new Date(), ALERT_RETENTION_MS);
 */
export function pruneAlerts(
  store: Pick<Store, 'pruneAlerts'>,
  now: Date = new Date(),
  retentionMs: number = ALERT_RETENTION_MS,
): Promise<number> {
  const before = new Date(now.getTime() - retentionMs);
  return pruneInBatches((limit) => store.pruneAlerts(before, limit));
}

/**
 * Prunes old alerts now and then every hour (`intervalMs`); a failed prune is reported and tried again.
 *
 * @example
 * const pruner = startAlertPruner(store, config.alertRetentionMs, { onPruned: (n) => log.info({ n }, 'old alerts pruned') });
 * await pruner.stop();
 */
export function startAlertPruner(
  store: Pick<Store, 'pruneAlerts'>,
  retentionMs: number,
  hooks: PrunerHooks = {},
  intervalMs?: number,
): Pruner {
  return startPruner(() => pruneAlerts(store, new Date(), retentionMs), hooks, intervalMs);
}
