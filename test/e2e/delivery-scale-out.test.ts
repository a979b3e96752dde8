/**
 * Scale-out: three `tpcs worker` processes on one PostgreSQL database deliver 4,000 events. None is
 * lost, each is attempted exactly once (no two processes ever send the same delivery), all three
 * processes take a share, and the receiver never sees the same webhook-id twice at the same time.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { type Sink, startSink } from '../dispatcher/sink.js';
import { openDatabase, skipReason, type TestDatabase } from '../support/databases.js';
import { decide, newEndpoint, newPartner, newThirdParty } from '../support/fixtures.js';
import { waitFor } from '../support/wait-for.js';
import { spawnWorker, stopWorker, type WorkerProcess } from './delivery-processes.js';

const EVENTS = 4000;
const CUSTOMERS = 400; // 10 alternating decisions each

describe.skipIf(skipReason('postgres') !== undefined)('scale-out on postgres', () => {
  let db: TestDatabase | undefined;
  let sink: Sink | undefined;
  const workers: WorkerProcess[] = [];
  afterAll(async () => {
    for (const w of workers) await stopWorker(w, 'SIGKILL');
    await sink?.close();
    await db?.dispose();
  });

  it(`three workers deliver ${EVENTS} events, none lost, none sent twice`, { timeout: 150_000 }, async () => {
    const database = await openDatabase('postgres');
    db = database;
    const receiver = await startSink();
    sink = receiver;
    // Requests are held until all three workers are up: the first one started cannot have delivered
    // everything before the others poll, so each must take a share.
    let letGo = () => {};
    const allUp = new Promise<void>((resolve) => {
      letGo = resolve;
    });
    receiver.on('/hook', () => ({ status: 200, delayMs: 2, after: allUp }));
    const partner = await newPartner(database.store);
    await newEndpoint(database.store, partner, receiver.url('/hook'));
    const refs: string[] = [];
    for (let i = 0; i < CUSTOMERS; i++) refs.push(await newThirdParty(database.store, partner, `c-${i}`));
    // writers in parallel, so the events are committed quickly
    await Promise.all(
      Array.from({ length: 8 }, async (_, w) => {
        for (let round = 0; round < EVENTS / CUSTOMERS; round++) {
          for (let i = w; i < CUSTOMERS; i += 8) {
            await decide(database.store, partner, refs[i] ?? '', round % 2 ? 'REJECTED' : 'APPROVED');
          }
        }
      }),
    );

    // Nothing is killed here, and each request must come exactly once: a timeout longer than the wait
    // for the workers (held requests are not given up) and leases long enough that no stall of a loaded
    // machine lets another worker take a delivery still being sent.
    const env = { DELIVERY_PER_ENDPOINT: '48', DELIVERY_TIMEOUT: '30s', DELIVERY_LEASE: '60s' };
    for (let i = 0; i < 3; i++) workers.push(spawnWorker(database.url, env));
    await waitFor(() => workers.every((w) => w.output.join('').includes('tpcs worker: delivering')), {
      timeout: 20_000,
      what: 'three workers started',
    });
    const started = Date.now();
    letGo();
    await waitFor(async () => (await database.queue.stats(new Date())).pending === 0, {
      timeout: 120_000,
      what: 'queue drained',
    });
    const elapsed = Date.now() - started;
    for (const w of workers) await stopWorker(w, 'SIGTERM');
    const shares = workers.map((w) => {
      const line = w.output
        .join('')
        .split('\n')
        .find((l) => l.includes('"msg":"stopped"'));
      const parsed = line
        ? (JSON.parse(line) as { counts: { attempts: number; delivered: number }[] })
        : undefined;
      return parsed?.counts.reduce((a, c) => a + c.delivered, 0) ?? 0;
    });
    const unique = new Set(receiver.received.map((r) => r.headers['webhook-id']));
    console.log(
      `[scale-out postgres] ${EVENTS} events, 3 workers, ${elapsed} ms (${Math.round((EVENTS / elapsed) * 1000)}/s): ` +
        `${unique.size} unique, ${receiver.received.length} requests, shares ${shares.join('/')}, ` +
        `max concurrent sends of one id ${receiver.maxConcurrentPerId()}`,
    );
    expect(unique.size).toBe(EVENTS);
    expect(receiver.received.length).toBe(EVENTS);
    expect(receiver.maxConcurrentPerId()).toBe(1);
    expect(shares.reduce((a, b) => a + b, 0)).toBe(EVENTS);
    for (const s of shares) expect(s).toBeGreaterThan(0);
  });
});
