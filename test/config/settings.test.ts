/** The one table of settings, and the one way of reading them: flag > environment > default. */
import { describe, expect, it } from 'vitest';
import {
  COMMANDS,
  loadConfig,
  readOptions,
  readSettings,
  SETTINGS,
  type Setting,
  settingsOf,
} from '../../src/config/index.js';
import { duration, integer, secretList } from '../../src/config/values.js';
import { DEFAULT_RETRY_SCHEDULE_MS } from '../../src/webhooks/dispatcher/retry-policy.js';
import { DEFAULT_ATTEMPT_TIMEOUT_MS } from '../../src/webhooks/dispatcher/sender.js';

const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const ROWS = Object.entries(SETTINGS) as [string, Setting][];

describe('the settings table', () => {
  it('keeps the pinned names and defaults (PRODUCT.md)', () => {
    const byEnv = (env: string) => ROWS.find(([, s]) => s.env === env)?.[1];
    expect(byEnv('PORT')?.default).toBe('8080');
    expect(byEnv('DATABASE_URL')?.default).toBe('sqlite:./data/tpcs.db');
    expect(byEnv('ALLOW_PRIVATE_ENDPOINTS')?.default).toBe('false');
    expect(byEnv('HOST')?.default).toBe('0.0.0.0');
    expect(byEnv('ADMIN_TOKEN')?.default).toBeUndefined();
    expect(byEnv('RETRY_SCHEDULE')).toBeDefined();
  });

  it('gives every command distinct flags and environment variables, each setting a description', () => {
    for (const command of COMMANDS) {
      const specs = Object.values(settingsOf(command));
      const longFlags = specs.map((s) => /--[\w-]+/.exec(s.flag)?.[0]);
      expect(new Set(longFlags).size, command).toBe(specs.length);
      expect(new Set(specs.map((s) => s.env)).size, command).toBe(specs.length);
    }
    for (const [name, s] of ROWS) {
      expect(s.env, name).toMatch(/^[A-Z][A-Z0-9_]*$/);
      expect(s.description.length, name).toBeGreaterThan(10);
      expect(Object.keys(s.commands).length, name).toBeGreaterThan(0);
    }
  });

  it('reads every default through its own schema, and each command starts with no setting given', () => {
    for (const command of COMMANDS) {
      const result = readSettings(command, {}, {});
      const required = Object.entries(settingsOf(command)).filter(([, s]) => s.required);
      if (required.length === 0) expect(result, command).toMatchObject({ ok: true });
      else expect(result.ok ? [] : result.problems, command).toHaveLength(required.length);
    }
  });

  it('has the defaults the dispatcher was built with', () => {
    const serve = readSettings('serve', {}, {});
    if (!serve.ok) throw new Error(serve.problems.join('\n'));
    expect(serve.values.retryScheduleMs).toEqual(DEFAULT_RETRY_SCHEDULE_MS);
    expect(serve.values.deliveryTimeoutMs).toBe(DEFAULT_ATTEMPT_TIMEOUT_MS);
    expect(serve.values).toMatchObject({
      deliveryConcurrency: 256,
      deliveryPerEndpoint: 8,
      deliveryPollMs: 500,
      endpointFailureWindowMs: 5 * 24 * 60 * 60 * 1000,
      retryJitter: 'full',
      dispatchers: 1,
    });
    // No lease of its own: the dispatcher derives it from the timeout.
    expect(serve.values.deliveryLeaseMs).toBeUndefined();
  });
});

describe('reading settings', () => {
  it('takes the flag over the environment, and the environment over the default', () => {
    const env = { DATABASE_URL: 'sqlite:/tmp/env.db', DELIVERY_TIMEOUT: '2s', RETRY_JITTER: 'NONE' };
    const result = readSettings('worker', { databaseUrl: 'postgres://u@h/db', workerDispatchers: '3' }, env);
    expect(result).toMatchObject({
      ok: true,
      values: {
        databaseUrl: 'postgres://u@h/db',
        workerDispatchers: 3,
        deliveryTimeoutMs: 2000,
        retryJitter: 'none',
        deliveryPollMs: 500,
        allowPrivateEndpoints: false,
      },
    });
  });

  it('counts an empty flag or environment variable as not given', () => {
    const result = readSettings('serve', { port: '' }, { PORT: '  ', ALLOW_PRIVATE_ENDPOINTS: '' });
    expect(result).toMatchObject({ ok: true, values: { port: 8080, allowPrivateEndpoints: false } });
  });

  it('reads a bare [bool] flag as true', () => {
    expect(readSettings('serve', { allowPrivateEndpoints: true }, {})).toMatchObject({
      ok: true,
      values: { allowPrivateEndpoints: true },
    });
  });

  it('reports every invalid value at once, one line naming the flag, the variable and what was expected', () => {
    const result = readSettings('worker', { workerDispatchers: 'abc' }, { DELIVERY_POLL: 'often' });
    expect(result).toEqual({
      ok: false,
      problems: [
        "DELIVERY_POLL='often' is invalid (flag --delivery-poll): expected a duration such as 500ms, 15s or 5m, from 1ms to 1m",
        "--dispatchers 'abc' is invalid (env WORKER_DISPATCHERS): expected an integer from 1 to 64",
      ],
    });
  });

  it('never repeats an invalid secret in its problem (logs keep what a process prints)', () => {
    const key = 'Zm9yZ2VkLWtleS10aGF0LWlzLXRvby1zaG9ydA';
    const result = readSettings(
      'serve',
      { secretsKey: key },
      { ADMIN_TOKEN: 'short token', SECRETS_OLD_KEYS: 'not a key' },
    );
    expect(result.ok).toBe(false);
    const problems = result.ok ? [] : result.problems;
    expect(problems.map((p) => p.split(' is invalid')[0])).toEqual([
      `--secrets-key (${key.length} characters, not shown)`,
      'SECRETS_OLD_KEYS=(9 characters, not shown)',
      'ADMIN_TOKEN=(11 characters, not shown)',
    ]);
    for (const p of problems)
      for (const secret of [key, 'short token', 'not a key']) expect(p).not.toContain(secret);
  });

  it.each([
    ['abc', 'worker'],
    ['0', 'worker'],
    ['65', 'worker'],
    ['-1', 'serve'],
    ['1.5', 'serve'],
  ] as const)('refuses --dispatchers %s in %s', (value, command) => {
    const flag = command === 'worker' ? 'workerDispatchers' : 'dispatchers';
    expect(readSettings(command, { [flag]: value }, {}).ok).toBe(false);
  });

  it('lets serve run as an API only (--dispatchers 0), and the environment say so too', () => {
    expect(loadConfig({ DELIVERY_DISPATCHERS: '0' })).toMatchObject({
      ok: true,
      config: { delivery: { dispatchers: 0 } },
    });
  });

  it('names a required setting that is missing, with its variable', () => {
    expect(readSettings('replay', {}, { TPCS_TOKEN: 'tpcs_pk_x' })).toEqual({
      ok: false,
      problems: ["--customer-id is required (env TPCS_CUSTOMER_ID): the partner's customer_id"],
    });
  });

  it('joins the secrets of a repeated flag, each occurrence a comma list, and checks each', () => {
    const other = 'whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD';
    expect(readSettings('receive', { webhookSecrets: [SECRET, `${other}, ${SECRET}`] }, {})).toMatchObject({
      ok: true,
      values: { webhookSecrets: [SECRET, other, SECRET] },
    });
    const bad = readSettings('verify', { webhookSecrets: [SECRET, 'nope'] }, {});
    expect(bad.ok ? [] : bad.problems).toEqual([
      expect.stringMatching(
        /^--secret \(4 characters, not shown\) is invalid \(env WEBHOOK_SECRET\): expected a whsec_… secret/,
      ),
    ]);
    expect(readSettings('receive', {}, { WEBHOOK_SECRET: `${SECRET},${other}` })).toMatchObject({
      ok: true,
      values: { webhookSecrets: [SECRET, other] },
    });
  });

  it('reads a command’s own arguments the same way', () => {
    const args = {
      timeout: {
        flag: '--timeout <ms>',
        description: 'per request',
        schema: integer(1, 1000),
        default: '10',
      },
      wait: { flag: '--wait <s>', description: 'then wait', schema: duration('1s', '1h') },
    };
    expect(readOptions(args, {}, {})).toEqual({ ok: true, values: { timeout: 10 } });
    expect(readOptions(args, { timeout: '5000', wait: '2h' }, {})).toEqual({
      ok: false,
      problems: [
        "--timeout '5000' is invalid: expected an integer from 1 to 1000",
        "--wait '2h' is invalid: expected a duration such as 500ms, 15s or 5m, from 1s to 1h",
      ],
    });
  });
});

describe('the value schemas', () => {
  it.each([
    ['15s', 15_000],
    ['500ms', 500],
    ['5m', 300_000],
    ['1.5s', 1500],
    ['2', 2000],
  ])('read the duration %s', (text, ms) => {
    expect(duration('1ms', '1d').parse(text)).toBe(ms);
  });

  it.each(['soon', '0s', '2d', '-1s', ''])('refuse the duration %j', (text) => {
    expect(duration('1ms', '1d').safeParse(text).success).toBe(false);
  });

  it('refuse an empty secret list', () => {
    expect(secretList.safeParse(' , ').error?.issues[0]?.message).toBe(
      'expected one or more whsec_… secrets, comma-separated',
    );
  });
});
