/**
 * What one attempt's result means for the delivery and for its endpoint.
 *
 * - 2xx: delivered.
 * - 400: the seed's "invalid payload": permanent, not retried, replayable once the receiver is fixed.
 * - 410: the endpoint is gone: the delivery fails and the endpoint is disabled.
 * - Everything else (3xx, 401, 404, 408, 429, 5xx, timeouts, connection and TLS errors) is retried,
 *   because a fix on the receiver's side makes the same bytes succeed.
 * - 429, 502, 503, 504 also slow the endpoint down; `Retry-After` is honoured (capped by the policy).
 */

/** Why an attempt got no HTTP status. */
export type AttemptErrorKind =
  | 'timeout'
  | 'connection'
  | 'dns'
  | 'tls'
  | 'private_address'
  | 'invalid_url'
  | 'other';

/** The raw result of one POST, as the sender saw it. */
export interface AttemptResult {
  startedAt: Date;
  durationMs: number;
  /** null when no response arrived. */
  statusCode: number | null;
  /** Set when statusCode is null. */
  errorKind: AttemptErrorKind | null;
  /** Human-readable detail of the error, for the attempt log. */
  errorMessage: string | null;
  /** The first 4 KiB of the response body, decoded as UTF-8. */
  responseExcerpt: string | null;
  /** The `Retry-After` header converted to milliseconds from now, when present and valid. */
  retryAfterMs: number | null;
}

export type Outcome =
  | { kind: 'delivered' }
  | { kind: 'rejected'; reason: string }
  | { kind: 'gone'; reason: string }
  | { kind: 'retry'; reason: string; slowDown: boolean; retryAfterMs: number | null };

const SLOW_DOWN_STATUSES = new Set([429, 502, 503, 504]);

/**
 * Classifies an attempt.
 *
 * @example
 * classifyOutcome({ statusCode: 503, retryAfterMs: 2000, … })
 * // { kind: 'retry', reason: 'HTTP 503', slowDown: true, retryAfterMs: 2000 }
 */
export function classifyOutcome(result: AttemptResult): Outcome {
  const status = result.statusCode;
  if (status === null) {
    return {
      kind: 'retry',
      reason: `${result.errorKind ?? 'other'}: ${result.errorMessage ?? 'no response'}`,
      slowDown: false,
      retryAfterMs: null,
    };
  }
  if (status >= 200 && status < 300) return { kind: 'delivered' };
  if (status === 400)
    return { kind: 'rejected', reason: 'HTTP 400: the receiver says the payload is invalid' };
  if (status === 410) return { kind: 'gone', reason: 'HTTP 410: the receiver says this endpoint is gone' };
  return {
    kind: 'retry',
    reason: `HTTP ${status}`,
    slowDown: SLOW_DOWN_STATUSES.has(status),
    retryAfterMs: result.retryAfterMs,
  };
}

/**
 * Parses `Retry-After`: delay seconds or an HTTP-date. Returns milliseconds from `now`, or null
 * when absent or unreadable. A date in the past means "now" (0).
 *
 * @example parseRetryAfter('120', new Date()) // 120000
 */
export function parseRetryAfter(value: string | string[] | undefined, now: Date): number | null {
  const text = Array.isArray(value) ? value[0] : value;
  if (text === undefined) return null;
  const trimmed = text.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  // An HTTP-date always names a weekday and GMT; anything else Date.parse might accept is not one.
  if (!/GMT$/.test(trimmed)) return null;
  const at = Date.parse(trimmed);
  if (Number.isNaN(at)) return null;
  return Math.max(0, at - now.getTime());
}
