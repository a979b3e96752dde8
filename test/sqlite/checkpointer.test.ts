/**
 * WAL checkpoints in a thread of their own (src/sqlite/checkpointer.ts): the pages a commit appends to
 * the WAL reach the database file without the committing connection checkpointing. The receiver's inbox
 * uses the same thread (test/receiver/inbox.test.ts).
 */
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startCheckpointer } from '../../src/sqlite/checkpointer.js';
import { openStorage } from '../../src/storage/index.js';
import { BACKSTOP_PAGES, SqliteStore } from '../../src/storage/sqlite/index.js';
import { waitFor } from '../support/wait-for.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'tpcs-checkpointer-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** A WAL database with one table, and a writer of about `kb` KiB in one transaction. */
function walDatabase(file: string) {
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.exec('CREATE TABLE filler (id INTEGER PRIMARY KEY, body TEXT NOT NULL)');
  const insert = db.prepare('INSERT INTO filler (body) VALUES (?)');
  const write = db.transaction((kb: number) => {
    for (let i = 0; i < kb; i++) insert.run('x'.repeat(1000));
  });
  return { db, write };
}

describe('SQLite checkpoints in a thread', () => {
  it('copies committed pages into the database file while the writer never checkpoints', async () => {
    const file = join(dir, 'a.db');
    const { db, write } = walDatabase(file);
    const before = statSync(file).size;
    const checkpointer = startCheckpointer(db, { intervalMs: 10, backstopPages: 10_000 });
    await checkpointer.ready;
    expect(db.pragma('wal_autocheckpoint', { simple: true })).toBe(10_000);
    // 2 MB: about 500 pages, under SQLite's own 1,000-page checkpoint, so only the thread copies them
    write(2000);
    await waitFor(() => statSync(file).size > before + 1_900_000, { timeout: 5000 });
    expect(await checkpointer.runs()).toBeGreaterThan(0);
    await checkpointer.stop();
    expect(db.pragma('wal_autocheckpoint', { simple: true })).toBe(1000);
    db.close();
  });

  it('hands the checkpoints back to the writer when the thread dies', async () => {
    const { db } = walDatabase(join(dir, 'd.db'));
    db.pragma('wal_autocheckpoint = 4000'); // the owner's own setting comes back, not SQLite's default
    const warnings: string[] = [];
    const checkpointer = startCheckpointer(db, {
      intervalMs: 10,
      backstopPages: 10_000,
      warn: (message) => warnings.push(message),
    });
    await checkpointer.ready;
    expect(db.pragma('wal_autocheckpoint', { simple: true })).toBe(10_000);
    expect(warnings).toEqual([]);
    await checkpointer.thread.terminate();
    await waitFor(() => db.pragma('wal_autocheckpoint', { simple: true }) === 4000, { timeout: 5000 });
    expect(warnings).toEqual([expect.stringMatching(/^SQLite checkpoints are back in the commits/)]);
    await checkpointer.stop(); // still fine after the thread is gone
    db.close();
  });

  it('can be stopped before the thread has started', async () => {
    const { db } = walDatabase(join(dir, 'e.db'));
    const checkpointer = startCheckpointer(db, { intervalMs: 10, backstopPages: 10_000 });
    await checkpointer.stop();
    await checkpointer.ready; // settles, and leaves SQLite's own checkpoints
    expect(db.pragma('wal_autocheckpoint', { simple: true })).toBe(1000);
    db.close();
  });

  it('checkpoints only after other connections commit, and leaves the setting alone without a backstop', async () => {
    const file = join(dir, 'f.db');
    const { db, write } = walDatabase(file);
    db.pragma('wal_autocheckpoint = 4000');
    const checkpointer = startCheckpointer(db, { intervalMs: 5 });
    await checkpointer.ready;
    expect(db.pragma('wal_autocheckpoint', { simple: true })).toBe(4000);
    // its first look counts as a change (nothing seen before); after that, an idle file costs no checkpoint
    await waitFor(async () => (await checkpointer.runs()) === 1, { timeout: 5000 });
    await new Promise((r) => setTimeout(r, 100)); // 20 intervals
    expect(await checkpointer.runs()).toBe(1);
    const before = statSync(file).size;
    write(500);
    await waitFor(() => statSync(file).size > before + 400_000, { timeout: 5000 });
    expect(await checkpointer.runs()).toBeGreaterThanOrEqual(2);
    await checkpointer.stop();
    expect(db.pragma('wal_autocheckpoint', { simple: true })).toBe(4000);
    db.close();
  });

  it('leaves the database file alone without it', async () => {
    const file = join(dir, 'b.db');
    const { db, write } = walDatabase(file);
    const before = statSync(file).size;
    write(2000);
    await new Promise((r) => setTimeout(r, 200));
    expect(statSync(file).size).toBe(before);
    db.close();
  });

  it('runs beside a store opened for it, and stops when the store closes', async () => {
    const file = join(dir, 'c.db');
    const storage = await openStorage(`sqlite:${file}`, { backgroundCheckpoints: true });
    if (!(storage.store instanceof SqliteStore)) throw new Error('expected the SQLite store');
    const db = storage.store.database;
    await storage.store.checkpointInBackground(); // started by openStorage: the same thread, once ready
    expect(db.pragma('wal_autocheckpoint', { simple: true })).toBe(BACKSTOP_PAGES);
    const before = statSync(file).size;
    db.exec('CREATE TABLE filler (body TEXT)');
    db.transaction(() => {
      for (let i = 0; i < 2000; i++) db.prepare('INSERT INTO filler VALUES (?)').run('y'.repeat(1000));
    })();
    await waitFor(() => statSync(file).size > before + 1_900_000, { timeout: 5000 });
    await storage.close();
    // the last connection closed: the WAL was checkpointed and removed, so no thread held it open
    expect(existsSync(`${file}-wal`)).toBe(false);
    const reopened = new Database(file, { readonly: true });
    expect(reopened.prepare('SELECT count(*) AS n FROM filler').get()).toEqual({ n: 2000 });
    reopened.close();
  });
});
