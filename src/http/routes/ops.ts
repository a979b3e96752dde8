/** Operations: liveness, readiness (the store answers) and Prometheus metrics. */
import { setTimeout as delay } from 'node:timers/promises';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { HttpError } from '../errors.js';
import type { HttpMetrics } from '../metrics.js';
import { errorResponses, type RouteDeps } from './shared.js';

const TAGS = ['operations'];

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
        summary: 'Readiness: the database answers and commits a write, within 800 ms',
        tags: TAGS,
        response: {
          200: z.object({ status: z.literal('ready'), database: z.string() }),
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
    { schema: { summary: 'Prometheus metrics (text exposition format)', tags: TAGS } },
    async (_request, reply) => {
      reply.type(metrics.registry.contentType);
      return metrics.registry.metrics();
    },
  );
};
