import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createStore, UnsupportedDatabaseUrlError } from '../../src/storage/index.js';

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

  it('opens sqlite::memory:', async () => {
    const store = await createStore('sqlite::memory:');
    expect((await store.migrate())[0]).toBe('001_initial');
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
