/**
 * At-least-once under crashes: 2,000 events to 3 endpoints while the `tpcs worker` process is
 * SIGKILLed four times, spread over the run, each time with deliveries still to make, and restarted. Every delivery ends delivered, the receiver sees every
 * event at every endpoint at least once, and each customer's events arrive in order (first
 * receipts). Duplicates (re-sent after a kill, before the completion was written) are counted.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { type Sink, startSink } from '../dispatcher/sink.js';
import { DIALECTS, openDatabase, skipReason, type TestDatabase } from '../support/databases.js';
import { decide, newEndpoint, newPartner, newThirdParty } from '../support/fixtures.js';
import { waitFor } from '../support/wait-for.js';
import { spawnWorker, stopWorker, type WorkerProcess } from './delivery-processes.js';

const EVENTS = 2000;
const CUSTOMERS = 200; // 10 alternating decisions each
const KILLS = 4;

for (const dialect of DIALECTS) {
  describe.skipIf(skipReason(dialect) !== undefined)(`crash test on ${dialect}`, () => {
    let db: TestDatabase | undefined;
    let sink: Sink | undefined;
    let worker: WorkerProcess | undefined;
    afterAll(async () => {
      if (worker) await stopWorker(worker, 'SIGKILL');
      await sink?.close();
      await db?.dispose();
    });

    it(`delivers ${EVENTS} events to 3 endpoints through ${KILLS} SIGKILLs`, {
      timeout: 180_000,
    }, async () => {
      const database = await openDatabase(dialect);
      db = database;
      sink = await startSink();
      const partner = await newPartner(database.store);
      const paths = ['/a', '/b', '/c'];
      for (const p of paths) await newEndpoint(database.store, partner, sink.url(p));
      const refs: string[] = [];
      for (let i = 0; i < CUSTOMERS; i++)
        refs.push(await newThirdParty(database.store, partner, `cust-${i}`));

      worker = spawnWorker(database.url);
      const emitted = new Map<string, string[]>();
      const writing = Promise.all(
        // 8 concurrent writers, each owning every 8th customer: 10 alternating decisions per customer,
        // customers interleaved, each customer's decisions in order
        Array.from({ length: 8 }, async (_, w) => {
          for (let round = 0; round < EVENTS / CUSTOMERS; round++) {
            for (let i = w; i < CUSTOMERS; i += 8) {
              const ref = refs[i] ?? '';
              const id = await decide(database.store, partner, ref, round % 2 ? 'REJECTED' : 'APPROVED');
              emitted.set(ref, [...(emitted.get(ref) ?? []), id]);
            }
          }
        }),
      );

      const expected = EVENTS * paths.length;
      // Each worker (the restarted ones too) makes an eighth of the requests, then is killed at a
      // random moment: the kills are spread over the run, and even with each one overshooting by a
      // few hundred requests (a fast machine, the random wait) the last still has deliveries to make.
      const step = Math.floor(expected / (2 * KILLS));
      const receivedAtKills: number[] = [];
      const started = Date.now();
      while (receivedAtKills.length < KILLS) {
        const before = sink.received.length;
        await waitFor(() => (sink?.received.length ?? 0) >= before + step, {
          timeout: 30_000,
          what: 'worker progress',
        });
        await new Promise((r) => setTimeout(r, Math.random() * 200)); // at a random moment
        await stopWorker(worker, 'SIGKILL');
        receivedAtKills.push(sink.received.length);
        worker = spawnWorker(database.url);
      }
      await writing;
      await waitFor(async () => (await database.queue.stats(new Date())).pending === 0, {
        timeout: 60_000,
        what: 'queue drained',
      });
      const elapsed = Date.now() - started;

      const seen = new Map<string, number>();
      const firstOrder = new Map<string, string[]>();
      for (const r of sink.received) {
        const body = JSON.parse(r.body) as { event_id: string; data: { client_customer_ref: string } };
        const key = `${r.path} ${body.event_id}`;
        const n = seen.get(key) ?? 0;
        seen.set(key, n + 1);
        if (n === 0) {
          const okey = `${r.path} ${body.data.client_customer_ref}`;
          firstOrder.set(okey, [...(firstOrder.get(okey) ?? []), body.event_id]);
        }
      }
      const duplicates = sink.received.length - seen.size;
      console.log(
        `[crash ${dialect}] ${EVENTS} events x ${paths.length} endpoints, ${KILLS} SIGKILLs ` +
          `(after ${receivedAtKills.join(', ')} requests), ${elapsed} ms: ${seen.size}/${expected} unique ` +
          `receipts, ${sink.received.length} requests, ${duplicates} duplicates`,
      );
      // every kill came mid-delivery: fewer requests than deliveries had been received when it landed
      for (const n of receivedAtKills) expect(n).toBeLessThan(expected);
      expect(seen.size).toBe(expected);
      for (const p of paths) {
        for (const ref of refs) expect(firstOrder.get(`${p} ${ref}`)).toEqual(emitted.get(ref));
      }
    });
  });
}
