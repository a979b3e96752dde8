/** Operations: liveness, readiness (the store answers) and Prometheus metrics. */
import { setTimeout as delay } from 'node:timers/promises';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { HttpError } from '../errors.js';
import type { HttpMetrics } from '../metrics.js';
import { jsonAnswer } from '../openapi.js';
import { errorResponses, type RouteDeps } from './shared.js';

const TAGS = ['operations'];
/** What `/metrics` answers (prom-client's `contentType`, less its charset). */
const METRICS_MEDIA_TYPE = 'text/plain; version=0.0.4';

/**
 * `/readyz` answers within this, whatever the database does: under the 1 s a Kubernetes probe waits
 * by default, and well under `DATABASE_TIMEOUT`, so that a stalled database reads as not ready rather
 * than as a probe that timed out.
 */
export const READY_TIMEOUT_MS = 800;

/** Resolves when `ping` does; rejects when it fails or takes longer than `ms` (it then runs on, bounded by the pool). */
async function within(ping: Promise<void>, ms: number): Promise<void> {
  const timer = new AbortController();
  const late = delay(ms, undefined, { signal: timer.signal }).then(() => {
    throw new Error(`no answer within ${ms} ms`);
  });
  try {
    await Promise.race([ping, late]);
  } finally {
    timer.abort();
    late.catch(() => {});
  }
}

/** `/healthz`, `/readyz`, `/metrics`. */
export const opsRoutes: FastifyPluginAsyncZod<RouteDeps & { metrics: HttpMetrics }> = async (
  app,
  { store, metrics },
) => {
  app.get(
    '/healthz',
    {
      schema: {
        operationId: 'checkLiveness',
        summary: 'Liveness: the process answers',
        tags: TAGS,
        security: [],
        response: { 200: jsonAnswer('The process is up', z.object({ status: z.literal('ok') })) },
      },
    },
    async () => ({ status: 'ok' as const }),
  );

  app.get(
    '/readyz',
    {
      schema: {
        operationId: 'checkReadiness',
        summary: 'Readiness: the database answers and commits a write, within 800 ms',
        tags: TAGS,
        security: [],
        response: {
          200: jsonAnswer(
            'Ready to serve: the database answered',
            z.object({
              status: z.literal('ready'),
              database: z.string().meta({ description: 'The dialect: sqlite or postgres' }),
            }),
          ),
          ...errorResponses(503),
        },
      },
    },
    async (request) => {
      try {
        await within(store.ping(), READY_TIMEOUT_MS);
      } catch (err) {
        request.log.warn({ err: (err as Error).message }, 'readiness check: the store does not answer');
        throw new HttpError('unavailable', 'The database does not answer');
      }
      return { status: 'ready' as const, database: store.dialect };
    },
  );

  app.get(
    '/metrics',
    {
      schema: {
        operationId: 'getMetrics',
        summary: 'Prometheus metrics (text exposition format)',
        tags: TAGS,
        security: [],
        response: {
          200: {
            description: 'Every metric of this process, in the Prometheus text exposition format 0.0.4',
            content: { [METRICS_MEDIA_TYPE]: { schema: z.string() } },
          },
        },
      },
    },
    async (_request, reply) => {
      reply.type(metrics.registry.contentType);
      return metrics.registry.metrics();
    },
  );
};
