/**
 * What each page's routes are given, and what they share: who is looking (the {@link Viewer} of a
 * request), what that viewer may see, and sending a rendered page.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { DeliveryHandle } from '../../http/routes/shared.js';
import type { Store } from '../../storage/store.js';
import type { HostResolver } from '../../webhooks/url-policy.js';
import { optionalText, readFields } from '../forms.js';
import type { Viewer } from '../layout.js';
import { notFound, PageError } from '../page-error.js';
import { csrfToken, type DashboardSessions } from '../session.js';

/** The collaborators of the pages' routes, built once by the plugin. */
export interface PageDeps {
  store: Store;
  /** Logging in and out; the session hook finds each request's session with it too. */
  sessions: DashboardSessions;
  /** The queue and sender behind retry, recover and the test event; absent, those answer 503. */
  delivery?: DeliveryHandle | undefined;
  /** The API's rules for endpoints, so that a form and the API accept the same endpoints. */
  endpointRules: EndpointRules;
}

/** Which endpoint URLs are accepted and how many endpoints a partner may have: as the API's routes. */
export interface EndpointRules {
  /** `ALLOW_PRIVATE_ENDPOINTS`. */
  allowPrivate: boolean;
  resolveHost?: HostResolver | undefined;
  /** `ENDPOINTS_PER_PARTNER`. */
  maxPerPartner: number;
}

/** Registers one page's routes (paths relative to `/dashboard`) on the dashboard's scoped app. */
export type PageRoutes = (app: FastifyInstance, deps: PageDeps) => void;

/** The operator's partner picker, on every page's query string. */
const scopeQuery = z.object({ partner: optionalText });

/**
 * The viewer of a request: its principal and the partner whose data it may see (a partner itself, or
 * the one the operator picked with `?partner=`, or none: every partner).
 */
export async function viewerOf(request: FastifyRequest, store: Store): Promise<Viewer> {
  const session = request.dashboardSession;
  if (!session) throw new PageError(401, 'Log in first.');
  const { principal, id } = session;
  if (principal.kind === 'partner') {
    return { principal, scope: principal.customerId, partners: [], csrf: csrfToken(id) };
  }
  const partners = await store.listPartners();
  const { partner } = readFields(scopeQuery, request.query);
  const scope = partners.some((p) => p.customerId === partner) ? partner : undefined;
  return { principal, scope, partners, csrf: csrfToken(id) };
}

/** Throws 404 unless the viewer may see `customerId`'s data (a partner only its own). */
export function ensureVisible(viewer: Viewer, customerId: string): void {
  if (viewer.principal.kind === 'partner' && viewer.principal.customerId !== customerId) throw notFound();
}

/** Sends a rendered page. */
export function sendPage(reply: FastifyReply, status: number, page: string): FastifyReply {
  return reply.code(status).type('text/html; charset=utf-8').send(page);
}
