/**
 * The SQLite tables, one row type each (see migrations/). Every query's row type is derived from these
 * with `Pick`, so a column rename is a compile error everywhere it matters.
 * Times are milliseconds since the Unix epoch; JSON columns are TEXT; booleans are 0/1.
 */
export interface Tables {
  migrations: { name: string; applied_at: number };
  settings: { key: string; value: string };
  partners: { customer_id: string; name: string | null; token_hash: string; created_at: number };
  third_parties: {
    customer_id: string;
    client_customer_ref: string;
    status: 'PENDING' | 'APPROVED' | 'REJECTED';
    reasons: string | null;
    client_customer_details: string;
    property_details: string;
    created_at: number;
    updated_at: number;
    /** The newest event's `event_timestamp` (epoch ms); null before the first decision. */
    last_event_at: number | null;
  };
  events: {
    seq: number;
    event_id: string;
    customer_id: string;
    client_customer_ref: string;
    event_type: string;
    payload: string;
    created_at: number;
  };
  endpoints: {
    id: string;
    customer_id: string;
    url: string;
    description: string | null;
    event_types: string;
    enabled: 0 | 1;
    disabled_reason: string | null;
    /** When it last went from enabled to disabled; null while enabled. */
    disabled_at: number | null;
    failing_since: number | null;
    /** Deliveries per second the partner allows; null: no limit (migration 010). */
    rate_limit: number | null;
    /** The rate limit's theoretical arrival time (epoch ms, fractional), written by the claim (../rate-limit.ts). */
    rate_tat: number | null;
    created_at: number;
    updated_at: number;
  };
  endpoint_secrets: {
    id: number;
    endpoint_id: string;
    secret: string;
    created_at: number;
    expires_at: number | null;
  };
  deliveries: {
    seq: number;
    id: string;
    event_id: string;
    event_seq: number;
    endpoint_id: string;
    customer_id: string;
    client_customer_ref: string;
    status: 'pending' | 'delivered' | 'failed';
    attempt_count: number;
    /** attempt_count when the current retry round began (set by recover); the schedule counts from it. */
    retry_round_start: number;
    next_attempt_at: number | null;
    last_attempt_at: number | null;
    created_at: number;
    updated_at: number;
  };
  attempts: {
    id: number;
    delivery_id: string;
    at: number;
    duration_ms: number;
    status_code: number | null;
    error: string | null;
    response_excerpt: string | null;
  };
  idempotency_keys: {
    customer_id: string;
    key: string;
    request_hash: string;
    status_code: number;
    body: string;
    created_at: number;
  };
  dashboard_sessions: {
    id_hash: string;
    customer_id: string | null;
    token_hash: string;
    created_at: number;
    expires_at: number;
  };
}

export type Row<T extends keyof Tables> = Tables[T];

/** A stored time (ms) as a Date. */
export const toDate = (ms: number): Date => new Date(ms);
/** A nullable stored time as a Date or null. */
export const toDateOrNull = (ms: number | null): Date | null => (ms === null ? null : new Date(ms));
