/**
 * The alert rules: from what is true of an endpoint now (its row) and what the alerts have said so
 * far (its alert state), which alerts to raise. Pure: the store calls {@link decideAlerts} under the
 * endpoint's alert-state lock and writes what it returns, so two processes never tell the same
 * transition twice.
 *
 * State-based, not event-based, for everything but `delivery.failed`: a transition missed by the
 * dispatcher's hook (a crash between the queue's commit and the alert's) is found by the next sweep,
 * because the endpoint's row still differs from what the alerts have said. A `delivery.failed` carries
 * its delivery and attempt count, the key the store keeps it once under; the sweep finds the failures
 * without one (./sweep.ts).
 */
import type { AlertDecision, EndpointAlertView, NewAlert } from '../storage/store.js';
import { type AlertBody, type AlertEventType, alertPayload } from './events.js';

const HOUR = 3600_000;
const DAY = 24 * HOUR;

export interface AlertRules {
  /** `ENDPOINT_FAILURE_WINDOW`: failing this long disables an endpoint. */
  failureWindowMs: number;
  /** At most one `endpoint.failing` per endpoint this often. Default 1 hour. */
  repeatFailingMs?: number;
  now: Date;
  newId: () => string;
}

/**
 * How long before `disable_at` the warning goes out: a day, or half the window when the window is
 * shorter than two days (a 1-hour window warns after 30 minutes of failing).
 *
 * @example disablingLeadMs(5 * DAY) // 86_400_000
 */
export function disablingLeadMs(failureWindowMs: number): number {
  return Math.min(DAY, failureWindowMs / 2);
}

/**
 * Decides the alerts for one endpoint and its new alert state.
 *
 * @example
 * store.observeEndpointAlerts(observations, (view) => decideAlerts(view, { failureWindowMs, now: new Date(), newId: randomUUID }));
 */
export function decideAlerts(view: EndpointAlertView, rules: AlertRules): AlertDecision {
  const e = view.endpoint;
  const now = rules.now.getTime();
  const state = { ...view.state };
  const bodies: (AlertBody & { delivery?: NewAlert['delivery'] })[] = [];
  const about = { customer_id: e.customerId, endpoint_id: e.id, url: e.url };

  if (!e.enabled) {
    // told when the dispatcher was seen disabling it, or when a sweep finds a followed episode ended so
    const reason = view.disabledNow ?? (state.failingSince !== null ? e.disabledReason : null);
    if (reason !== null) bodies.push({ type: 'endpoint.disabled', data: { ...about, reason } });
    Object.assign(state, { failingSince: null, episodeAlerted: false, disablingWarned: false });
  } else if (e.failingSince !== null) {
    if (state.failingSince?.getTime() !== e.failingSince.getTime()) {
      Object.assign(state, { failingSince: e.failingSince, episodeAlerted: false, disablingWarned: false });
    }
    const since = e.failingSince.getTime();
    const disableAt = since + rules.failureWindowMs;
    const times = { failing_since: iso(since), disable_at: iso(disableAt) };
    const repeat = rules.repeatFailingMs ?? HOUR;
    if (state.failingAlertedAt === null || now - state.failingAlertedAt.getTime() >= repeat) {
      bodies.push({ type: 'endpoint.failing', data: { ...about, ...times } });
      state.failingAlertedAt = rules.now;
      state.episodeAlerted = true;
    }
    if (!state.disablingWarned && now >= disableAt - disablingLeadMs(rules.failureWindowMs)) {
      bodies.push({ type: 'endpoint.disabling', data: { ...about, ...times } });
      state.disablingWarned = true;
    }
  } else if (state.failingSince !== null) {
    // recovered: told only after a failing episode that was told
    if (state.episodeAlerted) {
      bodies.push({
        type: 'endpoint.recovered',
        data: { ...about, failing_since: state.failingSince.toISOString() },
      });
    }
    Object.assign(state, { failingSince: null, episodeAlerted: false, disablingWarned: false });
  }

  for (const d of view.failedDeliveries) {
    bodies.push({
      type: 'delivery.failed',
      delivery: { id: d.id, attemptCount: d.attemptCount },
      data: {
        ...about,
        delivery: {
          id: d.id,
          event_id: d.eventId,
          attempt_count: d.attemptCount,
          last_status_code: d.lastStatusCode,
          last_error: d.lastError,
        },
      },
    });
  }

  const alerts: NewAlert[] = [];
  for (const body of bodies) {
    const channels = channelsFor(view, body.type);
    if (channels.length === 0) continue;
    const eventId = rules.newId();
    const payload = alertPayload(eventId, rules.now, body);
    for (const channel of channels) {
      alerts.push({
        id: rules.newId(),
        eventId,
        customerId: e.customerId,
        endpointId: e.id,
        channel,
        eventType: body.type,
        payload,
        createdAt: rules.now,
        delivery: body.delivery ?? null,
      });
    }
  }
  return { state, alerts };
}

/** The channels the partner wants this event type on; never the webhook when it is the endpoint's URL. */
function channelsFor(view: EndpointAlertView, type: AlertEventType): ('webhook' | 'email')[] {
  const s = view.settings;
  if (!s?.events.includes(type)) return [];
  const channels: ('webhook' | 'email')[] = [];
  if (s.webhookUrl !== null && s.webhookSecret !== null && s.webhookUrl !== view.endpoint.url) {
    channels.push('webhook');
  }
  if (s.email !== null) channels.push('email');
  return channels;
}

const iso = (ms: number) => new Date(ms).toISOString();
