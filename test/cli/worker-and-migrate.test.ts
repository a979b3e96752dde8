/**
 * What `tpcs migrate` and `tpcs worker` print, as real processes on a temporary SQLite file: migrate
 * names the database it migrated (the file, not just "sqlite:"); the worker logs JSON lines with
 * pino's numeric levels, as `tpcs serve` does, and its last "stopped" line whatever LOG_LEVEL says.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { start, tpcs } from './processes.js';

describe('tpcs migrate and tpcs worker output', () => {
  it('migrate names the file it migrated, and says it is up to date the second time', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'tpcs-migrate-')), 'tpcs.db');
    const first = await tpcs(['migrate', '--database-url', `sqlite:${file}`]);
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(
      new RegExp(`^tpcs migrate: applied \\d+ migration\\(s\\) to SQLite ${file}:\\n`),
    );
    const again = await tpcs(['migrate'], { env: { DATABASE_URL: `sqlite:${file}` } });
    expect(again.stdout).toBe(`tpcs migrate: SQLite ${file} is up to date\n`);
  });

  it.each(['info', 'warn'])(
    'worker logs numeric levels (LOG_LEVEL=%s), and its counts when stopped',
    async (level) => {
      const url = `sqlite:${join(mkdtempSync(join(tmpdir(), 'tpcs-worker-')), 'tpcs.db')}`;
      const worker = start(['worker'], { DATABASE_URL: url, LOG_LEVEL: level });
      try {
        await worker.waitFor(/^tpcs worker: delivering \(.+\) on sqlite$/m);
      } finally {
        worker.child.kill('SIGTERM');
      }
      expect(await worker.exited).toBe(0);
      const lines = worker.output.stdout
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as { level: unknown; msg: string; service: string; counts?: unknown });
      expect(lines.length).toBeGreaterThan(0);
      for (const line of lines) expect(typeof line.level, JSON.stringify(line)).toBe('number');
      expect(lines.at(-1)).toMatchObject({
        level: 30,
        service: 'tpcs-worker',
        msg: 'stopped',
        counts: [{ attempts: 0, delivered: 0 }],
      });
      if (level === 'warn')
        expect(lines.filter((l) => (l.level as number) < 40).map((l) => l.msg)).toEqual(['stopped']);
    },
  );
});
