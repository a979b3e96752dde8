/**
 * The one polling helper for tests. Prefer being told over polling: a process's output (`Daemon.waitFor`
 * in test/cli/processes.ts listens for it), a promise the component returns (`dispatcher.idle()`). Poll
 * only what nothing announces: a row reaching a state, a request reaching a sink.
 *
 * For a value checked with a matcher, vitest's `expect.poll(() => value, { timeout }).toEqual(…)` says
 * the same thing and shows the last value on failure; use this helper when the wait is a condition the
 * test then builds on (it returns the condition's value).
 */
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';

export interface WaitOptions {
  /**
   * Give up after this many ms (default 10 s). A bound for a broken run, never a speed check: make it
   * generous, and let a benchmark judge speed.
   */
  timeout?: number;
  /** Time between checks, in ms (default 20). */
  interval?: number;
  /** What is awaited, for the error: `'delivery of evt_1'`; a function is called on timeout (process output). */
  what?: string | (() => string);
}

type Truthy<T> = Exclude<T, false | 0 | '' | null | undefined>;

/**
 * Resolves with the first truthy value `check` returns, checking at once and then every `interval` ms.
 * A check that throws is retried like a falsy one; on timeout the error names `what`, the time waited
 * and the last result, with the last thrown error as its cause.
 *
 * Real timers and a monotonic clock: unaffected by `vi.useFakeTimers()` faking `setTimeout` and `Date`.
 *
 * @example
 * await waitFor(() => sink.received.some((r) => r.headers['webhook-id'] === id), { what: 'the delivery' });
 * const delivery = await waitFor(async () => (await deliveries(partner, ep)).find((d) => d.status === 'failed'), {
 *   timeout: 15_000,
 *   what: 'a failed delivery',
 * });
 */
export async function waitFor<T>(check: () => T | Promise<T>, options: WaitOptions = {}): Promise<Truthy<T>> {
  const { timeout = 10_000, interval = 20, what = 'a condition' } = options;
  const started = performance.now();
  for (;;) {
    let last: { value: T } | { error: unknown };
    try {
      const value = await check();
      if (value) return value as Truthy<T>;
      last = { value };
    } catch (error) {
      last = { error };
    }
    const waited = performance.now() - started;
    if (waited >= timeout) {
      const subject = typeof what === 'function' ? what() : what;
      const outcome =
        'error' in last
          ? `last check threw: ${last.error instanceof Error ? last.error.message : String(last.error)}`
          : `last check returned ${String(last.value)}`;
      throw new Error(`timed out after ${Math.round(waited)} ms waiting for ${subject} (${outcome})`, {
        cause: 'error' in last ? last.error : undefined,
      });
    }
    await sleep(Math.min(interval, Math.max(0, timeout - waited)));
  }
}
