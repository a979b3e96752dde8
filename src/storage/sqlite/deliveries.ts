import type { Database } from 'better-sqlite3';
import { decodeCursor, toCursorPage } from '../cursor.js';
import type { Attempt, CursorPage, Delivery } from '../store.js';
import { type Row, toDate, toDateOrNull } from './tables.js';

type DeliveryRow = Row<'deliveries'>;
type AttemptRow = Row<'attempts'>;

/** An attempts row as the domain's Attempt. */
export const toAttempt = (r: AttemptRow): Attempt => ({
  at: toDate(r.at),
  durationMs: r.duration_ms,
  statusCode: r.status_code,
  error: r.error,
  responseExcerpt: r.response_excerpt,
});

/** A deliveries row and its attempts as the domain's Delivery. */
export const toDelivery = (r: DeliveryRow, attempts: Attempt[]): Delivery => ({
  id: r.id,
  eventId: r.event_id,
  endpointId: r.endpoint_id,
  status: r.status,
  attemptCount: r.attempt_count,
  nextAttemptAt: toDateOrNull(r.next_attempt_at),
  createdAt: toDate(r.created_at),
  attempts,
});

/**
 * Reads the attempts of several deliveries in one statement (their ids as one JSON array parameter),
 * oldest first, keyed by delivery id; every given delivery has an entry.
 */
export function attemptsLoader(
  db: Database,
): (deliveries: readonly { id: string }[]) => Map<string, Attempt[]> {
  const attemptsOf = db.prepare<[string], AttemptRow>(
    'SELECT * FROM attempts WHERE delivery_id IN (SELECT value FROM json_each(?)) ORDER BY id',
  );
  return (deliveries) => {
    const byDelivery = new Map<string, Attempt[]>(deliveries.map((d) => [d.id, []]));
    if (deliveries.length === 0) return byDelivery;
    for (const a of attemptsOf.all(JSON.stringify(deliveries.map((d) => d.id)))) {
      byDelivery.get(a.delivery_id)?.push(toAttempt(a));
    }
    return byDelivery;
  };
}

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
  const withAttempts = attemptsLoader(db);

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
