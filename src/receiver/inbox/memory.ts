import { supersedes, timestampMs } from './order.js';
import type { CustomerStatusRecord, InboxEvent, InboxStore, PendingEvent } from './store.js';

/**
 * An inbox that lives in memory: for tests and throwaway experiments only. It is not durable, so a
 * receiver using it answers 200 for events a restart forgets.
 *
 * @example
 * ```ts
 * const receiver = createReceiver({ secrets: [secret], inbox: createMemoryInbox() });
 * ```
 */
export function createMemoryInbox(): InboxStore {
  let nextSeq = 1;
  const events = new Map<string, InboxEvent & { body: Uint8Array; nextAttemptAt: number; tsMs: number }>();
  const bySeq = new Map<number, string>();
  // Pending event ids in seq order, so `due` does not walk every event ever received.
  const pending = new Set<string>();
  const statuses = new Map<string, CustomerStatusRecord & { tsMs: number; seq: number }>();
  const key = (customerId: string, ref: string) => JSON.stringify([customerId, ref]);

  return {
    async record(entries, options) {
      return entries.map(({ event, body, receivedAt }) => {
        if (events.has(event.event_id)) return 'duplicate';
        const { customer_id: customerId, client_customer_ref: ref, status, reasons } = event.data;
        const tsMs = timestampMs(event.event_timestamp);
        const current = statuses.get(key(customerId, ref));
        const seq = nextSeq++;
        const stale = !supersedes(tsMs, current && { timestampMs: current.tsMs, seq: current.seq });
        const state = stale && !options.handleStale ? 'skipped' : options.handlers ? 'pending' : 'handled';
        events.set(event.event_id, {
          seq,
          eventId: event.event_id,
          customerId,
          clientCustomerRef: ref,
          status,
          eventTimestamp: event.event_timestamp,
          stale,
          state,
          attempts: 0,
          lastError: null,
          receivedAt: new Date(receivedAt),
          handledAt: state === 'handled' ? new Date(receivedAt) : null,
          body: body.slice(),
          nextAttemptAt: receivedAt,
          tsMs,
        });
        bySeq.set(seq, event.event_id);
        if (state === 'pending') pending.add(event.event_id);
        if (stale) return 'stale';
        statuses.set(key(customerId, ref), {
          customerId,
          clientCustomerRef: ref,
          status,
          reasons: reasons === undefined ? null : structuredClone(reasons),
          eventTimestamp: event.event_timestamp,
          eventId: event.event_id,
          updatedAt: new Date(receivedAt),
          tsMs,
          seq,
        });
        return 'recorded';
      });
    },
    async due(now, limit) {
      const due: PendingEvent[] = [];
      for (const id of pending) {
        if (due.length >= limit) break;
        const e = events.get(id);
        if (e?.state !== 'pending' || e.nextAttemptAt > now) continue;
        due.push({
          seq: e.seq,
          eventId: e.eventId,
          body: e.body,
          stale: e.stale,
          attempts: e.attempts,
          receivedAt: e.receivedAt.getTime(),
        });
      }
      return due; // Set iteration is insertion order, i.e. seq order.
    },
    async nextDueAt() {
      let next: number | undefined;
      for (const id of pending) {
        const e = events.get(id);
        if (e && (next === undefined || e.nextAttemptAt < next)) next = e.nextAttemptAt;
      }
      return next;
    },
    async markHandled(seqs, at) {
      for (const seq of seqs) {
        const e = events.get(bySeq.get(seq) ?? '');
        if (e?.state !== 'pending') continue;
        e.state = 'handled';
        e.handledAt = new Date(at);
        pending.delete(e.eventId);
      }
    },
    async markFailed(failures) {
      for (const { seq, error, retryAt } of failures) {
        const e = events.get(bySeq.get(seq) ?? '');
        if (!e) continue;
        e.attempts++;
        e.lastError = error;
        if (retryAt === null) {
          e.state = 'failed';
          pending.delete(e.eventId);
        } else e.nextAttemptAt = retryAt;
      }
    },
    async getEvent(eventId) {
      const e = events.get(eventId);
      if (!e) return undefined;
      const { body: _body, nextAttemptAt: _next, tsMs: _ts, ...event } = e;
      return { ...event };
    },
    async getStatus(customerId, ref) {
      const s = statuses.get(key(customerId, ref));
      if (!s) return undefined;
      const { tsMs: _ts, seq: _seq, ...record } = s;
      return record;
    },
    async listStatuses(query = {}) {
      return [...statuses.values()]
        .filter((s) => query.customerId === undefined || s.customerId === query.customerId)
        .sort(
          (a, b) => compare(a.customerId, b.customerId) || compare(a.clientCustomerRef, b.clientCustomerRef),
        )
        .slice(0, query.limit ?? 1000)
        .map(({ tsMs: _ts, seq: _seq, ...record }) => record);
    },
    async close() {},
  };
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
