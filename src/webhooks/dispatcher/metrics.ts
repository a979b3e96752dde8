/**
 * The dispatcher's Prometheus metrics, registered in the registry they are given: `tpcs serve` gives
 * the one its `/metrics` serves, so what the dispatcher counts is what an operator scrapes. Every
 * label has a bounded set of values (outcomes and statuses, never ids).
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { QueueStats } from '../../storage/queue.js';

export interface DispatcherMetrics {
  /** Attempts by outcome: delivered, rejected (400), gone (410), retry (will be tried again), failed (gave up). */
  attempts: Counter<'outcome'>;
  /** Deliveries that reached a final state: delivered or failed. */
  deliveries: Counter<'status'>;
  attemptSeconds: Histogram<'outcome'>;
  /** From the decision's commit to the receiver's 2xx, for first-attempt successes. */
  commitToDeliverySeconds: Histogram;
  /** Failed attempts, all endpoints together (per-endpoint health is in the API and the dashboard). */
  endpointFailures: Counter;
  endpointsDisabled: Counter;
  /**
   * How long each of the dispatcher's queue transactions took, by operation: `claim` (the loop's own),
   * `complete` (a batch of completions), `complete_and_claim` (a batch with the next claim riding on
   * it). Completions are written one batch at a time, so while deliveries wait on the queue, these
   * durations and the batch sizes bound the rate.
   */
  queueWriteSeconds: Histogram<'operation'>;
  /** Deliveries per queue transaction: `claim` (handed out by one claim), `complete` (in one batch). */
  queueBatchSize: Histogram<'operation'>;
}

/**
 * Creates the dispatcher metrics in `registry`; the queue gauges read `stats` when scraped. Make one
 * per registry and share it between the dispatchers of a process.
 *
 * @example
 * const registry = new Registry();
 * const metrics = createDispatcherMetrics(registry, (now) => storage.queue.stats(now));
 * createDispatcher({ queue: storage.queue, metrics });
 */
export function createDispatcherMetrics(
  registry: Registry,
  stats: (now: Date) => Promise<QueueStats>,
): DispatcherMetrics {
  const registers = [registry];
  const current = () => stats(new Date()).catch(() => undefined);
  new Gauge({
    name: 'tpcs_delivery_queue_depth',
    help: 'Deliveries pending (not yet delivered or finally failed)',
    registers,
    async collect() {
      const s = await current();
      if (s) this.set(s.pending);
    },
  });
  new Gauge({
    name: 'tpcs_delivery_oldest_pending_age_seconds',
    help: 'Age of the oldest pending delivery (0 when none)',
    registers,
    async collect() {
      const s = await current();
      if (s) this.set(s.oldestPendingAt ? (Date.now() - s.oldestPendingAt.getTime()) / 1000 : 0);
    },
  });
  return {
    attempts: new Counter({
      name: 'tpcs_delivery_attempts_total',
      help: 'Delivery attempts by outcome (delivered, rejected, gone, retry, failed)',
      labelNames: ['outcome'],
      registers,
    }),
    deliveries: new Counter({
      name: 'tpcs_deliveries_total',
      help: 'Deliveries that reached a final status (delivered, failed)',
      labelNames: ['status'],
      registers,
    }),
    attemptSeconds: new Histogram({
      name: 'tpcs_delivery_attempt_duration_seconds',
      help: 'Duration of one delivery attempt (connect to response body)',
      labelNames: ['outcome'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15],
      registers,
    }),
    commitToDeliverySeconds: new Histogram({
      name: 'tpcs_delivery_commit_to_delivery_seconds',
      help: "From the decision's commit to the receiver's 2xx, for deliveries that succeeded at the first attempt",
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    }),
    endpointFailures: new Counter({
      name: 'tpcs_endpoint_delivery_failures_total',
      help: 'Failed delivery attempts, all endpoints together',
      registers,
    }),
    endpointsDisabled: new Counter({
      name: 'tpcs_endpoints_disabled_total',
      help: 'Endpoints disabled by the dispatcher (410 or the failure window)',
      registers,
    }),
    queueWriteSeconds: new Histogram({
      name: 'tpcs_delivery_queue_write_duration_seconds',
      help: 'Duration of one queue transaction of the dispatcher, by operation (claim, complete, complete_and_claim)',
      labelNames: ['operation'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
      registers,
    }),
    queueBatchSize: new Histogram({
      name: 'tpcs_delivery_queue_batch_size',
      help: 'Deliveries per queue transaction of the dispatcher: handed out by a claim, or completed in a batch',
      labelNames: ['operation'],
      buckets: [0, 1, 2, 4, 8, 16, 32, 64, 128, 256],
      registers,
    }),
  };
}
