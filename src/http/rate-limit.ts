/**
 * Rate limits on authentication and on each partner's API use, counted by `@fastify/rate-limit` in
 * this process's memory: with several `serve` processes each one counts on its own, so the limits
 * are per process (N processes behind a balancer let through up to N times as much).
 *
 * - Failed authentications (a wrong or missing bearer token, a failed dashboard log-in) are counted per
 *   client address (IPv6 by /64) and per token prefix (`tokenPrefix` in auth.ts). Once an address or a
 *   prefix has had `authFailures` failures in a minute, every authentication under it is answered 429
 *   with `Retry-After` until the minute is over, a right token included: otherwise the answer would
 *   still tell a guesser when a guess is right. A right token costs nothing, and others' keys are
 *   untouched.
 * - Every authenticated API request of a partner counts against `partnerRequests` a minute; over it,
 *   429. The operator is not limited.
 *
 * A failure is counted once its token has been checked, so guesses already in flight when a key runs
 * out still get their answer: the first minute may let through up to as many more as a client keeps
 * in flight at once.
 *
 * The client address is `request.ip`: the socket's peer unless `TRUST_PROXY` says which proxies'
 * `X-Forwarded-For` to believe (see `buildApp`).
 */
import fastifyRateLimit, { normalizeIP } from '@fastify/rate-limit';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

export interface RateLimitSettings {
  /** Failed authentications a minute per client address and per token prefix; then 429. */
  authFailures: number;
  /** Authenticated API requests a minute per partner; 0 for no limit. */
  partnerRequests: number;
}

export const DEFAULT_RATE_LIMITS: RateLimitSettings = { authFailures: 20, partnerRequests: 6000 };

/** Both limits count over a fixed minute. */
const WINDOW_MS = 60_000;
/**
 * Keys each counter remembers (least recently used go first). Generous, so that an attacker rotating
 * through many addresses or prefixes cannot easily push a blocked key out; about 100 bytes each.
 */
const KEYS_KEPT = 100_000;

/** A request refused by a limit, and how long until it may try again. */
export class RateLimitedError extends Error {
  readonly retryAfterSeconds: number;
  constructor(message: string, retryAfterSeconds: number) {
    super(message);
    this.name = 'RateLimitedError';
    this.retryAfterSeconds = Math.max(1, retryAfterSeconds);
  }
}

/** The limits the auth hooks and the dashboard's log-in apply. */
export interface RateLimits {
  /**
   * Throws {@link RateLimitedError} when the request's address, or the prefix of the token it
   * presents (absent: none presented), is out of failures.
   */
  checkAuthFailures(request: FastifyRequest, prefix: string | undefined): Promise<void>;
  /** Counts one failed authentication against the request's address and the token's prefix. */
  recordAuthFailure(request: FastifyRequest, prefix: string | undefined): Promise<void>;
  /**
   * Counts one request of the partner (and says how many are left in `x-ratelimit-*` headers); throws
   * {@link RateLimitedError} over the limit.
   */
  countPartnerRequest(request: FastifyRequest, reply: FastifyReply, customerId: string): Promise<void>;
}

type Limiter = ReturnType<FastifyInstance['createRateLimit']>;

/**
 * Registers `@fastify/rate-limit` on the app (no route is limited by itself) and returns the limits,
 * checked by hand where the outcome is known: only after a token is checked is it a failure.
 *
 * @example
 * const limits = registerRateLimits(app, { authFailures: 20, partnerRequests: 6000 });
 * await limits.checkAuthFailures(request, tokenPrefix(token));
 */
export function registerRateLimits(app: FastifyInstance, settings: RateLimitSettings): RateLimits {
  app.register(fastifyRateLimit, { global: false });

  // The limiters' keys: the client address, a token's prefix, a partner. A prefix is passed to its
  // limiter through this map, since a key generator sees only the request.
  const prefixes = new WeakMap<FastifyRequest, string>();
  const partners = new WeakMap<FastifyRequest, string>();
  const common = { timeWindow: WINDOW_MS, cache: KEYS_KEPT };
  const options = {
    byAddress: {
      ...common,
      max: settings.authFailures,
      keyGenerator: (r: FastifyRequest) => normalizeIP(r.ip),
    },
    byPrefix: {
      ...common,
      max: settings.authFailures,
      keyGenerator: (r: FastifyRequest) => prefixes.get(r) ?? '',
    },
    byPartner: {
      ...common,
      max: settings.partnerRequests,
      keyGenerator: (r: FastifyRequest) => partners.get(r) ?? '',
    },
  };
  // Made on first use: the plugin's `createRateLimit` exists once the app has loaded it.
  const made: Partial<Record<keyof typeof options, Limiter>> = {};
  const limiter = (request: FastifyRequest, name: keyof typeof options): Limiter => {
    made[name] ??= request.server.createRateLimit(options[name]);
    return made[name];
  };

  /** Whether `key`'s failures are used up (a peek: it counts nothing); its seconds left if so. */
  const usedUp = async (request: FastifyRequest, name: 'byAddress' | 'byPrefix') => {
    const state = await limiter(request, name)(request, { increment: false });
    return !state.isAllowed && state.remaining === 0 ? state.ttlInSeconds : undefined;
  };

  return {
    async checkAuthFailures(request, prefix) {
      const address = await usedUp(request, 'byAddress');
      if (address !== undefined) {
        throw new RateLimitedError('Too many failed authentications from this address', address);
      }
      if (prefix === undefined) return;
      prefixes.set(request, prefix);
      const prefixWait = await usedUp(request, 'byPrefix');
      if (prefixWait !== undefined) {
        throw new RateLimitedError('Too many failed authentications with tokens like this one', prefixWait);
      }
    },

    async recordAuthFailure(request, prefix) {
      await limiter(request, 'byAddress')(request);
      if (prefix === undefined) return;
      prefixes.set(request, prefix);
      await limiter(request, 'byPrefix')(request);
    },

    async countPartnerRequest(request, reply, customerId) {
      if (settings.partnerRequests === 0) return;
      partners.set(request, customerId);
      const state = await limiter(request, 'byPartner')(request);
      if (state.isAllowed) return;
      reply.header('x-ratelimit-limit', state.max);
      reply.header('x-ratelimit-remaining', state.remaining);
      reply.header('x-ratelimit-reset', state.ttlInSeconds);
      if (state.isExceeded) {
        throw new RateLimitedError(
          `More than ${state.max} requests a minute from this partner`,
          state.ttlInSeconds,
        );
      }
    },
  };
}
