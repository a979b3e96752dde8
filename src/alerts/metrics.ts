/**
 * The failure alerts' Prometheus metrics, registered in the registry they are given: the delivery
 * service passes the one `/metrics` serves (src/webhooks/dispatcher/service.ts), so what the alert
 * loops count is what an operator scrapes. Labels have bounded values: event types, channels and
 * outcomes, never ids.
 */
import { Counter, type Registry } from 'prom-client';
import type { AlertOutcome, NewAlert } from '../storage/store.js';
import { ALERT_EVENT_TYPES } from './events.js';

/** How one send attempt ended: `retry` failed and will be tried again, `failed` gave up. */
export type AlertSendOutcome = 'sent' | 'retry' | 'failed' | 'skipped';

export interface AlertMetrics {
  /** Alerts written to the outbox, one per alert whatever its channels. */
  raised(written: readonly NewAlert[]): void;
  /** One send attempt on one channel. */
  sent(channel: 'webhook' | 'email', outcome: AlertOutcome): void;
}

/**
 * Creates the alert counters in `registry` (one per registry: a second call throws, as prom-client
 * refuses a name twice).
 *
 * @example
 * const metrics = createAlertMetrics(registry);
 * startAlertService({ store, metrics, … });
 */
export function createAlertMetrics(registry: Registry): AlertMetrics {
  const raised = new Counter({
    name: 'tpcs_alerts_raised_total',
    help: 'Failure alerts raised (written to the outbox), by event type; one per alert whatever its channels',
    labelNames: ['event_type'],
    registers: [registry],
  });
  const sends = new Counter({
    name: 'tpcs_alert_sends_total',
    help: 'Failure alert send attempts, by channel (webhook, email) and outcome (sent, retry, failed, skipped)',
    labelNames: ['channel', 'outcome'],
    registers: [registry],
  });
  // every event type shows from the start (at 0), so a dashboard can tell "none" from "not counted"
  for (const eventType of ALERT_EVENT_TYPES) raised.inc({ event_type: eventType }, 0);
  for (const channel of ['webhook', 'email']) {
    for (const outcome of ['sent', 'failed']) sends.inc({ channel, outcome }, 0);
  }
  return {
    raised(written) {
      const seen = new Set<string>();
      for (const a of written) {
        if (seen.has(a.eventId)) continue;
        seen.add(a.eventId);
        raised.inc({ event_type: a.eventType });
      }
    },
    sent(channel, outcome) {
      sends.inc({ channel, outcome: sendOutcome(outcome) });
    },
  };
}

function sendOutcome(outcome: AlertOutcome): AlertSendOutcome {
  return outcome.status === 'pending' ? 'retry' : outcome.status;
}
