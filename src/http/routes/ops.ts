/** Operations: the entry points at `/`, liveness, readiness (the store answers) and Prometheus metrics. */
import { setTimeout as delay } from 'node:timers/promises';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { BASE as DASHBOARD_PATH } from '../../dashboard/layout.js';
import { HttpError } from '../errors.js';
import type { HttpMetrics } from '../metrics.js';
import { DOCS_PATH, jsonAnswer, OPENAPI_PATH } from '../openapi.js';
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

/** Where `GET /` points: every entry point of the service, as paths on this origin. */
export const ENTRY_POINTS = {
  docs: DOCS_PATH,
  openapi: OPENAPI_PATH,
  dashboard: DASHBOARD_PATH,
  health: '/healthz',
  ready: '/readyz',
  metrics: '/metrics',
  api: '/api/v1',
} as const;

const entryPointsSchema = z.object({
  name: z.string().meta({ description: 'What answers here' }),
  version: z.string().meta({ description: 'The version of the service' }),
  links: z
    .object({
      docs: z.string().meta({ description: 'The API reference (HTML)' }),
      openapi: z.string().meta({ description: 'The OpenAPI 3.1 document' }),
      dashboard: z.string().meta({ description: 'The web dashboard' }),
      health: z.string().meta({ description: 'Liveness' }),
      ready: z.string().meta({ description: 'Readiness' }),
      metrics: z.string().meta({ description: 'Prometheus metrics' }),
      api: z.string().meta({ description: 'The base path of the partner and operator API' }),
    })
    .meta({ description: 'Paths on this origin' }),
});

/**
 * Whether an `Accept` header prefers HTML to JSON (a browser's does): each type gets the quality of
 * the most specific range that matches it; a tie, or no header, goes to JSON.
 *
 * @example
 * prefersHtml('text/html,application/xhtml+xml,application/xml;q=0.9'); // true
 * prefersHtml('application/json, text/html;q=0.9'); // false
 */
export function prefersHtml(accept: string | undefined): boolean {
  if (!accept) return false;
  const ranges = accept.split(',').map((part) => {
    const [range = '', ...params] = part.split(';').map((p) => p.trim().toLowerCase());
    const q = params.find((p) => p.startsWith('q='));
    const quality = q === undefined ? 1 : Number(q.slice(2));
    return { range, quality: Number.isFinite(quality) ? quality : 0 };
  });
  const quality = (type: string): number => {
    const [major] = type.split('/');
    for (const candidate of [type, `${major}/*`, '*/*']) {
      const match = ranges.find((r) => r.range === candidate);
      if (match) return match.quality;
    }
    return 0;
  };
  return quality('text/html') > quality('application/json');
}

/** `/`, `/healthz`, `/readyz`, `/metrics`. */
export const opsRoutes: FastifyPluginAsyncZod<RouteDeps & { metrics: HttpMetrics; version: string }> = async (
  app,
  { store, metrics, version },
) => {
  app.get(
    '/',
    {
      schema: {
        operationId: 'getEntryPoints',
        summary: 'Where to go: a browser is sent to the dashboard, anything else gets the entry points',
        description:
          'An `Accept` header that prefers `text/html` to `application/json` (a browser) is answered 303 to `/dashboard`; any other request (no `Accept`, `*/*`, JSON) gets the entry points as JSON.',
        tags: TAGS,
        security: [],
        response: {
          200: jsonAnswer('The entry points of the service, as paths on this origin', entryPointsSchema),
          303: z
            .null()
            .meta({ description: 'A browser: see the dashboard (`Location: /dashboard`). No body.' }),
        },
      },
    },
    async (request, reply) => {
      reply.header('vary', 'Accept');
      if (prefersHtml(request.headers.accept)) return reply.redirect(DASHBOARD_PATH, 303);
      return { name: 'tpcs', version, links: ENTRY_POINTS };
    },
  );

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
