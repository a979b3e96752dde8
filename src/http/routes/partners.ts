/** Operator API: partners and their bearer tokens. */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { generateToken, hashToken } from '../auth.js';
import { HttpError } from '../errors.js';
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

/** `POST /api/v1/admin/partners` and the partner token reset. */
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
