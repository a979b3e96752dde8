import { decodeCursor, toCursorPage } from '../cursor.js';
import type { CursorPage, StoredEvent } from '../store.js';
import { type Queryable, statement } from './db.js';
import type { Row } from './tables.js';

type EventRow = Row<'events'>;

export const EVENT_COLUMNS =
  'seq, event_id, customer_id, client_customer_ref, event_type, payload, created_at';

/** Row → domain; the payload is the stored text, byte for byte. */
export const toEvent = (r: EventRow): StoredEvent => ({
  eventId: r.event_id,
  customerId: r.customer_id,
  clientCustomerRef: r.client_customer_ref,
  eventType: r.event_type,
  payload: r.payload,
  createdAt: r.created_at,
  seq: Number(r.seq),
});

const get = statement<EventRow>(
  'event_get',
  `SELECT ${EVENT_COLUMNS} FROM events WHERE customer_id = $1 AND event_id = $2`,
);
const page = statement<EventRow>(
  'event_page',
  `SELECT ${EVENT_COLUMNS} FROM events WHERE customer_id = $1 AND seq < $2 ORDER BY seq DESC LIMIT $3`,
);

export async function getEvent(
  db: Queryable,
  customerId: string,
  eventId: string,
): Promise<StoredEvent | undefined> {
  const row = (await get.run(db, [customerId, eventId])).rows[0];
  return row && toEvent(row);
}

/** Newest first; see ../cursor.ts. */
export async function listEvents(
  db: Queryable,
  customerId: string,
  q: { limit: number; cursor?: string },
): Promise<CursorPage<StoredEvent>> {
  const before = q.cursor === undefined ? Number.MAX_SAFE_INTEGER : decodeCursor(q.cursor);
  const { rows } = await page.run(db, [customerId, before, q.limit + 1]);
  return toCursorPage(rows.map(toEvent), q.limit, (e) => e);
}
