import type { Database } from 'better-sqlite3';
import { decodeCursor, toCursorPage } from '../cursor.js';
import type { CursorPage, StoredEvent } from '../store.js';
import { type Row, toDate } from './tables.js';

type EventRow = Row<'events'>;

/** Row → domain; the payload is returned exactly as stored. */
export const toEvent = (r: EventRow): StoredEvent => ({
  eventId: r.event_id,
  customerId: r.customer_id,
  clientCustomerRef: r.client_customer_ref,
  eventType: r.event_type,
  payload: r.payload,
  createdAt: toDate(r.created_at),
  seq: r.seq,
});

/** The outbox, read side: one event, or a partner's events newest first with a cursor. */
export function eventQueries(db: Database) {
  const get = db.prepare<[string, string], EventRow>(
    'SELECT * FROM events WHERE customer_id = ? AND event_id = ?',
  );
  const page = db.prepare<{ customer_id: string; before: number; limit: number }, EventRow>(
    `SELECT * FROM events WHERE customer_id = @customer_id AND seq < @before
     ORDER BY seq DESC LIMIT @limit`,
  );
  return {
    get(customerId: string, eventId: string): StoredEvent | undefined {
      const row = get.get(customerId, eventId);
      return row && toEvent(row);
    },
    list(customerId: string, q: { limit: number; cursor?: string }): CursorPage<StoredEvent> {
      const before = q.cursor === undefined ? Number.MAX_SAFE_INTEGER : decodeCursor(q.cursor);
      const rows = page.all({ customer_id: customerId, before, limit: q.limit + 1 });
      return toCursorPage(rows, q.limit, toEvent);
    },
  };
}
