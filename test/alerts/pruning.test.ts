/**
 * Alert retention, on each dialect: settled alerts older than `ALERT_RETENTION` are deleted in
 * batches (past one batch here), younger ones and any still being sent are kept; and a running
 * `tpcs serve` (`startServer`) does it in its housekeeping loop, at start.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ALERT_RETENTION_MS, pruneAlerts } from '../../src/alerts/pruning.js';
import { loadConfig } from '../../src/config/index.js';
import { startServer } from '../../src/http/server.js';
import { PRUNE_BATCH } from '../../src/storage/pruner.js';
import type { NewAlert, Store } from '../../src/storage/store.js';
import {
  DIALECTS,
  type FreshDatabaseUrl,
  freshUrl,
  openDatabase,
  openTestStorage,
  SECRETS_KEY,
  skipReason,
  type TestDatabase,
} from '../support/databases.js';
import { newEndpoint, newPartner } from '../support/fixtures.js';

const DAY = 24 * 3600_000;

/**
 * Writes alerts about a new endpoint of a new partner, created `ageMs` ago each, through the store's
 * one way of writing them; settles them as sent unless `pending`. Returns the partner.
 */
async function seedAlerts(
  store: Store,
  ages: readonly number[],
  { pending = false }: { pending?: boolean } = {},
): Promise<string> {
  const partner = await newPartner(store);
  const endpointId = await newEndpoint(store, partner, 'https://partner.example/hook');
  const now = Date.now();
  const alerts: NewAlert[] = ages.map((age) => ({
    id: randomUUID(),
    eventId: randomUUID(),
    customerId: partner,
    endpointId,
    channel: 'email',
    eventType: 'endpoint.failing',
    payload: '{}',
    createdAt: new Date(now - age),
    delivery: null,
  }));
  await store.observeEndpointAlerts(
    [{ endpointId, failedDeliveryIds: [], disabledReason: null }],
    (view) => ({
      state: view.state,
      alerts,
    }),
  );
  if (!pending) {
    for (const a of alerts) {
      await store.settleAlert(
        a.id,
        { status: 'sent', target: 'ops@partner.example', error: null },
        new Date(),
      );
    }
  }
  return partner;
}

const ages = async (store: Store, partner: string) =>
  (await store.listAlerts(partner, 10_000)).map((a) =>
    Math.round((Date.now() - a.createdAt.getTime()) / DAY),
  );

for (const dialect of DIALECTS) {
  describe.skipIf(skipReason(dialect) !== undefined)(`alert retention (${dialect})`, () => {
    let db: TestDatabase;
    beforeAll(async () => {
      db = await openDatabase(dialect);
    });
    afterAll(async () => {
      await db?.dispose();
    });

    it('deletes settled alerts older than the retention, past one batch; keeps younger ones and pending ones', async () => {
      const old = Array.from({ length: PRUNE_BATCH + 200 }, () => 31 * DAY);
      const settled = await seedAlerts(db.store, [...old, 29 * DAY, DAY]);
      const pending = await seedAlerts(db.store, [40 * DAY], { pending: true });

      expect(ALERT_RETENTION_MS).toBe(30 * DAY);
      expect(await pruneAlerts(db.store)).toBe(old.length);
      expect((await ages(db.store, settled)).sort((a, b) => a - b)).toEqual([1, 29]);
      expect(await ages(db.store, pending)).toEqual([40]);
      // two days later the 29-day-old one is past the retention too; nothing left the second time
      const later = new Date(Date.now() + 2 * DAY);
      expect(await pruneAlerts(db.store, later)).toBe(1);
      expect(await pruneAlerts(db.store, later)).toBe(0);
      expect(await ages(db.store, settled)).toEqual([1]);
    });
  });

  describe.skipIf(skipReason(dialect) !== undefined)(`tpcs serve housekeeping (${dialect})`, () => {
    let database: FreshDatabaseUrl | undefined;
    beforeAll(async () => {
      database = await freshUrl(dialect);
    });
    afterAll(async () => {
      await database?.drop();
    });

    it('prunes alerts older than ALERT_RETENTION at start', async () => {
      if (!database) throw new Error('no database');
      const seeding = await openTestStorage(database.url);
      const partner = await seedAlerts(seeding.store, [3 * DAY, 3 * DAY, 20 * 3600_000]);
      await seeding.close();

      const config = loadConfig({
        DATABASE_URL: database.url,
        PORT: '0',
        HOST: '127.0.0.1',
        ADMIN_TOKEN: 'pruning-admin-token-0123456789',
        ALERT_RETENTION: '2d',
        LOG_LEVEL: 'silent',
      });
      if (!config.ok) throw new Error(config.problems.join('\n'));
      expect(config.config.alertRetentionMs).toBe(2 * DAY);
      const service = await startServer(config.config, {
        print: () => {},
        ...(dialect === 'postgres' ? { secrets: { key: SECRETS_KEY } } : {}),
      });
      try {
        await expect.poll(() => ages(service.store, partner), { timeout: 10_000 }).toEqual([1]);
      } finally {
        await service.close();
      }
    });
  });
}
