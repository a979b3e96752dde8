import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { createStore, UnsupportedDatabaseUrlError } from '../../src/storage/index.js';
import { PG_URL, randomId, skipReason } from './dialects.js';

describe('createStore', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tpcs-factory-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('opens sqlite:PATH, creating the parent folder, and keeps data across reopen', async () => {
    const file = join(dir, 'nested', 'deeper', 'tpcs.db');
    const store = await createStore(`sqlite:${file}`);
    expect(store.dialect).toBe('sqlite');
    expect((await store.migrate())[0]).toBe('001_initial');
    await store.setSettingIfAbsent('k', 'v');
    await store.close();
    expect(existsSync(file)).toBe(true);
    const again = await createStore(`sqlite:${file}?synchronous=full`);
    expect(await again.migrate()).toEqual([]);
    expect(await again.getSetting('k')).toBe('v');
    await again.close();
  });

  it('opens sqlite::memory:, telling the migration progress before each migration', async () => {
    const store = await createStore('sqlite::memory:');
    const told: [string, number, number][] = [];
    const applied = await store.migrate((name, done, total) => told.push([name, done, total]));
    expect(applied[0]).toBe('001_initial');
    expect(told).toEqual(applied.map((name, i) => [name, i, applied.length]));
    expect(await store.migrate((name) => told.push([name, -1, -1]))).toEqual([]);
    expect(told).toHaveLength(applied.length);
    await store.ping();
    await store.close();
  });

  it.each(['mysql://root@localhost/db', 'tpcs.db', '', 'sqlite:', 'sqlite:./x.db?synchronous=off'])(
    'refuses %j with a clear error',
    async (url) => {
      await expect(createStore(url)).rejects.toBeInstanceOf(UnsupportedDatabaseUrlError);
    },
  );

  it('does not echo a password in the error', async () => {
    await expect(createStore('mysql://user:s3cret@host/db')).rejects.toThrow(
      /^(?!.*s3cret).*user:\*\*\*@host/,
    );
  });
});

describe.skipIf(skipReason('postgres') !== undefined)('createStore on postgres', () => {
  it('honours ?schema=, creating it on migrate, and keeps schemas apart', async () => {
    const schema = randomId('tpcs_test_');
    const url = new URL(PG_URL);
    url.searchParams.set('schema', schema);
    const store = await createStore(url.toString());
    const admin = new pg.Client({ connectionString: PG_URL });
    await admin.connect();
    try {
      expect(store.dialect).toBe('postgres');
      const told: string[] = [];
      const applied = await store.migrate((name) => told.push(name));
      expect(applied[0]).toBe('001_initial');
      expect(told).toEqual(applied);
      expect(await store.setSettingIfAbsent('k', 'v')).toBe(true);
      const { rows } = await admin.query(`SELECT value FROM ${schema}.settings WHERE key = 'k'`);
      expect(rows).toEqual([{ value: 'v' }]);
    } finally {
      await store.close();
      await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await admin.end();
    }
  });

  it('refuses a schema that is not an identifier', async () => {
    await expect(createStore(`${PG_URL}?schema=x;drop`)).rejects.toBeInstanceOf(UnsupportedDatabaseUrlError);
  });

  it('fails at once when the server does not answer', async () => {
    await expect(createStore('postgres://postgres@127.0.0.1:1/test')).rejects.toThrow();
  });
});
