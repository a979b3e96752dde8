/**
 * 020: failure alerts that survive a crash, and their retention (issue 14).
 * - `alerts.delivery_id`, `alerts.delivery_attempt`: which failure of which delivery a
 *   `delivery.failed` tells. At most one alert per failure and channel, so the sweep can raise what a
 *   crash between the queue's commit and the recorder's write lost, and never a second one. Older
 *   `delivery.failed` alerts take theirs from the payload (the first of any duplicates).
 * - `deliveries_failed_by_time`: the sweep walks deliveries failed for good since its watermark, the
 *   setting `alerts.failed_swept_until` (epoch ms), which starts now.
 * - `alerts_by_age`: the pruner deletes alerts older than `ALERT_RETENTION`, oldest first.
 */
export const sql = /* sql */ `
ALTER TABLE alerts ADD COLUMN delivery_id text, ADD COLUMN delivery_attempt integer;

UPDATE alerts SET delivery_id = payload::jsonb #>> '{data,delivery,id}',
  delivery_attempt = (payload::jsonb #>> '{data,delivery,attempt_count}')::integer
WHERE seq IN (
  SELECT min(seq) FROM alerts WHERE event_type = 'delivery.failed'
  GROUP BY payload::jsonb #>> '{data,delivery,id}', payload::jsonb #>> '{data,delivery,attempt_count}',
    channel);

CREATE UNIQUE INDEX alerts_once_per_failure ON alerts (delivery_id, delivery_attempt, channel)
  WHERE delivery_id IS NOT NULL;
CREATE INDEX alerts_by_age ON alerts (created_at);
CREATE INDEX deliveries_failed_by_time ON deliveries (updated_at, id) WHERE status = 'failed';

INSERT INTO settings (key, value)
VALUES ('alerts.failed_swept_until', (floor(extract(epoch FROM now()) * 1000))::bigint::text)
ON CONFLICT (key) DO NOTHING;
`;
