import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/index.js';

describe('loadConfig', () => {
  it('applies the defaults', () => {
    const result = loadConfig({});
    expect(result).toMatchObject({
      ok: true,
      config: {
        port: 8080,
        host: '0.0.0.0',
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
      RETRY_JITTER: 'none',
      DELIVERY_TIMEOUT: '2s',
      DELIVERY_CONCURRENCY: '16',
      DELIVERY_PER_ENDPOINT: '4',
      DELIVERY_LEASE: '10s',
      DELIVERY_POLL: '50ms',
      ENDPOINT_FAILURE_WINDOW: '1d',
      DELIVERY_DISPATCHERS: '2',
      DASHBOARD_SESSION_TTL: '1h',
      EVENT_STREAMS_PER_PARTNER: '2',
      EVENT_STREAMS_MAX: '10',
      EVENT_STREAM_DRAIN_TIMEOUT: '5s',
      AUTH_FAILURE_LIMIT: '5',
      PARTNER_RATE_LIMIT: '100',
      TRUST_PROXY: '10.0.0.0/8',
      ENDPOINTS_PER_PARTNER: '5',
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
        delivery: {
          jitter: 'none',
          timeoutMs: 2000,
          concurrency: 16,
          perEndpoint: 4,
          leaseMs: 10_000,
          pollIntervalMs: 50,
          failureWindowMs: 86_400_000,
          dispatchers: 2,
          alertEmailFrom: 'tpcs <alerts@localhost>',
        },
        dashboardSessionTtlMs: 3_600_000,
        eventStreams: { perPartner: 2, total: 10, drainTimeoutMs: 5000 },
        rateLimits: { authFailures: 5, partnerRequests: 100 },
        trustProxy: ['10.0.0.0/8'],
        endpointsPerPartner: 5,
        portal: { linkTtlMs: 900_000, publicUrl: undefined, frameAncestors: [] },
        alertRetentionMs: 30 * 86_400_000,
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

  it('takes a flag over its environment variable', () => {
    expect(loadConfig({ PORT: 'not-a-port', LOG_LEVEL: 'warn' }, { port: '9090' })).toMatchObject({
      ok: true,
      config: { port: 9090, logLevel: 'warn' },
    });
  });

  it('refuses the delivery knobs like any other setting', () => {
    const result = loadConfig({
      DELIVERY_TIMEOUT: 'soon',
      DELIVERY_CONCURRENCY: '0',
      RETRY_JITTER: 'some',
      ENDPOINT_FAILURE_WINDOW: '10s',
    });
    expect(result.ok ? [] : result.problems.map((p) => p.split('=')[0])).toEqual([
      'RETRY_JITTER',
      'DELIVERY_TIMEOUT',
      'DELIVERY_CONCURRENCY',
      'ENDPOINT_FAILURE_WINDOW',
    ]);
  });
});
