/**
 * The text forms a setting (or a command-line argument) can take: each is a zod schema from the text
 * of a flag or an environment variable to the value. Every error reads `expected …`, so that a wrong
 * value becomes one line naming what would have been right.
 */
import ipaddr from 'ipaddr.js';
import { z } from 'zod';
import { parseSecret } from '../signing/index.js';
import { parseDatabaseUrl } from '../storage/index.js';
import { parseDuration, parseRetrySchedule } from '../webhooks/dispatcher/retry-policy.js';

/** A schema from the text of a flag or an environment variable to a value. */
export type TextSchema<T = unknown> = z.ZodType<T, string>;

const expected = (what: string) => ({ error: `expected ${what}` });

/**
 * An integer from `min` to `max`.
 *
 * @example integer(1, 64).parse('8') // 8
 */
export function integer(min: number, max: number, what = `an integer from ${min} to ${max}`) {
  const e = expected(what);
  return z
    .string()
    .trim()
    .regex(/^-?\d{1,16}$/, e)
    .transform(Number)
    .pipe(z.number().int(e).min(min, e).max(max, e));
}

/** A TCP port; 0 asks for any free one. */
export const port = integer(0, 65535, 'a port number from 0 to 65535');

/**
 * A duration such as `500ms`, `15s`, `5m`, `2h` or `5d` (a bare number is seconds), in milliseconds,
 * from `min` to `max` (themselves durations).
 *
 * @example duration('1ms', '10m').parse('15s') // 15000
 */
export function duration(min: string, max: string) {
  const e = expected(`a duration such as 500ms, 15s or 5m, from ${min} to ${max}`);
  return z
    .string()
    .transform((text) => parseDuration(text) ?? Number.NaN)
    .pipe(
      z
        .number(e)
        .min(parseDuration(min) ?? 0, e)
        .max(parseDuration(max) ?? 0, e),
    );
}

/** `true`/`false`, also `1`/`0` and `yes`/`no`, in any case. */
export const boolean = z
  .string()
  .trim()
  .pipe(
    z.stringbool({
      truthy: ['true', '1', 'yes'],
      falsy: ['false', '0', 'no'],
      ...expected('true or false (or 1 or 0)'),
    }),
  );

/**
 * One word of `values`, in any case; the value is spelled as in `values`.
 *
 * @example oneOf(['full', 'none']).parse('FULL') // 'full'
 */
export function oneOf<const V extends string>(values: readonly [V, ...V[]]) {
  const words = values.length === 2 ? values.join(' or ') : `one of ${values.join(', ')}`;
  return z.string().transform((text, ctx): V => {
    const found = values.find((v) => v.toLowerCase() === text.trim().toLowerCase());
    if (found !== undefined) return found;
    ctx.addIssue({ code: 'custom', message: `expected ${words}` });
    return z.NEVER;
  });
}

/** Names proxy-addr gives to address ranges, accepted in a trusted-proxy list. */
const PROXY_RANGE_NAMES = ['loopback', 'linklocal', 'uniquelocal'];

/**
 * Which proxies to believe: `false` (none), `true` (every peer), a hop count, or a comma list of
 * addresses, CIDR networks and the names loopback, linklocal, uniquelocal.
 *
 * @example trustProxy.parse('10.0.0.0/8, loopback') // ['10.0.0.0/8', 'loopback']
 */
export const trustProxy = z.string().transform((raw, ctx): boolean | number | string[] => {
  const text = raw.trim().toLowerCase();
  if (text === 'false' || text === '0' || text === 'no') return false;
  if (text === 'true' || text === 'yes') return true;
  if (/^\d{1,2}$/.test(text)) return Number(text);
  const list = text.split(',').map((s) => s.trim());
  const valid = (s: string) =>
    PROXY_RANGE_NAMES.includes(s) ||
    ipaddr.IPv4.isValidFourPartDecimal(s) ||
    ipaddr.IPv4.isValidCIDRFourPartDecimal(s) ||
    ipaddr.IPv6.isValid(s) ||
    ipaddr.IPv6.isValidCIDR(s);
  if (list.length > 0 && list.every(valid)) return list;
  ctx.addIssue({
    code: 'custom',
    message:
      'expected false, true, a hop count, or a comma list of addresses, CIDR networks, loopback, linklocal or uniquelocal',
  });
  return z.NEVER;
});

/** Any text that is not blank, trimmed; `what` names it in the error. */
export function text(what: string) {
  return z.string().trim().min(1, expected(what));
}

/** An absolute `http://` or `https://` URL, without a trailing slash. */
export const httpUrl = z
  .string()
  .trim()
  .pipe(
    z.url({ protocol: /^https?$/, ...expected('an http:// or https:// URL such as http://127.0.0.1:3000') }),
  )
  .transform((url) => new URL(url).href.replace(/\/$/, ''));

/** Where the service keeps its data, as the storage reads it (`parseDatabaseUrl`). */
export const databaseUrl = z
  .string()
  .trim()
  .superRefine((url, ctx) => {
    if (!/^(sqlite:|postgres(ql)?:\/\/)./.test(url)) {
      ctx.addIssue({
        code: 'custom',
        message:
          'expected sqlite:PATH (e.g. sqlite:./data/tpcs.db), sqlite::memory: or postgres://user@host:5432/db',
      });
      return;
    }
    try {
      parseDatabaseUrl(url);
    } catch (error) {
      ctx.addIssue({ code: 'custom', message: (error as Error).message });
    }
  });

/** The shortest operator token accepted: shorter ones are guessable. */
export const MIN_ADMIN_TOKEN_LENGTH = 16;

/** The operator's bearer token. */
export const adminToken = z
  .string()
  .trim()
  .regex(
    new RegExp(`^\\S{${MIN_ADMIN_TOKEN_LENGTH},}$`),
    expected(`at least ${MIN_ADMIN_TOKEN_LENGTH} characters without spaces`),
  );

/** One `whsec_…` signing secret, checked now so that a typo is a usage error, not a failed signature. */
export const secret = z
  .string()
  .trim()
  .superRefine((value, ctx) => {
    try {
      parseSecret(value);
    } catch (error) {
      ctx.addIssue({ code: 'custom', message: `expected a whsec_… secret (${(error as Error).message})` });
    }
  });

/**
 * Several secrets, comma-separated (a rotation: the old one and the new one). An empty one is refused,
 * not dropped: `"$OLD,$NEW"` with a variable unset must not quietly lose a secret.
 */
export const secretList = (() => {
  const e = expected('one or more whsec_… secrets, comma-separated');
  return z
    .string()
    .transform((list) => list.split(',').map((s) => s.trim()))
    .pipe(z.array(z.string().min(1, e).pipe(secret)).min(1, e));
})();

/** The retry schedule's limits: a longer list or a longer delay is a typo. */
const MAX_RETRIES = 100;
const MAX_RETRY_DELAY = '7d';

/** A comma list of delays before each retry, in milliseconds (the dispatcher's own format). */
export const retrySchedule = (() => {
  const e = expected(
    `a comma list of 1 to ${MAX_RETRIES} durations from 1ms to ${MAX_RETRY_DELAY}, such as 1s,5m,2h`,
  );
  const delay = z
    .number(e)
    .min(1, e)
    .max(parseDuration(MAX_RETRY_DELAY) ?? 0, e);
  return z
    .string()
    .transform((list) => {
      try {
        return parseRetrySchedule(list);
      } catch {
        return [Number.NaN];
      }
    })
    .pipe(z.array(delay).min(1, e).max(MAX_RETRIES, e));
})();

/**
 * A point in time: ISO 8601 (`2025-01-31T10:00:00Z`), unix seconds, or a duration ago (`90m`, `2h`,
 * `3d`), read when the text is parsed.
 */
export const pointInTime = z.string().transform((raw, ctx) => {
  const text = raw.trim();
  const ago = /^(\d{1,9})(s|m|h|d)$/.exec(text);
  if (ago) return new Date(Date.now() - (parseDuration(text) ?? 0));
  if (/^\d{9,11}$/.test(text)) return new Date(Number(text) * 1000);
  const date = /^\d{4}-\d{2}-\d{2}/.test(text) ? new Date(text) : new Date(Number.NaN);
  if (Number.isNaN(date.getTime())) {
    ctx.addIssue({
      code: 'custom',
      message:
        'expected an ISO 8601 time (2025-01-31T10:00:00Z), unix seconds, or a duration ago (90m, 2h, 3d)',
    });
    return z.NEVER;
  }
  return date;
});
