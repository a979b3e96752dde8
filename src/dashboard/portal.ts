/**
 * The partner portal (issue 14): a one-time, short-lived link that opens one partner's own dashboard
 * without a token, for a partner's platform to hand its users (or to put in an iframe: embedding.ts).
 *
 * The operator's API makes a link (`POST /api/v1/admin/partners/{customer_id}/portal-links`): a random
 * token in the URL, only its SHA-256 stored, bound to the partner's bearer token of the moment (a reset
 * voids it). Opening `GET /dashboard/portal/{token}` uses it up in one statement (a second opening,
 * or one after it expired, finds nothing: 410) and starts an ordinary partner session, which lasts
 * `DASHBOARD_SESSION_TTL` like a log-in: the link's own short life bounds when it can be opened, not
 * how long the page it opened may be used.
 */
import { randomBytes } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { hashToken } from '../http/auth.js';
import {
  PRUNE_INTERVAL_MS,
  type Pruner,
  type PrunerHooks,
  pruneInBatches,
  startPruner,
} from '../storage/pruner.js';
import type { Store } from '../storage/store.js';
import { PUBLIC_ROUTE } from './hooks.js';
import { BASE } from './layout.js';
import { PageError } from './page-error.js';
import type { DashboardSessions } from './session.js';

/** How long a link can be opened unless set (`PORTAL_LINK_TTL`): 15 minutes. */
export const DEFAULT_PORTAL_LINK_TTL_MS = 15 * 60 * 1000;

/** The portal's settings. */
export interface PortalSettings {
  /** `PORTAL_LINK_TTL`: how long a new link can be opened unless its request says otherwise. */
  linkTtlMs: number;
  /** `PUBLIC_URL`: the service's base URL as browsers reach it; unset, the request's scheme and host. */
  publicUrl: string | undefined;
  /** `DASHBOARD_FRAME_ANCESTORS`: the origins that may frame the dashboard; [] for none. */
  frameAncestors: readonly string[];
}

export const DEFAULT_PORTAL_SETTINGS: PortalSettings = {
  linkTtlMs: DEFAULT_PORTAL_LINK_TTL_MS,
  publicUrl: undefined,
  frameAncestors: [],
};

/** Link tokens: 32 random bytes, base64url (43 characters), as session ids. */
const newLinkToken = (): string => randomBytes(32).toString('base64url');
const LINK_TOKEN = /^[A-Za-z0-9_-]{43}$/;

/** Where a link leads once used: the partner's home page. */
export const PORTAL_HOME = `${BASE}/customers`;

/** A link made: its absolute URL and when it stops opening. */
export interface PortalLinkGrant {
  url: string;
  expiresAt: Date;
}

/**
 * The service's base URL for a link: `PUBLIC_URL`, or the scheme and host of the request that asked
 * (a trusted proxy's `X-Forwarded-Proto`/`-Host` as `TRUST_PROXY` allows, as Fastify reads them).
 */
export function publicBaseUrl(request: FastifyRequest, publicUrl: string | undefined): string {
  return publicUrl ?? `${request.protocol}://${request.host}`;
}

/**
 * Makes a link to `customerId`'s dashboard that opens once within `ttlMs`; undefined when there is
 * no such partner.
 *
 * @example
 * const grant = await createPortalLink(store, '0201001008132685', { baseUrl: 'https://tpcs.example', ttlMs: 900_000 });
 * // { url: 'https://tpcs.example/dashboard/portal/Q2h…', expiresAt: … }
 */
export async function createPortalLink(
  store: Pick<Store, 'createPortalLink'>,
  customerId: string,
  { baseUrl, ttlMs, now = new Date() }: { baseUrl: string; ttlMs: number; now?: Date },
): Promise<PortalLinkGrant | undefined> {
  const token = newLinkToken();
  const expiresAt = new Date(now.getTime() + ttlMs);
  const created = await store.createPortalLink(hashToken(token), { customerId, createdAt: now, expiresAt });
  return created ? { url: `${baseUrl}${BASE}/portal/${token}`, expiresAt } : undefined;
}

const USED_OR_EXPIRED =
  'This portal link has expired or has already been used: each link opens once, for a short time. Ask for a new one.';

/**
 * `GET /dashboard/portal/:token` (public): uses the link up, starts the partner's session and goes to
 * its home page; a used, expired or unknown link gets a 410 page. No HEAD route: a HEAD request (a
 * link checker) must not use a link up.
 */
export function portalRoutes(
  app: FastifyInstance,
  { store, sessions }: { store: Store; sessions: DashboardSessions },
): void {
  app.get<{ Params: { token: string } }>(
    '/portal/:token',
    { ...PUBLIC_ROUTE, exposeHeadRoute: false },
    async (request, reply) => {
      const { token } = request.params;
      const link = LINK_TOKEN.test(token)
        ? await store.consumePortalLink(hashToken(token), new Date())
        : undefined;
      if (!link) throw new PageError(410, USED_OR_EXPIRED);
      await sessions.startForPartner(request, reply, link.customerId, link.partnerTokenHash);
      return reply.redirect(PORTAL_HOME, 303);
    },
  );
}

/** Deletes every link expired at `now`, in batches (storage/pruner.ts); returns how many. */
export function prunePortalLinks(
  store: Pick<Store, 'prunePortalLinks'>,
  now: Date = new Date(),
): Promise<number> {
  return pruneInBatches((limit) => store.prunePortalLinks(now, limit));
}

/** Prunes expired links now and then every hour, as the session pruner does. */
export function startPortalLinkPruner(
  store: Pick<Store, 'prunePortalLinks'>,
  hooks: PrunerHooks = {},
  intervalMs: number = PRUNE_INTERVAL_MS,
): Pruner {
  return startPruner(() => prunePortalLinks(store), hooks, intervalMs);
}
