/**
 * When to try a delivery again, and when to give up.
 *
 * The default schedule follows Standard Webhooks / Svix: the first attempt goes out immediately,
 * then retries after 5 s, 5 min, 30 min, 2 h, 5 h and every 10 h, about three days in all. Each
 * delay gets full jitter (a uniform pick between zero and the delay) so that a recovering endpoint
 * is not hit by every queued delivery in the same second.
 */

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;

/** Delays before retry 1, 2, 3…: 5 s, 5 min, 30 min, 2 h, 5 h, then 10 h six times (~2.8 days). */
export const DEFAULT_RETRY_SCHEDULE_MS: readonly number[] = [
  5 * SECOND,
  5 * MINUTE,
  30 * MINUTE,
  2 * HOUR,
  5 * HOUR,
  10 * HOUR,
  10 * HOUR,
  10 * HOUR,
  10 * HOUR,
  10 * HOUR,
  10 * HOUR,
];

/** Upper bound on a receiver's `Retry-After`, so that one header cannot park a delivery for days. */
export const DEFAULT_RETRY_AFTER_CAP_MS = HOUR;

export type Jitter = 'full' | 'none';

export interface RetryPolicyOptions {
  /** Delays (ms) before each retry; its length is the number of retries. */
  schedule?: readonly number[];
  jitter?: Jitter;
  retryAfterCapMs?: number;
  /** Injected for tests; defaults to Math.random. */
  random?: () => number;
}

/** What to do after a failed attempt: wait `delayMs` and try again, or give up. */
export type RetryDecision = { retry: true; delayMs: number } | { retry: false };

export interface RetryPolicy {
  readonly schedule: readonly number[];
  readonly retryAfterCapMs: number;
  /**
   * Decides after the `attemptCount`-th attempt (1 for the first) failed with a retryable outcome,
   * counted within the delivery's current retry round (a recover starts a new one).
   * `retryAfterMs` is the receiver's `Retry-After`; it is a floor, capped at `retryAfterCapMs`.
   */
  next(attemptCount: number, retryAfterMs?: number): RetryDecision;
}

/**
 * Creates the policy.
 *
 * @example
 * const policy = createRetryPolicy({ schedule: parseRetrySchedule('1s,2s'), jitter: 'none' });
 * policy.next(1); // { retry: true, delayMs: 1000 }
 * policy.next(3); // { retry: false }
 */
export function createRetryPolicy(options: RetryPolicyOptions = {}): RetryPolicy {
  const schedule = options.schedule ?? DEFAULT_RETRY_SCHEDULE_MS;
  const jitter = options.jitter ?? 'full';
  const retryAfterCapMs = options.retryAfterCapMs ?? DEFAULT_RETRY_AFTER_CAP_MS;
  const random = options.random ?? Math.random;
  return {
    schedule,
    retryAfterCapMs,
    next(attemptCount, retryAfterMs) {
      const base = schedule[attemptCount - 1];
      if (base === undefined) return { retry: false };
      const jittered = jitter === 'full' ? Math.floor(random() * base) : base;
      const floor = retryAfterMs === undefined ? 0 : Math.min(Math.max(retryAfterMs, 0), retryAfterCapMs);
      return { retry: true, delayMs: Math.max(jittered, floor) };
    },
  };
}

const UNIT_MS: Record<string, number> = { ms: 1, s: SECOND, m: MINUTE, h: HOUR, d: 24 * HOUR };

/**
 * Parses a duration such as `500ms`, `5s`, `5m`, `2h`, `1d` (a bare number is seconds).
 * Returns undefined when the text is not a duration.
 *
 * @example parseDuration('5m') // 300000
 */
export function parseDuration(text: string): number | undefined {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/i.exec(text);
  if (!match?.[1]) return undefined;
  const unit = UNIT_MS[(match[2] ?? 's').toLowerCase()];
  if (unit === undefined) return undefined;
  return Math.round(Number(match[1]) * unit);
}

/**
 * Parses `RETRY_SCHEDULE`, a comma list of durations (`1s,1s,2s`). Throws on a bad entry, since a
 * typo in an operator's setting should stop the process rather than silently change retries.
 *
 * @example parseRetrySchedule('1s, 5m') // [1000, 300000]
 */
export function parseRetrySchedule(text: string): number[] {
  const trimmed = text.trim();
  if (trimmed === '') return [];
  return trimmed.split(',').map((part) => {
    const ms = parseDuration(part);
    if (ms === undefined)
      throw new Error(`RETRY_SCHEDULE: "${part.trim()}" is not a duration (e.g. 5s, 5m, 2h)`);
    return ms;
  });
}
