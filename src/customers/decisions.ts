/**
 * Compliance decisions: the operator's APPROVED / REJECTED verdict on a third-party customer. A
 * decision that changes the status writes the status and its event (the outbox row) in one
 * transaction; one equal to the current status emits nothing.
 */
import { v7 as uuidv7 } from 'uuid';
import type { z } from 'zod';
import { buildEvent } from '../contract/index.js';
import { randomBytes16 } from '../storage/ids.js';
import type { ComplianceDecisionInput, DecisionResult, Reason, Store } from '../storage/store.js';
import { complianceDecisionSchema } from './schema.js';
import { isStatusChange, storedReasons } from './status-change.js';

// The decision's schema lives with the other request schemas; re-exported for existing callers.
export { complianceDecisionSchema };

export type ComplianceDecision = z.output<typeof complianceDecisionSchema>;

/**
 * The `event_timestamp` of a third party's next event: the decision's second, or one second after the
 * third party's previous event when the decision falls in the same second as it (or before it, after
 * the clock stepped back). The contract's timestamps have whole seconds, so this is what makes
 * "for one third party, a later event always has a later `event_timestamp`" hold.
 *
 * @example
 * nextEventTimestamp(new Date('2025-01-01T00:00:00.700Z'), new Date('2025-01-01T00:00:00Z')); // 00:00:01Z
 */
export function nextEventTimestamp(decidedAt: Date, previousEventAt: Date | null): Date {
  const second = Math.floor(decidedAt.getTime() / 1000) * 1000;
  if (previousEventAt === null) return new Date(second);
  return new Date(Math.max(second, Math.floor(previousEventAt.getTime() / 1000) * 1000 + 1000));
}

/**
 * A UUIDv7 for an event stamped `eventAt`: its time field is now, kept within the event's own second
 * (`eventAt` to `eventAt` + 999 ms). One third party's events are stamped at least a second apart, so
 * their ids increase with their timestamps whatever order they were built in and whatever the clocks
 * of the processes that built them (a decision may build its event before a concurrent one that is
 * ordered before it: see `Store.recordDecision`).
 *
 * @example
 * eventIdFor(new Date('2025-01-01T00:00:01Z')); // '01941f29-7fe8-7…' (00:00:01.000Z) up to '01941f29-83cf-7…' (.999)
 */
export function eventIdFor(eventAt: Date): string {
  const second = eventAt.getTime();
  return uuidv7({ msecs: Math.min(Math.max(Date.now(), second), second + 999), random: randomBytes16() });
}

/**
 * How far ahead of the decision an event may be stamped. Each decision in the same second as the
 * previous event is stamped a second later, so a burst of decisions on one third party runs ahead
 * of the clock; receivers refuse events dated more than 5 minutes ahead (400, a permanent failure),
 * so past this bound the decision is refused instead, and the operator can make it a moment later.
 */
export const MAX_STAMP_AHEAD_MS = 60_000;

/** A decision to record: the third party it is about, and when it was made (default now). */
export interface ComplianceDecisionRequest {
  customerId: string;
  clientCustomerRef: string;
  decision: ComplianceDecision;
  decidedAt?: Date;
}

/**
 * What {@link recordComplianceDecision} answers: the store's result, or `too_fast` when this third
 * party's events already run {@link MAX_STAMP_AHEAD_MS} ahead of the clock (nothing was written).
 */
export type ComplianceDecisionResult = DecisionResult | { outcome: 'too_fast'; retryAfterSeconds: number };

/** Thrown by the event builder to refuse the decision (nothing is written); never leaves this module. */
class TooFast extends Error {
  constructor(readonly retryAfterSeconds: number) {
    super('decisions on this third party run too far ahead of the clock');
  }
}

/**
 * Records a compliance decision. The event is built by the contract's builder: `event_timestamp` from
 * {@link nextEventTimestamp}, `event_id` a UUIDv7 from {@link eventIdFor}; the store writes it only
 * after the third party's previous event (see `ComplianceDecisionInput.buildEvent`).
 *
 * @example
 * await recordComplianceDecision(store, {customerId, clientCustomerRef: 'CUST_001', decision: {status: 'APPROVED'}});
 */
export async function recordComplianceDecision(
  store: Store,
  input: ComplianceDecisionRequest,
): Promise<ComplianceDecisionResult> {
  try {
    return await store.recordDecision(decisionInput(input, input.decidedAt ?? new Date()));
  } catch (error) {
    if (error instanceof TooFast) return { outcome: 'too_fast', retryAfterSeconds: error.retryAfterSeconds };
    throw error;
  }
}

/**
 * Records many compliance decisions at once (`store.recordDecisions`: one transaction), each with its
 * own result, in order. Each is decided as {@link recordComplianceDecision} would, one after another in
 * the order given: two on one third party emit their events in that order. Those without `decidedAt`
 * are dated now, all alike (their events are stamped a second apart as usual).
 *
 * @example
 * const [first, second] = await recordComplianceDecisions(store, [
 *   {customerId, clientCustomerRef: 'CUST_001', decision: {status: 'APPROVED'}},
 *   {customerId, clientCustomerRef: 'CUST_002', decision: {status: 'REJECTED', reasons}},
 * ]);
 */
export async function recordComplianceDecisions(
  store: Store,
  inputs: readonly ComplianceDecisionRequest[],
): Promise<ComplianceDecisionResult[]> {
  const now = new Date();
  const results = await store.recordDecisions(inputs.map((i) => decisionInput(i, i.decidedAt ?? now)));
  return results.map((r) => {
    if (r.outcome !== 'refused') return r;
    if (r.error instanceof TooFast)
      return { outcome: 'too_fast', retryAfterSeconds: r.error.retryAfterSeconds };
    throw r.error; // the builder failed (a bug): the decisions recorded stay, a retry finds them unchanged
  });
}

/** The store's input for one decision: the domain's rules and its event builder. */
function decisionInput(input: ComplianceDecisionRequest, decidedAt: Date): ComplianceDecisionInput {
  const { status } = input.decision;
  const reasons: Reason[] | null = status === 'REJECTED' ? (input.decision.reasons ?? []) : null;
  return {
    customerId: input.customerId,
    clientCustomerRef: input.clientCustomerRef,
    status,
    reasons: storedReasons(status, reasons),
    decidedAt,
    changes: (current) => isStatusChange(current, { status, reasons }),
    buildEvent: (previousEventAt) => {
      const eventAt = nextEventTimestamp(decidedAt, previousEventAt);
      const ahead = eventAt.getTime() - decidedAt.getTime();
      if (ahead > MAX_STAMP_AHEAD_MS) throw new TooFast(Math.ceil((ahead - MAX_STAMP_AHEAD_MS) / 1000));
      const { event, json } = buildEvent({
        eventId: eventIdFor(eventAt),
        timestamp: eventAt,
        customerId: input.customerId,
        clientCustomerRef: input.clientCustomerRef,
        status,
        ...(reasons ? { reasons } : {}),
      });
      return { eventId: event.event_id, eventType: event.event_type, payload: json, eventAt };
    },
  };
}
