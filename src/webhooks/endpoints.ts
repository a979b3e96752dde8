/**
 * Webhook endpoints: a partner's URLs subscribed to event types, each with a signing secret.
 * Rotation adds a new secret and keeps the previous one signing for 24 hours, so that a partner can
 * deploy the new secret without missing a delivery.
 */
import { randomUUID } from 'node:crypto';
import { generateSecret } from '../signing/index.js';
import type { Endpoint, Store } from '../storage/store.js';
import type { EndpointView } from './schema.js';

/** How long the previous secret keeps signing after a rotation. */
export const ROTATION_OVERLAP_MS = 24 * 60 * 60 * 1000;

/** The API view of an endpoint, without its secrets. */
export function toEndpointView(e: Endpoint): EndpointView {
  return {
    id: e.id,
    url: e.url,
    description: e.description,
    event_types: e.eventTypes,
    enabled: e.enabled,
    disabled_reason: e.enabled ? null : e.disabledReason,
    rate_limit: e.rateLimit,
    created_at: e.createdAt.toISOString(),
    updated_at: e.updatedAt.toISOString(),
  };
}

/** True when `id` has the shape of an endpoint id (a UUID); anything else cannot exist. */
export function isEndpointId(id: string): boolean {
  return /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(id);
}

/** Webhook endpoints one partner may have unless `ENDPOINTS_PER_PARTNER` says otherwise. */
export const DEFAULT_ENDPOINTS_PER_PARTNER = 20;

/**
 * What {@link subscribeEndpoint} did: created the endpoint (with its secret, shown once), or refused
 * because another endpoint of the partner has the URL or the partner has `maxPerPartner` endpoints.
 */
export type Subscription =
  | { outcome: 'created'; endpoint: Endpoint; secret: string }
  | { outcome: 'url_taken'; endpointId: string }
  | { outcome: 'limit_reached' };

/**
 * Subscribes a new endpoint with a fresh secret, unless the partner already has an endpoint with that
 * URL or has `maxPerPartner` endpoints (nothing created then).
 *
 * @example
 * const s = await subscribeEndpoint(store, '0201001008132685', {url, eventTypes: [EVENT_TYPE], description: null});
 * if (s.outcome === 'url_taken') throw new HttpError('endpoint_exists', '…', { endpoint_id: s.endpointId });
 */
export async function subscribeEndpoint(
  store: Store,
  customerId: string,
  e: { url: string; eventTypes: string[]; description: string | null; rateLimit?: number | null },
  {
    maxPerPartner = DEFAULT_ENDPOINTS_PER_PARTNER,
    now = new Date(),
  }: { maxPerPartner?: number; now?: Date } = {},
): Promise<Subscription> {
  const secret = generateSecret();
  const created = await store.createEndpointWithinLimit(
    {
      id: randomUUID(),
      customerId,
      url: e.url,
      description: e.description,
      eventTypes: e.eventTypes,
      rateLimit: e.rateLimit ?? null,
      secret,
      createdAt: now,
    },
    maxPerPartner,
  );
  return created.outcome === 'created' ? { ...created, secret } : created;
}

/** Rotates an endpoint's secret; undefined when the endpoint does not exist. */
export async function rotateEndpointSecret(
  store: Store,
  customerId: string,
  endpointId: string,
  now: Date = new Date(),
): Promise<{ endpoint: Endpoint; secret: string; previousExpiresAt: Date } | undefined> {
  const secret = generateSecret();
  const previousExpiresAt = new Date(now.getTime() + ROTATION_OVERLAP_MS);
  const endpoint = await store.rotateEndpointSecret(customerId, endpointId, secret, now, previousExpiresAt);
  return endpoint ? { endpoint, secret, previousExpiresAt } : undefined;
}
