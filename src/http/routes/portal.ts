/** Operator API: one-time links that open a partner's own dashboard without its token (dashboard/portal.ts). */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { createPortalLink, type PortalSettings, publicBaseUrl } from '../../dashboard/portal.js';
import { HttpError } from '../errors.js';
import { jsonAnswer } from '../openapi.js';
import { ADMIN_SECURITY, customerParamsSchema, errorResponses, type RouteDeps } from './shared.js';

/** The shortest and longest life a link may be given, in seconds. */
export const PORTAL_LINK_TTL_SECONDS = { min: 60, max: 86_400 } as const;

const newPortalLinkSchema = z
  .strictObject({
    ttl_seconds: z
      .number()
      .int()
      .min(PORTAL_LINK_TTL_SECONDS.min)
      .max(PORTAL_LINK_TTL_SECONDS.max)
      .optional()
      .meta({
        description: 'How long the link can be opened, in seconds; default `PORTAL_LINK_TTL` (15 minutes)',
      }),
  })
  .meta({ id: 'NewPortalLink' });

const portalLinkSchema = z
  .object({
    url: z.string().meta({
      description:
        "Opens the partner's dashboard once, without a token, in a browser or an iframe; absolute, from `PUBLIC_URL` or the request's host",
      example: 'https://tpcs.example/dashboard/portal/Q2hhbmdlIG1lIHRvIGEgcmVhbCB0b2tlbiBwbGVhc2U',
    }),
    expires_at: z.string().meta({ description: 'ISO 8601, UTC: after it the link no longer opens' }),
  })
  .meta({ id: 'PortalLink' });

/** `POST /api/v1/admin/partners/{customer_id}/portal-links`. */
export const portalLinkRoutes: FastifyPluginAsyncZod<RouteDeps & { portal: PortalSettings }> = async (
  app,
  { store, auth, portal },
) => {
  app.addHook('onRequest', auth.requireAdmin);

  app.post(
    '/api/v1/admin/partners/:customer_id/portal-links',
    {
      schema: {
        operationId: 'createPortalLink',
        summary: "Make a one-time, short-lived link to a partner's own dashboard",
        description:
          "The link opens the partner's dashboard once, without its token, and starts a dashboard session that lasts `DASHBOARD_SESSION_TTL`; a second opening, or one after `expires_at`, shows an error page (410). Resetting the partner's token voids its links. Only a hash of the link is stored. Takes no body, or `{ttl_seconds}`.",
        tags: ['operator'],
        security: ADMIN_SECURITY,
        params: customerParamsSchema,
        // No body, or the object (Fastify hands a missing body to the validator as null).
        body: newPortalLinkSchema.nullish(),
        response: {
          201: jsonAnswer('The link; it is shown only now', portalLinkSchema),
          ...errorResponses(400, 401, 404),
        },
      },
    },
    async (request, reply) => {
      const customerId = request.params.customer_id;
      const ttlSeconds = request.body?.ttl_seconds;
      const grant = await createPortalLink(store, customerId, {
        baseUrl: publicBaseUrl(request, portal.publicUrl),
        ttlMs: ttlSeconds === undefined ? portal.linkTtlMs : ttlSeconds * 1000,
      });
      if (!grant) throw new HttpError('not_found', 'No such customer');
      return reply.code(201).send({ url: grant.url, expires_at: grant.expiresAt.toISOString() });
    },
  );
};
