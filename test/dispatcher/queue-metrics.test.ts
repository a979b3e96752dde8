/**
 * The dispatcher's queue transactions, as an operator scrapes them: how long each claim and each batch
 * of completions took, and how many deliveries each carried. Read from the registry's exposition
 * text (what `/metrics` serves), after a real drain into a real sink on each database.
 */
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { createDispatcher } from '../../src/webhooks/dispatcher/dispatcher.js';
import { createDispatcherMetrics } from '../../src/webhooks/dispatcher/metrics.js';
import { DIALECTS, skipReason } from '../support/databases.js';
import { decide, newEndpoint, newPartner, newThirdParty } from '../support/fixtures.js';
import { waitFor } from '../support/wait-for.js';
import { useDatabaseAndSink } from './sink.js';

const EVENTS = 30;

/** The value of one sample line of the exposition text, e.g. `name_sum{operation="claim"}`. */
function sample(text: string, series: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  if (line === undefined) return 0;
  return Number(line.slice(series.length + 1));
}

for (const dialect of DIALECTS) {
  describe.skipIf(skipReason(dialect) !== undefined)(`queue metrics on ${dialect}`, () => {
    const env = useDatabaseAndSink(dialect);

    it('counts every claim and batch of completions, with the deliveries each carried', async () => {
      const partner = await newPartner(env.db.store);
      await newEndpoint(env.db.store, partner, env.sink.url('/metrics/a'));
      await newEndpoint(env.db.store, partner, env.sink.url('/metrics/b'));
      for (let i = 0; i < EVENTS; i++)
        await decide(env.db.store, partner, await newThirdParty(env.db.store, partner), 'APPROVED');
      const registry = new Registry();
      const metrics = createDispatcherMetrics(registry, (now) => env.db.queue.stats(now));
      // small claims, so that the drain takes several of each kind
      const dispatcher = createDispatcher({
        queue: env.db.queue,
        metrics,
        allowPrivateEndpoints: true,
        perEndpoint: 3,
        batchSize: 4,
      });
      dispatcher.start();
      try {
        await waitFor(() => env.sink.received.length >= 2 * EVENTS, {
          timeout: 15_000,
          what: 'every delivery',
        });
        await dispatcher.idle();
      } finally {
        await dispatcher.stop();
      }
      const text = await registry.metrics();
      expect(text).toMatch(/^# TYPE tpcs_delivery_queue_write_duration_seconds histogram$/m);
      expect(text).toMatch(/^# TYPE tpcs_delivery_queue_batch_size histogram$/m);

      const size = (operation: string, part: 'sum' | 'count') =>
        sample(text, `tpcs_delivery_queue_batch_size_${part}{operation="${operation}"}`);
      const writes = (operation: string, part: 'sum' | 'count') =>
        sample(text, `tpcs_delivery_queue_write_duration_seconds_${part}{operation="${operation}"}`);
      // every delivery was handed out once and completed once (the sink answers 200 to all)
      expect(size('claim', 'sum')).toBe(2 * EVENTS);
      expect(size('complete', 'sum')).toBe(2 * EVENTS);
      // one size per transaction: the loop's claims and the claims that rode on completions; every
      // batch of completions, alone or with a claim
      expect(size('claim', 'count')).toBe(writes('claim', 'count') + writes('complete_and_claim', 'count'));
      expect(size('complete', 'count')).toBe(
        writes('complete', 'count') + writes('complete_and_claim', 'count'),
      );
      // claims of at most 4: at least 15 transactions handed the 60 deliveries out
      expect(size('claim', 'count')).toBeGreaterThanOrEqual((2 * EVENTS) / 4);
      expect(sample(text, 'tpcs_delivery_queue_batch_size_bucket{le="4",operation="claim"}')).toBe(
        size('claim', 'count'),
      );
      for (const operation of ['claim', 'complete', 'complete_and_claim']) {
        if (writes(operation, 'count') > 0) expect(writes(operation, 'sum'), operation).toBeGreaterThan(0);
      }
    });
  });
}
