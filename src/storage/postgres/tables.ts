/**
 * The PostgreSQL tables, one row type each, as node-postgres returns them: timestamptz → Date,
 * bigint → string (mapped to number: seq stays far below 2^53), jsonb → parsed value, text[] → string[].
 * Query row types are derived from these with `Pick`.
 */
import type { Reason } from '../store.js';

export interface Tables {
  migrations: { name: string; applied_at: Date };
  settings: { key: string; value: string };
  partners: { customer_id: string; name: string | null; token_hash: string; created_at: Date };
  third_parties: {
    customer_id: string;
    client_customer_ref: string;
    status: 'PENDING' | 'APPROVED' | 'REJECTED';
    reasons: Reason[] | null;
    client_customer_details: Record<string, unknown>;
    property_details: Record<string, unknown>[];
    created_at: Date;
    updated_at: Date;
  };
  events: {
    seq: string;
    event_id: string;
    customer_id: string;
    client_customer_ref: string;
    event_type: string;
    payload: string;
    created_at: Date;
  };
  endpoints: {
    id: string;
    customer_id: string;
    url: string;
    description: string | null;
    event_types: string[];
    enabled: boolean;
    disabled_reason: string | null;
    /** When it last went from enabled to disabled; null while enabled. */
    disabled_at: Date | null;
    failing_since: Date | null;
    /** Deliveries per second the partner allows; null: no limit (migration 018). */
    rate_limit: number | null;
    /** The rate limit's theoretical arrival time, written by the claim (../rate-limit.ts). */
    rate_tat: Date | null;
    created_at: Date;
    updated_at: Date;
  };
  endpoint_secrets: {
    id: string;
    endpoint_id: string;
    secret: string;
    created_at: Date;
    expires_at: Date | null;
  };
  deliveries: {
    seq: string;
    id: string;
    event_id: string;
    event_seq: string;
    endpoint_id: string;
    customer_id: string;
    client_customer_ref: string;
    status: 'pending' | 'delivered' | 'failed';
    attempt_count: number;
    /** attempt_count when the current retry round began (set by recover); the schedule counts from it. */
    retry_round_start: number;
    next_attempt_at: Date | null;
    last_attempt_at: Date | null;
    created_at: Date;
    updated_at: Date;
  };
  /** A dispatcher's lease on a pending delivery (migration 013): free once `locked_until` has passed. */
  delivery_leases: {
    delivery_id: string;
    endpoint_id: string;
    locked_by: string;
    locked_until: Date;
  };
  attempts: {
    id: string;
    delivery_id: string;
    at: Date;
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
    created_at: Date;
  };
  dashboard_sessions: {
    id_hash: string;
    customer_id: string | null;
    token_hash: string;
    created_at: Date;
    expires_at: Date;
  };
}

export type Row<T extends keyof Tables> = Tables[T];
