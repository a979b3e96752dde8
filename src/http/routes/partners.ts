/** Operator API: partners and their bearer tokens. */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { generateToken, hashToken } from '../auth.js';
import { HttpError, rethrowInvalidCursor } from '../errors.js';
import { jsonAnswer } from '../openapi.js';
import {
  ADMIN_SECURITY,
  customerIdSchema,
  customerParamsSchema,
  errorResponses,
  type RouteDeps,
} from './shared.js';

const newPartnerSchema = z
  .strictObject({
    customer_id: customerIdSchema,
    name: z.string().trim().min(1).max(200).optional(),
  })
  .meta({ id: 'NewPartner' });

const partnerTokenSchema = z
  .object({
    customer_id: z.string(),
    token: z.string().meta({ description: "The partner's bearer token (tpcs_pk_…); shown only now" }),
  })
  .meta({ id: 'PartnerToken' });

const partnerListQuerySchema = z.strictObject({
  limit: z.coerce.number().int().min(1).max(200).default(50),
  cursor: z.string().min(1).max(500).optional().meta({
    description: '`next_cursor` of the previous page, passed back unchanged',
  }),
});

const partnerSummarySchema = z
  .object({
    customer_id: z.string(),
    name: z.string().nullable(),
    created_at: z.string().meta({ description: 'ISO 8601, UTC' }),
    endpoint_count: z.number().int().meta({ description: 'How many webhook endpoints it has' }),
  })
  .meta({ id: 'PartnerSummary' });

const partnerListSchema = z.object({
  partners: z.array(partnerSummarySchema),
  next_cursor: z.string().nullable().meta({ description: 'Pass back as `cursor`; null on the last page' }),
});

/** `/api/v1/admin/partners`: create, list, and the partner token reset. */
export const partnerRoutes: FastifyPluginAsyncZod<RouteDeps> = async (app, { store, auth }) => {
  app.addHook('onRequest', auth.requireAdmin);

  app.post(
    '/api/v1/admin/partners',
    {
      schema: {
        operationId: 'createPartner',
        summary: 'Create a partner and its bearer token',
        tags: ['operator'],
        security: ADMIN_SECURITY,
        body: newPartnerSchema,
        response: {
          201: jsonAnswer('The partner was created; its token is shown only now', partnerTokenSchema),
          ...errorResponses(400, 401, 409),
        },
      },
    },
    async (request, reply) => {
      const { customer_id: customerId, name } = request.body;
      const token = generateToken('partner');
      const outcome = await store.createPartner({
        customerId,
        name: name ?? null,
        tokenHash: hashToken(token),
        createdAt: new Date(),
      });
      if (outcome === 'exists') throw new HttpError('conflict', `Partner ${customerId} already exists`);
      return reply.code(201).send({ customer_id: customerId, token });
    },
  );

  app.get(
    '/api/v1/admin/partners',
    {
      schema: {
        operationId: 'listPartners',
        summary: 'List partners, oldest first; pass next_cursor back as cursor for the next page',
        description:
          'Keyset pages: a partner created meanwhile comes last and never shifts a page. Never shows tokens.',
        tags: ['operator'],
        security: ADMIN_SECURITY,
        querystring: partnerListQuerySchema,
        response: {
          200: jsonAnswer('One page of partners', partnerListSchema),
          ...errorResponses(400, 401),
        },
      },
    },
    async (request) => {
      const { limit, cursor } = request.query;
      const page = await store
        .listPartnerPage({ limit, ...(cursor === undefined ? {} : { cursor }) })
        .catch(rethrowInvalidCursor);
      return {
        partners: page.items.map((p) => ({
          customer_id: p.customerId,
          name: p.name,
          created_at: p.createdAt.toISOString(),
          endpoint_count: p.endpointCount,
        })),
        next_cursor: page.nextCursor,
      };
    },
  );

  app.post(
    '/api/v1/admin/partners/:customer_id/token',
    {
      schema: {
        operationId: 'resetPartnerToken',
        summary: "Replace a partner's bearer token (the old one stops working at once)",
        tags: ['operator'],
        security: ADMIN_SECURITY,
        params: customerParamsSchema,
        response: {
          200: jsonAnswer('The new token, shown only now; the old one no longer works', partnerTokenSchema),
          ...errorResponses(401, 404),
        },
      },
    },
    async (request, reply) => {
      const customerId = request.params.customer_id;
      const token = generateToken('partner');
      if (!(await store.setPartnerToken(customerId, hashToken(token)))) {
        throw new HttpError('not_found', 'No such customer');
      }
      // Its dashboard sessions stopped holding with the old token; delete them now rather than at expiry.
      await store.deleteDashboardSessions(customerId);
      return reply.send({ customer_id: customerId, token });
    },
  );
};
