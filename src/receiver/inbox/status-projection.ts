import type Database from 'better-sqlite3';
import type { ThirdPartyCustomerStatusEvent } from '../../contract/index.js';
import { type EventOrder, timestampMs } from './order.js';
import { type InboxRow, toInboxRow } from './row.js';

interface PendingStatus extends EventOrder {
  row: InboxRow;
}

/**
 * The `customer_statuses` table as a projection of the inbox: the newest non-stale event per
 * `(customer_id, client_customer_ref)`. `inbox_meta.projected_seq` says how far into `inbox_events`
 * the table is known to be up to date.
 *
 * A record transaction only inserts the event and remembers it here; {@link project} writes every
 * remembered status in one transaction of its own. Events of a busy receiver then cost
 * one status write per third party per batch instead of one per event, and the record commit no
 * longer carries the status table's pages (~40% of its WAL frames). Whoever reads statuses projects
 * first, so a read always sees every recorded event. A crash loses only the in-memory part: at open
 * {@link recover} replays the inbox rows after `projected_seq`, since the inbox rows are the record.
 *
 * Two processes writing one inbox file: each decides `stale` from the table plus its own unwritten
 * statuses, and the guarded upsert keeps the table right. One gap remains: if one process crashes,
 * the other may already have moved `projected_seq` past the statuses the crashed one never wrote.
 * Those are then not replayed, and the table shows the previous status for those third parties
 * until a newer event arrives. One receiver per file has no such gap.
 */
export class StatusProjection {
  readonly #db: Database.Database;
  readonly #selectOrder: Database.Statement<[string, string], { event_ts_ms: number; event_seq: number }>;
  readonly #upsert: Database.Statement<
    [string, string, string, string | null, string, number, string, number, number]
  >;
  readonly #setProjected: Database.Statement<[number]>;
  readonly #pending = new Map<string, PendingStatus>();
  /** Remembered by the record transaction under way; kept only if it commits. */
  readonly #staged = new Map<string, PendingStatus>();
  #stagedSeq = 0;
  #lastSeq = 0;

  constructor(db: Database.Database) {
    this.#db = db;
    this.#selectOrder = db.prepare(
      'SELECT event_ts_ms, event_seq FROM customer_statuses WHERE customer_id = ? AND client_customer_ref = ?',
    );
    // The WHERE makes a write that is not newer a no-op: a status never goes back, whoever writes it
    // (a second process sharing the file, a replay after a crash). Newer: a later event_timestamp, or
    // the same one received later (order.ts).
    this.#upsert = db.prepare(
      `INSERT INTO customer_statuses (customer_id, client_customer_ref, status, reasons, event_timestamp,
         event_ts_ms, event_id, updated_at, event_seq)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (customer_id, client_customer_ref) DO UPDATE SET status = excluded.status,
         reasons = excluded.reasons, event_timestamp = excluded.event_timestamp,
         event_ts_ms = excluded.event_ts_ms, event_id = excluded.event_id, updated_at = excluded.updated_at,
         event_seq = excluded.event_seq
       WHERE excluded.event_ts_ms > customer_statuses.event_ts_ms
          OR (excluded.event_ts_ms = customer_statuses.event_ts_ms AND excluded.event_seq > customer_statuses.event_seq)`,
    );
    this.#setProjected = db.prepare('UPDATE inbox_meta SET projected_seq = max(projected_seq, ?)');
  }

  /** Statuses waiting for {@link project}. */
  get pending(): number {
    return this.#pending.size;
  }

  /** The order of the status held now for this third party, remembered ones included. */
  current(customerId: string, ref: string): EventOrder | undefined {
    const k = key(customerId, ref);
    const remembered = this.#staged.get(k) ?? this.#pending.get(k);
    if (remembered) return remembered;
    const row = this.#selectOrder.get(customerId, ref);
    return row && { timestampMs: row.event_ts_ms, seq: row.event_seq };
  }

  /** Inside a record transaction: `row` (inserted as `seq`) is the newest status for its third party. */
  remember(row: InboxRow, timestampMs: number, seq: number): void {
    this.#stagedSeq = seq;
    this.#staged.set(key(row.customerId, row.clientCustomerRef), { row, timestampMs, seq });
  }

  /** Inside a record transaction: a row was inserted that changes no status (stale). */
  skip(seq: number): void {
    this.#stagedSeq = seq;
  }

  /** After the record transaction: keeps what it remembered if it committed, forgets it if not. */
  settle(committed: boolean): void {
    if (committed) {
      for (const [k, status] of this.#staged) this.#pending.set(k, status);
      if (this.#stagedSeq > 0) this.#lastSeq = this.#stagedSeq;
    }
    this.#staged.clear();
    this.#stagedSeq = 0;
  }

  /** Writes every remembered status in one transaction. */
  project(): void {
    if (this.#pending.size === 0) return;
    this.#db.transaction(() => {
      for (const { row, timestampMs, seq } of this.#pending.values()) this.#write(row, timestampMs, seq);
      this.#setProjected.run(this.#lastSeq);
    })();
    this.#pending.clear();
  }

  /**
   * At open: applies the inbox rows recorded after the last projection (the process stopped before
   * writing them). Stale rows are passed over; the guarded upsert keeps the newest of the rest.
   */
  recover(): void {
    const rows = this.#db
      .prepare<[], RecoveredRow>(
        `SELECT seq, body, received_at FROM inbox_events
         WHERE seq > (SELECT projected_seq FROM inbox_meta) AND stale = 0 ORDER BY seq`,
      )
      .all();
    if (rows.length === 0) return;
    this.#db.transaction(() => {
      for (const { seq, body, received_at } of rows) {
        // The stored bytes are the event exactly as validated when it was received.
        const event = JSON.parse(body.toString('utf8')) as ThirdPartyCustomerStatusEvent;
        const row = toInboxRow({ event, body, receivedAt: received_at });
        this.#write(row, timestampMs(row.eventTimestamp), seq);
      }
      this.#setProjected.run((rows.at(-1) as RecoveredRow).seq);
    })();
  }

  #write(row: InboxRow, timestampMs: number, seq: number): void {
    this.#upsert.run(
      row.customerId,
      row.clientCustomerRef,
      row.status,
      row.reasons,
      row.eventTimestamp,
      timestampMs,
      row.eventId,
      row.receivedAt,
      seq,
    );
  }
}

interface RecoveredRow {
  seq: number;
  body: Buffer;
  received_at: number;
}

function key(customerId: string, ref: string): string {
  // Refs are letters, digits, `_` and `-` (the contract), so a NUL cannot occur in either part.
  return `${customerId}\u0000${ref}`;
}
