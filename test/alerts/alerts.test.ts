/**
 * Failure alerts end to end, in process, on each dialect: the delivery service (dispatcher + alert
 * loops) on a real database, real HTTP receivers (the failing endpoint and the partner's notification
 * endpoint) and a real SMTP server. Every alert on the webhook channel is verified with the
 * notification secret; the failing endpoint never receives one.
 */
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { AlertEvent } from '../../src/alerts/events.js';
import { saveNotificationSettings } from '../../src/alerts/notifications.js';
import { buildApp } from '../../src/http/app.js';
import { generateToken, hashToken } from '../../src/http/auth.js';
import { createVerifier } from '../../src/signing/index.js';
import { type DeliveryService, startDeliveryService } from '../../src/webhooks/dispatcher/service.js';
import { type Received, type Sink, startSink } from '../dispatcher/sink.js';
import { DIALECTS, openDatabase, skipReason, type TestDatabase } from '../support/databases.js';
import { decide, newEndpoint, newPartner, newThirdParty } from '../support/fixtures.js';
import { waitFor } from '../support/wait-for.js';

interface Mail {
  to: string[];
  raw: string;
  alertId: string | undefined;
}

async function startSmtp(): Promise<{ url: string; mails: Mail[]; close(): Promise<void> }> {
  const mails: Mail[] = [];
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        const raw = Buffer.concat(chunks).toString('utf8');
        mails.push({
          to: session.envelope.rcptTo.map((r) => r.address),
          raw,
          alertId: /^X-Tpcs-Alert-Id: (.+)$/im.exec(raw)?.[1]?.trim(),
        });
        callback();
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.server.address() as AddressInfo).port;
  return {
    url: `smtp://127.0.0.1:${port}`,
    mails,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

const EMAIL = 'ops@partner.example';

/** An alert as received, its `data` read loosely (each test knows its type). */
type Alert = Omit<AlertEvent, 'data'> & {
  data: Record<string, unknown> & { url: string; failing_since?: string; disable_at?: string };
};

for (const dialect of DIALECTS) {
  describe.skipIf(skipReason(dialect) !== undefined)(`failure alerts on ${dialect}`, () => {
    let db: TestDatabase;
    let sink: Sink;
    let smtp: Awaited<ReturnType<typeof startSmtp>>;
    let service: DeliveryService | undefined;

    beforeAll(async () => {
      db = await openDatabase(dialect);
      sink = await startSink();
      smtp = await startSmtp();
    });
    afterEach(async () => {
      await service?.stop(1000);
      service = undefined;
    });
    afterAll(async () => {
      await sink?.close();
      await smtp?.close();
      await db?.dispose();
    });

    /** A partner with one endpoint at `/ep-…` and alerts to `/alerts-…` and by email. */
    async function setUp(name: string) {
      const partner = await newPartner(db.store);
      const endpointPath = `/ep-${name}-${dialect}`;
      const alertPath = `/alerts-${name}-${dialect}`;
      const endpointId = await newEndpoint(db.store, partner, sink.url(endpointPath));
      const { secret } = await saveNotificationSettings(db.store, partner, {
        webhook_url: sink.url(alertPath),
        email: EMAIL,
      });
      if (secret === null) throw new Error('no notification secret');
      const verify = createVerifier([secret]);
      const alerts = (type?: string): Alert[] =>
        sink.received
          .filter((r) => r.path === alertPath)
          .map((r: Received) => {
            const result = verify(r.headers as Record<string, string>, r.body);
            if (!result.ok) throw new Error(`alert signature does not verify: ${result.code}`);
            return JSON.parse(r.body) as Alert;
          })
          .filter((a) => type === undefined || a.event_type === type);
      const toEndpoint = () => sink.received.filter((r) => r.path === endpointPath);
      const send = async () => decide(db.store, partner, await newThirdParty(db.store, partner), 'APPROVED');
      return { partner, endpointId, endpointPath, alertPath, alerts, toEndpoint, send };
    }

    async function start(retryScheduleMs: number[], failureWindowMs = 3600_000) {
      service = await startDeliveryService({
        queue: db.queue,
        store: db.store,
        allowPrivateEndpoints: true,
        retryScheduleMs,
        tuning: { pollIntervalMs: 50, timeoutMs: 2000, jitter: 'none', failureWindowMs, smtpUrl: smtp.url },
      });
      return service;
    }

    it('tells failing once (signed, and by email), never to the failing endpoint, then recovered', async () => {
      const t = await setUp('failing');
      let failing = true;
      sink.on(t.endpointPath, () => ({ status: failing ? 500 : 200 }));
      await start([300, 300, 300, 300, 300, 300]);
      await t.send();
      const [alert] = await waitFor(
        () => t.alerts('endpoint.failing').length > 0 && t.alerts('endpoint.failing'),
        {
          what: 'endpoint.failing',
        },
      );
      const firstFailure = t.toEndpoint()[0]?.at ?? 0;
      const alertAt = sink.received.find((r) => r.path === t.alertPath)?.at ?? 0;
      console.log(`${dialect}: first failure to endpoint.failing: ${alertAt - firstFailure} ms`);
      expect(alert?.data).toMatchObject({ customer_id: t.partner, endpoint_id: t.endpointId });
      expect(alert?.data.url).toBe(sink.url(t.endpointPath));
      const mail = await waitFor(() => smtp.mails.find((m) => m.alertId === alert?.event_id), {
        what: 'the email of endpoint.failing',
      });
      expect(mail.to).toEqual([EMAIL]);

      // more failed attempts: still one endpoint.failing (at most one an hour)
      await waitFor(() => t.toEndpoint().length >= 3, { what: 'two more failed attempts' });
      failing = false;
      const [recovered] = await waitFor(
        () => t.alerts('endpoint.recovered').length > 0 && t.alerts('endpoint.recovered'),
        { what: 'endpoint.recovered' },
      );
      expect(recovered?.data).toMatchObject({ endpoint_id: t.endpointId, failing_since: expect.any(String) });

      // failing again within the hour: not told again
      failing = true;
      const before = t.toEndpoint().length;
      await t.send();
      await waitFor(() => t.toEndpoint().length >= before + 2, { what: 'the new failing episode' });
      await service?.stop(1000);
      service = undefined;
      expect(t.alerts('endpoint.failing')).toHaveLength(1);
      expect(t.toEndpoint().every((r) => !r.body.includes('"endpoint.'))).toBe(true);
      const listed = await db.store.listAlerts(t.partner, 50);
      expect(
        listed.filter((a) => a.eventType === 'endpoint.failing').map((a) => [a.channel, a.status]),
      ).toEqual(
        expect.arrayContaining([
          ['webhook', 'sent'],
          ['email', 'sent'],
        ]),
      );

      // the operator sees them in the dashboard: where the partner is told, and what it was told
      const adminToken = generateToken('admin');
      const app = buildApp({ store: db.store, adminTokenHash: hashToken(adminToken) });
      try {
        const login = await app.inject({
          method: 'POST',
          url: '/dashboard/login',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          payload: new URLSearchParams({ token: adminToken }).toString(),
        });
        const cookie = String(login.headers['set-cookie']).split(';')[0] ?? '';
        const page = await app.inject({ method: 'GET', url: '/dashboard/endpoints', headers: { cookie } });
        expect(page.statusCode).toBe(200);
        const section = page.body.slice(page.body.indexOf('id="alerts-heading"'));
        expect(section).toContain(sink.url(t.alertPath));
        expect(section).toContain(EMAIL);
        expect(section).toMatch(
          /<td data-label="Alert">endpoint\.failing<\/td>[\s\S]*?<td data-label="Status">sent/,
        );
        expect(section).toMatch(/<td data-label="Alert">endpoint\.recovered<\/td>/);
      } finally {
        await app.close();
      }
    });

    it('tells endpoint.disabled when an endpoint answers 410', async () => {
      const t = await setUp('gone');
      sink.on(t.endpointPath, () => ({ status: 410 }));
      await start([300]);
      await t.send();
      const [disabled] = await waitFor(
        () => t.alerts('endpoint.disabled').length > 0 && t.alerts('endpoint.disabled'),
        { what: 'endpoint.disabled' },
      );
      expect(disabled?.data).toMatchObject({
        endpoint_id: t.endpointId,
        reason: expect.stringContaining('410'),
      });
      await waitFor(() => t.alerts('delivery.failed').length > 0, { what: 'delivery.failed after a 410' });
    });

    it('tells delivery.failed when the retries are exhausted', async () => {
      const t = await setUp('exhausted');
      sink.on(t.endpointPath, () => ({ status: 500 }));
      await start([200]);
      const eventId = await t.send();
      const [failed] = await waitFor(
        () => t.alerts('delivery.failed').length > 0 && t.alerts('delivery.failed'),
        {
          what: 'delivery.failed',
        },
      );
      expect(failed?.data).toMatchObject({
        endpoint_id: t.endpointId,
        delivery: { event_id: eventId, attempt_count: 2, last_status_code: 500, last_error: 'HTTP 500' },
      });
      await waitFor(() => smtp.mails.some((m) => m.alertId === failed?.event_id), { what: 'its email' });
    });

    it('warns before disabling (half a window shorter than two days), then tells disabled', async () => {
      const t = await setUp('disabling');
      sink.on(t.endpointPath, () => ({ status: 500 }));
      await start(
        Array.from({ length: 40 }, () => 250),
        3000,
      );
      await t.send();
      const [failing] = await waitFor(
        () => t.alerts('endpoint.failing').length > 0 && t.alerts('endpoint.failing'),
        {
          what: 'endpoint.failing',
        },
      );
      const [warning] = await waitFor(
        () => t.alerts('endpoint.disabling').length > 0 && t.alerts('endpoint.disabling'),
        { what: 'endpoint.disabling', timeout: 15_000 },
      );
      const since = Date.parse(warning?.data.failing_since ?? '');
      expect(Date.parse(warning?.data.disable_at ?? '')).toBe(since + 3000);
      // not before half the window had passed
      expect(Date.parse(warning?.event_timestamp ?? '')).toBeGreaterThanOrEqual(since + 1500);
      expect(failing?.data).toMatchObject({ disable_at: warning?.data.disable_at });
      await waitFor(() => t.alerts('endpoint.disabled').length > 0, {
        what: 'endpoint.disabled',
        timeout: 15_000,
      });
      expect(t.alerts('endpoint.disabling')).toHaveLength(1);
    });

    it('skips a notification endpoint that is the endpoint alerted about', async () => {
      const partner = await newPartner(db.store);
      const path = `/same-${dialect}`;
      await saveNotificationSettings(db.store, partner, { webhook_url: sink.url(path), email: null });
      // an endpoint created afterwards with the notification URL (the API refuses the other order)
      await newEndpoint(db.store, partner, sink.url(path));
      sink.on(path, () => ({ status: 500 }));
      await start([200]);
      await decide(db.store, partner, await newThirdParty(db.store, partner), 'APPROVED');
      await waitFor(
        async () =>
          (
            await db.store.listDeliveries(partner, (await db.store.listEndpoints(partner))[0]?.id ?? '', {
              limit: 1,
            })
          ).items[0]?.status === 'failed',
        { what: 'the delivery failing' },
      );
      await service?.stop(1000);
      service = undefined;
      expect(sink.received.filter((r) => r.path === path).every((r) => !r.body.includes('"endpoint.'))).toBe(
        true,
      );
      expect(
        sink.received.filter((r) => r.path === path).every((r) => !r.body.includes('"delivery.failed"')),
      ).toBe(true);
    });
  });
}
