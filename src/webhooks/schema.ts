/** Request and response shapes of webhook endpoints and events. */
import { z } from 'zod';
import { EVENT_TYPE, thirdPartyCustomerStatusEventSchema } from '../contract/index.js';
import { endpointUrlShape, MAX_URL_LENGTH } from './url-policy.js';

/** The event types an endpoint can subscribe to; today only the one the contract defines. */
export const EVENT_TYPES = [EVENT_TYPE] as const;

const eventTypesSchema = z
  .array(
    z.string().refine((t) => (EVENT_TYPES as readonly string[]).includes(t), {
      message: `Unknown event type; known: ${EVENT_TYPES.map((t) => `"${t}"`).join(', ')}`,
    }),
  )
  .min(1, 'Subscribe to at least one event type')
  .max(EVENT_TYPES.length, 'Each event type at most once')
  .refine((types) => new Set(types).size === types.length, 'Each event type at most once')
  .meta({ example: [EVENT_TYPE] });

/**
 * A URL webhooks are sent to (an endpoint's, or the partner's alert URL): its shape is checked here,
 * with the body's other fields; the host's addresses by the route. Each use adds its own description.
 */
export const webhookUrlSchema = z
  .string()
  .min(1, 'Must not be empty')
  .max(MAX_URL_LENGTH, `Must be at most ${MAX_URL_LENGTH} characters`)
  .superRefine((raw, ctx) => {
    const shape = raw === '' || raw.length > MAX_URL_LENGTH ? undefined : endpointUrlShape(raw);
    if (shape && !shape.ok) ctx.addIssue({ code: 'custom', message: shape.problem });
  });

const urlSchema = webhookUrlSchema.meta({
  description: 'http(s) URL; must resolve to public addresses unless the operator allows private ones',
  example: 'https://partner.example/webhooks/tpcs',
});

// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
const CONTROL_CHARS = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;
const descriptionSchema = z
  .string()
  .max(500, 'Must be at most 500 characters')
  .refine((s) => !CONTROL_CHARS.test(s), 'Must not contain control characters');

/** The highest rate limit a partner can set, in deliveries per second. */
export const MAX_RATE_LIMIT = 10_000;

const RATE_LIMIT_RULE = `a whole number of deliveries per second from 1 to ${MAX_RATE_LIMIT}, or null for no limit`;

/** An endpoint's rate limit: deliveries per second across every dispatcher, or null for none. */
export const rateLimitSchema = z
  .number(`Must be ${RATE_LIMIT_RULE}`)
  .int(`Must be ${RATE_LIMIT_RULE}`)
  .min(1, `Must be ${RATE_LIMIT_RULE}`)
  .max(MAX_RATE_LIMIT, `Must be ${RATE_LIMIT_RULE}`)
  .nullable()
  .meta({
    description: `Most deliveries per second to this endpoint, from every dispatcher together (${RATE_LIMIT_RULE}). After a pause up to a tenth of a second's worth may go at once; order per third-party customer is kept.`,
    example: 50,
  });

/** `POST …/webhooks`. */
export const newEndpointSchema = z
  .strictObject({
    url: urlSchema,
    event_types: eventTypesSchema,
    description: descriptionSchema.optional(),
    rate_limit: rateLimitSchema.optional(),
  })
  .meta({ id: 'NewWebhookEndpoint' });

/** What re-enabling does with the events emitted while the endpoint was disabled. */
export const backlogSchema = z.enum(['deliver', 'skip']).meta({
  description:
    'Only with `enabled: true`. `deliver` (the default) queues, in event order, one delivery for every event of the subscribed types emitted since the endpoint was disabled and not yet delivered to it; `skip` leaves them undelivered.',
});

/**
 * `PATCH …/webhooks/{webhook_id}`: any of the fields; `enabled: true` re-enables a disabled endpoint,
 * delivering the events it missed unless `backlog` is `skip`.
 */
export const endpointPatchSchema = z
  .strictObject({
    url: urlSchema.optional(),
    event_types: eventTypesSchema.optional(),
    description: descriptionSchema.nullable().optional(),
    rate_limit: rateLimitSchema.optional(),
    enabled: z.boolean().optional(),
    backlog: backlogSchema.optional(),
  })
  .refine((p) => Object.keys(p).length > 0, 'Give at least one field to change')
  .refine((p) => p.backlog === undefined || p.enabled === true, {
    message: '`backlog` is allowed only with `enabled: true`',
    path: ['backlog'],
  })
  .meta({ id: 'WebhookEndpointPatch' });

/** An endpoint as the API shows it: never its secrets, except right after create and rotation. */
export const endpointViewSchema = z
  .object({
    id: z.string(),
    url: z.string(),
    description: z.string().nullable(),
    event_types: z.array(z.string()),
    enabled: z.boolean(),
    disabled_reason: z.string().nullable(),
    rate_limit: z
      .number()
      .int()
      .nullable()
      .meta({ description: 'Most deliveries per second to this endpoint; null: no limit' }),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .meta({ id: 'WebhookEndpoint' });

export type EndpointView = z.output<typeof endpointViewSchema>;

/** The answer to `PATCH …/webhooks/{webhook_id}`: the endpoint as changed and the backlog it queued. */
export const endpointUpdateSchema = endpointViewSchema
  .extend({
    backfilled: z.number().int().min(0).meta({
      description:
        'Deliveries queued for the events emitted while the endpoint was disabled (0 unless this re-enabled it with `backlog: deliver`)',
    }),
  })
  .meta({ id: 'WebhookEndpointUpdate' });

/** The answer to create and rotate: the endpoint plus its new signing secret, shown only here. */
export const endpointWithSecretSchema = endpointViewSchema
  .extend({
    secret: z.string().meta({ description: 'The signing secret (whsec_…); shown only now' }),
    previous_secret_expires_at: z
      .string()
      .optional()
      .meta({ description: 'After a rotation: when the previous secret stops signing' }),
  })
  .meta({ id: 'WebhookEndpointWithSecret' });

/**
 * A page of a partner's endpoints, oldest first. The default page holds 100, more than the 20 a partner
 * may have unless `ENDPOINTS_PER_PARTNER` is raised, so clients that never pass a cursor see them all.
 */
export const endpointListQuerySchema = z.strictObject({
  limit: z.coerce.number().int().min(1).max(100).default(100),
  cursor: z.string().min(1).max(500).optional(),
});

export const endpointListSchema = z.object({
  webhooks: z.array(endpointViewSchema),
  next_cursor: z.string().nullable(),
});

/**
 * An event exactly as it is delivered: the contract's own schema, the one `webhooks` publishes for
 * the payload, so the event log and the webhook cannot describe the event differently.
 */
export const eventViewSchema = thirdPartyCustomerStatusEventSchema.meta({ id: 'Event' });

export const eventListQuerySchema = z.strictObject({
  limit: z.coerce.number().int().min(1).max(100).default(20),
  cursor: z.string().min(1).max(500).optional(),
});

export const eventListSchema = z.object({
  events: z.array(eventViewSchema),
  next_cursor: z.string().nullable(),
});

/** One try at delivering an event to an endpoint. */
export const attemptViewSchema = z
  .object({
    at: z.string(),
    status_code: z.number().int().nullable(),
    duration_ms: z.number(),
    error: z.string().optional(),
    response_excerpt: z.string().optional(),
  })
  .meta({ id: 'DeliveryAttempt' });

/** Why a pending delivery is not sent yet: it waits for an earlier event of the same third party. */
export const deliveryWaitSchema = z
  .object({
    event_id: z.string().meta({ description: 'The earlier event this delivery waits for' }),
    delivery_id: z.string().meta({ description: "That event's delivery to this endpoint" }),
  })
  .meta({
    id: 'DeliveryWaitingFor',
    description:
      'The earliest pending delivery of an earlier event about the same third-party customer ' +
      '(customer_id and client_customer_ref) to the same endpoint: events reach an endpoint in order, ' +
      'so this delivery is sent only once that one (and any between) is delivered or has failed.',
  });

/** One event to one endpoint, with its attempts (oldest first). */
export const deliveryViewSchema = z
  .object({
    id: z.string(),
    event_id: z.string(),
    status: z.enum(['pending', 'delivered', 'failed']),
    attempt_count: z
      .number()
      .int()
      .meta({ description: 'Every attempt made, as many as `attempts` lists (also after a recover)' }),
    next_attempt_at: z.string().nullable().meta({
      description:
        'When a pending delivery is due; while `waiting_for` is present it is sent after that delivery instead',
    }),
    waiting_for: deliveryWaitSchema.optional(),
    created_at: z.string(),
    attempts: z.array(attemptViewSchema),
  })
  .meta({ id: 'Delivery' });

/** The answer of `POST …/webhooks/{webhook_id}/test`: the one attempt, made while the client waited. */
export const testDeliveryResultSchema = z
  .object({
    event_id: z
      .string()
      .meta({ description: 'The test event\'s id (client_customer_ref "tpcs-test-event")' }),
    delivered: z.boolean().meta({ description: 'Whether the endpoint answered 2xx' }),
    status_code: z
      .number()
      .int()
      .nullable()
      .meta({ description: "The endpoint's status; null when none came" }),
    duration_ms: z.number(),
    error: z
      .string()
      .nullable()
      .meta({ description: 'Why no answer came (timeout, refused connection, …); null when one came' }),
    response_excerpt: z
      .string()
      .nullable()
      .meta({ description: "The start of the endpoint's answer (4 KiB at most); null when none came" }),
  })
  .meta({ id: 'TestDeliveryResult' });

export const deliveryListQuerySchema = eventListQuerySchema;

export const deliveryListSchema = z.object({
  deliveries: z.array(deliveryViewSchema),
  next_cursor: z.string().nullable(),
});
