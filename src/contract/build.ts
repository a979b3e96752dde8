/**
 * The sending side: builds events that are valid by construction, or refuses loudly.
 *
 * The sender is stricter than the receiver: `reasons` is required on REJECTED (receivers tolerate
 * its absence only because the seed's first example lacks it).
 */
import { randomUUID } from 'node:crypto';
import type { Problem } from '../errors/index.js';
import { validateEvent } from './parse.js';
import { problemAt } from './problems.js';
import {
  CONTRACT_VERSION,
  type CustomerStatus,
  EVENT_TYPE,
  type Reason,
  type ThirdPartyCustomerStatusEvent,
} from './schema.js';
import { formatEventTimestamp } from './timestamp.js';

/**
 * What the sender knows when a compliance decision is made.
 *
 * @example
 * const input: BuildInput = { customerId: '0201001008132685', clientCustomerRef: 'CUST_001', status: 'APPROVED' };
 */
export interface BuildInput {
  /** Defaults to `crypto.randomUUID()`. Must not contain "." (Standard Webhooks separator). */
  eventId?: string;
  /** Defaults to now. Milliseconds are dropped. */
  timestamp?: Date;
  customerId: string;
  clientCustomerRef: string;
  status: CustomerStatus;
  /** Required, non-empty, for REJECTED; must be absent for APPROVED. */
  reasons?: Reason[];
}

/**
 * A built event and its serialisation.
 *
 * @example
 * const { event, json } = buildEvent(input);
 * await store.saveEvent(event.event_id, json); // store, sign and send `json`, never a re-serialisation
 */
export interface BuiltEvent {
  event: ThirdPartyCustomerStatusEvent;
  /** The exact text to store, sign and send. */
  json: string;
}

/**
 * Thrown by {@link buildEvent} when the input cannot make a valid event.
 *
 * @example
 * try { buildEvent(input); } catch (e) { if (e instanceof ContractError) console.log(e.problems); }
 */
export class ContractError extends Error {
  readonly problems: Problem[];

  constructor(problems: Problem[]) {
    super(`Invalid event: ${problems.map((p) => p.message).join(' ')}`);
    this.name = 'ContractError';
    this.problems = problems;
  }
}

/**
 * Builds a valid event and the JSON text to send, with the envelope fields in the seed's order.
 * Throws a {@link ContractError} listing every problem with the input (paths are those of the event).
 *
 * @example
 * const { event, json } = buildEvent({
 *   customerId: '0201001008132685',
 *   clientCustomerRef: 'CUST_001',
 *   status: 'REJECTED',
 *   reasons: [{ code: 'COMPLIANCE_CHECK_FAILED', reason: 'Compliance check failed due to validation or regulatory issues' }],
 * });
 */
export function buildEvent(input: BuildInput): BuiltEvent {
  const problems: Problem[] = [];

  let eventTimestamp = '';
  try {
    eventTimestamp = formatEventTimestamp(input.timestamp ?? new Date());
  } catch (error) {
    problems.push(
      problemAt('$.event_timestamp', `cannot be made from the given timestamp (${(error as Error).message})`),
    );
  }

  // Only known fields are copied, so extra properties on the input never leak into the event.
  const data: Record<string, unknown> = {
    customer_id: input.customerId,
    client_customer_ref: input.clientCustomerRef,
    status: input.status,
  };
  if (input.reasons !== undefined) {
    data.reasons = Array.isArray(input.reasons)
      ? input.reasons.map((r) => ({ code: r?.code, reason: r?.reason }))
      : input.reasons;
  }
  if (input.status === 'REJECTED' && input.reasons === undefined) {
    problems.push(
      problemAt(
        '$.data.reasons',
        'is required when data.status is "REJECTED" (the sender always explains a rejection)',
      ),
    );
  }

  const candidate = {
    event_id: input.eventId ?? randomUUID(),
    event_type: EVENT_TYPE,
    version: CONTRACT_VERSION,
    event_timestamp: eventTimestamp,
    data,
  };

  const result = validateEvent(candidate);
  if (!result.ok || problems.length > 0) {
    // A bad timestamp was already explained above in the builder's terms; drop the validator's echo.
    const fromValidator = result.ok ? [] : result.problems;
    const timestampFailed = eventTimestamp === '';
    throw new ContractError([
      ...problems,
      ...fromValidator.filter((p) => !(timestampFailed && p.path === '$.event_timestamp')),
    ]);
  }

  return { event: result.event, json: JSON.stringify(candidate) };
}
