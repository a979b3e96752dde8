import type { Database } from 'better-sqlite3';
import { decodeCursor, toCursorPage } from '../cursor.js';
import type { Attempt, CursorPage, Delivery } from '../store.js';
import { type Row, toDate, toDateOrNull } from './tables.js';

type DeliveryRow = Row<'deliveries'>;
type AttemptRow = Row<'attempts'>;

/** What {@link WAITING_FOR_COLUMNS} adds to a deliveries row: the delivery it waits behind, if any. */
export interface WaitingColumns {
  waiting_delivery_id: string | null;
  waiting_event_id: string | null;
}

/**
 * Columns and join for a query over `deliveries d`: the delivery `d` waits behind while it is pending,
 * the earliest pending one of its ordering key (endpoint + customer_id + client_customer_ref) with a
 * smaller event seq, which is what keeps the claim from taking `d` (queue.ts). Each listed row costs
 * one probe of the `deliveries_order` index.
 *
 * @example
 * `SELECT d.*, ${WAITING_FOR_COLUMNS} FROM deliveries d ${WAITING_FOR_JOIN} WHERE d.id = ?`
 */
export const WAITING_FOR_COLUMNS = 'w.id AS waiting_delivery_id, w.event_id AS waiting_event_id';
export const WAITING_FOR_JOIN = `LEFT JOIN deliveries w ON d.status = 'pending' AND w.id = (
    SELECT p.id FROM deliveries p
    WHERE p.endpoint_id = d.endpoint_id AND p.customer_id = d.customer_id
      AND p.client_customer_ref = d.client_customer_ref AND p.status = 'pending' AND p.event_seq < d.event_seq
    ORDER BY p.event_seq LIMIT 1)`;

/** An attempts row as the domain's Attempt. */
export const toAttempt = (r: AttemptRow): Attempt => ({
  at: toDate(r.at),
  durationMs: r.duration_ms,
  statusCode: r.status_code,
  error: r.error,
  responseExcerpt: r.response_excerpt,
});

/** A deliveries row (with {@link WaitingColumns}) and its attempts as the domain's Delivery. */
export const toDelivery = (r: DeliveryRow & WaitingColumns, attempts: Attempt[]): Delivery => ({
  id: r.id,
  eventId: r.event_id,
  endpointId: r.endpoint_id,
  status: r.status,
  attemptCount: r.attempt_count,
  nextAttemptAt: toDateOrNull(r.next_attempt_at),
  createdAt: toDate(r.created_at),
  attempts,
  ...(r.waiting_delivery_id === null || r.waiting_event_id === null
    ? {}
    : { waitingFor: { eventId: r.waiting_event_id, deliveryId: r.waiting_delivery_id } }),
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
    DeliveryRow & WaitingColumns
  >(
    `SELECT d.*, ${WAITING_FOR_COLUMNS} FROM deliveries d ${WAITING_FOR_JOIN}
     WHERE d.endpoint_id = @endpoint_id AND d.customer_id = @customer_id AND d.seq < @before
     ORDER BY d.seq DESC LIMIT @limit`,
  );
  const one = db.prepare<[string, string, string], DeliveryRow & WaitingColumns>(
    `SELECT d.*, ${WAITING_FOR_COLUMNS} FROM deliveries d ${WAITING_FOR_JOIN}
     WHERE d.customer_id = ? AND d.endpoint_id = ? AND d.id = ?`,
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
