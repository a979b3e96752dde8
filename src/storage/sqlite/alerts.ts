/**
 * Failure alerts on SQLite: the partner's notification settings, the per-endpoint alert state and the
 * alerts' outbox (migrations 008, 011). The rules are the caller's (`decide`, src/alerts/transitions.ts);
 * this file reads and writes their rows, each operation in one transaction.
 */
import type { Database } from 'better-sqlite3';
import type { SecretBox } from '../../secrets/box.js';
import type {
  AlertDecision,
  AlertObservation,
  AlertOutcome,
  AlertRecord,
  ClaimedAlert,
  EndpointAlertView,
  FailedDeliveryView,
  NewAlert,
  NotificationSettings,
  NotificationSettingsInput,
  UnalertedFailure,
} from '../store.js';
import { toDate } from './tables.js';

/** The context the notification secret is sealed under (see src/secrets/box.ts). */
export const notificationSecretContext = (customerId: string): string =>
  JSON.stringify(['notification_settings', customerId]);

interface SettingsRow {
  customer_id: string;
  webhook_url: string | null;
  webhook_secret: string | null;
  email: string | null;
  events: string;
  updated_at: number;
}

interface EndpointStateRow {
  id: string;
  customer_id: string;
  url: string;
  enabled: 0 | 1;
  disabled_reason: string | null;
  endpoint_failing_since: number | null;
  failing_since: number | null;
  episode_alerted: 0 | 1;
  failing_alerted_at: number | null;
  disabling_warned: 0 | 1;
}

interface AlertRow {
  id: string;
  event_id: string;
  customer_id: string;
  endpoint_id: string;
  channel: 'webhook' | 'email';
  event_type: string;
  payload: string;
  status: 'pending' | 'sent' | 'failed' | 'skipped';
  attempt_count: number;
  target: string | null;
  last_error: string | null;
  created_at: number;
  updated_at: number;
}

const dateOrNull = (ms: number | null) => (ms === null ? null : toDate(ms));

/** The `settings` key of the sweep's watermark (migration 011): epoch ms as text. */
const SWEPT_UNTIL = 'alerts.failed_swept_until';

export function alertQueries(db: Database, box: SecretBox) {
  const settingsOf = db.prepare<[string], SettingsRow>(
    'SELECT * FROM notification_settings WHERE customer_id = ?',
  );
  const upsertSettings = db.prepare<SettingsRow>(
    `INSERT INTO notification_settings (customer_id, webhook_url, webhook_secret, email, events, updated_at)
     VALUES (@customer_id, @webhook_url, @webhook_secret, @email, @events, @updated_at)
     ON CONFLICT (customer_id) DO UPDATE SET webhook_url = excluded.webhook_url,
       webhook_secret = coalesce(excluded.webhook_secret, notification_settings.webhook_secret),
       email = excluded.email, events = excluded.events, updated_at = excluded.updated_at`,
  );
  const ensureState = db.prepare<[string]>(
    `INSERT INTO endpoint_alert_state (endpoint_id) SELECT id FROM endpoints WHERE id = ?
     ON CONFLICT (endpoint_id) DO NOTHING`,
  );
  const endpointState = db.prepare<[string], EndpointStateRow>(
    `SELECT e.id, e.customer_id, e.url, e.enabled, e.disabled_reason, e.failing_since AS endpoint_failing_since,
       s.failing_since, s.episode_alerted, s.failing_alerted_at, s.disabling_warned
     FROM endpoints e JOIN endpoint_alert_state s ON s.endpoint_id = e.id WHERE e.id = ?`,
  );
  const failedDelivery = db.prepare<
    [string, string],
    { id: string; event_id: string; attempt_count: number; status_code: number | null; error: string | null }
  >(
    `SELECT d.id, d.event_id, d.attempt_count, a.status_code, a.error
     FROM deliveries d LEFT JOIN attempts a
       ON a.id = (SELECT max(id) FROM attempts WHERE delivery_id = d.id)
     WHERE d.id = ? AND d.endpoint_id = ? AND d.status = 'failed'
       AND NOT EXISTS (SELECT 1 FROM alerts x WHERE x.delivery_id = d.id AND x.delivery_attempt = d.attempt_count)`,
  );
  const updateState = db.prepare<{
    id: string;
    failing_since: number | null;
    episode_alerted: number;
    failing_alerted_at: number | null;
    disabling_warned: number;
  }>(
    `UPDATE endpoint_alert_state SET failing_since = @failing_since, episode_alerted = @episode_alerted,
       failing_alerted_at = @failing_alerted_at, disabling_warned = @disabling_warned
     WHERE endpoint_id = @id`,
  );
  // a failure already told on this channel (by another observer) is not told twice
  const insertAlert = db.prepare<
    Omit<AlertRow, 'status' | 'attempt_count' | 'target' | 'last_error'> & {
      delivery_id: string | null;
      delivery_attempt: number | null;
    }
  >(
    `INSERT INTO alerts (id, event_id, customer_id, endpoint_id, channel, event_type, payload, next_attempt_at,
       created_at, updated_at, delivery_id, delivery_attempt)
     VALUES (@id, @event_id, @customer_id, @endpoint_id, @channel, @event_type, @payload, @created_at,
       @created_at, @updated_at, @delivery_id, @delivery_attempt)
     ON CONFLICT DO NOTHING`,
  );
  const candidates = db
    .prepare<[], string>(
      `SELECT e.id FROM endpoints e LEFT JOIN endpoint_alert_state s ON s.endpoint_id = e.id
       WHERE e.failing_since IS NOT NULL OR s.failing_since IS NOT NULL ORDER BY e.id`,
    )
    .pluck();
  const due = db.prepare<[number, number, number], AlertRow>(
    `SELECT * FROM alerts WHERE status = 'pending' AND next_attempt_at <= ?
       AND (locked_until IS NULL OR locked_until <= ?)
     ORDER BY next_attempt_at LIMIT ?`,
  );
  const lock = db.prepare<[number, string]>('UPDATE alerts SET locked_until = ? WHERE id = ?');
  const endpointUrl = db.prepare<[string], string>('SELECT url FROM endpoints WHERE id = ?').pluck();
  const settle = db.prepare<{
    id: string;
    status: string;
    next: number | null;
    target: string | null;
    error: string | null;
    at: number;
  }>(
    `UPDATE alerts SET status = @status, attempt_count = attempt_count + 1,
       next_attempt_at = coalesce(@next, next_attempt_at), locked_until = NULL, target = @target,
       last_error = @error, updated_at = @at
     WHERE id = @id`,
  );
  const list = db.prepare<[string, number], AlertRow>(
    'SELECT * FROM alerts WHERE customer_id = ? ORDER BY seq DESC LIMIT ?',
  );
  const unalerted = db.prepare<
    { at: number; id: string; limit: number },
    { id: string; endpoint_id: string; updated_at: number }
  >(
    `SELECT d.id, d.endpoint_id, d.updated_at FROM deliveries d
     WHERE d.status = 'failed' AND (d.updated_at, d.id) > (@at, @id)
       AND EXISTS (SELECT 1 FROM notification_settings n WHERE n.customer_id = d.customer_id)
       AND NOT EXISTS (SELECT 1 FROM alerts x WHERE x.delivery_id = d.id AND x.delivery_attempt = d.attempt_count)
     ORDER BY d.updated_at, d.id LIMIT @limit`,
  );
  const watermark = db.prepare<[], string>(`SELECT value FROM settings WHERE key = '${SWEPT_UNTIL}'`).pluck();
  const advance = db.prepare<[string]>(
    `INSERT INTO settings (key, value) VALUES ('${SWEPT_UNTIL}', ?)
     ON CONFLICT (key) DO UPDATE SET value = excluded.value
     WHERE CAST(excluded.value AS INTEGER) > CAST(settings.value AS INTEGER)`,
  );
  // pending alerts are still being sent: they go once settled
  const prune = db.prepare<[number, number]>(
    `DELETE FROM alerts WHERE seq IN (
       SELECT seq FROM alerts WHERE created_at < ? AND status <> 'pending' ORDER BY created_at LIMIT ?)`,
  );

  const toSettings = (r: SettingsRow): NotificationSettings => ({
    customerId: r.customer_id,
    webhookUrl: r.webhook_url,
    webhookSecret:
      r.webhook_secret === null ? null : box.open(r.webhook_secret, notificationSecretContext(r.customer_id)),
    email: r.email,
    events: JSON.parse(r.events) as string[],
    updatedAt: toDate(r.updated_at),
  });
  const getSettings = (customerId: string) => {
    const row = settingsOf.get(customerId);
    return row && toSettings(row);
  };

  const observeTx = db.transaction(
    (observations: readonly AlertObservation[], decide: (v: EndpointAlertView) => AlertDecision) => {
      const written: NewAlert[] = [];
      const sorted = [...observations].sort((a, b) => (a.endpointId < b.endpointId ? -1 : 1));
      for (const o of sorted) {
        ensureState.run(o.endpointId);
        const r = endpointState.get(o.endpointId);
        if (!r) continue;
        const failedDeliveries: FailedDeliveryView[] = [];
        for (const id of o.failedDeliveryIds) {
          const d = failedDelivery.get(id, o.endpointId);
          if (d) {
            failedDeliveries.push({
              id: d.id,
              eventId: d.event_id,
              attemptCount: d.attempt_count,
              lastStatusCode: d.status_code,
              lastError: d.error,
            });
          }
        }
        const decision = decide({
          endpoint: {
            id: r.id,
            customerId: r.customer_id,
            url: r.url,
            enabled: r.enabled === 1,
            disabledReason: r.disabled_reason,
            failingSince: dateOrNull(r.endpoint_failing_since),
          },
          state: {
            failingSince: dateOrNull(r.failing_since),
            episodeAlerted: r.episode_alerted === 1,
            failingAlertedAt: dateOrNull(r.failing_alerted_at),
            disablingWarned: r.disabling_warned === 1,
          },
          settings: getSettings(r.customer_id),
          failedDeliveries,
          disabledNow: o.disabledReason,
        });
        const s = decision.state;
        updateState.run({
          id: r.id,
          failing_since: s.failingSince?.getTime() ?? null,
          episode_alerted: s.episodeAlerted ? 1 : 0,
          failing_alerted_at: s.failingAlertedAt?.getTime() ?? null,
          disabling_warned: s.disablingWarned ? 1 : 0,
        });
        for (const a of decision.alerts) {
          const { changes } = insertAlert.run({
            id: a.id,
            event_id: a.eventId,
            customer_id: a.customerId,
            endpoint_id: a.endpointId,
            channel: a.channel,
            event_type: a.eventType,
            payload: a.payload,
            created_at: a.createdAt.getTime(),
            updated_at: a.createdAt.getTime(),
            delivery_id: a.delivery?.id ?? null,
            delivery_attempt: a.delivery?.attemptCount ?? null,
          });
          if (changes === 1) written.push(a);
        }
      }
      return written;
    },
  );

  const claimTx = db.transaction((now: number, until: number, limit: number) => {
    const rows = due.all(now, now, limit);
    for (const r of rows) lock.run(until, r.id);
    return rows;
  });

  return {
    getSettings,
    saveSettings(s: NotificationSettingsInput): NotificationSettings {
      upsertSettings.run({
        customer_id: s.customerId,
        webhook_url: s.webhookUrl,
        webhook_secret:
          s.webhookSecret === undefined
            ? null
            : box.seal(s.webhookSecret, notificationSecretContext(s.customerId)),
        email: s.email,
        events: JSON.stringify(s.events),
        updated_at: s.updatedAt.getTime(),
      });
      const saved = getSettings(s.customerId);
      if (!saved) throw new Error('notification settings vanished');
      return saved;
    },
    observe: (
      observations: readonly AlertObservation[],
      decide: (v: EndpointAlertView) => AlertDecision,
    ): NewAlert[] => (observations.length === 0 ? [] : observeTx.immediate(observations, decide)),
    candidates: (): string[] => candidates.all(),
    unalerted: (after: { at: Date; deliveryId: string }, limit: number): UnalertedFailure[] =>
      unalerted.all({ at: after.at.getTime(), id: after.deliveryId, limit }).map((r) => ({
        deliveryId: r.id,
        endpointId: r.endpoint_id,
        failedAt: toDate(r.updated_at),
      })),
    watermark(): Date {
      const value = watermark.get();
      // the migration sets it; a database where it was removed starts over from now
      return value === undefined ? new Date() : toDate(Number(value));
    },
    advanceWatermark(to: Date): void {
      advance.run(String(to.getTime()));
    },
    prune: (createdBefore: Date, limit: number): number => prune.run(createdBefore.getTime(), limit).changes,
    claim(o: { now: Date; leaseMs: number; limit: number }): ClaimedAlert[] {
      const now = o.now.getTime();
      const rows = claimTx.immediate(now, now + o.leaseMs, o.limit);
      // settings are decrypted after the commit, outside the write lock
      return rows.map((r) => ({
        id: r.id,
        eventId: r.event_id,
        customerId: r.customer_id,
        endpointId: r.endpoint_id,
        channel: r.channel,
        eventType: r.event_type,
        payload: r.payload,
        attemptCount: r.attempt_count,
        settings: getSettings(r.customer_id),
        endpointUrl: endpointUrl.get(r.endpoint_id) ?? null,
      }));
    },
    settle(id: string, outcome: AlertOutcome, at: Date): void {
      settle.run({
        id,
        status: outcome.status,
        next: outcome.status === 'pending' ? outcome.nextAttemptAt.getTime() : null,
        target: outcome.target,
        error: outcome.error,
        at: at.getTime(),
      });
    },
    list: (customerId: string, limit: number): AlertRecord[] =>
      list.all(customerId, limit).map((r) => ({
        id: r.id,
        eventId: r.event_id,
        endpointId: r.endpoint_id,
        channel: r.channel,
        eventType: r.event_type,
        payload: r.payload,
        status: r.status,
        attemptCount: r.attempt_count,
        target: r.target,
        lastError: r.last_error,
        createdAt: toDate(r.created_at),
        updatedAt: toDate(r.updated_at),
      })),
  };
}
