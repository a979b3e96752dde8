/** What every route module needs, and the pieces of schema they share. */
import { z } from 'zod';
import type { Store } from '../../storage/store.js';
import type { DeliveryService } from '../../webhooks/dispatcher/service.js';
import type { HostResolver } from '../../webhooks/url-policy.js';
import type { Auth } from '../auth.js';
import { errorBodySchema } from '../errors.js';
import type { Idempotency } from '../idempotency.js';

/** The collaborators of the route modules, built once by `buildApp`. */
export interface RouteDeps {
  store: Store;
  auth: Auth;
  idempotency: Idempotency;
  allowPrivateEndpoints: boolean;
  resolveHost?: HostResolver | undefined;
  /** The queue and sender behind retry, recover and test; absent, those answer 503. */
  delivery?: DeliveryHandle | undefined;
}

/** What the HTTP layer needs of the delivery service. */
export type DeliveryHandle = Pick<DeliveryService, 'queue' | 'sender'>;

/** A partner's account id, as the platform writes it (`0201001008132685`). */
export const customerIdSchema = z
  .string()
  .min(1, 'Must not be empty')
  .max(64, 'Must be at most 64 characters')
  .regex(/^[A-Za-z0-9_-]+$/, 'Use only letters, digits, "_" and "-"')
  .meta({ example: '0201001008132685' });

export const customerParamsSchema = z.object({ customer_id: customerIdSchema });

/** Error answers, documented once for every route. */
export function errorResponses<const S extends readonly number[]>(...statuses: S) {
  return Object.fromEntries(statuses.map((s) => [s, errorBodySchema])) as {
    [K in S[number]]: typeof errorBodySchema;
  };
}

/** OpenAPI security requirements. */
export const PARTNER_SECURITY = [{ partnerToken: [] }, { adminToken: [] }];
export const ADMIN_SECURITY = [{ adminToken: [] }];
