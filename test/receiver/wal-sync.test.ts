import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { WalSync } from '../../src/receiver/inbox/wal-sync.js';
import { tempDir } from './helpers.js';

// WalSync against real files and the real fdatasync(2); the spy only counts and passes through.
afterEach(() => {
  vi.restoreAllMocks();
});

function file(): string {
  const name = path.join(tempDir(), 'inbox.db-wal');
  fs.writeFileSync(name, 'frames');
  return name;
}

describe('WalSync', () => {
  it('groups: concurrent commits share syncs, and each waits for one that started after it', async () => {
    const calls = vi.spyOn(fs, 'fdatasync');
    const sync = new WalSync(file());
    const first = sync.durable();
    // Made while the first sync runs: none may be served by it, one more sync serves them all.
    const rest = Array.from({ length: 49 }, () => sync.durable());
    await Promise.all([first, ...rest]);
    expect(calls).toHaveBeenCalledTimes(2);
    await sync.durable();
    expect(calls).toHaveBeenCalledTimes(3);
    await sync.close();
  });

  it('fails every waiting and later commit once an fdatasync fails, and keeps failing', async () => {
    // fsync(2) on a character device fails with EINVAL: a real failure, no fake needed.
    const sync = new WalSync('/dev/null');
    const waiting = [sync.durable(), sync.durable()];
    for (const result of await Promise.allSettled(waiting)) {
      expect(result).toMatchObject({
        status: 'rejected',
        reason: { message: expect.stringMatching(/EINVAL/) },
      });
    }
    await expect(sync.durable()).rejects.toThrow(/fdatasync of the inbox WAL failed \(EINVAL\); restart/);
    await sync.close();
  });

  it('close waits for the sync in flight; a commit after close is refused', async () => {
    const sync = new WalSync(file());
    const pending = sync.durable();
    await sync.close();
    await expect(pending).resolves.toBeUndefined();
    await expect(sync.durable()).rejects.toThrow(/closed/);
    await sync.close();
  });
});
