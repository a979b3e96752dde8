/**
 * The OpenAPI 3.1 description of the webhook, generated from the same schema as everything else.
 */
import { z } from 'zod';
import type { ErrorCode, Problem } from '../errors/index.js';
import type { VerifyFailure } from '../signing/message.js';
import { fixtures } from './fixtures.gen.js';
import { eventJsonSchema } from './json-schema.js';
import { CONTRACT_VERSION, EVENT_TYPE, ORDER_RULE } from './schema.js';

/**
 * The error code of the receiver's 400 answer (one of the project's `ERROR_STATUS` codes).
 *
 * @example
 * if (body.error.code === INVALID_PAYLOAD_CODE) showProblems(body.error.details.problems);
 */
export const INVALID_PAYLOAD_CODE = 'invalid_payload' satisfies ErrorCode;

/**
 * The body of the receiver's 400 answer.
 *
 * @example
 * invalidPayloadBodySchema.parse(await response.json());
 */
export const invalidPayloadBodySchema = z
  .object({
    error: z.object({
      code: z.literal(INVALID_PAYLOAD_CODE),
      message: z.string().meta({ description: 'A summary for humans.' }),
      details: z.object({
        problems: z
          .array(
            z.object({
              path: z.string().meta({
                description:
                  'JSON path of the offending value, "$" for the whole body, e.g. "$.data.reasons[0].code".',
              }),
              message: z.string().meta({ description: 'What is wrong, for a developer.' }),
            }),
          )
          .meta({ description: 'Every problem found, not only the first.' }),
      }),
    }),
  })
  .meta({ description: 'Why the payload was refused.' });

/**
 * The receiver's 400 body for a list of problems: `{error: {code, message, details: {problems}}}`.
 *
 * @example
 * const result = parseEvent(body);
 * if (!result.ok) return { status: 400, body: invalidPayloadBody(result.problems) };
 */
export function invalidPayloadBody(problems: Problem[]): z.output<typeof invalidPayloadBodySchema> {
  const count = problems.length === 1 ? '1 problem' : `${problems.length} problems`;
  return {
    error: {
      code: INVALID_PAYLOAD_CODE,
      message: `Invalid payload (${count}): ${problems[0]?.message ?? 'no details'}`,
      details: { problems },
    },
  };
}

/** The error code of the receiver's 401 answer. */
export const INVALID_SIGNATURE_CODE = 'invalid_signature' satisfies ErrorCode;

/** Why a signature was refused: every `VerifyFailure` of src/signing (a record, so none is missed). */
const SIGNATURE_FAILURES: Record<VerifyFailure, true> = {
  missing_headers: true,
  invalid_id: true,
  invalid_timestamp: true,
  timestamp_too_old: true,
  timestamp_too_new: true,
  no_valid_signature: true,
};

/** The body of the receiver's 401 answer. */
const invalidSignatureBodySchema = z
  .object({
    error: z.object({
      code: z.literal(INVALID_SIGNATURE_CODE),
      message: z.string().meta({ description: 'A summary for humans.' }),
      details: z.object({
        reason: z
          .enum(Object.keys(SIGNATURE_FAILURES) as [VerifyFailure, ...VerifyFailure[]])
          .meta({ description: 'Why, for logs and metrics.' }),
      }),
    }),
  })
  .meta({ description: 'Why the request was refused.' });

/** The key of the webhook in the OpenAPI `webhooks` object. */
export const WEBHOOK_NAME = 'thirdPartyCustomerStatusUpdated';

const SEED_DESCRIPTION = `Sent when a third party customer's compliance status changes to \`APPROVED\` or \`REJECTED\`. Subscribe to the \`${EVENT_TYPE}\` event type to receive these updates. The \`data\` object contains \`customer_id\`, \`client_customer_ref\`, and \`status\`. When the status is \`REJECTED\`, a \`reasons\` array is included with machine-readable codes and human-readable descriptions.`;

const ORDER_DESCRIPTION = `${ORDER_RULE} Events can arrive out of order (a retried older event after a newer one): compare \`event_timestamp\` with the one you hold and ignore an older event. An \`event_timestamp\` more than 5 minutes ahead of your clock may be refused with 400.`;

const SIGNING_DESCRIPTION =
  'Every request is signed with Standard Webhooks (https://www.standardwebhooks.com): verify `webhook-signature` over the raw body bytes before parsing them. The same event is retried until your endpoint answers 2xx; use `event_id` (also `webhook-id`) to process it once.';

function requestBodySchema(): Record<string, unknown> {
  // The service embeds this document in its own; the file-level keywords would only confuse there.
  const { $schema: _s, $comment: _c, examples: _e, ...schema } = eventJsonSchema;
  return schema;
}

function withoutDialect(schema: Record<string, unknown>): Record<string, unknown> {
  const { $schema: _s, ...rest } = schema;
  return rest;
}

function buildWebhooks(): Record<string, unknown> {
  const example = (summary: string, text: string) => ({ summary, value: JSON.parse(text) as unknown });
  return {
    [WEBHOOK_NAME]: {
      post: {
        operationId: WEBHOOK_NAME,
        summary: 'Third Party Customer Status Updated Event',
        description: `${SEED_DESCRIPTION}\n\n${ORDER_DESCRIPTION}\n\n${SIGNING_DESCRIPTION}`,
        tags: ['Third Party Customers'],
        // No OpenAPI security scheme describes an HMAC over the body: the three headers below are the
        // authentication, and a receiver answers 401 when they do not verify.
        security: [],
        parameters: [
          {
            name: 'webhook-id',
            in: 'header',
            required: true,
            description:
              'Unique message id, equal to the event_id. It stays the same on every retry of the event, so receivers can ignore duplicates.',
            schema: { type: 'string', pattern: '^[\\x21-\\x2D\\x2F-\\x7E]+$' },
            example: '550e8400-e29b-41d4-a716-446655440000',
          },
          {
            name: 'webhook-timestamp',
            in: 'header',
            required: true,
            description:
              'When this attempt was sent, in whole seconds since the Unix epoch. It is signed; receivers refuse it when more than 5 minutes away from their clock (replay protection).',
            schema: { type: 'string', pattern: '^[0-9]+$' },
            example: '1752748200',
          },
          {
            name: 'webhook-signature',
            in: 'header',
            required: true,
            description:
              'Space-separated signatures, each "v1," followed by the base64 HMAC-SHA256 of "{webhook-id}.{webhook-timestamp}.{raw body}", keyed with the base64-decoded part of the endpoint secret after "whsec_". Several appear while a secret is being rotated; the request is authentic if any one matches. Unknown versions (e.g. "v1a") are ignored.',
            schema: { type: 'string' },
            example: 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=',
          },
        ],
        requestBody: {
          required: true,
          description:
            'The event, as UTF-8 JSON. Fields not described here may be added in later v1 minor versions: keep them, do not refuse them.',
          content: {
            'application/json': {
              schema: requestBodySchema(),
              examples: {
                payload: example('REJECTED, without reasons (the seed\'s "Payload")', fixtures.payload),
                rejected: example('REJECTED, with reasons', fixtures.rejected),
                approved: example('APPROVED', fixtures.approved),
              },
            },
          },
        },
        responses: {
          '200': { description: 'Webhook received successfully' },
          '400': {
            description: 'Invalid payload',
            content: {
              'application/json': {
                schema: withoutDialect(z.toJSONSchema(invalidPayloadBodySchema, { target: 'draft-2020-12' })),
                example: invalidPayloadBody([
                  {
                    path: '$.data.status',
                    message:
                      'data.status must be one of "APPROVED", "REJECTED", but is the string "PENDING".',
                  },
                ]),
              },
            },
          },
          '401': {
            description:
              'Invalid signature: the Standard Webhooks headers are missing or malformed, the timestamp is more than 5 minutes away, or no signature matches. 401, not 400, so the sender retries: a fixed secret or clock recovers the events.',
            content: {
              'application/json': {
                schema: withoutDialect(
                  z.toJSONSchema(invalidSignatureBodySchema, { target: 'draft-2020-12' }),
                ),
                example: {
                  error: {
                    code: INVALID_SIGNATURE_CODE,
                    message: 'No signature matches',
                    details: { reason: 'no_valid_signature' },
                  },
                },
              },
            },
          },
        },
      },
    },
  };
}

const webhooks = buildWebhooks();

/**
 * The OpenAPI 3.1 `webhooks` object for this event. Self-contained (no `$ref`), so the service can
 * merge it into its own `/openapi.json`. Returns a fresh copy on each call.
 *
 * @example
 * const doc = { openapi: '3.1.0', info, paths, webhooks: { ...openApiWebhooks() } };
 */
export function openApiWebhooks(): Record<string, unknown> {
  return structuredClone(webhooks);
}

/**
 * A complete OpenAPI 3.1 document describing only this webhook, as written to
 * `openapi/webhooks.openapi.json`.
 *
 * @example
 * writeFileSync('webhooks.json', JSON.stringify(buildOpenApiDocument(), null, 2));
 */
export function buildOpenApiDocument(): Record<string, unknown> {
  return {
    openapi: '3.1.0',
    info: {
      title: 'Third Party Customer Status webhooks',
      version: CONTRACT_VERSION,
      description: `The "${EVENT_TYPE}" webhook, ${CONTRACT_VERSION}. Your endpoint answers 200 once it has recorded the event, 400 with the problems when the payload is invalid, or 401 when the signature does not verify.`,
    },
    'x-generated':
      'Generated from src/contract by scripts/generate.ts. DO NOT EDIT: change the contract, then run npm run generate.',
    webhooks: openApiWebhooks(),
  };
}
