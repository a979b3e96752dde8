/**
 * The dispatcher's Prometheus metrics, registered once per process in prom-client's default registry
 * (which the service exposes at `GET /metrics`).
 */
import client from 'prom-client';
import type { QueueStats } from '../../storage/queue.js';

export interface DispatcherMetrics {
  /** Attempts by outcome: delivered, rejected (400), gone (410), retry (will be tried again), failed (gave up). */
  attempts: client.Counter<'outcome'>;
  /** Deliveries that reached a final state: delivered or failed. */
  deliveries: client.Counter<'status'>;
  attemptSeconds: client.Histogram<'outcome'>;
  /** From the decision's commit to the receiver's 2xx, for first-attempt successes. */
  commitToDeliverySeconds: client.Histogram;
  endpointFailures: client.Counter<'endpoint_id'>;
  endpointsDisabled: client.Counter;
}

const statsSources = new Set<(now: Date) => Promise<QueueStats>>();

/** Registers a queue whose depth and oldest pending age the gauges report (one per process suffices). */
export function reportQueueStats(source: (now: Date) => Promise<QueueStats>): () => void {
  statsSources.add(source);
  return () => statsSources.delete(source);
}

async function currentStats(): Promise<QueueStats | undefined> {
  const [source] = statsSources;
  return source ? source(new Date()) : undefined;
}

function once<T extends client.Metric>(name: string, make: () => T): T {
  return (client.register.getSingleMetric(name) as T | undefined) ?? make();
}

let metrics: DispatcherMetrics | undefined;

/** The process's dispatcher metrics, created on first use. */
export function dispatcherMetrics(): DispatcherMetrics {
  if (metrics) return metrics;
  once(
    'tpcs_delivery_queue_depth',
    () =>
      new client.Gauge({
        name: 'tpcs_delivery_queue_depth',
        help: 'Deliveries pending (not yet delivered or finally failed)',
        async collect() {
          const s = await currentStats().catch(() => undefined);
          if (s) this.set(s.pending);
        },
      }),
  );
  once(
    'tpcs_delivery_oldest_pending_age_seconds',
    () =>
      new client.Gauge({
        name: 'tpcs_delivery_oldest_pending_age_seconds',
        help: 'Age of the oldest pending delivery (0 when none)',
        async collect() {
          const s = await currentStats().catch(() => undefined);
          if (s) this.set(s.oldestPendingAt ? (Date.now() - s.oldestPendingAt.getTime()) / 1000 : 0);
        },
      }),
  );
  metrics = {
    attempts: once(
      'tpcs_delivery_attempts_total',
      () =>
        new client.Counter({
          name: 'tpcs_delivery_attempts_total',
          help: 'Delivery attempts by outcome (delivered, rejected, gone, retry, failed)',
          labelNames: ['outcome'],
        }),
    ),
    deliveries: once(
      'tpcs_deliveries_total',
      () =>
        new client.Counter({
          name: 'tpcs_deliveries_total',
          help: 'Deliveries that reached a final status (delivered, failed)',
          labelNames: ['status'],
        }),
    ),
    attemptSeconds: once(
      'tpcs_delivery_attempt_duration_seconds',
      () =>
        new client.Histogram({
          name: 'tpcs_delivery_attempt_duration_seconds',
          help: 'Duration of one delivery attempt (connect to response body)',
          labelNames: ['outcome'],
          buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15],
        }),
    ),
    commitToDeliverySeconds: once(
      'tpcs_delivery_commit_to_delivery_seconds',
      () =>
        new client.Histogram({
          name: 'tpcs_delivery_commit_to_delivery_seconds',
          help: "From the decision's commit to the receiver's 2xx, for deliveries that succeeded at the first attempt",
          buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
        }),
    ),
    endpointFailures: once(
      'tpcs_endpoint_delivery_failures_total',
      () =>
        new client.Counter({
          name: 'tpcs_endpoint_delivery_failures_total',
          help: 'Failed delivery attempts per endpoint',
          labelNames: ['endpoint_id'],
        }),
    ),
    endpointsDisabled: once(
      'tpcs_endpoints_disabled_total',
      () =>
        new client.Counter({
          name: 'tpcs_endpoints_disabled_total',
          help: 'Endpoints disabled by the dispatcher (410 or the failure window)',
        }),
    ),
  };
  return metrics;
}
