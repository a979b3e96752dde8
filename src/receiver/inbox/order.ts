/**
 * Whether an event supersedes the status currently held. Events can arrive out of order (retries,
 * several dispatcher workers), so arrival order means nothing; `event_timestamp` decides, and
 * `event_id` breaks ties so every receiver converges on the same answer.
 */
export function isNewer(
  candidate: { timestampMs: number; eventId: string },
  current: { timestampMs: number; eventId: string } | undefined,
): boolean {
  if (current === undefined) return true;
  if (candidate.timestampMs !== current.timestampMs) return candidate.timestampMs > current.timestampMs;
  return candidate.eventId > current.eventId;
}

/** `event_timestamp` as epoch ms; the contract guarantees `YYYY-MM-DDTHH:MM:SSZ`. */
export function timestampMs(eventTimestamp: string): number {
  const ms = Date.parse(eventTimestamp);
  // Unreachable for parsed events; ordering such an event first keeps it from overwriting anything.
  return Number.isNaN(ms) ? Number.MIN_SAFE_INTEGER : ms;
}
