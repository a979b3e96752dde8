import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { parseEvent, type ThirdPartyCustomerStatusEvent } from '../../src/contract/index.js';
import { createMemoryInbox, createSqliteInbox, type InboxStore } from '../../src/receiver/index.js';
import { waitFor } from '../support/wait-for.js';
import { eventJson, REASONS, recordingLogger, tempDir } from './helpers.js';

// The same suite runs against every store (kysely's "no mocks, every dialect").
const STORES: [string, () => InboxStore][] = [
  ['memory', () => createMemoryInbox()],
  ['sqlite', () => createSqliteInbox(path.join(tempDir(), 'inbox.db'))],
  [
    'sqlite, synchronous FULL',
    () => createSqliteInbox(path.join(tempDir(), 'inbox.db'), { synchronous: 'FULL' }),
  ],
];

function entry(overrides: Parameters<typeof eventJson>[0] = {}, receivedAt = 1_000) {
  const { json } = eventJson(overrides);
  const parsed = parseEvent(json);
  if (!parsed.ok) throw new Error('test event is invalid');
  return { event: parsed.event as ThirdPartyCustomerStatusEvent, body: Buffer.from(json), receivedAt };
}

const keep = { handleStale: false, handlers: true };

/** Rows in one table of an open SQLite database. */
function count(db: Database.Database, table: 'inbox_events' | 'customer_statuses'): number {
  return (db.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n;
}

/**
 * Runs a script that opens an inbox, writes once and never closes it; resolves with its exit code and
 * output once it exits on its own (an idle inbox must not hold the process open).
 */
async function exitsWithIdleInbox() {
  const dir = tempDir();
  const script = path.join(dir, 'script.mts');
  const index = pathToFileURL(path.resolve('src/receiver/index.ts')).href;
  fs.writeFileSync(
    script,
    `import { createSqliteInbox } from ${JSON.stringify(index)};
     const store = createSqliteInbox(${JSON.stringify(path.join(dir, 'inbox.db'))});
     await store.markHandled([1], 1);
     console.log('done');`,
  );
  const tsx = pathToFileURL(path.resolve('node_modules/tsx/dist/loader.mjs')).href;
  const child = spawn(process.execPath, ['--import', tsx, script], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => {
    out += chunk.toString();
  });
  const code = await new Promise((resolve) => child.on('exit', resolve));
  return [code, out.trim()];
}

for (const [name, open] of STORES) {
  describe(`InboxStore: ${name}`, () => {
    let store: InboxStore;
    afterEach(async () => {
      await store.close();
    });

    it('records a new event, updates the status table, and leaves the event pending', async () => {
      store = open();
      const e = entry({ status: 'REJECTED', at: '2025-01-01T00:00:00Z' });
      expect(await store.record([e], keep)).toEqual(['recorded']);
      expect(await store.getStatus('0201001008132685', 'CUST_001')).toMatchObject({
        status: 'REJECTED',
        reasons: REASONS,
        eventTimestamp: '2025-01-01T00:00:00Z',
        eventId: e.event.event_id,
      });
      const due = await store.due(2_000, 10);
      expect(due).toHaveLength(1);
      expect(Buffer.from(due[0]?.body ?? []).toString()).toBe(e.body.toString());
      expect(await store.getEvent(e.event.event_id)).toMatchObject({
        state: 'pending',
        stale: false,
        attempts: 0,
      });
    });

    it('answers duplicate for a known event_id, also inside one batch, and changes nothing', async () => {
      store = open();
      const e = entry();
      expect(await store.record([e, e], keep)).toEqual(['recorded', 'duplicate']);
      const changed = { ...e, event: { ...e.event, data: { ...e.event.data, status: 'APPROVED' as const } } };
      expect(await store.record([changed], keep)).toEqual(['duplicate']);
      expect((await store.getStatus('0201001008132685', 'CUST_001'))?.status).toBe('REJECTED');
      expect(await store.due(2_000, 10)).toHaveLength(1);
    });

    it('keeps the newest status by event_timestamp; an older event is stale and skipped', async () => {
      store = open();
      const newer = entry({ status: 'APPROVED', at: '2025-03-01T00:00:00Z' });
      const older = entry({ status: 'REJECTED', at: '2025-02-01T00:00:00Z' });
      expect(await store.record([newer, older], keep)).toEqual(['recorded', 'stale']);
      const status = await store.getStatus('0201001008132685', 'CUST_001');
      expect(status).toMatchObject({ status: 'APPROVED', reasons: null, eventId: newer.event.event_id });
      expect(await store.getEvent(older.event.event_id)).toMatchObject({ stale: true, state: 'skipped' });
      expect((await store.due(2_000, 10)).map((p) => p.eventId)).toEqual([newer.event.event_id]);
    });

    it('hands stale events to handlers when asked to', async () => {
      store = open();
      await store.record([entry({ at: '2025-03-01T00:00:00Z' })], keep);
      const older = entry({ at: '2025-02-01T00:00:00Z' });
      expect(await store.record([older], { handleStale: true, handlers: true })).toEqual(['stale']);
      const due = await store.due(2_000, 10);
      expect(due.map((p) => [p.eventId, p.stale])).toContainEqual([older.event.event_id, true]);
    });

    it('records events as handled on arrival when no handler is subscribed', async () => {
      store = open();
      const e = entry({ status: 'APPROVED' }, 1_500);
      expect(await store.record([e], { handleStale: false, handlers: false })).toEqual(['recorded']);
      expect(await store.getEvent(e.event.event_id)).toMatchObject({
        state: 'handled',
        handledAt: new Date(1_500),
      });
      expect((await store.getStatus('0201001008132685', 'CUST_001'))?.status).toBe('APPROVED');
      expect(await store.due(2_000, 10)).toEqual([]);
      expect(await store.nextDueAt()).toBeUndefined();
    });

    it('gives an equal event_timestamp to the later arrival, in one batch or in two, ids in any order', async () => {
      store = open();
      const at = '2025-03-01T00:00:00Z';
      const [x, y] = [
        entry({ eventId: 'tie_x', status: 'REJECTED', at }),
        entry({ eventId: 'tie_y', status: 'APPROVED', at }),
      ];
      // one batch: y after x
      expect(await store.record([x, y], keep)).toEqual(['recorded', 'recorded']);
      expect((await store.getStatus('0201001008132685', 'CUST_001'))?.eventId).toBe('tie_y');
      // a later call: x' (a smaller id than y) arrives after y and wins
      const later = entry({ eventId: 'tie_a', status: 'REJECTED', at });
      expect(await store.record([later], keep)).toEqual(['recorded']);
      expect((await store.getStatus('0201001008132685', 'CUST_001'))?.status).toBe('REJECTED');
      // a copy of an event already held is a duplicate, never a later arrival
      expect(await store.record([y], keep)).toEqual(['duplicate']);
      expect((await store.getStatus('0201001008132685', 'CUST_001'))?.eventId).toBe('tie_a');
      // an older timestamp still loses
      const older = entry({ eventId: 'tie_z', at: '2025-02-28T23:59:59Z' });
      expect(await store.record([older], keep)).toEqual(['stale']);
      expect((await store.getStatus('0201001008132685', 'CUST_001'))?.eventId).toBe('tie_a');
    });

    it('keeps one status per (customer_id, client_customer_ref) and lists them', async () => {
      store = open();
      await store.record(
        [
          entry({ customerId: 'C1', ref: 'B', status: 'APPROVED' }),
          entry({ customerId: 'C1', ref: 'A' }),
          entry({ customerId: 'C2', ref: 'A', status: 'APPROVED' }),
        ],
        keep,
      );
      expect((await store.listStatuses({ customerId: 'C1' })).map((s) => s.clientCustomerRef)).toEqual([
        'A',
        'B',
      ]);
      expect(await store.listStatuses()).toHaveLength(3);
      expect(await store.listStatuses({ limit: 1 })).toHaveLength(1);
      expect(await store.getStatus('C2', 'B')).toBeUndefined();
    });

    it('marks events handled, reschedules failures and gives up when told', async () => {
      store = open();
      const [a, b, c] = [entry(), entry(), entry()];
      await store.record([a, b, c], keep);
      const due = await store.due(2_000, 10);
      const [sa, sb, sc] = due.map((p) => p.seq) as [number, number, number];
      await store.markHandled([sa], 2_000);
      await store.markFailed([
        { seq: sb, error: 'boom', retryAt: 5_000 },
        { seq: sc, error: 'dead', retryAt: null },
      ]);
      expect(await store.getEvent(a.event.event_id)).toMatchObject({
        state: 'handled',
        handledAt: new Date(2_000),
      });
      expect(await store.getEvent(b.event.event_id)).toMatchObject({
        state: 'pending',
        attempts: 1,
        lastError: 'boom',
      });
      expect(await store.getEvent(c.event.event_id)).toMatchObject({ state: 'failed', attempts: 1 });
      expect(await store.due(4_999, 10)).toEqual([]);
      expect(await store.nextDueAt()).toBe(5_000);
      expect((await store.due(5_000, 10)).map((p) => [p.eventId, p.attempts])).toEqual([
        [b.event.event_id, 1],
      ]);
      // Handling twice is harmless: a handled row stays handled with its first time.
      await store.markHandled([sa], 9_000);
      expect((await store.getEvent(a.event.event_id))?.handledAt).toEqual(new Date(2_000));
    });

    it('returns due events oldest first, up to the limit', async () => {
      store = open();
      const entries = Array.from({ length: 5 }, () => entry());
      await store.record(entries, keep);
      expect((await store.due(2_000, 3)).map((p) => p.eventId)).toEqual(
        entries.slice(0, 3).map((e) => e.event.event_id),
      );
    });
  });
}

describe('SQLite inbox on a real file', () => {
  it('survives a reopen with everything it recorded', async () => {
    const file = path.join(tempDir(), 'nested', 'inbox.db');
    const first = createSqliteInbox(file);
    const e = entry();
    await first.record([e], keep);
    await first.close();
    const second = createSqliteInbox(file);
    expect(await second.record([e], keep)).toEqual(['duplicate']);
    expect((await second.due(2_000, 10)).map((p) => p.eventId)).toEqual([e.event.event_id]);
    await second.close();
  });

  it('keeps its files readable by their owner only (0600), new or left 0644 by an earlier version', async () => {
    const file = path.join(tempDir(), 'inbox.db');
    const store = createSqliteInbox(file);
    await store.record([entry()], keep);
    for (const f of [file, `${file}-wal`, `${file}-shm`]) expect(fs.statSync(f).mode & 0o777, f).toBe(0o600);
    await store.close();
    const old = path.join(tempDir(), 'old.db');
    new Database(old).close();
    fs.chmodSync(old, 0o644);
    const reopened = createSqliteInbox(old);
    expect(fs.statSync(old).mode & 0o777).toBe(0o600);
    await reopened.close();
  });

  it('runs in WAL mode, synchronous NORMAL, checkpointing at 4,000 pages at the latest (FULL: 1,000)', async () => {
    const store = createSqliteInbox(path.join(tempDir(), 'inbox.db'));
    expect(store.database.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(store.database.pragma('synchronous', { simple: true })).toBe(1);
    expect(store.database.pragma('wal_autocheckpoint', { simple: true })).toBe(4000);
    expect(store.database.pragma('user_version', { simple: true })).toBe(3);
    await store.close();
    // FULL checkpoints inline, at SQLite's default, between two commits (see createSqliteInbox).
    const full = createSqliteInbox(path.join(tempDir(), 'full.db'), { synchronous: 'FULL' });
    expect(full.database.pragma('wal_autocheckpoint', { simple: true })).toBe(1000);
    await full.close();
  });

  it('writes statuses in batches of their own, soon after the record and always before a read', async () => {
    const store = createSqliteInbox(path.join(tempDir(), 'inbox.db'));
    const rows = () => count(store.database, 'customer_statuses');
    const events = ['A', 'B', 'C'].map((ref) => entry({ ref }));
    expect(await store.record(events, keep)).toEqual(['recorded', 'recorded', 'recorded']);
    expect(rows()).toBe(0); // not in the record transaction
    expect((await store.getStatus('0201001008132685', 'B'))?.eventId).toBe(events[1]?.event.event_id);
    expect(rows()).toBe(3); // the read wrote them first

    await store.record([entry({ ref: 'D' })], keep);
    // and without a read, on its own (a timer soon after the record)
    await waitFor(() => rows() === 4, { what: 'the status written without a read' });
    await store.close();
  });

  it('after a crash, rebuilds the statuses recorded but not yet written from the inbox rows', async () => {
    const file = path.join(tempDir(), 'inbox.db');
    const crashed = createSqliteInbox(file);
    const newer = entry({ ref: 'A', status: 'APPROVED', at: '2025-03-01T00:00:00Z' });
    const older = entry({ ref: 'A', status: 'REJECTED', at: '2025-02-01T00:00:00Z' });
    const other = entry({ ref: 'B', status: 'REJECTED', at: '2025-01-01T00:00:00Z' });
    expect(await crashed.record([newer], keep)).toEqual(['recorded']);
    expect(await crashed.record([older, other], keep)).toEqual(['stale', 'recorded']);
    expect(count(crashed.database, 'customer_statuses')).toBe(0);

    // A second connection opened now finds what the "crashed" one never wrote, as a restart would.
    const restarted = createSqliteInbox(file);
    expect(count(restarted.database, 'customer_statuses')).toBe(2);
    expect(await restarted.getStatus('0201001008132685', 'A')).toMatchObject({
      status: 'APPROVED',
      eventId: newer.event.event_id,
    });
    expect(await restarted.getStatus('0201001008132685', 'B')).toMatchObject({
      status: 'REJECTED',
      reasons: REASONS,
    });
    await restarted.close();
    // The first one writing its held-back statuses late changes nothing: a status never goes back.
    await crashed.close();
    const after = createSqliteInbox(file);
    expect((await after.getStatus('0201001008132685', 'A'))?.eventId).toBe(newer.event.event_id);
    await after.close();
  });

  it('migrates a version 1 file: its statuses are complete, so projection starts after its last event', async () => {
    const file = path.join(tempDir(), 'inbox.db');
    const v1 = createSqliteInbox(file);
    const e = entry({ ref: 'A' });
    await v1.record([e], keep);
    await v1.close();
    const raw = new Database(file);
    raw.exec(
      'DROP TABLE inbox_meta; ALTER TABLE customer_statuses DROP COLUMN event_seq; PRAGMA user_version = 1;',
    );
    raw.close();

    const v2 = createSqliteInbox(file);
    expect(v2.database.pragma('user_version', { simple: true })).toBe(3);
    expect(v2.database.prepare('SELECT projected_seq FROM inbox_meta').get()).toEqual({ projected_seq: 1 });
    expect((await v2.getStatus('0201001008132685', 'A'))?.eventId).toBe(e.event.event_id);
    await v2.close();
  });

  it('migrates a version 2 file: each status learns its event’s arrival, and a later tie still wins', async () => {
    const file = path.join(tempDir(), 'inbox.db');
    const at = '2025-03-01T00:00:00Z';
    const v2 = createSqliteInbox(file);
    await v2.record([entry({ ref: 'A', at }), entry({ ref: 'B', at }), entry({ ref: 'B', at })], keep);
    await v2.close();
    const raw = new Database(file);
    raw.exec('ALTER TABLE customer_statuses DROP COLUMN event_seq; PRAGMA user_version = 2;');
    raw.close();

    const v3 = createSqliteInbox(file);
    expect(v3.database.pragma('user_version', { simple: true })).toBe(3);
    expect(
      v3.database.prepare('SELECT client_customer_ref, event_seq FROM customer_statuses ORDER BY 1').all(),
    ).toEqual([
      { client_customer_ref: 'A', event_seq: 1 },
      { client_customer_ref: 'B', event_seq: 3 },
    ]);
    const tie = entry({ ref: 'A', at, status: 'REJECTED' });
    expect(await v3.record([tie], keep)).toEqual(['recorded']);
    expect((await v3.getStatus('0201001008132685', 'A'))?.eventId).toBe(tie.event.event_id);
    await v3.close();
  });

  it('FULL: record resolves only after an fdatasync of the WAL that started after the commit; NORMAL: none', async () => {
    const dir = tempDir();
    const steps: string[] = [];
    const original = fs.fdatasync;
    let probe: Database.Database | undefined;
    const spy = vi.spyOn(fs, 'fdatasync').mockImplementation((fd, callback) => {
      const file = fs.readlinkSync(`/proc/self/fd/${fd}`);
      const rows = probe && count(probe, 'inbox_events');
      steps.push(`sync ${path.basename(file)} (rows visible: ${rows})`);
      original(fd, (error) => {
        steps.push('synced');
        callback(error);
      });
    });
    try {
      for (const synchronous of ['FULL', 'NORMAL'] as const) {
        steps.length = 0;
        const file = path.join(dir, `${synchronous}.db`);
        const store = createSqliteInbox(file, { synchronous });
        probe = new Database(file, { readonly: true });
        await store.record([entry()], keep).then(() => steps.push('resolved'));
        probe.close();
        probe = undefined;
        await store.close();
        expect(steps).toEqual(
          synchronous === 'FULL'
            ? [`sync ${synchronous}.db-wal (rows visible: 1)`, 'synced', 'resolved']
            : ['resolved'],
        );
      }
    } finally {
      spy.mockRestore();
    }
  });

  it('checkpoints on its own thread: recorded rows reach the main database file without the backstop', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'inbox.db');
    const store = createSqliteInbox(file);
    // Far below the 4,000-page automatic checkpoint of the writing connection.
    await store.record(
      Array.from({ length: 50 }, () => entry()),
      keep,
    );
    // A copy of the database file alone (no -wal) holds exactly what has been checkpointed.
    const checkpointed = () => {
      const copy = path.join(dir, `copy-${Date.now()}.db`);
      fs.copyFileSync(file, copy);
      const db = new Database(copy, { readonly: true });
      try {
        return count(db, 'inbox_events');
      } catch {
        return 0; // not even the schema checkpointed yet
      } finally {
        db.close();
      }
    };
    await waitFor(() => checkpointed() === 50, { what: 'the 50 rows checkpointed' });
    await store.close();
  });

  it('closes cleanly at once, before its checkpointer thread has started: rows kept, no WAL left behind', async () => {
    const dir = tempDir();
    for (let i = 0; i < 3; i++) {
      const file = path.join(dir, `${i}.db`);
      const store = createSqliteInbox(file);
      await store.record([entry(), entry()], keep);
      await store.close(); // the thread is still loading its modules: it is stopped, not waited for
      // The last connection to close folds the WAL back and removes it: the thread's was closed first.
      expect(fs.existsSync(`${file}-wal`)).toBe(false);
      const db = new Database(file, { readonly: true });
      expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
      expect(count(db, 'inbox_events')).toBe(2);
      db.close();
    }
  });

  it('rejects the write (the receiver answers 503) when SQLite cannot commit, and keeps working after', async () => {
    const store = createSqliteInbox(path.join(tempDir(), 'inbox.db'));
    expect(await store.record([entry()], keep)).toEqual(['recorded']);
    // Another connection holds the write lock past busy_timeout: the next commit cannot happen.
    const blocker = new Database(store.database.name);
    blocker.pragma('busy_timeout = 0');
    blocker.exec('BEGIN IMMEDIATE');
    store.database.pragma('busy_timeout = 0');
    await expect(store.record([entry()], keep)).rejects.toThrow(/locked/);
    blocker.exec('ROLLBACK');
    blocker.close();
    expect(await store.record([entry()], keep)).toEqual(['recorded']);
    await store.close();
  });

  it('a status write that fails in the background is noted once, retried, never thrown from its timer', async () => {
    const logger = recordingLogger();
    const store = createSqliteInbox(path.join(tempDir(), 'inbox.db'), { logger });
    store.database.pragma('busy_timeout = 0');
    const first = entry({ ref: 'A' });
    expect(await store.record([first], keep)).toEqual(['recorded']);
    // Before the status is written (a timer, 50 ms on), another connection takes the write lock: the
    // same path as a full disk (SQLITE_FULL) or an I/O error, without needing either.
    const blocker = new Database(store.database.name);
    blocker.exec('BEGIN IMMEDIATE');
    await waitFor(() => store.health().length > 0, { what: 'the failed status write noted' });
    expect(store.health()).toEqual([
      {
        writer: 'status projection',
        since: expect.any(Date),
        error: expect.stringMatching(/^SQLITE_BUSY/),
        failures: 1,
      },
    ]);
    // A read must not miss the status, and cannot write it: it fails as the storage (the server says 503).
    await expect(store.getStatus('0201001008132685', 'A')).rejects.toMatchObject({ code: 'SQLITE_BUSY' });
    await expect(store.probe()).rejects.toMatchObject({ code: 'SQLITE_BUSY' });
    // Retried every second while it fails, and logged once for the whole episode.
    await waitFor(() => (store.health()[0]?.failures ?? 0) >= 3, {
      timeout: 15_000,
      what: 'the status write retried',
    });
    expect(logger.lines.map((l) => [l.level, l.message])).toEqual([
      [
        'error',
        'status projection cannot write: statuses are kept in memory and status reads answered 503 until it can (logged once until it can)',
      ],
    ]);

    blocker.exec('ROLLBACK');
    blocker.close();
    await waitFor(() => store.health().length === 0, { what: 'the retried status write' });
    expect(count(store.database, 'customer_statuses')).toBe(1);
    expect(logger.lines.at(-1)).toMatchObject({ level: 'warn', message: 'status projection writes again' });
    expect((await store.getStatus('0201001008132685', 'A'))?.eventId).toBe(first.event.event_id);
    await store.probe();
    await store.close();
  });

  it('closes while its status write fails; the next open writes the statuses from the inbox rows', async () => {
    const file = path.join(tempDir(), 'inbox.db');
    const store = createSqliteInbox(file, { logger: recordingLogger() });
    store.database.pragma('busy_timeout = 0');
    const held = entry({ ref: 'HELD' });
    await store.record([held], keep);
    const blocker = new Database(file);
    blocker.exec('BEGIN IMMEDIATE');
    await expect(store.close()).resolves.toBeUndefined();
    blocker.exec('ROLLBACK');
    blocker.close();
    const reopened = createSqliteInbox(file);
    expect((await reopened.getStatus('0201001008132685', 'HELD'))?.eventId).toBe(held.event.event_id);
    await reopened.close();
  });

  it('an idle, unclosed inbox does not keep the process alive (the checkpointer thread included)', async () => {
    expect(await exitsWithIdleInbox()).toEqual([0, 'done']);
  });
});
