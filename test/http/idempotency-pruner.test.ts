import { afterEach, describe, expect, it } from 'vitest';
import {
  IDEMPOTENCY_KEY_RETENTION_MS,
  pruneIdempotencyKeys,
  startIdempotencyPruner,
} from '../../src/http/idempotency.js';
import { openStorage } from '../../src/storage/index.js';
import type { Store } from '../../src/storage/store.js';

const HOUR = 60 * 60 * 1000;
const answer = { requestHash: 'h', statusCode: 201, body: '{}' };

describe('idempotency key pruning (SQLite)', () => {
  let store: Store;
  afterEach(() => store.close());

  async function seeded(ages: number[]): Promise<Store> {
    ({ store } = await openStorage('sqlite::memory:'));
    for (const [i, age] of ages.entries())
      await store.saveIdempotentResponse('P1', `k${i}`, answer, new Date(Date.now() - age));
    return store;
  }
  const present = async (n: number) => {
    const keys: string[] = [];
    for (let i = 0; i < n; i++) if (await store.getIdempotentResponse('P1', `k${i}`)) keys.push(`k${i}`);
    return keys;
  };

  it('deletes every key older than a day, past one batch, and keeps younger ones', async () => {
    // 2,500 expired keys: three batches of up to 1,000.
    const ages = [...Array.from({ length: 2500 }, () => 25 * HOUR), 23 * HOUR, 1000];
    await seeded(ages);
    expect(await pruneIdempotencyKeys(store)).toBe(2500);
    expect(await present(ages.length)).toEqual(['k2500', 'k2501']);
    // An hour later the 23-hour-old key is past the retention too.
    expect(await pruneIdempotencyKeys(store, new Date(Date.now() + 2 * HOUR))).toBe(1);
    expect(await present(ages.length)).toEqual(['k2501']);
    expect(IDEMPOTENCY_KEY_RETENTION_MS).toBe(24 * HOUR);
  });

  it('prunes at start, reports the count, and stop() waits for a prune under way', async () => {
    await seeded([30 * HOUR, 48 * HOUR, HOUR]);
    const counts: number[] = [];
    const pruner = startIdempotencyPruner(store, { onPruned: (n) => counts.push(n) });
    await pruner.stop(); // the first prune started at once; stop waits for it
    expect(counts).toEqual([2]);
    expect(await present(3)).toEqual(['k2']);
  });

  it('reports a failed prune and keeps running', async () => {
    await seeded([30 * HOUR]);
    let calls = 0;
    const errors: string[] = [];
    const failing = {
      pruneIdempotencyKeys: async (before: Date, limit: number) => {
        calls++;
        if (calls === 1) throw new Error('database is locked');
        return store.pruneIdempotencyKeys(before, limit);
      },
    };
    const counts: number[] = [];
    const pruner = startIdempotencyPruner(
      failing,
      { onPruned: (n) => counts.push(n), onError: (e) => errors.push(e.message) },
      20,
    );
    await expect.poll(() => counts, { timeout: 5000 }).toEqual([1]);
    await pruner.stop();
    expect(errors).toEqual(['database is locked']);
    expect(await present(1)).toEqual([]);
  });
});
