import type { Database } from 'better-sqlite3';
import { decodeCursor, toCursorPage } from '../cursor.js';
import type { Attempt, CursorPage, Delivery } from '../store.js';
import { type Row, toDate, toDateOrNull } from './tables.js';

type DeliveryRow = Row<'deliveries'>;
type AttemptRow = Row<'attempts'>;

const toAttempt = (r: AttemptRow): Attempt => ({
  at: toDate(r.at),
  durationMs: r.duration_ms,
  statusCode: r.status_code,
  error: r.error,
  responseExcerpt: r.response_excerpt,
});

const toDelivery = (r: DeliveryRow, attempts: Attempt[]): Delivery => ({
  id: r.id,
  eventId: r.event_id,
  endpointId: r.endpoint_id,
  status: r.status,
  attemptCount: r.attempt_count,
  nextAttemptAt: toDateOrNull(r.next_attempt_at),
  createdAt: toDate(r.created_at),
  attempts,
});

/** Deliveries with their attempts, read side (listing and one delivery). */
export function deliveryQueries(db: Database) {
  const page = db.prepare<
    { customer_id: string; endpoint_id: string; before: number; limit: number },
    DeliveryRow
  >(
    `SELECT * FROM deliveries
     WHERE endpoint_id = @endpoint_id AND customer_id = @customer_id AND seq < @before
     ORDER BY seq DESC LIMIT @limit`,
  );
  const one = db.prepare<[string, string, string], DeliveryRow>(
    'SELECT * FROM deliveries WHERE customer_id = ? AND endpoint_id = ? AND id = ?',
  );
  // delivery ids as one JSON array parameter: one statement for any page size
  const attemptsOf = db.prepare<[string], AttemptRow>(
    'SELECT * FROM attempts WHERE delivery_id IN (SELECT value FROM json_each(?)) ORDER BY id',
  );

  const withAttempts = (rows: DeliveryRow[]): Map<string, Attempt[]> => {
    const byDelivery = new Map<string, Attempt[]>(rows.map((r) => [r.id, []]));
    if (rows.length === 0) return byDelivery;
    for (const a of attemptsOf.all(JSON.stringify(rows.map((r) => r.id)))) {
      byDelivery.get(a.delivery_id)?.push(toAttempt(a));
    }
    return byDelivery;
  };

  const list = db.transaction(
    (customerId: string, endpointId: string, q: { limit: number; cursor?: string }): CursorPage<Delivery> => {
      const before = q.cursor === undefined ? Number.MAX_SAFE_INTEGER : decodeCursor(q.cursor);
      const rows = page.all({ customer_id: customerId, endpoint_id: endpointId, before, limit: q.limit + 1 });
      const attempts = withAttempts(rows.slice(0, q.limit));
      return toCursorPage(rows, q.limit, (r) => toDelivery(r, attempts.get(r.id) ?? []));
    },
  );

  const get = db.transaction((customerId: string, endpointId: string, id: string): Delivery | undefined => {
    const row = one.get(customerId, endpointId, id);
    return row && toDelivery(row, withAttempts([row]).get(row.id) ?? []);
  });

  return {
    list: (
      customerId: string,
      endpointId: string,
      q: { limit: number; cursor?: string },
    ): CursorPage<Delivery> => list(customerId, endpointId, q),
    get: (customerId: string, endpointId: string, id: string): Delivery | undefined =>
      get(customerId, endpointId, id),
  };
}
