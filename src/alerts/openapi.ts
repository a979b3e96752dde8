/**
 * The failure alerts in the OpenAPI `webhooks` section, one entry per event type, from the zod
 * schemas of ./events.ts. Merged into the service's `/openapi.json` beside the contract's event.
 */
import { z } from 'zod';
import { ALERT_EVENT_TYPES, type AlertEventType, alertEventSchema } from './events.js';

const DESCRIPTIONS: Record<AlertEventType, string> = {
  'endpoint.failing':
    'One of your webhook endpoints is failing: sent at the first failed attempt after a success, then at most once an hour while every attempt keeps failing.',
  'endpoint.disabling':
    'One of your webhook endpoints has been failing for long: it will be disabled at its first failed attempt after `disable_at`. Sent once per failing episode, a day before (half the failure window before, when the window is shorter than two days).',
  'endpoint.disabled':
    'One of your webhook endpoints was disabled (it answered 410, or failed every attempt for the whole failure window). Re-enable it with `PATCH …/webhooks/{webhook_id}` `{"enabled": true}` and recover its failed deliveries.',
  'endpoint.recovered': 'A webhook endpoint that was reported failing has delivered again.',
  'delivery.failed':
    'A delivery will not be attempted again: its retries are exhausted, or the endpoint answered 400 or 410. Retry it, or recover the endpoint once it is fixed.',
};

const SIGNING =
  'Sent to your notification endpoint (`PUT /api/v1/customers/{customer_id}/notifications`), never to the endpoint the alert is about, signed with Standard Webhooks and the notification secret (not an endpoint secret): verify `webhook-signature` over the raw body. At least once: an alert may come twice (same `event_id`, also `webhook-id`); retried on the delivery retry schedule until you answer 2xx. Also sent by email when an address is set.';

const nameOf = (type: AlertEventType) =>
  `alert${type
    .split('.')
    .map((w) => (w[0]?.toUpperCase() ?? '') + w.slice(1))
    .join('')}`;

function entry(type: AlertEventType): Record<string, unknown> {
  const { $schema: _s, ...schema } = z.toJSONSchema(alertEventSchema(type), { target: 'draft-2020-12' });
  return {
    post: {
      operationId: nameOf(type),
      summary: `Failure alert: ${type}`,
      description: `${DESCRIPTIONS[type]}\n\n${SIGNING}`,
      tags: ['Failure alerts'],
      security: [],
      parameters: ['webhook-id', 'webhook-timestamp', 'webhook-signature'].map((name) => ({
        name,
        in: 'header',
        required: true,
        description: 'Standard Webhooks, as for the status event',
        schema: { type: 'string' },
      })),
      requestBody: { required: true, content: { 'application/json': { schema } } },
      responses: { '200': { description: 'Alert received' } },
    },
  };
}

/**
 * The `webhooks` entries of the alerts (`alertEndpointFailing`, …).
 *
 * @example
 * const doc = { webhooks: { ...openApiWebhooks(), ...alertWebhooks() } };
 */
export function alertWebhooks(): Record<string, unknown> {
  return Object.fromEntries(ALERT_EVENT_TYPES.map((t) => [nameOf(t), entry(t)]));
}
