/**
 * "Deliveries queued": said by the storage itself after a commit that recorded an event (with its
 * deliveries, if any endpoint is subscribed) or put deliveries back in the queue (retry, recover).
 * The dispatcher claims at once instead of at its next poll, and the partner's event stream reads
 * the new events. One per opened storage, not per process: two storages never hear each other,
 * except through PostgreSQL's NOTIFY, which the PostgreSQL queue listens to (see postgres/queue.ts).
 */
import { randomBytes } from 'node:crypto';
import type { DecisionResult } from './store.js';

export class QueueSignal {
  readonly #listeners = new Set<() => void>();
  /**
   * Names this storage in its PostgreSQL NOTIFYs (postgres/notify.ts), so that its own LISTEN can tell
   * them apart: its listeners heard the same commit from `emit` already.
   */
  readonly source: string = randomBytes(6).toString('hex');

  /** Subscribes a listener; returns the function that unsubscribes it. */
  on(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => {
      this.#listeners.delete(listener);
    };
  }

  /** Tells every listener, synchronously; a listener that throws does not stop the others. */
  emit(): void {
    for (const listener of this.#listeners) {
      try {
        listener();
      } catch {
        // a listener's own failure is its own (the dispatcher's poll covers a missed wake-up)
      }
    }
  }
}

/** Whether a recorded decision wrote anything a listener wants to know about: an event. */
export function recordedEvent(result: DecisionResult): boolean {
  return result.outcome === 'changed';
}
