import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { openStorage, UnsupportedDatabaseUrlError } from '../../src/storage/index.js';
import { PG_URL, skipReason } from '../support/databases.js';
import {
  decision,
  endpointInput,
  newPartner,
  newThirdParty,
  REASONS,
  randomId,
} from '../support/fixtures.js';

describe('openStorage', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tpcs-factory-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('opens sqlite:PATH, creating the parent folder, and keeps data across reopen', async () => {
    const file = join(dir, 'nested', 'deeper', 'tpcs.db');
    const storage = await openStorage(`sqlite:${file}`);
    expect(storage.dialect).toBe('sqlite');
    expect(storage.applied[0]).toBe('001_initial');
    await storage.store.setSettingIfAbsent('k', 'v');
    await storage.close();
    expect(existsSync(file)).toBe(true);
    const again = await openStorage(`sqlite:${file}?synchronous=full`);
    expect(again.applied).toEqual([]);
    expect(await again.store.getSetting('k')).toBe('v');
    await again.close();
  });

  it('opens sqlite::memory:, telling the migration progress before each migration', async () => {
    const told: [string, number, number][] = [];
    const storage = await openStorage('sqlite::memory:', {
      onMigration: (name, done, total) => told.push([name, done, total]),
    });
    const { applied, store } = storage;
    expect(applied[0]).toBe('001_initial');
    expect(told).toEqual(applied.map((name, i) => [name, i, applied.length]));
    expect(await store.migrate((name) => told.push([name, -1, -1]))).toEqual([]);
    expect(told).toHaveLength(applied.length);
    await store.ping();
    await storage.close();
  });

  it('wakes queue listeners after a decision that recorded an event, a retry and a recover', async () => {
    const { store, queue, close } = await openStorage('sqlite::memory:');
    let wakes = 0;
    const stop = queue.onQueued(() => wakes++);
    const customerId = await newPartner(store);
    const ref = await newThirdParty(store, customerId);
    const endpoint = await store.createEndpoint(endpointInput(customerId));
    const first = await store.recordDecision(decision(customerId, ref, 'APPROVED'));
    expect(first.outcome).toBe('changed');
    expect(wakes).toBe(1);
    expect((await store.recordDecision(decision(customerId, ref, 'APPROVED'))).outcome).toBe('unchanged');
    expect(wakes).toBe(1); // nothing recorded, nobody woken
    if (first.outcome !== 'changed') throw new Error('unreachable');
    const [deliveryId] = first.deliveryIds;
    expect(await queue.retry(customerId, endpoint.id, deliveryId as string, new Date())).toBeDefined();
    expect(wakes).toBe(2);
    expect(await queue.recover(customerId, endpoint.id, new Date(0), new Date())).toBe(0);
    expect(wakes).toBe(2); // nothing was failed, nothing re-queued
    stop();
    await store.recordDecision(decision(customerId, ref, 'REJECTED', REASONS));
    expect(wakes).toBe(2);
    await close();
  });

  it.each(['mysql://root@localhost/db', 'tpcs.db', '', 'sqlite:', 'sqlite:./x.db?synchronous=off'])(
    'refuses %j with a clear error',
    async (url) => {
      await expect(openStorage(url)).rejects.toBeInstanceOf(UnsupportedDatabaseUrlError);
    },
  );

  it('does not echo a password in the error', async () => {
    await expect(openStorage('mysql://user:s3cret@host/db')).rejects.toThrow(
      /^(?!.*s3cret).*user:\*\*\*@host/,
    );
  });
});

describe.skipIf(skipReason('postgres') !== undefined)('openStorage on postgres', () => {
  it('honours ?schema=, creating it on migrate, and keeps schemas apart', async () => {
    const schema = randomId('tpcs_test_');
    const url = new URL(PG_URL);
    url.searchParams.set('schema', schema);
    const told: string[] = [];
    const storage = await openStorage(url.toString(), { onMigration: (name) => told.push(name) });
    const { store, applied } = storage;
    const admin = new pg.Client({ connectionString: PG_URL });
    await admin.connect();
    try {
      expect(storage.dialect).toBe('postgres');
      expect(applied[0]).toBe('001_initial');
      expect(told).toEqual(applied);
      expect(await store.setSettingIfAbsent('k', 'v')).toBe(true);
      const { rows } = await admin.query(`SELECT value FROM ${schema}.settings WHERE key = 'k'`);
      expect(rows).toEqual([{ value: 'v' }]);
    } finally {
      await storage.close();
      await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await admin.end();
    }
  });

  it('refuses a schema that is not an identifier', async () => {
    await expect(openStorage(`${PG_URL}?schema=x;drop`)).rejects.toBeInstanceOf(UnsupportedDatabaseUrlError);
  });

  it('fails at once when the server does not answer', async () => {
    await expect(openStorage('postgres://postgres@127.0.0.1:1/test')).rejects.toThrow();
  });
});
