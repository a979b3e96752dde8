/**
 * The HTTP service: one Fastify app with the partner API, the operator API, operations endpoints
 * and the OpenAPI document. Built in memory (tests call `app.inject()`); `server.ts` listens.
 */
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { serializerCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import { Registry } from 'prom-client';
import { dashboardRoutes } from '../dashboard/plugin.js';
import { DEFAULT_PORTAL_SETTINGS, type PortalSettings } from '../dashboard/portal.js';
import type { Store } from '../storage/store.js';
import type { HostResolver } from '../webhooks/url-policy.js';
import { createAuth } from './auth.js';
import { HttpError, installErrorHandling, sendHttpError, zodValidatorCompiler } from './errors.js';
import { Idempotency } from './idempotency.js';
import { installJsonBodyParser } from './json-body.js';
import { installMetrics } from './metrics.js';
import { registerOpenApi } from './openapi.js';
import { DEFAULT_RATE_LIMITS, type RateLimitSettings, registerRateLimits } from './rate-limit.js';
import { decisionRoutes } from './routes/decisions.js';
import { deliveryRoutes } from './routes/deliveries.js';
import { type EventStreamLimits, eventStreamRoutes } from './routes/event-stream.js';
import { eventRoutes } from './routes/events.js';
import { notificationRoutes } from './routes/notifications.js';
import { opsRoutes } from './routes/ops.js';
import { partnerRoutes } from './routes/partners.js';
import { portalLinkRoutes } from './routes/portal.js';
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
  /** Which proxies' `X-Forwarded-*` headers to believe (`TRUST_PROXY`); default none. */
  trustProxy?: TrustProxy | undefined;
  /** Failed-authentication and per-partner limits (rate-limit.ts); defaults {@link DEFAULT_RATE_LIMITS}. */
  rateLimits?: Partial<RateLimitSettings> | undefined;
  /** How long a dashboard log-in lasts; default 12 hours. */
  dashboardSessionTtlMs?: number | undefined;
  /** What event streams may cost: per-partner and total caps, drain timeout; defaults in routes/event-stream.ts. */
  eventStreams?: Partial<EventStreamLimits> | undefined;
  /** Webhook endpoints one partner may have (`ENDPOINTS_PER_PARTNER`); default 20. */
  endpointsPerPartner?: number | undefined;
  /** Portal links and framing (`PORTAL_LINK_TTL`, `PUBLIC_URL`, `DASHBOARD_FRAME_ANCESTORS`); defaults in dashboard/portal.ts. */
  portal?: Partial<PortalSettings> | undefined;
}

/**
 * Which proxies are believed (`TRUST_PROXY`): none (false), every peer (true), the peers at these
 * addresses or networks (`10.0.0.0/8`, `loopback`…), or the nearest N hops. Only a believed peer's
 * `X-Forwarded-For` sets the client address (`request.ip`: rate limits) and its `X-Forwarded-Proto`
 * the scheme (the dashboard cookie's `Secure`).
 */
export type TrustProxy = boolean | number | readonly string[];

/**
 * Fastify's form of {@link TrustProxy}. A hop count becomes "the nearest N addresses of the chain"
 * (Fastify itself now refuses bare counts, since a client that reaches the service directly can then
 * forge the header: use a count only when nothing but the proxies reaches it).
 */
function fastifyTrustProxy(
  trust: TrustProxy,
): boolean | string[] | ((address: string, hop: number) => boolean) {
  if (typeof trust === 'number') return (_address, hop) => hop < trust;
  return typeof trust === 'boolean' ? trust : [...trust];
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
    trustProxy: fastifyTrustProxy(options.trustProxy ?? false),
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
  // JSON with a key twice is refused (400), as the receiver kit does, instead of "last wins".
  installJsonBodyParser(app);
  installErrorHandling(app);
  const metrics = installMetrics(app, options.registry ?? new Registry());
  const version = options.version ?? '0.1.0';
  registerOpenApi(app, version);

  const limits = registerRateLimits(app, { ...DEFAULT_RATE_LIMITS, ...options.rateLimits });
  const deps: RouteDeps = {
    store: options.store,
    auth: createAuth({ store: options.store, adminTokenHash: options.adminTokenHash, limits }),
    idempotency: new Idempotency(options.store),
    allowPrivateEndpoints: options.allowPrivateEndpoints ?? false,
    resolveHost: options.resolveHost,
    delivery: options.delivery,
  };
  app.register(opsRoutes, { ...deps, metrics, version });
  app.register(partnerRoutes, deps);
  app.register(decisionRoutes, deps);
  app.register(thirdPartyRoutes, deps);
  app.register(webhookRoutes, { ...deps, endpointsPerPartner: options.endpointsPerPartner });
  app.register(deliveryRoutes, deps);
  app.register(notificationRoutes, deps);
  app.register(eventRoutes, deps);
  app.register(eventStreamRoutes, { ...deps, limits: options.eventStreams });
  const portal = { ...DEFAULT_PORTAL_SETTINGS, ...options.portal };
  app.register(portalLinkRoutes, { ...deps, portal });
  app.register(dashboardRoutes, {
    ...deps,
    sessionTtlMs: options.dashboardSessionTtlMs,
    frameAncestors: portal.frameAncestors,
    endpointsPerPartner: options.endpointsPerPartner,
  });
  return app;
}
