/**
 * SQLite: a queue hears another process's commits (`PRAGMA data_version`), as PostgreSQL's queue hears
 * NOTIFY: a `tpcs worker` beside `tpcs serve` on one file claims a decision's deliveries at once, not
 * at its next poll. Two storages opened on one file are two connections, as two processes would be.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openStorage, type Storage } from '../../src/storage/index.js';
import { OTHER_PROCESS_CHECK_MS } from '../../src/storage/sqlite/queue.js';
import { decision, newEndpoint, newPartner, newThirdParty } from '../support/fixtures.js';
import { waitFor } from '../support/wait-for.js';

describe('SQLite queue: commits of another connection', () => {
  let dir: string;
  let api: Storage;
  let worker: Storage;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tpcs-other-process-'));
    const url = `sqlite:${join(dir, 'tpcs.db')}`;
    api = await openStorage(url);
    worker = await openStorage(url);
  });

  afterEach(async () => {
    await worker.close();
    await api.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const settle = () => new Promise((r) => setTimeout(r, OTHER_PROCESS_CHECK_MS * 20));

  it("wakes the worker's listener for a decision the API's connection commits", async () => {
    const partner = await newPartner(api.store);
    await newEndpoint(api.store, partner, 'https://partner.example/hook');
    const ref = await newThirdParty(api.store, partner);
    let woken = 0;
    const off = worker.queue.onQueued(() => {
      woken++;
    });
    try {
      await settle();
      woken = 0; // the setup's commits came before the listener, whatever their timing
      const result = await api.store.recordDecision(decision(partner, ref, 'APPROVED', null, new Date()));
      expect(result.outcome).toBe('changed');
      await waitFor(() => woken > 0, { timeout: 5_000, what: "the worker's listener" });
      const claimed = await worker.queue.claim({
        workerId: 'w',
        now: new Date(Date.now() + 1_000),
        leaseMs: 60_000,
        limit: 10,
        perEndpoint: 8,
      });
      expect(claimed.map((d) => d.eventId)).toEqual(
        result.outcome === 'changed' ? [result.event.eventId] : [],
      );
    } finally {
      off();
    }
  });

  it("is not woken by its own connection's claim, nor once nobody listens", async () => {
    const partner = await newPartner(api.store);
    await newEndpoint(api.store, partner, 'https://partner.example/hook');
    const ref = await newThirdParty(api.store, partner);
    await api.store.recordDecision(decision(partner, ref, 'APPROVED', null, new Date()));
    let woken = 0;
    const off = worker.queue.onQueued(() => {
      woken++;
    });
    await settle();
    woken = 0;
    const now = new Date(Date.now() + 1_000);
    const [claimed] = await worker.queue.claim({
      workerId: 'w',
      now,
      leaseMs: 60_000,
      limit: 10,
      perEndpoint: 8,
    });
    expect(claimed).toBeDefined();
    await settle();
    expect(woken).toBe(0);

    off();
    const second = await newThirdParty(api.store, partner);
    await api.store.recordDecision(decision(partner, second, 'APPROVED', null, new Date()));
    await settle();
    expect(woken).toBe(0);
  });
});
