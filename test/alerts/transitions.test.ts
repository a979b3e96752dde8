/** The alert rules alone (src/alerts/transitions.ts): what each endpoint state and alert state tell. */
import { describe, expect, it } from 'vitest';
import { decideAlerts, disablingLeadMs } from '../../src/alerts/transitions.js';
import type { EndpointAlertView } from '../../src/storage/store.js';

const HOUR = 3600_000;
const DAY = 24 * HOUR;
const T0 = Date.parse('2025-07-17T10:00:00Z');

function view(over: {
  failingSince?: number | null;
  enabled?: boolean;
  state?: Partial<EndpointAlertView['state']>;
  disabledNow?: string | null;
}): EndpointAlertView {
  return {
    endpoint: {
      id: 'ep1',
      customerId: 'c1',
      url: 'https://partner.example/hook',
      enabled: over.enabled ?? true,
      disabledReason: over.enabled === false ? 'HTTP 410' : null,
      failingSince: over.failingSince == null ? null : new Date(over.failingSince),
    },
    state: {
      failingSince: null,
      episodeAlerted: false,
      failingAlertedAt: null,
      disablingWarned: false,
      ...over.state,
    },
    settings: {
      customerId: 'c1',
      webhookUrl: 'https://partner.example/alerts',
      webhookSecret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
      email: null,
      events: ['endpoint.failing', 'endpoint.disabling', 'endpoint.disabled', 'endpoint.recovered'],
      updatedAt: new Date(T0),
    },
    failedDeliveries: [],
    disabledNow: over.disabledNow ?? null,
  };
}

let n = 0;
const rules = (now: number) => ({ failureWindowMs: 5 * DAY, now: new Date(now), newId: () => `id${n++}` });
const types = (v: EndpointAlertView, now: number) =>
  decideAlerts(v, rules(now)).alerts.map((a) => a.eventType);

describe('decideAlerts', () => {
  it('tells failing at the first failure, not again within the hour, again after it', () => {
    const first = decideAlerts(view({ failingSince: T0 }), rules(T0));
    expect(first.alerts.map((a) => a.eventType)).toEqual(['endpoint.failing']);
    const state = first.state;
    expect(types(view({ failingSince: T0, state }), T0 + HOUR - 1)).toEqual([]);
    expect(types(view({ failingSince: T0, state }), T0 + HOUR)).toEqual(['endpoint.failing']);
  });

  it('a new episode within the hour of the last failing is not told, nor its recovery', () => {
    const state = { failingSince: null, failingAlertedAt: new Date(T0) };
    const again = decideAlerts(view({ failingSince: T0 + 60_000, state }), rules(T0 + 60_000));
    expect(again.alerts).toEqual([]);
    expect(types(view({ failingSince: null, state: again.state }), T0 + 120_000)).toEqual([]);
  });

  it('tells recovered after a told episode', () => {
    const state = { failingSince: new Date(T0), episodeAlerted: true, failingAlertedAt: new Date(T0) };
    expect(types(view({ state }), T0 + 1000)).toEqual(['endpoint.recovered']);
  });

  it('warns once, a day before the window ends; half the window when it is short', () => {
    const state = {
      failingSince: new Date(T0),
      episodeAlerted: true,
      failingAlertedAt: new Date(T0 + 4 * DAY),
    };
    expect(types(view({ failingSince: T0, state }), T0 + 4 * DAY - 1)).toEqual([]);
    const warned = decideAlerts(view({ failingSince: T0, state }), rules(T0 + 4 * DAY));
    expect(warned.alerts.map((a) => a.eventType)).toEqual(['endpoint.disabling']);
    expect(types(view({ failingSince: T0, state: warned.state }), T0 + 4 * DAY + 1000)).toEqual([]);
    expect(disablingLeadMs(HOUR)).toBe(HOUR / 2);
  });

  it('tells disabled when seen disabled, or when a followed episode ended so', () => {
    expect(types(view({ enabled: false, disabledNow: 'HTTP 410' }), T0)).toEqual(['endpoint.disabled']);
    expect(types(view({ enabled: false, state: { failingSince: new Date(T0) } }), T0)).toEqual([
      'endpoint.disabled',
    ]);
    expect(types(view({ enabled: false }), T0)).toEqual([]);
  });

  it('never sends on the webhook channel to the endpoint alerted about', () => {
    const v = view({ failingSince: T0 });
    if (v.settings) v.settings.webhookUrl = v.endpoint.url;
    expect(decideAlerts(v, rules(T0)).alerts).toEqual([]);
  });
});
