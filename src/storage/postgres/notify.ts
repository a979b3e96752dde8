import type pg from 'pg';
import { statement } from './db.js';

// A transaction of its own (NOTIFY takes a transaction id, so its commit writes WAL). It need not be
// durable: synchronous_commit off for it alone, so its commit does not wait for the WAL flush. The
// payload is `<source>:<schema>`: the sending storage's signal (QueueSignal.source), then the schema.
const notify = statement(
  'deliveries_notify',
  "SELECT set_config('synchronous_commit', 'off', true), pg_notify('tpcs_deliveries', $1 || ':' || current_schema())",
);

/**
 * Whether a NOTIFY payload is for the listener's schema and was sent by another storage than
 * `source` (its own storage's listeners heard the commit already, from the signal). A payload without
 * a source, as versions before it sent, counts as another storage's.
 *
 * @example
 * notifiedByOther('3f2a9c01b7de:public', 'public', 'aaaaaaaaaaaa'); // true
 * notifiedByOther('aaaaaaaaaaaa:public', 'public', 'aaaaaaaaaaaa'); // false
 */
export function notifiedByOther(payload: string, schema: string, source: string): boolean {
  if (payload === schema) return true;
  const sep = payload.indexOf(':');
  return sep > 0 && payload.slice(sep + 1) === schema && payload.slice(0, sep) !== source;
}

/**
 * Wakes every process's listeners (their `LISTEN tpcs_deliveries`, postgres/queue.ts) after commits
 * that recorded events or made deliveries claimable, outside those commits (migrations 005 and 008
 * say why). Coalesced: while one NOTIFY is on its way, any number of requests make one more after
 * it, so every commit is followed by a NOTIFY sent after it, and a burst of decisions costs two. A
 * failed NOTIFY is dropped: polling is the fallback, as for a lost LISTEN connection.
 */
export class DeliveryNotifier {
  readonly #pool: pg.Pool;
  readonly #source: string;
  #sending: Promise<void> | undefined;
  #again = false;

  /** `source`: the storage's QueueSignal.source, sent in the payload. */
  constructor(pool: pg.Pool, source: string) {
    this.#pool = pool;
    this.#source = source;
  }

  /** Call after a commit that inserted deliveries. */
  request(): void {
    if (this.#sending) {
      this.#again = true;
      return;
    }
    this.#sending = this.#send();
  }

  /** Resolves once no NOTIFY is on its way (before the pool is closed). */
  async idle(): Promise<void> {
    await this.#sending;
  }

  async #send(): Promise<void> {
    do {
      this.#again = false;
      try {
        await notify.run(this.#pool, [this.#source]);
      } catch {
        // Polling covers it (see the class comment).
      }
    } while (this.#again);
    this.#sending = undefined;
  }
}
