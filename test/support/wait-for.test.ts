import { afterEach, describe, expect, it, vi } from 'vitest';
import { waitFor } from './wait-for.js';

afterEach(() => {
  vi.useRealTimers();
});

describe('waitFor', () => {
  it('resolves with the first truthy value, checking at once', async () => {
    let calls = 0;
    expect(await waitFor(() => ++calls)).toBe(1);
    let n = 0;
    expect(await waitFor(async () => (++n >= 3 ? { n } : undefined), { interval: 1 })).toEqual({ n: 3 });
  });

  it('retries a check that throws, and names what it waited for with the last error as cause', async () => {
    let thrown: unknown;
    try {
      await waitFor(
        () => {
          throw new Error('not yet');
        },
        { timeout: 30, interval: 5, what: () => 'the delivery' },
      );
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(Error);
    expect((thrown as Error).message).toMatch(
      /^timed out after \d+ ms waiting for the delivery \(last check threw: not yet\)$/,
    );
    expect(((thrown as Error).cause as Error).message).toBe('not yet');
    await expect(waitFor(() => 0, { timeout: 10, interval: 5 })).rejects.toThrow(
      /waiting for a condition \(last check returned 0\)/,
    );
  });

  it('keeps real time under fake timers (faked ones would never fire: the test would hang)', async () => {
    vi.useFakeTimers();
    let n = 0;
    await expect(waitFor(() => ++n >= 3, { timeout: 1000, interval: 5 })).resolves.toBe(true);
  });
});
