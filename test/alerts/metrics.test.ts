/**
 * The failure alerts' counters as an operator reads them, on each dialect: a running service
 * (`startServer`: the API on a socket with the dispatcher and the alert loops beside it), an endpoint
 * that fails, the partner's notification endpoint that answers and an SMTP server that refuses every
 * mail; then `GET /metrics` is scraped over HTTP and parsed. Counting in a registry `/metrics` does not
 * serve once reached users unnoticed, so this reads the scrape, not the registry.
 */
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { saveNotificationSettings } from '../../src/alerts/notifications.js';
import { loadConfig } from '../../src/config/index.js';
import { type RunningServer, startServer } from '../../src/http/server.js';
import { type Sink, startSink } from '../dispatcher/sink.js';
import { DIALECTS, type FreshDatabaseUrl, freshUrl, SECRETS_KEY, skipReason } from '../support/databases.js';
import { decide, newEndpoint, newPartner, newThirdParty } from '../support/fixtures.js';

/** An SMTP server that refuses every message with a 550, and counts them. */
async function refusingSmtp(): Promise<{ url: string; refused: () => number; close(): Promise<void> }> {
  let refused = 0;
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    onData(stream, _session, callback) {
      stream.resume();
      stream.on('end', () => {
        refused++;
        callback(Object.assign(new Error('mailbox unavailable'), { responseCode: 550 }));
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.server.address() as AddressInfo).port;
  return {
    url: `smtp://127.0.0.1:${port}`,
    refused: () => refused,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** The samples of a Prometheus text exposition: `value('name', {label: 'x'})`, undefined when absent. */
function parseMetrics(text: string) {
  const samples = new Map<string, number>();
  const key = (name: string, labels: Record<string, string>) =>
    `${name}{${Object.entries(labels)
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([k, v]) => `${k}=${v}`)
      .join(',')}}`;
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m?.[1] || m[3] === undefined) continue;
    const labels = Object.fromEntries(
      [...(m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((l) => [l[1] ?? '', l[2] ?? '']),
    );
    samples.set(key(m[1], labels), Number(m[3]));
  }
  return {
    value: (name: string, labels: Record<string, string> = {}) => samples.get(key(name, labels)),
    help: (name: string) => new RegExp(`^# HELP ${name} (.+)$`, 'm').exec(text)?.[1],
    type: (name: string) => new RegExp(`^# TYPE ${name} (\\w+)$`, 'm').exec(text)?.[1],
  };
}

for (const dialect of DIALECTS) {
  describe.skipIf(skipReason(dialect) !== undefined)(`failure alert metrics on /metrics (${dialect})`, () => {
    let database: FreshDatabaseUrl | undefined;
    let service: RunningServer | undefined;
    let sink: Sink;
    let smtp: Awaited<ReturnType<typeof refusingSmtp>>;

    beforeAll(async () => {
      sink = await startSink();
      smtp = await refusingSmtp();
      database = await freshUrl(dialect);
      const config = loadConfig({
        DATABASE_URL: database.url,
        PORT: '0',
        HOST: '127.0.0.1',
        ADMIN_TOKEN: 'metrics-admin-token-0123456789',
        ALLOW_PRIVATE_ENDPOINTS: 'true',
        RETRY_SCHEDULE: '100ms',
        RETRY_JITTER: 'none',
        DELIVERY_POLL: '50ms',
        SMTP_URL: smtp.url,
        LOG_LEVEL: 'silent',
      });
      if (!config.ok) throw new Error(config.problems.join('\n'));
      service = await startServer(config.config, {
        print: () => {},
        ...(dialect === 'postgres' ? { secrets: { key: SECRETS_KEY } } : {}),
      });
    });
    afterAll(async () => {
      await service?.close();
      await database?.drop();
      await smtp?.close();
      await sink?.close();
    });

    it('counts alerts raised by event type and sends by channel and outcome, with their help', async () => {
      if (!service) throw new Error('the service did not start');
      const { store, url } = service;
      const partner = await newPartner(store);
      sink.on('/down', () => ({ status: 500 }));
      await newEndpoint(store, partner, sink.url('/down'));
      await saveNotificationSettings(store, partner, {
        webhook_url: sink.url('/alerts'),
        email: 'ops@partner.example',
      });
      await decide(store, partner, await newThirdParty(store, partner), 'APPROVED');

      const scrape = async () => {
        const res = await fetch(`${url}/metrics`);
        expect(res.status).toBe(200);
        return parseMetrics(await res.text());
      };
      // two alerts (endpoint.failing at the first failure, delivery.failed after the retry): each
      // posted once, each refused twice by the SMTP server (an attempt and its one retry)
      await expect
        .poll(
          async () => {
            const m = await scrape();
            return [
              m.value('tpcs_alert_sends_total', { channel: 'webhook', outcome: 'sent' }),
              m.value('tpcs_alert_sends_total', { channel: 'email', outcome: 'failed' }),
            ];
          },
          { timeout: 20_000, interval: 100 },
        )
        .toEqual([2, 2]);

      const m = await scrape();
      expect(m.value('tpcs_alerts_raised_total', { event_type: 'endpoint.failing' })).toBe(1);
      expect(m.value('tpcs_alerts_raised_total', { event_type: 'delivery.failed' })).toBe(1);
      // every event type is shown from the start
      expect(m.value('tpcs_alerts_raised_total', { event_type: 'endpoint.recovered' })).toBe(0);
      expect(m.value('tpcs_alert_sends_total', { channel: 'email', outcome: 'retry' })).toBe(2);
      expect(m.value('tpcs_alert_sends_total', { channel: 'email', outcome: 'sent' })).toBe(0);
      expect(m.value('tpcs_alert_sends_total', { channel: 'webhook', outcome: 'failed' })).toBe(0);
      expect(smtp.refused()).toBe(4);
      expect(sink.received.filter((r) => r.path === '/alerts')).toHaveLength(2);
      for (const name of ['tpcs_alerts_raised_total', 'tpcs_alert_sends_total']) {
        expect(m.type(name), name).toBe('counter');
        expect(m.help(name), name).toMatch(/^Failure alert/);
      }
      // beside the dispatcher's, in the same scrape
      expect(m.value('tpcs_deliveries_total', { status: 'failed' })).toBe(1);
    });
  });
}
