import type { Database } from 'better-sqlite3';
import type { IdempotentResponse } from '../store.js';
import type { Row } from './tables.js';

type StoredResponse = Pick<Row<'idempotency_keys'>, 'request_hash' | 'status_code' | 'body'>;

const toResponse = (r: StoredResponse): IdempotentResponse => ({
  requestHash: r.request_hash,
  statusCode: r.status_code,
  body: r.body,
});

/** The first answer to a partner POST, keyed by (customer_id, Idempotency-Key). */
export function idempotencyQueries(db: Database) {
  const get = db.prepare<[string, string], StoredResponse>(
    'SELECT request_hash, status_code, body FROM idempotency_keys WHERE customer_id = ? AND key = ?',
  );
  const insert = db.prepare<Row<'idempotency_keys'>>(
    `INSERT INTO idempotency_keys (customer_id, key, request_hash, status_code, body, created_at)
     VALUES (@customer_id, @key, @request_hash, @status_code, @body, @created_at)
     ON CONFLICT (customer_id, key) DO NOTHING`,
  );
  const save = db.transaction(
    (customerId: string, key: string, r: IdempotentResponse, at: Date): IdempotentResponse => {
      insert.run({
        customer_id: customerId,
        key,
        request_hash: r.requestHash,
        status_code: r.statusCode,
        body: r.body,
        created_at: at.getTime(),
      });
      const stored = get.get(customerId, key);
      if (!stored) throw new Error('idempotency key vanished inside its own transaction');
      return toResponse(stored);
    },
  );
  // Through the created_at index, oldest first; the primary key finds each row to delete.
  const prune = db.prepare<[number, number]>(
    `DELETE FROM idempotency_keys WHERE (customer_id, key) IN (
       SELECT customer_id, key FROM idempotency_keys WHERE created_at < ? ORDER BY created_at LIMIT ?)`,
  );
  return {
    get(customerId: string, key: string): IdempotentResponse | undefined {
      const row = get.get(customerId, key);
      return row && toResponse(row);
    },
    save: (customerId: string, key: string, r: IdempotentResponse, at: Date) =>
      save.immediate(customerId, key, r, at),
    prune: (createdBefore: Date, limit: number): number => prune.run(createdBefore.getTime(), limit).changes,
  };
}
