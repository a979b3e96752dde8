/**
 * The messages between the main thread and the SQLite writer thread (`writer-worker.ts`). Kept tiny:
 * a record message is one JSON text and one transferred buffer holding every body of a batch.
 */
import type { HandlerFailure } from './store.js';

export interface WriterData {
  filename: string;
  synchronous: 'FULL' | 'NORMAL';
}

/**
 * Values per row in a record message's `columns`: event_id, customer_id, client_customer_ref, status,
 * event_timestamp, reasons (JSON text or null), receivedAt, end offset of the body in `bodies`.
 */
export const RECORD_COLUMNS = 8;

/** One character per row in a record answer. */
export const OUTCOME_CODES = { recorded: 'r', duplicate: 'd', stale: 's' } as const;

/** Bit flags of a record message. */
export const HAS_HANDLERS = 1;
export const HANDLE_STALE = 2;

export type WriterRequest =
  /**
   * Record rows in one transaction. `columns` is ONE JSON text (a flat array, RECORD_COLUMNS values per
   * row) and `bodies` one transferred buffer: cloning a string and moving a buffer is far cheaper than
   * cloning an array of strings. The answer is a string of OUTCOME_CODES, one per row.
   */
  | [id: number, op: 'record', columns: string, bodies: ArrayBuffer, flags: number]
  | [id: number, op: 'handled', seqs: number[], at: number]
  | [id: number, op: 'failed', failures: HandlerFailure[]]
  | [id: number, op: 'close'];

/**
 * The answer to one or more requests: `[ids, true, results]` (one result per id) or
 * `[ids, false, error message]` (all of them failed, e.g. one transaction for several record requests).
 */
export type WriterReply =
  | [ids: number[], ok: true, results: unknown[]]
  | [ids: number[], ok: false, error: string];
