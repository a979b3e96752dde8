/**
 * The dashboard at `/dashboard`: server-rendered pages for the operator (every partner, with a picker)
 * and for a partner (its own data only). Decisions and retries go through the same domain code as the
 * API routes. Registered by `buildApp`; everything here is scoped to this plugin (form parsing, error
 * pages, security headers), so the JSON API is untouched.
 */
import type {
  FastifyError,
  FastifyInstance,
  FastifyPluginAsync,
  FastifyReply,
  FastifyRequest,
} from 'fastify';
import { complianceDecisionSchema, recordComplianceDecision } from '../customers/decisions.js';
import type { Principal } from '../http/auth.js';
import type { RouteDeps } from '../http/routes/shared.js';
import type { ThirdPartyStatus } from '../storage/store.js';
import { notifyDeliveriesQueued } from '../webhooks/dispatcher/notify.js';
import { isEndpointId } from '../webhooks/endpoints.js';
import { APP_CSS } from './assets/app-css.js';
import { APP_JS } from './assets/app-js.js';
import { html } from './html.js';
import { BASE, layout, type Viewer } from './layout.js';
import { customersPage } from './pages/customers.js';
import { CHART_MINUTES, endpointPage, endpointsPage, HEALTH_WINDOW_MS } from './pages/endpoints.js';
import { loginPage } from './pages/login.js';
import { reviewPage } from './pages/review.js';
import { PAGE_SIZE } from './pages/shared.js';
import { timelinePage } from './pages/timeline.js';
import {
  createPrincipalResolver,
  csrfToken,
  readCookie,
  SESSION_COOKIE,
  sessionCookie,
  validCsrf,
} from './session.js';

/** What the dashboard needs: the routes' collaborators, plus the operator token's hash. */
export interface DashboardOptions extends RouteDeps {
  /** As `AppOptions.adminTokenHash`: when absent, read from the store setting. */
  adminTokenHash?: string | undefined;
}

/** Sent with every dashboard response: no inline script, no framing, no sniffing, no referrer leaks. */
export const SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; " +
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  'x-frame-options': 'DENY',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'same-origin',
} as const;

const STATUSES = new Set<string>(['PENDING', 'APPROVED', 'REJECTED']);
const MAX_TIMELINE_EVENTS = 200;

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the dashboard's session hook on its protected routes. */
    dashboardSession?: { token: string; principal: Principal };
  }
  interface FastifyContextConfig {
    /** A dashboard route that needs no session (log-in, assets). */
    dashboardPublic?: boolean;
  }
}

/** A page error: rendered as an HTML page with this status. */
class PageError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

const notFound = () => new PageError(404, 'There is nothing here, or it belongs to another partner.');

/** Only a dashboard path may be a redirect target: never another site (`//evil`, `/\\evil`). */
function safeBack(value: unknown, fallback: string): string {
  if (typeof value !== 'string' || value.length > 2000) return fallback;
  return /^\/dashboard(?:[/?#][^\s\\]*)?$/.test(value) && !value.startsWith('//') && !value.includes('//')
    ? value
    : fallback;
}

function oneString(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

function pageNumber(value: unknown): number {
  const n = Number(oneString(value));
  return Number.isInteger(n) && n >= 1 && n <= 100_000 ? n : 1;
}

/** The host of an Origin header; undefined for `null` or anything malformed (which then never matches). */
function originHost(origin: string): string | undefined {
  try {
    return new URL(origin).host;
  } catch {
    return undefined;
  }
}

function sendPage(reply: FastifyReply, status: number, page: string): FastifyReply {
  return reply.code(status).type('text/html; charset=utf-8').send(page);
}

/** `/dashboard/*`, registered by `buildApp`. */
export const dashboardRoutes: FastifyPluginAsync<DashboardOptions> = async (app, options) => {
  await app.register(async (scoped) => registerDashboard(scoped, options), { prefix: BASE });
};

async function registerDashboard(
  app: FastifyInstance,
  { store, adminTokenHash, delivery }: DashboardOptions,
) {
  const resolvePrincipal = createPrincipalResolver(store, adminTokenHash);

  // HTML forms post urlencoded bodies; only this plugin accepts them.
  app.addContentTypeParser(
    'application/x-www-form-urlencoded',
    { parseAs: 'string', bodyLimit: 16 * 1024 },
    (_request, body, done) => {
      const fields: Record<string, string> = {};
      for (const [k, v] of new URLSearchParams(body as string)) if (!(k in fields)) fields[k] = v;
      done(null, fields);
    },
  );

  app.addHook('onSend', async (_request, reply, payload) => {
    reply.headers(SECURITY_HEADERS);
    if (!reply.hasHeader('cache-control')) reply.header('cache-control', 'no-store');
    return payload;
  });

  app.setErrorHandler((err: FastifyError | PageError, request, reply) => {
    const status =
      err instanceof PageError ? err.status : err.statusCode && err.statusCode < 500 ? err.statusCode : 500;
    if (status >= 500) request.log.error({ err }, 'dashboard request failed');
    const message = status >= 500 ? 'Something went wrong on our side.' : err.message;
    const title = status === 404 ? 'Not found' : status === 403 ? 'Forbidden' : `Error ${status}`;
    return sendPage(
      reply,
      status,
      layout({
        title,
        body: html`<p class="notice notice-error" role="alert">${message}</p><p><a href="${BASE}">Back to the dashboard</a></p>`,
      }),
    );
  });

  app.setNotFoundHandler((_request, reply) => {
    sendPage(
      reply,
      404,
      layout({
        title: 'Not found',
        body: html`<p>No such dashboard page.</p><p><a href="${BASE}">Back to the dashboard</a></p>`,
      }),
    );
  });

  // Every route needs a valid session unless marked public. A token that stopped being valid (rotated,
  // partner removed) ends the session at its next request.
  app.addHook('onRequest', async (request, reply) => {
    if (request.routeOptions.config.dashboardPublic) return;
    const token = readCookie(request, SESSION_COOKIE);
    const principal = token === undefined ? undefined : await resolvePrincipal(token);
    if (token !== undefined && principal !== undefined) {
      request.dashboardSession = { token, principal };
      return;
    }
    if (request.method === 'GET' && !request.url.startsWith(`${BASE}/api/`)) {
      const next = safeBack(request.url, `${BASE}/customers`);
      return reply.redirect(`${BASE}/login?next=${encodeURIComponent(next)}`, 303);
    }
    throw new PageError(401, 'Your session has ended. Log in again.');
  });

  // Cross-site POSTs are refused before their body is looked at: SameSite=Strict already keeps the
  // cookie off them, the CSRF token is the second lock, and this the third.
  app.addHook('preHandler', async (request) => {
    if (request.method !== 'POST') return;
    const site = request.headers['sec-fetch-site'];
    const origin = request.headers.origin;
    const crossSite = site === 'cross-site' || site === 'same-site';
    const foreignOrigin = typeof origin === 'string' && originHost(origin) !== request.headers.host;
    if (crossSite || foreignOrigin) throw new PageError(403, 'Cross-site form posts are refused.');
    const session = request.dashboardSession;
    if (session && !validCsrf(session.token, (request.body as Record<string, unknown> | undefined)?.csrf)) {
      throw new PageError(403, 'The form has expired. Reload the page and try again.');
    }
  });

  /** The viewer of a request: its principal and the partner whose data it may see. */
  async function viewerOf(request: FastifyRequest): Promise<Viewer> {
    const session = request.dashboardSession;
    if (!session) throw new PageError(401, 'Log in first.');
    const { principal, token } = session;
    if (principal.kind === 'partner') {
      return { principal, scope: principal.customerId, partners: [], csrf: csrfToken(token) };
    }
    const partners = await store.listPartners();
    const picked = oneString((request.query as Record<string, unknown>).partner);
    const scope = partners.some((p) => p.customerId === picked) ? picked : undefined;
    return { principal, scope, partners, csrf: csrfToken(token) };
  }

  /** Throws 404 unless the viewer may see `customerId`'s data (a partner only its own). */
  function ensureVisible(viewer: Viewer, customerId: string): void {
    if (viewer.principal.kind === 'partner' && viewer.principal.customerId !== customerId) throw notFound();
  }

  const pub = { config: { dashboardPublic: true } };

  app.get('/assets/app.css', pub, async (_request, reply) =>
    reply.type('text/css; charset=utf-8').header('cache-control', 'no-cache').send(APP_CSS),
  );
  app.get('/assets/app.js', pub, async (_request, reply) =>
    reply.type('text/javascript; charset=utf-8').header('cache-control', 'no-cache').send(APP_JS),
  );

  app.get('/login', pub, async (request, reply) => {
    const next = safeBack((request.query as Record<string, unknown>).next, `${BASE}/customers`);
    return sendPage(reply, 200, loginPage({ next }));
  });

  app.post('/login', pub, async (request, reply) => {
    const body = (request.body ?? {}) as Record<string, unknown>;
    const token = (oneString(body.token) ?? '').trim();
    const next = safeBack(body.next, `${BASE}/customers`);
    const principal = token === '' ? undefined : await resolvePrincipal(token);
    if (!principal) {
      return sendPage(reply, 401, loginPage({ error: 'That token is not valid.', next }));
    }
    reply.header('set-cookie', sessionCookie(token, request.protocol === 'https'));
    return reply.redirect(next, 303);
  });

  app.post('/logout', async (request, reply) => {
    reply.header('set-cookie', sessionCookie(null, request.protocol === 'https'));
    return reply.redirect(`${BASE}/login`, 303);
  });

  app.get('/', async (_request, reply) => reply.redirect(`${BASE}/customers`, 303));

  app.get('/customers', async (request, reply) => {
    const viewer = await viewerOf(request);
    const query = request.query as Record<string, unknown>;
    const rawStatus = oneString(query.status);
    const status =
      rawStatus !== undefined && STATUSES.has(rawStatus) ? (rawStatus as ThirdPartyStatus) : undefined;
    const q = (oneString(query.q) ?? '').trim().slice(0, 64);
    const page = pageNumber(query.page);
    const result = await store.searchThirdParties({
      ...(viewer.scope === undefined ? {} : { customerId: viewer.scope }),
      ...(status === undefined ? {} : { status }),
      refContains: q,
      limit: PAGE_SIZE,
      offset: (page - 1) * PAGE_SIZE,
    });
    return sendPage(reply, 200, customersPage(viewer, { status, q, page }, result));
  });

  app.get('/customers/:customer_id/:ref', async (request, reply) => {
    const viewer = await viewerOf(request);
    const { customer_id: customerId, ref } = request.params as { customer_id: string; ref: string };
    ensureVisible(viewer, customerId);
    const thirdParty = await store.getThirdParty(customerId, ref);
    if (!thirdParty) throw notFound();
    const events = await store.listThirdPartyEvents(customerId, ref, MAX_TIMELINE_EVENTS);
    const retried = oneString((request.query as Record<string, unknown>).retried);
    const message = retried ? `Delivery ${retried.slice(0, 100)} queued to be sent again now.` : undefined;
    return sendPage(reply, 200, timelinePage(viewer, thirdParty, events, message));
  });

  async function renderReview(
    request: FastifyRequest,
    reply: FastifyReply,
    status: number,
    message?: { kind: 'ok' | 'error'; text: string },
  ) {
    const viewer = await viewerOf(request);
    if (viewer.principal.kind !== 'admin') throw notFound();
    const page = pageNumber((request.query as Record<string, unknown>).page);
    const result = await store.searchThirdParties({
      ...(viewer.scope === undefined ? {} : { customerId: viewer.scope }),
      status: 'PENDING',
      limit: PAGE_SIZE,
      offset: (page - 1) * PAGE_SIZE,
    });
    return sendPage(reply, status, reviewPage(viewer, page, result, message));
  }

  app.get('/review', async (request, reply) => {
    const query = request.query as Record<string, unknown>;
    const decided = oneString(query.decided);
    const decidedStatus = oneString(query.status);
    const message =
      decided && (decidedStatus === 'APPROVED' || decidedStatus === 'REJECTED')
        ? { kind: 'ok' as const, text: `Recorded ${decidedStatus} for ${decided.slice(0, 64)}.` }
        : undefined;
    return renderReview(request, reply, 200, message);
  });

  // The same domain call as POST /api/v1/admin/…/decision: status, event and deliveries in one transaction.
  app.post('/review/:customer_id/:ref/decision', async (request, reply) => {
    const viewer = await viewerOf(request);
    if (viewer.principal.kind !== 'admin') throw notFound();
    const { customer_id: customerId, ref } = request.params as { customer_id: string; ref: string };
    const body = (request.body ?? {}) as Record<string, unknown>;
    const status = oneString(body.status);
    const code = (oneString(body.code) ?? '').trim();
    const reason = (oneString(body.reason) ?? '').trim();
    const parsed = complianceDecisionSchema.safeParse(
      status === 'REJECTED' ? { status, reasons: code || reason ? [{ code, reason }] : [] } : { status },
    );
    if (!parsed.success) {
      const problems = parsed.error.issues.map((i) => `${i.path.join('.') || 'decision'}: ${i.message}`);
      return renderReview(request, reply, 400, {
        kind: 'error',
        text: `No decision recorded for ${ref.slice(0, 64)}. ${problems.join('; ')}`,
      });
    }
    const result = await recordComplianceDecision(store, {
      customerId,
      clientCustomerRef: ref,
      decision: parsed.data,
    });
    if (result.outcome === 'not_found') throw notFound();
    if (result.outcome === 'too_fast') {
      return renderReview(request, reply, 429, {
        kind: 'error',
        text: `No decision recorded for ${ref.slice(0, 64)}: decisions on it come faster than one a second. Decide again in ${result.retryAfterSeconds} s.`,
      });
    }
    const back = new URL(safeBack(body.back, `${BASE}/review`), 'http://x');
    back.searchParams.set('decided', ref);
    back.searchParams.set('status', parsed.data.status);
    return reply.redirect(back.pathname + back.search, 303);
  });

  app.get('/endpoints', async (request, reply) => {
    const viewer = await viewerOf(request);
    const since = new Date(Date.now() - HEALTH_WINDOW_MS);
    const partnerIds = viewer.scope !== undefined ? [viewer.scope] : viewer.partners.map((p) => p.customerId);
    const rows = [];
    for (const customerId of partnerIds) {
      const [endpoints, health] = await Promise.all([
        store.listEndpoints(customerId),
        store.endpointHealth(customerId, since),
      ]);
      const byId = new Map(health.map((h) => [h.endpointId, h]));
      for (const endpoint of endpoints) rows.push({ endpoint, health: byId.get(endpoint.id) });
    }
    const now = new Date();
    const minutes = await store.attemptsPerMinute({
      ...(viewer.scope === undefined ? {} : { customerId: viewer.scope }),
      since: new Date(now.getTime() - CHART_MINUTES * 60_000),
    });
    return sendPage(reply, 200, endpointsPage(viewer, rows, minutes, now));
  });

  app.get('/endpoints/:customer_id/:endpoint_id', async (request, reply) => {
    const viewer = await viewerOf(request);
    const { customer_id: customerId, endpoint_id: endpointId } = request.params as {
      customer_id: string;
      endpoint_id: string;
    };
    ensureVisible(viewer, customerId);
    const endpoint = isEndpointId(endpointId) ? await store.getEndpoint(customerId, endpointId) : undefined;
    if (!endpoint) throw notFound();
    const cursor = oneString((request.query as Record<string, unknown>).cursor);
    const [health, deliveries] = await Promise.all([
      store.endpointHealth(customerId, new Date(Date.now() - HEALTH_WINDOW_MS)),
      store
        .listDeliveries(customerId, endpointId, { limit: PAGE_SIZE, ...(cursor ? { cursor } : {}) })
        .catch(() => {
          throw new PageError(400, 'That page link is not valid any more.');
        }),
    ]);
    const retried = oneString((request.query as Record<string, unknown>).retried);
    const message = retried
      ? { kind: 'ok' as const, text: `Delivery ${retried.slice(0, 100)} queued to be sent again now.` }
      : undefined;
    const h = health.find((x) => x.endpointId === endpointId);
    return sendPage(reply, 200, endpointPage(viewer, endpoint, h, deliveries, message));
  });

  // The same queue call as POST /api/v1/…/deliveries/{id}/retry.
  app.post('/endpoints/:customer_id/:endpoint_id/deliveries/:delivery_id/retry', async (request, reply) => {
    const viewer = await viewerOf(request);
    const p = request.params as { customer_id: string; endpoint_id: string; delivery_id: string };
    ensureVisible(viewer, p.customer_id);
    if (!delivery)
      throw new PageError(503, 'Delivery is not running in this process, so nothing can be retried.');
    const retried = await delivery.queue.retry(p.customer_id, p.endpoint_id, p.delivery_id, new Date());
    if (!retried) throw notFound();
    notifyDeliveriesQueued();
    const fallback = `${BASE}/endpoints/${encodeURIComponent(p.customer_id)}/${encodeURIComponent(p.endpoint_id)}`;
    const back = new URL(
      safeBack((request.body as Record<string, unknown> | undefined)?.back, fallback),
      'http://x',
    );
    back.searchParams.set('retried', retried.id);
    return reply.redirect(`${back.pathname}${back.search}#delivery-${retried.id}`, 303);
  });

  app.get('/api/deliveries-per-minute', async (request, reply) => {
    const viewer = await viewerOf(request);
    const now = new Date();
    const minutes = await store.attemptsPerMinute({
      ...(viewer.scope === undefined ? {} : { customerId: viewer.scope }),
      since: new Date(now.getTime() - CHART_MINUTES * 60_000),
    });
    return reply.type('application/json; charset=utf-8').send({
      now: now.toISOString(),
      minutes: minutes.map((m) => ({ ...m, minute: m.minute.toISOString() })),
    });
  });
}
