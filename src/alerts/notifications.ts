/**
 * A partner's notification settings: where failure alerts go (a webhook URL signed with its own
 * secret, an email address) and which kinds. The API's request and answer schemas live here with the
 * one rule that changes the secret: it is made when a webhook URL is first set, or on `rotate_secret`,
 * and shown in that answer only.
 */
import { z } from 'zod';
import { generateSecret } from '../signing/index.js';
import type { NotificationSettings, Store } from '../storage/store.js';
import { webhookUrlSchema } from '../webhooks/schema.js';
import { ALERT_EVENT_TYPES, type AlertEventType } from './events.js';

const eventTypes = z
  .array(z.enum(ALERT_EVENT_TYPES))
  .min(1, 'Choose at least one alert event type')
  .refine((types) => new Set(types).size === types.length, 'Each event type at most once')
  .meta({
    description: 'The alerts wanted (both channels); every type when omitted',
    example: ['endpoint.failing', 'endpoint.disabled', 'endpoint.recovered'],
  });

const webhookUrl = webhookUrlSchema.meta({
  description:
    'Where alerts are POSTed, signed like every webhook with the notification secret; must not be one of your webhook endpoints',
  example: 'https://partner.example/tpcs/alerts',
});

/** `PUT …/notifications`. */
export const notificationSettingsInputSchema = z
  .strictObject({
    webhook_url: webhookUrl.nullable(),
    email: z.email('Must be an email address').max(254, 'Must be at most 254 characters').nullable(),
    events: eventTypes.optional(),
    rotate_secret: z
      .boolean()
      .optional()
      .meta({ description: 'true: make a new notification secret (shown in this answer only)' }),
  })
  .meta({ id: 'NotificationSettingsUpdate' });

export type NotificationSettingsInput = z.output<typeof notificationSettingsInputSchema>;

/** The settings as the API shows them (never the secret, except in the answer that made it). */
export const notificationSettingsSchema = z
  .object({
    customer_id: z.string(),
    webhook_url: z.string().nullable(),
    email: z.string().nullable(),
    events: z.array(z.enum(ALERT_EVENT_TYPES)),
    has_secret: z.boolean().meta({ description: 'Whether a notification secret was made' }),
    updated_at: z.string().nullable().meta({ description: 'null: never set' }),
  })
  .meta({ id: 'NotificationSettings' });

export const notificationSettingsSavedSchema = notificationSettingsSchema
  .extend({
    secret: z.string().nullable().meta({
      description:
        'The notification signing secret (whsec_…) when this request made it (first webhook_url, or rotate_secret); null otherwise. Shown only here.',
    }),
  })
  .meta({ id: 'NotificationSettingsSaved' });

export type NotificationSettingsView = z.output<typeof notificationSettingsSchema>;

/** The API view; the defaults when the partner never set anything. */
export function toNotificationView(
  customerId: string,
  s: NotificationSettings | undefined,
): NotificationSettingsView {
  return {
    customer_id: customerId,
    webhook_url: s?.webhookUrl ?? null,
    email: s?.email ?? null,
    events: (s?.events ?? [...ALERT_EVENT_TYPES]) as AlertEventType[],
    has_secret: (s?.webhookSecret ?? null) !== null,
    updated_at: s ? s.updatedAt.toISOString() : null,
  };
}

/**
 * Saves a partner's settings (the webhook URL already checked); returns them with the secret when
 * this call made one.
 *
 * @example
 * const { settings, secret } = await saveNotificationSettings(store, customerId, body);
 */
export async function saveNotificationSettings(
  store: Store,
  customerId: string,
  input: NotificationSettingsInput,
  now = new Date(),
): Promise<{ settings: NotificationSettings; secret: string | null }> {
  const current = await store.getNotificationSettings(customerId);
  const needsSecret =
    input.rotate_secret === true || (input.webhook_url !== null && (current?.webhookSecret ?? null) === null);
  const secret = needsSecret ? generateSecret() : null;
  const settings = await store.saveNotificationSettings({
    customerId,
    webhookUrl: input.webhook_url,
    email: input.email,
    events: input.events ?? [...ALERT_EVENT_TYPES],
    updatedAt: now,
    ...(secret === null ? {} : { webhookSecret: secret }),
  });
  return { settings, secret };
}
