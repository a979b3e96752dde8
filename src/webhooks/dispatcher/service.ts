/**
 * Running dispatchers in a process: `tpcs worker` runs them alone, `tpcs serve` runs one beside the
 * API. Tuning comes from the environment (names below) so both commands read it the same way.
 */
import { Registry } from 'prom-client';
import type { DeliveryQueue } from '../../storage/queue.js';
import { createDispatcher, type Dispatcher } from './dispatcher.js';
import { createDispatcherMetrics } from './metrics.js';
import { createRetryPolicy, type Jitter, parseDuration } from './retry-policy.js';
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

/** Knobs, each with an environment variable. */
export interface DeliveryTuning {
  /** DELIVERY_TIMEOUT (duration, default 15s) */
  timeoutMs?: number;
  /** DELIVERY_CONCURRENCY (default 256): attempts in flight per dispatcher */
  concurrency?: number;
  /** DELIVERY_PER_ENDPOINT (default 8): attempts in flight per endpoint, all processes together */
  perEndpoint?: number;
  /** DELIVERY_LEASE (duration, default 2 × timeout + 5 s) */
  leaseMs?: number;
  /** DELIVERY_POLL (duration, default 500ms) */
  pollIntervalMs?: number;
  /** ENDPOINT_FAILURE_WINDOW (duration, default 5d) */
  failureWindowMs?: number;
  /** RETRY_JITTER (full | none, default full) */
  jitter?: Jitter;
  /**
   * DELIVERY_DISPATCHERS (default 1): claim loops in this process when the caller does not say;
   * 0 runs `tpcs serve` as an API only, with `tpcs worker` processes delivering.
   */
  dispatchers?: number;
}

/** Reads {@link DeliveryTuning} from the environment; throws on a malformed value. */
export function tuningFromEnv(env: NodeJS.ProcessEnv): DeliveryTuning {
  const t: DeliveryTuning = {};
  const duration = (name: string): number | undefined => {
    const raw = env[name];
    if (raw === undefined || raw === '') return undefined;
    const ms = parseDuration(raw);
    if (ms === undefined || ms <= 0) throw new Error(`${name} must be a duration such as 15s, not ${raw}`);
    return ms;
  };
  const count = (name: string): number | undefined => {
    const raw = env[name];
    if (raw === undefined || raw === '') return undefined;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < 1) throw new Error(`${name} must be a positive integer, not ${raw}`);
    return n;
  };
  const set = <K extends keyof DeliveryTuning>(k: K, v: DeliveryTuning[K] | undefined) => {
    if (v !== undefined) t[k] = v;
  };
  set('timeoutMs', duration('DELIVERY_TIMEOUT'));
  set('concurrency', count('DELIVERY_CONCURRENCY'));
  set('perEndpoint', count('DELIVERY_PER_ENDPOINT'));
  set('leaseMs', duration('DELIVERY_LEASE'));
  set('pollIntervalMs', duration('DELIVERY_POLL'));
  set('failureWindowMs', duration('ENDPOINT_FAILURE_WINDOW'));
  const dispatchers = env.DELIVERY_DISPATCHERS;
  if (dispatchers !== undefined && dispatchers !== '') {
    const n = Number(dispatchers);
    if (!Number.isInteger(n) || n < 0)
      throw new Error(`DELIVERY_DISPATCHERS must be a whole number (0 for none), not ${dispatchers}`);
    t.dispatchers = n;
  }
  const jitter = env.RETRY_JITTER;
  if (jitter !== undefined && jitter !== '') {
    if (jitter !== 'full' && jitter !== 'none')
      throw new Error(`RETRY_JITTER must be full or none, not ${jitter}`);
    t.jitter = jitter;
  }
  return t;
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
