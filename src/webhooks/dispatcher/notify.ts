/**
 * The in-process wake-up: when a decision commits deliveries, dispatchers in the same process claim
 * them at once instead of at their next poll.
 */
import { queuedDeliveries } from '../../storage/decision.js';
import type { Store } from '../../storage/store.js';

const listeners = new Set<() => void>();

/** Subscribes a dispatcher's `notify`; returns the unsubscribe function. */
export function onDeliveriesQueued(listener: () => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

/** Tells every dispatcher in this process that new deliveries are waiting. */
export function notifyDeliveriesQueued(): void {
  for (const l of listeners) l();
}

/**
 * Wraps a store so that every decision that wrote deliveries wakes the dispatchers. The rest of the
 * store is untouched.
 *
 * @example
 * const store = withDeliveryNotify(await createStore(url));
 */
export function withDeliveryNotify<S extends Store>(store: S): S {
  return new Proxy(store, {
    get(target, prop) {
      if (prop === 'recordDecision') {
        return async (...args: Parameters<Store['recordDecision']>) => {
          const result = await target.recordDecision(...args);
          if (queuedDeliveries(result)) notifyDeliveriesQueued();
          return result;
        };
      }
      const value = Reflect.get(target, prop, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}
