/** The encrypted columns of a SQLite database, for the start-up check, the plaintext upgrade and key rotation. */
import type { Database } from 'better-sqlite3';
import { secretContext } from '../../secrets/box.js';
import type { SealedColumn, StoredSecrets } from '../../secrets/stored.js';
import { notificationSecretContext } from './alerts.js';

type AnswerCursor = { customerId: string; key: string };

/**
 * Walks and rewrites `endpoint_secrets.secret`, `idempotency_keys.body` and
 * `notification_settings.webhook_secret` by primary key. Rewrites
 * run with `secure_delete` on, and the WAL is truncated afterwards, so the plaintext they replace is
 * not left in free space of the file or in the WAL.
 */
export function sqliteStoredSecrets(db: Database): StoredSecrets {
  const secretsPage = db.prepare<
    { after: number; skip: string; length: number; limit: number },
    { id: number; endpoint_id: string; secret: string }
  >(
    `SELECT id, endpoint_id, secret FROM endpoint_secrets
     WHERE id > @after AND substr(secret, 1, @length) <> @skip
     ORDER BY id LIMIT @limit`,
  );
  const replaceSecret = db.prepare<{ id: number; from: string; to: string }>(
    'UPDATE endpoint_secrets SET secret = @to WHERE id = @id AND secret = @from',
  );
  const answersPage = db.prepare<
    { customer_id: string; key: string; skip: string; length: number; limit: number },
    { customer_id: string; key: string; body: string }
  >(
    `SELECT customer_id, key, body FROM idempotency_keys
     WHERE (customer_id, key) > (@customer_id, @key) AND substr(body, 1, @length) <> @skip
     ORDER BY customer_id, key LIMIT @limit`,
  );
  const replaceAnswer = db.prepare<{ customer_id: string; key: string; from: string; to: string }>(
    'UPDATE idempotency_keys SET body = @to WHERE customer_id = @customer_id AND key = @key AND body = @from',
  );
  const notificationPage = db.prepare<
    { after: string; skip: string; length: number; limit: number },
    { customer_id: string; webhook_secret: string }
  >(
    `SELECT customer_id, webhook_secret FROM notification_settings
     WHERE customer_id > @after AND webhook_secret IS NOT NULL AND substr(webhook_secret, 1, @length) <> @skip
     ORDER BY customer_id LIMIT @limit`,
  );
  const replaceNotification = db.prepare<{ customer_id: string; from: string; to: string }>(
    `UPDATE notification_settings SET webhook_secret = @to
     WHERE customer_id = @customer_id AND webhook_secret = @from`,
  );
  const keyIds = db
    .prepare<[], string>(
      `SELECT substr(secret, 4, 8) FROM endpoint_secrets WHERE substr(secret, 1, 3) = 'v1:'
       UNION SELECT substr(body, 4, 8) FROM idempotency_keys WHERE substr(body, 1, 3) = 'v1:'
       UNION SELECT substr(webhook_secret, 4, 8) FROM notification_settings
         WHERE substr(webhook_secret, 1, 3) = 'v1:'`,
    )
    .pluck();

  /** Runs `fn` in one write transaction with freed cells zeroed; returns its count. */
  const scrubbing = <T>(fn: (changes: T[]) => number) => {
    const tx = db.transaction(fn);
    return async (changes: T[]): Promise<number> => {
      const before = db.pragma('secure_delete', { simple: true }) as number;
      db.pragma('secure_delete = ON');
      try {
        return tx.immediate(changes);
      } finally {
        db.pragma(`secure_delete = ${before ? 'ON' : 'OFF'}`);
      }
    };
  };

  const endpointSecrets: SealedColumn<number> = {
    async page(after, skip, limit) {
      return secretsPage
        .all({ after: after ?? 0, skip, length: skip.length, limit })
        .map((r) => ({ cursor: r.id, context: secretContext.endpoint(r.endpoint_id), value: r.secret }));
    },
    replace: scrubbing<{ cursor: number; from: string; to: string }>((changes) =>
      changes.reduce((n, c) => n + replaceSecret.run({ id: c.cursor, from: c.from, to: c.to }).changes, 0),
    ),
  };
  const idempotentAnswers: SealedColumn<AnswerCursor> = {
    async page(after, skip, limit) {
      return answersPage
        .all({
          customer_id: after?.customerId ?? '',
          key: after?.key ?? '',
          skip,
          length: skip.length,
          limit,
        })
        .map((r) => ({
          cursor: { customerId: r.customer_id, key: r.key },
          context: secretContext.idempotentAnswer(r.customer_id, r.key),
          value: r.body,
        }));
    },
    replace: scrubbing<{ cursor: AnswerCursor; from: string; to: string }>((changes) =>
      changes.reduce(
        (n, c) =>
          n +
          replaceAnswer.run({ customer_id: c.cursor.customerId, key: c.cursor.key, from: c.from, to: c.to })
            .changes,
        0,
      ),
    ),
  };

  const notificationSecrets: SealedColumn<string> = {
    async page(after, skip, limit) {
      return notificationPage.all({ after: after ?? '', skip, length: skip.length, limit }).map((r) => ({
        cursor: r.customer_id,
        context: notificationSecretContext(r.customer_id),
        value: r.webhook_secret,
      }));
    },
    replace: scrubbing<{ cursor: string; from: string; to: string }>((changes) =>
      changes.reduce(
        (n, c) => n + replaceNotification.run({ customer_id: c.cursor, from: c.from, to: c.to }).changes,
        0,
      ),
    ),
  };

  return {
    endpointSecrets: endpointSecrets as SealedColumn<unknown>,
    idempotentAnswers: idempotentAnswers as SealedColumn<unknown>,
    notificationSecrets: notificationSecrets as SealedColumn<unknown>,
    async keyIds() {
      return keyIds.all();
    },
    async afterRewrite() {
      // the WAL still holds page images from before the rewrite: copy it back and empty it
      if (db.name !== ':memory:') db.pragma('wal_checkpoint(TRUNCATE)');
    },
  };
}
