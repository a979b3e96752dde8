/** What counts as a status change: the domain's rule, which the store applies under its row lock. */
import type { DecisionStatus, Reason, ThirdPartyStatus } from '../storage/store.js';

/**
 * What a compliance decision stores as `reasons`: REJECTED keeps the reasons given (null when none),
 * APPROVED never has reasons (the contract never sends reasons on APPROVED).
 */
export function storedReasons(status: DecisionStatus, reasons: Reason[] | null): Reason[] | null {
  if (status === 'APPROVED') return null;
  return reasons && reasons.length > 0 ? reasons.map((r) => ({ code: r.code, reason: r.reason })) : null;
}

/**
 * Whether a decision changes the third party, i.e. whether it emits an event.
 *
 * - A different status is a change (PENDING → APPROVED, REJECTED → APPROVED, …).
 * - APPROVED → APPROVED is not: nothing a receiver holds would differ.
 * - REJECTED → REJECTED is a change only when the reasons differ (compared as a set of
 *   `{code, reason}` pairs, order ignored): the partner needs the new reasons to act on them, and
 *   the event carries them.
 */
export function isStatusChange(
  current: { status: ThirdPartyStatus; reasons: Reason[] | null },
  decision: { status: DecisionStatus; reasons: Reason[] | null },
): boolean {
  if (current.status !== decision.status) return true;
  if (decision.status === 'APPROVED') return false;
  return reasonsKey(current.reasons) !== reasonsKey(storedReasons(decision.status, decision.reasons));
}

function reasonsKey(reasons: Reason[] | null): string {
  return JSON.stringify((reasons ?? []).map((r) => JSON.stringify([r.code, r.reason])).sort());
}
