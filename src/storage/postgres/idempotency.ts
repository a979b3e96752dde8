import type { IdempotentResponse } from '../store.js';
import { type Queryable, statement } from './db.js';
import type { Row } from './tables.js';

type StoredResponse = Pick<Row<'idempotency_keys'>, 'request_hash' | 'status_code' | 'body'>;

const toResponse = (r: StoredResponse): IdempotentResponse => ({
  requestHash: r.request_hash,
  statusCode: r.status_code,
  body: r.body,
});

const get = statement<StoredResponse>(
  'idempotency_get',
  'SELECT request_hash, status_code, body FROM idempotency_keys WHERE customer_id = $1 AND key = $2',
);
const insert = statement<StoredResponse>(
  'idempotency_insert',
  `INSERT INTO idempotency_keys (customer_id, key, request_hash, status_code, body, created_at)
   VALUES ($1, $2, $3, $4, $5, $6)
   ON CONFLICT (customer_id, key) DO NOTHING
   RETURNING request_hash, status_code, body`,
);

const prune = statement(
  'idempotency_prune',
  `DELETE FROM idempotency_keys WHERE (customer_id, key) IN (
     SELECT customer_id, key FROM idempotency_keys WHERE created_at < $1 ORDER BY created_at LIMIT $2)`,
);

export async function getIdempotentResponse(
  db: Queryable,
  customerId: string,
  key: string,
): Promise<IdempotentResponse | undefined> {
  const row = (await get.run(db, [customerId, key])).rows[0];
  return row && toResponse(row);
}

/**
 * Stores the response unless the key has one; returns the stored one. Two statements, not one
 * transaction: the INSERT waits for a concurrent insert of the same key to commit, and the SELECT
 * that follows (a new snapshot) then sees it.
 */
export async function saveIdempotentResponse(
  db: Queryable,
  customerId: string,
  key: string,
  r: IdempotentResponse,
  at: Date,
): Promise<IdempotentResponse> {
  // A second round only if the conflicting row was pruned between the two statements.
  for (let round = 0; round < 2; round++) {
    const inserted = (await insert.run(db, [customerId, key, r.requestHash, r.statusCode, r.body, at]))
      .rows[0];
    if (inserted) return toResponse(inserted);
    const stored = await getIdempotentResponse(db, customerId, key);
    if (stored) return stored;
  }
  throw new Error('idempotency key conflicted but cannot be read');
}

/** Deletes up to `limit` keys saved before `createdBefore`, oldest first; returns how many. */
export async function pruneIdempotencyKeys(
  db: Queryable,
  createdBefore: Date,
  limit: number,
): Promise<number> {
  return (await prune.run(db, [createdBefore, limit])).rowCount ?? 0;
}
