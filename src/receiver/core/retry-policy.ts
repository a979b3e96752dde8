/** How often, and how far apart, a throwing handler is tried again. */
export interface RetryPolicy {
  /** Total attempts including the first; after that the inbox row is marked `failed`. Default 10. */
  maxAttempts: number;
  /** Delay before the second attempt. Default 1 s. */
  initialDelayMs: number;
  /** Upper bound of one delay. Default 1 h. */
  maxDelayMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  maxAttempts: 10,
  initialDelayMs: 1000,
  maxDelayMs: 3_600_000,
};

/**
 * When to retry after `attempts` failed attempts (1 after the first failure), or null to give up.
 * Exponential with "equal jitter" (half fixed, half random) so that a burst of failures caused by one
 * outage does not retry in lockstep.
 */
export function nextAttemptAt(
  policy: RetryPolicy,
  attempts: number,
  now: number,
  random: () => number = Math.random,
): number | null {
  if (attempts >= policy.maxAttempts) return null;
  const ceiling = Math.min(policy.maxDelayMs, policy.initialDelayMs * 2 ** (attempts - 1));
  return now + Math.round(ceiling / 2 + (random() * ceiling) / 2);
}
