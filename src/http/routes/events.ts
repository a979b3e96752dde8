/** Partner API: the events emitted for a partner, newest first. */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { isEventId, toEventView } from '../../webhooks/events.js';
import { eventListQuerySchema, eventListSchema, eventViewSchema } from '../../webhooks/schema.js';
import { HttpError, rethrowInvalidCursor } from '../errors.js';
import { jsonAnswer } from '../openapi.js';
import {
  customerIdSchema,
  customerParamsSchema,
  errorResponses,
  PARTNER_SECURITY,
  type RouteDeps,
} from './shared.js';

const BASE = '/api/v1/customers/:customer_id/events';
const TAGS = ['events'];

/** The event routes under `/api/v1/customers/{customer_id}/events`. */
export const eventRoutes: FastifyPluginAsyncZod<RouteDeps> = async (app, { store, auth }) => {
  app.addHook('onRequest', auth.requirePartner);

  app.get(
    BASE,
    {
      schema: {
        operationId: 'listEvents',
        summary: 'List events, newest first; pass next_cursor back as cursor for older ones',
        tags: TAGS,
        security: PARTNER_SECURITY,
        params: customerParamsSchema,
        querystring: eventListQuerySchema,
        response: {
          200: jsonAnswer('One page of events, each exactly as delivered', eventListSchema),
          ...errorResponses(400, 401, 404),
        },
      },
    },
    async (request) => {
      const { limit, cursor } = request.query;
      const page = await store
        .listEvents(request.params.customer_id, { limit, ...(cursor === undefined ? {} : { cursor }) })
        .catch(rethrowInvalidCursor);
      return { events: page.items.map(toEventView), next_cursor: page.nextCursor };
    },
  );

  app.get(
    `${BASE}/:event_id`,
    {
      schema: {
        operationId: 'getEvent',
        summary: 'Get one event as it is delivered',
        tags: TAGS,
        security: PARTNER_SECURITY,
        params: z.object({ customer_id: customerIdSchema, event_id: z.string().min(1).max(100) }),
        response: {
          200: jsonAnswer('The event, exactly as delivered', eventViewSchema),
          ...errorResponses(401, 404),
        },
      },
    },
    async (request) => {
      const { customer_id: customerId, event_id: eventId } = request.params;
      const event = isEventId(eventId) ? await store.getEvent(customerId, eventId) : undefined;
      if (!event) throw new HttpError('not_found', `No event ${eventId.slice(0, 100)}`);
      return toEventView(event);
    },
  );
};
