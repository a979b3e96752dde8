import type { InboxEntry } from './store.js';

/** One event as the SQLite inbox stores it: the columns, already taken out of the parsed event. */
export interface InboxRow {
  eventId: string;
  customerId: string;
  clientCustomerRef: string;
  status: string;
  eventTimestamp: string;
  /** `data.reasons` as JSON text, or null when absent. */
  reasons: string | null;
  body: Uint8Array;
  receivedAt: number;
}

export function toInboxRow({ event, body, receivedAt }: InboxEntry): InboxRow {
  const { customer_id, client_customer_ref, status, reasons } = event.data;
  return {
    eventId: event.event_id,
    customerId: customer_id,
    clientCustomerRef: client_customer_ref,
    status,
    eventTimestamp: event.event_timestamp,
    reasons: reasons === undefined ? null : JSON.stringify(reasons),
    body,
    receivedAt,
  };
}
