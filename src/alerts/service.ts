/**
 * The alert loops of a delivery process (started by src/webhooks/dispatcher/service.ts):
 *
 * - Recorder: the dispatcher hands over each completed batch (after the queue's commit); the endpoints
 *   it touched are observed under their alert-state lock (src/alerts/transitions.ts) and the alerts
 *   written to the outbox. A failed write is kept and tried again.
 * - Sweep (./sweep.ts): every few seconds to a minute, the endpoints that are failing or followed as
 *   failing are observed again (the hourly `endpoint.failing` while it keeps failing, the disabling
 *   warning), and whatever the recorder missed (another process's completions, a crash between the
 *   queue's commit and the recorder's write, `delivery.failed` included) is told.
 * - Sender: claims due alerts with a lease, sends them (./channels.ts), retries on the delivery retry
 *   schedule, records every attempt.
 *
 * What they raise and send is counted in `metrics` (./metrics.ts), when given.
 */
import { randomUUID } from 'node:crypto';
import type { CompleteResult, Completion } from '../storage/queue.js';
import type { AlertObservation, NewAlert, Store } from '../storage/store.js';
import type { RetryPolicy } from '../webhooks/dispatcher/retry-policy.js';
import type { Sender } from '../webhooks/dispatcher/sender.js';
import { type Mailer, sendAlert } from './channels.js';
import type { AlertMetrics } from './metrics.js';
import { sweepAlerts } from './sweep.js';
import { decideAlerts, disablingLeadMs } from './transitions.js';

export interface AlertServiceOptions {
  store: Store;
  /** `ENDPOINT_FAILURE_WINDOW`. */
  failureWindowMs: number;
  /** The delivery retry policy (`RETRY_SCHEDULE`, `RETRY_JITTER`): alerts retry on the same schedule. */
  policy: RetryPolicy;
  /** Signs and posts (the dispatcher's sender, with its address policy). */
  sender: Sender;
  /** Email; absent when `SMTP_URL` is not set. */
  mailer?: Mailer | undefined;
  /** How often the sender looks for due alerts when nothing wakes it. Default 1 s. */
  pollIntervalMs?: number;
  /** Default: a quarter of the disabling lead, from 1 s to 1 minute. */
  sweepIntervalMs?: number;
  /** Lease of a claimed alert. Default 1 minute. */
  leaseMs?: number;
  /** Where alerts raised and sent are counted (the registry `/metrics` serves); none when absent. */
  metrics?: AlertMetrics | undefined;
  onError?: (err: unknown) => void;
}

export interface AlertService {
  /** The dispatcher's hook: a batch of completions the queue has committed, and what it disabled. */
  observe(completions: readonly Completion[], result: CompleteResult): void;
  /** Stops the loops, waiting for a write or a send under way. */
  stop(): Promise<void>;
}

const CLAIM_LIMIT = 16;

/**
 * Starts the recorder, the sweep and the sender.
 *
 * @example
 * const alerts = startAlertService({ store, failureWindowMs, policy, sender, mailer });
 * createDispatcher({ queue, onCompleted: alerts.observe });
 */
export function startAlertService(o: AlertServiceOptions): AlertService {
  const { store, failureWindowMs } = o;
  const onError = o.onError ?? ((err: unknown) => console.error('alerts:', err));
  const pollIntervalMs = o.pollIntervalMs ?? 1000;
  const sweepIntervalMs =
    o.sweepIntervalMs ?? Math.min(60_000, Math.max(1000, disablingLeadMs(failureWindowMs) / 4));
  const leaseMs = o.leaseMs ?? 60_000;
  let running = true;

  // Endpoints seen succeeding with nothing to tell: their successes need no look (the common case,
  // so a healthy system writes nothing more per batch). A failure, or any doubt, removes the mark.
  const quiet = new Set<string>();
  const pending = new Map<string, { failed: Set<string>; disabledReason: string | null }>();

  const decide = (view: Parameters<typeof decideAlerts>[0]) => {
    const decision = decideAlerts(view, { failureWindowMs, now: new Date(), newId: randomUUID });
    const s = decision.state;
    if (view.endpoint.enabled && view.endpoint.failingSince === null && s.failingSince === null) {
      quiet.add(view.endpoint.id);
    } else quiet.delete(view.endpoint.id);
    return decision;
  };

  function raised(written: NewAlert[]): void {
    o.metrics?.raised(written);
    if (written.length > 0) sending.wake();
  }

  async function record(observations: AlertObservation[]): Promise<void> {
    raised(await store.observeEndpointAlerts(observations, decide));
  }

  const sending = loop(async () => {
    const claimed = await store.claimAlerts({ now: new Date(), leaseMs, limit: CLAIM_LIMIT });
    await Promise.all(
      claimed.map(async (alert) => {
        const outcome = await sendAlert(
          alert,
          { sender: o.sender, mailer: o.mailer, policy: o.policy },
          new Date(),
        );
        await store.settleAlert(alert.id, outcome, new Date());
        o.metrics?.sent(alert.channel, outcome);
      }),
    );
    return claimed.length === CLAIM_LIMIT;
  }, pollIntervalMs);

  const recorder = loop(async () => {
    if (pending.size === 0) return false;
    const batch: AlertObservation[] = [...pending].map(([endpointId, p]) => ({
      endpointId,
      failedDeliveryIds: [...p.failed],
      disabledReason: p.disabledReason,
    }));
    pending.clear();
    try {
      await record(batch);
      return true;
    } catch (err) {
      onError(err);
      for (const b of batch) merge(b.endpointId, b.failedDeliveryIds, b.disabledReason);
      return false;
    }
  }, 1000);

  const sweeping = loop(async () => {
    raised(await sweepAlerts(store, decide));
    return false;
  }, sweepIntervalMs);

  function merge(endpointId: string, failed: readonly string[], disabledReason: string | null) {
    const p = pending.get(endpointId) ?? { failed: new Set<string>(), disabledReason: null };
    for (const id of failed) p.failed.add(id);
    p.disabledReason = disabledReason ?? p.disabledReason;
    pending.set(endpointId, p);
  }

  /** One loop: `step` again at once while it says there is more, else after `intervalMs` or a wake. */
  function loop(step: () => Promise<boolean>, intervalMs: number) {
    let wake: (() => void) | undefined;
    let woken = false;
    const done = (async () => {
      while (running) {
        let more = false;
        try {
          more = await step();
        } catch (err) {
          onError(err);
        }
        if (!running) break;
        if (more || woken) {
          woken = false;
          continue;
        }
        await new Promise<void>((resolve) => {
          const timer = setTimeout(finish, intervalMs);
          function finish() {
            clearTimeout(timer);
            wake = undefined;
            resolve();
          }
          wake = finish;
        });
        woken = false;
      }
    })();
    return {
      done,
      wake() {
        woken = true;
        wake?.();
      },
    };
  }

  return {
    observe(completions, result) {
      if (!running) return;
      const disabled = new Map(result.disabled.map((d) => [d.endpointId, d.reason]));
      const touched = new Set<string>();
      for (const c of completions) {
        if (c.succeeded && quiet.has(c.endpointId) && !disabled.has(c.endpointId)) continue;
        quiet.delete(c.endpointId);
        touched.add(c.endpointId);
        merge(c.endpointId, c.next.status === 'failed' ? [c.deliveryId] : [], null);
      }
      for (const [endpointId, reason] of disabled) merge(endpointId, [], reason);
      if (touched.size > 0 || disabled.size > 0) recorder.wake();
    },
    async stop() {
      running = false;
      for (const l of [recorder, sweeping, sending]) l.wake();
      await Promise.all([recorder.done, sweeping.done, sending.done]);
      // what the recorder still holds is written now (the queue has committed it)
      if (pending.size > 0) {
        await record(
          [...pending].map(([endpointId, p]) => ({
            endpointId,
            failedDeliveryIds: [...p.failed],
            disabledReason: p.disabledReason,
          })),
        ).catch(onError);
      }
    },
  };
}
