import { describe, expect, it } from 'vitest';
import { DEFAULTS, loadConfig } from '../../src/config.js';

describe('loadConfig', () => {
  it('applies the defaults', () => {
    const result = loadConfig({});
    expect(result).toMatchObject({
      ok: true,
      config: {
        port: 8080,
        host: DEFAULTS.host,
        databaseUrl: 'sqlite:./data/tpcs.db',
        adminToken: undefined,
        allowPrivateEndpoints: false,
        logLevel: 'info',
      },
    });
    if (result.ok) expect(result.config.retryScheduleMs.length).toBeGreaterThan(3);
  });

  it('reads every setting', () => {
    const result = loadConfig({
      PORT: '3000',
      HOST: '127.0.0.1',
      DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/test',
      ADMIN_TOKEN: 'a-long-enough-operator-token',
      ALLOW_PRIVATE_ENDPOINTS: 'true',
      RETRY_SCHEDULE: '1s, 2s,5m,1h',
      LOG_LEVEL: 'debug',
    });
    expect(result).toEqual({
      ok: true,
      config: {
        port: 3000,
        host: '127.0.0.1',
        databaseUrl: 'postgres://postgres@127.0.0.1:5432/test',
        adminToken: 'a-long-enough-operator-token',
        allowPrivateEndpoints: true,
        retryScheduleMs: [1000, 2000, 300_000, 3_600_000],
        logLevel: 'debug',
      },
    });
  });

  it('reports every problem at once', () => {
    const result = loadConfig({
      PORT: '99999',
      DATABASE_URL: 'mysql://x',
      ADMIN_TOKEN: 'short',
      ALLOW_PRIVATE_ENDPOINTS: 'maybe',
      RETRY_SCHEDULE: '1s,soon',
      LOG_LEVEL: 'loud',
    });
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.problems).toHaveLength(6);
      expect(result.problems.join('\n')).toMatch(
        /PORT[\s\S]*DATABASE_URL[\s\S]*ADMIN_TOKEN[\s\S]*ALLOW_PRIVATE/,
      );
    }
  });

  it.each(['0s', '8d', ','])('refuses RETRY_SCHEDULE=%s', (schedule) => {
    expect(loadConfig({ RETRY_SCHEDULE: schedule }).ok).toBe(false);
  });
});
