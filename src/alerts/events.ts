/**
 * The failure alerts a partner can receive about its own webhook endpoints: one zod schema per event
 * type, the source of the payload builder's types and of the JSON Schemas in the OpenAPI `webhooks`
 * section (./openapi.ts).
 *
 * Glossary
 * - Failing: an endpoint whose every attempt has failed since `failing_since` (the first failure after
 *   its last success). Told at the first failure, then at most once an hour while it keeps failing.
 * - Disabling: the endpoint will be disabled at its first failed attempt after `disable_at`
 *   (`failing_since` + `ENDPOINT_FAILURE_WINDOW`); told once per failing episode, a day before (half the
 *   window when the window is shorter than two days).
 * - Disabled: the dispatcher disabled it (410, or failing for the whole window).
 * - Recovered: the first success after a failing episode that was told.
 * - Delivery failed: one delivery will not be attempted again (retries exhausted, 400 or 410).
 */
import { z } from 'zod';

export const ALERT_EVENT_TYPES = [
  'endpoint.failing',
  'endpoint.disabling',
  'endpoint.disabled',
  'endpoint.recovered',
  'delivery.failed',
] as const;
export type AlertEventType = (typeof ALERT_EVENT_TYPES)[number];

const isoTime = z.iso.datetime().meta({ example: '2025-07-17T10:30:00.000Z' });

/** What every alert says about the endpoint it is about. */
const endpointData = {
  customer_id: z.string().meta({ description: "The partner's customer_id", example: '0201001008132685' }),
  endpoint_id: z.string().meta({ description: 'The webhook endpoint this alert is about' }),
  url: z.string().meta({ description: "That endpoint's URL (never the URL this alert is sent to)" }),
};

const failingSince = isoTime.meta({
  description: 'When the first failed attempt after the last success was made',
});
const disableAt = isoTime.meta({
  description:
    'The first failed attempt after this time disables the endpoint (`failing_since` + the failure window)',
});

/** The `data` of each event type. */
export const alertDataSchemas = {
  'endpoint.failing': z.object({
    ...endpointData,
    failing_since: failingSince,
    disable_at: disableAt,
  }),
  'endpoint.disabling': z.object({
    ...endpointData,
    failing_since: failingSince,
    disable_at: disableAt,
  }),
  'endpoint.disabled': z.object({
    ...endpointData,
    reason: z.string().meta({ description: 'Why it was disabled; re-enable it with PATCH `enabled: true`' }),
  }),
  'endpoint.recovered': z.object({
    ...endpointData,
    failing_since: failingSince.meta({ description: 'When the failing episode that just ended began' }),
  }),
  'delivery.failed': z.object({
    ...endpointData,
    delivery: z.object({
      id: z.string().meta({ description: 'The delivery (see its attempts under the endpoint)' }),
      event_id: z.string().meta({ description: 'The event that was not delivered' }),
      attempt_count: z.number().int().min(1),
      last_status_code: z.number().int().nullable().meta({ description: 'null: no HTTP answer' }),
      last_error: z.string().nullable(),
    }),
  }),
} as const satisfies Record<AlertEventType, z.ZodType>;

export type AlertData<T extends AlertEventType> = z.output<(typeof alertDataSchemas)[T]>;

/**
 * One alert's body: `{event_id, event_type, event_timestamp, data}`.
 *
 * @example alertEventSchema('endpoint.failing').parse(JSON.parse(body))
 */
export function alertEventSchema<T extends AlertEventType>(type: T) {
  return z.object({
    event_id: z.string().meta({ description: 'Unique per alert (also `webhook-id`): process it once' }),
    event_type: z.literal(type),
    event_timestamp: isoTime.meta({ description: 'When the alert was raised' }),
    data: alertDataSchemas[type],
  });
}

export type AlertEvent<T extends AlertEventType = AlertEventType> = {
  event_id: string;
  event_type: T;
  event_timestamp: string;
  data: AlertData<T>;
};

/** An alert before it is given an id and a time. */
export type AlertBody = { [T in AlertEventType]: { type: T; data: AlertData<T> } }[AlertEventType];

/**
 * The exact JSON text of an alert.
 *
 * @example
 * alertPayload(randomUUID(), new Date(), { type: 'endpoint.disabled', data: { customer_id, endpoint_id, url, reason } });
 */
export function alertPayload(eventId: string, at: Date, body: AlertBody): string {
  return JSON.stringify({
    event_id: eventId,
    event_type: body.type,
    event_timestamp: at.toISOString(),
    data: body.data,
  });
}

/** One line saying what happened, for an email's subject and a dashboard row. */
export function alertSummary(event: AlertEvent): string {
  const d = event.data as AlertData<AlertEventType>;
  switch (event.event_type) {
    case 'endpoint.failing':
      return `Webhook endpoint ${d.url} is failing`;
    case 'endpoint.disabling':
      return `Webhook endpoint ${d.url} will be disabled soon`;
    case 'endpoint.disabled':
      return `Webhook endpoint ${d.url} was disabled`;
    case 'endpoint.recovered':
      return `Webhook endpoint ${d.url} has recovered`;
    case 'delivery.failed':
      return `A delivery to ${d.url} has failed for good`;
  }
}
