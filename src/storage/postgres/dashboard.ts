import { decodeCursor, toCursorPage } from '../cursor.js';
import type {
  CursorPage,
  Delivery,
  DeliveryOfEvent,
  DeliverySearch,
  EndpointHealth,
  EventDeliveries,
  MinuteOutcomes,
  Page,
  ThirdPartyCustomer,
  ThirdPartySearch,
} from '../store.js';
import { type Queryable, statement } from './db.js';
import {
  fromJsonAttempt,
  type JsonAttempt,
  WAITING_FOR_JOIN,
  type WaitingColumns,
  waitingFor,
} from './deliveries.js';
import { EVENT_COLUMNS, toEvent } from './events.js';
import type { Row } from './tables.js';
import { THIRD_PARTY_COLUMNS, type ThirdPartyRow, toThirdParty } from './third-parties.js';

/**
 * The chart reads at most this many of the newest attempts (a primary-key range), so a poll every few
 * seconds never scans the whole attempts table, which has no index on `at`.
 */
export const CHART_ATTEMPT_WINDOW = 100_000;

// strpos() rather than LIKE: a search for "_" or "%" means those characters, with nothing to escape.
// The name is read out of the jsonb row by row: no index helps a substring search anyway.
const WHERE = `($1::text IS NULL OR customer_id = $1) AND ($2::text IS NULL OR status = $2)
  AND ($3::text IS NULL OR strpos(lower(client_customer_ref), lower($3)) > 0)
  AND ($6::text IS NULL OR strpos(lower(client_customer_ref), lower($6)) > 0
    OR strpos(lower(coalesce(client_customer_details->>'first_name', '') || ' ' ||
      coalesce(client_customer_details->>'last_name', '')), lower($6)) > 0)`;

// the count and the page from one statement, so one snapshot (as listThirdParties does)
const search = statement<{ total: string } & { [K in keyof ThirdPartyRow]: ThirdPartyRow[K] | null }>(
  'dashboard_search',
  `SELECT c.total, t.*
   FROM (SELECT count(*) AS total FROM third_parties WHERE ${WHERE}) c
   LEFT JOIN LATERAL (
     SELECT ${THIRD_PARTY_COLUMNS} FROM third_parties WHERE ${WHERE}
     ORDER BY created_at DESC, customer_id, client_customer_ref LIMIT $4 OFFSET $5
   ) t ON true`,
);

/** Third-party customers of one partner or all, by status and a substring of the ref, newest first. */
export async function searchThirdParties(
  db: Queryable,
  q: ThirdPartySearch,
): Promise<Page<ThirdPartyCustomer>> {
  const { rows } = await search.run(db, [
    q.customerId ?? null,
    q.status ?? null,
    q.refContains || null,
    q.limit,
    q.offset,
    q.nameOrRefContains || null,
  ]);
  const items: ThirdPartyCustomer[] = [];
  for (const r of rows) if (r.customer_id !== null) items.push(toThirdParty(r as ThirdPartyRow));
  return { items, total: Number(rows[0]?.total ?? 0) };
}

type FoundDeliveryRow = Pick<
  Row<'deliveries'>,
  | 'seq'
  | 'id'
  | 'event_id'
  | 'endpoint_id'
  | 'client_customer_ref'
  | 'status'
  | 'attempt_count'
  | 'next_attempt_at'
  | 'created_at'
> &
  WaitingColumns & { event_status: string | null; attempts: JsonAttempt[] };

const deliverySearch = statement<FoundDeliveryRow>(
  'dashboard_delivery_search',
  `SELECT d.seq, d.id, d.event_id, d.endpoint_id, d.client_customer_ref, d.status, d.attempt_count,
     d.next_attempt_at, d.created_at, w.id AS waiting_delivery_id, w.event_id AS waiting_event_id,
     (e.payload::jsonb) -> 'data' ->> 'status' AS event_status,
     coalesce((
       SELECT json_agg(json_build_object(
         'at_ms', floor(extract(epoch FROM a.at) * 1000)::bigint, 'duration_ms', a.duration_ms,
         'status_code', a.status_code, 'error', a.error, 'response_excerpt', a.response_excerpt) ORDER BY a.id)
       FROM attempts a WHERE a.delivery_id = d.id
     ), '[]'::json) AS attempts
   FROM deliveries d JOIN events e ON e.event_id = d.event_id
   ${WAITING_FOR_JOIN}
   WHERE d.customer_id = $1 AND d.endpoint_id = $2 AND d.seq < $3
     AND ($4::text IS NULL OR strpos(lower(d.client_customer_ref), lower($4)) > 0)
     AND ($5::text IS NULL OR d.status = $5)
     AND ($6::timestamptz IS NULL OR d.created_at >= $6) AND ($7::timestamptz IS NULL OR d.created_at < $7)
   ORDER BY d.seq DESC LIMIT $8`,
);

/** One endpoint's deliveries matching the search, newest first, with their attempts and event's status. */
export async function searchDeliveries(
  db: Queryable,
  q: DeliverySearch,
): Promise<CursorPage<DeliveryOfEvent>> {
  const before = q.cursor === undefined ? Number.MAX_SAFE_INTEGER : decodeCursor(q.cursor);
  const { rows } = await deliverySearch.run(db, [
    q.customerId,
    q.endpointId,
    before,
    q.refContains || null,
    q.status ?? null,
    q.createdFrom ?? null,
    q.createdBefore ?? null,
    q.limit + 1,
  ]);
  return toCursorPage(
    rows.map((r) => ({ ...r, seq: Number(r.seq) })),
    q.limit,
    (r): DeliveryOfEvent => ({
      id: r.id,
      eventId: r.event_id,
      endpointId: r.endpoint_id,
      status: r.status,
      attemptCount: r.attempt_count,
      nextAttemptAt: r.next_attempt_at,
      createdAt: r.created_at,
      attempts: r.attempts.map(fromJsonAttempt),
      ...waitingFor(r),
      clientCustomerRef: r.client_customer_ref,
      eventStatus: r.event_status,
    }),
  );
}

type TimelineRow = Row<'events'> & {
  deliveries: ({
    id: string;
    endpoint_id: string;
    status: Delivery['status'];
    attempt_count: number;
    next_attempt_ms: number | null;
    created_ms: number;
    attempts: JsonAttempt[];
  } & WaitingColumns)[];
};

const ms = (column: string) => `floor(extract(epoch FROM ${column}) * 1000)::bigint`;

const timeline = statement<TimelineRow>(
  'dashboard_timeline',
  `SELECT ${EVENT_COLUMNS},
     coalesce((
       SELECT json_agg(json_build_object(
         'id', d.id, 'endpoint_id', d.endpoint_id, 'status', d.status, 'attempt_count', d.attempt_count,
         'next_attempt_ms', ${ms('d.next_attempt_at')}, 'created_ms', ${ms('d.created_at')},
         'waiting_delivery_id', w.id, 'waiting_event_id', w.event_id,
         'attempts', coalesce((
           SELECT json_agg(json_build_object(
             'at_ms', ${ms('a.at')}, 'duration_ms', a.duration_ms, 'status_code', a.status_code,
             'error', a.error, 'response_excerpt', a.response_excerpt) ORDER BY a.id)
           FROM attempts a WHERE a.delivery_id = d.id), '[]'::json)) ORDER BY d.seq)
       FROM deliveries d ${WAITING_FOR_JOIN} WHERE d.event_id = events.event_id
     ), '[]'::json) AS deliveries
   FROM events WHERE customer_id = $1 AND client_customer_ref = $2 ORDER BY seq LIMIT $3`,
);

/** The third party's events, oldest first, each with its deliveries and their attempts. */
export async function listThirdPartyEvents(
  db: Queryable,
  customerId: string,
  clientCustomerRef: string,
  limit: number,
): Promise<EventDeliveries[]> {
  const { rows } = await timeline.run(db, [customerId, clientCustomerRef, limit]);
  return rows.map((r) => ({
    event: toEvent(r),
    deliveries: r.deliveries.map(
      (d): Delivery => ({
        id: d.id,
        eventId: r.event_id,
        endpointId: d.endpoint_id,
        status: d.status,
        attemptCount: d.attempt_count,
        nextAttemptAt: d.next_attempt_ms === null ? null : new Date(Number(d.next_attempt_ms)),
        createdAt: new Date(Number(d.created_ms)),
        attempts: d.attempts.map(fromJsonAttempt),
        ...waitingFor(d),
      }),
    ),
  }));
}

const health = statement<{
  endpoint_id: string;
  attempts: string;
  succeeded: string;
  last_at: Date | null;
  err_delivery_id: string | null;
  err_at: Date | null;
  err_duration_ms: number | null;
  err_status_code: number | null;
  err_error: string | null;
  err_response_excerpt: string | null;
}>(
  'dashboard_endpoint_health',
  `SELECT e.id AS endpoint_id, s.attempts, s.succeeded, s.last_at,
     le.delivery_id AS err_delivery_id, le.at AS err_at, le.duration_ms AS err_duration_ms,
     le.status_code AS err_status_code, le.error AS err_error, le.response_excerpt AS err_response_excerpt
   FROM endpoints e
   CROSS JOIN LATERAL (
     SELECT count(a.id) AS attempts,
       count(a.id) FILTER (WHERE a.status_code BETWEEN 200 AND 299) AS succeeded, max(a.at) AS last_at
     FROM deliveries d JOIN attempts a ON a.delivery_id = d.id AND a.at >= $2
     WHERE d.endpoint_id = e.id) s
   LEFT JOIN LATERAL (
     SELECT a.* FROM deliveries d JOIN attempts a ON a.delivery_id = d.id
     WHERE d.endpoint_id = e.id AND (a.status_code IS NULL OR a.status_code NOT BETWEEN 200 AND 299)
     ORDER BY a.id DESC LIMIT 1) le ON true
   WHERE e.customer_id = $1`,
);

/** Every endpoint of the partner: attempt counts since `since`, and its latest failed attempt. */
export async function endpointHealth(
  db: Queryable,
  customerId: string,
  since: Date,
): Promise<EndpointHealth[]> {
  const { rows } = await health.run(db, [customerId, since]);
  return rows.map((r) => ({
    endpointId: r.endpoint_id,
    attempts: Number(r.attempts),
    succeeded: Number(r.succeeded),
    lastAttemptAt: r.last_at,
    lastError:
      r.err_delivery_id === null || r.err_at === null
        ? null
        : {
            deliveryId: r.err_delivery_id,
            at: r.err_at,
            durationMs: r.err_duration_ms ?? 0,
            statusCode: r.err_status_code,
            error: r.err_error,
            responseExcerpt: r.err_response_excerpt,
          },
  }));
}

const perMinute = statement<{ minute_ms: string; delivered: string; rejected: string; failed: string }>(
  'dashboard_attempts_per_minute',
  `SELECT floor(extract(epoch FROM a.at) / 60)::bigint * 60000 AS minute_ms,
     count(*) FILTER (WHERE a.status_code BETWEEN 200 AND 299) AS delivered,
     count(*) FILTER (WHERE a.status_code IN (400, 410)) AS rejected,
     count(*) FILTER (WHERE a.status_code IS NULL OR a.status_code NOT BETWEEN 200 AND 299
       AND a.status_code NOT IN (400, 410)) AS failed
   FROM attempts a JOIN deliveries d ON d.id = a.delivery_id
   WHERE a.id > (SELECT coalesce(max(id), 0) FROM attempts) - $3 AND a.at >= $1
     AND ($2::text IS NULL OR d.customer_id = $2)
   GROUP BY 1 ORDER BY 1`,
);

/** Attempts per minute since `since` by outcome, over the newest {@link CHART_ATTEMPT_WINDOW} attempts. */
export async function attemptsPerMinute(
  db: Queryable,
  q: { customerId?: string; since: Date },
): Promise<MinuteOutcomes[]> {
  const { rows } = await perMinute.run(db, [q.since, q.customerId ?? null, CHART_ATTEMPT_WINDOW]);
  return rows.map((r) => ({
    minute: new Date(Number(r.minute_ms)),
    delivered: Number(r.delivered),
    rejected: Number(r.rejected),
    failed: Number(r.failed),
  }));
}
