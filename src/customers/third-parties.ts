/**
 * Third-party customers: create, read and list, in the domain's words. The HTTP layer validates
 * the request with `schema.ts` and turns these outcomes into statuses.
 */
import type { CursorPage, Store, ThirdPartyCustomer, ThirdPartyStatus } from '../storage/store.js';
import type { NewThirdPartyCustomerRequest, ThirdPartyCustomerView } from './schema.js';

/** The API view of a stored third-party customer; `reasons` appears only when REJECTED. */
export function toThirdPartyCustomerView(t: ThirdPartyCustomer): ThirdPartyCustomerView {
  return {
    customer_id: t.customerId,
    client_customer_ref: t.clientCustomerRef,
    status: t.status,
    ...(t.status === 'REJECTED' && t.reasons ? { reasons: t.reasons } : {}),
    client_customer_details: t.clientCustomerDetails,
    property_details: t.propertyDetails,
    created_at: t.createdAt.toISOString(),
    updated_at: t.updatedAt.toISOString(),
  };
}

/** What `submitThirdPartyCustomer` did: created (PENDING) or found the ref taken. */
export type SubmitOutcome = { outcome: 'created'; thirdParty: ThirdPartyCustomer } | { outcome: 'exists' };

/**
 * Stores a new third-party customer as PENDING; the partner's ref must be new.
 *
 * @example
 * const r = await submitThirdPartyCustomer(store, '0201001008132685', validatedBody);
 * if (r.outcome === 'exists') // 409
 */
export async function submitThirdPartyCustomer(
  store: Store,
  customerId: string,
  request: NewThirdPartyCustomerRequest,
  now: Date = new Date(),
): Promise<SubmitOutcome> {
  const clientCustomerRef = request.client_customer_details.client_customer_ref;
  const created = await store.createThirdParty({
    customerId,
    clientCustomerRef,
    clientCustomerDetails: request.client_customer_details,
    propertyDetails: request.property_details,
    createdAt: now,
  });
  if (created === 'exists') return { outcome: 'exists' };
  const thirdParty = await store.getThirdParty(customerId, clientCustomerRef);
  if (!thirdParty) throw new Error(`third party ${clientCustomerRef} vanished right after its creation`);
  return { outcome: 'created', thirdParty };
}

/**
 * One page of a partner's third-party customers, newest first, optionally of one status: after
 * `cursor` (keyset), or page `page` (by offset, with the total) when there is no cursor. Either way
 * `nextCursor` continues after it. A cursor the store did not make throws `InvalidCursorError`.
 *
 * @example
 * const first = await listThirdPartyCustomers(store, '0201001008132685', { limit: 20 });
 * const next = await listThirdPartyCustomers(store, '0201001008132685', { limit: 20, cursor: first.nextCursor });
 */
export async function listThirdPartyCustomers(
  store: Store,
  customerId: string,
  q: { status?: ThirdPartyStatus | undefined; limit: number } & (
    | { cursor: string; page?: undefined }
    | { cursor?: undefined; page?: number | undefined }
  ),
): Promise<CursorPage<ThirdPartyCustomer> & { total?: number }> {
  const status = q.status === undefined ? {} : { status: q.status };
  if (q.cursor !== undefined) {
    return store.listThirdPartyPage(customerId, { ...status, limit: q.limit, cursor: q.cursor });
  }
  return store.listThirdParties(customerId, {
    ...status,
    limit: q.limit,
    offset: ((q.page ?? 1) - 1) * q.limit,
  });
}
