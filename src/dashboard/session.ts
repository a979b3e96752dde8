/**
 * Dashboard sessions, kept server-side. Logging in with a token (the operator's or a partner's) makes
 * a random session id; the HttpOnly, SameSite=Strict cookie holds that id and the store only its
 * SHA-256 (as for tokens), with who it is for, the hash of the token that logged in, and when it
 * expires. A session ends when it expires, at log-out (its row is deleted, so the old cookie value is
 * worth nothing), when the partner's token is reset, and when the operator token changes: a session is
 * valid only while the token that made it is still its holder's.
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
 * The Set-Cookie value that holds (or, with `sessionId` null, clears) the session for `maxAgeSeconds`.
 * `Secure` when the request came over HTTPS (directly, or as a trusted proxy's `X-Forwarded-Proto`
 * says): the service also runs on plain HTTP on a developer's machine.
 */
export function sessionCookie(sessionId: string | null, secure: boolean, maxAgeSeconds = 0): string {
  const attrs = ['Path=/dashboard', 'HttpOnly', 'SameSite=Strict', ...(secure ? ['Secure'] : [])];
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

  constructor(store: Store, auth: Auth, ttlMs: number = DEFAULT_SESSION_TTL_MS) {
    this.#store = store;
    this.#auth = auth;
    this.#ttlMs = ttlMs;
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
    const id = newSessionId();
    const now = new Date();
    await this.#store.createDashboardSession(hashToken(id), {
      customerId: found.principal.kind === 'partner' ? found.principal.customerId : null,
      tokenHash: found.tokenHash,
      createdAt: now,
      expiresAt: new Date(now.getTime() + this.#ttlMs),
    });
    reply.header('set-cookie', sessionCookie(id, isHttps(request), Math.floor(this.#ttlMs / 1000)));
    return { outcome: 'logged_in', session: { id, principal: found.principal } };
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
    reply.header('set-cookie', sessionCookie(null, isHttps(request)));
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
