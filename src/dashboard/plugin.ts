/**
 * The dashboard at `/dashboard`: server-rendered pages for the operator (every partner, with a picker)
 * and for a partner (its own data only). Decisions and retries go through the same domain code as the
 * API routes. This plugin only wires the parts together: the form parser, the hooks (`hooks.ts`), the
 * assets (`assets.ts`), each page's routes, which live beside its renderer in `pages/`, and the
 * partner portal's link (`portal.ts`), framed by other sites only as `embedding.ts` allows. All of it is
 * scoped to this plugin, so the JSON API is untouched. Registered by `buildApp`.
 */
import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import type { RouteDeps } from '../http/routes/shared.js';
import type { Pruner } from '../storage/pruner.js';
import type { Store } from '../storage/store.js';
import { DEFAULT_ENDPOINTS_PER_PARTNER } from '../webhooks/endpoints.js';
import { registerAssets } from './assets.js';
import { framingAllowed } from './embedding.js';
import { FORM_BODY_LIMIT, parseFormBody } from './forms.js';
import { installHooks } from './hooks.js';
import { BASE } from './layout.js';
import type { EndpointRules, PageDeps, PageRoutes } from './pages/context.js';
import { customerRoutes } from './pages/customers.js';
import { retryRoutes } from './pages/deliveries.js';
import { endpointActionRoutes } from './pages/endpoint-actions.js';
import { endpointRoutes } from './pages/endpoints.js';
import { loginRoutes } from './pages/login.js';
import { reviewRoutes } from './pages/review.js';
import { timelineRoutes } from './pages/timeline.js';
import { portalRoutes, startPortalLinkPruner } from './portal.js';
import { DashboardSessions, startSessionPruner } from './session.js';

/** What the dashboard needs: the routes' collaborators, plus how long a log-in lasts. */
export interface DashboardOptions extends RouteDeps {
  /** As `AppOptions.dashboardSessionTtlMs`; default 12 hours. */
  sessionTtlMs?: number | undefined;
  /** As `AppOptions.portal`: which origins may frame the pages (none by default). */
  frameAncestors?: readonly string[] | undefined;
  /** As `AppOptions.endpointsPerPartner`; default 20. */
  endpointsPerPartner?: number | undefined;
}

/** Every page's routes. */
const PAGES: readonly PageRoutes[] = [
  loginRoutes,
  customerRoutes,
  timelineRoutes,
  reviewRoutes,
  endpointRoutes,
  endpointActionRoutes,
  retryRoutes,
];

/** `/dashboard/*`, registered by `buildApp`. */
export const dashboardRoutes: FastifyPluginAsync<DashboardOptions> = async (app, options) => {
  await app.register(async (scoped) => registerDashboard(scoped, options), { prefix: BASE });
};

async function registerDashboard(
  app: FastifyInstance,
  { store, auth, delivery, sessionTtlMs, frameAncestors = [], ...rules }: DashboardOptions,
): Promise<void> {
  // HTML pages for people, not API operations: left out of /openapi.json.
  app.addHook('onRoute', (route) => {
    route.schema = { ...route.schema, hide: true };
  });
  // HTML forms post urlencoded bodies; only this plugin accepts them.
  app.addContentTypeParser(
    'application/x-www-form-urlencoded',
    { parseAs: 'string', bodyLimit: FORM_BODY_LIMIT },
    (_request, body, done) => done(null, parseFormBody(body.toString())),
  );
  const cookieMode = framingAllowed(frameAncestors) ? 'framed' : 'strict';
  const sessions = new DashboardSessions(store, auth, sessionTtlMs, cookieMode);
  const deps: PageDeps = { store, delivery, sessions, endpointRules: endpointRulesOf(rules) };
  installHooks(app, sessions, frameAncestors);
  prunedWhileRunning(app, store);
  await registerAssets(app);
  for (const routes of PAGES) routes(app, deps);
  portalRoutes(app, deps);
}

/** The API's rules for endpoints (`ALLOW_PRIVATE_ENDPOINTS`, `ENDPOINTS_PER_PARTNER`), for the forms. */
function endpointRulesOf(o: Partial<DashboardOptions>): EndpointRules {
  return {
    allowPrivate: o.allowPrivateEndpoints ?? false,
    resolveHost: o.resolveHost,
    maxPerPartner: o.endpointsPerPartner ?? DEFAULT_ENDPOINTS_PER_PARTNER,
  };
}

/** Expired sessions and portal links are pruned from the moment the app is ready until it closes. */
function prunedWhileRunning(app: FastifyInstance, store: Store): void {
  let pruners: Pruner[] = [];
  app.addHook('onReady', async () => {
    pruners = [
      startSessionPruner(store, {
        onPruned: (count) => app.log.info({ count }, 'expired dashboard sessions pruned'),
        onError: (err) => app.log.warn({ err }, 'pruning dashboard sessions failed; trying again in an hour'),
      }),
      startPortalLinkPruner(store, {
        onPruned: (count) => app.log.info({ count }, 'expired portal links pruned'),
        onError: (err) => app.log.warn({ err }, 'pruning portal links failed; trying again in an hour'),
      }),
    ];
  });
  app.addHook('onClose', async () => {
    await Promise.all(pruners.map((p) => p.stop()));
  });
}
