import type { InboxEntry, InboxStore, RecordOptions, RecordOutcome } from '../inbox/store.js';

interface Waiting {
  entry: InboxEntry;
  resolve: (outcome: RecordOutcome) => void;
  reject: (error: unknown) => void;
}

/**
 * Group commit: requests that arrive while a transaction is being written (or in the same event-loop
 * turn) share the next transaction, so N concurrent events cost one commit and one fsync instead of N.
 * At low load a batch is one event and the only added latency is one `setImmediate`.
 */
export class GroupCommit {
  readonly #store: InboxStore;
  readonly #options: () => RecordOptions;
  readonly #maxBatch: number;
  #queue: Waiting[] = [];
  #scheduled = false;
  #writing: Promise<void> | undefined;

  constructor(store: InboxStore, options: () => RecordOptions, maxBatch = 512) {
    this.#store = store;
    this.#options = options;
    this.#maxBatch = maxBatch;
  }

  record(entry: InboxEntry): Promise<RecordOutcome> {
    return new Promise((resolve, reject) => {
      this.#queue.push({ entry, resolve, reject });
      this.#schedule();
    });
  }

  /** Resolves once everything queued so far is written (or has failed). */
  async flush(): Promise<void> {
    while (this.#writing || this.#queue.length > 0) {
      if (this.#writing) await this.#writing;
      else await this.#write();
    }
  }

  #schedule(): void {
    if (this.#scheduled || this.#writing) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      if (!this.#writing) void this.#write();
    });
  }

  #write(): Promise<void> {
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
    this.#writing = writing.finally(() => {
      this.#writing = undefined;
      if (this.#queue.length > 0) this.#schedule();
    });
    return this.#writing;
  }
}
