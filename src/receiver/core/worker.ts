import type { InboxStore, PendingEvent } from '../inbox/store.js';
import type { ReceiverLogger } from './logger.js';
import { nextAttemptAt, type RetryPolicy } from './retry-policy.js';
import { backgroundTimeout } from './timers.js';
import type { WriteHealth } from './write-health.js';

export interface InboxWorkerOptions {
  store: InboxStore;
  /** Runs the partner's handlers for one event; throwing schedules a retry. */
  dispatch: (pending: PendingEvent) => Promise<void>;
  retry: RetryPolicy;
  log: ReceiverLogger;
  /** Where the store's failures go: logged once per episode, and the receiver's health. */
  health: WriteHealth;
  batchSize?: number;
}

const NUDGE_DELAY_MS = 5;

/**
 * Runs handlers from the inbox, after the HTTP answer, in insertion order. The inbox row is the only
 * state: a crash between "handlers done" and "marked handled" re-runs that event after a restart
 * (at-least-once), but in normal operation every event is handled exactly once.
 */
export class InboxWorker {
  readonly #options: InboxWorkerOptions;
  readonly #batchSize: number;
  #running: Promise<void> | undefined;
  #wakeAgain = false;
  #stopped = false;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #nudge: ReturnType<typeof setTimeout> | undefined;

  constructor(options: InboxWorkerOptions) {
    this.#options = options;
    this.#batchSize = options.batchSize ?? 256;
  }

  /** Something may be due: run now (or right after the current pass). */
  notify(): void {
    if (this.#stopped) return;
    if (this.#running) {
      this.#wakeAgain = true;
      return;
    }
    if (this.#timer) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    this.#running = this.#loop().finally(() => {
      this.#running = undefined;
      // A notify that landed after the last `due` query must not be lost.
      if (this.#wakeAgain) this.notify();
    });
  }

  /**
   * A new event was recorded: run soon. Coalesced over a few milliseconds so that under load the
   * worker takes events in large batches (one query, one commit) instead of one cycle per request.
   */
  nudge(): void {
    if (this.#stopped || this.#nudge) return;
    if (this.#running) {
      this.#wakeAgain = true;
      return;
    }
    this.#nudge = setTimeout(() => {
      this.#nudge = undefined;
      this.notify();
    }, NUDGE_DELAY_MS);
  }

  /** Resolves when nothing is due right now (events waiting for a later retry do not count). */
  async idle(): Promise<void> {
    this.notify();
    while (this.#running) await this.#running;
  }

  /** Stops after the event being handled; rows not yet handled stay pending for the next start. */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#nudge) clearTimeout(this.#nudge);
    this.#nudge = undefined;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#running;
  }

  async #loop(): Promise<void> {
    const { store, health } = this.#options;
    try {
      for (;;) {
        this.#wakeAgain = false;
        const batch = await store.due(Date.now(), this.#batchSize);
        if (batch.length > 0) await this.#handleBatch(batch);
        if (this.#stopped) return;
        if (batch.length < this.#batchSize && !this.#wakeAgain) break;
      }
      await this.#scheduleNextRetry();
      health.succeeded();
    } catch (error) {
      // The store failed (disk full or gone). Try again later rather than spinning or crashing the
      // process; the events stay pending in the inbox meanwhile.
      health.failed(error, 'handlers wait; retrying every second');
      this.#arm(Date.now() + 1000);
    }
  }

  async #handleBatch(batch: PendingEvent[]): Promise<void> {
    const { store, dispatch, retry, log } = this.#options;
    const handled: number[] = [];
    const failures: { seq: number; error: string; retryAt: number | null }[] = [];
    for (const pending of batch) {
      if (this.#stopped) break;
      try {
        await dispatch(pending);
        handled.push(pending.seq);
      } catch (error) {
        const attempts = pending.attempts + 1;
        const retryAt = nextAttemptAt(retry, attempts, Date.now());
        const message = error instanceof Error ? error.message : String(error);
        failures.push({ seq: pending.seq, error: message.slice(0, 1000), retryAt });
        const fields = { event_id: pending.eventId, attempt: attempts, err: message };
        if (retryAt === null) log.error(fields, 'handler failed; giving up (inbox row marked failed)');
        else log.warn({ ...fields, retry_at: new Date(retryAt).toISOString() }, 'handler failed; will retry');
      }
    }
    await store.markHandled(handled, Date.now());
    await store.markFailed(failures);
  }

  async #scheduleNextRetry(): Promise<void> {
    const at = await this.#options.store.nextDueAt();
    if (at !== undefined && !this.#stopped) this.#arm(at);
  }

  #arm(at: number): void {
    if (this.#stopped) return;
    if (this.#timer) clearTimeout(this.#timer);
    // Capped so a clock jump does not park the worker for hours; it never holds a process open.
    this.#timer = backgroundTimeout(
      () => {
        this.#timer = undefined;
        this.notify();
      },
      Math.min(Math.max(at - Date.now(), 0), 60_000),
    );
  }
}
