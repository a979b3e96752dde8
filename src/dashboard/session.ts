/**
 * Dashboard sessions: the bearer token itself, kept in an HttpOnly, SameSite=Strict cookie and checked
 * on every request the way the API checks its bearer header (by SHA-256 hash: constant-time against
 * the operator's, a unique-index lookup for partners). Nothing is stored server-side, so a token that
 * is rotated or a partner that is removed logs the session out at once.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';

/** The session cookie's name. */
export const SESSION_COOKIE = 'tpcs_dashboard';

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
 * The Set-Cookie value that holds (or, with `token` null, clears) the session. `Secure` when the
 * request came over HTTPS: the service also runs on plain HTTP on a developer's machine.
 */
export function sessionCookie(token: string | null, secure: boolean): string {
  const attrs = ['Path=/dashboard', 'HttpOnly', 'SameSite=Strict', ...(secure ? ['Secure'] : [])];
  if (token === null) return [`${SESSION_COOKIE}=`, 'Max-Age=0', ...attrs].join('; ');
  // a working day: the token stays valid, only the browser forgets it
  return [`${SESSION_COOKIE}=${encodeURIComponent(token)}`, 'Max-Age=43200', ...attrs].join('; ');
}

/** The token check is the API's own (one place decides who a token belongs to). */
export { createPrincipalResolver, type ResolvePrincipal } from '../http/auth.js';

/**
 * The CSRF token of a session: an HMAC of a fixed label keyed by the session token, so it needs no
 * server state, differs per session, and cannot be computed by a page that cannot read the cookie.
 */
export function csrfToken(sessionToken: string): string {
  return createHmac('sha256', sessionToken).update('tpcs-dashboard-csrf-v1').digest('base64url');
}

/** Whether a submitted CSRF token is the session's (constant-time). */
export function validCsrf(sessionToken: string, submitted: unknown): boolean {
  if (typeof submitted !== 'string') return false;
  const expected = Buffer.from(csrfToken(sessionToken));
  const given = Buffer.from(submitted);
  return expected.length === given.length && timingSafeEqual(expected, given);
}
