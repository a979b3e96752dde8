/**
 * Compliance decisions: the operator's APPROVED / REJECTED verdict on a third-party customer. A
 * decision that changes the status writes the status and its event (the outbox row) in one
 * transaction; one equal to the current status emits nothing.
 */
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { buildEvent } from '../contract/index.js';
import type { DecisionResult, Reason, Store } from '../storage/store.js';
import { reasonSchema } from './schema.js';

/**
 * `{status, reasons?}`: REJECTED needs one or more reasons; APPROVED takes none, because the
 * contract never sends reasons with APPROVED and silently dropping them would hide a mistake.
 */
export const complianceDecisionSchema = z
  .strictObject({
    status: z.enum(['APPROVED', 'REJECTED']),
    reasons: z.array(reasonSchema).max(20, 'At most 20 reasons').optional(),
  })
  .superRefine((d, ctx) => {
    if (d.status === 'REJECTED' && (d.reasons === undefined || d.reasons.length === 0)) {
      ctx.addIssue({ code: 'custom', path: ['reasons'], message: 'REJECTED needs one or more reasons' });
    }
    if (d.status === 'APPROVED' && d.reasons !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['reasons'], message: 'APPROVED takes no reasons' });
    }
  })
  .meta({ id: 'ComplianceDecision' });

export type ComplianceDecision = z.output<typeof complianceDecisionSchema>;

/**
 * Records a compliance decision. The event is built by the contract's builder inside the store's
 * transaction: `event_id` a fresh UUID, `event_timestamp` the decision time.
 *
 * @example
 * await recordComplianceDecision(store, {customerId, clientCustomerRef: 'CUST_001', decision: {status: 'APPROVED'}});
 */
export function recordComplianceDecision(
  store: Store,
  input: { customerId: string; clientCustomerRef: string; decision: ComplianceDecision; decidedAt?: Date },
): Promise<DecisionResult> {
  const decidedAt = input.decidedAt ?? new Date();
  const { status } = input.decision;
  const reasons: Reason[] | null = status === 'REJECTED' ? (input.decision.reasons ?? []) : null;
  return store.recordDecision({
    customerId: input.customerId,
    clientCustomerRef: input.clientCustomerRef,
    status,
    reasons,
    decidedAt,
    buildEvent: () => {
      const { event, json } = buildEvent({
        eventId: randomUUID(),
        timestamp: decidedAt,
        customerId: input.customerId,
        clientCustomerRef: input.clientCustomerRef,
        status,
        ...(reasons ? { reasons } : {}),
      });
      return { eventId: event.event_id, eventType: event.event_type, payload: json };
    },
  });
}
