/**
 * Failure alerts on PostgreSQL: the partner's notification settings, the per-endpoint alert state and
 * the alerts' outbox (migrations 016, 020). The rules are the caller's (`decide`, src/alerts/transitions.ts);
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
  NewAlert,
  NotificationSettings,
  NotificationSettingsInput,
  UnalertedFailure,
} from '../store.js';
import { type Queryable, statement, withTransaction } from './db.js';

/** The context the notification secret is sealed under (see src/secrets/box.ts). */
export const notificationSecretContext = (customerId: string): string =>
  JSON.stringify(['notification_settings', customerId]);
const secretContext = notificationSecretContext;

/** The `settings` key of the sweep's watermark (migration 020): epoch ms as text. */
const SWEPT_UNTIL = 'alerts.failed_swept_until';

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
   WHERE d.id = ANY($1::text[]) AND d.endpoint_id = $2 AND d.status = 'failed'
     AND NOT EXISTS (SELECT 1 FROM alerts x WHERE x.delivery_id = d.id AND x.delivery_attempt = d.attempt_count)`,
);
const updateState = statement(
  'alert_state_update',
  `UPDATE endpoint_alert_state SET failing_since = $2, episode_alerted = $3, failing_alerted_at = $4,
     disabling_warned = $5
   WHERE endpoint_id = $1`,
);
// a failure already told on this channel (by another observer) is not told twice
const insertAlerts = statement<{ id: string }>(
  'alert_insert',
  `INSERT INTO alerts (id, event_id, customer_id, endpoint_id, channel, event_type, payload, next_attempt_at,
     created_at, updated_at, delivery_id, delivery_attempt)
   SELECT id, event_id, customer_id, endpoint_id, channel, event_type, payload, at, at, at, delivery_id,
     delivery_attempt
   FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
     $8::timestamptz[], $9::text[], $10::integer[])
     AS a(id, event_id, customer_id, endpoint_id, channel, event_type, payload, at, delivery_id, delivery_attempt)
   ON CONFLICT DO NOTHING
   RETURNING id`,
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
const unalerted = statement<{ id: string; endpoint_id: string; updated_at: Date }>(
  'alert_unalerted_failures',
  `SELECT d.id, d.endpoint_id, d.updated_at FROM deliveries d
   WHERE d.status = 'failed' AND (d.updated_at, d.id) > ($1::timestamptz, $2::text)
     AND EXISTS (SELECT 1 FROM notification_settings n WHERE n.customer_id = d.customer_id)
     AND NOT EXISTS (SELECT 1 FROM alerts x WHERE x.delivery_id = d.id AND x.delivery_attempt = d.attempt_count)
   ORDER BY d.updated_at, d.id LIMIT $3`,
);
const watermark = statement<{ value: string }>(
  'alert_watermark',
  `SELECT value FROM settings WHERE key = '${SWEPT_UNTIL}'`,
);
const advance = statement(
  'alert_watermark_advance',
  `INSERT INTO settings (key, value) VALUES ('${SWEPT_UNTIL}', $1)
   ON CONFLICT (key) DO UPDATE SET value = excluded.value
   WHERE excluded.value::bigint > settings.value::bigint`,
);
// pending alerts are still being sent: they go once settled
const prune = statement(
  'alert_prune',
  `DELETE FROM alerts WHERE seq IN (
     SELECT seq FROM alerts WHERE created_at < $1 AND status <> 'pending' ORDER BY created_at LIMIT $2)`,
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
): Promise<NewAlert[]> {
  if (observations.length === 0) return [];
  const sorted = [...observations].sort((a, b) => (a.endpointId < b.endpointId ? -1 : 1));
  return withTransaction(pool, async (client) => {
    const written: NewAlert[] = [];
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
        const { rows } = await insertAlerts.run(client, [
          alerts.map((a) => a.id),
          alerts.map((a) => a.eventId),
          alerts.map((a) => a.customerId),
          alerts.map((a) => a.endpointId),
          alerts.map((a) => a.channel),
          alerts.map((a) => a.eventType),
          alerts.map((a) => a.payload),
          alerts.map((a) => a.createdAt),
          alerts.map((a) => a.delivery?.id ?? null),
          alerts.map((a) => a.delivery?.attemptCount ?? null),
        ]);
        const inserted = new Set(rows.map((r) => r.id));
        written.push(...alerts.filter((a) => inserted.has(a.id)));
      }
    }
    return written;
  });
}

export async function alertCandidates(db: Queryable): Promise<string[]> {
  return (await candidates.run(db, [])).rows.map((r) => r.id);
}

export async function unalertedFailures(
  db: Queryable,
  after: { at: Date; deliveryId: string },
  limit: number,
): Promise<UnalertedFailure[]> {
  const { rows } = await unalerted.run(db, [after.at, after.deliveryId, limit]);
  return rows.map((r) => ({ deliveryId: r.id, endpointId: r.endpoint_id, failedAt: r.updated_at }));
}

export async function alertSweepWatermark(db: Queryable): Promise<Date> {
  const value = (await watermark.run(db, [])).rows[0]?.value;
  // the migration sets it; a database where it was removed starts over from now
  return value === undefined ? new Date() : new Date(Number(value));
}

export async function advanceAlertSweepWatermark(db: Queryable, to: Date): Promise<void> {
  await advance.run(db, [String(to.getTime())]);
}

export async function pruneAlerts(db: Queryable, createdBefore: Date, limit: number): Promise<number> {
  return (await prune.run(db, [createdBefore, limit])).rowCount ?? 0;
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
