/**
 * A rate limit holds across processes: two `tpcs worker` processes on one PostgreSQL database drain a
 * backlog to an endpoint limited to 20 deliveries a second, and the receiver never sees more than the
 * limit (plus its burst of 2, and a margin for a loaded machine bunching requests up), every delivery
 * arrives once, and each third party's events arrive in order. The partner's unlimited endpoint gets
 * its deliveries at the same time. Only upper bounds on the rate are asserted: a slow machine makes the
 * drain slower, never faster.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { type Sink, startSink } from '../dispatcher/sink.js';
import { openDatabase, skipReason, type TestDatabase } from '../support/databases.js';
import {
  decide,
  endpointInput,
  newEndpoint,
  newPartner,
  newThirdParty,
  SECRET,
} from '../support/fixtures.js';
import { waitFor } from '../support/wait-for.js';
import { spawnWorker, stopWorker, type WorkerProcess } from './delivery-processes.js';

const RATE = 20;
const BURST = 2; // ceil(RATE / 10)
const CUSTOMERS = 20;
const EACH = 3; // events per third party: 60 deliveries to each endpoint

describe.skipIf(skipReason('postgres') !== undefined)('a rate limit across two workers on postgres', () => {
  let db: TestDatabase | undefined;
  let sink: Sink | undefined;
  const workers: WorkerProcess[] = [];
  afterAll(async () => {
    for (const w of workers) await stopWorker(w, 'SIGKILL');
    await sink?.close();
    await db?.dispose();
  });

  it(`two workers keep an endpoint to ${RATE}/s, in order per third party`, { timeout: 60_000 }, async () => {
    const database = await openDatabase('postgres');
    db = database;
    const receiver = await startSink();
    sink = receiver;
    const partner = await newPartner(database.store);
    await database.store.createEndpoint(
      endpointInput(partner, {
        url: receiver.url('/limited'),
        rateLimit: RATE,
        secret: SECRET,
        createdAt: new Date(),
      }),
    );
    await newEndpoint(database.store, partner, receiver.url('/free'));
    const refs: string[] = [];
    for (let i = 0; i < CUSTOMERS; i++) refs.push(await newThirdParty(database.store, partner, `c-${i}`));
    const order = new Map<string, string[]>(refs.map((r) => [r, []]));
    for (let round = 0; round < EACH; round++) {
      for (const ref of refs) {
        order.get(ref)?.push(await decide(database.store, partner, ref, round % 2 ? 'REJECTED' : 'APPROVED'));
      }
    }

    // the shipped poll interval: between polls, only the rate slot wakes a worker for the limited endpoint
    for (let i = 0; i < 2; i++) workers.push(spawnWorker(database.url, { DELIVERY_POLL: '500ms' }));
    const at = (path: string) => receiver.received.filter((r) => r.path === path);
    const total = CUSTOMERS * EACH;
    await waitFor(() => at('/limited').length >= total && at('/free').length >= total, {
      timeout: 45_000,
      what: `${total} deliveries to each endpoint`,
    });
    for (const w of workers) await stopWorker(w, 'SIGTERM');

    const limited = at('/limited');
    const ids = limited.map((r) => String(r.headers['webhook-id']));
    expect(new Set(ids).size).toBe(total);
    expect(limited).toHaveLength(total);
    expect(new Set(at('/free').map((r) => r.headers['webhook-id'])).size).toBe(total);

    // at most the rate and the burst in any second, with a margin of 8 for requests bunched up by a
    // stalled event loop; and the whole drain no faster than the rate allows, less 10%
    const times = limited.map((r) => r.at).sort((a, b) => a - b);
    const busiest = Math.max(...times.map((t) => times.filter((u) => u >= t && u < t + 1000).length));
    const spanMs = (times.at(-1) ?? 0) - (times[0] ?? 0);
    console.log(
      `[rate limit] ${total} deliveries at ${RATE}/s over two workers: ${spanMs} ms ` +
        `(${((total - BURST) / (spanMs / 1000)).toFixed(1)}/s after the burst), busiest second ${busiest}`,
    );
    expect(busiest).toBeLessThanOrEqual(RATE + BURST + 8);
    expect(spanMs).toBeGreaterThanOrEqual((((total - BURST) / RATE) * 1000) / 1.1);

    // each third party's events in the order they were decided, on both endpoints
    for (const path of ['/limited', '/free']) {
      const seen = new Map<string, string[]>();
      for (const r of at(path)) {
        const { event_id, data } = JSON.parse(r.body) as {
          event_id: string;
          data: { client_customer_ref: string };
        };
        seen.set(data.client_customer_ref, [...(seen.get(data.client_customer_ref) ?? []), event_id]);
      }
      for (const ref of refs) expect(seen.get(ref), `${path} ${ref}`).toEqual(order.get(ref));
    }
  });
});
