import { describe, expect, it } from 'vitest';
import {
  createRetryPolicy,
  DEFAULT_RETRY_SCHEDULE_MS,
  parseDuration,
  parseRetrySchedule,
} from '../../src/webhooks/dispatcher/retry-policy.js';

describe('RetryPolicy', () => {
  it('follows the Standard Webhooks schedule for about three days, then gives up', () => {
    const policy = createRetryPolicy({ jitter: 'none' });
    const total = DEFAULT_RETRY_SCHEDULE_MS.reduce((a, b) => a + b, 0);
    expect(total / 3_600_000).toBeGreaterThan(60);
    expect(total / 3_600_000).toBeLessThan(80);
    expect(policy.next(1)).toEqual({ retry: true, delayMs: 5000 });
    expect(policy.next(2)).toEqual({ retry: true, delayMs: 300_000 });
    expect(policy.next(DEFAULT_RETRY_SCHEDULE_MS.length + 1)).toEqual({ retry: false });
  });

  it('applies full jitter: a uniform pick between zero and the scheduled delay', () => {
    expect(createRetryPolicy({ random: () => 0 }).next(2)).toEqual({ retry: true, delayMs: 0 });
    expect(createRetryPolicy({ random: () => 0.5 }).next(2)).toEqual({ retry: true, delayMs: 150_000 });
    const policy = createRetryPolicy();
    for (let i = 0; i < 100; i++) {
      const d = policy.next(3);
      expect(d.retry && d.delayMs >= 0 && d.delayMs < 30 * 60_000).toBe(true);
    }
  });

  it('treats Retry-After as a floor, capped', () => {
    const policy = createRetryPolicy({ schedule: [1000], jitter: 'none', retryAfterCapMs: 60_000 });
    expect(policy.next(1, 5000)).toEqual({ retry: true, delayMs: 5000 });
    expect(policy.next(1, 500)).toEqual({ retry: true, delayMs: 1000 });
    expect(policy.next(1, 86_400_000)).toEqual({ retry: true, delayMs: 60_000 });
  });

  it('parses RETRY_SCHEDULE', () => {
    expect(parseRetrySchedule('1s,1s,2s')).toEqual([1000, 1000, 2000]);
    expect(parseRetrySchedule(' 500ms , 5m, 2h, 1d, 3 ')).toEqual([
      500, 300_000, 7_200_000, 86_400_000, 3000,
    ]);
    expect(parseRetrySchedule('')).toEqual([]);
    expect(() => parseRetrySchedule('1s,soon')).toThrow(/soon/);
    expect(parseDuration('1.5s')).toBe(1500);
    expect(parseDuration('-1s')).toBeUndefined();
  });
});
