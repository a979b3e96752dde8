/**
 * Running dispatchers in a process: `tpcs worker` runs them alone, `tpcs serve` runs one beside the
 * API. Both read the tuning from the same settings (src/config: `--delivery-timeout` or
 * `DELIVERY_TIMEOUT`, …).
 */
import { Registry } from 'prom-client';
import type { DeliveryQueue } from '../../storage/queue.js';
import { createDispatcher, type Dispatcher } from './dispatcher.js';
import { createDispatcherMetrics } from './metrics.js';
import { createRetryPolicy, type Jitter } from './retry-policy.js';
import { createSender, type Sender } from './sender.js';

export interface DeliveryServiceOptions {
  /** The storage's queue (`openStorage`); the service does not close it. */
  queue: DeliveryQueue;
  /** Where the dispatchers count: the registry `/metrics` serves. Default: one of its own. */
  registry?: Registry;
  allowPrivateEndpoints: boolean;
  retryScheduleMs: readonly number[];
  /** How many dispatchers (each with its own claim loop). Default 1. */
  dispatchers?: number;
  tuning?: DeliveryTuning;
  log?: (level: 'info' | 'warn' | 'error', msg: string, extra?: Record<string, unknown>) => void;
}

/** Knobs, each a setting of `serve` and `worker` (src/config/settings.ts has their defaults and limits). */
export interface DeliveryTuning {
  /** `DELIVERY_TIMEOUT`: how long an attempt waits for an answer. */
  timeoutMs?: number;
  /** `DELIVERY_CONCURRENCY`: attempts in flight per dispatcher. */
  concurrency?: number;
  /** `DELIVERY_PER_ENDPOINT`: attempts in flight per endpoint, all processes together. */
  perEndpoint?: number;
  /** `DELIVERY_PER_PARTNER`: attempts in flight per partner, all processes together. */
  perPartner?: number;
  /** `DELIVERY_LEASE`: default 2 × timeout + 5 s. */
  leaseMs?: number;
  /** `DELIVERY_POLL`: how often an idle dispatcher looks for work. */
  pollIntervalMs?: number;
  /** `ENDPOINT_FAILURE_WINDOW`: failing every attempt this long disables an endpoint. */
  failureWindowMs?: number;
  /** `RETRY_JITTER`: full | none. */
  jitter?: Jitter;
  /**
   * Claim loops in this process when the caller does not say (`DELIVERY_DISPATCHERS` in `serve`,
   * default 1); 0 runs `tpcs serve` as an API only, with `tpcs worker` processes delivering.
   */
  dispatchers?: number;
}

export interface DeliveryService {
  queue: DeliveryQueue;
  dispatchers: Dispatcher[];
  /** Sends one signed message now, outside the queue (the endpoint's test event). */
  sender: Sender;
  /** Stops the dispatchers gracefully (the queue stays open: its storage owns it). */
  stop(graceMs?: number): Promise<void>;
}

/**
 * Starts the dispatchers on a storage's queue.
 *
 * @example
 * const storage = await openStorage(databaseUrl);
 * const delivery = await startDeliveryService({ queue: storage.queue, allowPrivateEndpoints: false, retryScheduleMs });
 * process.once('SIGTERM', () => delivery.stop());
 */
export async function startDeliveryService(o: DeliveryServiceOptions): Promise<DeliveryService> {
  const queue = o.queue;
  const metrics = createDispatcherMetrics(o.registry ?? new Registry(), (now) => queue.stats(now));
  const t = o.tuning ?? {};
  const policy = createRetryPolicy({ schedule: o.retryScheduleMs, jitter: t.jitter ?? 'full' });
  const log = o.log ?? (() => {});
  const dispatchers = Array.from({ length: o.dispatchers ?? t.dispatchers ?? 1 }, () =>
    createDispatcher({
      queue,
      policy,
      metrics,
      allowPrivateEndpoints: o.allowPrivateEndpoints,
      ...(t.timeoutMs === undefined ? {} : { timeoutMs: t.timeoutMs }),
      ...(t.concurrency === undefined ? {} : { concurrency: t.concurrency }),
      ...(t.perEndpoint === undefined ? {} : { perEndpoint: t.perEndpoint }),
      ...(t.perPartner === undefined ? {} : { perPartner: t.perPartner }),
      ...(t.leaseMs === undefined ? {} : { leaseMs: t.leaseMs }),
      ...(t.pollIntervalMs === undefined ? {} : { pollIntervalMs: t.pollIntervalMs }),
      ...(t.failureWindowMs === undefined ? {} : { failureWindowMs: t.failureWindowMs }),
      onError: (err) => log('error', 'dispatcher error', { err: (err as Error).message }),
      onEndpointDisabled: (endpointId, reason) => log('warn', 'endpoint disabled', { endpointId, reason }),
    }),
  );
  for (const d of dispatchers) d.start();
  const sender = createSender({
    allowPrivateEndpoints: o.allowPrivateEndpoints,
    ...(t.timeoutMs === undefined ? {} : { timeoutMs: t.timeoutMs }),
  });
  let stopping: Promise<void> | undefined;
  const service: DeliveryService = {
    queue,
    dispatchers,
    sender,
    stop(graceMs) {
      stopping ??= (async () => {
        await Promise.all(dispatchers.map((d) => d.stop(graceMs)));
        await sender.close();
      })();
      return stopping;
    },
  };
  return service;
}
