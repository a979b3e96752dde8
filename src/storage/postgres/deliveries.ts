import { decodeCursor, toCursorPage } from '../cursor.js';
import type { Attempt, CursorPage, Delivery } from '../store.js';
import { type Queryable, statement } from './db.js';
import type { Row } from './tables.js';

/** A delivery with its attempts aggregated as JSON (times as epoch milliseconds, exact). */
type DeliveryRow = Pick<
  Row<'deliveries'>,
  'seq' | 'id' | 'event_id' | 'endpoint_id' | 'status' | 'attempt_count' | 'next_attempt_at' | 'created_at'
> &
  WaitingColumns & {
    attempts: JsonAttempt[];
  };

/** What {@link WAITING_FOR_JOIN} adds to a row: the delivery it waits behind, if any. */
export interface WaitingColumns {
  waiting_delivery_id: string | null;
  waiting_event_id: string | null;
}

/**
 * A lateral join for a query over `deliveries d`, as `w (id, event_id)`: the delivery `d` waits behind
 * while it is pending and not its key's head (so the claim does not take it, migration 003), that is
 * the earliest pending delivery of its ordering key (endpoint + customer_id + client_customer_ref) with
 * a smaller event seq. Each listed row costs one probe of the `deliveries_pending_by_key` index.
 */
export const WAITING_FOR_JOIN = `LEFT JOIN LATERAL (
    SELECT p.id, p.event_id FROM deliveries p
    WHERE d.status = 'pending' AND NOT d.head
      AND p.endpoint_id = d.endpoint_id AND p.customer_id = d.customer_id
      AND p.client_customer_ref = d.client_customer_ref AND p.status = 'pending' AND p.event_seq < d.event_seq
    ORDER BY p.event_seq LIMIT 1
  ) w ON true`;

/** The domain's `waitingFor`, spread into a Delivery: present only when there is one. */
export const waitingFor = (r: WaitingColumns): Pick<Delivery, 'waitingFor'> =>
  r.waiting_delivery_id === null || r.waiting_event_id === null
    ? {}
    : { waitingFor: { eventId: r.waiting_event_id, deliveryId: r.waiting_delivery_id } };

/** An attempt as aggregated with `json_build_object` (its time as epoch milliseconds, exact). */
export interface JsonAttempt {
  at_ms: number;
  duration_ms: number;
  status_code: number | null;
  error: string | null;
  response_excerpt: string | null;
}

/** A JSON-aggregated attempt as the domain's Attempt. */
export const fromJsonAttempt = (a: JsonAttempt): Attempt => ({
  at: new Date(Number(a.at_ms)),
  durationMs: a.duration_ms,
  statusCode: a.status_code,
  error: a.error,
  responseExcerpt: a.response_excerpt,
});

const toDelivery = (r: DeliveryRow): Delivery & { seq: number } => ({
  seq: Number(r.seq),
  id: r.id,
  eventId: r.event_id,
  endpointId: r.endpoint_id,
  status: r.status,
  attemptCount: r.attempt_count,
  nextAttemptAt: r.next_attempt_at,
  createdAt: r.created_at,
  attempts: r.attempts.map(fromJsonAttempt),
  ...waitingFor(r),
});

const SELECT = `
  SELECT d.seq, d.id, d.event_id, d.endpoint_id, d.status, d.attempt_count, d.next_attempt_at, d.created_at,
    w.id AS waiting_delivery_id, w.event_id AS waiting_event_id,
    coalesce((
      SELECT json_agg(json_build_object(
        'at_ms', floor(extract(epoch FROM a.at) * 1000)::bigint, 'duration_ms', a.duration_ms,
        'status_code', a.status_code, 'error', a.error, 'response_excerpt', a.response_excerpt) ORDER BY a.id)
      FROM attempts a WHERE a.delivery_id = d.id
    ), '[]'::json) AS attempts
  FROM deliveries d
  ${WAITING_FOR_JOIN}`;

const page = statement<DeliveryRow>(
  'delivery_page',
  `${SELECT}
   WHERE d.endpoint_id = $2 AND d.customer_id = $1 AND d.seq < $3
   ORDER BY d.seq DESC LIMIT $4`,
);
const one = statement<DeliveryRow>(
  'delivery_get',
  `${SELECT} WHERE d.customer_id = $1 AND d.endpoint_id = $2 AND d.id = $3`,
);

const withoutSeq = ({ seq: _seq, ...delivery }: Delivery & { seq: number }): Delivery => delivery;

/** The endpoint's deliveries, newest first, each with its attempts; see ../cursor.ts. */
export async function listDeliveries(
  db: Queryable,
  customerId: string,
  endpointId: string,
  q: { limit: number; cursor?: string },
): Promise<CursorPage<Delivery>> {
  const before = q.cursor === undefined ? Number.MAX_SAFE_INTEGER : decodeCursor(q.cursor);
  const { rows } = await page.run(db, [customerId, endpointId, before, q.limit + 1]);
  return toCursorPage(rows.map(toDelivery), q.limit, withoutSeq);
}

export async function getDelivery(
  db: Queryable,
  customerId: string,
  endpointId: string,
  id: string,
): Promise<Delivery | undefined> {
  const row = (await one.run(db, [customerId, endpointId, id])).rows[0];
  return row && withoutSeq(toDelivery(row));
}
