/**
 * SQLite's write lock, taken without blocking the event loop (src/storage/sqlite/write-lock.ts): while
 * another connection (another process) holds it, timers and I/O go on, and the transaction runs once
 * the lock is free, or fails with SQLITE_BUSY after the connection's busy_timeout, as before.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { writeLock } from '../../src/storage/sqlite/write-lock.js';

describe('SQLite write lock without blocking the event loop', () => {
  let dir: string;
  let mine: Database.Database;
  let other: Database.Database;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'tpcs-write-lock-'));
    const file = join(dir, 'lock.db');
    mine = new Database(file);
    mine.pragma('journal_mode = WAL');
    mine.exec('CREATE TABLE t (n INTEGER)');
    other = new Database(file);
  });

  afterEach(() => {
    mine.close();
    other.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('runs the transaction once the other connection commits, with timers firing meanwhile', async () => {
    mine.pragma('busy_timeout = 5000');
    const insert = mine.transaction(
      (n: number) => mine.prepare('INSERT INTO t (n) VALUES (?)').run(n).changes,
    );
    const write = writeLock(mine);
    other.exec('BEGIN IMMEDIATE');
    let ticks = 0;
    const timer = setInterval(() => {
      ticks++;
    }, 5);
    try {
      const written = write(() => insert.immediate(1));
      await new Promise((r) => setTimeout(r, 100));
      const ticksWhileLocked = ticks;
      other.exec('INSERT INTO t (n) VALUES (0)');
      other.exec('COMMIT');
      expect(await written).toBe(1);
      // a blocking wait (SQLite's busy handler) would have held every timer for the 100 ms
      expect(ticksWhileLocked).toBeGreaterThanOrEqual(5);
    } finally {
      clearInterval(timer);
    }
    expect(mine.prepare('SELECT n FROM t ORDER BY rowid').pluck().all()).toEqual([0, 1]);
    expect(mine.pragma('busy_timeout', { simple: true })).toBe(5000);
  });

  it('fails with SQLITE_BUSY after busy_timeout while the lock stays taken, and writes nothing', async () => {
    mine.pragma('busy_timeout = 150');
    const insert = mine.transaction(() => mine.prepare('INSERT INTO t (n) VALUES (1)').run());
    const write = writeLock(mine);
    other.exec('BEGIN IMMEDIATE');
    const started = performance.now();
    await expect(write(() => insert.immediate())).rejects.toMatchObject({ code: 'SQLITE_BUSY' });
    expect(performance.now() - started).toBeGreaterThanOrEqual(140);
    other.exec('ROLLBACK');
    expect(mine.prepare('SELECT count(*) FROM t').pluck().get()).toBe(0);
    expect(mine.pragma('busy_timeout', { simple: true })).toBe(150);
  });

  it('passes on any other error at once, without trying again', async () => {
    mine.pragma('busy_timeout = 5000');
    const write = writeLock(mine);
    let calls = 0;
    await expect(
      write(() => {
        calls++;
        return mine.prepare('INSERT INTO missing VALUES (1)').run();
      }),
    ).rejects.toThrow(/no such table/);
    expect(calls).toBe(1);
  });
});
