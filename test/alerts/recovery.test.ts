/**
 * `delivery.failed` survives a crash between the queue's commit and the recorder's write, on each
 * dialect: the completion is committed through the queue as a dispatcher would, then nothing (the
 * process died); the sweep raises the lost alert once per channel, and again finds nothing. And a
 * normal run, with the sweep racing the recorder every few milliseconds, still tells each failure
 * exactly once per channel (the store keeps one alert per failure and channel).
 */
import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { AlertEvent } from '../../src/alerts/events.js';
import { saveNotificationSettings } from '../../src/alerts/notifications.js';
import { type AlertService, startAlertService } from '../../src/alerts/service.js';
import { sweepAlerts } from '../../src/alerts/sweep.js';
import { decideAlerts } from '../../src/alerts/transitions.js';
import { createVerifier } from '../../src/signing/index.js';
import type { EndpointAlertView } from '../../src/storage/store.js';
import { createDispatcher, type Dispatcher } from '../../src/webhooks/dispatcher/dispatcher.js';
import { createRetryPolicy } from '../../src/webhooks/dispatcher/retry-policy.js';
import { createSender, type Sender } from '../../src/webhooks/dispatcher/sender.js';
import { type Sink, startSink } from '../dispatcher/sink.js';
import { DIALECTS, openDatabase, skipReason, type TestDatabase } from '../support/databases.js';
import { decide, newEndpoint, newPartner, newThirdParty } from '../support/fixtures.js';
import { waitFor } from '../support/wait-for.js';

const WINDOW = 3600_000;
const rules = (view: EndpointAlertView) =>
  decideAlerts(view, { failureWindowMs: WINDOW, now: new Date(), newId: randomUUID });

for (const dialect of DIALECTS) {
  describe.skipIf(skipReason(dialect) !== undefined)(`delivery.failed after a crash (${dialect})`, () => {
    let db: TestDatabase;
    let sink: Sink;
    const running: {
      dispatcher?: Dispatcher | undefined;
      alerts?: AlertService | undefined;
      sender?: Sender | undefined;
    } = {};

    beforeAll(async () => {
      db = await openDatabase(dialect);
      sink = await startSink();
    });
    afterEach(async () => {
      await running.dispatcher?.stop(1000);
      await running.alerts?.stop();
      await running.sender?.close();
      Object.assign(running, { dispatcher: undefined, alerts: undefined, sender: undefined });
    });
    afterAll(async () => {
      await sink?.close();
      await db?.dispose();
    });

    /** A partner wanting alerts by webhook and by email, with one endpoint that answers 500. */
    async function setUp(name: string) {
      const partner = await newPartner(db.store);
      const endpointPath = `/ep-${name}-${dialect}`;
      const alertPath = `/alerts-${name}-${dialect}`;
      sink.on(endpointPath, () => ({ status: 500 }));
      const endpointId = await newEndpoint(db.store, partner, sink.url(endpointPath));
      const { secret } = await saveNotificationSettings(db.store, partner, {
        webhook_url: sink.url(alertPath),
        email: 'ops@partner.example',
      });
      if (secret === null) throw new Error('no notification secret');
      const deliveryFailed = async () =>
        (await db.store.listAlerts(partner, 100)).filter((a) => a.eventType === 'delivery.failed');
      return { partner, endpointId, alertPath, secret, deliveryFailed };
    }

    it('the sweep raises the delivery.failed a crash lost, once per channel; run again, nothing more', async () => {
      const t = await setUp('crash');
      const eventId = await decide(db.store, t.partner, await newThirdParty(db.store, t.partner), 'APPROVED');
      // a dispatcher's attempt and its final failure, committed; then the process died before the
      // recorder wrote the alert
      const [claimed] = await db.queue.claim({
        workerId: 'crashed',
        now: new Date(),
        leaseMs: 60_000,
        limit: 10,
        perEndpoint: 8,
      });
      if (!claimed) throw new Error('nothing claimed');
      await db.queue.complete(
        [
          {
            deliveryId: claimed.id,
            endpointId: t.endpointId,
            at: new Date(),
            durationMs: 3,
            statusCode: 500,
            error: 'HTTP 500',
            responseExcerpt: null,
            next: { status: 'failed' },
            succeeded: false,
          },
        ],
        { workerId: 'crashed', failureWindowMs: WINDOW },
      );
      expect(await t.deliveryFailed()).toEqual([]);

      const first = await sweepAlerts(db.store, rules);
      const told = first.filter((a) => a.eventType === 'delivery.failed');
      expect(told.map((a) => a.channel).sort()).toEqual(['email', 'webhook']);
      const event = JSON.parse(told[0]?.payload ?? '{}') as AlertEvent<'delivery.failed'>;
      expect(event.data).toMatchObject({
        endpoint_id: t.endpointId,
        delivery: {
          id: claimed.id,
          event_id: eventId,
          attempt_count: 1,
          last_status_code: 500,
          last_error: 'HTTP 500',
        },
      });
      // the endpoint's failing episode was missed too, and is told by the same sweep
      expect(first.filter((a) => a.eventType === 'endpoint.failing')).toHaveLength(2);

      expect(await sweepAlerts(db.store, rules)).toEqual([]);
      expect(await t.deliveryFailed()).toHaveLength(2);
      // and a recorder that comes late (a retried batch) does not tell it again
      const late = await db.store.observeEndpointAlerts(
        [{ endpointId: t.endpointId, failedDeliveryIds: [claimed.id], disabledReason: null }],
        rules,
      );
      expect(late).toEqual([]);
      expect(await t.deliveryFailed()).toHaveLength(2);
    });

    it('a normal run with the sweep racing the recorder tells each failure once per channel, signed', async () => {
      const t = await setUp('race');
      const policy = createRetryPolicy({ schedule: [50], jitter: 'none' });
      running.sender = createSender({ allowPrivateEndpoints: true, timeoutMs: 5000 });
      running.alerts = startAlertService({
        store: db.store,
        failureWindowMs: WINDOW,
        policy,
        sender: running.sender,
        sweepIntervalMs: 5,
        pollIntervalMs: 20,
      });
      running.dispatcher = createDispatcher({
        queue: db.queue,
        policy,
        allowPrivateEndpoints: true,
        pollIntervalMs: 20,
        failureWindowMs: WINDOW,
        onCompleted: running.alerts.observe,
      });
      running.dispatcher.start();
      const deliveries = 6;
      for (let i = 0; i < deliveries; i++) {
        await decide(db.store, t.partner, await newThirdParty(db.store, t.partner), 'APPROVED');
      }
      running.dispatcher.notify();
      const verify = createVerifier([t.secret]);
      const received = () =>
        sink.received
          .filter((r) => r.path === t.alertPath)
          .map((r) => {
            expect(verify(r.headers as Record<string, string>, r.body).ok).toBe(true);
            return JSON.parse(r.body) as AlertEvent;
          })
          .filter((a) => a.event_type === 'delivery.failed');
      await waitFor(() => received().length >= deliveries, { what: `${deliveries} delivery.failed alerts` });
      await running.dispatcher.stop(1000);
      await running.alerts.stop();
      running.dispatcher = undefined;
      running.alerts = undefined;

      // once stopped, nothing is left to tell
      expect((await sweepAlerts(db.store, rules)).filter((a) => a.eventType === 'delivery.failed')).toEqual(
        [],
      );
      const ids = received().map((a) => (a as AlertEvent<'delivery.failed'>).data.delivery.id);
      expect(ids).toHaveLength(deliveries);
      expect(new Set(ids).size).toBe(deliveries);
      const stored = await t.deliveryFailed();
      expect(stored.filter((a) => a.channel === 'webhook')).toHaveLength(deliveries);
      expect(stored.filter((a) => a.channel === 'email')).toHaveLength(deliveries);
    });
  });
}
