/**
 * Failure alerts on PostgreSQL: the partner's notification settings, the per-endpoint alert state and
 * the alerts' outbox (migration 016). The rules are the caller's (`decide`, src/alerts/transitions.ts);
 * the alert-state row is the lock under which they run, so processes observing the same endpoint take
 * turns and each transition is told once. Alerts are claimed `FOR UPDATE SKIP LOCKED` with a lease.
 */
import type pg from 'pg';
import type { SecretBox } from '../../secrets/box.js';
import type {
  AlertDecision,
  AlertObservation,
  AlertOutcome,
  AlertRecord,
  ClaimedAlert,
  EndpointAlertView,
  FailedDeliveryView,
  NotificationSettings,
  NotificationSettingsInput,
} from '../store.js';
import { type Queryable, statement, withTransaction } from './db.js';

/** The context the notification secret is sealed under (see src/secrets/box.ts). */
const secretContext = (customerId: string): string => JSON.stringify(['notification_settings', customerId]);

interface SettingsRow {
  customer_id: string;
  webhook_url: string | null;
  webhook_secret: string | null;
  email: string | null;
  events: string[];
  updated_at: Date;
}

interface EndpointStateRow {
  id: string;
  customer_id: string;
  url: string;
  enabled: boolean;
  disabled_reason: string | null;
  endpoint_failing_since: Date | null;
  failing_since: Date | null;
  episode_alerted: boolean;
  failing_alerted_at: Date | null;
  disabling_warned: boolean;
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
  created_at: Date;
  updated_at: Date;
  endpoint_url?: string | null;
}

const settingsOf = statement<SettingsRow>(
  'alert_settings_get',
  'SELECT * FROM notification_settings WHERE customer_id = $1',
);
const upsertSettings = statement<SettingsRow>(
  'alert_settings_upsert',
  `INSERT INTO notification_settings (customer_id, webhook_url, webhook_secret, email, events, updated_at)
   VALUES ($1, $2, $3, $4, $5, $6)
   ON CONFLICT (customer_id) DO UPDATE SET webhook_url = excluded.webhook_url,
     webhook_secret = coalesce(excluded.webhook_secret, notification_settings.webhook_secret),
     email = excluded.email, events = excluded.events, updated_at = excluded.updated_at
   RETURNING *`,
);
const ensureState = statement(
  'alert_state_ensure',
  `INSERT INTO endpoint_alert_state (endpoint_id) SELECT id FROM endpoints WHERE id = $1
   ON CONFLICT (endpoint_id) DO NOTHING`,
);
// the state row is the lock; the endpoint row is read as committed now, without locking it (the queue
// updates it at every completion)
const endpointState = statement<EndpointStateRow>(
  'alert_state_lock',
  `SELECT e.id, e.customer_id, e.url, e.enabled, e.disabled_reason, e.failing_since AS endpoint_failing_since,
     s.failing_since, s.episode_alerted, s.failing_alerted_at, s.disabling_warned
   FROM endpoint_alert_state s JOIN endpoints e ON e.id = s.endpoint_id
   WHERE s.endpoint_id = $1 FOR UPDATE OF s`,
);
const failedDeliveries = statement<{
  id: string;
  event_id: string;
  attempt_count: number;
  status_code: number | null;
  error: string | null;
}>(
  'alert_failed_deliveries',
  `SELECT d.id, d.event_id, d.attempt_count, a.status_code, a.error
   FROM deliveries d LEFT JOIN LATERAL (
     SELECT status_code, error FROM attempts WHERE delivery_id = d.id ORDER BY id DESC LIMIT 1) a ON true
   WHERE d.id = ANY($1::text[]) AND d.endpoint_id = $2 AND d.status = 'failed'`,
);
const updateState = statement(
  'alert_state_update',
  `UPDATE endpoint_alert_state SET failing_since = $2, episode_alerted = $3, failing_alerted_at = $4,
     disabling_warned = $5
   WHERE endpoint_id = $1`,
);
const insertAlerts = statement(
  'alert_insert',
  `INSERT INTO alerts (id, event_id, customer_id, endpoint_id, channel, event_type, payload, next_attempt_at,
     created_at, updated_at)
   SELECT id, event_id, customer_id, endpoint_id, channel, event_type, payload, at, at, at
   FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
     $8::timestamptz[]) AS a(id, event_id, customer_id, endpoint_id, channel, event_type, payload, at)`,
);
const candidates = statement<{ id: string }>(
  'alert_candidates',
  `SELECT e.id FROM endpoints e LEFT JOIN endpoint_alert_state s ON s.endpoint_id = e.id
   WHERE e.failing_since IS NOT NULL OR s.failing_since IS NOT NULL ORDER BY e.id`,
);
const claim = statement<AlertRow>(
  'alert_claim',
  `WITH due AS (
     SELECT id FROM alerts
     WHERE status = 'pending' AND next_attempt_at <= $1 AND (locked_until IS NULL OR locked_until <= $1)
     ORDER BY next_attempt_at LIMIT $3 FOR UPDATE SKIP LOCKED)
   UPDATE alerts a SET locked_until = $2 FROM due WHERE a.id = due.id
   RETURNING a.*, (SELECT url FROM endpoints WHERE id = a.endpoint_id) AS endpoint_url`,
);
const settle = statement(
  'alert_settle',
  `UPDATE alerts SET status = $2, attempt_count = attempt_count + 1,
     next_attempt_at = coalesce($3, next_attempt_at), locked_until = NULL, target = $4, last_error = $5,
     updated_at = $6
   WHERE id = $1`,
);
const list = statement<AlertRow>(
  'alert_list',
  'SELECT * FROM alerts WHERE customer_id = $1 ORDER BY seq DESC LIMIT $2',
);

function toSettings(box: SecretBox, r: SettingsRow): NotificationSettings {
  return {
    customerId: r.customer_id,
    webhookUrl: r.webhook_url,
    webhookSecret:
      r.webhook_secret === null ? null : box.open(r.webhook_secret, secretContext(r.customer_id)),
    email: r.email,
    events: r.events,
    updatedAt: r.updated_at,
  };
}

export async function getNotificationSettings(
  db: Queryable,
  box: SecretBox,
  customerId: string,
): Promise<NotificationSettings | undefined> {
  const row = (await settingsOf.run(db, [customerId])).rows[0];
  return row && toSettings(box, row);
}

export async function saveNotificationSettings(
  db: Queryable,
  box: SecretBox,
  s: NotificationSettingsInput,
): Promise<NotificationSettings> {
  const sealed =
    s.webhookSecret === undefined ? null : box.seal(s.webhookSecret, secretContext(s.customerId));
  const { rows } = await upsertSettings.run(db, [
    s.customerId,
    s.webhookUrl,
    sealed,
    s.email,
    JSON.stringify(s.events),
    s.updatedAt,
  ]);
  const row = rows[0];
  if (!row) throw new Error('notification settings not saved');
  return toSettings(box, row);
}

export async function observeEndpointAlerts(
  pool: pg.Pool,
  box: SecretBox,
  observations: readonly AlertObservation[],
  decide: (view: EndpointAlertView) => AlertDecision,
): Promise<number> {
  if (observations.length === 0) return 0;
  const sorted = [...observations].sort((a, b) => (a.endpointId < b.endpointId ? -1 : 1));
  return withTransaction(pool, async (client) => {
    let written = 0;
    for (const o of sorted) {
      await ensureState.run(client, [o.endpointId]);
      const r = (await endpointState.run(client, [o.endpointId])).rows[0];
      if (!r) continue;
      const failed: FailedDeliveryView[] =
        o.failedDeliveryIds.length === 0
          ? []
          : (await failedDeliveries.run(client, [o.failedDeliveryIds, o.endpointId])).rows.map((d) => ({
              id: d.id,
              eventId: d.event_id,
              attemptCount: d.attempt_count,
              lastStatusCode: d.status_code,
              lastError: d.error,
            }));
      const decision = decide({
        endpoint: {
          id: r.id,
          customerId: r.customer_id,
          url: r.url,
          enabled: r.enabled,
          disabledReason: r.disabled_reason,
          failingSince: r.endpoint_failing_since,
        },
        state: {
          failingSince: r.failing_since,
          episodeAlerted: r.episode_alerted,
          failingAlertedAt: r.failing_alerted_at,
          disablingWarned: r.disabling_warned,
        },
        settings: await getNotificationSettings(client, box, r.customer_id),
        failedDeliveries: failed,
        disabledNow: o.disabledReason,
      });
      const s = decision.state;
      await updateState.run(client, [
        r.id,
        s.failingSince,
        s.episodeAlerted,
        s.failingAlertedAt,
        s.disablingWarned,
      ]);
      const alerts = decision.alerts;
      if (alerts.length > 0) {
        await insertAlerts.run(client, [
          alerts.map((a) => a.id),
          alerts.map((a) => a.eventId),
          alerts.map((a) => a.customerId),
          alerts.map((a) => a.endpointId),
          alerts.map((a) => a.channel),
          alerts.map((a) => a.eventType),
          alerts.map((a) => a.payload),
          alerts.map((a) => a.createdAt),
        ]);
        written += alerts.length;
      }
    }
    return written;
  });
}

export async function alertCandidates(db: Queryable): Promise<string[]> {
  return (await candidates.run(db, [])).rows.map((r) => r.id);
}

export async function claimAlerts(
  db: Queryable,
  box: SecretBox,
  o: { now: Date; leaseMs: number; limit: number },
): Promise<ClaimedAlert[]> {
  const { rows } = await claim.run(db, [o.now, new Date(o.now.getTime() + o.leaseMs), o.limit]);
  const settings = new Map<string, NotificationSettings | undefined>();
  for (const r of rows) {
    if (!settings.has(r.customer_id))
      settings.set(r.customer_id, await getNotificationSettings(db, box, r.customer_id));
  }
  return rows.map((r) => ({
    id: r.id,
    eventId: r.event_id,
    customerId: r.customer_id,
    endpointId: r.endpoint_id,
    channel: r.channel,
    eventType: r.event_type,
    payload: r.payload,
    attemptCount: r.attempt_count,
    settings: settings.get(r.customer_id),
    endpointUrl: r.endpoint_url ?? null,
  }));
}

export async function settleAlert(db: Queryable, id: string, outcome: AlertOutcome, at: Date): Promise<void> {
  await settle.run(db, [
    id,
    outcome.status,
    outcome.status === 'pending' ? outcome.nextAttemptAt : null,
    outcome.target,
    outcome.error,
    at,
  ]);
}

export async function listAlerts(db: Queryable, customerId: string, limit: number): Promise<AlertRecord[]> {
  return (await list.run(db, [customerId, limit])).rows.map((r) => ({
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
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  }));
}
