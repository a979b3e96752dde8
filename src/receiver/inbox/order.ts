/**
 * The order rule every inbox store follows, in one place.
 *
 * For one third party the status held is the event with the newest `event_timestamp`. The platform
 * stamps one third party's events with strictly increasing timestamps (a decision in the same second
 * as the previous event is stamped a second later), so for its events the timestamp alone decides.
 * Other senders may repeat a timestamp (the seed's own examples do): on an equal timestamp the event
 * that arrived later wins. A repeated `event_id` is a duplicate before any of this is asked.
 */

/** Where an event stands: its `event_timestamp` (epoch ms) and its arrival (the inbox's `seq`). */
export interface EventOrder {
  timestampMs: number;
  seq: number;
}

/**
 * Whether an event arriving now supersedes the status held. It arrived after the one held, so an
 * equal timestamp is enough. (Rows already recorded, replayed after a crash, compare timestamp then
 * `seq`: the guard on the SQLite status upsert in status-projection.ts.)
 */
export function supersedes(candidateTimestampMs: number, current: EventOrder | undefined): boolean {
  return current === undefined || candidateTimestampMs >= current.timestampMs;
}

/** `event_timestamp` as epoch ms; the contract guarantees `YYYY-MM-DDTHH:MM:SSZ`. */
export function timestampMs(eventTimestamp: string): number {
  const ms = Date.parse(eventTimestamp);
  // Unreachable for parsed events; ordering such an event first keeps it from overwriting anything.
  return Number.isNaN(ms) ? Number.MIN_SAFE_INTEGER : ms;
}
