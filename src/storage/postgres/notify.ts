import type pg from 'pg';
import { statement } from './db.js';

// A transaction of its own (NOTIFY takes a transaction id, so its commit writes WAL). It need not be
// durable: synchronous_commit off for it alone, so its commit does not wait for the WAL flush.
const notify = statement(
  'deliveries_notify',
  "SELECT set_config('synchronous_commit', 'off', true), pg_notify('tpcs_deliveries', current_schema())",
);

/**
 * Wakes every process's listeners (their `LISTEN tpcs_deliveries`, postgres/queue.ts) after commits
 * that recorded events or made deliveries claimable, outside those commits (migrations 005 and 008
 * say why). Coalesced: while one NOTIFY is on its way, any number of requests make one more after
 * it, so every commit is followed by a NOTIFY sent after it, and a burst of decisions costs two. A
 * failed NOTIFY is dropped: polling is the fallback, as for a lost LISTEN connection.
 */
export class DeliveryNotifier {
  readonly #pool: pg.Pool;
  #sending: Promise<void> | undefined;
  #again = false;

  constructor(pool: pg.Pool) {
    this.#pool = pool;
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
        await notify.run(this.#pool, []);
      } catch {
        // Polling covers it (see the class comment).
      }
    } while (this.#again);
    this.#sending = undefined;
  }
}
