/** Every command's settings come from the one table: flag > env > default, all listed by --help. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { COMMANDS, settingsOf } from '../../src/config/index.js';
import { freePort, start, tpcs } from './processes.js';

const flat = (text: string) => text.replace(/\s+/g, ' ');

describe('settings of every command', () => {
  it('list flag, env and default in --help', async () => {
    const [serve, worker, migrate] = await Promise.all([
      tpcs(['serve', '--help']),
      tpcs(['worker', '--help']),
      tpcs(['migrate', '--help']),
    ]);
    expect(flat(serve.stdout)).toContain(
      '--port <n> port of tpcs serve; 0 for any free port (default: 8080, env: PORT)',
    );
    expect(flat(serve.stdout)).toContain('env: RETRY_SCHEDULE)');
    expect(flat(serve.stdout)).toContain('(default: 15s, env: DELIVERY_TIMEOUT)');
    expect(flat(worker.stdout)).toContain('(default: sqlite:./data/tpcs.db, env: DATABASE_URL)');
    expect(flat(worker.stdout)).toContain('--delivery-timeout <duration>');
    expect(flat(migrate.stdout)).toContain('--database-url <url>');
  });

  it('are all in the --help of each command that uses them', async () => {
    const helps = await Promise.all(COMMANDS.map((command) => tpcs([...command.split(' '), '--help'])));
    for (const [i, command] of COMMANDS.entries()) {
      const help = flat(helps[i]?.stdout ?? '');
      for (const setting of Object.values(settingsOf(command))) {
        expect(help, command).toContain(setting.flag);
        expect(help, command).toContain(`env: ${setting.env})`);
      }
    }
  });

  it('refuse an invalid --dispatchers or delivery knob with one line naming flag and variable, exit 2', async () => {
    const [abc, zero, fromEnv] = await Promise.all([
      tpcs(['worker', '--dispatchers', 'abc']),
      tpcs(['worker', '--dispatchers', '0']),
      tpcs(['serve'], { env: { DELIVERY_TIMEOUT: 'soon', RETRY_JITTER: 'some' } }),
    ]);
    expect([abc.code, zero.code, fromEnv.code]).toEqual([2, 2, 2]);
    expect(abc.stderr).toBe(
      "tpcs worker: error: --dispatchers 'abc' is invalid (env WORKER_DISPATCHERS): expected an integer from 1 to 64\n",
    );
    expect(zero.stderr).toContain("--dispatchers '0' is invalid");
    expect(fromEnv.stderr.trim().split('\n')).toEqual([
      "tpcs serve: error: RETRY_JITTER='some' is invalid (flag --retry-jitter): expected full or none",
      expect.stringMatching(
        /^tpcs serve: error: DELIVERY_TIMEOUT='soon' is invalid \(flag --delivery-timeout\): expected a duration/,
      ),
    ]);
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

    const badDatabase = await tpcs(['migrate'], { env: { DATABASE_URL: 'mysql://x' } });
    expect(badDatabase.code).toBe(2);
    expect(badDatabase.stderr).toContain("DATABASE_URL='mysql://x' is invalid (flag --database-url)");
  });
});
