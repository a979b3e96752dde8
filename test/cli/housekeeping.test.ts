/** `tpcs serve` housekeeping, as a real process on a real SQLite file: expired idempotency keys go. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openStorage } from '../../src/storage/index.js';
import { freePort, start } from './processes.js';

const answer = { requestHash: 'h', statusCode: 201, body: '{}' };

describe('tpcs serve housekeeping', () => {
  it('prunes idempotency keys older than a day at start, logs the count, and keeps the rest', async () => {
    const url = `sqlite:${join(mkdtempSync(join(tmpdir(), 'tpcs-housekeeping-')), 'tpcs.db')}`;
    const seeded = await openStorage(url);
    const seed = seeded.store;
    const hours = (h: number) => new Date(Date.now() - h * 60 * 60 * 1000);
    await seed.saveIdempotentResponse('P1', 'two-days-old', answer, hours(48));
    await seed.saveIdempotentResponse('P1', 'a-day-and-an-hour-old', answer, hours(25));
    await seed.saveIdempotentResponse('P1', 'an-hour-old', answer, hours(1));
    await seeded.close();

    const serve = start(['serve', '--port', String(await freePort()), '--host', '127.0.0.1'], {
      DATABASE_URL: url,
      ADMIN_TOKEN: 'test-admin-token-0123456789',
      LOG_LEVEL: 'info',
    });
    try {
      const line = await serve.waitFor(/^.*expired idempotency keys pruned.*$/m);
      expect(JSON.parse(line[0])).toMatchObject({ count: 2, level: 30 });
    } finally {
      serve.child.kill('SIGTERM');
    }
    expect(await serve.exited).toBe(0);

    const reopened = await openStorage(url);
    const after = reopened.store;
    try {
      const kept = [];
      for (const key of ['two-days-old', 'a-day-and-an-hour-old', 'an-hour-old'])
        if (await after.getIdempotentResponse('P1', key)) kept.push(key);
      expect(kept).toEqual(['an-hour-old']);
    } finally {
      await reopened.close();
    }
  });
});
