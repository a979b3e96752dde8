import type { CustomerStatus, ThirdPartyCustomerStatusEvent } from '../../contract/index.js';

/** What a handler subscribes to: one status, or `*` for every event. */
export type HandlerName = CustomerStatus | '*';

/** The event narrowed to one status, so `on('REJECTED', e => e.data.reasons)` type-checks. */
export type StatusEvent<S extends CustomerStatus> = ThirdPartyCustomerStatusEvent & {
  data: { status: S };
};

export type EventFor<N extends HandlerName> = N extends CustomerStatus
  ? StatusEvent<N>
  : ThirdPartyCustomerStatusEvent;

export interface HandlerContext {
  /** 1 on the first try, 2 on the first retry… */
  attempt: number;
  /** True only for out-of-order events, which reach handlers only with `handleStaleEvents: true`. */
  stale: boolean;
  /** When the receiver recorded the event (not when it was emitted: see `event_timestamp`). */
  receivedAt: Date;
}

export type Handler<N extends HandlerName> = (event: EventFor<N>, context: HandlerContext) => unknown;

type AnyHandler = (event: ThirdPartyCustomerStatusEvent, context: HandlerContext) => unknown;

/** Handlers by name; `*` handlers run after the status-specific ones. */
export class HandlerRegistry {
  readonly #handlers = new Map<HandlerName, AnyHandler[]>();

  add<N extends HandlerName>(name: N, handler: Handler<N>): () => void {
    const list = this.#handlers.get(name) ?? [];
    list.push(handler as AnyHandler);
    this.#handlers.set(name, list);
    return () => {
      const index = list.indexOf(handler as AnyHandler);
      if (index !== -1) list.splice(index, 1);
    };
  }

  get size(): number {
    let count = 0;
    for (const list of this.#handlers.values()) count += list.length;
    return count;
  }

  /** Runs every matching handler in turn; the first one that throws fails the whole event (and it is retried). */
  async run(event: ThirdPartyCustomerStatusEvent, context: HandlerContext): Promise<void> {
    for (const name of [event.data.status, '*'] as const) {
      for (const handler of [...(this.#handlers.get(name) ?? [])]) await handler(event, context);
    }
  }
}
