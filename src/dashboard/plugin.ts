/**
 * The dashboard at `/dashboard`: server-rendered pages for the operator (every partner, with a picker)
 * and for a partner (its own data only). Decisions and retries go through the same domain code as the
 * API routes. This plugin only wires the parts together: the form parser, the hooks (`hooks.ts`), the
 * assets (`assets.ts`) and each page's routes, which live beside its renderer in `pages/`. All of it is
 * scoped to this plugin, so the JSON API is untouched. Registered by `buildApp`.
 */
import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import type { RouteDeps } from '../http/routes/shared.js';
import { registerAssets } from './assets.js';
import { FORM_BODY_LIMIT, parseFormBody } from './forms.js';
import { installHooks } from './hooks.js';
import { BASE } from './layout.js';
import type { PageDeps, PageRoutes } from './pages/context.js';
import { customerRoutes } from './pages/customers.js';
import { retryRoutes } from './pages/deliveries.js';
import { endpointRoutes } from './pages/endpoints.js';
import { loginRoutes } from './pages/login.js';
import { reviewRoutes } from './pages/review.js';
import { timelineRoutes } from './pages/timeline.js';
import { createPrincipalResolver } from './session.js';

/** What the dashboard needs: the routes' collaborators, plus the operator token's hash. */
export interface DashboardOptions extends RouteDeps {
  /** As `AppOptions.adminTokenHash`: when absent, read from the store setting. */
  adminTokenHash?: string | undefined;
}

/** Every page's routes. */
const PAGES: readonly PageRoutes[] = [
  loginRoutes,
  customerRoutes,
  timelineRoutes,
  reviewRoutes,
  endpointRoutes,
  retryRoutes,
];

/** `/dashboard/*`, registered by `buildApp`. */
export const dashboardRoutes: FastifyPluginAsync<DashboardOptions> = async (app, options) => {
  await app.register(async (scoped) => registerDashboard(scoped, options), { prefix: BASE });
};

async function registerDashboard(
  app: FastifyInstance,
  { store, adminTokenHash, delivery }: DashboardOptions,
): Promise<void> {
  // HTML forms post urlencoded bodies; only this plugin accepts them.
  app.addContentTypeParser(
    'application/x-www-form-urlencoded',
    { parseAs: 'string', bodyLimit: FORM_BODY_LIMIT },
    (_request, body, done) => done(null, parseFormBody(body.toString())),
  );
  const deps: PageDeps = {
    store,
    delivery,
    resolvePrincipal: createPrincipalResolver(store, adminTokenHash),
  };
  installHooks(app, deps.resolvePrincipal);
  await registerAssets(app);
  for (const routes of PAGES) routes(app, deps);
}
