/**
 * The receiver's durable inbox, one interface for every database.
 *
 * Glossary
 * - InboxEntry: a verified, valid event about to be recorded, with the exact bytes that were received.
 * - Outcome: what recording did. `recorded`: new and the newest status for its third-party customer;
 *   `stale`: new, but older than the status already held (kept for the record, status untouched);
 *   `duplicate`: this `event_id` is already in the inbox (nothing changes).
 * - CustomerStatusRecord: the latest status per `(customer_id, client_customer_ref)`: the event with
 *   the newest `event_timestamp`; on an equal timestamp, the one received later (order.ts).
 * - PendingEvent: an inbox row whose handlers have not succeeded yet. States of a row:
 *   `pending` → `handled` (handlers succeeded), or `failed` (retries exhausted); a stale row that is not
 *   handed to handlers is `skipped`.
 *
 * Every method is async so PostgreSQL can follow SQLite with the same contract, and each is one
 * whole operation (its own transaction): no caller holds a transaction open across an `await`.
 */
import type { CustomerStatus, Reason, ThirdPartyCustomerStatusEvent } from '../../contract/index.js';
import type { WriteFailure } from '../core/write-health.js';

export type RecordOutcome = 'recorded' | 'duplicate' | 'stale';
export type InboxState = 'pending' | 'handled' | 'skipped' | 'failed';

export interface InboxEntry {
  event: ThirdPartyCustomerStatusEvent;
  /** The request body exactly as received and verified; handlers get it parsed again, never re-serialised. */
  body: Uint8Array;
  /** Epoch milliseconds. */
  receivedAt: number;
}

export interface RecordOptions {
  /**
   * Whether any handler is subscribed. If not, there is nothing to run: new events are recorded as
   * `handled` on arrival (the status table is updated all the same) and the worker never sees them.
   */
  handlers: boolean;
  /** Whether stale events are handed to handlers (`pending`) or only kept (`skipped`). */
  handleStale: boolean;
}

export interface PendingEvent {
  /** Insertion order; handlers see events in this order. */
  seq: number;
  eventId: string;
  body: Uint8Array;
  stale: boolean;
  /** Failed handler attempts so far. */
  attempts: number;
  receivedAt: number;
}

export interface HandlerFailure {
  seq: number;
  error: string;
  /** When to try again (epoch ms), or null to give up and mark the row `failed`. */
  retryAt: number | null;
}

export interface InboxEvent {
  seq: number;
  eventId: string;
  customerId: string;
  clientCustomerRef: string;
  status: CustomerStatus;
  eventTimestamp: string;
  stale: boolean;
  state: InboxState;
  attempts: number;
  lastError: string | null;
  receivedAt: Date;
  handledAt: Date | null;
}

export interface CustomerStatusRecord {
  customerId: string;
  clientCustomerRef: string;
  status: CustomerStatus;
  reasons: Reason[] | null;
  eventTimestamp: string;
  eventId: string;
  updatedAt: Date;
}

export interface InboxStore {
  /**
   * Records a batch of events in ONE transaction, in order (a later entry sees the earlier ones, so two
   * copies of an event in one batch give `recorded` then `duplicate`). Each new event that is not stale
   * becomes its third party's status: every status read made after `record` resolves sees it (a store
   * may write the status table later, in batches, as long as reads and a restart after a crash see
   * it). Resolves only once the transaction is durable, which is what lets the receiver answer 200.
   */
  record(entries: readonly InboxEntry[], options: RecordOptions): Promise<RecordOutcome[]>;
  /**
   * True when `record` calls may overlap: the store commits each one at once and only then waits for
   * it to be durable (the SQLite inbox with `FULL` waits for a WAL sync that serves every commit made
   * before it started). The receiver then hands each event-loop turn's events over at once instead of
   * waiting for the previous `record`. Default false: one `record` at a time.
   */
  readonly groupsConcurrentRecords?: boolean;
  /** Pending events due at `now` (epoch ms), oldest first. */
  due(now: number, limit: number): Promise<PendingEvent[]>;
  /** Earliest retry time of any pending event, or undefined when nothing is pending. */
  nextDueAt(): Promise<number | undefined>;
  markHandled(seqs: readonly number[], at: number): Promise<void>;
  markFailed(failures: readonly HandlerFailure[]): Promise<void>;
  getEvent(eventId: string): Promise<InboxEvent | undefined>;
  getStatus(customerId: string, clientCustomerRef: string): Promise<CustomerStatusRecord | undefined>;
  /** Statuses ordered by customer then ref; all customers when `customerId` is omitted. */
  listStatuses(query?: { customerId?: string; limit?: number }): Promise<CustomerStatusRecord[]>;
  /**
   * Optional: the store's own background writers failing now (the SQLite inbox's status projection);
   * empty when none. The receiver's `health()` lists them beside the writers it runs itself.
   */
  health?(): readonly WriteFailure[];
  /**
   * Optional: one small write, to learn whether the store takes writes again after a failure (the
   * receiver's `checkHealth()` calls it then). Rejects while it cannot write.
   */
  probe?(): Promise<void>;
  close(): Promise<void>;
}
