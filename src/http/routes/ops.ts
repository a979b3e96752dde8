/** Operations: liveness, readiness (the store answers) and Prometheus metrics. */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { HttpError } from '../errors.js';
import type { HttpMetrics } from '../metrics.js';
import { errorResponses, type RouteDeps } from './shared.js';

const TAGS = ['operations'];

/** `/healthz`, `/readyz`, `/metrics`. */
export const opsRoutes: FastifyPluginAsyncZod<RouteDeps & { metrics: HttpMetrics }> = async (
  app,
  { store, metrics },
) => {
  app.get(
    '/healthz',
    {
      schema: {
        summary: 'Liveness: the process answers',
        tags: TAGS,
        response: { 200: z.object({ status: z.literal('ok') }) },
      },
    },
    async () => ({ status: 'ok' as const }),
  );

  app.get(
    '/readyz',
    {
      schema: {
        summary: 'Readiness: the database answers',
        tags: TAGS,
        response: {
          200: z.object({ status: z.literal('ready'), database: z.string() }),
          ...errorResponses(503),
        },
      },
    },
    async (request) => {
      try {
        await store.ping();
      } catch (err) {
        request.log.warn({ err }, 'readiness check: the store does not answer');
        throw new HttpError('unavailable', 'The database does not answer');
      }
      return { status: 'ready' as const, database: store.dialect };
    },
  );

  app.get(
    '/metrics',
    { schema: { summary: 'Prometheus metrics (text exposition format)', tags: TAGS } },
    async (_request, reply) => {
      reply.type(metrics.registry.contentType);
      return metrics.registry.metrics();
    },
  );
};
