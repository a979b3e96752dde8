/** Partner API: webhook endpoints (subscribe, read, change, delete, rotate the secret). */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { EndpointPatch } from '../../storage/store.js';
import { toDeliveryView } from '../../webhooks/deliveries.js';
import {
  DEFAULT_ENDPOINTS_PER_PARTNER,
  isEndpointId,
  rotateEndpointSecret,
  subscribeEndpoint,
  toEndpointView,
} from '../../webhooks/endpoints.js';
import {
  deliveryListQuerySchema,
  deliveryListSchema,
  endpointListQuerySchema,
  endpointListSchema,
  endpointPatchSchema,
  endpointUpdateSchema,
  endpointViewSchema,
  endpointWithSecretSchema,
  newEndpointSchema,
} from '../../webhooks/schema.js';
import { checkEndpointUrl } from '../../webhooks/url-policy.js';
import { HttpError, rethrowInvalidCursor } from '../errors.js';
import { IDEMPOTENCY_HEADERS, REPLAYED_HEADER } from '../idempotency.js';
import { jsonAnswer } from '../openapi.js';
import {
  customerIdSchema,
  customerParamsSchema,
  errorResponses,
  PARTNER_SECURITY,
  type RouteDeps,
} from './shared.js';

const BASE = '/api/v1/customers/:customer_id/webhooks';
const endpointParamsSchema = z.object({
  customer_id: customerIdSchema,
  webhook_id: z.string().min(1).max(100),
});
const TAGS = ['webhook endpoints'];

type EndpointWithSecret = z.output<typeof endpointWithSecretSchema>;

/** Disabled by the partner itself (the dispatcher sets its own reasons). */
const DISABLED_BY_PARTNER = 'Disabled by the partner';

function endpointNotFound(id: string): HttpError {
  return new HttpError('not_found', `No webhook endpoint ${id.slice(0, 100)}`);
}

/** The 409 for a URL another endpoint of the partner already has. */
function urlTaken(url: string, endpointId: string): HttpError {
  return new HttpError(
    'endpoint_exists',
    `Webhook endpoint ${endpointId} already has the URL ${url}; change or delete that endpoint, or use another URL`,
    { endpoint_id: endpointId },
  );
}

/** The webhook endpoint routes under `/api/v1/customers/{customer_id}/webhooks`. */
export const webhookRoutes: FastifyPluginAsyncZod<
  RouteDeps & {
    /** Webhook endpoints one partner may have (`ENDPOINTS_PER_PARTNER`); default 20. */
    endpointsPerPartner?: number | undefined;
  }
> = async (app, deps) => {
  const { store, auth, idempotency } = deps;
  const maxPerPartner = deps.endpointsPerPartner ?? DEFAULT_ENDPOINTS_PER_PARTNER;
  app.addHook('onRequest', auth.requirePartner);

  async function checkedUrl(raw: string): Promise<string> {
    const check = await checkEndpointUrl(raw, {
      allowPrivate: deps.allowPrivateEndpoints,
      ...(deps.resolveHost ? { resolve: deps.resolveHost } : {}),
    });
    if (!check.ok) {
      throw new HttpError('validation_failed', 'The request body is invalid', {
        in: 'body',
        problems: [{ path: '$.url', message: check.problem }],
      });
    }
    return check.url;
  }

  app.post(
    BASE,
    {
      schema: {
        operationId: 'createWebhookEndpoint',
        summary: 'Subscribe a webhook endpoint; the answer holds its signing secret, shown only here',
        description:
          'One endpoint per URL per partner: a URL (as normalised) that another endpoint of the partner already has answers 409 `endpoint_exists` with `details.endpoint_id`. Past `ENDPOINTS_PER_PARTNER` endpoints, 409 `endpoint_limit_reached`.',
        tags: TAGS,
        security: PARTNER_SECURITY,
        params: customerParamsSchema,
        headers: IDEMPOTENCY_HEADERS,
        body: newEndpointSchema,
        response: {
          201: jsonAnswer('Subscribed; the signing secret is shown only now', endpointWithSecretSchema),
          ...errorResponses(400, 401, 404, 409, 413, 415, 422),
        },
      },
    },
    async (request, reply) => {
      const customerId = request.params.customer_id;
      const answer = await idempotency.run(request, customerId, async () => {
        const url = await checkedUrl(request.body.url);
        const subscribed = await subscribeEndpoint(
          store,
          customerId,
          {
            url,
            eventTypes: request.body.event_types,
            description: request.body.description ?? null,
            rateLimit: request.body.rate_limit ?? null,
          },
          { maxPerPartner },
        );
        if (subscribed.outcome === 'url_taken') throw urlTaken(url, subscribed.endpointId);
        if (subscribed.outcome === 'limit_reached') {
          throw new HttpError(
            'endpoint_limit_reached',
            `A partner may have ${maxPerPartner} webhook endpoints; delete one before adding another`,
          );
        }
        const { endpoint, secret } = subscribed;
        return { statusCode: 201, body: { ...toEndpointView(endpoint), secret } };
      });
      if (answer.replayed) reply.header(REPLAYED_HEADER, 'true');
      return reply.code(answer.statusCode as 201).send(answer.body as EndpointWithSecret);
    },
  );

  app.get(
    BASE,
    {
      schema: {
        operationId: 'listWebhookEndpoints',
        summary: 'List webhook endpoints, oldest first; pass next_cursor back as cursor for the next page',
        tags: TAGS,
        security: PARTNER_SECURITY,
        params: customerParamsSchema,
        querystring: endpointListQuerySchema,
        response: {
          200: jsonAnswer('One page of endpoints (never their secrets)', endpointListSchema),
          ...errorResponses(400, 401, 404),
        },
      },
    },
    async (request) => {
      const { limit, cursor } = request.query;
      const page = await store
        .listEndpointPage(request.params.customer_id, { limit, ...(cursor === undefined ? {} : { cursor }) })
        .catch(rethrowInvalidCursor);
      return { webhooks: page.items.map(toEndpointView), next_cursor: page.nextCursor };
    },
  );

  app.get(
    `${BASE}/:webhook_id`,
    {
      schema: {
        operationId: 'getWebhookEndpoint',
        summary: 'Get a webhook endpoint',
        tags: TAGS,
        security: PARTNER_SECURITY,
        params: endpointParamsSchema,
        response: {
          200: jsonAnswer('The endpoint (never its secrets)', endpointViewSchema),
          ...errorResponses(401, 404),
        },
      },
    },
    async (request) => {
      const { customer_id: customerId, webhook_id: id } = request.params;
      const endpoint = isEndpointId(id) ? await store.getEndpoint(customerId, id) : undefined;
      if (!endpoint) throw endpointNotFound(id);
      return toEndpointView(endpoint);
    },
  );

  app.patch(
    `${BASE}/:webhook_id`,
    {
      schema: {
        operationId: 'updateWebhookEndpoint',
        summary: 'Change a webhook endpoint; `enabled: true` re-enables a disabled one',
        description:
          'A `url` that another endpoint of the partner already has answers 409 `endpoint_exists` with `details.endpoint_id`; nothing is changed. Re-enabling (`enabled: true`) also delivers the events emitted while the endpoint was disabled, in order, unless `backlog` is `skip`; `backfilled` says how many were queued. A `rate_limit` (deliveries per second, null for none) applies from the next claim of any dispatcher; a changed one starts with a whole burst.',
        tags: TAGS,
        security: PARTNER_SECURITY,
        params: endpointParamsSchema,
        body: endpointPatchSchema,
        response: {
          200: jsonAnswer('The endpoint as changed, with the backlog it queued', endpointUpdateSchema),
          ...errorResponses(400, 401, 404, 409, 413, 415),
        },
      },
    },
    async (request) => {
      const { customer_id: customerId, webhook_id: id } = request.params;
      if (!isEndpointId(id)) throw endpointNotFound(id);
      const body = request.body;
      const patch: EndpointPatch = {};
      if (body.url !== undefined) patch.url = await checkedUrl(body.url);
      if (body.event_types !== undefined) patch.eventTypes = body.event_types;
      if (body.description !== undefined) patch.description = body.description;
      if (body.rate_limit !== undefined) patch.rateLimit = body.rate_limit;
      if (body.enabled !== undefined) {
        patch.enabled = body.enabled;
        patch.disabledReason = body.enabled ? null : DISABLED_BY_PARTNER;
      }
      if (body.backlog !== undefined) patch.backlog = body.backlog;
      const updated = await store.updateEndpoint(customerId, id, patch, new Date());
      if (updated.outcome === 'not_found') throw endpointNotFound(id);
      if (updated.outcome === 'url_taken') throw urlTaken(patch.url ?? '', updated.endpointId);
      return { ...toEndpointView(updated.endpoint), backfilled: updated.backfilled };
    },
  );

  app.delete(
    `${BASE}/:webhook_id`,
    {
      schema: {
        operationId: 'deleteWebhookEndpoint',
        summary: 'Delete a webhook endpoint and its pending deliveries',
        tags: TAGS,
        security: PARTNER_SECURITY,
        params: endpointParamsSchema,
        response: {
          204: z.null().meta({ description: 'Deleted, with its pending deliveries; no body' }),
          ...errorResponses(401, 404),
        },
      },
    },
    async (request, reply) => {
      const { customer_id: customerId, webhook_id: id } = request.params;
      if (!isEndpointId(id) || !(await store.deleteEndpoint(customerId, id))) throw endpointNotFound(id);
      return reply.code(204).send(null);
    },
  );

  app.post(
    `${BASE}/:webhook_id/rotate-secret`,
    {
      schema: {
        operationId: 'rotateWebhookSecret',
        summary: 'Rotate the signing secret; the previous one keeps signing for 24 hours',
        description: 'Takes no body (or the empty object `{}`).',
        tags: TAGS,
        security: PARTNER_SECURITY,
        params: endpointParamsSchema,
        headers: IDEMPOTENCY_HEADERS,
        // No body, or an empty object (Fastify hands a missing body to the validator as null).
        body: z.strictObject({}).nullish(),
        response: {
          200: jsonAnswer(
            'The new secret, shown only now, and when the previous one stops signing',
            endpointWithSecretSchema,
          ),
          ...errorResponses(400, 401, 404, 422),
        },
      },
    },
    async (request, reply) => {
      const { customer_id: customerId, webhook_id: id } = request.params;
      const answer = await idempotency.run(request, customerId, async () => {
        const rotated = isEndpointId(id) ? await rotateEndpointSecret(store, customerId, id) : undefined;
        if (!rotated) throw endpointNotFound(id);
        return {
          statusCode: 200,
          body: {
            ...toEndpointView(rotated.endpoint),
            secret: rotated.secret,
            previous_secret_expires_at: rotated.previousExpiresAt.toISOString(),
          },
        };
      });
      if (answer.replayed) reply.header(REPLAYED_HEADER, 'true');
      return reply.code(answer.statusCode as 200).send(answer.body as EndpointWithSecret);
    },
  );

  app.get(
    `${BASE}/:webhook_id/deliveries`,
    {
      schema: {
        operationId: 'listDeliveries',
        summary: "The endpoint's deliveries, newest first, each with every attempt",
        tags: TAGS,
        security: PARTNER_SECURITY,
        params: endpointParamsSchema,
        querystring: deliveryListQuerySchema,
        response: {
          200: jsonAnswer('One page of deliveries, each with its attempts', deliveryListSchema),
          ...errorResponses(400, 401, 404),
        },
      },
    },
    async (request) => {
      const { customer_id: customerId, webhook_id: id } = request.params;
      const endpoint = isEndpointId(id) ? await store.getEndpoint(customerId, id) : undefined;
      if (!endpoint) throw endpointNotFound(id);
      const { limit, cursor } = request.query;
      const page = await store
        .listDeliveries(customerId, id, { limit, ...(cursor === undefined ? {} : { cursor }) })
        .catch(rethrowInvalidCursor);
      return { deliveries: page.items.map(toDeliveryView), next_cursor: page.nextCursor };
    },
  );
};
