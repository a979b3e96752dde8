/**
 * Partner API, delivery operations (the dispatcher's side): send one delivery again, re-queue the
 * failed ones since a time, send a signed test event. Listing deliveries is in webhooks.ts.
 */
import { randomUUID } from 'node:crypto';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { buildEvent } from '../../contract/build.js';
import { toDeliveryView } from '../../webhooks/deliveries.js';
import { isEndpointId } from '../../webhooks/endpoints.js';
import { deliveryViewSchema, testDeliveryResultSchema } from '../../webhooks/schema.js';
import { HttpError } from '../errors.js';
import { jsonAnswer } from '../openapi.js';
import { customerIdSchema, errorResponses, PARTNER_SECURITY, type RouteDeps } from './shared.js';

const BASE = '/api/v1/customers/:customer_id/webhooks/:webhook_id';
const TAGS = ['webhooks'];
const params = z.object({ customer_id: customerIdSchema, webhook_id: z.string().min(1).max(100) });

/** The client_customer_ref of the test event, so receivers can recognise and ignore it. */
export const TEST_EVENT_REF = 'tpcs-test-event';

const notFound = (what: string) => new HttpError('not_found', `No ${what}`);

/** The routes; registered by `buildApp` beside the webhook routes. */
export const deliveryRoutes: FastifyPluginAsyncZod<RouteDeps> = async (
  app,
  { store, auth, delivery: handle },
) => {
  const delivery = () => {
    if (!handle) throw new HttpError('unavailable', 'Delivery is not running in this process');
    return handle;
  };
  app.addHook('onRequest', auth.requirePartner);

  app.post(
    `${BASE}/deliveries/:delivery_id/retry`,
    {
      schema: {
        operationId: 'retryDelivery',
        summary: 'Send one delivery again now (also a delivered or failed one)',
        description:
          'The delivery is queued to be sent at once, with a fresh retry schedule; the answer shows it as queued (pending). 503 when this process runs no delivery queue.',
        tags: TAGS,
        security: PARTNER_SECURITY,
        params: params.extend({ delivery_id: z.string().min(1).max(100) }),
        response: {
          202: jsonAnswer('Queued; the delivery as it is now', deliveryViewSchema),
          ...errorResponses(401, 404, 503),
        },
      },
    },
    async (request, reply) => {
      const { customer_id: customerId, webhook_id: id, delivery_id: deliveryId } = request.params;
      const d = await delivery().queue.retry(customerId, id, deliveryId, new Date());
      if (!d) throw notFound(`delivery ${deliveryId.slice(0, 100)} for webhook ${id.slice(0, 100)}`);
      return reply.code(202).send(toDeliveryView(d));
    },
  );

  app.post(
    `${BASE}/recover`,
    {
      schema: {
        operationId: 'recoverDeliveries',
        summary: 'Re-queue every failed delivery created since a time, each with a fresh retry schedule',
        tags: TAGS,
        security: PARTNER_SECURITY,
        params,
        body: z.strictObject({
          since: z.iso
            .datetime({ offset: true })
            .meta({ description: 'ISO 8601 date-time with an offset', example: '2025-07-17T00:00:00Z' }),
        }),
        response: {
          202: jsonAnswer(
            'Re-queued',
            z.object({
              requeued: z.number().int().meta({ description: 'How many deliveries were re-queued' }),
            }),
          ),
          ...errorResponses(400, 401, 404, 503),
        },
      },
    },
    async (request, reply) => {
      const { customer_id: customerId, webhook_id: id } = request.params;
      const since = new Date(request.body.since);
      const n = await delivery().queue.recover(customerId, id, since, new Date());
      if (n === undefined) throw notFound(`webhook ${id.slice(0, 100)}`);

      return reply.code(202).send({ requeued: n });
    },
  );

  app.post(
    `${BASE}/test`,
    {
      schema: {
        operationId: 'sendTestEvent',
        summary: `Send a signed test event (client_customer_ref "${TEST_EVENT_REF}") now and report the attempt`,
        description:
          "Takes no body (or the empty object `{}`). The event is signed with the endpoint's secrets and sent once, outside the queue and the event log; the answer says how the endpoint answered. 503 when this process runs no delivery sender.",
        tags: TAGS,
        security: PARTNER_SECURITY,
        params,
        // No body, or an empty object (Fastify hands a missing body to the validator as null).
        body: z.strictObject({}).nullish(),
        response: {
          200: jsonAnswer('Sent; how the endpoint answered', testDeliveryResultSchema),
          ...errorResponses(400, 401, 404, 503),
        },
      },
    },
    async (request) => {
      const { customer_id: customerId, webhook_id: id } = request.params;
      const endpoint = isEndpointId(id) ? await store.getEndpoint(customerId, id) : undefined;
      if (!endpoint) throw notFound(`webhook ${id.slice(0, 100)}`);
      const { event, json } = buildEvent({
        eventId: randomUUID(),
        customerId,
        clientCustomerRef: TEST_EVENT_REF,
        status: 'APPROVED',
      });
      const result = await delivery().sender.send({
        url: endpoint.url,
        messageId: event.event_id,
        payload: json,
        secrets: endpoint.secrets.map((s) => s.secret),
      });
      return {
        event_id: event.event_id,
        delivered: result.statusCode !== null && result.statusCode >= 200 && result.statusCode < 300,
        status_code: result.statusCode,
        duration_ms: result.durationMs,
        error: result.errorKind === null ? null : `${result.errorKind}: ${result.errorMessage}`,
        response_excerpt: result.responseExcerpt,
      };
    },
  );
};
