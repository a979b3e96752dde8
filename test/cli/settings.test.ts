/** Flags mirror the service's environment variables: flag > env > default, all listed by --help. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { freePort, start, tpcs } from './processes.js';

describe('serve, worker and migrate settings', () => {
  it('list flag, env and default in --help', async () => {
    const [serve, worker, migrate] = await Promise.all([
      tpcs(['serve', '--help']),
      tpcs(['worker', '--help']),
      tpcs(['migrate', '--help']),
    ]);
    const flat = (text: string) => text.replace(/\s+/g, ' ');
    expect(flat(serve.stdout)).toContain(
      '--port <n> port to listen on, 0 for any free port (env PORT, default 8080)',
    );
    expect(flat(serve.stdout)).toContain('(env RETRY_SCHEDULE,');
    expect(flat(worker.stdout)).toContain('(env DATABASE_URL, default sqlite:./data/tpcs.db)');
    expect(flat(migrate.stdout)).toContain('--database-url <url>');
  });

  it('take a flag over the environment, and still report every invalid value with exit 2 (usage error)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tpcs-settings-'));
    const migrated = await tpcs(['migrate', '--database-url', `sqlite:${join(dir, 'm.db')}`], {
      env: { DATABASE_URL: 'mysql://ignored' },
    });
    expect(migrated.code).toBe(0);
    expect(migrated.stdout).toContain('applied');

    const port = await freePort();
    const serve = start(['serve', '--port', String(port), '--host', '127.0.0.1', '--log-level', 'warn'], {
      PORT: 'not-a-port',
      DATABASE_URL: `sqlite:${join(dir, 's.db')}`,
      ADMIN_TOKEN: 'test-admin-token-0123456789',
    });
    try {
      await serve.waitFor(new RegExp(`listening on http://127.0.0.1:${port}`));
    } finally {
      serve.child.kill('SIGTERM');
    }
    expect(await serve.exited).toBe(0);

    const bad = await tpcs(['serve', '--port', 'eighty', '--retry-schedule', 'soon'], {
      env: { DATABASE_URL: `sqlite:${join(dir, 'x.db')}` },
    });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('PORT');
    expect(bad.stderr).toContain('RETRY_SCHEDULE');
  });
});
