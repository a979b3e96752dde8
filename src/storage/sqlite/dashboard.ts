import type { Database } from 'better-sqlite3';
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
import {
  attemptsLoader,
  toAttempt,
  toDelivery,
  WAITING_FOR_COLUMNS,
  WAITING_FOR_JOIN,
  type WaitingColumns,
} from './deliveries.js';
import { toEvent } from './events.js';
import { type Row, toDate, toDateOrNull } from './tables.js';
import { toThirdParty } from './third-parties.js';

/**
 * The chart reads at most this many of the newest attempts (a primary-key range), so a poll every few
 * seconds never scans the whole attempts table, which has no index on `at`.
 */
export const CHART_ATTEMPT_WINDOW = 100_000;

type AttemptRow = Row<'attempts'>;
type DeliveryRow = Row<'deliveries'>;

/** The dashboard's reads: search, a third party's timeline, endpoint health, attempts per minute. */
export function dashboardQueries(db: Database) {
  type SearchParams = {
    customer_id: string | null;
    status: string | null;
    ref: string | null;
    name_or_ref: string | null;
  };
  // instr() rather than LIKE: a search for "_" or "%" means those characters, with nothing to escape.
  // The name is read out of the stored JSON row by row: no index helps a substring search anyway.
  const where = `(@customer_id IS NULL OR customer_id = @customer_id)
     AND (@status IS NULL OR status = @status)
     AND (@ref IS NULL OR instr(lower(client_customer_ref), lower(@ref)) > 0)
     AND (@name_or_ref IS NULL OR instr(lower(client_customer_ref), lower(@name_or_ref)) > 0
       OR instr(lower(coalesce(json_extract(client_customer_details, '$.first_name'), '') || ' ' ||
         coalesce(json_extract(client_customer_details, '$.last_name'), '')), lower(@name_or_ref)) > 0)`;
  const search = db.prepare<SearchParams & { limit: number; offset: number }, Row<'third_parties'>>(
    `SELECT * FROM third_parties WHERE ${where}
     ORDER BY created_at DESC, customer_id, client_customer_ref LIMIT @limit OFFSET @offset`,
  );
  const count = db.prepare<SearchParams, number>(`SELECT count(*) FROM third_parties WHERE ${where}`).pluck();
  const searchPage = db.transaction((q: ThirdPartySearch): Page<ThirdPartyCustomer> => {
    const p: SearchParams = {
      customer_id: q.customerId ?? null,
      status: q.status ?? null,
      ref: q.refContains || null,
      name_or_ref: q.nameOrRefContains || null,
    };
    const total = count.get(p) ?? 0;
    return { items: search.all({ ...p, limit: q.limit, offset: q.offset }).map(toThirdParty), total };
  });

  const events = db.prepare<[string, string, number], Row<'events'>>(
    `SELECT * FROM events WHERE customer_id = ? AND client_customer_ref = ? ORDER BY seq LIMIT ?`,
  );
  const deliveriesOf = db.prepare<[string], DeliveryRow & WaitingColumns>(
    `SELECT d.*, ${WAITING_FOR_COLUMNS} FROM deliveries d ${WAITING_FOR_JOIN}
     WHERE d.event_id IN (SELECT value FROM json_each(?)) ORDER BY d.seq`,
  );
  const attemptsOf = attemptsLoader(db);
  const timeline = db.transaction((customerId: string, ref: string, limit: number): EventDeliveries[] => {
    const eventRows = events.all(customerId, ref, limit);
    const deliveryRows =
      eventRows.length === 0 ? [] : deliveriesOf.all(JSON.stringify(eventRows.map((e) => e.event_id)));
    const attempts = attemptsOf(deliveryRows);
    const byEvent = new Map<string, Delivery[]>(eventRows.map((e) => [e.event_id, []]));
    for (const d of deliveryRows) byEvent.get(d.event_id)?.push(toDelivery(d, attempts.get(d.id) ?? []));
    return eventRows.map((e) => ({ event: toEvent(e), deliveries: byEvent.get(e.event_id) ?? [] }));
  });

  const healthCounts = db.prepare<
    [number, string],
    { endpoint_id: string; attempts: number; succeeded: number; last_at: number | null }
  >(
    `SELECT e.id AS endpoint_id, count(a.id) AS attempts,
       count(a.id) FILTER (WHERE a.status_code BETWEEN 200 AND 299) AS succeeded, max(a.at) AS last_at
     FROM endpoints e
     LEFT JOIN deliveries d ON d.endpoint_id = e.id
     LEFT JOIN attempts a ON a.delivery_id = d.id AND a.at >= ?
     WHERE e.customer_id = ?
     GROUP BY e.id`,
  );
  const lastError = db.prepare<[string], AttemptRow>(
    `SELECT a.* FROM deliveries d JOIN attempts a ON a.delivery_id = d.id
     WHERE d.endpoint_id = ? AND (a.status_code IS NULL OR a.status_code NOT BETWEEN 200 AND 299)
     ORDER BY a.id DESC LIMIT 1`,
  );
  const health = db.transaction((customerId: string, since: Date): EndpointHealth[] =>
    healthCounts.all(since.getTime(), customerId).map((r) => {
      const err = lastError.get(r.endpoint_id);
      return {
        endpointId: r.endpoint_id,
        attempts: r.attempts,
        succeeded: r.succeeded,
        lastAttemptAt: toDateOrNull(r.last_at),
        lastError: err ? { ...toAttempt(err), deliveryId: err.delivery_id } : null,
      };
    }),
  );

  const perMinute = db.prepare<
    { since: number; customer_id: string | null; window: number },
    { minute: number; delivered: number; rejected: number; failed: number }
  >(
    `SELECT (a.at / 60000) * 60000 AS minute,
       count(*) FILTER (WHERE a.status_code BETWEEN 200 AND 299) AS delivered,
       count(*) FILTER (WHERE a.status_code IN (400, 410)) AS rejected,
       count(*) FILTER (WHERE a.status_code IS NULL OR a.status_code NOT BETWEEN 200 AND 299
         AND a.status_code NOT IN (400, 410)) AS failed
     FROM attempts a JOIN deliveries d ON d.id = a.delivery_id
     WHERE a.id > (SELECT coalesce(max(id), 0) FROM attempts) - @window AND a.at >= @since
       AND (@customer_id IS NULL OR d.customer_id = @customer_id)
     GROUP BY minute ORDER BY minute`,
  );

  type DeliveryParams = {
    customer_id: string;
    endpoint_id: string;
    ref: string | null;
    status: string | null;
    from: number | null;
    to: number | null;
    before: number;
    limit: number;
  };
  const deliveryPage = db.prepare<
    DeliveryParams,
    DeliveryRow & WaitingColumns & { event_status: string | null }
  >(
    `SELECT d.*, ${WAITING_FOR_COLUMNS}, json_extract(e.payload, '$.data.status') AS event_status
     FROM deliveries d JOIN events e ON e.event_id = d.event_id ${WAITING_FOR_JOIN}
     WHERE d.endpoint_id = @endpoint_id AND d.customer_id = @customer_id AND d.seq < @before
       AND (@ref IS NULL OR instr(lower(d.client_customer_ref), lower(@ref)) > 0)
       AND (@status IS NULL OR d.status = @status)
       AND (@from IS NULL OR d.created_at >= @from) AND (@to IS NULL OR d.created_at < @to)
     ORDER BY d.seq DESC LIMIT @limit`,
  );
  const searchDeliveries = db.transaction((q: DeliverySearch): CursorPage<DeliveryOfEvent> => {
    const rows = deliveryPage.all({
      customer_id: q.customerId,
      endpoint_id: q.endpointId,
      ref: q.refContains || null,
      status: q.status ?? null,
      from: q.createdFrom?.getTime() ?? null,
      to: q.createdBefore?.getTime() ?? null,
      before: q.cursor === undefined ? Number.MAX_SAFE_INTEGER : decodeCursor(q.cursor),
      limit: q.limit + 1,
    });
    const attempts = attemptsOf(rows.slice(0, q.limit));
    return toCursorPage(rows, q.limit, (r) => ({
      ...toDelivery(r, attempts.get(r.id) ?? []),
      clientCustomerRef: r.client_customer_ref,
      eventStatus: r.event_status,
    }));
  });

  return {
    searchDeliveries: (q: DeliverySearch): CursorPage<DeliveryOfEvent> => searchDeliveries(q),
    search: (q: ThirdPartySearch): Page<ThirdPartyCustomer> => searchPage(q),
    timeline: (customerId: string, ref: string, limit: number): EventDeliveries[] =>
      timeline(customerId, ref, limit),
    health: (customerId: string, since: Date): EndpointHealth[] => health(customerId, since),
    perMinute: (q: { customerId?: string; since: Date }): MinuteOutcomes[] =>
      perMinute
        .all({ since: q.since.getTime(), customer_id: q.customerId ?? null, window: CHART_ATTEMPT_WINDOW })
        .map((r) => ({
          minute: toDate(r.minute),
          delivered: r.delivered,
          rejected: r.rejected,
          failed: r.failed,
        })),
  };
}
