/**
 * Running dispatchers in a process: `tpcs worker` runs them alone, `tpcs serve` runs one beside the
 * API. Both read the tuning from the same settings (src/config: `--delivery-timeout` or
 * `DELIVERY_TIMEOUT`, …).
 */
import { Registry } from 'prom-client';
import { createMailer } from '../../alerts/channels.js';
import { createAlertMetrics } from '../../alerts/metrics.js';
import { type AlertService, startAlertService } from '../../alerts/service.js';
import type { DeliveryQueue } from '../../storage/queue.js';
import type { Store } from '../../storage/store.js';
import { createDispatcher, type Dispatcher } from './dispatcher.js';
import { createDispatcherMetrics } from './metrics.js';
import { createRetryPolicy, type Jitter } from './retry-policy.js';
import { createSender, type Sender } from './sender.js';

export interface DeliveryServiceOptions {
  /** The storage's queue (`openStorage`); the service does not close it. */
  queue: DeliveryQueue;
  /**
   * The storage's store: with it, the service also raises and sends failure alerts (src/alerts);
   * without it, none.
   */
  store?: Store;
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
  /** `SMTP_URL`: where failure alerts are emailed through; without it, email alerts are skipped. */
  smtpUrl?: string;
  /** `ALERT_EMAIL_FROM`: the From of alert emails. */
  alertEmailFrom?: string;
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
  /** The failure alerts' loops (src/alerts/service.ts); undefined without a store. */
  alerts: AlertService | undefined;
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
  const registry = o.registry ?? new Registry();
  const metrics = createDispatcherMetrics(registry, (now) => queue.stats(now));
  const t = o.tuning ?? {};
  const policy = createRetryPolicy({ schedule: o.retryScheduleMs, jitter: t.jitter ?? 'full' });
  const log = o.log ?? (() => {});
  const sender = createSender({
    allowPrivateEndpoints: o.allowPrivateEndpoints,
    ...(t.timeoutMs === undefined ? {} : { timeoutMs: t.timeoutMs }),
  });
  const mailer =
    o.store && t.smtpUrl !== undefined
      ? createMailer(t.smtpUrl, t.alertEmailFrom ?? 'tpcs <alerts@localhost>', t.timeoutMs ?? 15_000)
      : undefined;
  const alerts =
    o.store &&
    startAlertService({
      store: o.store,
      failureWindowMs: t.failureWindowMs ?? 5 * 24 * 3600_000,
      policy,
      // the same sender as the test event's: signed, and the address policy at connect time
      sender,
      mailer,
      metrics: createAlertMetrics(registry),
      onError: (err) => log('error', 'failure alerts error', { err: (err as Error).message }),
    });
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
      ...(alerts ? { onCompleted: alerts.observe } : {}),
    }),
  );
  for (const d of dispatchers) d.start();
  let stopping: Promise<void> | undefined;
  const service: DeliveryService = {
    queue,
    dispatchers,
    sender,
    alerts,
    stop(graceMs) {
      stopping ??= (async () => {
        await Promise.all(dispatchers.map((d) => d.stop(graceMs)));
        // after the dispatchers: their last completions are observed too
        await alerts?.stop();
        mailer?.close();
        await sender.close();
      })();
      return stopping;
    },
  };
  return service;
}
