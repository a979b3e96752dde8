import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest, onRequestAsyncHookHandler } from 'fastify';
import type { Store } from '../storage/store.js';
import { HttpError } from './errors.js';
import { RateLimitedError, type RateLimits } from './rate-limit.js';

/** The store setting that holds the SHA-256 hash of the operator (admin) token. */
export const ADMIN_TOKEN_SETTING = 'admin_token_hash';

/** Token prefixes: say what a leaked token is at a glance (and let secret scanners find them). */
export const TOKEN_PREFIX = { admin: 'tpcs_adm_', partner: 'tpcs_pk_' } as const;

/**
 * A new random bearer token: the prefix then 32 random bytes in base64url.
 *
 * @example
 * generateToken('partner'); // 'tpcs_pk_Yk3…'
 */
export function generateToken(kind: keyof typeof TOKEN_PREFIX): string {
  return TOKEN_PREFIX[kind] + randomBytes(32).toString('base64url');
}

/** Random characters after the kind prefix that {@link tokenPrefix} keeps. */
const PREFIX_CHARS = 4;

/**
 * The non-secret start of a token: its kind prefix (`tpcs_pk_`, `tpcs_adm_`) and the first four of its
 * 43 random characters (24 of its 256 bits), as much as a log line or a screen may show of it. A token
 * without our prefix (an operator's own `ADMIN_TOKEN`) gives its first four characters. Failed
 * authentications are counted per prefix too, so that guesses at one token from many addresses are
 * limited (rate-limit.ts).
 *
 * @example
 * tokenPrefix('tpcs_pk_Yk3aQ…'); // 'tpcs_pk_Yk3a'
 */
export function tokenPrefix(token: string): string {
  const kind = Object.values(TOKEN_PREFIX).find((p) => token.startsWith(p)) ?? '';
  return token.slice(0, kind.length + PREFIX_CHARS);
}

/** The hex SHA-256 of a token: what is stored and looked up, never the token itself. */
export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** Who is calling: the operator, or one partner (bound to its `customer_id`). */
export type Principal = { kind: 'admin' } | { kind: 'partner'; customerId: string };

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the auth hooks on protected routes. */
    principal?: Principal;
  }
}

/** The bearer token of a request, or undefined when there is none. */
function bearerToken(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (typeof header !== 'string') return undefined;
  const match = /^Bearer[ \t]+(\S{1,512})[ \t]*$/i.exec(header);
  return match?.[1];
}

function sameHash(aHex: string, bHex: string): boolean {
  const a = Buffer.from(aHex, 'hex');
  const b = Buffer.from(bHex, 'hex');
  return a.length === b.length && a.length > 0 && timingSafeEqual(a, b);
}

export interface AuthOptions {
  store: Store;
  /** The admin token's hash; when absent it is read from the store's settings (and cached once found). */
  adminTokenHash?: string | undefined;
  /** The failed-authentication and per-partner limits (rate-limit.ts). */
  limits: RateLimits;
}

/** A token that checked out: who holds it, and its hash (what a dashboard session is bound to). */
export interface Authenticated {
  principal: Principal;
  tokenHash: string;
}

/** The hooks that guard the operator and partner routes, and the token check they share with the dashboard. */
export interface Auth {
  /** Admin token only. */
  requireAdmin: onRequestAsyncHookHandler;
  /**
   * A partner's token bound to the route's `customer_id`, or the admin token. A partner asking for
   * another `customer_id` gets 404, as if it did not exist, so ids of other partners do not leak.
   */
  requirePartner: onRequestAsyncHookHandler;
  /**
   * Who a token belongs to (undefined: nobody, or no token), under the failed-authentication limits: a
   * failure is counted against the request's address and the token's prefix, and once either is used
   * up this throws {@link RateLimitedError} without looking at the token. The dashboard's log-in uses it.
   */
  authenticate(request: FastifyRequest, token: string | undefined): Promise<Authenticated | undefined>;
  /** Whether `tokenHash` is the operator token's hash now (an operator session holds only while it is). */
  isAdminTokenHash(tokenHash: string): Promise<boolean>;
}

const unauthorized = () => new HttpError('unauthorized', 'A valid bearer token is required');

/** Checks tokens: who holds one, by its hash. */
interface TokenResolver {
  resolve(token: string): Promise<Authenticated | undefined>;
  isAdminTokenHash(tokenHash: string): Promise<boolean>;
}

/**
 * Who a token belongs to: the operator first, by its hash (from the options, else the store setting,
 * cached once found), compared in constant time; then a partner, by the hash as lookup key (unique
 * index, so no secret is compared byte by byte).
 */
function createTokenResolver(store: Store, adminTokenHash: string | undefined): TokenResolver {
  let cachedAdminHash = adminTokenHash;
  const isAdminTokenHash = async (tokenHash: string) => {
    cachedAdminHash ??= await store.getSetting(ADMIN_TOKEN_SETTING);
    return cachedAdminHash !== undefined && sameHash(tokenHash, cachedAdminHash);
  };
  return {
    isAdminTokenHash,
    async resolve(token) {
      if (token.length === 0 || token.length > 512) return undefined;
      const tokenHash = hashToken(token);
      if (await isAdminTokenHash(tokenHash)) return { principal: { kind: 'admin' }, tokenHash };
      const partner = await store.findPartnerByTokenHash(tokenHash);
      return partner
        ? { principal: { kind: 'partner', customerId: partner.customerId }, tokenHash }
        : undefined;
    },
  };
}

/** A {@link RateLimitedError} as the API's 429 (`Retry-After` from `details.retry_after_seconds`). */
function asHttpError(err: unknown): unknown {
  if (!(err instanceof RateLimitedError)) return err;
  return new HttpError('rate_limited', `${err.message}; retry in ${err.retryAfterSeconds} s`, {
    retry_after_seconds: err.retryAfterSeconds,
  });
}

/** Builds the auth hooks: the bearer token, checked under the failed-authentication limits. */
export function createAuth({ store, adminTokenHash, limits }: AuthOptions): Auth {
  const tokens = createTokenResolver(store, adminTokenHash);

  const authenticate: Auth['authenticate'] = async (request, token) => {
    const prefix = token === undefined ? undefined : tokenPrefix(token);
    await limits.checkAuthFailures(request, prefix);
    const found = token === undefined ? undefined : await tokens.resolve(token);
    if (!found) await limits.recordAuthFailure(request, prefix);
    return found;
  };

  /** The request's principal from its bearer header; 401 when there is none, 429 when limited. */
  const principalOf = async (request: FastifyRequest): Promise<Principal> => {
    const found = await authenticate(request, bearerToken(request)).catch((err: unknown) => {
      throw asHttpError(err);
    });
    if (!found) throw unauthorized();
    return found.principal;
  };

  return {
    authenticate,
    isAdminTokenHash: tokens.isAdminTokenHash,

    async requireAdmin(request) {
      const principal = await principalOf(request);
      if (principal.kind !== 'admin') throw unauthorized();
      request.principal = principal;
    },

    async requirePartner(request, reply) {
      const { customer_id: customerId } = request.params as { customer_id?: string };
      if (customerId === undefined) throw new Error('requirePartner on a route without :customer_id');
      const principal = await principalOf(request);
      if (principal.kind === 'admin') {
        // The operator sees every partner, but only partners that exist.
        if (!(await store.getPartner(customerId))) throw partnerNotFound();
      } else {
        await limits.countPartnerRequest(request, reply, principal.customerId).catch((err: unknown) => {
          throw asHttpError(err);
        });
        if (principal.customerId !== customerId) throw partnerNotFound();
      }
      request.principal = principal;
    },
  };
}

function partnerNotFound(): HttpError {
  return new HttpError('not_found', 'No such customer');
}
