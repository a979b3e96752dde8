/**
 * The HTTP service: one Fastify app with the partner API, the operator API, operations endpoints
 * and the OpenAPI document. Built in memory (tests call `app.inject()`); `server.ts` listens.
 */
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { serializerCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import { Registry } from 'prom-client';
import { dashboardRoutes } from '../dashboard/plugin.js';
import type { Store } from '../storage/store.js';
import type { HostResolver } from '../webhooks/url-policy.js';
import { createAuth } from './auth.js';
import { HttpError, installErrorHandling, sendHttpError, zodValidatorCompiler } from './errors.js';
import { Idempotency } from './idempotency.js';
import { installMetrics } from './metrics.js';
import { registerOpenApi } from './openapi.js';
import { decisionRoutes } from './routes/decisions.js';
import { deliveryRoutes } from './routes/deliveries.js';
import { eventStreamRoutes } from './routes/event-stream.js';
import { eventRoutes } from './routes/events.js';
import { opsRoutes } from './routes/ops.js';
import { partnerRoutes } from './routes/partners.js';
import type { DeliveryHandle, RouteDeps } from './routes/shared.js';
import { thirdPartyRoutes } from './routes/third-parties.js';
import { webhookRoutes } from './routes/webhooks.js';

/** The largest request body accepted: a generous third-party profile is a few KiB. */
export const BODY_LIMIT = 64 * 1024;

export interface AppOptions {
  store: Store;
  /** SHA-256 (hex) of the admin token; when absent, read from the store setting `admin_token_hash`. */
  adminTokenHash?: string | undefined;
  /** A pino logger (or any Fastify logger); false or absent: silent. */
  logger?: FastifyBaseLogger | false | undefined;
  /** Accept endpoint URLs on private, loopback and link-local addresses (development and tests). */
  allowPrivateEndpoints?: boolean | undefined;
  /** Resolves endpoint hosts for the URL check; the system resolver by default. */
  resolveHost?: HostResolver | undefined;
  /** Version shown in the OpenAPI document. */
  version?: string | undefined;
  /** The registry `/metrics` serves; the dispatcher of `tpcs serve` counts in the same one. Default: new. */
  registry?: Registry | undefined;
  /** The delivery service's queue and sender (retry, recover, test, the dashboard's retry); absent: 503. */
  delivery?: DeliveryHandle | undefined;
}

/**
 * Builds the service's Fastify app (not listening).
 *
 * @example
 * const { store } = await openStorage('sqlite::memory:');
 * const app = buildApp({ store, adminTokenHash: hashToken(token) });
 * const res = await app.inject({method: 'GET', url: '/healthz'});
 */
export function buildApp(options: AppOptions): FastifyInstance {
  const app = Fastify({
    ...(options.logger ? { loggerInstance: options.logger } : { logger: false }),
    bodyLimit: BODY_LIMIT,
    // Ids are generated, not taken from clients, so log lines cannot be forged by a header.
    requestIdHeader: false,
    // Framework-level rejections (malformed URL encoding…) get the same error shape as everything else.
    frameworkErrors: (error, _request, reply) => {
      sendHttpError(reply, new HttpError('bad_request', error.message));
    },
  }).withTypeProvider<ZodTypeProvider>();

  app.setValidatorCompiler(zodValidatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  // JSON only: a text/plain body is refused with 415 instead of reaching a JSON schema as a string.
  app.removeContentTypeParser(['text/plain']);
  installErrorHandling(app);
  const metrics = installMetrics(app, options.registry ?? new Registry());
  registerOpenApi(app, options.version ?? '0.1.0');

  const deps: RouteDeps = {
    store: options.store,
    auth: createAuth({ store: options.store, adminTokenHash: options.adminTokenHash }),
    idempotency: new Idempotency(options.store),
    allowPrivateEndpoints: options.allowPrivateEndpoints ?? false,
    resolveHost: options.resolveHost,
    delivery: options.delivery,
  };
  app.register(opsRoutes, { ...deps, metrics });
  app.register(partnerRoutes, deps);
  app.register(decisionRoutes, deps);
  app.register(thirdPartyRoutes, deps);
  app.register(webhookRoutes, deps);
  app.register(deliveryRoutes, deps);
  app.register(eventRoutes, deps);
  app.register(eventStreamRoutes, deps);
  app.register(dashboardRoutes, { ...deps, adminTokenHash: options.adminTokenHash });
  return app;
}
