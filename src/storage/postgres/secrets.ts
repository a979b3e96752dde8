/** The encrypted columns of a PostgreSQL database, for the start-up check, the plaintext upgrade and key rotation. */
import type pg from 'pg';
import { secretContext } from '../../secrets/box.js';
import type { SealedColumn, StoredSecrets } from '../../secrets/stored.js';
import { notificationSecretContext } from './alerts.js';

type AnswerCursor = { customerId: string; key: string };

/**
 * Walks and rewrites `endpoint_secrets.secret`, `idempotency_keys.body` and
 * `notification_settings.webhook_secret` by primary key; each batch
 * is one UPDATE (atomic on its own), each row replaced only if unchanged since it was read. The old
 * row versions (the plaintext of an upgraded database, the values under a retired key) stay in dead
 * tuples, the WAL and older backups until VACUUM and their retention: run `VACUUM endpoint_secrets,
 * idempotency_keys, notification_settings` after an upgrade or a rotation.
 */
export function postgresStoredSecrets(pool: pg.Pool): StoredSecrets {
  const endpointSecrets: SealedColumn<string> = {
    async page(after, skip, limit) {
      const { rows } = await pool.query<{ id: string; endpoint_id: string; secret: string }>(
        `SELECT id, endpoint_id, secret FROM endpoint_secrets
         WHERE id > $1::bigint AND substr(secret, 1, $2) <> $3
         ORDER BY id LIMIT $4`,
        [after ?? '0', skip.length, skip, limit],
      );
      return rows.map((r) => ({
        cursor: r.id,
        context: secretContext.endpoint(r.endpoint_id),
        value: r.secret,
      }));
    },
    async replace(changes) {
      const r = await pool.query(
        `UPDATE endpoint_secrets s SET secret = c.next
         FROM unnest($1::bigint[], $2::text[], $3::text[]) AS c(id, prev, next)
         WHERE s.id = c.id AND s.secret = c.prev`,
        [changes.map((c) => c.cursor), changes.map((c) => c.from), changes.map((c) => c.to)],
      );
      return r.rowCount ?? 0;
    },
  };
  const idempotentAnswers: SealedColumn<AnswerCursor> = {
    async page(after, skip, limit) {
      const { rows } = await pool.query<{ customer_id: string; key: string; body: string }>(
        `SELECT customer_id, key, body FROM idempotency_keys
         WHERE (customer_id, key) > ($1, $2) AND substr(body, 1, $3) <> $4
         ORDER BY customer_id, key LIMIT $5`,
        [after?.customerId ?? '', after?.key ?? '', skip.length, skip, limit],
      );
      return rows.map((r) => ({
        cursor: { customerId: r.customer_id, key: r.key },
        context: secretContext.idempotentAnswer(r.customer_id, r.key),
        value: r.body,
      }));
    },
    async replace(changes) {
      const r = await pool.query(
        `UPDATE idempotency_keys k SET body = c.next
         FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) AS c(customer_id, key, prev, next)
         WHERE k.customer_id = c.customer_id AND k.key = c.key AND k.body = c.prev`,
        [
          changes.map((c) => c.cursor.customerId),
          changes.map((c) => c.cursor.key),
          changes.map((c) => c.from),
          changes.map((c) => c.to),
        ],
      );
      return r.rowCount ?? 0;
    },
  };

  const notificationSecrets: SealedColumn<string> = {
    async page(after, skip, limit) {
      const { rows } = await pool.query<{ customer_id: string; webhook_secret: string }>(
        `SELECT customer_id, webhook_secret FROM notification_settings
         WHERE customer_id > $1 AND webhook_secret IS NOT NULL AND substr(webhook_secret, 1, $2) <> $3
         ORDER BY customer_id LIMIT $4`,
        [after ?? '', skip.length, skip, limit],
      );
      return rows.map((r) => ({
        cursor: r.customer_id,
        context: notificationSecretContext(r.customer_id),
        value: r.webhook_secret,
      }));
    },
    async replace(changes) {
      const r = await pool.query(
        `UPDATE notification_settings n SET webhook_secret = c.next
         FROM unnest($1::text[], $2::text[], $3::text[]) AS c(customer_id, prev, next)
         WHERE n.customer_id = c.customer_id AND n.webhook_secret = c.prev`,
        [changes.map((c) => c.cursor), changes.map((c) => c.from), changes.map((c) => c.to)],
      );
      return r.rowCount ?? 0;
    },
  };

  return {
    endpointSecrets: endpointSecrets as SealedColumn<unknown>,
    idempotentAnswers: idempotentAnswers as SealedColumn<unknown>,
    notificationSecrets: notificationSecrets as SealedColumn<unknown>,
    async keyIds() {
      const { rows } = await pool.query<{ id: string }>(
        `SELECT substr(secret, 4, 8) AS id FROM endpoint_secrets WHERE substr(secret, 1, 3) = 'v1:'
         UNION SELECT substr(body, 4, 8) FROM idempotency_keys WHERE substr(body, 1, 3) = 'v1:'
         UNION SELECT substr(webhook_secret, 4, 8) FROM notification_settings
           WHERE substr(webhook_secret, 1, 3) = 'v1:'`,
      );
      return rows.map((r) => r.id);
    },
  };
}
