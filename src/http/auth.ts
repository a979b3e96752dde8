import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest, onRequestAsyncHookHandler } from 'fastify';
import type { Store } from '../storage/store.js';
import { HttpError } from './errors.js';

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
}

/** The hooks that guard the operator and partner routes. */
export interface Auth {
  /** Admin token only. */
  requireAdmin: onRequestAsyncHookHandler;
  /**
   * A partner's token bound to the route's `customer_id`, or the admin token. A partner asking for
   * another `customer_id` gets 404, as if it did not exist, so ids of other partners do not leak.
   */
  requirePartner: onRequestAsyncHookHandler;
}

const unauthorized = () => new HttpError('unauthorized', 'A valid bearer token is required');

/** Resolves a token to who holds it, or undefined when it is no valid token. */
export type ResolvePrincipal = (token: string) => Promise<Principal | undefined>;

/**
 * Who a token belongs to: the operator first, by its hash (from the options, else the store setting,
 * cached once found), compared in constant time; then a partner, by the hash as lookup key (unique
 * index, so no secret is compared byte by byte). Used by the API's hooks and the dashboard's sessions.
 */
export function createPrincipalResolver(store: Store, adminTokenHash: string | undefined): ResolvePrincipal {
  let cachedAdminHash = adminTokenHash;
  return async (token) => {
    if (token.length === 0 || token.length > 512) return undefined;
    const tokenHash = hashToken(token);
    cachedAdminHash ??= await store.getSetting(ADMIN_TOKEN_SETTING);
    if (cachedAdminHash !== undefined && sameHash(tokenHash, cachedAdminHash)) return { kind: 'admin' };
    const partner = await store.findPartnerByTokenHash(tokenHash);
    return partner ? { kind: 'partner', customerId: partner.customerId } : undefined;
  };
}

/** Builds the auth hooks on `createPrincipalResolver`. */
export function createAuth({ store, adminTokenHash }: AuthOptions): Auth {
  const resolve = createPrincipalResolver(store, adminTokenHash);

  return {
    async requireAdmin(request) {
      const token = bearerToken(request);
      const principal = token === undefined ? undefined : await resolve(token);
      if (principal?.kind !== 'admin') throw unauthorized();
      request.principal = principal;
    },

    async requirePartner(request) {
      const token = bearerToken(request);
      const { customer_id: customerId } = request.params as { customer_id?: string };
      if (customerId === undefined) throw new Error('requirePartner on a route without :customer_id');
      const principal = token === undefined ? undefined : await resolve(token);
      if (principal === undefined) throw unauthorized();
      if (principal.kind === 'admin') {
        // The operator sees every partner, but only partners that exist.
        if (!(await store.getPartner(customerId))) throw partnerNotFound();
      } else if (principal.customerId !== customerId) {
        throw partnerNotFound();
      }
      request.principal = principal;
    },
  };
}

function partnerNotFound(): HttpError {
  return new HttpError('not_found', 'No such customer');
}
