/**
 * Dashboard sessions, kept server-side. Logging in with a token (the operator's or a partner's) makes
 * a random session id; the HttpOnly, SameSite=Strict cookie holds that id and the store only its
 * SHA-256 (as for tokens), with who it is for, the hash of the token that logged in, and when it
 * expires. A session ends when it expires, at log-out (its row is deleted, so the old cookie value is
 * worth nothing), when the partner's token is reset, and when the operator token changes: a session is
 * valid only while the token that made it is still its holder's. A partner portal link (portal.ts)
 * starts a partner's session as its token would, bound to the partner's token of the moment.
 *
 * When other sites may frame the dashboard (`DASHBOARD_FRAME_ANCESTORS`), the cookie is
 * `SameSite=None; Secure; Partitioned` instead: a browser neither sends nor even stores a Strict cookie
 * inside a third-party frame. Secure cookies need HTTPS (browsers make an exception for localhost);
 * cross-site POSTs stay refused by the CSRF token and the Origin check (hooks.ts).
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { type Auth, hashToken, type Principal } from '../http/auth.js';
import { RateLimitedError } from '../http/rate-limit.js';
import {
  PRUNE_INTERVAL_MS,
  type Pruner,
  type PrunerHooks,
  pruneInBatches,
  startPruner,
} from '../storage/pruner.js';
import type { Store } from '../storage/store.js';

/** The session cookie's name. */
export const SESSION_COOKIE = 'tpcs_dashboard';

/** How long a log-in lasts unless set (`DASHBOARD_SESSION_TTL`): a working day. */
export const DEFAULT_SESSION_TTL_MS = 12 * 60 * 60 * 1000;

/** Reads one cookie from the request's Cookie header. */
export function readCookie(request: FastifyRequest, name: string): string | undefined {
  const header = request.headers.cookie;
  if (typeof header !== 'string') return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0 || part.slice(0, eq).trim() !== name) continue;
    try {
      return decodeURIComponent(part.slice(eq + 1).trim());
    } catch {
      return undefined;
    }
  }
  return undefined;
}

/**
 * How the cookie is sent: `strict` (SameSite=Strict, `Secure` over HTTPS), or `framed` for a dashboard
 * other sites may frame (SameSite=None, always `Secure`, `Partitioned` so that browsers blocking
 * third-party cookies keep it for the framing site).
 */
export type CookieMode = 'strict' | 'framed';

/**
 * The Set-Cookie value that holds (or, with `sessionId` null, clears) the session for `maxAgeSeconds`.
 * `Secure` when the request came over HTTPS (directly, or as a trusted proxy's `X-Forwarded-Proto`
 * says): the service also runs on plain HTTP on a developer's machine. Always `Secure` when `framed`.
 */
export function sessionCookie(
  sessionId: string | null,
  secure: boolean,
  maxAgeSeconds = 0,
  mode: CookieMode = 'strict',
): string {
  const attrs =
    mode === 'framed'
      ? ['Path=/dashboard', 'HttpOnly', 'SameSite=None', 'Secure', 'Partitioned']
      : ['Path=/dashboard', 'HttpOnly', 'SameSite=Strict', ...(secure ? ['Secure'] : [])];
  if (sessionId === null) return [`${SESSION_COOKIE}=`, 'Max-Age=0', ...attrs].join('; ');
  return [`${SESSION_COOKIE}=${sessionId}`, `Max-Age=${maxAgeSeconds}`, ...attrs].join('; ');
}

/**
 * The CSRF token of a session: an HMAC of a fixed label keyed by the session id, so it needs no more
 * server state, differs per session, and cannot be computed by a page that cannot read the cookie.
 */
export function csrfToken(sessionId: string): string {
  return createHmac('sha256', sessionId).update('tpcs-dashboard-csrf-v1').digest('base64url');
}

/** Whether a submitted CSRF token is the session's (constant-time). */
export function validCsrf(sessionId: string, submitted: unknown): boolean {
  if (typeof submitted !== 'string') return false;
  const expected = Buffer.from(csrfToken(sessionId));
  const given = Buffer.from(submitted);
  return expected.length === given.length && timingSafeEqual(expected, given);
}

/** A session in use: its id (the cookie's value) and who it is for. */
export interface ActiveSession {
  id: string;
  principal: Principal;
}

/** What a log-in came to. */
export type LogInOutcome =
  | { outcome: 'logged_in'; session: ActiveSession }
  | { outcome: 'refused' }
  | { outcome: 'rate_limited'; retryAfterSeconds: number };

/** Session ids: 32 random bytes, base64url (43 characters), like the tokens' random part. */
const newSessionId = (): string => randomBytes(32).toString('base64url');
const SESSION_ID = /^[A-Za-z0-9_-]{43}$/;

/** Logging in, finding the session of a request, logging out. */
export class DashboardSessions {
  readonly #store: Store;
  readonly #auth: Auth;
  readonly #ttlMs: number;
  readonly #cookieMode: CookieMode;

  constructor(
    store: Store,
    auth: Auth,
    ttlMs: number = DEFAULT_SESSION_TTL_MS,
    cookieMode: CookieMode = 'strict',
  ) {
    this.#store = store;
    this.#auth = auth;
    this.#ttlMs = ttlMs;
    this.#cookieMode = cookieMode;
  }

  /**
   * Checks the token (under the same failed-authentication limits as the API's bearer header) and,
   * when it is valid, starts a session and sets its cookie on `reply`.
   */
  async logIn(request: FastifyRequest, reply: FastifyReply, token: string): Promise<LogInOutcome> {
    let found: Awaited<ReturnType<Auth['authenticate']>>;
    try {
      found = await this.#auth.authenticate(request, token === '' ? undefined : token);
    } catch (err) {
      if (err instanceof RateLimitedError) {
        return { outcome: 'rate_limited', retryAfterSeconds: err.retryAfterSeconds };
      }
      throw err;
    }
    if (!found) return { outcome: 'refused' };
    const customerId = found.principal.kind === 'partner' ? found.principal.customerId : null;
    const id = await this.#start(request, reply, customerId, found.tokenHash);
    return { outcome: 'logged_in', session: { id, principal: found.principal } };
  }

  /**
   * Starts a partner's session without its token, as a portal link does (the link was checked and used
   * up by the caller), and sets its cookie on `reply`. `partnerTokenHash` binds it as a log-in would.
   */
  async startForPartner(
    request: FastifyRequest,
    reply: FastifyReply,
    customerId: string,
    partnerTokenHash: string,
  ): Promise<ActiveSession> {
    const id = await this.#start(request, reply, customerId, partnerTokenHash);
    return { id, principal: { kind: 'partner', customerId } };
  }

  async #start(
    request: FastifyRequest,
    reply: FastifyReply,
    customerId: string | null,
    tokenHash: string,
  ): Promise<string> {
    const id = newSessionId();
    const now = new Date();
    await this.#store.createDashboardSession(hashToken(id), {
      customerId,
      tokenHash,
      createdAt: now,
      expiresAt: new Date(now.getTime() + this.#ttlMs),
    });
    const maxAge = Math.floor(this.#ttlMs / 1000);
    reply.header('set-cookie', sessionCookie(id, isHttps(request), maxAge, this.#cookieMode));
    return id;
  }

  /** The request's session, or undefined when it has none that is still valid. */
  async find(request: FastifyRequest): Promise<ActiveSession | undefined> {
    const id = readCookie(request, SESSION_COOKIE);
    if (id === undefined || !SESSION_ID.test(id)) return undefined;
    const session = await this.#store.getDashboardSession(hashToken(id), new Date());
    if (!session) return undefined;
    if (session.customerId !== null)
      return { id, principal: { kind: 'partner', customerId: session.customerId } };
    // The operator's: only while the operator token is still the one that logged in.
    return (await this.#auth.isAdminTokenHash(session.tokenHash))
      ? { id, principal: { kind: 'admin' } }
      : undefined;
  }

  /** Ends the session server-side and clears the cookie. */
  async logOut(request: FastifyRequest, reply: FastifyReply, session: ActiveSession): Promise<void> {
    await this.#store.deleteDashboardSession(hashToken(session.id));
    reply.header('set-cookie', sessionCookie(null, isHttps(request), 0, this.#cookieMode));
  }
}

/** HTTPS as the client sees it: the socket's, or a trusted proxy's `X-Forwarded-Proto` (`TRUST_PROXY`). */
function isHttps(request: FastifyRequest): boolean {
  return request.protocol === 'https';
}

/** Deletes every session expired at `now`, in batches (storage/pruner.ts); returns how many. */
export async function pruneDashboardSessions(
  store: Pick<Store, 'pruneDashboardSessions'>,
  now: Date = new Date(),
): Promise<number> {
  return pruneInBatches((limit) => store.pruneDashboardSessions(now, limit));
}

export type SessionPruner = Pruner;

/**
 * Prunes expired sessions now and then every hour (the timer never keeps the process alive). A
 * failed prune is reported to `onError` and tried again at the next interval.
 */
export function startSessionPruner(
  store: Pick<Store, 'pruneDashboardSessions'>,
  hooks: PrunerHooks = {},
  intervalMs: number = PRUNE_INTERVAL_MS,
): SessionPruner {
  return startPruner(() => pruneDashboardSessions(store), hooks, intervalMs);
}
