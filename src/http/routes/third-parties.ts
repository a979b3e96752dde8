/** Partner API: third-party customers (submit, read, list). */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import {
  clientCustomerRefSchema,
  listThirdPartiesQuerySchema,
  newThirdPartyCustomerSchema,
  thirdPartyCustomerViewSchema,
  thirdPartyListSchema,
} from '../../customers/schema.js';
import {
  listThirdPartyCustomers,
  submitThirdPartyCustomer,
  toThirdPartyCustomerView,
} from '../../customers/third-parties.js';
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

const BASE = '/api/v1/customers/:customer_id/third-parties';

/** The third-party customer routes under `/api/v1/customers/{customer_id}/third-parties`. */
export const thirdPartyRoutes: FastifyPluginAsyncZod<RouteDeps> = async (
  app,
  { store, auth, idempotency },
) => {
  app.addHook('onRequest', auth.requirePartner);

  app.post(
    BASE,
    {
      schema: {
        operationId: 'submitThirdPartyCustomer',
        summary: 'Submit a third-party customer for compliance (starts PENDING)',
        tags: ['third-party customers'],
        security: PARTNER_SECURITY,
        params: customerParamsSchema,
        headers: IDEMPOTENCY_HEADERS,
        body: newThirdPartyCustomerSchema,
        response: {
          201: jsonAnswer('Submitted; PENDING until the compliance decision', thirdPartyCustomerViewSchema),
          ...errorResponses(400, 401, 404, 409, 413, 415, 422),
        },
      },
    },
    async (request, reply) => {
      const customerId = request.params.customer_id;
      const answer = await idempotency.run(request, customerId, async () => {
        const result = await submitThirdPartyCustomer(store, customerId, request.body);
        if (result.outcome === 'exists') {
          const ref = request.body.client_customer_details.client_customer_ref;
          throw new HttpError(
            'conflict',
            `A third party customer with client_customer_ref ${ref} already exists`,
          );
        }
        return { statusCode: 201, body: toThirdPartyCustomerView(result.thirdParty) };
      });
      if (answer.replayed) reply.header(REPLAYED_HEADER, 'true');
      return reply
        .code(answer.statusCode as 201)
        .send(answer.body as z.output<typeof thirdPartyCustomerViewSchema>);
    },
  );

  app.get(
    `${BASE}/:client_customer_ref`,
    {
      schema: {
        operationId: 'getThirdPartyCustomer',
        summary: 'Get a third-party customer and its status',
        tags: ['third-party customers'],
        security: PARTNER_SECURITY,
        params: z.object({ customer_id: customerIdSchema, client_customer_ref: clientCustomerRefSchema }),
        response: {
          200: jsonAnswer('The third-party customer', thirdPartyCustomerViewSchema),
          ...errorResponses(400, 401, 404),
        },
      },
    },
    async (request) => {
      const { customer_id: customerId, client_customer_ref: ref } = request.params;
      const thirdParty = await store.getThirdParty(customerId, ref);
      if (!thirdParty) throw new HttpError('not_found', `No third party customer ${ref}`);
      return toThirdPartyCustomerView(thirdParty);
    },
  );

  app.get(
    BASE,
    {
      schema: {
        operationId: 'listThirdPartyCustomers',
        summary: 'List third-party customers, newest first; pass next_cursor back as cursor for older ones',
        description:
          'Page with `cursor`: `next_cursor` of one answer, passed back, gives the next (older) page, and a third party submitted meanwhile never shifts one. `page` (by offset, with `meta` and its totals) is kept for compatibility; `cursor` is preferred. Giving both is a 400. An answer by `page` carries `next_cursor` too, so a client can switch.',
        tags: ['third-party customers'],
        security: PARTNER_SECURITY,
        params: customerParamsSchema,
        querystring: listThirdPartiesQuerySchema,
        response: {
          200: jsonAnswer('One page of third-party customers', thirdPartyListSchema),
          ...errorResponses(400, 401, 404),
        },
      },
    },
    async (request) => {
      const { status, cursor, page, limit } = request.query;
      const customerId = request.params.customer_id;
      if (cursor !== undefined) {
        const result = await listThirdPartyCustomers(store, customerId, { status, cursor, limit }).catch(
          rethrowInvalidCursor,
        );
        return { third_parties: result.items.map(toThirdPartyCustomerView), next_cursor: result.nextCursor };
      }
      const result = await listThirdPartyCustomers(store, customerId, { status, page, limit });
      const total = result.total ?? 0;
      return {
        third_parties: result.items.map(toThirdPartyCustomerView),
        next_cursor: result.nextCursor,
        meta: { page: page ?? 1, limit, total_records: total, total_pages: Math.ceil(total / limit) },
      };
    },
  );
};
