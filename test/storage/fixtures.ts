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
import { randomId } from './dialects.js';

export const EVENT_TYPE = 'THIRD PARTY CUSTOMER STATUS';

/** A new partner with a unique customer_id; returns the id. */
export async function newPartner(store: Store, at = new Date('2024-05-01T10:00:00Z')): Promise<string> {
  const customerId = `02010010${Math.floor(Math.random() * 1e8)
    .toString()
    .padStart(8, '0')}`;
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
  at = new Date('2024-05-01T10:00:00Z'),
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

export function newEndpoint(customerId: string, over: Partial<NewEndpoint> = {}): NewEndpoint {
  return {
    id: randomId('ep_'),
    customerId,
    url: 'https://example.com/hook',
    description: null,
    eventTypes: [EVENT_TYPE],
    secret: `whsec_${randomId()}`,
    createdAt: new Date('2024-05-01T10:00:00Z'),
    ...over,
  };
}

/** A decision whose event payload is shaped like the contract's (built here, not by the contract). */
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
      const eventId = crypto.randomUUID();
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

export const REASONS: Reason[] = [
  { code: 'COMPLIANCE_CHECK_FAILED', reason: 'Sanctions list match' },
  { code: 'DOCUMENT_EXPIRED', reason: 'Passport expired' },
];
