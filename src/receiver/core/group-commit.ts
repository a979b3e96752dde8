import type { InboxEntry, InboxStore, RecordOptions, RecordOutcome } from '../inbox/store.js';
import { nextTurn } from './timers.js';

interface Waiting {
  entry: InboxEntry;
  resolve: (outcome: RecordOutcome) => void;
  reject: (error: unknown) => void;
}

/**
 * Group commit: requests that arrive while a transaction is being written (or in the same event-loop
 * turn) share the next transaction, so N concurrent events cost one commit and one fsync instead of N.
 * At low load a batch is one event and the only added latency is one turn of the event loop.
 *
 * A store whose `record` calls may overlap (`groupsConcurrentRecords`: the SQLite inbox with `FULL`)
 * is handed each turn's events at once without waiting for the previous `record`: it commits them at
 * once, and one WAL sync then serves every commit made before it started.
 */
export class GroupCommit {
  readonly #store: InboxStore;
  readonly #options: () => RecordOptions;
  readonly #maxBatch: number;
  readonly #concurrent: boolean;
  #queue: Waiting[] = [];
  #scheduled = false;
  readonly #writing = new Set<Promise<void>>();

  constructor(store: InboxStore, options: () => RecordOptions, maxBatch = 512) {
    this.#store = store;
    this.#options = options;
    this.#maxBatch = maxBatch;
    this.#concurrent = store.groupsConcurrentRecords === true;
  }

  record(entry: InboxEntry): Promise<RecordOutcome> {
    return new Promise((resolve, reject) => {
      this.#queue.push({ entry, resolve, reject });
      this.#schedule();
    });
  }

  /** Resolves once everything queued so far is written (or has failed). */
  async flush(): Promise<void> {
    while (this.#writing.size > 0 || this.#queue.length > 0) {
      if (this.#queue.length > 0 && (this.#concurrent || this.#writing.size === 0)) this.#write();
      else await Promise.all(this.#writing);
    }
  }

  #schedule(): void {
    if (this.#scheduled || (!this.#concurrent && this.#writing.size > 0)) return;
    this.#scheduled = true;
    nextTurn(() => {
      this.#scheduled = false;
      if (this.#queue.length > 0 && (this.#concurrent || this.#writing.size === 0)) this.#write();
    });
  }

  #write(): void {
    const batch = this.#queue.splice(0, this.#maxBatch);
    const writing = (async () => {
      try {
        const outcomes = await this.#store.record(
          batch.map((w) => w.entry),
          this.#options(),
        );
        batch.forEach((w, i) => {
          const outcome = outcomes[i];
          if (outcome) w.resolve(outcome);
          else w.reject(new Error(`inbox returned ${outcomes.length} outcomes for ${batch.length} events`));
        });
      } catch (error) {
        for (const w of batch) w.reject(error);
      }
    })();
    this.#writing.add(writing);
    void writing.finally(() => {
      this.#writing.delete(writing);
      if (this.#queue.length > 0) this.#schedule();
    });
  }
}
