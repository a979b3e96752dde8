/**
 * Domain records for tests that talk to a Store directly (storage, dispatcher, end-to-end): partners,
 * third parties, endpoints and compliance decisions, with unique ids so tests can share a database.
 * The API's request bodies are in test/customers/fixtures.ts (`validThirdParty`).
 */
import { randomUUID } from 'node:crypto';
import { formatEventTimestamp } from '../../src/contract/index.js';
import { nextEventTimestamp } from '../../src/customers/decisions.js';
import { isStatusChange, storedReasons } from '../../src/customers/status-change.js';
import type {
  ComplianceDecisionInput,
  DecisionStatus,
  NewEndpoint,
  Reason,
  Store,
} from '../../src/storage/store.js';

export const EVENT_TYPE = 'THIRD PARTY CUSTOMER STATUS';

/** A valid signing secret, for tests that verify signatures. */
export const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';

export const REASONS: Reason[] = [
  { code: 'COMPLIANCE_CHECK_FAILED', reason: 'Sanctions list match' },
  { code: 'DOCUMENT_EXPIRED', reason: 'Passport expired' },
];

/** When fixture records are created unless a test says otherwise: fixed, so listings are predictable. */
const CREATED_AT = new Date('2024-05-01T10:00:00Z');

/** A unique id (16 hex digits after the prefix). */
export const randomId = (prefix = ''): string => `${prefix}${randomUUID().replaceAll('-', '').slice(0, 16)}`;

/** A new partner with a unique 16-digit customer_id; returns the id. */
export async function newPartner(store: Store, at = CREATED_AT): Promise<string> {
  const customerId = `0201${Math.floor(Math.random() * 1e12)
    .toString()
    .padStart(12, '0')}`;
  const r = await store.createPartner({
    customerId,
    name: 'Acme',
    tokenHash: randomId('hash_'),
    createdAt: at,
  });
  if (r !== 'created') throw new Error('partner id collision');
  return customerId;
}

/** A new PENDING third party of that partner; returns its ref. */
export async function newThirdParty(
  store: Store,
  customerId: string,
  ref = randomId('ref_'),
  at = CREATED_AT,
): Promise<string> {
  await store.createThirdParty({
    customerId,
    clientCustomerRef: ref,
    clientCustomerDetails: {
      client_customer_ref: ref,
      first_name: 'Ada',
      last_name: 'Lovelace',
      country: 'USA',
    },
    propertyDetails: [{ property_ref: 'P1', property_purchase_amount: { currency: 'USD', value: 250000 } }],
    createdAt: at,
  });
  return ref;
}

/** The input of `store.createEndpoint` (not created): an endpoint subscribed to {@link EVENT_TYPE}. */
export function endpointInput(customerId: string, over: Partial<NewEndpoint> = {}): NewEndpoint {
  return {
    id: randomId('ep_'),
    customerId,
    url: 'https://example.com/hook',
    description: null,
    eventTypes: [EVENT_TYPE],
    secret: `whsec_${randomId()}`,
    createdAt: CREATED_AT,
    ...over,
  };
}

/** Creates an endpoint of that partner posting to `url`, signed with `secret`; returns its id. */
export async function newEndpoint(
  store: Store,
  customerId: string,
  url: string,
  secret = SECRET,
): Promise<string> {
  const endpoint = await store.createEndpoint(
    endpointInput(customerId, { url, secret, createdAt: new Date() }),
  );
  return endpoint.id;
}

/**
 * The input of `store.recordDecision` (not recorded), its event payload shaped like the contract's
 * (built here, not by the contract).
 */
export function decision(
  customerId: string,
  ref: string,
  status: DecisionStatus,
  reasons: Reason[] | null = null,
  decidedAt = new Date('2024-05-02T10:00:00Z'),
): ComplianceDecisionInput {
  return {
    customerId,
    clientCustomerRef: ref,
    status,
    reasons: storedReasons(status, reasons), // as the domain hands them over (none on APPROVED)
    decidedAt,
    changes: (current) => isStatusChange(current, { status, reasons }),
    buildEvent: (previousEventAt) => {
      const eventId = randomUUID();
      const eventAt = nextEventTimestamp(decidedAt, previousEventAt);
      const data = {
        customer_id: customerId,
        client_customer_ref: ref,
        status,
        ...(reasons ? { reasons } : {}),
      };
      const payload = JSON.stringify({
        event_id: eventId,
        event_type: EVENT_TYPE,
        version: 'v1.0.0',
        event_timestamp: formatEventTimestamp(eventAt),
        data,
      });
      return { eventId, eventType: EVENT_TYPE, payload, eventAt };
    },
  };
}

/**
 * Records a decision at `at` (REJECTED with the first of {@link REASONS}); returns its event id.
 * Throws when the decision does not change the status (no event).
 */
export async function decide(
  store: Store,
  customerId: string,
  ref: string,
  status: DecisionStatus,
  at = new Date(),
): Promise<string> {
  const reasons = status === 'REJECTED' ? REASONS.slice(0, 1) : null;
  const r = await store.recordDecision(decision(customerId, ref, status, reasons, at));
  if (r.outcome !== 'changed') throw new Error(`decision did not change the status: ${r.outcome}`);
  return r.event.eventId;
}
