/**
 * Every hook of the dashboard, in the order a request meets them: the session (who is asking, or off to
 * the log-in form), the cross-site and CSRF locks on POSTs, the security headers on every answer
 * (framing as `DASHBOARD_FRAME_ANCESTORS` allows: embedding.ts), and the error and not-found pages. Scoped to the dashboard's plugin, so the JSON API is untouched.
 */
import type { FastifyError, FastifyInstance, FastifyReply } from 'fastify';
import { z } from 'zod';
import { RETRY_AFTER_SECONDS, storageUnavailable } from '../http/errors.js';
import { securityHeaders } from './embedding.js';
import { field, isDashboardPath } from './forms.js';
import { html, type SafeHtml } from './html.js';
import { BASE, layout } from './layout.js';
import { PageError } from './page-error.js';
import { sendPage } from './pages/context.js';
import { type ActiveSession, type DashboardSessions, validCsrf } from './session.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the dashboard's session hook on its protected routes. */
    dashboardSession?: ActiveSession;
  }
  interface FastifyContextConfig {
    /** A dashboard route that needs no session (log-in, assets). */
    dashboardPublic?: boolean;
  }
}

/** The options of a route that needs no session: `app.get('/login', PUBLIC_ROUTE, handler)`. */
export const PUBLIC_ROUTE = { config: { dashboardPublic: true } } as const;

/** The CSRF token every POST form carries (any other fields are the route's own). */
const csrfForm = z.object({ csrf: field });

/**
 * Installs the dashboard's hooks and its error and not-found pages on its scoped app; `frameAncestors`
 * are the origins that may frame its pages (`DASHBOARD_FRAME_ANCESTORS`; none by default).
 */
export function installHooks(
  app: FastifyInstance,
  sessions: DashboardSessions,
  frameAncestors: readonly string[] = [],
): void {
  requireSession(app, sessions);
  refuseForeignPosts(app);
  sendSecurityHeaders(app, securityHeaders(frameAncestors));
  renderErrorPages(app);
}

/**
 * Every route needs a valid session unless marked public. A session that ended (logged out, expired,
 * its token reset or changed) sends the browser back to the log-in form.
 */
function requireSession(app: FastifyInstance, sessions: DashboardSessions): void {
  app.addHook('onRequest', async (request, reply) => {
    if (request.routeOptions.config.dashboardPublic) return;
    const session = await sessions.find(request);
    if (session) {
      request.dashboardSession = session;
      return;
    }
    if (request.method === 'GET' && !request.url.startsWith(`${BASE}/api/`)) {
      const next = isDashboardPath(request.url) ? request.url : `${BASE}/customers`;
      return reply.redirect(`${BASE}/login?next=${encodeURIComponent(next)}`, 303);
    }
    throw new PageError(401, 'Your session has ended. Log in again.');
  });
}

/** The host of an Origin header; undefined for `null` or anything malformed (which then never matches). */
function originHost(origin: string): string | undefined {
  try {
    return new URL(origin).host;
  } catch {
    return undefined;
  }
}

/**
 * Cross-site POSTs are refused before a route acts on them: SameSite=Strict already keeps the cookie
 * off them (unless framing is allowed: then the cookie is SameSite=None and these two locks remain),
 * the CSRF token is the second lock, and this the third. A form inside a frame posts same-origin.
 */
function refuseForeignPosts(app: FastifyInstance): void {
  app.addHook('preHandler', async (request) => {
    if (request.method !== 'POST') return;
    const site = request.headers['sec-fetch-site'];
    const origin = request.headers.origin;
    const crossSite = site === 'cross-site' || site === 'same-site';
    const foreignOrigin = typeof origin === 'string' && originHost(origin) !== request.headers.host;
    if (crossSite || foreignOrigin) throw new PageError(403, 'Cross-site form posts are refused.');
    const session = request.dashboardSession;
    if (!session) return;
    const form = csrfForm.safeParse(request.body);
    if (!form.success || !validCsrf(session.id, form.data.csrf)) {
      throw new PageError(403, 'The form has expired. Reload the page and try again.');
    }
  });
}

/** The security headers on every answer; pages are never cached unless a route says otherwise. */
function sendSecurityHeaders(app: FastifyInstance, headers: Record<string, string>): void {
  app.addHook('onSend', async (_request, reply, payload) => {
    reply.headers(headers);
    if (!reply.hasHeader('cache-control')) reply.header('cache-control', 'no-store');
    return payload;
  });
}

/** The heading of an error page, by status. */
const TITLES: Partial<Record<number, string>> = {
  403: 'Forbidden',
  404: 'Not found',
  410: 'Link no longer valid',
};

function sendErrorPage(reply: FastifyReply, status: number, title: string, body: SafeHtml): FastifyReply {
  return sendPage(
    reply,
    status,
    layout({ title, body: html`${body}<p><a href="${BASE}">Back to the dashboard</a></p>` }),
  );
}

/** Errors as HTML pages: a {@link PageError}'s own status and message; a 5xx says nothing of its cause. */
function renderErrorPages(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError | PageError, request, reply) => {
    // the database down or stalled: 503 and Retry-After, as the API answers (src/http/errors.ts)
    const unavailable = storageUnavailable(err);
    if (unavailable) {
      request.log.warn({ err }, 'dashboard request failed: the database is unavailable');
      reply.header('retry-after', String(RETRY_AFTER_SECONDS));
      return sendErrorPage(
        reply,
        503,
        'Try again shortly',
        html`<p class="notice notice-error" role="alert">The database is not available right now. Try again in a few seconds.</p>`,
      );
    }
    const status =
      err instanceof PageError ? err.status : err.statusCode && err.statusCode < 500 ? err.statusCode : 500;
    if (status >= 500) request.log.error({ err }, 'dashboard request failed');
    const message = status >= 500 ? 'Something went wrong on our side.' : err.message;
    const title = TITLES[status] ?? `Error ${status}`;
    return sendErrorPage(
      reply,
      status,
      title,
      html`<p class="notice notice-error" role="alert">${message}</p>`,
    );
  });

  app.setNotFoundHandler((_request, reply) => {
    sendErrorPage(reply, 404, 'Not found', html`<p>No such dashboard page.</p>`);
  });
}
