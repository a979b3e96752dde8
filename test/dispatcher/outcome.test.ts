import { describe, expect, it } from 'vitest';
import {
  type AttemptResult,
  classifyOutcome,
  parseRetryAfter,
} from '../../src/webhooks/dispatcher/outcome.js';

const result = (statusCode: number | null, extra: Partial<AttemptResult> = {}): AttemptResult => ({
  startedAt: new Date(),
  durationMs: 1,
  statusCode,
  errorKind: statusCode === null ? 'connection' : null,
  errorMessage: statusCode === null ? 'ECONNREFUSED' : null,
  responseExcerpt: null,
  retryAfterMs: null,
  ...extra,
});

describe('classifyOutcome', () => {
  it('2xx is delivered', () => {
    for (const s of [200, 201, 202, 204, 299]) expect(classifyOutcome(result(s)).kind).toBe('delivered');
  });
  it('400 is a permanent rejection and 410 means the endpoint is gone', () => {
    expect(classifyOutcome(result(400)).kind).toBe('rejected');
    expect(classifyOutcome(result(410)).kind).toBe('gone');
  });
  it('retries everything else; 429/502/503/504 slow the endpoint down', () => {
    for (const s of [301, 302, 307, 401, 403, 404, 408, 409, 422, 500, 501]) {
      expect(classifyOutcome(result(s))).toMatchObject({ kind: 'retry', slowDown: false });
    }
    for (const s of [429, 502, 503, 504]) {
      expect(classifyOutcome(result(s))).toMatchObject({ kind: 'retry', slowDown: true });
    }
    expect(classifyOutcome(result(null))).toMatchObject({ kind: 'retry', slowDown: false });
    expect(classifyOutcome(result(429, { retryAfterMs: 3000 }))).toMatchObject({ retryAfterMs: 3000 });
  });
});

describe('parseRetryAfter', () => {
  const now = new Date('2025-01-01T00:00:00Z');
  it('reads delay seconds and HTTP-dates', () => {
    expect(parseRetryAfter('120', now)).toBe(120_000);
    expect(parseRetryAfter('Wed, 01 Jan 2025 00:00:30 GMT', now)).toBe(30_000);
    expect(parseRetryAfter('Tue, 31 Dec 2024 00:00:00 GMT', now)).toBe(0);
  });
  it('ignores absent or unreadable values', () => {
    expect(parseRetryAfter(undefined, now)).toBeNull();
    expect(parseRetryAfter('soon', now)).toBeNull();
    expect(parseRetryAfter('-5', now)).toBeNull();
    expect(parseRetryAfter('2025-01-01', now)).toBeNull();
  });
});
